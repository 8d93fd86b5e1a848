// Package attacks is the attack suite: a table of what an attacker in a
// given role sends, and what the platform must answer, run against a real
// platform with real local member clusters. Every row that must be refused
// has a twin that must succeed with a non-empty result, so that a feature
// that is simply broken cannot pass as a refusal.
//
// A new API group adds its rows here (docs/architecture.md, "Adding an API
// group").
package attacks

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kstack/kstack/test/e2e/framework"
)

const adminPassword = "Adm1n-Passw0rd"

// row is one request and the answer it must get.
type row struct {
	what, who   string
	method, url string
	contentType string
	body        string
	// allow: 2xx and the body contains want; otherwise a refusal (4xx but
	// a conflict) whose body contains want (the reason given).
	allow bool
	want  string
	// hide: an allowed answer must not contain it (another tenant's
	// object in a list).
	hide string
}

// check sends every row and fails those answered otherwise.
func check(t *testing.T, hc *http.Client, tokens map[string]string, rows []row) {
	t.Helper()
	for _, r := range rows {
		code, body := send(t, hc, r, tokens[r.who])
		// Messages are compared as written, not as JSON quotes them.
		body = strings.ReplaceAll(body, `\"`, `"`)
		switch {
		case r.allow && (code < 200 || code > 299 || !strings.Contains(body, r.want)):
			t.Errorf("%s (%s): got %d, want success with %q: %s", r.what, r.who, code, r.want, body)
		case r.allow && r.hide != "" && strings.Contains(body, r.hide):
			t.Errorf("%s (%s): the answer holds %q, which the caller may not see: %s", r.what, r.who, r.hide, body)
		case !r.allow && (code < 400 || code > 499 || code == http.StatusConflict || !strings.Contains(body, r.want)):
			t.Errorf("%s (%s): got %d, want a refusal saying %q: %s", r.what, r.who, code, r.want, body)
		}
	}
}

func TestAttacks(t *testing.T) {
	k := framework.New(t)
	k.Env = append(k.Env, "KSTACK_ADMIN_PASSWORD="+adminPassword)
	p := k.Up(3*time.Minute, "--listen", framework.FreeAddr(t), "--platform-arg=--dial-allow=127.0.0.2/32", "--platform-arg=--metrics-interval=2s",
		"--platform-arg=--alarm-period-unit=2s", "--platform-arg=--alarm-group-wait=1s", "--platform-arg=--alarm-group-interval=2s")
	hc, adminToken := k.PlatformHTTP()
	a, _ := k.ImportedCluster("atk-a", 1)
	b, _ := k.ImportedCluster("atk-b", 1)
	admin := framework.Login(t, k, "default", "admin", adminPassword)

	// mallory: full rights on cluster A only, and the predefined tenant
	// policy. maker: may create clusters, with rights on two names.
	policy(t, admin, "only-a", `[{"actions":["*"],"resources":["cluster:`+a+`","cluster:`+a+`/*"],"effect":"allow"}]`)
	framework.CreateUser(t, admin, "mallory", "Passw0rd-Mallory", "--policy", "tenant")
	admin.MustRun("policy", "bind", "only-a", "--user", "mallory")
	policy(t, admin, "maker", `[{"actions":["createCluster"],"resources":["cluster:*"],"effect":"allow"},
		{"actions":["createProject"],"resources":["project:*"],"effect":"allow"},
		{"actions":["createVirtualnodeset"],"resources":["virtualnodeset:*"],"effect":"allow"},
		{"actions":["*"],"resources":["cluster:cls-evil000","cluster:cls-evil000/*","cluster:cls-good000","cluster:cls-good000/*"],"effect":"allow"}]`)
	framework.CreateUser(t, admin, "maker", "Passw0rd-Maker1", "--policy", "tenant")
	admin.MustRun("policy", "bind", "maker", "--user", "maker")
	// dave administers tenant t2, where erin is a user.
	framework.CreateUser(t, admin, "dave", "Passw0rd-Dave1", "--tenant", "t2", "--policy", "administrator")
	framework.CreateUser(t, admin, "erin", "Passw0rd-Erin1", "--tenant", "t2")
	tokens := map[string]string{
		"mallory": framework.Token(t, framework.Login(t, k, "default", "mallory", "Passw0rd-Mallory")),
		"maker":   framework.Token(t, framework.Login(t, k, "default", "maker", "Passw0rd-Maker1")),
		"dave":    framework.Token(t, framework.Login(t, k, "t2", "dave", "Passw0rd-Dave1")),
		// root: the platform's administrator (the data dir's admin token).
		"root": adminToken,
	}

	base := p.ConsoleURL
	clusters := base + "/platform/apis/platform.tkestack.io/v1/clusters"
	erin := base + "/auth/apis/auth.tkestack.io/v1/users/t2.erin"
	swapped := `{"spec":{"clusterCredentialRef":{"name":"cc-` + b + `"}}}`
	rows := []row{
		// 1. Credential swap: rights on A, A pointed at B's credential.
		{"proxy into A (twin of the rows below)", "mallory", "GET", base + "/apis/platform.tkestack.io/v1/clusters/" + a + "/proxy/api/v1/nodes", "", "", true, "atk-a-node-1", ""},
		{"proxy into B directly", "mallory", "GET", base + "/apis/platform.tkestack.io/v1/clusters/" + b + "/proxy/api/v1/nodes", "", "", false, "may not", ""},
		{"rename A (twin)", "mallory", "PATCH", clusters + "/" + a, merge, `{"spec":{"displayName":"renamed-a"}}`, true, "renamed-a", ""},
		{"swap A's credential, merge patch", "mallory", "PATCH", clusters + "/" + a, merge, swapped, false, "credential reference cannot change", ""},
		{"swap A's credential, JSON patch", "mallory", "PATCH", clusters + "/" + a, jsonPatch,
			`[{"op":"replace","path":"/spec/clusterCredentialRef/name","value":"cc-` + b + `"}]`, false, "credential reference cannot change", ""},
		{"swap A's credential, escaped key", "mallory", "PATCH", clusters + "/" + a, merge,
			`{"spec":{"clusterCredential\u0052ef":{"name":"cc-` + b + `"}}}`, false, "credential reference cannot change", ""},
		{"swap A's credential, server-side apply", "mallory", "PATCH", clusters + "/" + a + "?fieldManager=mallory&force=true", apply,
			`{"apiVersion":"platform.tkestack.io/v1","kind":"Cluster","metadata":{"name":"` + a + `"},"spec":{"clusterCredentialRef":{"name":"cc-` + b + `"}}}`, false, "credential reference cannot change", ""},
		{"drop A's member UID label", "mallory", "PATCH", clusters + "/" + a, jsonPatch,
			`[{"op":"remove","path":"/metadata/labels/platform.kstack.io~1cluster-uid"}]`, false, "member UID label", ""},
		// 2. A new cluster with someone else's credential.
		{"create a cluster of one's own (twin)", "maker", "POST", clusters, "application/json",
			`{"apiVersion":"platform.tkestack.io/v1","kind":"Cluster","metadata":{"name":"cls-good000"},"spec":{"type":"Imported","displayName":"good"}}`, true, "cls-good000", ""},
		{"create a cluster with B's credential", "maker", "POST", clusters, "application/json",
			`{"apiVersion":"platform.tkestack.io/v1","kind":"Cluster","metadata":{"name":"cls-evil000"},"spec":{"type":"Imported","clusterCredentialRef":{"name":"cc-` + b + `"}}}`, false, "is not a credential of cluster cls-evil000", ""},
		// 3. Moving an object (here a user, whose tenant is who they are) to another tenant.
		{"rename a user (twin)", "dave", "PATCH", erin, merge, `{"spec":{"displayName":"Erin E"}}`, true, "Erin E", ""},
		{"move a user to the default tenant, plain key", "dave", "PATCH", erin, merge, `{"spec":{"tenantID":"default"}}`, false, "tenant", ""},
		{"move a user, escaped key", "dave", "PATCH", erin, merge, `{"spec":{"tenant\u0049D":"default"}}`, false, "spec.tenantID) cannot change", ""},
		{"move a user, JSON patch", "dave", "PATCH", erin, jsonPatch, `[{"op":"replace","path":"/spec/tenant\u0049D","value":"default"}]`, false, "spec.tenantID) cannot change", ""},
		{"relabel a user, JSON pointer ~1", "dave", "PATCH", erin, jsonPatch,
			`[{"op":"replace","path":"/metadata/labels/kstack.io~1tenant","value":"default"}]`, false, "tenant label", ""},
		{"relabel a user, escaped slash", "dave", "PATCH", erin, merge, `{"metadata":{"labels":{"kstack.io\/tenant":"default"}}}`, false, "tenant", ""},
		{"make a user someone else", "dave", "PATCH", erin, merge, `{"spec":{"username":"admin"}}`, false, "spec.username) cannot change", ""},
		{"move a user, duplicate keys", "dave", "PATCH", erin, merge, `{"spec":{"displayName":"x","tenant\u0049D":"default","tenant\u0049D":"default"}}`, false, "tenant", ""},
	}
	check(t, hc, tokens, rows)
	fixtures(t, hc, base, adminToken, a, tokens)
	t.Run("references", func(t *testing.T) { references(t, hc, base, a, b, tokens) })
	t.Run("kinds and encodings", func(t *testing.T) { encodings(t, hc, base, tokens) })
	t.Run("administrators' kinds", func(t *testing.T) { adminKinds(t, hc, base, a, tokens) })
	t.Run("subresources", func(t *testing.T) { subresources(t, hc, base, a, tokens) })
	t.Run("lists and watches", func(t *testing.T) { lists(t, hc, base, a, tokens) })
	t.Run("cli", func(t *testing.T) { cli(t, k, base, a, b, tokens) })
	t.Run("console", func(t *testing.T) { console(t, hc, base, a, tokens) })
	t.Run("records and log rules", func(t *testing.T) { records(t, hc, base, a, b, tokens) })
	t.Run("monitoring", func(t *testing.T) { monitoring(t, hc, base, a, b, tokens) })
	t.Run("alarms and notifications", func(t *testing.T) { alarms(t, admin, hc, base, a, tokens) })
	t.Run("registry", func(t *testing.T) { registry(t, k, hc, base, tokens) })
	t.Run("applications", func(t *testing.T) { applications(t, admin, k, hc, base, a, tokens) })
	t.Run("add-ons", func(t *testing.T) { addons(t, hc, base, a, tokens) })

	// Nothing the refused rows sent was stored.
	var cls struct {
		Metadata struct{ Labels map[string]string }
		Spec     struct{ ClusterCredentialRef struct{ Name string } }
	}
	getJSON(t, k, p.Kubeconfig, "clusters.platform.tkestack.io", a, &cls)
	if cls.Spec.ClusterCredentialRef.Name != "cc-"+a || cls.Metadata.Labels["platform.kstack.io/cluster-uid"] == "" {
		t.Errorf("cluster %s was changed: %+v", a, cls)
	}
	var user struct {
		Metadata struct{ Labels map[string]string }
		Spec     struct{ TenantID, Username string }
	}
	getJSON(t, k, p.Kubeconfig, "users.auth.tkestack.io", "t2.erin", &user)
	if user.Spec.TenantID != "t2" || user.Spec.Username != "erin" || user.Metadata.Labels["kstack.io/tenant"] != "t2" {
		t.Errorf("user t2.erin was moved: %+v", user)
	}
	if out, err := k.Kubectl(p.Kubeconfig, "get", "clusters.platform.tkestack.io", "cls-evil000"); err == nil || !strings.Contains(fmt.Sprint(err, out), "NotFound") {
		t.Errorf("cls-evil000 was stored: %v %s", err, out)
	}

	// The invariants hold for the break-glass kubeconfig too, which the
	// gateway never sees.
	if out, err := k.Kubectl(p.Kubeconfig, "patch", "users.auth.tkestack.io", "t2.erin", "--type", "merge", "-p", `{"spec":{"tenantID":"default"}}`); err == nil || !strings.Contains(fmt.Sprint(err, out), "spec.tenantID) cannot change") {
		t.Errorf("break-glass moved a user: %v %s", err, out)
	}
	if out, err := k.Kubectl(p.Kubeconfig, "patch", "users.auth.tkestack.io", "t2.erin", "--type", "merge", "-p", `{"spec":{"displayName":"Erin B"}}`); err != nil {
		t.Errorf("break-glass could not rename a user (twin): %v %s", err, out)
	}

	// 4. A member that answers as another cluster is not served. A's
	// credential is pointed at B's address and secret with the break-glass
	// kubeconfig, past `kstack cluster update`, which would check it live.
	var ccB struct{ Spec map[string]any }
	getJSON(t, k, p.Kubeconfig, "clustercredentials.platform.tkestack.io", "cc-"+b, &ccB)
	repoint, _ := json.Marshal(map[string]any{"spec": map[string]any{"server": ccB.Spec["server"], "caCert": ccB.Spec["caCert"],
		"clientCert": ccB.Spec["clientCert"], "secretRef": ccB.Spec["secretRef"]}})
	k.MustKubectl(p.Kubeconfig, "patch", "clustercredentials.platform.tkestack.io", "cc-"+a, "--type", "merge", "-p", string(repoint))
	framework.Eventually(t, 2*time.Minute, a+" Failed as another cluster", func() error {
		var c struct {
			Status struct {
				Phase      string
				Conditions []struct{ Reason, Message string }
			}
		}
		getJSON(t, k, p.Kubeconfig, "clusters.platform.tkestack.io", a, &c)
		for _, cond := range c.Status.Conditions {
			if c.Status.Phase == "Failed" && cond.Reason == "MemberChanged" && strings.Contains(cond.Message, "kube-system UID") {
				return nil
			}
		}
		return fmt.Errorf("phase %s, conditions %+v", c.Status.Phase, c.Status.Conditions)
	})
	for _, who := range []string{"mallory", "admin"} {
		tok := tokens[who]
		if who == "admin" {
			tok = adminToken
		}
		code, body := framework.Do(t, hc, "GET", base+"/apis/platform.tkestack.io/v1/clusters/"+a+"/proxy/api/v1/nodes", tok, "", "", "")
		if code == http.StatusOK || strings.Contains(body, "atk-b-node") {
			t.Errorf("%s reached B through A's proxy: %d %s", who, code, body)
		}
	}
	// Twin: B itself is still served.
	if code, body := framework.Do(t, hc, "GET", base+"/apis/platform.tkestack.io/v1/clusters/"+b+"/proxy/api/v1/nodes", adminToken, "", "", ""); code != http.StatusOK || !strings.Contains(body, "atk-b-node-1") {
		t.Errorf("B's own proxy: %d %s", code, body)
	}
}

// send sends a row. An update names the object's current
// resourceVersion, and is sent again while a controller's write gets in
// between (409).
func send(t *testing.T, hc *http.Client, r row, token string) (int, string) {
	t.Helper()
	for try := 0; ; try++ {
		body := r.body
		if strings.Contains(body, rvPlaceholder) {
			body = strings.Replace(body, rvPlaceholder, resourceVersion(t, hc, r.url, token), 1)
		}
		code, out := framework.Do(t, hc, r.method, r.url, token, "", r.contentType, body)
		if code != http.StatusConflict || body == r.body || try == 5 {
			return code, out
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// rvPlaceholder in a row's body is replaced by the resourceVersion of the
// object at the row's URL, read as the row's caller: an update must name it.
const rvPlaceholder = "RESOURCE_VERSION"

func resourceVersion(t *testing.T, hc *http.Client, url, token string) string {
	t.Helper()
	code, body := framework.Do(t, hc, "GET", url, token, "", "", "")
	var obj struct {
		Metadata struct{ ResourceVersion string }
	}
	if err := json.Unmarshal([]byte(body), &obj); err != nil || code != http.StatusOK || obj.Metadata.ResourceVersion == "" {
		t.Fatalf("reading the resourceVersion of %s: %d %s", url, code, body)
	}
	return obj.Metadata.ResourceVersion
}

func policy(t *testing.T, admin *framework.Kstack, name, statements string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), name+".json")
	if err := os.WriteFile(f, []byte(statements), 0o600); err != nil {
		t.Fatal(err)
	}
	admin.MustRun("policy", "create", name, "-f", f)
}

// getJSON reads a platform object from the store, with the break-glass
// kubeconfig.
func getJSON(t *testing.T, k *framework.Kstack, kubeconfig, resource, name string, v any) {
	t.Helper()
	out := k.MustKubectl(kubeconfig, "get", resource, name, "-o", "json")
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("%s %s: %v\n%s", resource, name, err, out)
	}
}
