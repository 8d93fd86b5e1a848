package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"
)

// routedFake is the fake platform with routes of its own: a request whose
// "METHOD PATH" (the path without its query) has a route is answered by it,
// as the platform's actions answer (an uninstall answers the App, a
// refusal a Status); the others go to the fake's generic verbs. Every
// request is recorded.
type routedFake struct {
	*fakePlatform
	mu     sync.Mutex
	routes map[string]func(req fakeRequest) (int, any)
}

func newRoutedFake(t *testing.T) *routedFake {
	f := &fakePlatform{t: t, objects: map[string]map[string]any{}, records: map[string][]map[string]any{},
		actions: map[string]func(map[string]any) (int, any){}}
	rf := &routedFake{fakePlatform: f, routes: map[string]func(fakeRequest) (int, any){}}
	f.srv = httptest.NewServer(http.HandlerFunc(rf.serve))
	t.Cleanup(f.srv.Close)
	return rf
}

// route answers METHOD PATH with fn.
func (rf *routedFake) route(method, path string, fn func(req fakeRequest) (int, any)) {
	rf.mu.Lock()
	defer rf.mu.Unlock()
	rf.routes[method+" "+path] = fn
}

func (rf *routedFake) serve(w http.ResponseWriter, r *http.Request) {
	rf.mu.Lock()
	fn := rf.routes[r.Method+" "+r.URL.Path]
	rf.mu.Unlock()
	if fn == nil {
		rf.fakePlatform.serve(w, r)
		return
	}
	data, _ := io.ReadAll(r.Body)
	var body map[string]any
	if len(data) > 0 {
		if err := json.Unmarshal(data, &body); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"message": "bad JSON: " + err.Error()})
			return
		}
	}
	req := fakeRequest{Method: r.Method, Path: r.URL.RequestURI(), Body: body}
	rf.fakePlatform.mu.Lock()
	rf.fakePlatform.requests = append(rf.fakePlatform.requests, req)
	rf.fakePlatform.mu.Unlock()
	code, v := fn(req)
	writeJSON(w, code, v)
}

// refusal is the platform's Status for a refused request.
func refusal(code int, msg string) (int, any) {
	return code, map[string]any{"kind": "Status", "code": code, "message": msg}
}

// field reads a nested field of a decoded JSON body (nil when absent).
func field(obj map[string]any, path ...string) any {
	var v any = obj
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// wantRequests checks the requests the fake saw, as "METHOD PATH".
func wantRequests(t *testing.T, got []fakeRequest, want ...string) {
	t.Helper()
	var g []string
	for _, r := range got {
		g = append(g, r.String())
	}
	if strings.Join(g, "\n") != strings.Join(want, "\n") {
		t.Fatalf("requests:\n  %s\nwant:\n  %s", strings.Join(g, "\n  "), strings.Join(want, "\n  "))
	}
}

// badInput is a command that must be refused with msg before any request.
type badInput struct {
	name  string
	stdin string
	args  []string
	msg   string
}

func checkBadInputs(t *testing.T, f *fakePlatform, cases []badInput) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f.reset()
			r := f.kstack(c.stdin, c.args...)
			if r.Error == nil || !strings.Contains(r.Error.Error(), c.msg) {
				t.Fatalf("kstack %s: error %v, want one saying %q", strings.Join(c.args, " "), r.Error, c.msg)
			}
			if reqs := f.all(); len(reqs) > 0 {
				t.Errorf("kstack %s sent %v", strings.Join(c.args, " "), reqs)
			}
			if r.Out != "" {
				t.Errorf("kstack %s printed %q", strings.Join(c.args, " "), r.Out)
			}
		})
	}
}

func servedChartGroup(name, vis, typ string) map[string]any {
	g := map[string]any{
		"apiVersion": "registry.tkestack.io/v1", "kind": "ChartGroup",
		"metadata": map[string]any{"name": name, "resourceVersion": "7"},
		"spec":     map[string]any{"tenantID": "default", "visibility": vis, "type": typ, "creator": "alice"},
		"status":   map[string]any{"chartCount": 3},
	}
	if typ == "Imported" {
		g["spec"].(map[string]any)["importedInfo"] = map[string]any{"addr": "https://charts.example.com/stable", "username": "robot", "passwordSecret": "chartgroup-" + name}
		g["status"] = map[string]any{"chartCount": 12, "phase": "Ready", "lastSyncTime": "2025-03-01T12:00:00Z"}
	}
	return g
}

func TestChartGroupCreate(t *testing.T) {
	f := newFakePlatform(t)
	pwFile := writeFile(t, "pw", "s3cret-file\nignored\n")
	cases := []struct {
		name  string
		stdin string
		args  []string
		out   string
		spec  map[string]any // fields of the spec sent
		info  map[string]any // fields of spec.importedInfo sent (nil: none)
	}{
		{name: "user visibility by default", args: []string{"tools", "--user", "alice", "--user", "bob", "--display-name", "Tools", "--description", "our tools"},
			out:  "chart group tools created\n",
			spec: map[string]any{"visibility": "User", "type": "SelfBuilt", "displayName": "Tools", "description": "our tools", "users": []any{"alice", "bob"}}},
		{name: "project", args: []string{"team-a", "--visibility", "Project", "--project", "prj-1", "--project", "prj-2"},
			out:  "chart group team-a created\n",
			spec: map[string]any{"visibility": "Project", "type": "SelfBuilt", "projects": []any{"prj-1", "prj-2"}}},
		{name: "imported, public, every hour", args: []string{"stable", "--visibility", "Public", "--import-url", "https://charts.example.com/stable", "--latest-versions", "3"},
			out:  "chart group stable created\n",
			spec: map[string]any{"visibility": "Public", "type": "Imported"},
			info: map[string]any{"addr": "https://charts.example.com/stable", "latestVersions": float64(3), "syncInterval": nil, "password": nil}},
		{name: "imported with a password from stdin", stdin: "s3cret-stdin\n",
			args: []string{"vendor", "--import-url", "https://charts.vendor.example", "--import-username", "robot", "--import-password-stdin", "--sync-interval", "6h"},
			out:  "chart group vendor created\n",
			spec: map[string]any{"visibility": "User", "type": "Imported"},
			info: map[string]any{"addr": "https://charts.vendor.example", "username": "robot", "password": "s3cret-stdin", "syncInterval": "6h0m0s"}},
		{name: "imported with a password file, synced on demand only",
			args: []string{"vendor2", "--import-url", "http://charts.vendor.example/x", "--import-username", "robot", "--import-password-file", pwFile, "--sync-interval", "0s"},
			out:  "chart group vendor2 created\n",
			info: map[string]any{"password": "s3cret-file", "syncInterval": "0s"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f.reset()
			r := f.kstack(c.stdin, append([]string{"chart", "group", "create"}, c.args...)...)
			if r.Error != nil {
				t.Fatalf("create: %v", r.Error)
			}
			if r.Out != c.out {
				t.Errorf("create printed %q, want %q", r.Out, c.out)
			}
			w := f.writes()
			if len(w) != 1 || w[0].String() != "POST "+chartGroupsPath {
				t.Fatalf("create sent %v", w)
			}
			body := w[0].Body
			if body["kind"] != "ChartGroup" || body["apiVersion"] != "registry.tkestack.io/v1" || field(body, "metadata", "name") != c.args[0] {
				t.Errorf("create sent %v", body)
			}
			for k, want := range c.spec {
				if got := field(body, "spec", k); !jsonEqual(got, want) {
					t.Errorf("spec.%s = %v, want %v", k, got, want)
				}
			}
			info, _ := field(body, "spec", "importedInfo").(map[string]any)
			if (info != nil) != (c.info != nil) {
				t.Fatalf("spec.importedInfo = %v, want %v", info, c.info)
			}
			for k, want := range c.info {
				if got := info[k]; !jsonEqual(got, want) {
					t.Errorf("spec.importedInfo.%s = %v, want %v", k, got, want)
				}
			}
		})
	}

	// -o json|yaml|name print the group; the password sent is never printed
	// (the fake serves back what it was given).
	for _, out := range []string{"json", "yaml", "name"} {
		r := f.kstack("pw-"+out+"-secret\n", "chart", "group", "create", "v-"+out, "--import-url", "https://charts.vendor.example",
			"--import-username", "robot", "--import-password-stdin", "-o", out)
		if r.Error != nil {
			t.Fatalf("create -o %s: %v", out, r.Error)
		}
		if strings.Contains(r.Out, "pw-"+out+"-secret") {
			t.Errorf("create -o %s printed the password:\n%s", out, r.Out)
		}
		sent := f.get(chartGroupsPath + "/v-" + out)
		if field(sent, "spec", "importedInfo", "password") != "pw-"+out+"-secret" {
			t.Errorf("create -o %s did not send the password: %v", out, sent)
		}
		switch out {
		case "json":
			var g map[string]any
			if err := json.Unmarshal([]byte(r.Out), &g); err != nil || field(g, "spec", "type") != "Imported" || field(g, "metadata", "name") != "v-json" {
				t.Errorf("create -o json printed %s (%v)", r.Out, err)
			}
		case "yaml":
			if !strings.Contains(r.Out, "kind: ChartGroup") || !strings.Contains(r.Out, "addr: https://charts.vendor.example") {
				t.Errorf("create -o yaml printed:\n%s", r.Out)
			}
		case "name":
			if r.Out != "v-name\n" {
				t.Errorf("create -o name printed %q", r.Out)
			}
		}
	}

	emptyPw := writeFile(t, "empty", "\n")
	checkBadInputs(t, f, []badInput{
		{name: "unknown visibility", args: []string{"chart", "group", "create", "x", "--visibility", "Private"}, msg: `--visibility "Private": use User, Project or Public`},
		{name: "lower-case visibility", args: []string{"chart", "group", "create", "x", "--visibility", "public"}, msg: "use User, Project or Public"},
		{name: "users of a project group", args: []string{"chart", "group", "create", "x", "--visibility", "Project", "--user", "bob"}, msg: "--user lists who may use a group of visibility User"},
		{name: "projects of a user group", args: []string{"chart", "group", "create", "x", "--project", "prj-1"}, msg: "--project shares a group of visibility Project, not User"},
		{name: "import flags without the URL", args: []string{"chart", "group", "create", "x", "--import-username", "robot", "--latest-versions", "2"}, msg: "--import-username, --latest-versions describe the repository of an imported group: give --import-url too"},
		{name: "sync interval without the URL", args: []string{"chart", "group", "create", "x", "--sync-interval", "2h"}, msg: "--sync-interval describes the repository of an imported group"},
		{name: "URL not http", args: []string{"chart", "group", "create", "x", "--import-url", "oci://reg.example/charts"}, msg: "want the chart repository's http(s) URL"},
		{name: "URL without host", args: []string{"chart", "group", "create", "x", "--import-url", "https://"}, msg: "want the chart repository's http(s) URL"},
		{name: "credentials in the URL", args: []string{"chart", "group", "create", "x", "--import-url", "https://robot:pw@charts.example.com"}, msg: "give the user name with --import-username"},
		{name: "sync interval too short", args: []string{"chart", "group", "create", "x", "--import-url", "https://charts.example.com", "--sync-interval", "30s"}, msg: "--sync-interval 30s: give 0s (sync only on demand) or at least 1m0s"},
		{name: "negative sync interval", args: []string{"chart", "group", "create", "x", "--import-url", "https://charts.example.com", "--sync-interval", "-1h"}, msg: "--sync-interval -1h0m0s"},
		{name: "negative latest versions", args: []string{"chart", "group", "create", "x", "--import-url", "https://charts.example.com", "--latest-versions", "-1"}, msg: "--latest-versions -1: give a number of versions, or 0 for all"},
		{name: "password without username", stdin: "pw\n", args: []string{"chart", "group", "create", "x", "--import-url", "https://charts.example.com", "--import-password-stdin"}, msg: "--import-password-stdin: give the repository's --import-username too"},
		{name: "empty password on stdin", stdin: "\n", args: []string{"chart", "group", "create", "x", "--import-url", "https://charts.example.com", "--import-username", "robot", "--import-password-stdin"}, msg: "--import-password-stdin: no password there"},
		{name: "empty password file", args: []string{"chart", "group", "create", "x", "--import-url", "https://charts.example.com", "--import-username", "robot", "--import-password-file", emptyPw}, msg: "--import-password-file: no password there"},
		{name: "missing password file", args: []string{"chart", "group", "create", "x", "--import-url", "https://charts.example.com", "--import-username", "robot", "--import-password-file", "/nonexistent/pw"}, msg: "--import-password-file: open /nonexistent/pw"},
		{name: "both password sources", args: []string{"chart", "group", "create", "x", "--import-url", "https://charts.example.com", "--import-username", "robot", "--import-password-file", pwFile, "--import-password-stdin"}, msg: "give only one of --import-password-file, --import-password-stdin"},
		{name: "no name", args: []string{"chart", "group", "create"}, msg: "accepts 1 arg(s), received 0"},
	})
}

func jsonEqual(a, b any) bool {
	da, _ := json.Marshal(a)
	db, _ := json.Marshal(b)
	return bytes.Equal(da, db)
}

func TestChartGroupListGetDelete(t *testing.T) {
	f := newRoutedFake(t)
	imported := servedChartGroup("bitnami", "Public", "Imported")
	// In case the platform ever served a password back: never printed.
	imported["spec"].(map[string]any)["importedInfo"].(map[string]any)["password"] = "leaked-pw"
	f.put(chartGroupPortalURL, map[string]any{"kind": "ChartGroupList", "items": []any{imported, servedChartGroup("team-a", "", "")}})
	f.put(chartGroupsPath+"/team-a", servedChartGroup("team-a", "Project", "SelfBuilt"))
	f.put(chartGroupsPath+"/bitnami", imported)

	r := f.must("chart", "group", "list")
	lines := strings.Split(strings.TrimRight(r.Out, "\n"), "\n")
	if len(lines) != 3 || !regexp.MustCompile(`^NAME\s+VISIBILITY\s+TYPE\s+CHARTS\s+PHASE\s+LAST SYNC$`).MatchString(lines[0]) ||
		!regexp.MustCompile(`^bitnami\s+Public\s+Imported\s+12\s+Ready\s+2025-03-01T12:00:00Z$`).MatchString(lines[1]) ||
		// A group served without visibility or type has the defaults.
		!regexp.MustCompile(`^team-a\s+User\s+SelfBuilt\s+3\s+-\s+-$`).MatchString(lines[2]) {
		t.Errorf("group list printed:\n%s", r.Out)
	}
	wantRequests(t, f.all(), "GET "+chartGroupPortalURL)
	if r := f.must("chart", "groups", "ls", "-o", "name"); r.Out != "bitnami\nteam-a\n" {
		t.Errorf("group list -o name printed %q", r.Out)
	}
	for _, out := range []string{"json", "yaml"} {
		r := f.must("chart", "group", "list", "-o", out)
		if !strings.Contains(r.Out, "ChartGroupList") || !strings.Contains(r.Out, "https://charts.example.com/stable") || strings.Contains(r.Out, "leaked-pw") {
			t.Errorf("group list -o %s printed:\n%s", out, r.Out)
		}
	}

	// get: the object; the table as list's.
	f.reset()
	r = f.must("chart", "group", "get", "team-a")
	if !regexp.MustCompile(`(?m)^team-a\s+Project\s+SelfBuilt\s+3\s+-\s+-$`).MatchString(r.Out) {
		t.Errorf("group get printed:\n%s", r.Out)
	}
	wantRequests(t, f.all(), "GET "+chartGroupsPath+"/team-a")
	r = f.must("chart", "cg", "get", "bitnami", "-o", "yaml")
	var g map[string]any
	if err := yaml.Unmarshal([]byte(r.Out), &g); err != nil || field(g, "spec", "importedInfo", "addr") != "https://charts.example.com/stable" ||
		field(g, "spec", "importedInfo", "password") != nil || strings.Contains(r.Out, "leaked-pw") {
		t.Errorf("group get -o yaml printed (%v):\n%s", err, r.Out)
	}
	if r := f.must("chart", "group", "get", "bitnami", "-o", "json"); !strings.Contains(r.Out, `"passwordSecret": "chartgroup-bitnami"`) || strings.Contains(r.Out, "leaked-pw") {
		t.Errorf("group get -o json printed:\n%s", r.Out)
	}

	// A group one may pull from but not read as an object: from the portal.
	f.route(http.MethodGet, chartGroupsPath+"/bitnami", func(fakeRequest) (int, any) {
		return refusal(http.StatusForbidden, "alice may not get chartgroup bitnami")
	})
	f.reset()
	r = f.must("chart", "group", "get", "bitnami")
	if !regexp.MustCompile(`(?m)^bitnami\s+Public\s+Imported\s+12\s+Ready\s`).MatchString(r.Out) {
		t.Errorf("group get through the portal printed:\n%s", r.Out)
	}
	wantRequests(t, f.all(), "GET "+chartGroupsPath+"/bitnami", "GET "+chartGroupPortalURL)
	// ... and one that is not there either: the refusal.
	f.route(http.MethodGet, chartGroupsPath+"/hidden", func(fakeRequest) (int, any) {
		return refusal(http.StatusForbidden, "alice may not get chartgroup hidden")
	})
	if r := f.kstack("", "chart", "group", "get", "hidden"); r.Error == nil || r.Error.Error() != "alice may not get chartgroup hidden" {
		t.Errorf("group get of a forbidden group: %v", r.Error)
	}
	if r := f.kstack("", "chart", "group", "get", "nope"); r.Error == nil || !strings.Contains(r.Error.Error(), "not found") {
		t.Errorf("group get of a missing group: %v", r.Error)
	}

	// delete: the message; --force asks the platform to delete the charts.
	f.reset()
	if r := f.must("chart", "group", "delete", "team-a"); r.Out != "chart group team-a deleted\n" {
		t.Errorf("group delete printed %q", r.Out)
	}
	wantRequests(t, f.all(), "DELETE "+chartGroupsPath+"/team-a")
	f.put(chartGroupsPath+"/team-a", servedChartGroup("team-a", "Project", "SelfBuilt"))
	f.reset()
	r = f.must("chart", "group", "rm", "team-a", "--force", "-o", "json")
	if err := json.Unmarshal([]byte(r.Out), &g); err != nil || field(g, "metadata", "name") != "team-a" || field(g, "spec", "visibility") != "Project" {
		t.Errorf("group delete -o json printed (%v):\n%s", err, r.Out)
	}
	wantRequests(t, f.all(), "GET "+chartGroupsPath+"/team-a", "DELETE "+chartGroupsPath+"/team-a?force=true")
	if f.get(chartGroupsPath+"/team-a") != nil {
		t.Error("the group is still there")
	}
	// The platform's refusal is the error.
	f.route(http.MethodDelete, chartGroupsPath+"/full", func(fakeRequest) (int, any) {
		return refusal(http.StatusConflict, "chart group full still holds 2 charts (e.g. nginx): delete them, or delete the group with ?force=true (kstack chart group delete full --force), which deletes its charts")
	})
	if r := f.kstack("", "chart", "group", "delete", "full"); r.Error == nil || !strings.Contains(r.Error.Error(), "kstack chart group delete full --force") || r.Out != "" {
		t.Errorf("group delete of a full group: %v, printed %q", r.Error, r.Out)
	}

	checkBadInputs(t, f.fakePlatform, []badInput{
		{name: "get without a name", args: []string{"chart", "group", "get"}, msg: "accepts 1 arg(s), received 0"},
		{name: "delete two", args: []string{"chart", "group", "delete", "a", "b"}, msg: "accepts 1 arg(s), received 2"},
		{name: "list with an argument", args: []string{"chart", "group", "list", "a"}, msg: `unknown command "a"`},
	})
}

func TestChartGroupSyncAndGuide(t *testing.T) {
	f := newFakePlatform(t)
	syncPath := chartGroupsPath + "/bitnami/sync"
	f.actions[syncPath] = func(map[string]any) (int, any) {
		return 200, map[string]any{"kind": "ChartSyncResult", "chartGroup": "bitnami", "charts": 4, "versions": 10, "copied": 3, "skipped": 7, "failed": 0,
			"started": "2025-03-01T12:00:00Z", "finished": "2025-03-01T12:00:02Z"}
	}
	r := f.must("chart", "group", "sync", "bitnami")
	if !regexp.MustCompile(`^CHARTS\s+VERSIONS\s+COPIED\s+SKIPPED\s+FAILED\s+TOOK\n4\s+10\s+3\s+7\s+0\s+2s\n$`).MatchString(r.Out) {
		t.Errorf("sync printed:\n%s", r.Out)
	}
	wantRequests(t, f.all(), "POST "+syncPath)
	r = f.must("chart", "group", "sync", "bitnami", "-o", "json")
	var res map[string]any
	if err := json.Unmarshal([]byte(r.Out), &res); err != nil || res["copied"] != float64(3) || res["chartGroup"] != "bitnami" {
		t.Errorf("sync -o json printed (%v):\n%s", err, r.Out)
	}

	// Versions that could not be copied: listed, and the exit is non-zero.
	f.actions[syncPath] = func(map[string]any) (int, any) {
		return 200, map[string]any{"chartGroup": "bitnami", "charts": 2, "versions": 3, "copied": 1, "skipped": 1, "failed": 1,
			"errors": []any{"redis 1.0.0: fetching https://charts.example.com/redis-1.0.0.tgz: 404"}}
	}
	r = f.kstack("", "chart", "group", "sync", "bitnami")
	if r.Error == nil || r.Error.Error() != "chart group bitnami: 1 chart version could not be copied (the 1 copied stay; see the errors above, or -o yaml)" {
		t.Errorf("a sync with a failure: %v", r.Error)
	}
	if !regexp.MustCompile(`(?s)^CHARTS.*\n2\s+3\s+1\s+1\s+1\s+-\n\nErrors:\n  redis 1.0.0: fetching https://charts.example.com/redis-1.0.0.tgz: 404\n$`).MatchString(r.Out) {
		t.Errorf("a sync with a failure printed:\n%s", r.Out)
	}
	r = f.kstack("", "chart", "group", "sync", "bitnami", "-o", "yaml")
	if r.Error == nil || !strings.Contains(r.Out, "failed: 1") || !strings.Contains(r.Out, "redis 1.0.0: fetching") || strings.Contains(r.Out, "Errors:") {
		t.Errorf("sync -o yaml with a failure: %v, printed:\n%s", r.Error, r.Out)
	}
	// A group that does not sync: the platform's refusal.
	f.actions[chartGroupsPath+"/team-a/sync"] = func(map[string]any) (int, any) {
		return refusal(http.StatusBadRequest, "chart group team-a is not imported: only groups of type Imported sync from a repository; push charts to it with helm push")
	}
	if r := f.kstack("", "chart", "group", "sync", "team-a"); r.Error == nil || !strings.Contains(r.Error.Error(), "is not imported") || r.Out != "" {
		t.Errorf("sync of a self-built group: %v, printed %q", r.Error, r.Out)
	}

	f.put(chartGroupsPath+"/team-a/guide", map[string]any{"registry": "reg:8443", "chartGroup": "team-a", "username": "alice",
		"login": "helm registry login reg:8443 --username alice", "package": "helm package ./CHART-DIR",
		"push": "helm push CHART-VERSION.tgz oci://reg:8443/team-a", "pull": "helm pull oci://reg:8443/team-a/CHART --version VERSION",
		"notes": []any{"log in with your password or an access key (kstack apikey create)"}})
	f.reset()
	r = f.must("chart", "group", "guide", "team-a")
	want := "# Log in to reg:8443 as alice\nhelm registry login reg:8443 --username alice\n# Package a chart directory\nhelm package ./CHART-DIR\n" +
		"# Push it into chart group team-a\nhelm push CHART-VERSION.tgz oci://reg:8443/team-a\n# Pull it back\nhelm pull oci://reg:8443/team-a/CHART --version VERSION\n" +
		"\n# Notes:\n# - log in with your password or an access key (kstack apikey create)\n"
	if r.Out != want {
		t.Errorf("guide printed:\n%s\nwant:\n%s", r.Out, want)
	}
	wantRequests(t, f.all(), "GET "+chartGroupsPath+"/team-a/guide")
	if r := f.must("chart", "group", "guide", "team-a", "-o", "json"); !strings.Contains(r.Out, `"push": "helm push CHART-VERSION.tgz oci://reg:8443/team-a"`) {
		t.Errorf("guide -o json printed:\n%s", r.Out)
	}
	if r := f.must("chart", "group", "guide", "team-a", "-o", "yaml"); !strings.Contains(r.Out, "username: alice\n") {
		t.Errorf("guide -o yaml printed:\n%s", r.Out)
	}

	checkBadInputs(t, f, []badInput{
		{name: "sync -o name", args: []string{"chart", "group", "sync", "bitnami", "-o", "name"}, msg: `unknown output format "name": use one of table, json, yaml`},
		{name: "guide -o name", args: []string{"chart", "group", "guide", "team-a", "-o", "name"}, msg: `unknown output format "name"`},
		{name: "sync without a name", args: []string{"chart", "group", "sync"}, msg: "accepts 1 arg(s), received 0"},
	})
}

func servedChart(name, group, vis, latest string) map[string]any {
	return map[string]any{"name": name, "chartGroup": group, "visibility": vis, "latestVersion": latest, "appVersion": "1.25.0",
		"description": "A web server\nthat serves", "versions": 2, "pull": "oci://reg:8443/" + group + "/" + name}
}

func TestChartListVersionsShow(t *testing.T) {
	f := newFakePlatform(t)
	f.put(chartsPath, map[string]any{"kind": "ChartList", "items": []any{servedChart("nginx", "team-a", "Project", "1.3.0"), servedChart("redis", "bitnami", "Public", "17.0.1")}})
	f.put(chartGroupsPath+"/team-a/charts", map[string]any{"kind": "ChartList", "items": []any{servedChart("nginx", "team-a", "Project", "1.3.0")}})
	f.put(chartGroupsPath+"/team-a/charts/nginx", map[string]any{"kind": "ChartVersionList", "chart": "nginx", "chartGroup": "team-a", "items": []any{
		map[string]any{"version": "1.3.0", "appVersion": "1.25.0", "description": "A web server", "digest": "sha256:bbb", "size": 4096, "pushedAt": "2025-03-02T12:00:00Z"},
		map[string]any{"version": "1.2.0", "digest": "sha256:aaa", "size": 100},
	}})
	f.put(chartGroupsPath+"/team-a/charts/nginx/versions/1.3.0", map[string]any{"kind": "ChartDetail", "chart": "nginx", "chartGroup": "team-a", "version": "1.3.0",
		"appVersion": "1.25.0", "description": "A web server", "home": "https://nginx.org", "keywords": []any{"web", "http"},
		"readme": "# nginx\nRead me.", "values": "replicaCount: 1\nimage:\n  tag: \"\"\n", "valuesSchema": `{"type":"object"}`,
		"digest": "sha256:bbb", "pull": "oci://reg:8443/team-a/nginx"})
	f.put(chartGroupsPath+"/team-a/charts/nginx/versions/1.2.0", map[string]any{"kind": "ChartDetail", "chart": "nginx", "chartGroup": "team-a", "version": "1.2.0",
		"digest": "sha256:aaa", "pull": "oci://reg:8443/team-a/nginx"})

	// list: every chart, one visibility, one group.
	for _, c := range []struct {
		args []string
		path string
		rows []string
	}{
		{nil, chartsPath, []string{`nginx\s+team-a\s+Project\s+1\.3\.0\s+1\.25\.0\s+2\s+A web server that serves`, `redis\s+bitnami\s+Public\s+17\.0\.1`}},
		{[]string{"--visibility", "Public"}, chartsPath + "?visibility=Public", nil},
		{[]string{"team-a"}, chartGroupsPath + "/team-a/charts", []string{`nginx\s+team-a\s+Project\s+1\.3\.0`}},
	} {
		f.reset()
		r := f.must(append([]string{"chart", "list"}, c.args...)...)
		if !regexp.MustCompile(`^NAME\s+GROUP\s+VISIBILITY\s+LATEST\s+APP VERSION\s+VERSIONS\s+DESCRIPTION\n`).MatchString(r.Out) {
			t.Errorf("chart list %v printed:\n%s", c.args, r.Out)
		}
		for _, row := range c.rows {
			if !regexp.MustCompile(`(?m)^` + row).MatchString(r.Out) {
				t.Errorf("chart list %v printed:\n%s\nwant a row %s", c.args, r.Out, row)
			}
		}
		wantRequests(t, f.all(), "GET "+c.path)
	}
	if r := f.must("charts", "ls", "-o", "name"); r.Out != "nginx\nredis\n" {
		t.Errorf("chart list -o name printed %q", r.Out)
	}
	r := f.must("chart", "list", "team-a", "-o", "json")
	var cl struct {
		Kind  string
		Items []struct{ Name, Pull string }
	}
	if err := json.Unmarshal([]byte(r.Out), &cl); err != nil || cl.Kind != "ChartList" || len(cl.Items) != 1 || cl.Items[0].Pull != "oci://reg:8443/team-a/nginx" {
		t.Errorf("chart list -o json printed (%v):\n%s", err, r.Out)
	}

	// versions, newest first as served.
	f.reset()
	r = f.must("chart", "versions", "team-a/nginx")
	if !regexp.MustCompile(`^VERSION\s+APP VERSION\s+SIZE\s+PUSHED\s+DESCRIPTION\n1\.3\.0\s+1\.25\.0\s+4\.0 KiB\s+2025-03-02T12:00:00Z\s+A web server\n1\.2\.0\s+-\s+100 B\s+-\s+-\n$`).MatchString(r.Out) {
		t.Errorf("versions printed:\n%s", r.Out)
	}
	wantRequests(t, f.all(), "GET "+chartGroupsPath+"/team-a/charts/nginx")
	if r := f.must("chart", "versions", "team-a/nginx", "-o", "yaml"); !strings.Contains(r.Out, "digest: sha256:bbb") || !strings.Contains(r.Out, "kind: ChartVersionList") {
		t.Errorf("versions -o yaml printed:\n%s", r.Out)
	}

	// show: the newest version by default: a summary and the values.
	f.reset()
	r = f.must("chart", "show", "team-a/nginx")
	for _, line := range []string{`Chart:\s+team-a/nginx`, `Version:\s+1\.3\.0`, `App version:\s+1\.25\.0`, `Home:\s+https://nginx\.org`,
		`Keywords:\s+web, http`, `Digest:\s+sha256:bbb`, `Pull:\s+oci://reg:8443/team-a/nginx`, `See also:\s+--readme, --schema`} {
		if !regexp.MustCompile(`(?m)^` + line + `$`).MatchString(r.Out) {
			t.Errorf("show printed:\n%s\nwant a line %s", r.Out, line)
		}
	}
	if !strings.HasSuffix(r.Out, "\n# Values (values.yaml):\nreplicaCount: 1\nimage:\n  tag: \"\"\n") {
		t.Errorf("show does not end with the values:\n%s", r.Out)
	}
	wantRequests(t, f.all(), "GET "+chartGroupsPath+"/team-a/charts/nginx", "GET "+chartGroupsPath+"/team-a/charts/nginx/versions/1.3.0")
	// One file alone.
	for flag, want := range map[string]string{"--readme": "# nginx\nRead me.\n", "--values": "replicaCount: 1\nimage:\n  tag: \"\"\n", "--schema": "{\"type\":\"object\"}\n"} {
		f.reset()
		if r := f.must("chart", "show", "team-a/nginx", "--version", "1.3.0", flag); r.Out != want {
			t.Errorf("show %s printed %q, want %q", flag, r.Out, want)
		}
		wantRequests(t, f.all(), "GET "+chartGroupsPath+"/team-a/charts/nginx/versions/1.3.0")
	}
	// A version without them: nothing on stdout, stderr says so.
	r = f.must("chart", "show", "team-a/nginx", "--version", "1.2.0", "--readme")
	if r.Out != "" || !strings.Contains(r.Err, "chart team-a/nginx 1.2.0 has no README") {
		t.Errorf("show --readme of a chart without one: out %q err %q", r.Out, r.Err)
	}
	if r := f.must("chart", "inspect", "team-a/nginx", "--version", "1.2.0"); !strings.HasSuffix(r.Out, "\n# The chart has no values.yaml.\n") || strings.Contains(r.Out, "See also") {
		t.Errorf("show of a chart without values printed:\n%s", r.Out)
	}
	for _, out := range []string{"json", "yaml"} {
		r := f.must("chart", "show", "team-a/nginx", "--version", "1.3.0", "-o", out)
		var d map[string]any
		if err := yaml.Unmarshal([]byte(r.Out), &d); err != nil || d["kind"] != "ChartDetail" || d["readme"] != "# nginx\nRead me." || d["valuesSchema"] != `{"type":"object"}` {
			t.Errorf("show -o %s printed (%v):\n%s", out, err, r.Out)
		}
	}
	// A chart without versions, or a missing one: clear errors.
	f.put(chartGroupsPath+"/team-a/charts/empty", map[string]any{"kind": "ChartVersionList", "items": []any{}})
	if r := f.kstack("", "chart", "show", "team-a/empty"); r.Error == nil || r.Error.Error() != "chart team-a/empty has no version" {
		t.Errorf("show of a chart without versions: %v", r.Error)
	}
	if r := f.kstack("", "chart", "show", "team-a/nginx", "--version", "9.9.9"); r.Error == nil || !strings.Contains(r.Error.Error(), "not found") {
		t.Errorf("show of a missing version: %v", r.Error)
	}

	checkBadInputs(t, f, []badInput{
		{name: "unknown visibility", args: []string{"chart", "list", "--visibility", "Private"}, msg: `--visibility "Private": use User, Project or Public`},
		{name: "visibility of one group", args: []string{"chart", "list", "team-a", "--visibility", "Public"}, msg: "drop GROUP or --visibility"},
		{name: "a chart for a group", args: []string{"chart", "list", "team-a/nginx"}, msg: "for a chart's versions use kstack chart versions GROUP/CHART"},
		{name: "two groups", args: []string{"chart", "list", "a", "b"}, msg: "accepts at most 1 arg(s), received 2"},
		{name: "versions of a group", args: []string{"chart", "versions", "team-a"}, msg: `"team-a" is not GROUP/CHART`},
		{name: "versions of an empty chart", args: []string{"chart", "versions", "team-a/"}, msg: "is not GROUP/CHART"},
		{name: "versions of a nested path", args: []string{"chart", "versions", "team-a/x/nginx"}, msg: "is not GROUP/CHART"},
		{name: "versions with oci://", args: []string{"chart", "versions", "oci://reg:8443/team-a/nginx"}, msg: "without oci:// and the registry's host"},
		{name: "versions with the host", args: []string{"chart", "versions", "reg:8443/team-a"}, msg: "without the registry's host"},
		{name: "versions with a dotted host", args: []string{"chart", "versions", "reg.example.com/team-a/nginx"}, msg: "without the registry's host"},
		{name: "show a version in the reference", args: []string{"chart", "show", "team-a/nginx:1.2.0"}, msg: "its version with --version"},
		{name: "show a digest in the reference", args: []string{"chart", "show", "team-a/nginx@sha256:aaa"}, msg: "its version with --version"},
		{name: "show -o with a file", args: []string{"chart", "show", "team-a/nginx", "--values", "-o", "json"}, msg: "give one or the other"},
		{name: "show two files", args: []string{"chart", "show", "team-a/nginx", "--values", "--readme"}, msg: "give only one of --readme, --values, --schema"},
		{name: "show -o name", args: []string{"chart", "show", "team-a/nginx", "-o", "name"}, msg: `unknown output format "name"`},
		{name: "versions -o name", args: []string{"chart", "versions", "team-a/nginx", "-o", "name"}, msg: `unknown output format "name"`},
	})
}

func TestChartDelete(t *testing.T) {
	f := newFakePlatform(t)
	chart := chartGroupsPath + "/team-a/charts/nginx"
	f.put(chart, map[string]any{"kind": "ChartVersionList"})
	f.put(chart+"/versions/1.2.0", map[string]any{"kind": "ChartDetail"})

	for _, c := range []struct {
		args []string
		out  string
		req  string
	}{
		{[]string{"team-a/nginx", "--version", "1.2.0"}, "version 1.2.0 of chart team-a/nginx deleted\n", "DELETE " + chart + "/versions/1.2.0"},
		{[]string{"team-a/nginx"}, "chart team-a/nginx deleted\n", "DELETE " + chart},
	} {
		f.reset()
		r := f.must(append([]string{"chart", "delete"}, c.args...)...)
		if r.Out != c.out {
			t.Errorf("chart delete %v printed %q, want %q", c.args, r.Out, c.out)
		}
		wantRequests(t, f.all(), c.req)
	}
	if f.get(chart) != nil || f.get(chart+"/versions/1.2.0") != nil {
		t.Error("the chart is still there")
	}
	// A version with build metadata is one path segment.
	f.put(chart+"/versions/1.0.0+build.1", map[string]any{})
	f.reset()
	f.must("chart", "rm", "team-a/nginx", "--version", "1.0.0+build.1")
	wantRequests(t, f.all(), "DELETE "+chart+"/versions/1.0.0+build.1")
	if r := f.kstack("", "chart", "delete", "team-a/gone"); r.Error == nil || !strings.Contains(r.Error.Error(), "not found") || r.Out != "" {
		t.Errorf("delete of a missing chart: %v, printed %q", r.Error, r.Out)
	}

	checkBadInputs(t, f, []badInput{
		{name: "empty version", args: []string{"chart", "delete", "team-a/nginx", "--version", ""}, msg: "--version: give a version"},
		{name: "not GROUP/CHART", args: []string{"chart", "delete", "nginx"}, msg: `"nginx" is not GROUP/CHART`},
		{name: "version in the reference", args: []string{"chart", "delete", "team-a/nginx:1.2.0"}, msg: "its version with --version"},
		{name: "no -o", args: []string{"chart", "delete", "team-a/nginx", "-o", "json"}, msg: "unknown shorthand flag: 'o'"},
	})
}

// chartAndAppCommandsWithOutput are the chart and app commands that take
// -o, with what they need besides it.
func chartAndAppCommandsWithOutput() [][]string {
	return [][]string{
		{"chart", "group", "create", "team-a"}, {"chart", "group", "list"}, {"chart", "group", "get", "team-a"},
		{"chart", "group", "delete", "team-a"}, {"chart", "group", "sync", "team-a"}, {"chart", "group", "guide", "team-a"},
		{"chart", "list"}, {"chart", "versions", "team-a/nginx"}, {"chart", "show", "team-a/nginx"},
		{"app", "install", "web", "--chart", "team-a/nginx", "--version", "1.2.0", "--cluster", "cls-a", "--namespace", "web", "--project", "prj-1"},
		{"app", "list"}, {"app", "get", "web"}, {"app", "upgrade", "web", "--version", "1.3.0"}, {"app", "history", "web"},
		{"app", "diff", "web"}, {"app", "rollback", "web"}, {"app", "resources", "web"}, {"app", "uninstall", "web"},
	}
}

// A bad -o is refused before any request, for every chart and app command
// that shows objects; and every one of them has -o json and yaml.
func TestChartAndAppBadOutput(t *testing.T) {
	f := newFakePlatform(t)
	root := testRoot()
	covered := map[string]bool{}
	for _, args := range chartAndAppCommandsWithOutput() {
		cmd, _, err := root.Find(args)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		covered[cmd.CommandPath()] = true
		if u := cmd.Flags().Lookup("output").Usage; !strings.Contains(u, "json") || !strings.Contains(u, "yaml") {
			t.Errorf("%s -o: %s", cmd.CommandPath(), u)
		}
		f.reset()
		r := f.kstack("", append(args, "-o", "xml")...)
		if r.Error == nil || !strings.Contains(r.Error.Error(), `unknown output format "xml"`) || r.Out != "" {
			t.Errorf("kstack %v -o xml: %v, printed %q", args, r.Error, r.Out)
		}
		if reqs := f.all(); len(reqs) > 0 {
			t.Errorf("kstack %v -o xml sent %v", args, reqs)
		}
	}
	for _, noun := range []string{"chart", "app"} {
		c, _, _ := root.Find([]string{noun})
		walk(c, func(c *cobra.Command) {
			if c.Flags().Lookup("output") != nil && !covered[c.CommandPath()] {
				t.Errorf("%s has -o but is not in chartAndAppCommandsWithOutput", c.CommandPath())
			}
		})
	}
}

// Every chart and app command explains itself, with examples.
func TestChartAndAppHelp(t *testing.T) {
	f := newFakePlatform(t)
	for _, args := range [][]string{{"chart"}, {"chart", "group"}, {"chart", "group", "create"}, {"chart", "group", "delete"}, {"chart", "show"},
		{"app"}, {"app", "install"}, {"app", "upgrade"}, {"app", "diff"}, {"app", "rollback"}} {
		r := f.must(append(args, "--help")...)
		if !strings.Contains(r.Out, "Examples:") || !strings.Contains(r.Out, "kstack "+args[0]) || r.Err != "" {
			t.Errorf("kstack %v --help: out %q err %q", args, r.Out, r.Err)
		}
	}
	r := f.must("app", "install", "--help")
	for _, want := range []string{"--chart string", "GROUP/CHART (see 'kstack chart list') (required)", "--cluster string", "--secret-values string", "--dry-run"} {
		if !strings.Contains(r.Out, want) {
			t.Errorf("app install --help lacks %q:\n%s", want, r.Out)
		}
	}
	if r := f.must("chart", "group", "delete", "--help"); !strings.Contains(r.Out, "--force") {
		t.Errorf("chart group delete --help lacks --force:\n%s", r.Out)
	}
	if reqs := f.all(); len(reqs) > 0 {
		t.Errorf("--help sent %v", reqs)
	}
}
