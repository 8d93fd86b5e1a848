package framework

import (
	"encoding/json"
	"testing"
)

// Login logs a CLI user in (`kstack login`) and returns that user's view
// of the platform. Failures are t's (a subtest's, when called in one).
func Login(t testing.TB, k *Kstack, tenant, user, password string) *Kstack {
	t.Helper()
	u := k.As(tenant + "-" + user)
	if r := u.RunStdin(password+"\n", "login", "--tenant", tenant, "--username", user, "--password-stdin"); r.Err != nil {
		t.Fatalf("login %s/%s: %v\n%s", tenant, user, r.Err, r.Stderr)
	}
	return u
}

// CreateUser creates a local user (`kstack user create`) as CLI user k.
func CreateUser(t testing.TB, k *Kstack, name, password string, args ...string) {
	t.Helper()
	if r := k.RunStdin(password+"\n", append([]string{"user", "create", name, "--password-stdin"}, args...)...); r.Err != nil {
		t.Fatalf("creating user %s: %v\n%s", name, r.Err, r.Stderr)
	}
}

// Token is CLI user u's current access token (`kstack credential`).
func Token(t testing.TB, u *Kstack) string {
	t.Helper()
	r := u.Run("credential")
	var cred struct{ Status struct{ Token string } }
	if r.Err != nil {
		t.Fatalf("kstack credential: %v\n%s", r.Err, r.Stderr)
	}
	if err := json.Unmarshal([]byte(r.Stdout), &cred); err != nil {
		t.Fatal(err)
	}
	return cred.Status.Token
}
