package logagent

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// An unreachable sink: lines wait in its queue; past --queue-bytes they are
// dropped and counted, which the status shows; when the sink comes back the
// queued lines arrive, in order.
func TestUnreachableSinkQueuesThenDelivers(t *testing.T) {
	e := newEnv(t)
	e.queueBytes = 8 << 10
	// The sink's address is held from the start, refusing every connection
	// until it comes back: no other program can take the port meanwhile.
	gate, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &gateListener{Listener: gate}
	addr := gate.Addr().String()
	loki := &lokiStandIn{}
	srv := &http.Server{Handler: http.HandlerFunc(loki.serve)}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	e.setConfig(Config{Rules: []Rule{lokiRule("shop/down", "http://"+addr, "shop")}})
	p := pod("shop", "web-1", "uid-1")
	e.addPod(p)
	w := newCRIWriter(t, e.logFile(p, "app"))
	n := 0
	write := func(k int) {
		for range k {
			w.line(fmt.Sprintf("U%05d", n))
			n++
		}
	}
	write(5)
	e.start()
	var st SinkStatus
	eventually(t, 10*time.Second, "the status to show 5 queued lines of a failing sink", func() bool {
		s, _ := e.status()
		st, _ = s.sink("shop/down", "loki")
		return st.Queued == 5 && !st.Healthy && st.LastError != "" && st.LastErrorTime != nil
	})
	if st.Dropped != 0 || st.Delivered != 0 {
		t.Fatalf("before the queue is full: %+v", st)
	}

	// Overflow.
	write(100)
	eventually(t, 10*time.Second, "the status to count dropped lines", func() bool {
		s, _ := e.status()
		st, _ = s.sink("shop/down", "loki")
		return st.Dropped > 0 && st.Queued+st.Dropped == int64(n)
	})
	if !strings.Contains(st.LastError, "queue full") {
		t.Errorf("last error %q does not say the queue is full", st.LastError)
	}
	queued := int(st.Queued)
	t.Logf("queued %d, dropped %d", st.Queued, st.Dropped)

	// The sink comes back at the same address.
	ln.up.Store(true)
	eventually(t, 40*time.Second, "the queued lines", func() bool { return len(loki.messages()) >= queued })
	checkSequence(t, loki.messages(), "U", queued)
	eventually(t, 5*time.Second, "the status to turn healthy", func() bool {
		s, _ := e.status()
		st, _ = s.sink("shop/down", "loki")
		return st.Healthy && st.Queued == 0 && st.Delivered == int64(queued)
	})
	if got := strings.Count(e.log.String(), "sink failing"); got != 1 {
		t.Errorf("%d 'sink failing' logs for one outage, want 1", got)
	}
	if !strings.Contains(e.log.String(), "sink recovered") {
		t.Error("no 'sink recovered' log")
	}
}

// gateListener closes every connection while it is not up: a sink that is
// down at an address that stays its own.
type gateListener struct {
	net.Listener
	up atomic.Bool
}

func (g *gateListener) Accept() (net.Conn, error) {
	for {
		c, err := g.Listener.Accept()
		if err != nil || g.up.Load() {
			return c, err
		}
		c.Close()
	}
}

// esStandIn is an Elasticsearch _bulk endpoint that stores documents by _id.
type esStandIn struct {
	*httptest.Server
	mu       sync.Mutex
	docs     map[string]Record
	order    []string
	user     string
	password string
}

func newESStandIn(t *testing.T, user, password string) *esStandIn {
	s := &esStandIn{docs: map[string]Record{}, user: user, password: password}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *esStandIn) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/_bulk" || r.Method != http.MethodPost {
		http.NotFound(w, r)
		return
	}
	if u, p, _ := r.BasicAuth(); u != s.user || p != s.password {
		http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
		return
	}
	sc := bufio.NewScanner(r.Body)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	type item map[string]any
	var items []item
	errors := false
	s.mu.Lock()
	defer s.mu.Unlock()
	for sc.Scan() {
		var action map[string]struct {
			Index string `json:"_index"`
			ID    string `json:"_id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &action); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		a, ok := action["create"]
		if !ok || a.Index != "logs" || a.ID == "" || !sc.Scan() {
			http.Error(w, "want create actions with _index logs and an _id", http.StatusBadRequest)
			return
		}
		var rec Record
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		switch {
		case strings.Contains(rec.Message, "reject-me"):
			errors = true
			items = append(items, item{"create": map[string]any{"status": 400, "error": map[string]any{"type": "mapper_parsing_exception", "reason": "failed to parse"}}})
		case s.docs[a.ID].Message != "":
			errors = true
			items = append(items, item{"create": map[string]any{"status": 409, "error": map[string]any{"type": "version_conflict_engine_exception", "reason": "document already exists"}}})
		default:
			s.docs[a.ID] = rec
			s.order = append(s.order, a.ID)
			items = append(items, item{"create": map[string]any{"status": 201}})
		}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"errors": errors, "items": items})
}

func (s *esStandIn) messages() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, id := range s.order {
		out = append(out, s.docs[id].Message)
	}
	return out
}

// Elasticsearch: create actions with the line's identity as _id (a line
// sent twice is stored once), failover to the next address, a refused line
// dropped and counted, the password from the sinks Secret, and a changed
// Secret applied without a restart.
func TestElasticsearchBulk(t *testing.T) {
	e := newEnv(t)
	es := newESStandIn(t, "elastic", "right")
	e.setSecret(map[string]string{"es-password": "wrong"})
	e.setConfig(Config{Rules: []Rule{{Name: "shop/es", Namespaces: []string{"shop"}, Sinks: []Sink{{Name: "es", Type: SinkElasticsearch,
		Elasticsearch: &ESSink{Addresses: []string{"http://" + deadAddress(t), es.URL}, Index: "logs", Username: "elastic", PasswordKey: "es-password"}}}}}})
	p := pod("shop", "web-1", "uid-1")
	e.addPod(p)
	w := newCRIWriter(t, e.logFile(p, "app"))
	for i := range 5 {
		w.line(fmt.Sprintf("E%05d", i))
	}
	w.line("reject-me")
	w.line("E00005")
	e.start()
	eventually(t, 10*time.Second, "the status to show the refused credential", func() bool {
		s, _ := e.status()
		st, _ := s.sink("shop/es", "es")
		return !st.Healthy && strings.Contains(st.LastError, "401")
	})
	if len(es.messages()) != 0 {
		t.Fatal("stored with a wrong password")
	}
	// The platform fixes the Secret.
	sec, _ := e.client.CoreV1().Secrets("kube-system").Get(context.Background(), SecretName, metav1.GetOptions{})
	sec.Data["es-password"] = []byte("right")
	if _, err := e.client.CoreV1().Secrets("kube-system").Update(context.Background(), sec, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 40*time.Second, "the lines", func() bool { return len(es.messages()) >= 6 })
	checkSequence(t, es.messages(), "E", 6)
	var st SinkStatus
	eventually(t, 5*time.Second, "the status to count the refused line", func() bool {
		s, _ := e.status()
		st, _ = s.sink("shop/es", "es")
		return st.Delivered == 6 && st.Dropped == 1 && st.Healthy
	})
	if !strings.Contains(st.LastError, "mapper_parsing_exception") {
		t.Errorf("last error %q", st.LastError)
	}

	// A batch sent again is stored once (409 counts as delivered).
	sink, err := newES(&ESSink{Addresses: []string{es.URL}, Index: "logs", Username: "elastic"}, "right")
	if err != nil {
		t.Fatal(err)
	}
	rec, _ := json.Marshal(Record{Message: "E00000", Rule: "shop/es"})
	again := []*item{{Source: "x#1:2", Offset: 0, Record: rec}}
	for range 2 {
		done, rejected, _, err := sink.deliver(context.Background(), again)
		if done != 1 || rejected != 0 || err != nil {
			t.Fatalf("deliver: %d %d %v", done, rejected, err)
		}
	}
	if got := len(es.messages()); got != 7 {
		t.Errorf("%d documents after sending one line twice, want 7", got)
	}
	if again[0].docID("r") != (&item{Source: "x#1:2", Offset: 0}).docID("r") || again[0].docID("r") == again[0].docID("other") {
		t.Error("the _id is not the line's identity and rule")
	}
}

// Loki: the tenant header, basic auth with the Secret's password, the sink's
// labels; and a config change (a sink added) applied while the file is
// read on, neither repeating nor losing a line.
func TestLokiPushAndReconfigure(t *testing.T) {
	e := newEnv(t)
	loki1 := newLokiStandIn(t)
	loki2 := newLokiStandIn(t)
	e.setSecret(map[string]string{"loki": "pw"})
	rule := Rule{Name: "shop/loki", Namespaces: []string{"shop"}, Sinks: []Sink{{Name: "one", Type: SinkLoki,
		Loki: &LokiSink{URL: loki1.URL + "/", TenantID: "team-a", Username: "agent", PasswordKey: "loki", Labels: map[string]string{"env": "prod"}}}}}
	e.setConfig(Config{Rules: []Rule{rule}})
	p := pod("shop", "web-1", "uid-1")
	e.addPod(p)
	w := newCRIWriter(t, e.logFile(p, "app"))
	n := 0
	write := func(k int) {
		for range k {
			w.line(fmt.Sprintf("R%05d", n))
			n++
		}
	}
	write(10)
	e.start()
	eventually(t, 10*time.Second, "the first lines", func() bool { return len(loki1.messages()) == 10 })
	loki1.mu.Lock()
	h := loki1.headers[0]
	labels := loki1.lines[0].labels
	loki1.mu.Unlock()
	if u, pw, _ := (&http.Request{Header: h}).BasicAuth(); h.Get("X-Scope-OrgID") != "team-a" || u != "agent" || pw != "pw" {
		t.Errorf("push headers %v", h)
	}
	if labels["env"] != "prod" || labels["rule"] != "shop/loki" || labels["cluster"] != "test" {
		t.Errorf("labels %v", labels)
	}

	rule.Sinks = append(rule.Sinks, Sink{Name: "two", Type: SinkLoki, Loki: &LokiSink{URL: loki2.URL}})
	e.setConfig(Config{Rules: []Rule{rule}})
	eventually(t, 10*time.Second, "the second sink", func() bool {
		s, _ := e.status()
		_, ok := s.sink("shop/loki", "two")
		return ok
	})
	write(10)
	eventually(t, 10*time.Second, "the later lines", func() bool { return len(loki1.messages()) == 20 && len(loki2.messages()) == 10 })
	time.Sleep(200 * time.Millisecond)
	checkSequence(t, loki1.messages(), "R", 20)
	if got := loki2.messages(); got[0] != "R00010" || got[9] != "R00019" {
		t.Errorf("a sink added later got %v, want the lines written after", got)
	}

	// Removing the rule stops collecting; its queues go.
	e.setConfig(Config{})
	eventually(t, 10*time.Second, "the rule to go", func() bool {
		s, _ := e.status()
		return len(s.Rules) == 0
	})
	write(5)
	time.Sleep(300 * time.Millisecond)
	if len(loki1.messages()) != 20 {
		t.Errorf("lines collected after the rule was removed")
	}
}
