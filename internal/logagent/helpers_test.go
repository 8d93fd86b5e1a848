package logagent

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
)

// env is a member cluster for the agent: a fake API server and the
// directories of a node.
type env struct {
	t             *testing.T
	client        *fake.Clientset
	podsDir       string
	stateDir      string
	hostRoot      string
	containerRoot string // the pattern
	queueBytes    int64
	name          string
	log           *logBuffer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	e := &env{
		t: t, client: fake.NewClientset(),
		podsDir: filepath.Join(dir, "pods"), stateDir: filepath.Join(dir, "state"), hostRoot: filepath.Join(dir, "host"),
		name: "node-1", log: &logBuffer{},
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("agent log:\n%s", e.log.String())
		}
	})
	e.containerRoot = filepath.Join(dir, "containers", "{namespace}_{pod}_{uid}", "{container}")
	for _, d := range []string{e.podsDir, filepath.Join(e.hostRoot, "var/log")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func (e *env) options() Options {
	return Options{
		Client: e.client, Cluster: "test", Name: e.name,
		PodsDir: e.podsDir, ContainerRoot: e.containerRoot, HostRoot: e.hostRoot, StateDir: e.stateDir,
		QueueBytes: e.queueBytes, ConfigNamespace: "kube-system",
		Log:          slog.New(slog.NewTextHandler(e.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		PollInterval: 20 * time.Millisecond, ScanInterval: 100 * time.Millisecond,
		FlushInterval: 50 * time.Millisecond, StatusInterval: 200 * time.Millisecond,
	}
}

// running is an agent started by env.start.
type running struct {
	agent  *Agent
	cancel context.CancelFunc
	done   chan error
}

// start runs an agent until stop (or the end of the test).
func (e *env) start() *running {
	e.t.Helper()
	a, err := New(e.options())
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{agent: a, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- a.Run(ctx) }()
	e.t.Cleanup(r.stop)
	return r
}

// stop stops the agent gracefully and waits for it.
func (r *running) stop() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			panic(fmt.Sprintf("agent Run: %v", err))
		}
	case <-time.After(30 * time.Second):
		panic("the agent did not stop within 30s")
	}
}

func (e *env) setConfig(cfg Config) {
	e.t.Helper()
	b, err := json.Marshal(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: ConfigMapName, Namespace: "kube-system"}, Data: map[string]string{ConfigKey: string(b)}}
	cms := e.client.CoreV1().ConfigMaps("kube-system")
	if _, err := cms.Update(context.Background(), cm, metav1.UpdateOptions{}); apierrors.IsNotFound(err) {
		_, err = cms.Create(context.Background(), cm, metav1.CreateOptions{})
		if err != nil {
			e.t.Fatal(err)
		}
	} else if err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) setSecret(data map[string]string) {
	e.t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: SecretName, Namespace: "kube-system"}, StringData: nil, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	if _, err := e.client.CoreV1().Secrets("kube-system").Create(context.Background(), s, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

// pod makes a pod object (not yet stored).
func pod(ns, name, uid string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID(uid), Labels: map[string]string{}},
		Spec:       corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "app"}}},
	}
}

func ownedBy(p *corev1.Pod, kind, name string) *corev1.Pod {
	yes := true
	p.OwnerReferences = append(p.OwnerReferences, metav1.OwnerReference{Kind: kind, Name: name, Controller: &yes, APIVersion: "apps/v1", UID: types.UID(name + "-uid")})
	return p
}

func (e *env) addPod(p *corev1.Pod) {
	e.t.Helper()
	if _, err := e.client.CoreV1().Pods(p.Namespace).Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

// logFile is a pod container's CRI log path (its directory created).
func (e *env) logFile(p *corev1.Pod, container string) string {
	e.t.Helper()
	dir := filepath.Join(e.podsDir, fmt.Sprintf("%s_%s_%s", p.Namespace, p.Name, p.UID), container)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		e.t.Fatal(err)
	}
	return filepath.Join(dir, "0.log")
}

// criWriter appends CRI lines with increasing times.
type criWriter struct {
	t    testing.TB
	path string
	at   time.Time
}

func newCRIWriter(t testing.TB, path string) *criWriter {
	return &criWriter{t: t, path: path, at: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (w *criWriter) raw(s string) {
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		w.t.Error(err)
		return
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		w.t.Error(err)
	}
}

// line writes one full line (as one F line, or as P parts then F).
func (w *criWriter) line(msg string, parts ...string) {
	w.at = w.at.Add(time.Millisecond)
	ts := w.at.Format(time.RFC3339Nano)
	var b strings.Builder
	for _, p := range parts {
		fmt.Fprintf(&b, "%s stdout P %s\n", ts, p)
	}
	fmt.Fprintf(&b, "%s stdout F %s\n", ts, msg)
	w.raw(b.String())
}

// rotate renames the file as the kubelet does; the next line starts a new one.
func (w *criWriter) rotate() {
	if err := os.Rename(w.path, w.path+"."+w.at.Format("20060102-150405.000000000")); err != nil {
		w.t.Error(err)
	}
}

// lokiStandIn is a Loki push endpoint that keeps what it gets.
type lokiStandIn struct {
	*httptest.Server
	mu      sync.Mutex
	lines   []lokiLine
	down    bool
	headers []http.Header
}

type lokiLine struct {
	labels map[string]string
	ts     string
	msg    string
	meta   map[string]string
}

func newLokiStandIn(t *testing.T) *lokiStandIn {
	l := &lokiStandIn{}
	l.Server = httptest.NewServer(http.HandlerFunc(l.serve))
	t.Cleanup(l.Close)
	return l
}

func (l *lokiStandIn) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/loki/api/v1/push" || r.Method != http.MethodPost {
		http.NotFound(w, r)
		return
	}
	l.mu.Lock()
	down := l.down
	l.mu.Unlock()
	if down {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	var push struct {
		Streams []struct {
			Stream map[string]string   `json:"stream"`
			Values [][]json.RawMessage `json:"values"`
		} `json:"streams"`
	}
	body, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(body, &push); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.headers = append(l.headers, r.Header.Clone())
	for _, s := range push.Streams {
		for _, v := range s.Values {
			var ll lokiLine
			ll.labels = s.Stream
			_ = json.Unmarshal(v[0], &ll.ts)
			_ = json.Unmarshal(v[1], &ll.msg)
			if len(v) > 2 {
				_ = json.Unmarshal(v[2], &ll.meta)
			}
			l.lines = append(l.lines, ll)
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

func (l *lokiStandIn) messages() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]string, len(l.lines))
	for i, ll := range l.lines {
		out[i] = ll.msg
	}
	return out
}

func (l *lokiStandIn) setDown(d bool) {
	l.mu.Lock()
	l.down = d
	l.mu.Unlock()
}

func lokiRule(name, url string, ns ...string) Rule {
	return Rule{Name: name, Namespaces: ns, Sinks: []Sink{{Name: "loki", Type: SinkLoki, Loki: &LokiSink{URL: url}}}}
}

// eventually polls cond until it holds or the time is up.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkSequence checks that got is want[0..n) in order, each once.
func checkSequence(t testing.TB, got []string, prefix string, n int) {
	t.Helper()
	if len(got) != n {
		seen := map[string]int{}
		for _, g := range got {
			seen[g]++
		}
		var dup, missing []string
		for i := range n {
			m := fmt.Sprintf("%s%05d", prefix, i)
			switch seen[m] {
			case 0:
				missing = append(missing, m)
			case 1:
			default:
				dup = append(dup, m)
			}
		}
		t.Fatalf("got %d lines, want %d; missing %v; repeated %v", len(got), n, head(missing), head(dup))
	}
	for i, g := range got {
		if want := fmt.Sprintf("%s%05d", prefix, i); g != want {
			t.Fatalf("line %d is %q, want %q (order or duplicates)", i, g, want)
		}
	}
}

func head(s []string) []string {
	if len(s) > 10 {
		return append(s[:10:10], "...")
	}
	return s
}

// status reads the agent's status ConfigMap.
func (e *env) status() (Status, bool) {
	cm, err := e.client.CoreV1().ConfigMaps("kube-system").Get(context.Background(), StatusPrefix+e.name, metav1.GetOptions{})
	if err != nil {
		return Status{}, false
	}
	var s Status
	if err := json.Unmarshal([]byte(cm.Data[StatusKey]), &s); err != nil {
		e.t.Fatalf("status.json: %v", err)
	}
	return s, true
}

func (s Status) sink(rule, sink string) (SinkStatus, bool) {
	for _, r := range s.Rules {
		if r.Rule != rule {
			continue
		}
		for _, ss := range r.Sinks {
			if ss.Sink == sink {
				return ss, true
			}
		}
	}
	return SinkStatus{}, false
}

func (s Status) rule(name string) (RuleStatus, bool) {
	for _, r := range s.Rules {
		if r.Rule == name {
			return r, true
		}
	}
	return RuleStatus{}, false
}

// logBuffer collects the agent's log, shown when a test fails.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// deadAddress is a local address nothing listens on (yet).
func deadAddress(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
