package attacks

import (
	"html"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kstack/kstack/test/e2e/framework"
)

const (
	merge     = "application/merge-patch+json"
	jsonPatch = "application/json-patch+json"
	apply     = "application/apply-patch+yaml"
	strategic = "application/strategic-merge-patch+json"

	platformAPI = "/platform/apis/platform.tkestack.io/v1/"
	authAPI     = "/auth/apis/auth.tkestack.io/v1/"
	businessAPI = "/business/apis/business.tkestack.io/v1/"

	// Tenant t2's objects, made by fixtures: two clusters (no members
	// behind them: only their references matter here), a project, a
	// policy, a group and a binding. The default tenant has dflt's project.
	t2ClusterA = "cls-t2a00000"
	t2ClusterB = "cls-t2b00000"
	t2Project  = "prj-t2aa0000"
	dfltProj   = "prj-dflt0000"
)

// mustDo sends a fixture's request, which must succeed.
func mustDo(t *testing.T, hc *http.Client, token, method, url, body string) {
	t.Helper()
	if code, out := framework.Do(t, hc, method, url, token, "", "application/json", body); code < 200 || code > 299 {
		t.Fatalf("fixture %s %s: %d %s", method, url, code, out)
	}
}

// fixtures makes tenant t2's objects (as its administrator, dave, where a
// tenant administrator may) and the default tenant's project.
func fixtures(t *testing.T, hc *http.Client, base, adminToken, a string, tokens map[string]string) {
	t.Helper()
	for _, id := range []string{t2ClusterA, t2ClusterB} {
		mustDo(t, hc, adminToken, "POST", base+platformAPI+"clusters",
			`{"apiVersion":"platform.tkestack.io/v1","kind":"Cluster","metadata":{"name":"`+id+`"},"spec":{"tenantID":"t2","type":"Imported","displayName":"`+id+`"}}`)
	}
	mustDo(t, hc, adminToken, "POST", base+businessAPI+"projects",
		`{"apiVersion":"business.tkestack.io/v1","kind":"Project","metadata":{"name":"`+dfltProj+`"},"spec":{"displayName":"default's","clusters":[{"name":"`+a+`","hard":{"pods":"10"}}]}}`)
	dave := tokens["dave"]
	mustDo(t, hc, dave, "POST", base+businessAPI+"projects",
		`{"apiVersion":"business.tkestack.io/v1","kind":"Project","metadata":{"name":"`+t2Project+`"},"spec":{"displayName":"t2's","clusters":[{"name":"`+t2ClusterA+`","hard":{"pods":"10"}}]}}`)
	mustDo(t, hc, dave, "POST", base+authAPI+"policies",
		`{"apiVersion":"auth.tkestack.io/v1","kind":"Policy","metadata":{"name":"t2-pol"},"spec":{"statements":[{"actions":["get*"],"resources":["cluster:*"],"effect":"allow"}]}}`)
	mustDo(t, hc, dave, "POST", base+authAPI+"groups",
		`{"apiVersion":"auth.tkestack.io/v1","kind":"Group","metadata":{"name":"t2.team"},"spec":{"name":"team","members":["erin"]}}`)
	mustDo(t, hc, dave, "POST", base+authAPI+"policybindings",
		`{"apiVersion":"auth.tkestack.io/v1","kind":"PolicyBinding","metadata":{"name":"t2-erin-pol"},"spec":{"policyName":"t2-pol","users":["erin"]}}`)
}

// references: every field that names another object names one of the
// same tenant that the caller may use, at create and at update.
func references(t *testing.T, hc *http.Client, base, a, b string, tokens map[string]string) {
	prj := func(name, cluster, extra string) string {
		return `{"apiVersion":"business.tkestack.io/v1","kind":"Project","metadata":{"name":"` + name + `"},"spec":{"displayName":"x","clusters":[{"name":"` + cluster + `","hard":{"pods":"1"}}]` + extra + `}}`
	}
	update := func(body string) string {
		return strings.Replace(body, `"metadata":{`, `"metadata":{"resourceVersion":"`+rvPlaceholder+`",`, 1)
	}
	binding := func(name, policy, project string) string {
		return `{"apiVersion":"auth.tkestack.io/v1","kind":"PolicyBinding","metadata":{"name":"` + name + `"},"spec":{"policyName":"` + policy + `","users":["erin"],"projectID":"` + project + `"}}`
	}
	vns := func(name, upper, lower string) string {
		return `{"apiVersion":"platform.tkestack.io/v1","kind":"VirtualNodeSet","metadata":{"name":"` + name + `"},"spec":{"upper":"` + upper + `","lowers":["` + lower + `"]}}`
	}
	ns := func(cluster, name string) string {
		return `{"apiVersion":"business.tkestack.io/v1","kind":"Namespace","spec":{"clusterName":"` + cluster + `","namespace":"` + name + `","hard":{"pods":"1"}}}`
	}
	projects, bindings, vnss := base+businessAPI+"projects", base+authAPI+"policybindings", base+platformAPI+"virtualnodesets"
	check(t, hc, tokens, []row{
		// A project's clusters, at create and at update (PUT: projects are
		// replaced whole).
		{what: "project on the tenant's cluster (twin)", who: "dave", method: "POST", url: projects, contentType: "application/json",
			body: prj("prj-t2bb0000", t2ClusterB, ""), allow: true, want: t2ClusterB},
		{what: "project on another tenant's cluster", who: "dave", method: "POST", url: projects, contentType: "application/json",
			body: prj("prj-t2cc0000", a, ""), want: `there is no cluster "` + a + `" for projects of tenant t2`},
		{what: "project updated on its own cluster (twin)", who: "dave", method: "PUT", url: projects + "/prj-t2bb0000", contentType: "application/json",
			body: update(prj("prj-t2bb0000", t2ClusterB, `,"members":[{"username":"erin","role":"project-viewer"}]`)), allow: true, want: "project-viewer"},
		{what: "project updated onto another tenant's cluster", who: "dave", method: "PUT", url: projects + "/prj-t2bb0000", contentType: "application/json",
			body: update(prj("prj-t2bb0000", b, "")), want: `there is no cluster "` + b + `"`},
		{what: "project on a cluster the caller may use (twin)", who: "maker", method: "POST", url: projects, contentType: "application/json",
			body: prj("prj-make0000", "cls-good000", ""), allow: true, want: "prj-make0000"},
		{what: "project on a cluster the caller may not see", who: "maker", method: "POST", url: projects, contentType: "application/json",
			body: prj("prj-make0001", b, ""), want: "may not use cluster:" + b},
		// A project's parent.
		{what: "sub-project of the tenant's project (twin)", who: "dave", method: "POST", url: projects, contentType: "application/json",
			body: prj("prj-t2dd0000", t2ClusterA, `,"parentProjectName":"`+t2Project+`"`), allow: true, want: "prj-t2dd0000"},
		{what: "sub-project of another tenant's project", who: "dave", method: "POST", url: projects, contentType: "application/json",
			body: prj("prj-t2ee0000", t2ClusterA, `,"parentProjectName":"`+dfltProj+`"`), want: `parent project "` + dfltProj + `" does not exist`},
		// A binding's policy and project.
		{what: "binding of the tenant's policy in its project (twin)", who: "dave", method: "POST", url: bindings, contentType: "application/json",
			body: binding("t2-b1", "t2-pol", t2Project), allow: true, want: "t2-b1"},
		{what: "binding of another tenant's policy", who: "dave", method: "POST", url: bindings, contentType: "application/json",
			body: binding("t2-b2", "only-a", ""), want: `names policy "only-a", which does not exist`},
		{what: "binding in another tenant's project", who: "dave", method: "POST", url: bindings, contentType: "application/json",
			body: binding("t2-b3", "t2-pol", dfltProj), want: `no project "` + dfltProj + `" in tenant t2`},
		// A namespace's project (the path names it).
		{what: "namespace in the tenant's project (twin)", who: "dave", method: "POST", url: base + businessAPI + "namespaces/" + t2Project + "/namespaces", contentType: "application/json",
			body: ns(t2ClusterA, "web"), allow: true, want: t2ClusterA + "-web"},
		{what: "namespace in another tenant's project", who: "dave", method: "POST", url: base + businessAPI + "namespaces/" + dfltProj + "/namespaces", contentType: "application/json",
			body: ns(a, "web"), want: `project "` + dfltProj + `" does not exist`},
		// A virtual node set's clusters.
		{what: "virtual nodes between the tenant's clusters (twin)", who: "dave", method: "POST", url: vnss, contentType: "application/json",
			body: vns("t2-vns", t2ClusterA, t2ClusterB), allow: true, want: "t2-vns"},
		{what: "virtual nodes of another tenant's cluster", who: "dave", method: "POST", url: vnss, contentType: "application/json",
			body: vns("t2-vns2", t2ClusterA, a), want: `there is no cluster "` + a + `" for virtual nodes of tenant t2`},
		{what: "virtual nodes into another tenant's cluster", who: "dave", method: "POST", url: vnss, contentType: "application/json",
			body: vns("t2-vns3", b, t2ClusterA), want: `spec.upper: there is no cluster "` + b + `"`},
		{what: "virtual nodes of a cluster the caller may not update", who: "maker", method: "POST", url: vnss, contentType: "application/json",
			body: vns("mk-vns", "cls-good000", a), want: "may not use cluster:" + a},
		// A cluster's credential, at create (the update rows are the holes
		// above).
		{what: "cluster with another tenant's credential", who: "dave", method: "POST", url: base + platformAPI + "clusters", contentType: "application/json",
			body: `{"apiVersion":"platform.tkestack.io/v1","kind":"Cluster","metadata":{"name":"cls-t2evil00"},"spec":{"type":"Imported","clusterCredentialRef":{"name":"cc-` + a + `"}}}`,
			want: "is not a credential of cluster cls-t2evil00"},
	})
}

// kindURLs are tenant t2's objects of every kind that its administrator
// reaches, and whether the kind may be patched by them.
func kindURLs(base string) []struct {
	kind, apiVersion, url string
	patchable             bool
} {
	return []struct {
		kind, apiVersion, url string
		patchable             bool
	}{
		{"User", "auth.tkestack.io/v1", base + authAPI + "users/t2.erin", true},
		{"Group", "auth.tkestack.io/v1", base + authAPI + "groups/t2.team", false},
		{"Policy", "auth.tkestack.io/v1", base + authAPI + "policies/t2-pol", false},
		{"PolicyBinding", "auth.tkestack.io/v1", base + authAPI + "policybindings/t2-erin-pol", false},
		{"Cluster", "platform.tkestack.io/v1", base + platformAPI + "clusters/" + t2ClusterA, true},
		{"VirtualNodeSet", "platform.tkestack.io/v1", base + platformAPI + "virtualnodesets/t2-vns", true},
		{"Project", "business.tkestack.io/v1", base + businessAPI + "projects/" + t2Project, false},
		{"Namespace", "business.tkestack.io/v1", base + businessAPI + "namespaces/" + t2Project + "/namespaces/" + t2ClusterA + "-web", false},
	}
}

// encodings: on every kind, every patch type (and YAML, escaped and
// duplicate keys) that would move an object to another tenant is refused;
// a change that keeps it in its tenant is not (the twin).
func encodings(t *testing.T, hc *http.Client, base string, tokens map[string]string) {
	var rows []row
	for _, k := range kindURLs(base) {
		name := k.url[strings.LastIndex(k.url, "/")+1:]
		refusal, unknownType := "cannot be patched", "cannot be patched"
		if k.patchable {
			refusal, unknownType = "cannot change", "unknown format"
		}
		yaml := "apiVersion: " + k.apiVersion + "\nkind: " + k.kind + "\nmetadata:\n  name: " + name + "\n  labels:\n    kstack.io/tenant: default\n"
		rows = append(rows,
			row{what: k.kind + ": read (twin)", who: "dave", method: "GET", url: k.url, allow: true, want: name},
			row{what: k.kind + ": relabel, merge patch", who: "dave", method: "PATCH", url: k.url, contentType: merge,
				body: `{"metadata":{"labels":{"kstack.io/tenant":"default"}}}`, want: refusal},
			row{what: k.kind + ": relabel, escaped key", who: "dave", method: "PATCH", url: k.url, contentType: merge,
				body: `{"metadata":{"labels":{"kstack.io\u002ftenant":"default"}}}`, want: refusal},
			row{what: k.kind + ": move, JSON patch", who: "dave", method: "PATCH", url: k.url, contentType: jsonPatch,
				body: `[{"op":"replace","path":"/spec/tenantID","value":"default"}]`, want: refusal},
			row{what: k.kind + ": relabel, server-side apply (YAML)", who: "dave", method: "PATCH", url: k.url + "?fieldManager=dave&force=true", contentType: apply,
				body: yaml, want: refusal},
			row{what: k.kind + ": move, duplicate keys", who: "dave", method: "PATCH", url: k.url, contentType: merge,
				body: `{"spec":{"tenantID":"t2","tenantID":"default"}}`, want: refusal},
			// CRDs take no strategic merge patch: the API server says so.
			row{what: k.kind + ": strategic merge patch", who: "dave", method: "PATCH", url: k.url, contentType: strategic,
				body: `{"metadata":{"labels":{"kstack.io/tenant":"default"}}}`, want: unknownType},
		)
		if k.patchable {
			rows = append(rows, row{what: k.kind + ": label, merge patch (twin)", who: "dave", method: "PATCH", url: k.url, contentType: merge,
				body: `{"metadata":{"labels":{"team":"red"}}}`, allow: true, want: `"team":"red"`})
		}
	}
	// A YAML body is refused with what to send instead; the JSON twin is
	// the policy fixture.
	rows = append(rows, row{what: "create from a YAML body", who: "dave", method: "POST", url: base + authAPI + "policies", contentType: "application/yaml",
		body: "apiVersion: auth.tkestack.io/v1\nkind: Policy\nmetadata:\n  name: t2-yaml\nspec:\n  tenantID: default\n", want: "send the platform API JSON"})
	check(t, hc, tokens, rows)
}

// adminKinds: the kinds only platform administrators reach, and the one
// no one reaches, refused to a tenant's administrator for every verb; the
// platform's administrator reads them (the twins).
func adminKinds(t *testing.T, hc *http.Client, base, a string, tokens map[string]string) {
	var rows []row
	for _, k := range []struct{ url, want, twin string }{
		{base + platformAPI + "clustercredentials/cc-" + a, "readable by platform administrators only", "cc-" + a},
		{base + authAPI + "sessions", "sessions are managed by logging in and out", "SessionList"},
		{base + authAPI + "identityproviders", "identity providers are managed by platform administrators", "IdentityProviderList"},
	} {
		rows = append(rows,
			row{what: k.url + ": read as the administrator (twin)", who: "root", method: "GET", url: k.url, allow: true, want: k.twin},
			row{what: k.url + ": read", who: "dave", method: "GET", url: k.url, want: k.want},
			row{what: k.url + ": merge patch", who: "dave", method: "PATCH", url: k.url, contentType: merge, body: `{"metadata":{"labels":{"x":"y"}}}`, want: k.want},
			row{what: k.url + ": JSON patch", who: "dave", method: "PATCH", url: k.url, contentType: jsonPatch, body: `[{"op":"add","path":"/metadata/labels/x","value":"y"}]`, want: k.want},
			row{what: k.url + ": delete", who: "dave", method: "DELETE", url: k.url, want: k.want},
		)
	}
	// Password hashes are served to no one, administrators included; the
	// twin is the user they belong to.
	hash := base + authAPI + "localidentities/default.admin"
	rows = append(rows,
		row{what: "the admin user (twin)", who: "root", method: "GET", url: base + authAPI + "users/default.admin", allow: true, want: "default.admin"},
		row{what: "a password hash, as the administrator", who: "root", method: "GET", url: hash, want: "password hashes are never served"},
		row{what: "a password hash, patched", who: "dave", method: "PATCH", url: hash, contentType: merge, body: `{"spec":{"passwordHash":"x"}}`, want: "password hashes are never served"},
		row{what: "password hashes, listed", who: "dave", method: "GET", url: base + authAPI + "localidentities", want: "password hashes are never served"},
	)
	check(t, hc, tokens, rows)
}

// subresources: status is the controllers'; CRDs serve no scale.
func subresources(t *testing.T, hc *http.Client, base, a string, tokens map[string]string) {
	cluster := base + platformAPI + "clusters/" + a
	check(t, hc, tokens, []row{
		{what: "read A's status (twin)", who: "mallory", method: "GET", url: cluster + "/status", allow: true, want: `"phase"`},
		{what: "write A's status, merge patch", who: "mallory", method: "PATCH", url: cluster + "/status", contentType: merge,
			body: `{"status":{"phase":"Running","conditions":[]}}`, want: "status is written by the platform's controllers only"},
		{what: "write A's status, PUT", who: "mallory", method: "PUT", url: cluster + "/status", contentType: "application/json",
			body: `{"apiVersion":"platform.tkestack.io/v1","kind":"Cluster","metadata":{"name":"` + a + `"}}`, want: "status is written by the platform's controllers only"},
		{what: "write a user's status", who: "dave", method: "PATCH", url: base + authAPI + "users/t2.erin/status", contentType: merge,
			body: `{"status":{"locked":false}}`, want: "status is written by the platform's controllers only"},
		{what: "scale A", who: "mallory", method: "PATCH", url: cluster + "/scale", contentType: merge, body: `{"spec":{"replicas":3}}`, want: "NotFound"},
	})
}

// lists: selectors never reach past the caller's tenant, for lists and
// watches alike.
func lists(t *testing.T, hc *http.Client, base, a string, tokens map[string]string) {
	users, clusters, projects := base+authAPI+"users", base+platformAPI+"clusters", base+businessAPI+"projects"
	watch := "?watch=true&timeoutSeconds=2"
	check(t, hc, tokens, []row{
		{what: "list the tenant's users (twin)", who: "dave", method: "GET", url: users, allow: true, want: "t2.erin", hide: "default.admin"},
		{what: "list users, label selector on another tenant", who: "dave", method: "GET", url: users + "?labelSelector=kstack.io%2Ftenant%3Ddefault", allow: true, want: `"items":[]`, hide: "default.admin"},
		{what: "list users, set selector with another tenant", who: "dave", method: "GET", url: users + "?labelSelector=kstack.io%2Ftenant+in+%28default%2Ct2%29", allow: true, want: "t2.erin", hide: "default.admin"},
		{what: "list users, negated selector", who: "dave", method: "GET", url: users + "?labelSelector=kstack.io%2Ftenant%21%3Dt2", allow: true, want: `"items":[]`, hide: "default.admin"},
		// A name in a field selector is decided as a read of that name.
		{what: "list users, field selector on another's name", who: "dave", method: "GET", url: users + "?fieldSelector=metadata.name%3Ddefault.admin", want: `user "default.admin" not found`},
		{what: "list users, field selector on the tenant's name (twin)", who: "dave", method: "GET", url: users + "?fieldSelector=metadata.name%3Dt2.erin", allow: true, want: "t2.erin"},
		{what: "watch the tenant's users (twin)", who: "dave", method: "GET", url: users + watch, allow: true, want: "t2.erin", hide: "default.admin"},
		{what: "watch users, label selector on another tenant", who: "dave", method: "GET", url: users + watch + "&labelSelector=kstack.io%2Ftenant%3Ddefault", allow: true, hide: "default.admin"},
		{what: "watch users, field selector on another's name", who: "dave", method: "GET", url: users + watch + "&fieldSelector=metadata.name%3Ddefault.admin", want: `user "default.admin" not found`},
		{what: "list the tenant's clusters (twin)", who: "dave", method: "GET", url: clusters, allow: true, want: t2ClusterA, hide: a},
		{what: "list clusters, selector on another tenant", who: "dave", method: "GET", url: clusters + "?labelSelector=kstack.io%2Ftenant%3Ddefault", allow: true, want: `"items":[]`, hide: a},
		{what: "list the tenant's projects (twin)", who: "dave", method: "GET", url: projects, allow: true, want: t2Project, hide: dfltProj},
		{what: "watch projects, selector on another tenant", who: "dave", method: "GET", url: projects + watch + "&labelSelector=kstack.io%2Ftenant%3Ddefault", allow: true, hide: dfltProj},
		// A user who may read one cluster by name lists that one only.
		{what: "list clusters with a right on one (twin)", who: "mallory", method: "GET", url: clusters, allow: true, want: a, hide: t2ClusterA},
		{what: "watch clusters with a right on one", who: "mallory", method: "GET", url: clusters + watch, want: "mallory may not watch"},
	})
}

// cli: the same holes through kubectl, with a kubeconfig for the
// platform's API as the user: merge patch, server-side apply (YAML) and
// create.
func cli(t *testing.T, k *framework.Kstack, base, a, b string, tokens map[string]string) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(ca, k.PlatformCA(), 0o600); err != nil {
		t.Fatal(err)
	}
	kubeconfig := func(who string) string {
		f := filepath.Join(dir, who+".kubeconfig")
		kc := "apiVersion: v1\nkind: Config\nclusters:\n- name: kstack\n  cluster:\n    server: " + base + "/platform\n    certificate-authority: " + ca +
			"\nusers:\n- name: " + who + "\n  user:\n    token: " + tokens[who] + "\ncontexts:\n- name: kstack\n  context:\n    cluster: kstack\n    user: " + who + "\ncurrent-context: kstack\n"
		if err := os.WriteFile(f, []byte(kc), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	manifest := func(name, body string) string {
		f := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(f, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	mallory, dave := kubeconfig("mallory"), kubeconfig("dave")
	swapped := manifest("swapped", "apiVersion: platform.tkestack.io/v1\nkind: Cluster\nmetadata:\n  name: "+a+"\nspec:\n  clusterCredentialRef:\n    name: cc-"+b+"\n")
	moved := manifest("moved", "apiVersion: auth.tkestack.io/v1\nkind: User\nmetadata:\n  name: t2.erin\nspec:\n  tenantID: default\n")
	evil := manifest("evil", "apiVersion: platform.tkestack.io/v1\nkind: Cluster\nmetadata:\n  name: cls-evil001\nspec:\n  type: Imported\n  clusterCredentialRef:\n    name: cc-"+b+"\n")
	for _, c := range []struct {
		what       string
		kubeconfig string
		args       []string
		allow      bool
		want       string
	}{
		{"label A (twin)", mallory, []string{"label", "clusters.platform.tkestack.io", a, "cli=blue"}, true, "labeled"},
		{"swap A's credential, kubectl patch", mallory, []string{"patch", "clusters.platform.tkestack.io", a, "--type", "merge", "-p", `{"spec":{"clusterCredentialRef":{"name":"cc-` + b + `"}}}`}, false, "credential reference cannot change"},
		{"swap A's credential, kubectl apply --server-side", mallory, []string{"apply", "--server-side", "--force-conflicts", "-f", swapped}, false, "credential reference cannot change"},
		{"label a user (twin)", dave, []string{"label", "users.auth.tkestack.io", "t2.erin", "cli=blue"}, true, "labeled"},
		{"move a user, kubectl apply --server-side", dave, []string{"apply", "--server-side", "--force-conflicts", "-f", moved}, false, "cannot change"},
	} {
		out, err := k.Kubectl(c.kubeconfig, c.args...)
		switch {
		case c.allow && (err != nil || !strings.Contains(out, c.want)):
			t.Errorf("%s: want success with %q: %v %s", c.what, c.want, err, out)
		case !c.allow && (err == nil || !strings.Contains(out+err.Error(), c.want)):
			t.Errorf("%s: want a refusal saying %q: %v %s", c.what, c.want, err, out)
		}
	}
	if out, err := k.Kubectl(kubeconfig("maker"), "create", "-f", evil); err == nil || !strings.Contains(out+err.Error(), "is not a credential of cluster cls-evil001") {
		t.Errorf("kubectl create of a cluster with B's credential: %v %s", err, out)
	}
}

// console: the console's forms write as the user through the gateway, so
// the same checks answer, under the field of the form.
func console(t *testing.T, hc *http.Client, base, a string, tokens map[string]string) {
	dave := framework.ConsoleLoginTenant(t, base, "t2", "dave", "Passw0rd-Dave1")
	form := func(name, cluster string) url.Values {
		return url.Values{"name": {name}, "cluster": {cluster}, cluster + ".pods": {"1"}}
	}
	code, body := dave.Post(t, "/console/platform/projects/new", form("console-twin", t2ClusterB))
	if code != http.StatusOK || !strings.Contains(body, "Project console-twin created") {
		t.Errorf("console: a project on the tenant's cluster (twin): %d\n%.3000s", code, body)
	}
	code, body = dave.Post(t, "/console/platform/projects/new", form("console-evil", a))
	if code != http.StatusOK || !strings.Contains(html.UnescapeString(body), `there is no cluster "`+a+`" for projects of tenant t2`) {
		t.Errorf("console: a project on another tenant's cluster: %d\n%.3000s", code, body)
	}
	// Only the twin was stored.
	_, list := framework.Do(t, hc, "GET", base+businessAPI+"projects", tokens["dave"], "", "", "")
	if !strings.Contains(list, "console-twin") || strings.Contains(list, "console-evil") {
		t.Errorf("console: t2's projects after the forms: %s", list)
	}
}
