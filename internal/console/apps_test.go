package console

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	applicationv1 "github.com/kstack/kstack/api/application/v1"
)

const prjApps = appAPIBase + "/namespaces/prj-aaaaaaaa/apps"

func TestAppsPage(t *testing.T) {
	s, f := helmServer(t)
	// The business console: the first of the user's projects.
	w := do(s, "GET", "/console/business/apps", nil, false)
	body := w.Body.String()
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, body)
	}
	if !f.sent("GET " + prjApps) {
		t.Fatalf("the project's apps were not asked for: %v", f.reqs)
	}
	mustContain(t, "the apps page", body, `id="apps"`, `href="/console/business/projects/prj-aaaaaaaa/apps/web"`, "cls-a / web",
		`href="/console/business/chartgroups/team-a/charts/nginx?version=1.2.0"`, "team-a/nginx", "1.2.0",
		`<span class="status-Succeeded">Succeeded</span>`, "release deployed", "upgraded to revision 2: nginx 1.2.0",
		`<span class="status-Upgrading">Upgrading</span>`, "running: upgrade by alice since 2025-03-03 09:00:00 UTC",
		`<option value="prj-aaaaaaaa" selected>Shop (prj-aaaaaaaa)</option>`, `id="new-app"`, `href="/console/business/apps/new?project=prj-aaaaaaaa"`,
		`id="nav-apps"`)
	// The platform console: every project's (the user may list them all),
	// with a project column, and the other projects to choose from.
	f.reset()
	w = do(s, "GET", "/console/platform/apps", nil, false)
	body = w.Body.String()
	if !f.sent("GET "+appAPIBase+"/apps") || !strings.Contains(body, `<option value="*" selected>All projects you may see</option>`) ||
		!strings.Contains(body, "<th>Project</th>") || !strings.Contains(body, "Other (prj-bbbbbbbb)") {
		t.Fatalf("the platform's page: %v\n%s", f.reqs, body)
	}
	// A project chosen.
	f.reset()
	w = do(s, "GET", "/console/platform/apps?project=prj-aaaaaaaa", nil, false)
	if !f.sent("GET "+prjApps) || strings.Contains(w.Body.String(), "<th>Project</th>") {
		t.Fatalf("a chosen project: %v", f.reqs)
	}
	if w := do(s, "GET", "/console/platform/apps?project=Bad_Project", nil, false); w.Code != http.StatusNotFound {
		t.Fatalf("an invalid project: %d", w.Code)
	}
	// The API's refusal is shown.
	f.refuse["GET "+prjApps] = "403 pm may not list applications in project prj-aaaaaaaa"
	w = do(s, "GET", "/console/business/apps?project=prj-aaaaaaaa", nil, false)
	mustContain(t, "a refused list", w.Body.String(), `id="apps-error"`, "pm may not list applications")
}

func TestAppFormPage(t *testing.T) {
	s, f := helmServer(t)
	// From a chart's Install button: the chart and version chosen, the
	// project's first namespace, the chart's default values.
	w := do(s, "GET", "/console/business/apps/new?group=team-a&chart=nginx&version=1.1.0&project=prj-aaaaaaaa", nil, false)
	body := w.Body.String()
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, body)
	}
	mustContain(t, "the new app form", body, `id="app-form"`, `hx-post="/console/business/apps"`, `hx-target="#app-result"`,
		`id="app-name"`, `<optgroup label="Shop (prj-aaaaaaaa)">`, `<option value="prj-aaaaaaaa/cls-a/shop" selected>shop in cls-a</option>`,
		`<option value="team-a/nginx" selected>nginx (team-a) · 1.2.0</option>`, `hx-get="/console/business/apps/new/versions"`,
		`<option value="1.1.0" selected>1.1.0 (app 1.24)</option>`, `<option value="1.2.0">1.2.0 (app 1.25) · newest</option>`,
		`id="app-defaults"`, "Default values of nginx 1.1.0", "tag: 1.1.0", `id="app-values"`, `id="app-secret-values"`, `id="app-wait"`, `id="app-timeout"`,
		`name="action" value="dryrun"`, `name="action" value="install"`, `id="app-err-values"`, `id="app-result"`)
	if !f.sent("GET " + regAPI + "/chartgroups/team-a/charts/nginx/versions/1.1.0") {
		t.Fatalf("the defaults were not read: %v", f.reqs)
	}
	// The namespace asked for.
	w = do(s, "GET", "/console/business/apps/new?project=prj-aaaaaaaa&cluster=cls-a&namespace=web", nil, false)
	mustContain(t, "a namespace asked for", w.Body.String(), `<option value="prj-aaaaaaaa/cls-a/web" selected>`, "choose a chart first")
	// The platform console offers other projects' namespaces too.
	w = do(s, "GET", "/console/platform/apps/new", nil, false)
	mustContain(t, "the platform's form", w.Body.String(), `<optgroup label="prj-bbbbbbbb">`, `value="prj-bbbbbbbb/cls-b/api"`)
	// The version field of another chart (htmx, when the chart changes).
	w = do(s, "GET", "/console/business/apps/new/versions?chart=team-a/nginx", nil, true)
	body = w.Body.String()
	if !strings.HasPrefix(body, `<span id="app-version-field">`) || !strings.Contains(body, `<option value="1.2.0" selected>`) || strings.Contains(body, "<html") {
		t.Fatalf("the version field: %s", body)
	}
}

// installForm is a filled-in new application form.
func installForm(action string, extra ...string) map[string][]string {
	form := map[string][]string{"name": {"web2"}, "target": {"prj-aaaaaaaa/cls-a/web"}, "chart": {"team-a/nginx"}, "version": {"1.2.0"},
		"values": {"replicaCount: 3\n"}, "secretValues": {"auth:\n  password: " + typedSecret + "\n"}, "wait": {"true"}, "timeout": {"10m"}, "action": {action}}
	for i := 0; i+1 < len(extra); i += 2 {
		form[extra[i]] = []string{extra[i+1]}
	}
	return form
}

func TestInstallApp(t *testing.T) {
	s, f := helmServer(t)
	// A dry run shows the rendered manifest under the form (htmx), with the
	// secret values masked.
	w := do(s, "POST", "/console/business/apps", installForm("dryrun"), true)
	body := w.Body.String()
	if w.Code != 200 || strings.Contains(body, "<html") {
		t.Fatalf("a dry run: %d %s", w.Code, body)
	}
	var sent applicationv1.App
	if err := json.Unmarshal([]byte(f.body("POST "+prjApps)), &sent); err != nil {
		t.Fatal(err)
	}
	sp := sent.Spec
	if sent.Kind != "App" || sent.Name != "web2" || sent.Namespace != "prj-aaaaaaaa" || !sp.DryRun || sp.Type != applicationv1.HelmV3 ||
		sp.TargetCluster != "cls-a" || sp.TargetNamespace != "web" || sp.Chart != (applicationv1.Chart{ChartGroupName: "team-a", ChartName: "nginx", ChartVersion: "1.2.0"}) ||
		sp.Values.RawValues != "replicaCount: 3\n" || sp.Values.RawValuesType != "yaml" || !strings.Contains(sp.Values.SecretValues, typedSecret) ||
		!sp.Wait || sp.Timeout == nil || sp.Timeout.Duration.String() != "10m0s" {
		t.Fatalf("the dry run sent %+v", sent)
	}
	mustContain(t, "the dry run", body, `id="app-manifest"`, "kind: ConfigMap", "postgres://u:******@db", "password: ******", "dry run: nothing was installed",
		`id="app-err-name" hx-swap-oob="true"`)
	mustNotContain(t, "the dry run", body, typedSecret, base64.StdEncoding.EncodeToString([]byte(typedSecret)))
	// Without htmx: the whole page, filled in but for the secret values.
	w = do(s, "POST", "/console/business/apps", installForm("dryrun"), false)
	body = w.Body.String()
	mustContain(t, "a dry run without htmx", body, "<html", `id="app-manifest"`, `value="web2"`, `<option value="prj-aaaaaaaa/cls-a/web" selected>`,
		`<option value="team-a/nginx" selected>`, `<option value="1.2.0" selected>`, "replicaCount: 3", `id="app-wait" checked`, `value="10m"`, `id="app-secret-again"`)
	mustNotContain(t, "a dry run without htmx", body, typedSecret)

	// Install: to the application's page.
	w = do(s, "POST", "/console/business/apps", installForm("install"), true)
	if w.Header().Get("HX-Redirect") != "/console/business/projects/prj-aaaaaaaa/apps/web2?notice=Application+web2+installed%3A+installed+revision+1+of+nginx+1.2.0" {
		t.Fatalf("an install: %d %v %s", w.Code, w.Header(), w.Body.String())
	}
	sent = applicationv1.App{}
	_ = json.Unmarshal([]byte(f.body("POST "+prjApps)), &sent)
	if sent.Spec.DryRun {
		t.Fatalf("the install was a dry run")
	}
	// No version chosen: the newest.
	f.reset()
	do(s, "POST", "/console/business/apps", installForm("install", "version", ""), true)
	sent = applicationv1.App{}
	_ = json.Unmarshal([]byte(f.body("POST "+prjApps)), &sent)
	if !f.sent("GET "+regAPI+"/chartgroups/team-a/charts/nginx") || sent.Spec.Chart.ChartVersion != "1.2.0" {
		t.Fatalf("the newest version: %v %+v", f.reqs, sent.Spec.Chart)
	}

	// Refusals: the API's words under the form, the field pointed at, and
	// for htmx nothing else (the browser keeps what was typed).
	for _, c := range []struct{ refusal, field, words string }{
		{"422 the values do not fit the values.schema.json of chart team-a/nginx 1.2.0:\n- replicaCount: Invalid type. Expected: integer, given: string", "values", "Expected: integer, given: string"},
		{"409 application web2 already exists in project prj-aaaaaaaa: upgrade it (kstack app upgrade web2), or choose another name", "name", "already exists"},
		{"409 application web2 is busy: upgrade by alice, running since 2025-03-03T09:00:00Z; wait for it to finish", "", "is busy: upgrade by alice"},
		{"403 namespace web of cluster cls-a is not a namespace of project prj-aaaaaaaa: install into one of the project's namespaces", "target", "is not a namespace of project"},
	} {
		f.refuse["POST "+prjApps] = c.refusal
		w = do(s, "POST", "/console/business/apps", installForm("install"), true)
		body = w.Body.String()
		if w.Code != 200 || strings.Contains(body, "<html") || strings.Contains(body, `id="app-form"`) {
			t.Fatalf("%s: %d %s", c.words, w.Code, body)
		}
		mustContain(t, c.words, body, `<div class="error" role="alert" id="app-error">`, c.words)
		if c.field != "" {
			mustContain(t, c.words, body, `id="app-err-`+c.field+`" hx-swap-oob="true" role="alert">the platform refused this`)
		}
		mustNotContain(t, c.words, body, typedSecret)
		// Without htmx the form comes back filled in, without the secret.
		w = do(s, "POST", "/console/business/apps", installForm("install"), false)
		body = w.Body.String()
		mustContain(t, c.words+" (no htmx)", body, `id="app-form"`, `id="app-error"`, c.words, `value="web2"`, "replicaCount: 3", `id="app-secret-again"`)
		mustNotContain(t, c.words+" (no htmx)", body, typedSecret)
	}
	delete(f.refuse, "POST "+prjApps)

	// Wrong fields are not sent.
	f.reset()
	w = do(s, "POST", "/console/business/apps", installForm("install", "name", "Web_2", "target", "", "chart", "nope", "timeout", "forever"), true)
	body = w.Body.String()
	mustContain(t, "a wrong form", body, "starting with a letter and ending", "choose the project, cluster and namespace", "choose the chart to install", "a duration up to 1h")
	mustNotContain(t, "a wrong form", body, typedSecret)
	if f.sent("POST " + prjApps) {
		t.Fatalf("a wrong form was sent: %v", f.reqs)
	}
}

func TestAppPage(t *testing.T) {
	s, f := helmServer(t)
	base := "/console/business/projects/prj-aaaaaaaa/apps/web"
	w := do(s, "GET", base, nil, false)
	body := w.Body.String()
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, body)
	}
	mustContain(t, "the resources tab", body, "Application web", `id="app-details"`, `href="/console/business/cls-a/web"`, "team-a/nginx", `id="app-revision">2`,
		`id="app-phase">Succeeded`, "release deployed", "upgrade by alice, started 2025-03-02 10:00:00 UTC, finished 2025-03-02 10:01:00 UTC: Succeeded",
		`id="tab-resources" aria-current="page"`, `id="tab-upgrade"`, `id="app-resources"`, "The objects of revision 2",
		`href="/console/business/cls-a/web/deployments/web-nginx"`, `<span class="status-Ready">Ready</span>`, `<span class="status-NotReady">NotReady</span>`, "no endpoints",
		`<span class="status-Missing">Missing</span>`, "ClusterRole", "you may not read it", `id="confirm-delete-app"`, `action="`+base+`/delete"`)
	mustNotContain(t, "the resources tab", body, leakedSecretValues, `href="/console/business/cls-a/web/configmaps/web-conf"`)

	w = do(s, "GET", base+"?tab=details", nil, false)
	body = w.Body.String()
	mustContain(t, "the details tab", body, `id="app-values">replicaCount: 2`, "Secret values (auth.password) are kept by the platform and never shown", "10m0s", "2025-03-01 12:00:00")
	mustNotContain(t, "the details tab", body, leakedSecretValues)

	// History: the revisions, rollbacks, and the diff of the two newest.
	w = do(s, "GET", base+"?tab=history", nil, false)
	body = w.Body.String()
	if !f.sent("GET " + prjApps + "/web/diff?from=1&to=2") {
		t.Fatalf("the diff was not asked for: %v", f.reqs)
	}
	mustContain(t, "the history tab", body, `id="app-history"`, `id="revision-2"`, "2 <span class=\"muted\">(current)</span>", "superseded", "Install complete",
		`id="confirm-rollback-1"`, `name="revision" value="1"`, `id="diff-form"`, `<option value="1" selected>revision 1</option>`, `<option value="2" selected>revision 2</option>`,
		`id="app-diff"`, `<span class="diff-del">-replicaCount: 1</span>`, `<span class="diff-add">&#43;replicaCount: 2</span>`, `<span class="diff-hunk">@@ -1,3 &#43;1,3 @@</span>`)
	mustNotContain(t, "the history tab", body, `id="confirm-rollback-2"`, leakedSecretValues)
	// Two revisions chosen; a revision the release does not have.
	w = do(s, "GET", base+"?tab=history&from=2&to=1", nil, false)
	if !f.sent("GET " + prjApps + "/web/diff?from=2&to=1") {
		t.Fatalf("the chosen diff: %v", f.reqs)
	}
	f.refuse["GET "+prjApps+"/web/diff?from=1&to=9"] = "404 release web has no revision 9 (it has revisions 1, 2)"
	w = do(s, "GET", base+"?tab=history&from=1&to=9", nil, false)
	mustContain(t, "a missing revision", w.Body.String(), `id="diff-error"`, "has no revision 9")

	// Upgrade: the form filled in with the current version and values.
	w = do(s, "GET", base+"?tab=upgrade", nil, false)
	body = w.Body.String()
	mustContain(t, "the upgrade tab", body, `id="upgrade-form"`, `hx-post="`+base+`/upgrade"`, `<option value="1.2.0" selected>1.2.0 (app 1.25) · newest</option>`,
		`<option value="1.1.0">`, `id="upgrade-values" rows="12" spellcheck="false" >replicaCount: 2`, `id="upgrade-wait" checked`, `value="10m0s"`,
		"keep those the platform keeps (auth.password)")
	mustNotContain(t, "the upgrade tab", body, leakedSecretValues)

	if w := do(s, "GET", "/console/business/projects/prj-aaaaaaaa/apps/nope", nil, false); w.Code != http.StatusNotFound {
		t.Fatalf("a missing app: %d", w.Code)
	}
	if w := do(s, "GET", "/console/business/projects/prj-aaaaaaaa/apps/Bad_Name", nil, false); w.Code != http.StatusNotFound {
		t.Fatalf("an invalid name: %d", w.Code)
	}
}

func TestAppOperations(t *testing.T) {
	s, f := helmServer(t)
	base := "/console/platform/projects/prj-aaaaaaaa/apps/web"
	// Upgrade: a PUT of the version and values.
	w := do(s, "POST", base+"/upgrade", map[string][]string{"version": {"1.1.0"}, "values": {"replicaCount: 4\n"}, "secretValues": {"auth:\n  password: " + typedSecret + "\n"},
		"timeout": {"2m"}}, true)
	if w.Header().Get("HX-Redirect") != base+"?tab=history&notice=Application+web%3A+upgraded+to+revision+3%3A+nginx+1.1.0" {
		t.Fatalf("an upgrade: %d %v %s", w.Code, w.Header(), w.Body.String())
	}
	var sent applicationv1.App
	if err := json.Unmarshal([]byte(f.body("PUT "+prjApps+"/web")), &sent); err != nil {
		t.Fatal(err)
	}
	if sent.Name != "web" || sent.Spec.Chart != (applicationv1.Chart{ChartGroupName: "team-a", ChartName: "nginx", ChartVersion: "1.1.0"}) ||
		sent.Spec.Values.RawValues != "replicaCount: 4\n" || !strings.Contains(sent.Spec.Values.SecretValues, typedSecret) || sent.Spec.Wait ||
		sent.Spec.Timeout == nil || sent.Spec.Timeout.Duration.String() != "2m0s" || sent.Spec.DryRun {
		t.Fatalf("the upgrade sent %+v", sent)
	}
	// Empty secret values are not sent (the stored ones stay).
	do(s, "POST", base+"/upgrade", map[string][]string{"version": {"1.2.0"}, "values": {""}, "secretValues": {"  \n"}}, true)
	sent = applicationv1.App{}
	_ = json.Unmarshal([]byte(f.body("PUT "+prjApps+"/web")), &sent)
	if v := sent.Spec.Values; v.RawValues != "" || v.RawValuesType != "" || v.SecretValues != "" {
		t.Fatalf("an upgrade without values sent %+v", sent.Spec.Values)
	}
	// A busy application or a schema refusal: the words under the form.
	f.refuse["PUT "+prjApps+"/web"] = "409 application web is busy: rollback by bob, running since 2025-03-03T09:00:00Z; wait for it to finish"
	w = do(s, "POST", base+"/upgrade", map[string][]string{"version": {"1.1.0"}, "values": {"replicaCount: 4\n"}, "secretValues": {typedSecret}}, true)
	body := w.Body.String()
	if w.Code != 200 || strings.Contains(body, "<html") || strings.Contains(body, `id="upgrade-form"`) {
		t.Fatalf("a busy upgrade: %d %s", w.Code, body)
	}
	mustContain(t, "a busy upgrade", body, `id="upgrade-error"`, "is busy: rollback by bob", `id="up-err-version" hx-swap-oob="true"`)
	mustNotContain(t, "a busy upgrade", body, typedSecret)
	f.refuse["PUT "+prjApps+"/web"] = "422 the values do not fit the values.schema.json of chart team-a/nginx 1.1.0:\n- replicaCount: Invalid type"
	w = do(s, "POST", base+"/upgrade", map[string][]string{"version": {"1.1.0"}, "values": {"replicaCount: four\n"}, "secretValues": {typedSecret}}, false)
	body = w.Body.String()
	mustContain(t, "a refused upgrade without htmx", body, "<html", `id="tab-upgrade" aria-current="page"`, `id="upgrade-error"`, "replicaCount: Invalid type",
		"replicaCount: four", `<option value="1.1.0" selected>`, `id="up-err-values" role="alert">the platform refused this`, `id="upgrade-secret-again"`)
	mustNotContain(t, "a refused upgrade without htmx", body, typedSecret, leakedSecretValues)
	f.reset()
	w = do(s, "POST", base+"/upgrade", map[string][]string{"version": {""}, "timeout": {"2h"}}, true)
	mustContain(t, "a wrong upgrade", w.Body.String(), "choose the chart version", "a duration up to 1h")
	if f.sent("PUT " + prjApps + "/web") {
		t.Fatalf("a wrong upgrade was sent")
	}

	// Rollback.
	w = do(s, "POST", base+"/rollback", map[string][]string{"revision": {"1"}}, true)
	if f.body("POST "+prjApps+"/web/rollback") != `{"revision":1}` ||
		w.Header().Get("HX-Redirect") != base+"?tab=history&notice=Application+web%3A+rolled+back+to+revision+1+%28now+revision+3%29" {
		t.Fatalf("a rollback: %q %v", f.body("POST "+prjApps+"/web/rollback"), w.Header())
	}
	f.refuse["POST "+prjApps+"/web/rollback"] = "404 release web has no revision 7 to roll back to (it has revisions 1, 2)"
	w = do(s, "POST", base+"/rollback", map[string][]string{"revision": {"7"}}, true)
	if w.Header().Get("HX-Retarget") != "#alert" || !strings.Contains(w.Body.String(), "has no revision 7") {
		t.Fatalf("a refused rollback: %v %s", w.Header(), w.Body.String())
	}

	// Uninstall, after typing the name.
	f.reset()
	do(s, "POST", base+"/delete", map[string][]string{"confirm": {"we"}}, true)
	if len(f.reqs) != 0 {
		t.Fatalf("an unconfirmed uninstall sent %v", f.reqs)
	}
	w = do(s, "POST", base+"/delete", map[string][]string{"confirm": {"web"}}, true)
	if !f.sent("DELETE "+prjApps+"/web") || w.Header().Get("HX-Redirect") != "/console/platform/apps?notice=Application+web+uninstalled&project=prj-aaaaaaaa" {
		t.Fatalf("an uninstall: %v %v", f.reqs, w.Header())
	}
	f.refuse["DELETE "+prjApps+"/web"] = "409 application web is busy: upgrade by alice"
	w = do(s, "POST", base+"/delete", map[string][]string{"confirm": {"web"}}, true)
	if w.Header().Get("HX-Retarget") != "#alert" || !strings.Contains(w.Body.String(), "is busy: upgrade by alice") {
		t.Fatalf("a refused uninstall: %v %s", w.Header(), w.Body.String())
	}
	if w := do(s, "POST", base+"/explode", map[string][]string{}, false); w.Code != http.StatusNotFound {
		t.Fatalf("an unknown operation: %d", w.Code)
	}
}

func TestMaskSecrets(t *testing.T) {
	m := "a: hunter22\nb: " + base64.StdEncoding.EncodeToString([]byte("hunter22")) + "\nc: abc\nport: 5432\n"
	got := maskSecrets(m, "pw: hunter22\nshort: abc\nport: 5432\nlist: [x]\n")
	if strings.Contains(got, "hunter22") || strings.Contains(got, base64.StdEncoding.EncodeToString([]byte("hunter22"))) || !strings.Contains(got, "c: abc") ||
		strings.Contains(got, "5432") {
		t.Fatalf("masked: %q", got)
	}
	if maskSecrets(m, "") != m || maskSecrets(m, ": not yaml [") != m {
		t.Fatal("nothing to mask changed the manifest")
	}
}
