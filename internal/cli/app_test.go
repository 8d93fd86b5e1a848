package cli

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// servedApp is an App as the platform serves it. The secret values are
// served back here (the platform never does) to check that nothing prints
// them.
func servedApp(name, project, cluster string) map[string]any {
	return map[string]any{"apiVersion": "application.tkestack.io/v1", "kind": "App",
		"metadata": map[string]any{"name": name, "namespace": project, "resourceVersion": "11"},
		"spec": map[string]any{"tenantID": "default", "type": "HelmV3", "targetCluster": cluster, "targetNamespace": "web",
			"chart": map[string]any{"chartGroupName": "team-a", "chartName": "nginx", "chartVersion": "1.2.0"},
			"values": map[string]any{"rawValues": "replicaCount: 2\nimage:\n  tag: \"1.25\"\n", "rawValuesType": "yaml",
				"secretValues": "auth: {password: leaked-secret}", "secretName": name + "-values", "secretKeys": []any{"auth.password"}},
			"projectName": project},
		"status": map[string]any{"phase": "Succeeded", "releaseStatus": "deployed", "revision": 2, "message": "upgraded to revision 2: nginx 1.2.0"},
	}
}

// answered is what an operation answers: the App sent, with status.
func answered(body map[string]any, status map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range body {
		out[k] = v
	}
	out["status"] = status
	return out
}

// valuesOf decodes the spec.values.rawValues of a body.
func valuesOf(t *testing.T, body map[string]any) map[string]any {
	t.Helper()
	raw, _ := field(body, "spec", "values", "rawValues").(string)
	m := map[string]any{}
	if err := yaml.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatalf("rawValues %q: %v", raw, err)
	}
	return m
}

func TestAppInstall(t *testing.T) {
	f := newRoutedFake(t)
	for _, prj := range []string{"prj-1", "prj-2"} {
		f.route(http.MethodPost, appsPath(prj), func(req fakeRequest) (int, any) {
			if field(req.Body, "spec", "dryRun") == true {
				return 200, answered(req.Body, map[string]any{"phase": "Succeeded", "message": "dry run: nothing was installed",
					"manifest": "---\n# Source: nginx/templates/deployment.yaml\napiVersion: apps/v1\nkind: Deployment\n"})
			}
			return 201, answered(req.Body, map[string]any{"phase": "Succeeded", "releaseStatus": "deployed", "revision": 1})
		})
	}
	f.put(businessPath+"/portal", map[string]any{"kind": "Portal", "projects": []any{
		map[string]any{"name": "prj-2", "namespaces": []any{"cls-a/api", "cls-a/web"}}}})
	f.put(businessPath+"/namespaces", map[string]any{"kind": "NamespaceList", "items": []any{
		map[string]any{"metadata": map[string]any{"name": "cls-b-db", "namespace": "prj-1"}, "spec": map[string]any{"projectName": "prj-1", "clusterName": "cls-b", "namespace": "db"}}}})
	f.put(chartGroupsPath+"/team-a/charts/nginx", map[string]any{"kind": "ChartVersionList", "items": []any{
		map[string]any{"version": "1.3.0"}, map[string]any{"version": "1.2.0"}}})

	valuesFile := writeFile(t, "values.yaml", "# replicas\nreplicaCount: 2\n")
	jsonFile := writeFile(t, "values.json", `{"replicaCount": 3}`)
	base := writeFile(t, "base.yaml", "replicaCount: 1\nimage:\n  repository: nginx\n  tag: \"1\"\n")
	over := writeFile(t, "over.yaml", "image:\n  tag: \"2\"\n")
	secrets := writeFile(t, "secrets.yaml", "auth:\n  password: hunter2\n")
	target := []string{"--chart", "team-a/nginx", "--cluster", "cls-a", "--namespace", "web"}
	with := func(args ...string) []string {
		return append(append([]string{"app", "install", "web"}, target...), args...)
	}
	install := appsPath("prj-1")

	cases := []struct {
		name  string
		stdin string
		args  []string
		reqs  []string
		out   string
		err   string // stderr holds it
		check func(t *testing.T, body map[string]any)
	}{
		{name: "one values file, sent as written", args: with("--version", "1.2.0", "--project", "prj-1", "-f", valuesFile),
			reqs: []string{"POST " + install}, out: "app web installed (revision 1, deployed)\n",
			check: func(t *testing.T, body map[string]any) {
				if body["kind"] != "App" || body["apiVersion"] != "application.tkestack.io/v1" || field(body, "metadata", "name") != "web" || field(body, "metadata", "namespace") != "prj-1" {
					t.Errorf("sent %v", body)
				}
				want := map[string]any{"type": "HelmV3", "targetCluster": "cls-a", "targetNamespace": "web",
					"chart":  map[string]any{"chartGroupName": "team-a", "chartName": "nginx", "chartVersion": "1.2.0"},
					"values": map[string]any{"rawValues": "# replicas\nreplicaCount: 2\n", "rawValuesType": "yaml"}}
				if !jsonEqual(body["spec"], want) {
					t.Errorf("spec sent %v, want %v", body["spec"], want)
				}
			}},
		{name: "a JSON values file", args: with("--version", "1.2.0", "-p", "prj-1", "--values", jsonFile), reqs: []string{"POST " + install},
			out: "app web installed (revision 1, deployed)\n",
			check: func(t *testing.T, body map[string]any) {
				if v := field(body, "spec", "values"); !jsonEqual(v, map[string]any{"rawValues": `{"replicaCount": 3}`, "rawValuesType": "json"}) {
					t.Errorf("values sent %v", v)
				}
			}},
		{name: "files merged, then --set over them", args: with("--version", "1.2.0", "--project", "prj-1", "-f", base, "-f", over,
			"--set", "replicaCount=3", "--set", "service.type=NodePort,ingress.enabled=true", "--set", "hosts={a.example,b.example}"),
			reqs: []string{"POST " + install}, out: "app web installed (revision 1, deployed)\n",
			check: func(t *testing.T, body map[string]any) {
				want := map[string]any{"replicaCount": 3, "image": map[string]any{"repository": "nginx", "tag": "2"},
					"service": map[string]any{"type": "NodePort"}, "ingress": map[string]any{"enabled": true}, "hosts": []any{"a.example", "b.example"}}
				if got := valuesOf(t, body); !jsonEqual(got, want) {
					t.Errorf("values sent %v, want %v", got, want)
				}
				if field(body, "spec", "values", "rawValuesType") != "yaml" {
					t.Errorf("values sent %v", field(body, "spec", "values"))
				}
			}},
		{name: "values from stdin", stdin: "replicaCount: 4\n", args: with("--version", "1.2.0", "--project", "prj-1", "-f", "-"),
			reqs: []string{"POST " + install}, out: "app web installed (revision 1, deployed)\n",
			check: func(t *testing.T, body map[string]any) {
				if v := field(body, "spec", "values", "rawValues"); v != "replicaCount: 4\n" {
					t.Errorf("values sent %v", v)
				}
			}},
		{name: "secret values, wait, timeout, release name", args: with("--version", "1.2.0", "--project", "prj-1", "--secret-values", secrets,
			"--wait", "--timeout", "10m", "--release", "web-rel"),
			reqs: []string{"POST " + install}, out: "app web installed (revision 1, deployed)\n",
			check: func(t *testing.T, body map[string]any) {
				s := body["spec"].(map[string]any)
				if field(s, "values", "secretValues") != "auth:\n  password: hunter2\n" || field(s, "values", "rawValues") != nil ||
					s["wait"] != true || s["timeout"] != "10m0s" || s["name"] != "web-rel" {
					t.Errorf("spec sent %v", s)
				}
			}},
		{name: "the project of a namespace one is a member of", args: with("--version", "1.2.0"),
			reqs: []string{"GET " + businessPath + "/portal", "POST " + appsPath("prj-2")}, out: "app web installed (revision 1, deployed)\n",
			check: func(t *testing.T, body map[string]any) {
				if field(body, "metadata", "namespace") != "prj-2" {
					t.Errorf("sent %v", body["metadata"])
				}
			}},
		{name: "the project of a namespace an administrator may list",
			args: []string{"app", "install", "db", "--chart", "team-a/nginx", "--version", "1.2.0", "--cluster", "cls-b", "-n", "db"},
			reqs: []string{"GET " + businessPath + "/portal", "GET " + businessPath + "/namespaces?labelSelector=kstack.io%2Fcluster%3Dcls-b%2Ckstack.io%2Fnamespace%3Ddb", "POST " + install},
			out:  "app db installed (revision 1, deployed)\n",
			check: func(t *testing.T, body map[string]any) {
				if field(body, "spec", "targetCluster") != "cls-b" || field(body, "spec", "targetNamespace") != "db" || field(body, "metadata", "namespace") != "prj-1" {
					t.Errorf("sent %v", body)
				}
			}},
		{name: "the newest version", args: with("--project", "prj-1"),
			reqs: []string{"GET " + chartGroupsPath + "/team-a/charts/nginx", "POST " + install}, out: "app web installed (revision 1, deployed)\n",
			err: "Installing chart team-a/nginx 1.3.0 (the newest version)\n",
			check: func(t *testing.T, body map[string]any) {
				if v := field(body, "spec", "chart", "chartVersion"); v != "1.3.0" {
					t.Errorf("chart version sent %v", v)
				}
			}},
		{name: "a dry run prints the manifest", args: with("--version", "1.2.0", "--project", "prj-1", "--dry-run"),
			reqs: []string{"POST " + install}, out: "---\n# Source: nginx/templates/deployment.yaml\napiVersion: apps/v1\nkind: Deployment\n",
			check: func(t *testing.T, body map[string]any) {
				if field(body, "spec", "dryRun") != true {
					t.Errorf("spec sent %v", body["spec"])
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f.reset()
			r := f.kstack(c.stdin, c.args...)
			if r.Error != nil {
				t.Fatalf("kstack %v: %v", c.args, r.Error)
			}
			reqs := f.all()
			wantRequests(t, reqs, c.reqs...)
			if r.Out != c.out {
				t.Errorf("printed %q, want %q", r.Out, c.out)
			}
			if r.Err != c.err {
				t.Errorf("stderr %q, want %q", r.Err, c.err)
			}
			c.check(t, reqs[len(reqs)-1].Body)
		})
	}

	// -o: the App the platform answered, without the secret values sent.
	for _, out := range []string{"json", "yaml"} {
		r := f.must(with("--version", "1.2.0", "--project", "prj-1", "--secret-values", secrets, "-o", out)...)
		var a map[string]any
		if err := yaml.Unmarshal([]byte(r.Out), &a); err != nil || a["kind"] != "App" || field(a, "status", "revision") != float64(1) ||
			field(a, "spec", "values", "secretValues") != nil || strings.Contains(r.Out, "hunter2") {
			t.Errorf("install -o %s printed (%v):\n%s", out, err, r.Out)
		}
	}
	if r := f.must(with("--version", "1.2.0", "--project", "prj-1", "-o", "name")...); r.Out != "web\n" {
		t.Errorf("install -o name printed %q", r.Out)
	}
	r := f.must(with("--version", "1.2.0", "--project", "prj-1", "--dry-run", "-o", "yaml")...)
	if !strings.Contains(r.Out, "manifest: |") || !strings.Contains(r.Out, "dryRun: true") {
		t.Errorf("install --dry-run -o yaml printed:\n%s", r.Out)
	}

	// What the platform says.
	f.route(http.MethodPost, appsPath("prj-3"), func(fakeRequest) (int, any) {
		return refusal(http.StatusUnprocessableEntity, "the values do not fit the values.schema.json of chart team-a/nginx 1.2.0:\nreplicaCount: Invalid type")
	})
	if r := f.kstack("", with("--version", "1.2.0", "--project", "prj-3")...); r.Error == nil || !strings.Contains(r.Error.Error(), "values.schema.json") || r.Out != "" {
		t.Errorf("a refused install: %v, printed %q", r.Error, r.Out)
	}
	f.route(http.MethodPost, appsPath("prj-4"), func(req fakeRequest) (int, any) {
		return 201, answered(req.Body, map[string]any{"phase": "Installing"})
	})
	if r := f.must(with("--version", "1.2.0", "--project", "prj-4")...); r.Out != "app web: install under way (phase Installing); see 'kstack app get web --project prj-4'\n" {
		t.Errorf("an install under way printed %q", r.Out)
	}
	f.route(http.MethodPost, appsPath("prj-5"), func(req fakeRequest) (int, any) {
		return 201, answered(req.Body, map[string]any{"phase": "Failed", "message": "timed out waiting for the condition"})
	})
	if r := f.kstack("", with("--version", "1.2.0", "--project", "prj-5")...); r.Error == nil || r.Error.Error() != "app web: install failed: timed out waiting for the condition" {
		t.Errorf("a failed install: %v", r.Error)
	}
	// No project owns the namespace: --project is asked for; nothing is installed.
	f.reset()
	r = f.kstack("", "app", "install", "web", "--chart", "team-a/nginx", "--version", "1.2.0", "--cluster", "cls-z", "--namespace", "web")
	if r.Error == nil || !strings.Contains(r.Error.Error(), "--project is required: namespace web of cluster cls-z is in no project you are a member of") {
		t.Errorf("an install into a namespace of no project: %v", r.Error)
	}
	if w := f.writes(); len(w) > 0 {
		t.Errorf("an install into a namespace of no project sent %v", w)
	}

	list := writeFile(t, "list.yaml", "- a\n- b\n")
	empty := writeFile(t, "empty.yaml", "\n")
	checkBadInputs(t, f.fakePlatform, []badInput{
		{name: "no flags", args: []string{"app", "install", "web"}, msg: "--chart is required: the chart to install: GROUP/CHART (see 'kstack chart list'); --cluster is required: the member cluster to install into"},
		{name: "no namespace", args: []string{"app", "install", "web", "--chart", "team-a/nginx", "--cluster", "cls-a"}, msg: "-n/--namespace is required: the namespace to install into"},
		{name: "no name", args: append([]string{"app", "install"}, target...), msg: "accepts 1 arg(s), received 0"},
		{name: "chart without its group", args: []string{"app", "install", "web", "--chart", "nginx", "--cluster", "cls-a", "-n", "web"}, msg: `--chart "nginx" is not GROUP/CHART`},
		{name: "chart with its version", args: []string{"app", "install", "web", "--chart", "team-a/nginx:1.2.0", "--cluster", "cls-a", "-n", "web"}, msg: "its version with --version"},
		{name: "chart as an OCI reference", args: []string{"app", "install", "web", "--chart", "oci://reg:8443/team-a/nginx", "--cluster", "cls-a", "-n", "web"}, msg: "without oci://"},
		{name: "--set without a value", args: with("--set", "replicaCount"), msg: `--set "replicaCount": key "replicaCount" has no value (want KEY=VALUE, e.g. image.tag=1.2.3)`},
		{name: "--set with a bad list", args: with("--set", "a={b"), msg: `--set "a={b"`},
		{name: "timeout too long", args: with("--timeout", "2h"), msg: "--timeout 2h0m0s: give a duration up to 1h0m0s"},
		{name: "timeout zero", args: with("--timeout", "0s"), msg: "--timeout 0s: give a duration up to 1h0m0s"},
		{name: "bad timeout", args: with("--timeout", "soon"), msg: `invalid argument "soon" for "--timeout" flag`},
		{name: "missing values file", args: with("-f", "/nonexistent/values.yaml"), msg: "--values: open /nonexistent/values.yaml"},
		{name: "values not a map", args: with("-f", list), msg: "not a YAML map of values"},
		{name: "secret values not a map", args: with("--secret-values", list), msg: "--secret-values " + list + ": not a YAML map of values"},
		{name: "empty secret values", args: with("--secret-values", empty), msg: "the file holds no values"},
		{name: "stdin twice", stdin: "a: b\n", args: with("--secret-values", "-", "-f", "-"), msg: "--values -: stdin is already read for another flag; give a file"},
	})
}

func TestAppListAndGet(t *testing.T) {
	f := newRoutedFake(t)
	web, api, db1, db2 := servedApp("web", "prj-1", "cls-a"), servedApp("api", "prj-2", "cls-b"), servedApp("db", "prj-1", "cls-a"), servedApp("db", "prj-2", "cls-b")
	api["status"] = map[string]any{"phase": "Failed", "releaseStatus": "failed", "revision": 3, "message": "upgrading api: timed out"}
	f.put(appPath("prj-1", "web"), web)
	f.put(appPath("prj-1", "db"), db1)
	f.put(appPath("prj-2", "api"), api)
	f.put(appPath("prj-2", "db"), db2)
	f.put(applicationPath+"/apps", map[string]any{"kind": "AppList", "items": []any{web, db1, api, db2}})

	r := f.must("app", "list")
	lines := strings.Split(strings.TrimRight(r.Out, "\n"), "\n")
	if len(lines) != 5 || !regexp.MustCompile(`^NAME\s+PROJECT\s+CLUSTER\s+NAMESPACE\s+CHART\s+VERSION\s+REVISION\s+PHASE\s+RELEASE STATUS$`).MatchString(lines[0]) ||
		!regexp.MustCompile(`^web\s+prj-1\s+cls-a\s+web\s+team-a/nginx\s+1\.2\.0\s+2\s+Succeeded\s+deployed$`).MatchString(lines[1]) ||
		!regexp.MustCompile(`^api\s+prj-2\s+cls-b\s+web\s+team-a/nginx\s+1\.2\.0\s+3\s+Failed\s+failed$`).MatchString(lines[3]) {
		t.Errorf("list printed:\n%s", r.Out)
	}
	wantRequests(t, f.all(), "GET "+applicationPath+"/apps")
	f.reset()
	if r := f.must("apps", "ls", "--project", "prj-2", "-o", "name"); r.Out != "api\ndb\n" {
		t.Errorf("list --project -o name printed %q", r.Out)
	}
	wantRequests(t, f.all(), "GET "+appsPath("prj-2"))
	if r := f.must("app", "list", "--cluster", "cls-b", "-o", "name"); r.Out != "api\ndb\n" {
		t.Errorf("list --cluster printed %q", r.Out)
	}
	for _, out := range []string{"json", "yaml"} {
		r := f.must("app", "list", "-p", "prj-1", "-o", out)
		var l struct{ Items []map[string]any }
		if err := yaml.Unmarshal([]byte(r.Out), &l); err != nil || len(l.Items) != 2 || strings.Contains(r.Out, "leaked-secret") ||
			field(l.Items[0], "spec", "values", "secretName") == nil {
			t.Errorf("list -o %s printed (%v):\n%s", out, err, r.Out)
		}
	}

	// get: the project found among the apps one may see.
	f.reset()
	r = f.must("app", "get", "web")
	if !regexp.MustCompile(`^NAME\s+PROJECT.*\nweb\s+prj-1\s+cls-a\s+web\s+team-a/nginx\s+1\.2\.0\s+2\s+Succeeded\s+deployed\n\nMessage: upgraded to revision 2: nginx 1\.2\.0\n$`).MatchString(r.Out) {
		t.Errorf("get printed:\n%s", r.Out)
	}
	wantRequests(t, f.all(), "GET "+applicationPath+"/apps", "GET "+appPath("prj-1", "web"))
	f.reset()
	r = f.must("app", "get", "db", "--project", "prj-2", "-o", "yaml")
	var a map[string]any
	if err := yaml.Unmarshal([]byte(r.Out), &a); err != nil || field(a, "metadata", "namespace") != "prj-2" || field(a, "spec", "targetCluster") != "cls-b" ||
		strings.Contains(r.Out, "leaked-secret") || !strings.Contains(r.Out, "- auth.password") {
		t.Errorf("get -o yaml printed (%v):\n%s", err, r.Out)
	}
	wantRequests(t, f.all(), "GET "+appPath("prj-2", "db"))
	if r := f.must("app", "get", "api", "-o", "json"); !strings.Contains(r.Out, `"message": "upgrading api: timed out"`) || strings.Contains(r.Out, "leaked-secret") || strings.Contains(r.Out, "\nMessage:") {
		t.Errorf("get -o json printed:\n%s", r.Out)
	}

	// Finding the project: clear errors.
	if r := f.kstack("", "app", "get", "db"); r.Error == nil || r.Error.Error() != "apps named db are in several projects (prj-1, prj-2): give --project" {
		t.Errorf("get of an ambiguous name: %v", r.Error)
	}
	if r := f.kstack("", "app", "get", "nope"); r.Error == nil || !strings.Contains(r.Error.Error(), "no app nope among the apps you may see (see 'kstack app list')") {
		t.Errorf("get of a missing app: %v", r.Error)
	}
	if r := f.kstack("", "app", "get", "nope", "--project", "prj-1"); r.Error == nil || !strings.Contains(r.Error.Error(), "not found") {
		t.Errorf("get of a missing app of a project: %v", r.Error)
	}
	f.route(http.MethodGet, applicationPath+"/apps", func(fakeRequest) (int, any) {
		return refusal(http.StatusForbidden, "alice may not list apps")
	})
	if r := f.kstack("", "app", "get", "web"); r.Error == nil || r.Error.Error() != "give --project (the app's project; listing apps to find it: alice may not list apps)" {
		t.Errorf("get when apps may not be listed: %v", r.Error)
	}

	checkBadInputs(t, f.fakePlatform, []badInput{
		{name: "get without a name", args: []string{"app", "get"}, msg: "accepts 1 arg(s), received 0"},
		{name: "list with an argument", args: []string{"app", "list", "web"}, msg: `unknown command "web"`},
	})
}

func TestAppUpgrade(t *testing.T) {
	f := newRoutedFake(t)
	f.put(applicationPath+"/apps", map[string]any{"kind": "AppList", "items": []any{servedApp("web", "prj-1", "cls-a")}})
	path := appPath("prj-1", "web")
	f.put(path, servedApp("web", "prj-1", "cls-a"))
	f.route(http.MethodPut, path, func(req fakeRequest) (int, any) {
		return 200, answered(req.Body, map[string]any{"phase": "Succeeded", "releaseStatus": "deployed", "revision": 3})
	})
	valuesFile := writeFile(t, "values.yaml", "# new\nreplicaCount: 9\n")
	secrets := writeFile(t, "secrets.yaml", "auth:\n  password: hunter3\n")
	served := "replicaCount: 2\nimage:\n  tag: \"1.25\"\n"

	cases := []struct {
		name  string
		args  []string
		reqs  []string
		check func(t *testing.T, spec map[string]any)
	}{
		{name: "another version, the values kept", args: []string{"web", "--version", "1.3.0"},
			reqs: []string{"GET " + applicationPath + "/apps", "GET " + path, "PUT " + path},
			check: func(t *testing.T, spec map[string]any) {
				if !jsonEqual(spec["chart"], map[string]any{"chartGroupName": "team-a", "chartName": "nginx", "chartVersion": "1.3.0"}) ||
					field(spec, "values", "rawValues") != served || field(spec, "values", "secretValues") != nil ||
					spec["targetCluster"] != "cls-a" || spec["targetNamespace"] != "web" {
					t.Errorf("spec sent %v", spec)
				}
			}},
		{name: "--set replaces the values", args: []string{"web", "--project", "prj-1", "--set", "replicaCount=5"},
			reqs: []string{"GET " + path, "PUT " + path},
			check: func(t *testing.T, spec map[string]any) {
				if !jsonEqual(field(spec, "values", "rawValues"), "replicaCount: 5\n") || field(spec, "values", "rawValuesType") != "yaml" ||
					field(spec, "chart", "chartVersion") != "1.2.0" {
					t.Errorf("spec sent %v", spec)
				}
			}},
		{name: "--reuse-values merges over them", args: []string{"web", "-p", "prj-1", "--reuse-values", "--set", "replicaCount=5", "--set", "image.pullPolicy=Always"},
			reqs: []string{"GET " + path, "PUT " + path},
			check: func(t *testing.T, spec map[string]any) {
				want := map[string]any{"replicaCount": 5, "image": map[string]any{"tag": "1.25", "pullPolicy": "Always"}}
				if got := valuesOf(t, map[string]any{"spec": spec}); !jsonEqual(got, want) {
					t.Errorf("values sent %v, want %v", got, want)
				}
			}},
		{name: "a values file, as written", args: []string{"web", "-p", "prj-1", "-f", valuesFile},
			reqs: []string{"GET " + path, "PUT " + path},
			check: func(t *testing.T, spec map[string]any) {
				if field(spec, "values", "rawValues") != "# new\nreplicaCount: 9\n" {
					t.Errorf("spec sent %v", spec)
				}
			}},
		{name: "new secret values, the others kept", args: []string{"web", "-p", "prj-1", "--secret-values", secrets},
			reqs: []string{"GET " + path, "PUT " + path},
			check: func(t *testing.T, spec map[string]any) {
				if field(spec, "values", "secretValues") != "auth:\n  password: hunter3\n" || field(spec, "values", "rawValues") != served {
					t.Errorf("spec sent %v", spec)
				}
			}},
		{name: "wait and timeout", args: []string{"web", "-p", "prj-1", "--wait", "--timeout", "20m"},
			reqs: []string{"GET " + path, "PUT " + path},
			check: func(t *testing.T, spec map[string]any) {
				if spec["wait"] != true || spec["timeout"] != "20m0s" || field(spec, "values", "rawValues") != served {
					t.Errorf("spec sent %v", spec)
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f.reset()
			r := f.kstack("", append([]string{"app", "upgrade"}, c.args...)...)
			if r.Error != nil {
				t.Fatalf("upgrade %v: %v", c.args, r.Error)
			}
			if r.Out != "app web upgraded (revision 3, deployed)\n" {
				t.Errorf("upgrade printed %q", r.Out)
			}
			reqs := f.all()
			wantRequests(t, reqs, c.reqs...)
			body := reqs[len(reqs)-1].Body
			// The object read, replaced whole: its resourceVersion guards it.
			if body["kind"] != "App" || field(body, "metadata", "resourceVersion") != "11" || field(body, "metadata", "name") != "web" || field(body, "spec", "dryRun") != nil {
				t.Errorf("upgrade sent %v", body)
			}
			c.check(t, body["spec"].(map[string]any))
		})
	}
	for _, out := range []string{"json", "yaml"} {
		r := f.must("app", "upgrade", "web", "-p", "prj-1", "--secret-values", secrets, "-o", out)
		var a map[string]any
		if err := yaml.Unmarshal([]byte(r.Out), &a); err != nil || field(a, "status", "revision") != float64(3) || strings.Contains(r.Out, "hunter3") || strings.Contains(r.Out, "leaked-secret") {
			t.Errorf("upgrade -o %s printed (%v):\n%s", out, err, r.Out)
		}
	}
	f.route(http.MethodPut, appPath("prj-2", "api"), func(fakeRequest) (int, any) {
		return refusal(http.StatusUnprocessableEntity, "upgrading api in cls-a/web: timed out waiting for the condition")
	})
	f.put(appPath("prj-2", "api"), servedApp("api", "prj-2", "cls-a"))
	if r := f.kstack("", "app", "upgrade", "api", "-p", "prj-2", "--version", "1.3.0"); r.Error == nil || !strings.Contains(r.Error.Error(), "timed out waiting") || r.Out != "" {
		t.Errorf("a refused upgrade: %v, printed %q", r.Error, r.Out)
	}

	secretsOnly := []string{"app", "upgrade", "web", "-p", "prj-1", "--reuse-values", "--secret-values", secrets}
	checkBadInputs(t, f.fakePlatform, []badInput{
		{name: "nothing to change", args: []string{"app", "upgrade", "web"}, msg: "nothing to change: give --version, --values, --set, --secret-values, --wait or --timeout"},
		{name: "empty version", args: []string{"app", "upgrade", "web", "--version", ""}, msg: "--version: give a chart version"},
		{name: "--reuse-values alone", args: []string{"app", "upgrade", "web", "--reuse-values", "--version", "1.3.0"}, msg: "--reuse-values merges --values and --set into the app's values: give some"},
		{name: "--reuse-values with secret values only", args: secretsOnly, msg: "--reuse-values merges --values and --set"},
		{name: "bad --set", args: []string{"app", "upgrade", "web", "--set", "a.b"}, msg: `--set "a.b": key "b" has no value`},
		{name: "timeout too long", args: []string{"app", "upgrade", "web", "--timeout", "90m"}, msg: "--timeout 1h30m0s: give a duration up to 1h0m0s"},
		{name: "no name", args: []string{"app", "upgrade", "--version", "1.3.0"}, msg: "accepts 1 arg(s), received 0"},
	})
}

func TestAppHistoryDiffRollbackResources(t *testing.T) {
	f := newRoutedFake(t)
	f.put(applicationPath+"/apps", map[string]any{"kind": "AppList", "items": []any{servedApp("web", "prj-1", "cls-a")}})
	path := appPath("prj-1", "web")
	f.put(path+"/histories", map[string]any{"kind": "AppHistory", "items": []any{
		map[string]any{"revision": 3, "status": "deployed", "chart": "nginx", "chartVersion": "1.2.0", "appVersion": "1.25.0", "updated": "2025-03-03T12:00:00Z", "description": "Rollback to 1"},
		map[string]any{"revision": 2, "status": "superseded", "chart": "nginx", "chartVersion": "1.3.0", "updated": "2025-03-02T12:00:00Z", "description": "Upgrade complete"},
	}})
	diff := "--- revision 1\n+++ revision 2\n@@ -1 +1 @@\n-replicaCount: 1\n+replicaCount: 2\n"
	f.put(path+"/diff", map[string]any{"kind": "AppValuesDiff", "from": 1, "to": 2, "fromValues": "replicaCount: 1\n", "toValues": "replicaCount: 2\n", "diff": diff})
	f.put(path+"/resources", map[string]any{"kind": "AppResourceList", "revision": 3, "items": []any{
		map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "web", "name": "web-nginx", "status": "Ready"},
		map[string]any{"apiVersion": "v1", "kind": "Service", "namespace": "web", "name": "web-nginx", "status": "Missing", "message": "not in the cluster"},
		map[string]any{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "name": "web-reader", "status": "Unknown", "message": "you may not read it"},
	}})
	f.route(http.MethodPost, path+"/rollback", func(req fakeRequest) (int, any) {
		to, _ := req.Body["revision"].(float64)
		if to == 0 {
			to = 2
		}
		if to > 3 {
			return refusal(http.StatusNotFound, "release web has no revision 9 to roll back to (it has revisions 1, 2, 3; see kstack app history web)")
		}
		a := servedApp("web", "prj-1", "cls-a")
		a["status"] = map[string]any{"phase": "Succeeded", "releaseStatus": "deployed", "revision": 4, "rollbackRevision": to}
		return 200, a
	})

	// history
	r := f.must("app", "history", "web")
	if !regexp.MustCompile(`^REVISION\s+UPDATED\s+STATUS\s+CHART\s+VERSION\s+APP VERSION\s+DESCRIPTION\n` +
		`3\s+2025-03-03T12:00:00Z\s+deployed\s+nginx\s+1\.2\.0\s+1\.25\.0\s+Rollback to 1\n` +
		`2\s+2025-03-02T12:00:00Z\s+superseded\s+nginx\s+1\.3\.0\s+-\s+Upgrade complete\n$`).MatchString(r.Out) {
		t.Errorf("history printed:\n%s", r.Out)
	}
	wantRequests(t, f.all(), "GET "+applicationPath+"/apps", "GET "+path+"/histories")
	for _, out := range []string{"json", "yaml"} {
		r := f.must("app", "history", "web", "-p", "prj-1", "-o", out)
		var h struct {
			Kind  string
			Items []struct{ Revision int }
		}
		if err := yaml.Unmarshal([]byte(r.Out), &h); err != nil || h.Kind != "AppHistory" || len(h.Items) != 2 || h.Items[0].Revision != 3 {
			t.Errorf("history -o %s printed (%v):\n%s", out, err, r.Out)
		}
	}

	// diff: the revisions given, or the platform's defaults.
	for _, c := range []struct {
		flags []string
		query string
	}{
		{nil, ""},
		{[]string{"--from", "1", "--to", "2"}, "?from=1&to=2"},
		{[]string{"--to", "2"}, "?to=2"},
		{[]string{"--from", "1"}, "?from=1"},
	} {
		f.reset()
		r := f.must(append([]string{"app", "diff", "web", "-p", "prj-1"}, c.flags...)...)
		if r.Out != diff {
			t.Errorf("diff %v printed %q", c.flags, r.Out)
		}
		wantRequests(t, f.all(), "GET "+path+"/diff"+c.query)
	}
	r = f.must("app", "diff", "web", "-o", "yaml")
	if !strings.Contains(r.Out, "fromValues: |\n  replicaCount: 1\n") || !strings.Contains(r.Out, "kind: AppValuesDiff") {
		t.Errorf("diff -o yaml printed:\n%s", r.Out)
	}
	f.put(appPath("prj-1", "same")+"/diff", map[string]any{"from": 2, "to": 3, "fromValues": "a: 1\n", "toValues": "a: 1\n", "diff": ""})
	if r := f.must("app", "diff", "same", "-p", "prj-1"); r.Out != "" || r.Err != "revisions 2 and 3 of app same have the same values\n" {
		t.Errorf("diff of the same values: out %q err %q", r.Out, r.Err)
	}

	// rollback: to the previous revision, or the one given.
	for _, c := range []struct {
		flags []string
		sent  any
		out   string
	}{
		{nil, float64(0), "app web rolled back to revision 2 (revision 4, deployed)\n"},
		{[]string{"--revision", "1"}, float64(1), "app web rolled back to revision 1 (revision 4, deployed)\n"},
	} {
		f.reset()
		r := f.must(append([]string{"app", "rollback", "web"}, c.flags...)...)
		if r.Out != c.out {
			t.Errorf("rollback %v printed %q, want %q", c.flags, r.Out, c.out)
		}
		reqs := f.all()
		wantRequests(t, reqs, "GET "+applicationPath+"/apps", "POST "+path+"/rollback")
		if !jsonEqual(reqs[1].Body, map[string]any{"revision": c.sent}) {
			t.Errorf("rollback %v sent %v", c.flags, reqs[1].Body)
		}
	}
	r = f.must("app", "rollback", "web", "-p", "prj-1", "--revision", "2", "-o", "json")
	var a map[string]any
	if err := json.Unmarshal([]byte(r.Out), &a); err != nil || field(a, "status", "rollbackRevision") != float64(2) || strings.Contains(r.Out, "leaked-secret") {
		t.Errorf("rollback -o json printed (%v):\n%s", err, r.Out)
	}
	if r := f.kstack("", "app", "rollback", "web", "-p", "prj-1", "--revision", "9"); r.Error == nil || !strings.Contains(r.Error.Error(), "has no revision 9") || r.Out != "" {
		t.Errorf("rollback to a missing revision: %v, printed %q", r.Error, r.Out)
	}

	// resources
	f.reset()
	r = f.must("app", "resources", "web", "--project", "prj-1")
	if !regexp.MustCompile(`^KIND\s+NAME\s+NAMESPACE\s+STATUS\s+MESSAGE\n` +
		`Deployment\s+web-nginx\s+web\s+Ready\s+-\n` +
		`Service\s+web-nginx\s+web\s+Missing\s+not in the cluster\n` +
		`ClusterRole\s+web-reader\s+-\s+Unknown\s+you may not read it\n$`).MatchString(r.Out) {
		t.Errorf("resources printed:\n%s", r.Out)
	}
	wantRequests(t, f.all(), "GET "+path+"/resources")
	r = f.must("app", "resources", "web", "-o", "json")
	var l struct {
		Revision int
		Items    []struct{ APIVersion, Kind string }
	}
	if err := json.Unmarshal([]byte(r.Out), &l); err != nil || l.Revision != 3 || len(l.Items) != 3 || l.Items[2].APIVersion != "rbac.authorization.k8s.io/v1" {
		t.Errorf("resources -o json printed (%v):\n%s", err, r.Out)
	}

	checkBadInputs(t, f.fakePlatform, []badInput{
		{name: "diff from revision 0", args: []string{"app", "diff", "web", "--from", "0", "--to", "2"}, msg: "--from 0: revisions are numbered from 1 (see kstack app history web)"},
		{name: "diff to a negative revision", args: []string{"app", "diff", "web", "--to", "-1"}, msg: "--to -1: revisions are numbered from 1"},
		{name: "diff from a word", args: []string{"app", "diff", "web", "--from", "first"}, msg: `invalid argument "first" for "--from" flag`},
		{name: "rollback to revision 0", args: []string{"app", "rollback", "web", "--revision", "0"}, msg: "--revision 0: give a revision from 1 up (see kstack app history web), or leave it out"},
		{name: "rollback to a negative revision", args: []string{"app", "rollback", "web", "--revision", "-2"}, msg: "--revision -2: give a revision from 1 up"},
		{name: "rollback to a word", args: []string{"app", "rollback", "web", "--revision", "last"}, msg: `invalid argument "last" for "--revision" flag`},
		{name: "history -o name", args: []string{"app", "history", "web", "-o", "name"}, msg: `unknown output format "name": use one of table, json, yaml`},
		{name: "diff -o name", args: []string{"app", "diff", "web", "-o", "name"}, msg: `unknown output format "name"`},
		{name: "resources -o name", args: []string{"app", "resources", "web", "-o", "name"}, msg: `unknown output format "name"`},
		{name: "history without a name", args: []string{"app", "history"}, msg: "accepts 1 arg(s), received 0"},
	})
}

func TestAppUninstall(t *testing.T) {
	f := newRoutedFake(t)
	f.put(applicationPath+"/apps", map[string]any{"kind": "AppList", "items": []any{servedApp("web", "prj-1", "cls-a")}})
	path := appPath("prj-1", "web")
	f.route(http.MethodDelete, path, func(fakeRequest) (int, any) {
		a := servedApp("web", "prj-1", "cls-a")
		a["status"] = map[string]any{"phase": "Succeeded", "message": "uninstalled web"}
		return 200, a
	})

	for _, verb := range []string{"uninstall", "delete", "rm"} {
		f.reset()
		if r := f.must("app", verb, "web"); r.Out != "app web uninstalled\n" {
			t.Errorf("app %s printed %q", verb, r.Out)
		}
		wantRequests(t, f.all(), "GET "+applicationPath+"/apps", "DELETE "+path)
	}
	f.reset()
	r := f.must("app", "uninstall", "web", "--project", "prj-1", "-o", "yaml")
	var a map[string]any
	if err := yaml.Unmarshal([]byte(r.Out), &a); err != nil || field(a, "status", "message") != "uninstalled web" || strings.Contains(r.Out, "leaked-secret") {
		t.Errorf("uninstall -o yaml printed (%v):\n%s", err, r.Out)
	}
	wantRequests(t, f.all(), "DELETE "+path)
	if r := f.must("app", "uninstall", "web", "-p", "prj-1", "-o", "name"); r.Out != "web\n" {
		t.Errorf("uninstall -o name printed %q", r.Out)
	}
	// An answer without the App still names it.
	f.route(http.MethodDelete, appPath("prj-2", "api"), func(fakeRequest) (int, any) { return 200, map[string]any{} })
	if r := f.must("app", "uninstall", "api", "-p", "prj-2", "-o", "json"); !strings.Contains(r.Out, `"name": "api"`) || !strings.Contains(r.Out, `"namespace": "prj-2"`) {
		t.Errorf("uninstall -o json of a bare answer printed:\n%s", r.Out)
	}
	f.route(http.MethodDelete, appPath("prj-3", "db"), func(fakeRequest) (int, any) {
		return refusal(http.StatusForbidden, "alice may not delete application db in project prj-3")
	})
	if r := f.kstack("", "app", "uninstall", "db", "-p", "prj-3"); r.Error == nil || r.Error.Error() != "alice may not delete application db in project prj-3" || r.Out != "" {
		t.Errorf("a refused uninstall: %v, printed %q", r.Error, r.Out)
	}
	if r := f.kstack("", "app", "uninstall", "nope"); r.Error == nil || !strings.Contains(r.Error.Error(), "no app nope among the apps you may see") {
		t.Errorf("uninstall of a missing app: %v", r.Error)
	}
	checkBadInputs(t, f.fakePlatform, []badInput{
		{name: "no name", args: []string{"app", "uninstall"}, msg: "accepts 1 arg(s), received 0"},
		{name: "two names", args: []string{"app", "uninstall", "a", "b"}, msg: "accepts 1 arg(s), received 2"},
	})
}
