package auth

import (
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kstack/kstack/internal/testutil/golden"
)

var update = flag.Bool("update", false, "rewrite testdata/matrix.golden")

// TestAuthorizationMatrix sends representative requests through the real
// gateway as each predefined platform role, a custom policy and another
// tenant's administrator, and compares who may do what with
// testdata/matrix.golden (go test ./test/e2e/auth -run Matrix -update
// rewrites it). Mutations are dry runs. Project roles are in
// internal/auth/decision's matrix and exercised in test/e2e/business.
func TestAuthorizationMatrix(t *testing.T) {
	k, p := up(t)
	hc, adminToken := k.PlatformHTTP()
	cls, _ := k.ImportedCluster("m1", 1)
	admin := login(t, k, "default", "admin", adminPassword)
	createUser(t, admin, "alice", "Passw0rd-Alice", "--policy", "platform-user")
	createUser(t, admin, "tina", "Passw0rd-Tina1", "--policy", "tenant")
	createUser(t, admin, "bob", "Passw0rd-Bob01")
	ro := filepath.Join(t.TempDir(), "ro.json")
	writeFile(t, ro, `[{"actions":["get*","list*","watch*"],"resources":["cluster:`+cls+`","cluster:`+cls+`/namespace:default/*"],"effect":"allow"},
		{"actions":["*"],"resources":["cluster:`+cls+`/namespace:default/secret:*"],"effect":"deny"}]`)
	admin.MustRun("policy", "create", "read-default", "-f", ro)
	admin.MustRun("policy", "bind", "read-default", "--user", "bob")
	if r := admin.RunStdin("Passw0rd-Dave1\n", "user", "create", "dave", "--tenant", "t2", "--policy", "administrator", "--password-stdin"); r.Err != nil {
		t.Fatal(r.Stderr)
	}
	roles := []struct{ name, token string }{
		{"admin", tokenOf(t, admin)},
		{"platform-user", tokenOf(t, login(t, k, "default", "alice", "Passw0rd-Alice"))},
		{"tenant", tokenOf(t, login(t, k, "default", "tina", "Passw0rd-Tina1"))},
		{"custom", tokenOf(t, login(t, k, "default", "bob", "Passw0rd-Bob01"))},
		{"t2-admin", tokenOf(t, login(t, k, "t2", "dave", "Passw0rd-Dave1"))},
		{"no token", ""},
	}
	base := p.ConsoleURL
	member := base + "/apis/platform.tkestack.io/v1/clusters/" + cls + "/proxy"
	rows := []struct{ what, method, url, body string }{
		{"platform: list clusters", "GET", base + "/platform/apis/platform.tkestack.io/v1/clusters", ""},
		{"platform: get the member cluster", "GET", base + "/platform/apis/platform.tkestack.io/v1/clusters/" + cls, ""},
		{"platform: delete the member (dry run)", "DELETE", base + "/platform/apis/platform.tkestack.io/v1/clusters/" + cls + "?dryRun=All", ""},
		{"platform: import a cluster (empty request)", "POST", base + "/platform/apis/platform.tkestack.io/v1/clusterimports", "{}"},
		{"auth: list users", "GET", base + "/auth/apis/auth.tkestack.io/v1/users", ""},
		{"auth: create user (invalid name)", "POST", base + "/auth/apis/auth.tkestack.io/v1/users", `{"spec":{"username":"X"}}`},
		{"auth: list policies", "GET", base + "/auth/apis/auth.tkestack.io/v1/policies", ""},
		{"auth: bind tenant policy (dry run)", "POST", base + "/auth/apis/auth.tkestack.io/v1/policybindings?dryRun=All",
			`{"apiVersion":"auth.tkestack.io/v1","kind":"PolicyBinding","metadata":{"generateName":"m-"},"spec":{"policyName":"tenant","users":["nobody"]}}`},
		{"auth: read password hashes", "GET", base + "/auth/apis/auth.tkestack.io/v1/localidentities", ""},
		{"auth: whoami", "GET", base + "/auth/whoami", ""},
		{"member: list configmaps in default", "GET", member + "/api/v1/namespaces/default/configmaps", ""},
		{"member: list secrets in default", "GET", member + "/api/v1/namespaces/default/secrets", ""},
		{"member: list pods in all namespaces", "GET", member + "/api/v1/pods", ""},
		{"member: create configmap (dry run)", "POST", member + "/api/v1/namespaces/default/configmaps?dryRun=All",
			`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"m"}}`},
		{"member: list nodes", "GET", member + "/api/v1/nodes", ""},
		{"member: delete a node (dry run)", "DELETE", member + "/api/v1/nodes/m1-node-1?dryRun=All", ""},
		{"member: version", "GET", member + "/version", ""},
		{"global: secrets of kstack-system", "GET", base + "/platform/api/v1/namespaces/kstack-system/secrets", ""},
		{"global: through the connect path", "GET", base + "/apis/platform.tkestack.io/v1/clusters/global/proxy/api/v1/namespaces", ""},
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-44s", "request \\ caller")
	for _, r := range roles {
		fmt.Fprintf(&b, " %-14s", r.name)
	}
	b.WriteString("\n")
	for _, row := range rows {
		fmt.Fprintf(&b, "%-44s", row.what)
		for _, r := range roles {
			code, body := status(t, hc, row.method, row.url, r.token, row.body)
			cell := "allow"
			switch code {
			case 401:
				cell = "unauthenticated"
			case 403:
				cell = "deny"
			case 404:
				cell = "not-found"
			}
			if cell == "allow" && code >= 500 {
				t.Errorf("%s as %s: %d %s", row.what, r.name, code, body)
			}
			fmt.Fprintf(&b, " %-14s", cell)
		}
		b.WriteString("\n")
	}
	// The custom policy names one cluster: its list holds that one only.
	if code, body := status(t, hc, "GET", base+"/platform/apis/platform.tkestack.io/v1/clusters", roles[3].token, ""); code != 200 ||
		!strings.Contains(body, `"name":"`+cls+`"`) || strings.Contains(body, `"name":"global"`) {
		t.Errorf("the custom policy's cluster list is not filtered to its rights: %d %s", code, body)
	}
	// The admin token of the data dir, for the record: it may do all but
	// read password hashes.
	if code, _ := status(t, hc, "GET", base+"/auth/apis/auth.tkestack.io/v1/localidentities", adminToken, ""); code != 403 {
		t.Errorf("the data dir's admin token read password hashes: %d", code)
	}
	golden.Compare(t, filepath.Join("testdata", "matrix.golden"), b.String(), *update)
}
