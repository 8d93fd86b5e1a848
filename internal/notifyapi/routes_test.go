package notifyapi

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	notifyv1 "github.com/kstack/kstack/api/notify/v1"
	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/recordstore"
)

// sender records what it was asked to send.
type sender struct {
	calls []sent
	res   Result
}

type sent struct {
	ch  types.NamespacedName
	m   Message
	rec recordstore.Record
}

func (s *sender) SendNow(_ context.Context, ch types.NamespacedName, m Message, rec recordstore.Record) Result {
	s.calls = append(s.calls, sent{ch, m, rec})
	return s.res
}

// serve runs the group's routes as the gateway does, for p.
func serve(t *testing.T, m *Module, p *directory.Principal, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	reg, err := apigroup.NewRegistry(m)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	w := httptest.NewRecorder()
	if !reg.ServeRoute(w, r, p) {
		t.Fatalf("no route serves %s %s", method, path)
	}
	return w
}

func testPath(ns, name string) string {
	return groupPath + "namespaces/" + ns + "/channels/" + name + "/test"
}

func TestTestSend(t *testing.T) {
	for _, tc := range []struct {
		name      string
		p         *directory.Principal
		ns, ch    string
		body      string
		noQueue   bool
		fail      bool
		code      int
		msg       string
		to        []string
		user      string
		subject   string // a part of the subject sent
		wantCType string
	}{
		{"email to a receiver", pa, prjA, "smtp", `{"receiver": {"name": "alice"}}`, false, false, 200, `"status":"sent"`, []string{"alice@example.com"}, "alice", "", ""},
		{"email with a template", pa, prjA, "smtp", `{"receiver": {"name": "alice"}, "template": {"name": "mail"}}`, false, false, 200, `"status":"sent"`,
			[]string{"alice@example.com"}, "alice", "firing", ""},
		{"by a member", pm, prjA, "smtp", `{"receiver": {"name": "alice"}}`, false, false, 200, `"status":"sent"`, []string{"alice@example.com"}, "alice", "", ""},
		{"webhook without a receiver", pa, prjA, "hook", ``, false, false, 200, `"status":"sent"`, nil, "", "", "application/json"},
		{"webhook with an empty body", pa, prjA, "hook", `{}`, false, false, 200, `"status":"sent"`, nil, "", "", "application/json"},
		{"failed", pa, prjA, "hook", `{}`, false, true, 200, `"status":"failed","code":535,"error":"SMTP server refused authentication: 535 5.7.8 bad credentials"`, nil, "", "", ""},
		{"by a reader", pv, prjA, "smtp", `{"receiver": {"name": "alice"}}`, false, false, 403, "pv may not test channel smtp (it needs updateChannel)", nil, "", "", ""},
		{"by one holding nothing", nobody, prjA, "smtp", `{}`, false, false, 403, "nobody may not test channel smtp", nil, "", "", ""},
		{"another tenant's channel", pa, prjO, "hook", `{}`, false, false, 404, `channel \"hook\" not found`, nil, "", "", ""},
		{"our channel, by another tenant", oa, prjA, "hook", `{}`, false, false, 404, `channel \"hook\" not found`, nil, "", "", ""},
		{"no such channel", admin, prjA, "nope", `{}`, false, false, 404, `channel \"nope\" not found`, nil, "", "", ""},
		{"notifications off", pa, prjA, "hook", `{}`, true, false, 503, "notifications are off", nil, "", "", ""},
		{"email without a receiver", pa, prjA, "smtp", `{}`, false, false, 422, "receiver: name the receiver a test email goes to", nil, "", "", ""},
		{"a receiver without an email address", pa, prjA, "smtp", `{"receiver": {"name": "hookonly"}}`, false, false, 422,
			"receiver: receiver hookonly has no email, which a email channel sends to", nil, "", "", ""},
		{"another project's receiver", pa, prjA, "smtp", `{"receiver": {"namespace": "` + prjB + `", "name": "bob"}}`, false, false, 422, "not of prj-bbbbbbbb", nil, "", "", ""},
		{"another tenant's receiver", admin, prjA, "smtp", `{"receiver": {"namespace": "kstack-system", "name": "rcv-theirs"}}`, false, false, 422,
			`receiver: no receiver \"rcv-theirs\"`, nil, "", "", ""},
		{"a template of another type", pa, prjA, "smtp", `{"receiver": {"name": "alice"}, "template": {"name": "hook"}}`, false, false, 422,
			"template: template hook is for webhook, channel smtp is email", nil, "", "", ""},
		{"a tenant-wide template, not the caller's to read", pa, prjA, "smtp", `{"receiver": {"name": "alice"}, "template": {"namespace": "kstack-system", "name": "tpl-shared"}}`,
			false, false, 403, "pa may not use template tpl-shared (it needs getTemplate)", nil, "", "", ""},
		{"a bad body", pa, prjA, "smtp", `{"receiver": "alice"}`, false, false, 400, "the body is not a TestSendRequest", nil, "", "", ""},
		{"an unknown field", pa, prjA, "smtp", `{"to": "x@example.com"}`, false, false, 400, "the body is not a TestSendRequest", nil, "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := module(t)
			s := &sender{}
			if tc.fail {
				s.res = Result{Code: 535, Err: errors.New("SMTP server refused authentication: 535 5.7.8 bad credentials")}
			}
			if !tc.noQueue {
				m.Queue = s
			}
			w := serve(t, m, tc.p, http.MethodPost, testPath(tc.ns, tc.ch), tc.body)
			if w.Code != tc.code || !strings.Contains(w.Body.String(), tc.msg) {
				t.Fatalf("%d %s, want %d with %q", w.Code, w.Body.String(), tc.code, tc.msg)
			}
			if tc.code != 200 {
				if len(s.calls) != 0 {
					t.Errorf("refused, yet sent %+v", s.calls)
				}
				return
			}
			if len(s.calls) != 1 {
				t.Fatalf("%d sends, want 1", len(s.calls))
			}
			c := s.calls[0]
			if c.ch != (types.NamespacedName{Namespace: tc.ns, Name: tc.ch}) || !slices.Equal(c.m.To, tc.to) {
				t.Errorf("sent through %s to %v, want %s/%s to %v", c.ch, c.m.To, tc.ns, tc.ch, tc.to)
			}
			if c.m.Body == "" || !strings.Contains(c.m.Subject, tc.subject) || (tc.wantCType != "" && c.m.ContentType != tc.wantCType) {
				t.Errorf("message %+v", c.m)
			}
			want := recordstore.Record{Kind: RecordKind, Tenant: "default", User: tc.user, Project: prjA, Resource: "channel", Name: tc.ns + "/" + tc.ch, Verb: "test"}
			got := c.rec
			got.Time = time.Time{}
			if !equalRecord(got, want) || c.rec.Time.IsZero() {
				t.Errorf("record %+v, want %+v", c.rec, want)
			}
		})
	}
}

func equalRecord(a, b recordstore.Record) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// records is a record store holding notifications of both tenants'
// clusters, projects and namespaces.
func records(t *testing.T) recordstore.Store {
	t.Helper()
	s, err := recordstore.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "r.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	now := time.Now()
	rec := func(uid, tenant, cluster, ns, project, channel, receiver, verb string, code int) recordstore.Record {
		data, _ := json.Marshal(map[string]any{"uid": uid, "status": "sent"})
		return recordstore.Record{Kind: RecordKind, UID: uid, Time: now, Tenant: tenant, Cluster: cluster, Namespace: ns, Project: project,
			Resource: "channel", Name: channel, User: receiver, Verb: verb, Code: code, Data: data}
	}
	if err := s.Append(context.Background(), []recordstore.Record{
		rec("a-web", "default", "cls-a", "web", prjA, prjA+"/smtp", "alice", "firing", 250),
		rec("a-web-2", "default", "cls-a", "web", prjA, prjA+"/hook", "", "resolved", 200),
		rec("a-db", "default", "cls-a", "db", prjB, prjB+"/hook", "", "firing", 500),
		rec("a-cluster", "default", "cls-a", "", "", sysNS+"/chn-x", "rcv-shared", "firing", 200),
		rec("a-test", "default", "", "", prjA, prjA+"/smtp", "alice", "test", 250),
		rec("o-web", "other", "cls-o", "web", prjO, prjO+"/hook", "", "firing", 200),
	}); err != nil {
		t.Fatal(err)
	}
	return s
}

func uids(t *testing.T, body string) []string {
	t.Helper()
	var list RecordList
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	var out []string
	for _, r := range list.Items {
		out = append(out, r.UID)
	}
	slices.Sort(out)
	return out
}

func TestRecords(t *testing.T) {
	for _, tc := range []struct {
		name, path string
		p          *directory.Principal
		code       int
		want       []string // uids, or the message
		msg        string
	}{
		{"a cluster, by an administrator", "clusters/cls-a/notifications", admin, 200, []string{"a-cluster", "a-db", "a-web", "a-web-2"}, ""},
		{"another tenant's cluster, by an administrator", "clusters/cls-o/notifications", admin, 200, []string{"o-web"}, ""},
		{"a cluster, by a platform user", "clusters/cls-a/notifications", tu, 200, []string{"a-cluster", "a-db", "a-web", "a-web-2"}, ""},
		{"a cluster, by a project admin: their namespace", "clusters/cls-a/notifications", pa, 200, []string{"a-web", "a-web-2"}, ""},
		{"a cluster, by a member: their namespace", "clusters/cls-a/notifications", pm, 200, []string{"a-web", "a-web-2"}, ""},
		{"a cluster, filtered", "clusters/cls-a/notifications?namespace=web&receiver=alice", pa, 200, []string{"a-web"}, ""},
		{"a cluster, by channel and verb", "clusters/cls-a/notifications?channel=" + prjA + "/hook&verb=resolved", pa, 200, []string{"a-web-2"}, ""},
		{"a cluster, failures", "clusters/cls-a/notifications?result=failure", admin, 200, []string{"a-db"}, ""},
		{"a cluster, another project's namespace", "clusters/cls-a/notifications?namespace=db", pa, 403, nil, "pa may not list the notifications of namespace db of cluster cls-a"},
		{"a cluster, by one holding nothing", "clusters/cls-a/notifications", nobody, 403, nil, "nobody may not list the notifications of any namespace of cluster cls-a"},
		{"another tenant's cluster", "clusters/cls-o/notifications", pa, 404, nil, `no cluster \"cls-o\"`},
		{"no such cluster", "clusters/cls-x/notifications", admin, 404, nil, `no cluster \"cls-x\"`},
		{"a bad filter", "clusters/cls-a/notifications?policy=x", pa, 400, nil, `unknown parameter \"policy\"`},
		{"a project", "namespaces/" + prjA + "/notifications", pa, 200, []string{"a-test", "a-web", "a-web-2"}, ""},
		{"a project, by a reader", "namespaces/" + prjA + "/notifications?verb=test", pv, 200, []string{"a-test"}, ""},
		{"a project, by an administrator", "namespaces/" + prjO + "/notifications", admin, 200, []string{"o-web"}, ""},
		{"another project", "namespaces/" + prjB + "/notifications", pa, 403, nil, "pa may not read project prj-bbbbbbbb, so may not list its notifications"},
		{"another tenant's project", "namespaces/" + prjO + "/notifications", pa, 404, nil, `no project \"prj-oooooooo\"`},
		{"no such project", "namespaces/prj-x/notifications", admin, 404, nil, `no project \"prj-x\"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := module(t)
			m.Store = records(t)
			w := serve(t, m, tc.p, http.MethodGet, groupPath+tc.path, "")
			if w.Code != tc.code {
				t.Fatalf("%d %s, want %d", w.Code, w.Body.String(), tc.code)
			}
			if tc.code != 200 {
				if !strings.Contains(w.Body.String(), tc.msg) {
					t.Errorf("%s, want %q", w.Body.String(), tc.msg)
				}
				return
			}
			if got := uids(t, w.Body.String()); !slices.Equal(got, tc.want) {
				t.Errorf("records %v, want %v", got, tc.want)
			}
			if !strings.Contains(w.Body.String(), `"kind":"NotificationList","apiVersion":"notify.tkestack.io/v1"`) {
				t.Errorf("list %s", w.Body.String())
			}
		})
	}
}

func TestRecordsExport(t *testing.T) {
	m, _ := module(t)
	m.Store = records(t)
	for _, tc := range []struct {
		path string
		p    *directory.Principal
		n    int
		file string
	}{
		{"clusters/cls-a/notifications/export", pa, 2, "notifications-cls-a.jsonl"},
		{"clusters/cls-a/notifications/export", admin, 4, "notifications-cls-a.jsonl"},
		{"namespaces/" + prjA + "/notifications/export", pv, 3, "notifications-" + prjA + ".jsonl"},
	} {
		w := serve(t, m, tc.p, http.MethodGet, groupPath+tc.path, "")
		if w.Code != 200 || !strings.Contains(w.Header().Get("Content-Disposition"), tc.file) {
			t.Fatalf("%s: %d %v %s", tc.path, w.Code, w.Header(), w.Body.String())
		}
		n := 0
		for sc := bufio.NewScanner(w.Body); sc.Scan(); n++ {
			if !json.Valid(sc.Bytes()) {
				t.Errorf("%s: line %q is not JSON", tc.path, sc.Text())
			}
		}
		if n != tc.n {
			t.Errorf("%s by %s: %d lines, want %d", tc.path, tc.p.Username, n, tc.n)
		}
	}
	if w := serve(t, m, nobody, http.MethodGet, groupPath+"clusters/cls-a/notifications/export", ""); w.Code != 403 {
		t.Errorf("export by one holding nothing: %d", w.Code)
	}
	m.Store = nil
	if w := serve(t, m, admin, http.MethodGet, groupPath+"clusters/cls-a/notifications", ""); w.Code != 503 || !strings.Contains(w.Body.String(), "without a record store") {
		t.Errorf("without a store: %d %s", w.Code, w.Body.String())
	}
}

// lagging is a cache that has not seen any channel yet.
type lagging struct{ client.Client }

func (l lagging) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if _, ok := obj.(*notifyv1.Channel); ok {
		return apierrors.NewNotFound(notifyv1.GroupVersion.WithResource("channels").GroupResource(), key.Name)
	}
	return l.Client.Get(ctx, key, obj, opts...)
}

// The console's Test follows a channel's creation at once: a cache that
// lags the write must not make it "not found".
func TestTestSendOfAChannelJustMade(t *testing.T) {
	m, c := module(t)
	m.Client = lagging{c}
	s := &sender{}
	m.Queue = s
	w := serve(t, m, pa, http.MethodPost, testPath(prjA, "hook"), `{}`)
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"status":"sent"`) || len(s.calls) != 1 {
		t.Fatalf("%d %s, %d sends", w.Code, w.Body.String(), len(s.calls))
	}
}
