package cli

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func auditRecord(user, verb, resource, ns, name, cluster string, code int, at string) map[string]any {
	ev := map[string]any{
		"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "auditID": "id-" + name, "stage": "ResponseComplete",
		"requestURI": "/api/v1/namespaces/" + ns + "/" + resource + "/" + name, "verb": verb,
		"user": map[string]any{"username": user}, "sourceIPs": []string{"10.0.0.7"},
		"responseStatus":           map[string]any{"code": code},
		"requestReceivedTimestamp": at, "stageTimestamp": at,
		"annotations": map[string]string{"kstack.io/via": "proxy", "kstack.io/latency": "12ms"},
	}
	if cluster != "" {
		ev["annotations"].(map[string]string)["kstack.io/cluster"] = cluster
	}
	if resource == "" {
		ev["requestURI"] = "/version?timeout=32s"
	} else {
		ev["objectRef"] = map[string]any{"resource": resource, "namespace": ns, "name": name}
	}
	return ev
}

// lastQuery is the query of the last request to path.
func (f *fakePlatform) lastQuery(t *testing.T, path string) url.Values {
	t.Helper()
	reqs := f.all()
	for i := len(reqs) - 1; i >= 0; i-- {
		if p, q, _ := strings.Cut(reqs[i].Path, "?"); p == path {
			v, err := url.ParseQuery(q)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	t.Fatalf("no request to %s in %v", path, reqs)
	return nil
}

func TestAuditSearch(t *testing.T) {
	f := newFakePlatform(t)
	f.records[auditEventsPath] = []map[string]any{
		auditRecord("default.alice", "delete", "pods", "web", "api-1", "cls-a", 200, "2026-01-02T10:00:03.000000Z"),
		auditRecord("default.bob", "get", "pods", "web", "api-2", "cls-a", 403, "2026-01-02T10:00:02.000000Z"),
		auditRecord("default.alice", "list", "", "", "", "", 200, "2026-01-02T10:00:01.000000Z"),
	}
	r := f.must("audit", "search", "--since", "1h", "--user", "default.alice", "--cluster", "cls-a", "-n", "web",
		"--resource", "pods", "--verb", "delete", "--result", "success", "--limit", "2")
	lines := strings.Split(strings.TrimSpace(r.Out), "\n")
	if len(lines) != 3 || !regexp.MustCompile(`^TIME\s+USER\s+VERB\s+RESOURCE\s+CLUSTER\s+CODE\s+VIA\s+SOURCE\s+LATENCY$`).MatchString(lines[0]) {
		t.Fatalf("audit search printed:\n%s", r.Out)
	}
	if !regexp.MustCompile(`^2026-01-02T10:00:03Z\s+default\.alice\s+delete\s+pods/api-1 \(web\)\s+cls-a\s+200\s+proxy\s+10\.0\.0\.7\s+12ms$`).MatchString(lines[1]) {
		t.Errorf("first row: %q", lines[1])
	}
	if r.Err != "more: use --continue 2 or --all\n" {
		t.Errorf("stderr: %q", r.Err)
	}
	q := f.lastQuery(t, auditEventsPath)
	start, err := time.Parse(time.RFC3339, q.Get("startTime"))
	if err != nil || time.Since(start) < 59*time.Minute || time.Since(start) > 61*time.Minute {
		t.Errorf("--since 1h sent startTime %q", q.Get("startTime"))
	}
	for k, v := range map[string]string{"user": "default.alice", "cluster": "cls-a", "namespace": "web", "resource": "pods", "verb": "delete", "result": "success", "limit": "2"} {
		if q.Get(k) != v {
			t.Errorf("sent %s=%q, want %q (query %v)", k, q.Get(k), v, q)
		}
	}
	if q.Has("endTime") || q.Has("continue") {
		t.Errorf("sent %v", q)
	}

	// The next page, from the token: no hint when it is the last.
	r = f.must("audit", "search", "--limit", "2", "--continue", "2")
	if lines := strings.Split(strings.TrimSpace(r.Out), "\n"); len(lines) != 2 || !regexp.MustCompile(`\slist\s+/version\s+-\s+200\s`).MatchString(lines[1]) || r.Err != "" {
		t.Errorf("the second page: %q, stderr %q", r.Out, r.Err)
	}
	if f.lastQuery(t, auditEventsPath).Get("continue") != "2" {
		t.Error("--continue was not sent")
	}

	// --all reads every page into one list.
	f.reset()
	r = f.must("audit", "search", "--limit", "1", "--all", "-o", "json")
	var list struct {
		APIVersion string
		Kind       string
		Metadata   struct{ Continue string }
		Items      []struct {
			Verb string
			User struct{ Username string }
		}
	}
	if err := json.Unmarshal([]byte(r.Out), &list); err != nil {
		t.Fatalf("-o json: %v\n%s", err, r.Out)
	}
	if list.APIVersion != "audit.k8s.io/v1" || list.Kind != "EventList" || len(list.Items) != 3 || list.Items[1].User.Username != "default.bob" || list.Metadata.Continue != "" || r.Err != "" {
		t.Errorf("--all -o json: %+v, stderr %q", list, r.Err)
	}
	if n := len(f.all()); n != 3 {
		t.Errorf("--all with 3 pages sent %d requests", n)
	}

	// --start and --end are sent as given, in UTC.
	f.must("audit", "search", "--start", "2026-01-02T11:00:00+01:00", "--end", "2026-01-03T00:00:00Z", "-o", "yaml")
	if q := f.lastQuery(t, auditEventsPath); q.Get("startTime") != "2026-01-02T10:00:00Z" || q.Get("endTime") != "2026-01-03T00:00:00Z" {
		t.Errorf("sent %v", q)
	}
}

// A wrong flag is refused before any request, saying what to give.
func TestRecordSearchFlagsAreChecked(t *testing.T) {
	f := newFakePlatform(t)
	f.records[auditEventsPath] = []map[string]any{}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"audit", "search", "--since", "1h", "--start", "2026-01-02T10:00:00Z"}, "give only one of --since, --start"},
		{[]string{"audit", "search", "--since", "1h", "--end", "2026-01-02T10:00:00Z"}, "give only one of --since, --end"},
		{[]string{"audit", "search", "--result", "ok"}, `--result "ok": use success or failure`},
		{[]string{"audit", "search", "--result", "failure", "--code", "403"}, "give only one of --result, --code"},
		{[]string{"audit", "search", "--code", "42"}, "--code 42 is not an HTTP status code"},
		{[]string{"audit", "search", "--since", "yesterday"}, `--since "yesterday" is not a duration`},
		{[]string{"audit", "search", "--start", "2026-01-02"}, `--start "2026-01-02" is not a time: use RFC 3339`},
		{[]string{"audit", "search", "--start", "2026-01-03T00:00:00Z", "--end", "2026-01-02T00:00:00Z"}, "--end 2026-01-02T00:00:00Z is before --start"},
		{[]string{"audit", "search", "--limit", "5000"}, "--limit 5000: give 1 to 1000"},
		{[]string{"audit", "export", "--result", "bad"}, `--result "bad"`},
		{[]string{"event", "search", "cls-a", "--since", "2h", "--start", "2026-01-02T10:00:00Z"}, "give only one of --since, --start"},
		{[]string{"event", "search"}, "accepts 1 arg(s)"},
		{[]string{"cluster", "event-persistence", "cls-a", "--enable", "--disable"}, "give only one of --enable, --disable"},
	} {
		f.reset()
		r := f.kstack("", c.args...)
		if r.Error == nil || !strings.Contains(r.Error.Error(), c.want) {
			t.Errorf("kstack %v: %v, want %q", c.args, r.Error, c.want)
		}
		if reqs := f.all(); len(reqs) > 0 {
			t.Errorf("kstack %v sent %v", c.args, reqs)
		}
	}
	// 7d is a week.
	f.must("audit", "search", "--since", "7d")
	start, _ := time.Parse(time.RFC3339, f.lastQuery(t, auditEventsPath).Get("startTime"))
	if d := time.Since(start); d < 7*24*time.Hour-time.Minute || d > 7*24*time.Hour+time.Minute {
		t.Errorf("--since 7d sent %v", start)
	}
}

// The platform's refusal is shown as it says it.
func TestRecordSearchShowsTheRefusal(t *testing.T) {
	f := newFakePlatform(t)
	r := f.kstack("", "event", "search", "cls-nope")
	if r.Error == nil || r.Error.Error() != `no cluster "cls-nope" on the platform` {
		t.Errorf("searching an unknown cluster's events: %v", r.Error)
	}
}

func TestEventSearchAndExport(t *testing.T) {
	f := newFakePlatform(t)
	path := eventGroupPath + "cls-a/events"
	f.records[path] = []map[string]any{
		{"metadata": map[string]any{"name": "api-1.17a", "namespace": "web"}, "involvedObject": map[string]any{"kind": "Pod", "name": "api-1", "namespace": "web"},
			"reason": "BackOff", "message": "Back-off restarting\nfailed container", "type": "Warning", "count": 5,
			"lastTimestamp": "2026-01-02T10:00:00Z", "source": map[string]any{"component": "kubelet"}},
		{"metadata": map[string]any{"name": "api.17b", "namespace": "web"}, "involvedObject": map[string]any{"kind": "Deployment", "name": "api", "namespace": "web"},
			"reason": "ScalingReplicaSet", "message": "Scaled up", "type": "Normal", "eventTime": "2026-01-02T09:00:00.000000Z"},
	}
	r := f.must("event", "search", "cls-a", "-n", "web", "--kind", "Pod", "--reason", "BackOff", "--since", "24h")
	lines := strings.Split(strings.TrimSpace(r.Out), "\n")
	if len(lines) != 3 || !regexp.MustCompile(`^LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+NAMESPACE\s+COUNT\s+MESSAGE$`).MatchString(lines[0]) ||
		!regexp.MustCompile(`^2026-01-02T10:00:00Z\s+Warning\s+BackOff\s+pod/api-1\s+web\s+5\s+Back-off restarting failed container$`).MatchString(lines[1]) ||
		!regexp.MustCompile(`^2026-01-02T09:00:00Z\s+Normal\s+ScalingReplicaSet\s+deployment/api\s+web\s+1\s+Scaled up$`).MatchString(lines[2]) {
		t.Errorf("event search printed:\n%s", r.Out)
	}
	q := f.lastQuery(t, path)
	if q.Get("namespace") != "web" || q.Get("kind") != "Pod" || q.Get("reason") != "BackOff" || q.Get("startTime") == "" {
		t.Errorf("sent %v", q)
	}
	if r := f.must("event", "search", "cls-a", "-o", "name"); r.Out != "api-1.17a\napi.17b\n" {
		t.Errorf("-o name printed %q", r.Out)
	}
	r = f.must("event", "search", "cls-a", "--limit", "1")
	if strings.Count(r.Out, "\n") != 2 || r.Err != "more: use --continue 1 or --all\n" {
		t.Errorf("one page of two: %q, stderr %q", r.Out, r.Err)
	}

	// Export: JSON lines, to stdout or a file.
	r = f.must("event", "export", "cls-a", "--reason", "BackOff")
	if strings.Count(r.Out, "\n") != 2 || !strings.Contains(r.Out, `"reason":"BackOff"`) {
		t.Errorf("event export printed %q", r.Out)
	}
	if q := f.lastQuery(t, path+"/export"); q.Get("reason") != "BackOff" {
		t.Errorf("export sent %v", q)
	}
	f.records[auditEventsPath] = []map[string]any{auditRecord("default.alice", "get", "pods", "web", "api-1", "cls-a", 200, "2026-01-02T10:00:03Z")}
	file := filepath.Join(t.TempDir(), "audit.jsonl")
	r = f.must("audit", "export", "--since", "1h", "-f", file)
	data, err := os.ReadFile(file)
	if err != nil || strings.Count(string(data), "\n") != 1 || r.Out != "" || r.Err != "1 records written to "+file+"\n" {
		t.Errorf("audit export -f: %v %q, out %q, err %q", err, data, r.Out, r.Err)
	}
}

func TestClusterEventPersistence(t *testing.T) {
	f := newFakePlatform(t)
	f.put(clustersPath+"/cls-a", map[string]any{"metadata": map[string]any{"name": "cls-a"}, "spec": map[string]any{"type": "Imported"}})
	if r := f.must("cluster", "event-persistence", "cls-a", "--enable"); r.Out != "cluster cls-a: event persistence enabled\n" {
		t.Errorf("printed %q", r.Out)
	}
	w := f.writes()
	if len(w) != 1 || w[0].Method != "PATCH" || w[0].Path != clustersPath+"/cls-a" {
		t.Fatalf("sent %v", w)
	}
	features := func() map[string]any {
		return f.get(clustersPath + "/cls-a")["spec"].(map[string]any)["features"].(map[string]any)
	}
	if features()["eventPersistence"] != true {
		t.Errorf("cluster after --enable: %v", f.get(clustersPath+"/cls-a"))
	}
	f.must("cluster", "events-persistence", "cls-a", "--disable")
	if v, ok := features()["eventPersistence"]; !ok || v != false {
		t.Errorf("--disable did not send false: %v", features())
	}
}
