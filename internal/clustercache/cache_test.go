package clustercache

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/rest"
)

// fakeAPIServer answers /readyz after delay, or with 500 while failing is set.
func fakeAPIServer(delay time.Duration, failing *atomic.Bool) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			// Informers' list calls: an empty list is enough here.
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"kind":"List","apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":[]}`))
			return
		}
		time.Sleep(delay)
		if failing.Load() {
			http.Error(w, "etcd down", http.StatusInternalServerError)
			return
		}
		w.Write([]byte("ok"))
	}))
}

func TestHealthThresholdAndSlowness(t *testing.T) {
	oldInterval, oldTimeout := ProbeInterval, ProbeTimeout
	ProbeInterval, ProbeTimeout = 50*time.Millisecond, 2*time.Second
	defer func() { ProbeInterval, ProbeTimeout = oldInterval, oldTimeout }()

	var failing atomic.Bool
	slow := fakeAPIServer(300*time.Millisecond, &failing) // slow, but well within the timeout
	defer slow.Close()
	var mu sync.Mutex
	changes := 0
	c := New(func(string) { mu.Lock(); changes++; mu.Unlock() })
	e, err := c.Ensure("cls-test", &rest.Config{Host: slow.URL}, "v1", "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Remove("cls-test")
	waitFor := func(what string, f func(Health) bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !f(e.Health()) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: health %+v", what, e.Health())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("a slow cluster is healthy", func(h Health) bool { return h.Probed && h.Healthy })
	time.Sleep(time.Second) // several slow probes
	if !e.Health().Healthy {
		t.Fatal("a slow but working cluster was marked unhealthy")
	}

	failing.Store(true)
	waitFor("unhealthy after the threshold", func(h Health) bool { return !h.Healthy && h.LastError != nil })
	failing.Store(false)
	waitFor("healthy again after one success", func(h Health) bool { return h.Healthy })
	mu.Lock()
	defer mu.Unlock()
	if changes < 3 {
		t.Fatalf("%d health changes reported, want at least 3 (first probe, down, up)", changes)
	}

	// A new fingerprint reconnects; the same one keeps the entry.
	same, err := c.Ensure("cls-test", &rest.Config{Host: slow.URL}, "v1", "")
	if err != nil {
		t.Fatal(err)
	}
	if same != e {
		t.Fatal("Ensure with the same fingerprint made a new entry")
	}
	other, err := c.Ensure("cls-test", &rest.Config{Host: slow.URL}, "v2", "")
	if err != nil {
		t.Fatal(err)
	}
	if other == nil || other == e {
		t.Fatal("Ensure with a new credential kept the old entry")
	}
}

func TestRecordThreshold(t *testing.T) {
	e := &Entry{}
	now := time.Now()
	boom := errors.New("connection refused")
	steps := []struct {
		err         error
		wantHealthy bool
		wantChange  bool
	}{
		{nil, true, true},    // first probe
		{boom, true, false},  // 1 failure
		{boom, true, false},  // 2 failures
		{boom, false, true},  // 3: the threshold
		{boom, false, false}, // still down
		{nil, true, true},    // one success brings it back
		{boom, true, false},  // the count starts again
	}
	for i, s := range steps {
		changed := e.record(s.err, now)
		if h := e.Health(); h.Healthy != s.wantHealthy || changed != s.wantChange {
			t.Fatalf("step %d: healthy %v changed %v, want %v %v", i, h.Healthy, changed, s.wantHealthy, s.wantChange)
		}
	}
	// A cluster that fails its very first probe is unhealthy at once.
	fresh := &Entry{}
	if fresh.record(boom, now); fresh.Health().Healthy {
		t.Fatal("a cluster never reached is healthy")
	}
}

// TestMemberUID: a member is served once it answers with the kube-system
// UID recorded at import, and never again once it answers with another.
func TestMemberUID(t *testing.T) {
	oldInterval := ProbeInterval
	ProbeInterval = 50 * time.Millisecond
	defer func() { ProbeInterval = oldInterval }()
	var uid atomic.Value
	uid.Store("uid-a")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/readyz":
			w.Write([]byte("ok"))
		case "/api/v1/namespaces/kube-system":
			w.Write([]byte(`{"kind":"Namespace","apiVersion":"v1","metadata":{"name":"kube-system","uid":"` + uid.Load().(string) + `"}}`))
		default:
			w.Write([]byte(`{"kind":"List","apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":[]}`))
		}
	}))
	defer srv.Close()
	c := New(nil)
	defer c.Remove("cls-a")
	e, err := c.Ensure("cls-a", &rest.Config{Host: srv.URL}, "v1", "uid-a")
	if err != nil {
		t.Fatal(err)
	}
	wait := func(what string, f func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !f() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: health %+v, verified %v", what, e.Health(), e.Verified())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	wait("verified", func() bool { _, ok := c.Get("cls-a"); return ok && e.Verified() == nil && e.Health().Healthy })
	uid.Store("uid-b") // the same address now reaches another cluster
	wait("refused", func() bool { _, ok := c.Get("cls-a"); return !ok && e.MemberChanged() != nil && !e.Health().Healthy })
	if msg := e.MemberChanged().Error(); !strings.Contains(msg, "kube-system UID is uid-b, not uid-a") {
		t.Fatalf("reason %q", msg)
	}
	uid.Store("uid-a") // answering right again does not make it trusted on this connection
	time.Sleep(5 * ProbeInterval)
	if _, ok := c.Get("cls-a"); ok || e.Health().Healthy {
		t.Fatal("a connection that reached another cluster was trusted again")
	}
	// Before its first probe, a new connection is not served either.
	other := &Entry{Name: "cls-x", uid: "uid-x"}
	if other.Verified() == nil {
		t.Fatal("an unprobed connection counts as verified")
	}
}
