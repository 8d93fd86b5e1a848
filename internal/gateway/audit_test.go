package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"

	"github.com/kstack/kstack/internal/audit"
	"github.com/kstack/kstack/internal/auth/authn"
)

// entries collects what the gateway records.
type entries struct {
	mu sync.Mutex
	l  []audit.Entry
}

func (e *entries) add(x audit.Entry) { e.mu.Lock(); e.l = append(e.l, x); e.mu.Unlock() }
func (e *entries) all() []audit.Entry {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]audit.Entry(nil), e.l...)
}

func TestAuditRecordsEveryRequest(t *testing.T) {
	s, _ := listFixture(t)
	var got entries
	s.Audit = got.add
	hc := &http.Client{Transport: s.AsUser(pipeAlice)}
	do := func(ctx context.Context, method, path string) int {
		req, _ := http.NewRequestWithContext(ctx, method, "http://kstack.invalid"+path, nil)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	// A list that is served, a read that is refused, and a call the
	// console makes for a browser.
	if code := do(context.Background(), "GET", "/apis/auth.tkestack.io/v1/users"); code != http.StatusOK {
		t.Fatalf("list users: %d", code)
	}
	if code := do(context.Background(), "DELETE", "/apis/auth.tkestack.io/v1/users"); code != http.StatusForbidden {
		t.Fatalf("delete every user: %d, want 403", code)
	}
	console := audit.WithOrigin(context.Background(), audit.Origin{Via: audit.ViaConsole, SourceIP: "192.0.2.7", UserAgent: "Firefox"})
	do(console, "GET", "/apis/auth.tkestack.io/v1/users")

	l := got.all()
	if len(l) != 3 {
		t.Fatalf("%d entries, want 3: %+v", len(l), l)
	}
	ok, refused, fromConsole := l[0], l[1], l[2]
	if ok.User != pipeAlice || ok.Code != http.StatusOK || ok.Attributes == nil || ok.Attributes.Verb != "list" || ok.Attributes.Plural != "users" || ok.Cluster != "" {
		t.Errorf("served request recorded as %+v", ok)
	}
	if refused.Code != http.StatusForbidden || refused.Attributes == nil || refused.Attributes.Verb != "deletecollection" {
		t.Errorf("refused request recorded as %+v (attributes %+v)", refused, refused.Attributes)
	}
	if fromConsole.Origin == nil || fromConsole.Origin.Via != audit.ViaConsole || fromConsole.Origin.SourceIP != "192.0.2.7" {
		t.Errorf("console request recorded with origin %+v", fromConsole.Origin)
	}
}

func TestAuditRecordsFailedAuthentication(t *testing.T) {
	var got entries
	s := &Server{Auth: &authn.Authenticator{AdminTokenHash: sha256.Sum256([]byte("secret-token"))}, Audit: got.add}
	req := httptest.NewRequest(http.MethodDelete, "/platform/apis/platform.tkestack.io/v1/clusters/x", nil)
	req.Header.Set("Authorization", "Bearer wrong")
	req.RemoteAddr = "198.51.100.9:4242"
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, req)
	l := got.all()
	if w.Code != http.StatusUnauthorized || len(l) != 1 {
		t.Fatalf("%d, %d entries", w.Code, len(l))
	}
	if e := l[0]; e.User != nil || e.Code != http.StatusUnauthorized || e.SourceIP != "198.51.100.9" || e.Method != http.MethodDelete {
		t.Errorf("failed authentication recorded as %+v", e)
	}
}

func TestCreatedName(t *testing.T) {
	w := &statusWriter{ResponseWriter: httptest.NewRecorder(), keep: true}
	w.WriteHeader(http.StatusCreated)
	w.Write([]byte(`{"kind":"ConfigMap","metadata":{"name":"gen-`))
	w.Write([]byte(`x7k2","namespace":"web"}}`))
	if got := createdName(w.kept.Bytes()); got != "gen-x7k2" || w.code != http.StatusCreated {
		t.Errorf("createdName = %q (code %d), want gen-x7k2", got, w.code)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "from-protobuf", Namespace: "web"}, Data: map[string]string{"k": "v"}}
	var pb bytes.Buffer
	if err := protobuf.NewSerializer(nil, nil).Encode(cm, &pb); err != nil {
		t.Fatal(err)
	}
	if got := createdName(pb.Bytes()); got != "from-protobuf" {
		t.Errorf("a protobuf answer gave the name %q, want from-protobuf", got)
	}
	if got := createdName([]byte("k8s\x00garbage")); got != "" {
		t.Errorf("a broken protobuf answer gave the name %q", got)
	}
	big := &statusWriter{ResponseWriter: httptest.NewRecorder(), keep: true}
	big.Write(make([]byte, maxKept))
	big.Write([]byte("more"))
	if big.keep || big.kept.Len() > maxKept {
		t.Errorf("kept %d bytes of an answer over %d", big.kept.Len(), maxKept)
	}
}
