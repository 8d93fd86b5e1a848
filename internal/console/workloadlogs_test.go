package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/inprocess"
)

func TestMergeLogsOrdersByTimeAndSearches(t *testing.T) {
	sources := []logSource{
		{Pod: "web-1", Container: "app", Data: []byte(
			"2026-01-02T10:00:01.000000000Z GET /health 200\n" +
				"2026-01-02T10:00:03.500000000Z ERROR db down\r\n" +
				"a continuation without a timestamp\n")},
		{Pod: "web-2", Container: "app", Data: []byte(
			"2026-01-02T10:00:00.000000000Z starting\n" +
				"2026-01-02T10:00:02.000000000Z error: retrying\n" +
				"2026-01-02T10:00:03.500000000Z same time as web-1's error\n")},
		{Pod: "web-2", Container: "sidecar", Err: "container \"sidecar\" in pod \"web-2\" is waiting to start"},
		// Cut at its byte limit in the middle of its last line.
		{Pod: "web-3", Container: "app", Truncated: true, Data: []byte(
			"2026-01-02T10:00:04.000000000Z Error again\n2026-01-02T10:00:05.000000000Z half a li")},
	}
	all := mergeLogs(sources, "")
	var got []string
	for _, l := range all.Lines {
		got = append(got, l.Pod+"/"+l.Container+" "+l.Text)
	}
	want := []string{
		"web-2/app starting",
		"web-1/app GET /health 200",
		"web-2/app error: retrying",
		"web-1/app ERROR db down",
		"web-1/app a continuation without a timestamp",
		"web-2/app same time as web-1's error",
		"web-3/app Error again",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("merged:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if all.Total != 7 || all.Matched != 7 || fmt.Sprint(all.Counts) != "[3 3 0 1]" {
		t.Errorf("total %d matched %d counts %v", all.Total, all.Matched, all.Counts)
	}
	if s := all.Lines[0].Stamp(); s != "2026-01-02T10:00:00.000Z" {
		t.Errorf("stamp %q", s)
	}

	// The search: a substring of the text, in any case; not the pod's name.
	m := mergeLogs(sources, "ERROR")
	got = nil
	for _, l := range m.Lines {
		got = append(got, l.Pod+" "+l.Text)
	}
	if strings.Join(got, "|") != "web-2 error: retrying|web-1 ERROR db down|web-2 same time as web-1's error|web-3 Error again" || m.Total != 7 || m.Matched != 4 {
		t.Errorf("search: %q (%d of %d)", got, m.Matched, m.Total)
	}
	if n := mergeLogs(sources, "web-1").Matched; n != 1 {
		t.Errorf("searching a pod's name matched %d lines, want only the line that says it", n)
	}
	// The matches are marked.
	parts := m.Lines[2].Parts
	if len(parts) != 2 || parts[0].Text != "same time as web-1's " || parts[0].Match || !parts[1].Match || parts[1].Text != "error" {
		t.Errorf("parts %+v", parts)
	}
}

func TestMatchParts(t *testing.T) {
	for _, tt := range []struct {
		text, q string
		want    string // matches in [], or "-" for no match
	}{
		{"abc", "", "abc"},
		{"abc", "x", "-"},
		{"a Bc bC", "bc", "a [Bc] [bC]"},
		{"BCBC", "bc", "[BC][BC]"},
		{"İstanbul error", "error", "İstanbul error"}, // lower-casing changes lengths: matched, not marked
	} {
		parts, ok := matchParts(tt.text, strings.ToLower(tt.q))
		got := "-"
		if ok {
			got = ""
			for _, p := range parts {
				if p.Match {
					got += "[" + p.Text + "]"
				} else {
					got += p.Text
				}
			}
		}
		if got != tt.want {
			t.Errorf("matchParts(%q, %q) = %q, want %q", tt.text, tt.q, got, tt.want)
		}
	}
}

// However many containers, the page reads at most its budget.
func TestContainerLogLimitBoundsThePage(t *testing.T) {
	for _, n := range []int{0, 1, 3, 7, 50, maxLogStreams} {
		l := containerLogLimit(n)
		if l <= 0 || l > maxContainerBytes || int64(max(n, 1))*l > logBudget {
			t.Errorf("%d containers get %d bytes each", n, l)
		}
	}
	if containerLogLimit(maxLogStreams) < 16<<10 {
		t.Errorf("a busy workload's containers get only %d bytes each", containerLogLimit(maxLogStreams))
	}
}

// fakeMember stands in for a member cluster's API: a Deployment, its pods
// (one of which cannot give its log) and their logs.
type fakeMember struct {
	mu      sync.Mutex
	logReqs []url.Values
	podSel  string
}

func (f *fakeMember) serve(w http.ResponseWriter, r *http.Request) {
	p := strings.TrimPrefix(r.URL.Path, "/member")
	writeJSON := func(v any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	switch {
	case p == "/apis/apps/v1/namespaces/web/deployments/shop":
		writeJSON(&appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}, ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: "web"},
			Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "shop"}}}})
	case p == "/api/v1/namespaces/web/pods":
		f.mu.Lock()
		f.podSel = r.URL.Query().Get("labelSelector")
		f.mu.Unlock()
		pod := func(name string, containers ...string) corev1.Pod {
			p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "web", CreationTimestamp: metav1.NewTime(time.Now())}}
			for _, c := range containers {
				p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c})
			}
			return p
		}
		writeJSON(&corev1.PodList{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "PodList"},
			Items: []corev1.Pod{pod("shop-b", "app"), pod("shop-a", "app", "proxy"), pod("shop-c", "app")}})
	case strings.HasPrefix(p, "/api/v1/namespaces/web/pods/") && strings.HasSuffix(p, "/log"):
		f.mu.Lock()
		f.logReqs = append(f.logReqs, r.URL.Query())
		f.mu.Unlock()
		pod := strings.TrimSuffix(strings.TrimPrefix(p, "/api/v1/namespaces/web/pods/"), "/log")
		c := r.URL.Query().Get("container")
		switch pod + "/" + c {
		case "shop-a/app":
			fmt.Fprint(w, "2026-01-02T10:00:01Z order 1 placed\n2026-01-02T10:00:04Z order 2 FAILED <script>alert(1)</script>\n")
		case "shop-a/proxy":
			fmt.Fprint(w, "2026-01-02T10:00:02Z proxy up\n")
		case "shop-b/app":
			fmt.Fprint(w, "2026-01-02T10:00:03Z order 3 failed again\n")
		default:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(&metav1.Status{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Status"}, Status: metav1.StatusFailure, Code: 400,
				Reason: metav1.StatusReasonBadRequest, Message: fmt.Sprintf("container %q in pod %q is waiting to start: ContainerCreating", c, pod)})
		}
	default:
		http.NotFound(w, r)
	}
}

func memberServer(t *testing.T) (*Server, *fakeMember) {
	s, _ := recordServer(t, func(*http.Request) (int, http.Header, string) { return 404, nil, "" })
	f := &fakeMember{}
	s.MemberConfig = func(_ *directory.Principal, cluster string) *rest.Config {
		return &rest.Config{Host: inprocess.Host + "/member", Transport: &inprocess.Transport{Serve: f.serve}}
	}
	return s, f
}

func logsRequest(s *Server, target string) *request {
	r := consoleRequest(s, "GET", target)
	r.SetPathValue("cluster", "cls-a")
	r.SetPathValue("ns", "web")
	u, _ := url.Parse(target)
	seg := strings.Split(u.Path, "/")
	r.SetPathValue("kind", seg[len(seg)-3])
	r.SetPathValue("name", seg[len(seg)-2])
	return r
}

func TestWorkloadLogsPage(t *testing.T) {
	s, f := memberServer(t)
	w := httptest.NewRecorder()
	s.workloadLogs(w, logsRequest(s, "/console/business/cls-a/web/deployments/shop/logs?q=failed&tail=500"))
	body := w.Body.String()
	if w.Code != 200 {
		t.Fatalf("code %d: %s", w.Code, body)
	}
	if f.podSel != "app=shop" {
		t.Errorf("pods listed with selector %q", f.podSel)
	}
	if len(f.logReqs) != 4 {
		t.Fatalf("%d logs read, want 4", len(f.logReqs))
	}
	for _, q := range f.logReqs {
		if q.Get("tailLines") != "500" || q.Get("timestamps") != "true" || q.Get("limitBytes") != fmt.Sprint(containerLogLimit(4)) || q.Has("follow") {
			t.Errorf("a log was read with %v", q)
		}
	}
	// The matching lines, merged by time, prefixed, marked, escaped.
	i3 := strings.Index(body, `<span class="src">shop-b/app</span> order 3 <mark>failed</mark> again`)
	i2 := strings.Index(body, `<span class="src">shop-a/app</span> order 2 <mark>FAILED</mark> &lt;script&gt;`)
	if i3 < 0 || i2 < 0 || i3 > i2 {
		t.Errorf("the lines are missing or out of order (%d, %d):\n%s", i3, i2, body)
	}
	if strings.Contains(body, "order 1 placed") || strings.Contains(body, "proxy up") {
		t.Error("lines that do not match are shown")
	}
	for _, want := range []string{`<strong id="log-matched">2</strong> of 4 lines match “failed”`, "from 4 containers of 3 pods",
		`shop-c/app: container &#34;app&#34; in pod &#34;shop-c&#34; is waiting to start: ContainerCreating`, `<option value="500" selected>`,
		`id="logs-tab" aria-current="page"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if testing.Verbose() {
		t.Log(body)
	}
	if strings.Contains(body, "<script>alert") {
		t.Error("a log line became markup")
	}

	// A search through htmx gets the page's main block; a wrong line count is the default.
	f.logReqs = nil
	r := logsRequest(s, "/console/business/cls-a/web/deployments/shop/logs?tail=7")
	r.Header.Set("HX-Request", "true")
	r.Header.Set("HX-Target", "log-results")
	w = httptest.NewRecorder()
	s.workloadLogs(w, r)
	if strings.Contains(w.Body.String(), "<html") || !strings.Contains(w.Body.String(), `id="log-results"`) || !strings.Contains(w.Body.String(), "proxy up") {
		t.Errorf("htmx answer:\n%s", w.Body.String())
	}
	if len(f.logReqs) == 0 || f.logReqs[0].Get("tailLines") != "200" {
		t.Errorf("tail=7 read %v", f.logReqs)
	}
}

func TestWorkloadLogsOnlyForWorkloadsWithPods(t *testing.T) {
	s, _ := memberServer(t)
	for _, target := range []string{"/console/business/cls-a/web/cronjobs/nightly/logs", "/console/business/cls-a/web/services/shop/logs"} {
		w := httptest.NewRecorder()
		s.workloadLogs(w, logsRequest(s, target))
		if w.Code != http.StatusNotFound {
			t.Errorf("%s: %d", target, w.Code)
		}
	}
	// A workload that is not there is the API's 404, shown.
	w := httptest.NewRecorder()
	s.workloadLogs(w, logsRequest(s, "/console/business/cls-a/web/statefulsets/gone/logs"))
	if w.Code != http.StatusNotFound {
		t.Errorf("a missing StatefulSet: %d %s", w.Code, w.Body.String())
	}
}
