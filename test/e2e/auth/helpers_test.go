// Package auth holds the end-to-end tests of identity and access: logins
// through the real OpenID flows, LDAP against a real slapd, an external
// OIDC issuer (a second kstack), access keys with curl and kubectl, the
// decision point in front of the platform API and the member clusters.
package auth

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/kstack/kstack/test/e2e/framework"
)

const adminPassword = "Adm1n-Passw0rd"

// up starts a platform whose administrator has adminPassword.
func up(t *testing.T, args ...string) (*framework.Kstack, *framework.Platform) {
	k := framework.New(t)
	k.Env = append(k.Env, "KSTACK_ADMIN_PASSWORD="+adminPassword)
	p := k.Up(3*time.Minute, append([]string{"--listen", framework.FreeAddr(t)}, args...)...)
	return k, p
}

// login logs a CLI user in and returns that user's view of the platform.
func login(t *testing.T, k *framework.Kstack, tenant, user, password string) *framework.Kstack {
	t.Helper()
	return framework.Login(t, k, tenant, user, password)
}

// createUser creates a local user as the data dir's administrator.
func createUser(t *testing.T, k *framework.Kstack, name, password string, args ...string) {
	t.Helper()
	framework.CreateUser(t, k, name, password, args...)
}

// accessToken reads the access token from a CLI user's login file.
func accessToken(t *testing.T, u *framework.Kstack) (access, refresh string) {
	t.Helper()
	var lc struct{ AccessToken, RefreshToken string }
	data := mustRead(t, u.LoginFile())
	if err := json.Unmarshal(data, &lc); err != nil {
		t.Fatal(err)
	}
	return lc.AccessToken, lc.RefreshToken
}

func mustContain(t *testing.T, what, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Fatalf("%s: want %q in:\n%s", what, w, got)
		}
	}
}

// status sends a request with a bearer token and returns the status code and body.
func status(t *testing.T, c *http.Client, method, url, token, body string) (int, string) {
	t.Helper()
	ct := ""
	if body != "" {
		ct = "application/json"
	}
	return framework.Do(t, c, method, url, token, "", ct, body)
}

// signingKey reads the platform's current token signing key with the
// data dir's admin kubeconfig (what only the platform's host can do).
func signingKey(t *testing.T, k *framework.Kstack, kubeconfig string) (string, *rsa.PrivateKey) {
	t.Helper()
	out := k.MustKubectl(kubeconfig, "-n", "kstack-system", "get", "secret", "kstack-signing-keys", "-o", "jsonpath={.data.keys\\.json}")
	raw := decodeB64(t, out)
	var keys []struct{ ID, PEM string }
	if err := json.Unmarshal(raw, &keys); err != nil {
		t.Fatal(err)
	}
	if len(keys) == 0 {
		t.Fatal("no signing key in the platform's Secret")
	}
	b, _ := pem.Decode([]byte(keys[0].PEM))
	if b == nil {
		t.Fatalf("signing key %s is not PEM", keys[0].ID)
	}
	priv, err := x509.ParsePKCS1PrivateKey(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return keys[0].ID, priv
}

// curl runs the real curl with a bearer token and returns the HTTP code.
func curl(t *testing.T, ca, url, token string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "curl", "-sS", "--cacert", ca, "-H", "Authorization: Bearer "+token, "-w", "\n%{http_code}", url).CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v: %s", err, out)
	}
	s := strings.TrimSpace(string(out))
	i := strings.LastIndex(s, "\n")
	var code int
	if _, err := fmtSscan(s[i+1:], &code); err != nil {
		t.Fatalf("curl printed no HTTP code: %q", out)
	}
	return code, s[:max(i, 0)]
}
