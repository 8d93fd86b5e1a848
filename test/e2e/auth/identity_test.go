package auth

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/kstack/kstack/test/e2e/framework"
)

// TestIdentityAndAccess walks through users, logins, access keys, policies,
// tenants and the decision point on one platform with one member cluster.
func TestIdentityAndAccess(t *testing.T) {
	k, p := up(t, "--platform-arg=--max-failed-logins=3", "--platform-arg=--access-token-lifetime=30s")
	hc, adminToken := k.PlatformHTTP()
	caFile := filepath.Join(k.DataDir, "platform", "pki", "ca.crt")
	base := p.ConsoleURL
	cls, memberKC := k.ImportedCluster("m1", 1)

	// The administrator logs in with the password given at the first up.
	admin := login(t, k, "default", "admin", adminPassword)
	mustContain(t, "admin whoami", admin.MustRun("whoami"), "admin", "true", "administrator")

	t.Run("users and bad input", func(t *testing.T) {
		createUser(t, admin, "alice", "Passw0rd-Alice", "--policy", "platform-user")
		createUser(t, admin, "bob", "Passw0rd-Bob01")
		for _, tc := range []struct{ name, pw, want string }{
			{"Al", "Passw0rd-Alice", "3 to 32"},
			{"bad_name", "Passw0rd-Alice", "lowercase letters"},
			{"weak", "password", "10 to 16"},
			{"weak2", "passwordpassword", "upper-case"},
			{"alice", "Passw0rd-Alice", "already exists"},
		} {
			r := admin.RunStdin(tc.pw+"\n", "user", "create", tc.name, "--password-stdin")
			if r.Err == nil || !strings.Contains(r.Stderr, tc.want) {
				t.Errorf("user create %s: want an error with %q, got %v %s", tc.name, tc.want, r.Err, r.Stderr)
			}
		}
		// A failed creation leaves nothing behind.
		if out := admin.MustRun("user", "list"); strings.Contains(out, "weak") {
			t.Fatalf("a refused user was stored:\n%s", out)
		}
		// Nobody reads password hashes, not even the administrator.
		code, body := status(t, hc, "GET", base+"/auth/apis/auth.tkestack.io/v1/localidentities", adminToken, "")
		if code != http.StatusForbidden || strings.Contains(body, "passwordHash") {
			t.Fatalf("password hashes served: %d %s", code, body)
		}
	})

	alice := login(t, k, "default", "alice", "Passw0rd-Alice")
	bob := login(t, k, "default", "bob", "Passw0rd-Bob01")

	t.Run("wrong password and unknown user look the same", func(t *testing.T) {
		a := k.As("x").RunStdin("Wrong-Passw0rd\n", "login", "--username", "alice", "--password-stdin")
		b := k.As("y").RunStdin("Wrong-Passw0rd\n", "login", "--username", "nobody", "--password-stdin")
		if a.Err == nil || b.Err == nil || !strings.Contains(a.Stderr, "wrong username or password") || a.Stderr != b.Stderr {
			t.Fatalf("wrong password: %q; unknown user: %q", a.Stderr, b.Stderr)
		}
	})

	t.Run("proxy as the user, audited in the member", func(t *testing.T) {
		kc := filepath.Join(t.TempDir(), "alice.kubeconfig")
		alice.MustRun("kubeconfig", "--cluster", cls, "-f", kc)
		mustContain(t, "alice's kubeconfig", string(mustRead(t, kc)), "exec:", "credential", alice.LoginFile())
		alice.MustKubectl(kc, "create", "configmap", "from-alice", "--from-literal=a=b")
		mustContain(t, "configmap", alice.MustKubectl(kc, "get", "configmap", "from-alice", "-o", "name"), "configmap/from-alice")
		// bob holds no policy: the platform refuses, naming why.
		code, body := status(t, hc, "GET", base+"/apis/platform.tkestack.io/v1/clusters/"+cls+"/proxy/api/v1/namespaces/default/pods", tokenOf(t, bob), "")
		if code != http.StatusForbidden || !strings.Contains(body, "no policy allows listPod") {
			t.Fatalf("bob listing pods: %d %s", code, body)
		}
		audit := filepath.Join(k.DataDir, "clusters", "m1", "logs", "audit.log")
		framework.Eventually(t, 30*time.Second, "audit record naming alice", func() error {
			data, _ := os.ReadFile(audit)
			for _, l := range strings.Split(string(data), "\n") {
				if strings.Contains(l, `"impersonatedUser":{"username":"alice"`) && strings.Contains(l, "from-alice") && strings.Contains(l, `"verb":"create"`) {
					return nil
				}
			}
			return fmt.Errorf("no create of from-alice by alice in %s", audit)
		})
	})

	t.Run("access keys with curl and kubectl", func(t *testing.T) {
		key := strings.TrimSpace(alice.MustRun("apikey", "create", "--expires", "2h", "--description", "ci"))
		mustContain(t, "key", key, "ksk_")
		code, body := curl(t, caFile, base+"/platform/apis/platform.tkestack.io/v1/clusters/"+cls, key)
		if code != 200 || !strings.Contains(body, cls) {
			t.Fatalf("curl with the key: %d %s", code, body)
		}
		kc := filepath.Join(t.TempDir(), "key.kubeconfig")
		alice.MustRun("kubeconfig", "--cluster", cls, "--api-key", key, "-f", kc)
		mustContain(t, "kubectl with the key", k.MustKubectl(kc, "get", "nodes"), "m1-node-1")
		name := strings.Split(key, "_")[1]
		alice.MustRun("apikey", "disable", name)
		if code, body := curl(t, caFile, base+"/platform/apis/platform.tkestack.io/v1/clusters", key); code != 401 || !strings.Contains(body, "disabled") {
			t.Fatalf("disabled key: %d %s", code, body)
		}
		if _, err := k.Kubectl(kc, "get", "nodes"); err == nil || !strings.Contains(err.Error(), "disabled") {
			t.Fatalf("kubectl with a disabled key: %v", err)
		}
		alice.MustRun("apikey", "enable", name)
		if code, _ := curl(t, caFile, base+"/platform/apis/platform.tkestack.io/v1/clusters", key); code != 200 {
			t.Fatalf("re-enabled key: %d", code)
		}
		// bob cannot touch alice's key.
		if r := bob.Run("apikey", "disable", name); r.Err == nil || !strings.Contains(r.Stderr, "no access key") {
			t.Fatalf("bob disabling alice's key: %v %s", r.Err, r.Stderr)
		}
		alice.MustRun("apikey", "delete", name)
		if code, _ := curl(t, caFile, base+"/platform/apis/platform.tkestack.io/v1/clusters", key); code != 401 {
			t.Fatalf("deleted key: %d", code)
		}
		if r := alice.Run("apikey", "create", "--expires", "3d"); r.Err == nil || !strings.Contains(r.Stderr, "hours or minutes") {
			t.Fatalf("bad expiry: %v %s", r.Err, r.Stderr)
		}
		// An expired key (made directly in the platform's store).
		expired := `{"apiVersion":"auth.tkestack.io/v1","kind":"APIKey","metadata":{"name":"ak-old"},"spec":{"tenantID":"default","username":"alice","expiresAt":"2020-01-01T00:00:00Z","secretHash":"` +
			sha256hex(strings.Repeat("z", 43)) + `"}}`
		kf := filepath.Join(t.TempDir(), "old.json")
		writeFile(t, kf, expired)
		k.MustKubectl(p.Kubeconfig, "create", "-f", kf)
		if code, body := curl(t, caFile, base+"/platform/apis/platform.tkestack.io/v1/clusters", "ksk_ak-old_"+strings.Repeat("z", 43)); code != 401 || !strings.Contains(body, "expired") {
			t.Fatalf("expired key: %d %s", code, body)
		}
	})

	t.Run("policies: malformed, custom, no escalation", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bad.json")
		for _, tc := range []struct{ doc, want string }{
			// The API server checks the schema first, with the field named.
			{`[{"actions":["get*"],"resources":["cluster:*"],"effect":"permit"}]`, `spec.statements[0].effect: Unsupported value: "permit": supported values: "allow", "deny"`},
			{`[{"actions":[],"resources":["cluster:*"],"effect":"allow"}]`, "actions"},
			{`[{"actions":["get pods"],"resources":["cluster:*"],"effect":"allow"}]`, "statement 1"},
			{`[]`, "spec.statements in body should have at least 1 items"},
		} {
			writeFile(t, bad, tc.doc)
			if r := admin.Run("policy", "create", "broken", "-f", bad); r.Err == nil || !strings.Contains(r.Stderr, tc.want) {
				t.Errorf("policy %s: want %q, got %v %s", tc.doc, tc.want, r.Err, r.Stderr)
			}
		}
		// A read-only policy on one namespace, bound to bob.
		ro := filepath.Join(t.TempDir(), "ro.json")
		writeFile(t, ro, `[{"actions":["get*","list*","watch*"],"resources":["cluster:`+cls+`","cluster:`+cls+`/namespace:default/*"],"effect":"allow"}]`)
		admin.MustRun("policy", "create", "read-default", "-f", ro)
		admin.MustRun("policy", "bind", "read-default", "--user", "bob")
		kc := filepath.Join(t.TempDir(), "bob.kubeconfig")
		bob.MustRun("kubeconfig", "--cluster", cls, "-f", kc)
		mustContain(t, "bob reads default", bob.MustKubectl(kc, "get", "configmaps"), "from-alice")
		if _, err := bob.Kubectl(kc, "-n", "kube-system", "get", "configmaps"); err == nil || !strings.Contains(err.Error(), "no policy allows listConfigmap") {
			t.Fatalf("bob reading kube-system: %v", err)
		}
		if _, err := bob.Kubectl(kc, "create", "configmap", "from-bob"); err == nil || !strings.Contains(err.Error(), "createConfigmap") {
			t.Fatalf("bob writing: %v", err)
		}
		// carol may manage bindings but holds little: she cannot grant
		// herself (or anyone) more than she holds.
		binder := filepath.Join(t.TempDir(), "binder.json")
		writeFile(t, binder, `[{"actions":["*"],"resources":["policybinding:*","policy:*"],"effect":"allow"},{"actions":["get*","list*","watch*"],"resources":["cluster:`+cls+`","cluster:`+cls+`/namespace:default/*"],"effect":"allow"}]`)
		admin.MustRun("policy", "create", "binder", "-f", binder)
		createUser(t, admin, "carol", "Passw0rd-Carol")
		admin.MustRun("policy", "bind", "binder", "--user", "carol")
		carol := login(t, k, "default", "carol", "Passw0rd-Carol")
		if r := carol.Run("policy", "bind", "administrator", "--user", "carol"); r.Err == nil || !strings.Contains(r.Stderr, "you may not grant") {
			t.Fatalf("carol granting herself administrator: %v %s", r.Err, r.Stderr)
		}
		if r := carol.Run("policy", "bind", "platform-user", "--user", "bob"); r.Err == nil || !strings.Contains(r.Stderr, "you may not grant") {
			t.Fatalf("carol granting bob platform-user: %v %s", r.Err, r.Stderr)
		}
		carol.MustRun("policy", "bind", "read-default", "--user", "dan")
		// A patch that would change what a binding grants is refused.
		code, body := status(t, hc, "PATCH", base+"/auth/apis/auth.tkestack.io/v1/policies/read-default", tokenOf(t, carol), `{"spec":{"statements":[{"actions":["*"],"resources":["*"],"effect":"allow"}]}}`)
		if code == http.StatusOK {
			t.Fatalf("carol patched a policy to grant everything: %s", body)
		}
		// Predefined policies cannot be changed by anyone.
		code, body = status(t, hc, "DELETE", base+"/auth/apis/auth.tkestack.io/v1/policies/platform-user", adminToken, "")
		if code != http.StatusForbidden || !strings.Contains(body, "predefined") {
			t.Fatalf("deleting a predefined policy: %d %s", code, body)
		}
	})

	t.Run("tenants see only their own", func(t *testing.T) {
		r := admin.RunStdin("Passw0rd-Dave1\n", "user", "create", "dave", "--tenant", "t2", "--policy", "administrator", "--password-stdin")
		if r.Err != nil {
			t.Fatalf("creating t2/dave: %v %s", r.Err, r.Stderr)
		}
		dave := login(t, k, "t2", "dave", "Passw0rd-Dave1")
		mustContain(t, "dave whoami", dave.MustRun("whoami"), "dave", "t2", "false")
		if out := dave.MustRun("cluster", "list"); strings.Contains(out, cls) || strings.Contains(out, "global") {
			t.Fatalf("tenant t2 sees the default tenant's clusters:\n%s", out)
		}
		users := dave.MustRun("user", "list")
		if strings.Contains(users, "alice") || !strings.Contains(users, "t2.dave") {
			t.Fatalf("tenant t2's user list:\n%s", users)
		}
		tok := tokenOf(t, dave)
		for _, u := range []string{
			base + "/platform/apis/platform.tkestack.io/v1/clusters/" + cls,
			base + "/auth/apis/auth.tkestack.io/v1/users/default.alice",
			base + "/apis/platform.tkestack.io/v1/clusters/" + cls + "/proxy/api/v1/namespaces/default/configmaps",
		} {
			if code, body := status(t, hc, "GET", u, tok, ""); code != http.StatusNotFound {
				t.Errorf("t2 reaching %s: %d %s", u, code, body)
			}
		}
		// Nor can a tenant create into another tenant, or reach the global cluster.
		if code, body := status(t, hc, "POST", base+"/auth/apis/auth.tkestack.io/v1/groups", tok,
			`{"apiVersion":"auth.tkestack.io/v1","kind":"Group","metadata":{"name":"default.ops"},"spec":{"tenantID":"default","name":"ops"}}`); code != http.StatusForbidden {
			t.Errorf("t2 creating a group in tenant default: %d %s", code, body)
		}
		if code, _ := status(t, hc, "GET", base+"/platform/api/v1/namespaces/kstack-system/secrets", tok, ""); code != http.StatusForbidden {
			t.Errorf("t2 reading the global cluster's secrets: %d", code)
		}
	})

	t.Run("forged tokens", func(t *testing.T) {
		kid, key := signingKey(t, k, p.Kubeconfig)
		now := time.Now()
		good := jwt.Claims{Issuer: base + "/oidc", Subject: "default.alice", Audience: jwt.Audience{"kstack-cli"},
			Expiry: jwt.NewNumericDate(now.Add(5 * time.Minute)), IssuedAt: jwt.NewNumericDate(now)}
		// A real session of alice, so that only the forged part differs.
		good.ID = sessionOf(t, k, p.Kubeconfig, "alice")
		sign := func(c jwt.Claims, k any, kid string) string {
			s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: k}, (&jose.SignerOptions{}).WithHeader("kid", kid))
			if err != nil {
				t.Fatal(err)
			}
			out, err := jwt.Signed(s).Claims(c).Serialize()
			if err != nil {
				t.Fatal(err)
			}
			return out
		}
		url := base + "/platform/apis/platform.tkestack.io/v1/clusters"
		if code, body := status(t, hc, "GET", url, sign(good, key, kid), ""); code != 200 {
			t.Fatalf("a correctly signed token was refused (the test is broken): %d %s", code, body)
		}
		other := good
		other.Audience = jwt.Audience{"grafana"}
		iss := good
		iss.Issuer = "https://evil.example/oidc"
		exp := good
		exp.Expiry = jwt.NewNumericDate(now.Add(-time.Hour))
		wrongKey := generateKey(t)
		payload := strings.Split(sign(good, key, kid), ".")[1]
		for name, tok := range map[string]string{
			"other audience": sign(other, key, kid),
			"other issuer":   sign(iss, key, kid),
			"expired":        sign(exp, key, kid),
			"wrong key":      sign(good, wrongKey, kid),
			"alg none":       "eyJhbGciOiJub25lIn0." + payload + ".",
		} {
			if code, body := status(t, hc, "GET", url, tok, ""); code != 401 {
				t.Errorf("%s: %d %s", name, code, body)
			}
		}
	})

	t.Run("refresh rotates, logout revokes", func(t *testing.T) {
		_, r1 := accessToken(t, alice)
		// Access tokens live 30s here; every CLI call within a minute of
		// expiry refreshes, rotating the refresh token.
		alice.MustRun("whoami")
		a2, r2 := accessToken(t, alice)
		if r1 == r2 {
			t.Fatal("the refresh token was not rotated")
		}
		code, body := framework.Do(t, hc, "POST", base+"/oidc/oauth/token", "", "", "application/x-www-form-urlencoded",
			"grant_type=refresh_token&client_id=kstack-cli&refresh_token="+r1)
		if code != 400 || !strings.Contains(body, "invalid_grant") {
			t.Fatalf("reusing a rotated refresh token: %d %s", code, body)
		}
		alice.MustRun("logout")
		if code, body := status(t, hc, "GET", base+"/platform/apis/platform.tkestack.io/v1/clusters", a2, ""); code != 401 || !strings.Contains(body, "session has ended") {
			t.Fatalf("access token after logout: %d %s", code, body)
		}
		if r := alice.Run("whoami"); r.Err != nil {
			// Logged out: the CLI falls back to the data dir's administrator
			// on this host, which is what the issue asks for.
			t.Fatalf("whoami after logout on the platform's host: %v %s", r.Err, r.Stderr)
		}
	})

	t.Run("lockout and break-glass reset", func(t *testing.T) {
		for i := 0; i < 3; i++ {
			if r := k.As("bob2").RunStdin("Wrong-Passw0rd\n", "login", "--username", "bob", "--password-stdin"); r.Err == nil || !strings.Contains(r.Stderr, "wrong username or password") {
				t.Fatalf("wrong password %d: %v %s", i+1, r.Err, r.Stderr)
			}
		}
		r := k.As("bob2").RunStdin("Passw0rd-Bob01\n", "login", "--username", "bob", "--password-stdin")
		if r.Err == nil || !strings.Contains(r.Stderr, "locked") {
			t.Fatalf("login after 3 failures: %v %s", r.Err, r.Stderr)
		}
		// bob's earlier session ended with the reset below.
		oldTok := tokenOf(t, bob)
		if r := k.RunStdin("N3w-Passw0rd-B\n", "admin", "reset-password", "--username", "bob", "--password-stdin"); r.Err != nil {
			t.Fatalf("reset-password: %v %s", r.Err, r.Stderr)
		}
		login(t, k, "default", "bob", "N3w-Passw0rd-B")
		if code, _ := status(t, hc, "GET", base+"/auth/whoami", oldTok, ""); code != 401 {
			t.Fatalf("a session from before the reset still works: %d", code)
		}
		events := k.MustKubectl(p.Kubeconfig, "get", "events", "--field-selector", "reason=PasswordReset", "-o", "jsonpath={.items[*].message}")
		mustContain(t, "audit event", events, "bob", "reset-password")
		// The admin's own break-glass: a reset with no password generates one.
		// (k.As drops the KSTACK_ADMIN_PASSWORD that up was given.)
		out := k.As("reset").MustRun("admin", "reset-password")
		pw := strings.TrimSpace(strings.TrimPrefix(out, "New password of admin:"))
		login(t, k, "default", "admin", pw)
	})

	t.Run("groups grant their policies to members", func(t *testing.T) {
		createUser(t, admin, "gus", "Passw0rd-Gus01")
		gus := login(t, k, "default", "gus", "Passw0rd-Gus01")
		code, _ := status(t, hc, "GET", base+"/apis/platform.tkestack.io/v1/clusters/"+cls+"/proxy/api/v1/nodes", tokenOf(t, gus), "")
		if code != http.StatusForbidden {
			t.Fatalf("gus listing nodes before joining: %d", code)
		}
		if r := admin.Run("group", "create", "Bad_Name"); r.Err == nil || !strings.Contains(r.Stderr, "name") {
			t.Fatalf("a bad group name: %v %s", r.Err, r.Stderr)
		}
		admin.MustRun("group", "create", "node-readers", "--member", "gus")
		pf := filepath.Join(t.TempDir(), "nodes.json")
		writeFile(t, pf, `[{"actions":["list*","get*"],"resources":["cluster:`+cls+`/node:*"],"effect":"allow"}]`)
		admin.MustRun("policy", "create", "read-nodes", "-f", pf)
		admin.MustRun("policy", "bind", "read-nodes", "--group", "node-readers")
		mustContain(t, "whoami", gus.MustRun("whoami"), "node-readers", "read-nodes")
		if code, body := status(t, hc, "GET", base+"/apis/platform.tkestack.io/v1/clusters/"+cls+"/proxy/api/v1/nodes", tokenOf(t, gus), ""); code != 200 || !strings.Contains(body, "m1-node-1") {
			t.Fatalf("gus listing nodes as a member of node-readers: %d %s", code, body)
		}
	})

	t.Run("member untouched by imports of users", func(t *testing.T) {
		// The platform changed nothing in the member's apiserver flags and
		// made no per-user RBAC: one binding for the proxy group only.
		out := k.MustKubectl(memberKC, "get", "clusterrolebindings", "-o", "name")
		if strings.Contains(out, "alice") || strings.Contains(out, "bob") {
			t.Fatalf("per-user RBAC in the member:\n%s", out)
		}
	})
}

// tokenOf returns a valid access token of a CLI user (refreshed by the CLI).
func tokenOf(t *testing.T, u *framework.Kstack) string {
	t.Helper()
	return framework.Token(t, u)
}

// sessionOf finds a live session of a user of the default tenant.
func sessionOf(t *testing.T, k *framework.Kstack, kubeconfig, user string) string {
	t.Helper()
	out := strings.Fields(k.MustKubectl(kubeconfig, "get", "sessions", "-l", "kstack.io/owner="+user, "-o", "jsonpath={.items[*].metadata.name}"))
	if len(out) == 0 {
		t.Fatalf("no session of %s", user)
	}
	return out[0]
}
