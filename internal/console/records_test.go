package console

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"

	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/auth/decision"
	"github.com/kstack/kstack/internal/auth/directory"
)

// fakeRecordAPI stands in for the gateway's record APIs: answer gives each
// request's status and body; the requests are kept.
type fakeRecordAPI struct {
	mu     sync.Mutex
	reqs   []*url.URL
	answer func(r *http.Request) (int, http.Header, string)
}

func (f *fakeRecordAPI) serve(w http.ResponseWriter, r *http.Request, _ *directory.Principal) {
	f.mu.Lock()
	f.reqs = append(f.reqs, r.URL)
	f.mu.Unlock()
	if !strings.HasPrefix(r.URL.Path, "/audit/") && !strings.HasPrefix(r.URL.Path, "/event/") {
		http.NotFound(w, r) // the portal: no projects
		return
	}
	code, h, body := f.answer(r)
	for k, v := range h {
		w.Header()[k] = v
	}
	w.WriteHeader(code)
	fmt.Fprint(w, body)
}

// last is the last request to the record APIs.
func (f *fakeRecordAPI) last(t *testing.T) *url.URL {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := len(f.reqs) - 1; i >= 0; i-- {
		if p := f.reqs[i].Path; strings.HasPrefix(p, "/audit/") || strings.HasPrefix(p, "/event/") {
			return f.reqs[i]
		}
	}
	t.Fatal("no request to the record APIs")
	return nil
}

func recordServer(t *testing.T, answer func(r *http.Request) (int, http.Header, string)) (*Server, *fakeRecordAPI) {
	s := testServer(t)
	f := &fakeRecordAPI{answer: answer}
	s.Serve = f.serve
	s.Decider = &decision.Decider{}
	return s, f
}

var admin = &directory.Principal{Username: "admin", Tenant: "default", SuperAdmin: true}

func consoleRequest(s *Server, method, target string) *request {
	return &request{Request: httptest.NewRequest(method, target, nil), s: s, user: admin, csrf: "tok"}
}

const auditPage = `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{"continue":"next-1"},"items":[
 {"level":"Metadata","auditID":"a1","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/web/pods/api-1","verb":"delete",
  "user":{"username":"alice"},"sourceIPs":["10.0.0.7"],"objectRef":{"resource":"pods","namespace":"web","name":"api-1"},
  "responseStatus":{"code":403},"requestReceivedTimestamp":"2026-01-02T10:00:00.000000Z","stageTimestamp":"2026-01-02T10:00:00.000000Z",
  "annotations":{"kstack.io/cluster":"cls-a","kstack.io/via":"console","kstack.io/latency":"3ms"}}]}`

func TestAuditPage(t *testing.T) {
	s, f := recordServer(t, func(*http.Request) (int, http.Header, string) { return 200, nil, auditPage })
	w := httptest.NewRecorder()
	s.audit(w, consoleRequest(s, "GET", "/console/platform/audit?range=1h&user=alice&verb=delete&result=failure&cluster="))
	body := w.Body.String()
	if w.Code != 200 {
		t.Fatalf("code %d: %s", w.Code, body)
	}
	for _, want := range []string{"2026-01-02 10:00:00", "pods/api-1", "cls-a", "status-Failed", "10.0.0.7", "3ms", `id="older"`, `id="audit-export"`, `value="1h" selected`} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(body, "own-operations") || strings.Contains(body, `id="newest"`) {
		t.Error("an administrator's first page says it shows their own operations, or links to the newest")
	}
	q := f.last(t).Query()
	start, _ := time.Parse(time.RFC3339, q.Get("startTime"))
	end, _ := time.Parse(time.RFC3339, q.Get("endTime"))
	if end.Sub(start) != time.Hour || time.Since(end) > time.Minute || q.Get("user") != "alice" || q.Get("verb") != "delete" ||
		q.Get("result") != "failure" || q.Has("cluster") || q.Get("limit") != "50" || q.Has("continue") {
		t.Errorf("the API was asked %v", q)
	}

	// The next page pins the range's end, so that every page searches the same range.
	older := attr(t, body, "older")
	ou, _ := url.Parse(older)
	at := ou.Query().Get("at")
	if ou.Query().Get("continue") != "next-1" || at == "" {
		t.Fatalf("older: %q", older)
	}
	w = httptest.NewRecorder()
	s.audit(w, consoleRequest(s, "GET", older))
	q2 := f.last(t).Query()
	if q2.Get("continue") != "next-1" || q2.Get("startTime") != q.Get("startTime") || q2.Get("endTime") != q.Get("endTime") {
		t.Errorf("the second page asked %v, the first %v", q2, q)
	}
	if newest := attr(t, w.Body.String(), "newest"); strings.Contains(newest, "continue") || strings.Contains(newest, "at=") || !strings.Contains(newest, "user=alice") {
		t.Errorf("newest: %q", newest)
	}
	// The export has the same search, without the page.
	exp, _ := url.Parse(attr(t, body, "audit-export"))
	if exp.Path != "/console/platform/audit/export" || exp.Query().Get("user") != "alice" || exp.Query().Get("at") != at || exp.Query().Has("continue") {
		t.Errorf("export link %v", exp)
	}
}

// attr is the href of the element with id in an HTML page.
func attr(t *testing.T, body, id string) string {
	t.Helper()
	i := strings.Index(body, `id="`+id+`"`)
	if i < 0 {
		t.Fatalf("no #%s in the page", id)
	}
	tag := body[strings.LastIndex(body[:i], "<"):]
	tag = tag[:strings.Index(tag, ">")]
	_, rest, ok := strings.Cut(tag, `href="`)
	if !ok {
		t.Fatalf("#%s has no href: %s", id, tag)
	}
	href, _, _ := strings.Cut(rest, `"`)
	return strings.ReplaceAll(href, "&amp;", "&")
}

// The API's refusal is shown next to the form, on the page.
func TestRecordSearchShowsTheAPIsRefusal(t *testing.T) {
	s, f := recordServer(t, func(*http.Request) (int, http.Header, string) {
		return 400, nil, `{"kind":"Status","code":400,"message":"limit \"x\" is not a positive number <b>"}`
	})
	w := httptest.NewRecorder()
	s.audit(w, consoleRequest(s, "GET", "/console/platform/audit"))
	body := w.Body.String()
	if w.Code != 200 || !strings.Contains(body, `id="search-error">limit &#34;x&#34; is not a positive number &lt;b&gt;</div>`) || !strings.Contains(body, `id="audit-search"`) {
		t.Errorf("code %d:\n%s", w.Code, body)
	}
	// A custom time that is none: said at the field, and nothing asked.
	n := len(f.reqs)
	w = httptest.NewRecorder()
	s.audit(w, consoleRequest(s, "GET", "/console/platform/audit?range=custom&start=yesterday&end=2026-01-02T10:00"))
	body = w.Body.String()
	if !strings.Contains(body, `&#34;yesterday&#34; is not a time`) || strings.Contains(body, "audit-export") {
		t.Errorf("a bad start time:\n%s", body)
	}
	for _, u := range f.reqs[n:] {
		if strings.HasPrefix(u.Path, "/audit/") {
			t.Errorf("asked %v", u)
		}
	}
}

func TestRecordExport(t *testing.T) {
	s, f := recordServer(t, func(r *http.Request) (int, http.Header, string) {
		if r.URL.Query().Get("verb") == "bad" {
			return 400, nil, `{"kind":"Status","code":400,"message":"no such verb"}`
		}
		return 200, http.Header{"Content-Type": {"application/jsonl"}, "Content-Disposition": {`attachment; filename="audit.jsonl"`}}, "{\"a\":1}\n{\"a\":2}\n"
	})
	w := httptest.NewRecorder()
	s.auditExport(w, consoleRequest(s, "GET", "/console/platform/audit/export?range=7d&user=alice&continue=x"))
	if w.Code != 200 || w.Body.String() != "{\"a\":1}\n{\"a\":2}\n" || w.Header().Get("Content-Disposition") != `attachment; filename="audit.jsonl"` {
		t.Errorf("export: %d %q %v", w.Code, w.Body.String(), w.Header())
	}
	if u := f.last(t); u.Path != auditAPI+"/export" || u.Query().Get("user") != "alice" || u.Query().Has("continue") || u.Query().Get("startTime") == "" {
		t.Errorf("the export asked %v", u)
	}
	w = httptest.NewRecorder()
	s.auditExport(w, consoleRequest(s, "GET", "/console/platform/audit/export?verb=bad"))
	if w.Code != 400 || !strings.Contains(w.Body.String(), "no such verb") || !strings.Contains(w.Body.String(), "<html") {
		t.Errorf("a refused export: %d\n%s", w.Code, w.Body.String())
	}

	r := consoleRequest(s, "GET", "/console/platform/clusters/cls-a/events/export?namespace=web")
	r.SetPathValue("id", "cls-a")
	w = httptest.NewRecorder()
	s.eventsExport(w, r)
	if u := f.last(t); w.Code != 200 || u.Path != eventsAPI+"cls-a/events/export" || u.Query().Get("namespace") != "web" {
		t.Errorf("events export: %d, asked %v", w.Code, u)
	}
}

func TestPersistedEventsTab(t *testing.T) {
	s, f := recordServer(t, func(*http.Request) (int, http.Header, string) {
		return 200, nil, `{"kind":"EventList","apiVersion":"v1","metadata":{},"items":[{"metadata":{"name":"api-1.1","namespace":"web"},
 "involvedObject":{"kind":"Pod","name":"api-1","namespace":"web"},"reason":"BackOff","message":"Back-off restarting","type":"Warning","count":4,
 "lastTimestamp":"2026-01-02T10:00:00Z"}]}`
	})
	for _, on := range []bool{false, true} {
		cls := &platformv1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: "cls-a"}}
		cls.Spec.Features.EventPersistence = on
		r := consoleRequest(s, "GET", "/console/platform/clusters/cls-a?tab=persisted-events&range=24h&namespace=web&kind=Pod")
		d := clusterDetailData{Cluster: rowOf(cls), Tab: "persisted-events", Events: r.persistedEvents(cls)}
		if u := f.last(t); u.Path != eventsAPI+"cls-a/events" || u.Query().Get("namespace") != "web" || u.Query().Get("kind") != "Pod" {
			t.Errorf("asked %v", u)
		}
		w := httptest.NewRecorder()
		s.execute(w, 200, "cluster", "layout", r.view("platform", "Cluster cls-a", d))
		body := w.Body.String()
		for _, want := range []string{"pod/api-1", "BackOff", "2026-01-02 10:00:00", `<td>4</td>`, `name="tab" value="persisted-events"`, `id="persistence-toggle"`,
			`action="/console/platform/clusters/cls-a/event-persistence"`, `name="csrf" value="tok"`, `href="/console/platform/clusters/cls-a/events/export?`} {
			if !strings.Contains(body, want) {
				t.Errorf("on=%t: the tab lacks %q", on, want)
			}
		}
		if off := strings.Contains(body, `id="persistence-off"`); off == on {
			t.Errorf("on=%t: the off hint shown: %t", on, off)
		}
		if want := fmt.Sprintf(`name="enable" value="%t"`, !on); !strings.Contains(body, want) {
			t.Errorf("on=%t: the toggle does not send %s", on, want)
		}
	}
}

func TestReadRecordForm(t *testing.T) {
	now := time.Date(2026, 1, 2, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		query      string
		start, end string
		err        string
	}{
		{"", "2026-01-01T12:00:00Z", "2026-01-02T12:00:00Z", ""},
		{"range=7d", "2025-12-26T12:00:00Z", "2026-01-02T12:00:00Z", ""},
		{"range=1h&at=1767348000", "2026-01-02T09:00:00Z", "2026-01-02T10:00:00Z", ""},
		{"range=1h&at=9999999999", "2026-01-02T11:00:00Z", "2026-01-02T12:00:00Z", ""}, // at in the future: now
		{"range=custom&start=2026-01-01T08:30&end=2026-01-02T09:00:00%2B01:00", "2026-01-01T08:30:00Z", "2026-01-02T08:00:00Z", ""},
		{"range=custom", "", "", ""},
		{"range=custom&end=soon", "", "", "end"},
		{"range=2w", "", "", "range"},
	} {
		q, _ := url.ParseQuery(c.query)
		f, api, _ := readRecordForm(q, []string{"user"}, now)
		if api.Get("startTime") != c.start || api.Get("endTime") != c.end {
			t.Errorf("%q: asked %v", c.query, api)
		}
		if (c.err == "") != (len(f.Errors) == 0) || (c.err != "" && f.Errors[c.err] == "") {
			t.Errorf("%q: errors %v", c.query, f.Errors)
		}
	}
	q, _ := url.ParseQuery("user=+alice+&verb=x")
	_, api, _ := readRecordForm(q, []string{"user"}, now)
	if api.Get("user") != "alice" || api.Has("verb") {
		t.Errorf("filters: %v", api)
	}
}

// A request about no object shows its path; a subresource is named.
func TestAuditRowOf(t *testing.T) {
	row := auditRowOf(&auditv1.Event{RequestURI: "/version?timeout=32s", Verb: "get"})
	if row.Resource != "/version" || row.Code != "" || row.Failed {
		t.Errorf("no object: %+v", row)
	}
	row = auditRowOf(&auditv1.Event{ObjectRef: &auditv1.ObjectReference{Resource: "pods", Name: "api-1", Namespace: "web", Subresource: "log"},
		ResponseStatus: &metav1.Status{Code: 200}})
	if row.Resource != "pods/api-1/log" || row.Namespace != "web" || row.Code != "200" || row.Failed {
		t.Errorf("a subresource: %+v", row)
	}
}
