package attacks

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	helmregistry "helm.sh/helm/v3/pkg/registry"

	"github.com/kstack/kstack/test/e2e/framework"
)

const applicationAPI = "/application/apis/application.tkestack.io/v1/"

// applications: the application group's rows, and chart groups'
// repository addresses. Pat is a member of the default tenant's project
// (namespace atk-web in A); quinn of the other project (atk-other in A).
// A public chart group holds "tiny", whose release holds a ConfigMap and a
// ClusterRole: a project member may not write ClusterRoles in the member,
// an administrator may. Run after alarms (which makes pat and the other
// project).
func applications(t *testing.T, admin, k *framework.Kstack, hc *http.Client, base, a string, tokens map[string]string) {
	root := tokens["root"]
	framework.CreateUser(t, admin, "quinn", "Passw0rd-Quinn1")
	admin.MustRun("project", "add-member", otherProj, "quinn")
	tokens["quinn"] = framework.Token(t, framework.Login(t, admin, "default", "quinn", "Passw0rd-Quinn1"))

	groups := base + registryAPI + "chartgroups"
	group := func(name, importURL string) string {
		imp := ""
		if importURL != "" {
			imp = `,"type":"Imported","importedInfo":{"addr":"` + importURL + `","syncInterval":"0s"}`
		}
		return `{"apiVersion":"registry.tkestack.io/v1","kind":"ChartGroup","metadata":{"name":"` + name + `"},"spec":{"visibility":"Public"` + imp + `}}`
	}
	mustDo(t, hc, root, "POST", groups, group("atk-charts", ""))
	pushTiny(t, k, strings.TrimPrefix(base, "https://"))
	// A group of the administrator's own (User visibility), and one of
	// tenant t2's, made by dave.
	mustDo(t, hc, root, "POST", groups, strings.Replace(group("atk-private", ""), `"Public"`, `"User"`, 1))
	mustDo(t, hc, tokens["dave"], "POST", groups, strings.Replace(group("atk-t2-charts", ""), `"Public"`, `"User"`, 1))

	app := func(name, namespace, version, values string) string {
		return `{"apiVersion":"application.tkestack.io/v1","kind":"App","metadata":{"name":"` + name + `"},"spec":{"targetCluster":"` + a +
			`","targetNamespace":"` + namespace + `","chart":{"chartGroupName":"atk-charts","chartName":"tiny","chartVersion":"` + version +
			`"},"values":{"rawValues":"` + values + `"}}}`
	}
	own := base + applicationAPI + "namespaces/" + dfltProj + "/apps"
	other := base + applicationAPI + "namespaces/" + otherProj + "/apps"
	// The administrator's application, in pat's project: its ClusterRole
	// is what pat could write only with the administrator's rights.
	mustDo(t, hc, root, "POST", own, app("atk-admins", "atk-web", "0.1.0", "role: admin"))
	admins := own + "/atk-admins"

	check(t, hc, tokens, []row{
		// Installing: into one's own project's namespace, not another's.
		{what: "app: install into one's project's namespace (twin)", who: "quinn", method: "POST", url: other, contentType: "application/json",
			body: app("atk-quinn", "atk-other", "0.1.0", "role: none"), allow: true, want: `"phase":"Succeeded"`},
		{what: "app: install into another project's namespace, from one's project", who: "quinn", method: "POST", url: other, contentType: "application/json",
			body: app("atk-into-web", "atk-web", "0.1.0", "role: none"), want: "is not a namespace of project " + otherProj},
		{what: "app: install into another project", who: "quinn", method: "POST", url: own, contentType: "application/json",
			body: app("atk-into-web", "atk-web", "0.1.0", "role: none"), want: "may not create application"},
		// Reading: one's own project's apps only.
		{what: "app: read one's project's app (twin)", who: "pat", method: "GET", url: admins, allow: true, want: `"name":"atk-admins"`},
		{what: "app: read another project's app", who: "quinn", method: "GET", url: admins, want: "may not"},
		{what: "app: another project's app's history", who: "quinn", method: "GET", url: admins + "/histories", want: "may not"},
		{what: "app: list of apps hides other projects' (twin)", who: "quinn", method: "GET", url: base + applicationAPI + "apps", allow: true, want: "atk-quinn", hide: "atk-admins"},
		// Editing the administrator's app to act with the administrator's
		// rights: the object is written by the platform alone, and every
		// operation runs as its caller.
		{what: "app: retarget the administrator's app, merge patch", who: "pat", method: "PATCH", url: admins, contentType: merge,
			body: `{"spec":{"targetNamespace":"kube-system"}}`, want: "upgrade applications with kstack app upgrade"},
		{what: "app: replace the administrator's app's status", who: "pat", method: "PUT", url: admins + "/status", contentType: "application/json",
			body: `{"apiVersion":"application.tkestack.io/v1","kind":"App","metadata":{"name":"atk-admins"},"status":{"phase":"Succeeded"}}`, want: "written by the platform alone"},
		{what: "app: upgrade the administrator's app, runs as pat", who: "pat", method: "PUT", url: admins, contentType: "application/json",
			body: app("atk-admins", "", "0.2.0", "role: pat"), want: "pat may not getClusterrole"},
		{what: "app: upgrade it to another namespace", who: "root", method: "PUT", url: admins, contentType: "application/json",
			body: app("atk-admins", "kube-system", "0.2.0", "role: admin"), want: "keeps the release where it is"},
		{what: "app: upgrade the administrator's app as the administrator (twin)", who: "root", method: "PUT", url: admins, contentType: "application/json",
			body: app("atk-admins", "", "0.2.0", "role: admin2"), allow: true, want: `"lastOperation":{"type":"upgrade","user":"admin"`},
		{what: "app: uninstall another project's app", who: "quinn", method: "DELETE", url: admins, want: "may not"},
		// Chart groups across tenants: another tenant's private group is
		// missing, its public one readable, not changeable.
		{what: "chart group: read one's own (twin)", who: "dave", method: "GET", url: groups + "/atk-t2-charts", allow: true, want: `"name":"atk-t2-charts"`},
		{what: "chart group: read another tenant's private one", who: "dave", method: "GET", url: groups + "/atk-private", want: `"atk-private" not found`},
		{what: "chart group: charts of another tenant's private one", who: "dave", method: "GET", url: groups + "/atk-private/charts", want: `"atk-private" not found`},
		{what: "chart group: charts of another tenant's public one (twin)", who: "dave", method: "GET", url: groups + "/atk-charts/charts", allow: true, want: `"name":"tiny"`},
		{what: "chart group: sync another tenant's public one", who: "dave", method: "POST", url: groups + "/atk-charts/sync", want: "another tenant's"},
		{what: "chart group: delete a chart of another tenant's public one", who: "dave", method: "DELETE", url: groups + "/atk-charts/charts/tiny", want: "another tenant's"},
		// Repository addresses the platform would dial: not its own (it
		// listens on 127.0.0.1; only 127.0.0.2 is allowed), not even for
		// an administrator.
		{what: "chart group: import from an allowed address (twin)", who: "root", method: "POST", url: groups, contentType: "application/json",
			body: group("atk-remote", "http://127.0.0.2:9/charts"), allow: true, want: `"name":"atk-remote"`},
		{what: "chart group: import from the platform itself", who: "root", method: "POST", url: groups, contentType: "application/json",
			body: group("atk-self", base+"/charts"), want: "loopback"},
		{what: "chart group: import from the metadata service", who: "root", method: "POST", url: groups, contentType: "application/json",
			body: group("atk-meta", "http://169.254.169.254/latest"), want: "link-local"},
	})

	// A group's name cannot be taken again, by another tenant, to
	// overwrite its stored password: a conflict, before anything is stored.
	if code, body := framework.Do(t, hc, "POST", groups, tokens["dave"], "", "application/json",
		strings.Replace(group("atk-private", "http://127.0.0.2:9/charts"), `"syncInterval"`, `"username":"u","password":"p","syncInterval"`, 1)); code != http.StatusConflict || !strings.Contains(body, "taken by a chart group") {
		t.Errorf("another tenant's group of the same name, with a password: %d %s", code, body)
	}

	// Pat's refused upgrade ran as pat: the ClusterRole was not changed to
	// pat's value, and the App says whose upgrade failed.
	code, body := framework.Do(t, hc, "GET", base+"/apis/platform.tkestack.io/v1/clusters/"+a+"/proxy/apis/rbac.authorization.k8s.io/v1/clusterroles/atk-admins-role", root, "", "", "")
	if code != http.StatusOK || strings.Contains(body, `"role":"pat"`) || !strings.Contains(body, `"role":"admin2"`) {
		t.Errorf("the administrator's ClusterRole after pat's refused upgrade: %d %s", code, body)
	}
}

// pushTiny pushes the chart "tiny" (0.1.0 and 0.2.0) into atk-charts with
// Helm's registry client, as the administrator.
func pushTiny(t *testing.T, k *framework.Kstack, host string) {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(k.PlatformCA())
	dir := t.TempDir()
	c, err := helmregistry.NewClient(helmregistry.ClientOptCredentialsFile(filepath.Join(dir, "creds.json")), helmregistry.ClientOptWriter(io.Discard),
		helmregistry.ClientOptHTTPClient(&http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login(host, helmregistry.LoginOptBasicAuth("admin", adminPassword)); err != nil {
		t.Fatalf("helm registry login as admin: %v", err)
	}
	for _, v := range []string{"0.1.0", "0.2.0"} {
		ch := &chart.Chart{
			Metadata: &chart.Metadata{APIVersion: "v2", Name: "tiny", Version: v},
			Values:   map[string]any{"role": "none"},
			Templates: []*chart.File{
				{Name: "templates/cm.yaml", Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: '{{ .Release.Name }}'}\ndata: {role: '{{ .Values.role }}'}\n")},
				{Name: "templates/role.yaml", Data: []byte("{{ if ne .Values.role \"none\" }}apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: '{{ .Release.Name }}-role'\n  labels: {role: '{{ .Values.role }}'}\nrules: []\n{{ end }}\n")},
			},
		}
		path, err := chartutil.Save(ch, dir)
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Push(data, host+"/atk-charts/tiny:"+v); err != nil {
			t.Fatalf("helm push tiny %s: %v", v, err)
		}
	}
}
