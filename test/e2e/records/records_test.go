// Package records holds the end-to-end tests of the record store: audit
// records of the gateway, the console and the platform's own apiserver, and
// persisted events of a member that goes down and comes back, on SQLite
// and again on a real PostgreSQL.
package records

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kstack/kstack/internal/testutil/pgtest"
	"github.com/kstack/kstack/test/e2e/framework"
)

func TestRecordsSQLite(t *testing.T) {
	run(t, "", nil)
}

func TestRecordsPostgres(t *testing.T) {
	pg := pgtest.New(t)
	run(t, pg.DSN, pg)
}

// env is what the subtests share.
type env struct {
	k          *framework.Kstack
	base       string
	hc         *http.Client
	adminToken string
	cluster    string
	memberKC   string
	alice, bob *framework.Kstack
}

func (e *env) get(t *testing.T, token, path string, q url.Values) (int, string) {
	t.Helper()
	u := e.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return framework.Do(t, e.hc, "GET", u, token, "", "", "")
}

// auditEvent is what the tests read of an audit.k8s.io/v1 Event.
type auditEvent struct {
	AuditID        string
	Verb           string
	RequestURI     string
	User           struct{ Username string }
	ObjectRef      *struct{ Resource, Namespace, Name, Subresource string }
	Annotations    map[string]string
	ResponseStatus struct{ Code int }
}

type auditList struct {
	Metadata struct{ Continue string }
	Items    []auditEvent
}

func (e *env) audit(t *testing.T, token string, q url.Values) auditList {
	t.Helper()
	code, body := e.get(t, token, "/audit/apis/audit.tkestack.io/v1/events", q)
	if code != http.StatusOK {
		t.Fatalf("audit search %v: %d %s", q, code, body)
	}
	var l auditList
	if err := json.Unmarshal([]byte(body), &l); err != nil {
		t.Fatalf("audit search %v: %v\n%s", q, err, body)
	}
	return l
}

// waitAudit waits until the search finds at least one record and returns them.
func (e *env) waitAudit(t *testing.T, token string, q url.Values) []auditEvent {
	t.Helper()
	var l auditList
	framework.Eventually(t, time.Minute, fmt.Sprintf("an audit record for %v", q), func() error {
		l = e.audit(t, token, q)
		if len(l.Items) == 0 {
			return fmt.Errorf("none yet")
		}
		return nil
	})
	return l.Items
}

func run(t *testing.T, dsn string, pg *pgtest.Server) {
	k := framework.New(t)
	k.Env = append(k.Env, "KSTACK_ADMIN_PASSWORD=Adm1n-Passw0rd")
	args := []string{"--listen", framework.FreeAddr(t)}
	if dsn != "" {
		args = append(args, "--record-store", dsn)
	}
	p := k.Up(3*time.Minute, args...)
	hc, tok := k.PlatformHTTP()
	e := &env{k: k, base: p.ConsoleURL, hc: hc, adminToken: tok}
	e.cluster, e.memberKC = k.ImportedCluster("c1", 1)
	framework.CreateUser(t, k, "alice", "Passw0rd-Alice1")
	framework.CreateUser(t, k, "bob", "Passw0rd-Bob1")
	a := strings.TrimSpace(k.MustRun("project", "create", "team-a", "--cluster", e.cluster, "--cpu", "4", "--memory", "8Gi", "--pods", "20", "-o", "name"))
	b := strings.TrimSpace(k.MustRun("project", "create", "team-b", "--cluster", e.cluster, "--cpu", "1", "-o", "name"))
	k.MustRun("project", "add-member", a, "alice")
	k.MustRun("project", "add-member", b, "bob")
	k.MustRun("namespace", "create", "web", "--project", a, "--cluster", e.cluster, "--cpu", "2", "--memory", "2Gi", "--pods", "10")
	k.MustRun("namespace", "create", "api", "--project", b, "--cluster", e.cluster, "--cpu", "500m")
	e.alice = framework.Login(t, k, "default", "alice", "Passw0rd-Alice1")
	e.bob = framework.Login(t, k, "default", "bob", "Passw0rd-Bob1")

	t.Run("audit", func(t *testing.T) { testAudit(t, e, p.Kubeconfig) })
	t.Run("events", func(t *testing.T) { testEvents(t, e) })
	t.Run("bad input", func(t *testing.T) { testBadInput(t, e) })
	if pg != nil {
		t.Run("postgres down and back", func(t *testing.T) { testPostgresOutage(t, e, pg) })
		t.Run("postgres down at start", func(t *testing.T) { testPostgresDownAtStart(t, e) })
	}
}

func testAudit(t *testing.T, e *env, breakGlass string) {
	k := e.k
	// Through the proxy, as alice.
	akc := filepath.Join(t.TempDir(), "alice.kubeconfig")
	e.alice.MustRun("kubeconfig", "--cluster", e.cluster, "-f", akc)
	e.alice.MustKubectl(akc, "-n", "web", "create", "deployment", "shop", "--image=nginx", "--replicas=1")
	// Through the console, as alice.
	c := framework.ConsoleLogin(t, e.base, "alice", "Passw0rd-Alice1")
	if code, body := c.Post(t, "/console/business/"+e.cluster+"/web/deployments/shop/scale", url.Values{"replicas": {"2"}}); code >= 400 {
		t.Fatalf("scaling through the console: %d %s", code, body)
	}
	// With the break-glass kubeconfig, straight to the platform's apiserver.
	k.MustKubectl(breakGlass, "-n", "default", "create", "configmap", "break-glass-note")
	// Bob reads his namespace, so that he has records of his own.
	bkc := filepath.Join(t.TempDir(), "bob.kubeconfig")
	e.bob.MustRun("kubeconfig", "--cluster", e.cluster, "-f", bkc)
	e.bob.MustKubectl(bkc, "-n", "api", "get", "configmaps")

	proxied := e.waitAudit(t, e.adminToken, url.Values{"user": {"alice"}, "verb": {"create"}, "resource": {"deployments"}, "cluster": {e.cluster}})
	if ev := proxied[0]; ev.ObjectRef == nil || ev.ObjectRef.Namespace != "web" || ev.ObjectRef.Name != "shop" || ev.Annotations["kstack.io/via"] != "proxy" || ev.ResponseStatus.Code != http.StatusCreated {
		t.Fatalf("the proxied create is recorded as %+v", ev)
	}
	framework.Eventually(t, time.Minute, "a console record of alice scaling shop", func() error {
		l := e.audit(t, e.adminToken, url.Values{"user": {"alice"}, "resource": {"deployments"}, "name": {"shop"}, "verb": {"patch"}})
		for _, ev := range l.Items {
			if ev.Annotations["kstack.io/via"] == "console" && ev.ObjectRef.Subresource == "scale" && ev.ResponseStatus.Code == http.StatusOK {
				return nil
			}
		}
		return fmt.Errorf("none among %+v", l.Items)
	})
	bg := e.waitAudit(t, e.adminToken, url.Values{"user": {"kstack-admin"}, "resource": {"configmaps"}, "name": {"break-glass-note"}})
	if ev := bg[0]; ev.Verb != "create" || ev.Annotations["kstack.io/via"] != "apiserver" || ev.ObjectRef.Namespace != "default" {
		t.Fatalf("the break-glass write is recorded as %+v", ev)
	}

	// A project member sees their own operations, and no one else's.
	aliceTok := framework.Token(t, e.alice)
	own := e.audit(t, aliceTok, url.Values{"limit": {"1000"}})
	if len(own.Items) == 0 {
		t.Fatal("alice finds none of her own operations")
	}
	for _, ev := range own.Items {
		if ev.User.Username != "alice" {
			t.Fatalf("alice's search shows %s's operation %s", ev.User.Username, ev.RequestURI)
		}
	}
	if code, body := e.get(t, aliceTok, "/audit/apis/audit.tkestack.io/v1/events", url.Values{"user": {"bob"}}); code != http.StatusForbidden || !strings.Contains(body, "only their own operations") {
		t.Fatalf("alice searching bob's operations: %d %s", code, body)
	}
	bobs := e.audit(t, framework.Token(t, e.bob), url.Values{"resource": {"configmaps"}})
	if len(bobs.Items) == 0 {
		t.Fatal("bob finds none of his own operations")
	}
	for _, ev := range bobs.Items {
		if ev.User.Username != "bob" {
			t.Fatalf("bob's search shows %s's operation %s", ev.User.Username, ev.RequestURI)
		}
	}

	// Pages: every record once, as many as one big page holds.
	whole := e.audit(t, e.adminToken, url.Values{"user": {"alice"}, "limit": {"1000"}})
	seen := map[string]bool{}
	q := url.Values{"user": {"alice"}, "limit": {"3"}}
	for {
		l := e.audit(t, e.adminToken, q)
		for _, ev := range l.Items {
			if seen[ev.AuditID] {
				t.Fatalf("record %s on two pages", ev.AuditID)
			}
			seen[ev.AuditID] = true
		}
		if l.Metadata.Continue == "" {
			break
		}
		q.Set("continue", l.Metadata.Continue)
	}
	if len(seen) != len(whole.Items) || len(seen) < 3 {
		t.Fatalf("paging by 3 found %d of alice's records, one page of 1000 finds %d", len(seen), len(whole.Items))
	}

	// The export is JSON lines of the same records.
	code, body := e.get(t, e.adminToken, "/audit/apis/audit.tkestack.io/v1/events/export", url.Values{"user": {"alice"}})
	if code != http.StatusOK {
		t.Fatalf("export: %d %s", code, body)
	}
	lines := strings.Split(strings.TrimSpace(body), "\n")
	if len(lines) != len(whole.Items) {
		t.Fatalf("the export has %d lines, the search %d records", len(lines), len(whole.Items))
	}
	for _, l := range lines {
		var ev auditEvent
		if err := json.Unmarshal([]byte(l), &ev); err != nil || ev.User.Username != "alice" {
			t.Fatalf("export line %q: %v", l, err)
		}
	}
}

// eventList is what the tests read of a core/v1 EventList.
type eventList struct {
	Metadata struct{ Continue string }
	Items    []struct {
		Metadata struct{ Name, Namespace, UID string }
		Count    int
		Reason   string
	}
}

func (e *env) events(t *testing.T, token string, q url.Values) (int, eventList, string) {
	t.Helper()
	code, body := e.get(t, token, "/event/apis/event.tkestack.io/v1/clusters/"+e.cluster+"/events", q)
	var l eventList
	if code == http.StatusOK {
		if err := json.Unmarshal([]byte(body), &l); err != nil {
			t.Fatalf("event search %v: %v\n%s", q, err, body)
		}
	}
	return code, l, body
}

// createEvents makes events prefix-from .. prefix-(from+n-1) in namespace
// of the member, straight in the member.
func (e *env) createEvents(t *testing.T, namespace, prefix string, from, n int) {
	t.Helper()
	now := time.Now().UTC().Format(time.RFC3339)
	var docs []string
	for i := from; i < from+n; i++ {
		docs = append(docs, fmt.Sprintf(`apiVersion: v1
kind: Event
metadata:
  name: %s-%d
  namespace: %s
involvedObject:
  kind: Pod
  name: pod-%d
  namespace: %s
reason: KstackTest
message: event %d of the records test
type: Normal
count: 1
firstTimestamp: %s
lastTimestamp: %s
source:
  component: kstack-e2e
`, prefix, i, namespace, i, namespace, i, now, now))
	}
	f := filepath.Join(t.TempDir(), "events.yaml")
	if err := os.WriteFile(f, []byte(strings.Join(docs, "---\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	e.k.MustKubectl(e.memberKC, "create", "-f", f)
}

// waitEvents waits until the search in namespace finds exactly want events
// of the test, each once, and returns them by name.
func (e *env) waitEvents(t *testing.T, token, namespace string, want int) map[string]int {
	t.Helper()
	var got map[string]int
	framework.Eventually(t, 2*time.Minute, fmt.Sprintf("%d persisted events in %s", want, namespace), func() error {
		code, l, body := e.events(t, token, url.Values{"namespace": {namespace}, "reason": {"KstackTest"}, "limit": {"1000"}})
		if code != http.StatusOK {
			return fmt.Errorf("%d %s", code, body)
		}
		got = map[string]int{}
		uids := map[string]bool{}
		for _, ev := range l.Items {
			if uids[ev.Metadata.UID] {
				t.Fatalf("event %s/%s (UID %s) is stored twice", ev.Metadata.Namespace, ev.Metadata.Name, ev.Metadata.UID)
			}
			uids[ev.Metadata.UID] = true
			got[ev.Metadata.Name] = ev.Count
		}
		if len(got) != want {
			return fmt.Errorf("%d of %d", len(got), want)
		}
		return nil
	})
	return got
}

func testEvents(t *testing.T, e *env) {
	k := e.k
	// Off until an administrator switches it on: alice may not.
	aliceTok := framework.Token(t, e.alice)
	patch := `{"spec":{"features":{"eventPersistence":true}}}`
	clusterURL := e.base + "/platform/apis/platform.tkestack.io/v1/clusters/" + e.cluster
	if code, body := framework.Do(t, e.hc, "PATCH", clusterURL, aliceTok, "", "application/merge-patch+json", patch); code < 400 {
		t.Fatalf("alice switched event persistence on: %d %s", code, body)
	}
	if code, body := framework.Do(t, e.hc, "PATCH", clusterURL, e.adminToken, "", "application/merge-patch+json", patch); code != http.StatusOK {
		t.Fatalf("switching event persistence on: %d %s", code, body)
	}
	e.createEvents(t, "web", "web", 0, 20)
	e.createEvents(t, "api", "api", 0, 10)
	e.waitEvents(t, e.adminToken, "web", 20)
	e.waitEvents(t, e.adminToken, "api", 10)

	// The member goes down and comes back; more events, and one seen again
	// with a higher count.
	k.MustRun("local", "stop", "c1")
	k.MustRun("local", "start", "c1")
	framework.Eventually(t, 2*time.Minute, "the member's apiserver back", func() error {
		_, err := k.Kubectl(e.memberKC, "get", "--raw", "/readyz")
		return err
	})
	e.createEvents(t, "web", "web", 20, 10)
	k.MustKubectl(e.memberKC, "-n", "web", "patch", "event", "web-0", "--type", "merge", "-p", `{"count":5}`)
	framework.Eventually(t, 2*time.Minute, "web-0 seen again with count 5", func() error {
		got := e.waitEvents(t, e.adminToken, "web", 30)
		if got["web-0"] != 5 {
			return fmt.Errorf("web-0 has count %d", got["web-0"])
		}
		return nil
	})
	got := e.waitEvents(t, e.adminToken, "web", 30)
	for i := 0; i < 30; i++ {
		if _, ok := got[fmt.Sprintf("web-%d", i)]; !ok {
			t.Fatalf("event web-%d was lost: have %v", i, got)
		}
	}

	// A project member searches their project's namespaces only.
	code, l, body := e.events(t, aliceTok, url.Values{"reason": {"KstackTest"}, "limit": {"1000"}})
	if code != http.StatusOK || len(l.Items) != 30 {
		t.Fatalf("alice's event search: %d, %d events, want 30 of web\n%s", code, len(l.Items), body)
	}
	for _, ev := range l.Items {
		if ev.Metadata.Namespace != "web" {
			t.Fatalf("alice sees an event of namespace %s", ev.Metadata.Namespace)
		}
	}
	if code, _, body := e.events(t, aliceTok, url.Values{"namespace": {"api"}}); code != http.StatusForbidden {
		t.Fatalf("alice searching namespace api of project team-b: %d %s", code, body)
	}
	bobTok := framework.Token(t, e.bob)
	if got := e.waitEvents(t, bobTok, "api", 10); len(got) != 10 {
		t.Fatalf("bob finds %d events of api", len(got))
	}
	if code, _, body := e.events(t, bobTok, url.Values{"namespace": {"web"}}); code != http.StatusForbidden {
		t.Fatalf("bob searching namespace web of project team-a: %d %s", code, body)
	}
}

func testBadInput(t *testing.T, e *env) {
	for _, tt := range []struct {
		name, path string
		q          url.Values
		code       int
		want       string
	}{
		{"inverted time range", "/audit/apis/audit.tkestack.io/v1/events", url.Values{"startTime": {"2026-12-01T00:00:00Z"}, "endTime": {"2026-11-01T00:00:00Z"}}, 400, "is before startTime"},
		{"unparseable time", "/audit/apis/audit.tkestack.io/v1/events", url.Values{"startTime": {"yesterday"}}, 400, "is not a time: use RFC 3339"},
		{"page size over the limit", "/audit/apis/audit.tkestack.io/v1/events", url.Values{"limit": {"5000"}}, 400, "over the maximum 1000"},
		{"bad continue token", "/audit/apis/audit.tkestack.io/v1/events", url.Values{"continue": {"not-a-token"}}, 400, "continue"},
		{"unknown filter", "/audit/apis/audit.tkestack.io/v1/events", url.Values{"usr": {"alice"}}, 400, `unknown parameter \"usr\": this search takes cluster`},
		{"bad result", "/audit/apis/audit.tkestack.io/v1/events", url.Values{"result": {"maybe"}}, 400, "use success or failure"},
		{"events: inverted time range", "/event/apis/event.tkestack.io/v1/clusters/" + e.cluster + "/events", url.Values{"startTime": {"1800000000"}, "endTime": {"1700000000"}}, 400, "is before startTime"},
		{"events: page size over the limit", "/event/apis/event.tkestack.io/v1/clusters/" + e.cluster + "/events", url.Values{"limit": {"1001"}}, 400, "over the maximum 1000"},
		{"events: no such cluster", "/event/apis/event.tkestack.io/v1/clusters/cls-nope0000/events", nil, 404, "no cluster"},
	} {
		code, body := e.get(t, e.adminToken, tt.path, tt.q)
		if code != tt.code || !strings.Contains(body, tt.want) {
			t.Errorf("%s: %d %s, want %d with %q", tt.name, code, body, tt.code, tt.want)
		}
	}
}

// testPostgresOutage: records made while PostgreSQL is down wait in the
// queue and are written when it returns.
func testPostgresOutage(t *testing.T, e *env, pg *pgtest.Server) {
	akc := filepath.Join(t.TempDir(), "alice.kubeconfig")
	e.alice.MustRun("kubeconfig", "--cluster", e.cluster, "-f", akc)
	pg.Stop()
	e.alice.MustKubectl(akc, "-n", "web", "create", "configmap", "made-during-outage")
	if code, body := e.get(t, e.adminToken, "/audit/apis/audit.tkestack.io/v1/events", url.Values{"name": {"made-during-outage"}}); code != http.StatusServiceUnavailable {
		t.Fatalf("searching while PostgreSQL is down: %d %s, want 503", code, body)
	}
	pg.Start()
	var found []auditEvent
	framework.Eventually(t, 2*time.Minute, "the record made during the outage", func() error {
		code, body := e.get(t, e.adminToken, "/audit/apis/audit.tkestack.io/v1/events", url.Values{"name": {"made-during-outage"}, "user": {"alice"}})
		if code != http.StatusOK {
			return fmt.Errorf("%d %s", code, body)
		}
		var l auditList
		if err := json.Unmarshal([]byte(body), &l); err != nil {
			return err
		}
		if len(l.Items) == 0 {
			return fmt.Errorf("not written yet")
		}
		found = l.Items
		return nil
	})
	if len(found) != 1 || found[0].Verb != "create" {
		t.Fatalf("the outage's record: %+v", found)
	}
}

// testPostgresDownAtStart: a replica whose PostgreSQL is not there says so
// and stops, rather than serving without a record store.
func testPostgresDownAtStart(t *testing.T, e *env) {
	pdir := filepath.Join(e.k.DataDir, "platform")
	cmd := exec.Command(e.k.Bin, "platform", "run",
		"--kubeconfig", filepath.Join(pdir, "kubeconfig", "platform.kubeconfig"),
		"--listen", framework.FreeAddr(t),
		"--tls-cert-file", filepath.Join(pdir, "pki", "gateway.crt"), "--tls-key-file", filepath.Join(pdir, "pki", "gateway.key"),
		"--record-store", "postgres://kstack@127.0.0.1:1/records?sslmode=disable", "--record-queue-dir", t.TempDir())
	done := make(chan []byte, 1)
	go func() {
		out, _ := cmd.CombinedOutput()
		done <- out
	}()
	select {
	case out := <-done:
		if cmd.ProcessState.Success() || !strings.Contains(string(out), "open the record store") || !strings.Contains(string(out), "127.0.0.1:1") {
			t.Fatalf("platform run with PostgreSQL down: %v\n%s", cmd.ProcessState, out)
		}
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatal("platform run with PostgreSQL down did not stop within 2 minutes")
	}
}
