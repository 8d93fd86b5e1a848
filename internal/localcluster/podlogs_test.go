package localcluster

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	crilogs "k8s.io/cri-client/pkg/logs"
	kwokfake "sigs.k8s.io/kwok/pkg/client/clientset/versioned/fake"

	"github.com/kstack/kstack/internal/controlplane"
)

// readLikeKwok reads a log file as kwok serves `kubectl logs`: with the
// kubelet's CRI log reader.
func readLikeKwok(t *testing.T, path string, timestamps bool) string {
	t.Helper()
	var out bytes.Buffer
	opts := &crilogs.LogOptions{Timestamp: timestamps}
	if err := crilogs.ReadLogs(context.Background(), path, "", opts, nil, &out, &out); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestAppendContainerLogWritesCRILines(t *testing.T) {
	dir := t.TempDir()
	long := strings.Repeat("x", maxCRILine+10)
	if err := AppendContainerLog(dir, "ns", "web-1", "u1", "app", "hello", "two\nlines", "", long); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "var", "log", "pods", "ns_web-1_u1", "app", "0.log")
	if file != ContainerLogFile(dir, "ns", "web-1", "u1", "app") {
		t.Fatalf("ContainerLogFile = %s", ContainerLogFile(dir, "ns", "web-1", "u1", "app"))
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	if len(lines) != 6 {
		t.Fatalf("%d lines:\n%s", len(lines), raw)
	}
	// TIME stdout F|P MESSAGE, the time fixed-width RFC 3339 in UTC.
	f := strings.SplitN(lines[0], " ", 4)
	if _, err := time.Parse(criTimeLayout, f[0]); err != nil || len(f[0]) != len("2006-01-02T15:04:05.000000000Z") || f[1] != "stdout" || f[2] != "F" || f[3] != "hello" {
		t.Errorf("first line %q (%v)", lines[0], err)
	}
	if !strings.Contains(lines[4], " stdout P ") || !strings.HasSuffix(lines[5], " stdout F xxxxxxxxxx") {
		t.Errorf("long line not split into P and F: %.60q... %q", lines[4], lines[5])
	}

	// kubectl logs shows the messages alone, as from a kubelet.
	if got, want := readLikeKwok(t, file, false), "hello\ntwo\nlines\n\n"+long+"\n"; got != want {
		t.Errorf("read back %.80q, want %.80q", got, want)
	}
	// --timestamps puts the line's time in front.
	if got := readLikeKwok(t, file, true); !strings.HasPrefix(got, f[0]+" hello\n") {
		t.Errorf("with timestamps: %.80q", got)
	}
}

func TestRotateLogMakesANewFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "0.log")
	if err := appendFile(file, appendCRI(nil, time.Now(), "stdout", strings.Repeat("y", 100))); err != nil {
		t.Fatal(err)
	}
	ino := func() uint64 {
		st, err := os.Stat(file)
		if err != nil {
			t.Fatal(err)
		}
		return st.Sys().(*syscall.Stat_t).Ino
	}
	before := ino()
	if err := rotateLog(file, 1000, time.Now()); err != nil || ino() != before {
		t.Fatalf("a small file was rotated: %v", err)
	}
	t1 := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := rotateLog(file, 50, t1); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(file); err != nil || st.Size() != 0 || ino() == before {
		t.Fatalf("after rotation: %v %v, same inode %v", st, err, ino() == before)
	}
	_ = appendFile(file, appendCRI(nil, time.Now(), "stdout", strings.Repeat("z", 100)))
	if err := rotateLog(file, 50, t1.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// One earlier file is kept: the newest.
	old, _ := filepath.Glob(file + ".*")
	if len(old) != 1 || !strings.HasSuffix(old[0], ".20300102-040405") {
		t.Fatalf("rotated files %v", old)
	}
	if data, _ := os.ReadFile(old[0]); !bytes.Contains(data, []byte("zzz")) {
		t.Errorf("kept %q", data)
	}
}

func TestPodLogsFollowPods(t *testing.T) {
	l := controlplane.Layout{Dir: t.TempDir()}
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	kwok := kwokfake.NewSimpleClientset()
	p := newPodLogs(l, kwok, corelisters.NewPodLister(indexer), slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx := context.Background()

	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", UID: "u1"},
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "init"}},
			Containers:     []corev1.Container{{Name: "app"}, {Name: "side"}},
		},
	}
	if err := indexer.Add(pod); err != nil {
		t.Fatal(err)
	}
	if err := p.reconcile(ctx, "ns/web"); err != nil {
		t.Fatal(err)
	}
	app := ContainerLogFile(l.Dir, "ns", "web", "u1", "app")
	for _, c := range []string{"init", "app", "side"} {
		if st, err := os.Stat(ContainerLogFile(l.Dir, "ns", "web", "u1", c)); err != nil || st.Size() != 0 {
			t.Errorf("%s: log file %v %v, want an empty one", c, st, err)
		}
		if _, err := os.Stat(filepath.Join(l.ContainerRoot(), "ns_web_u1", c)); err != nil {
			t.Errorf("%s: no container root: %v", c, err)
		}
	}
	obj, err := kwok.KwokV1alpha1().Logs("ns").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(obj.OwnerReferences) != 1 || obj.OwnerReferences[0].Kind != "Pod" || obj.OwnerReferences[0].UID != "u1" {
		t.Errorf("owner %v", obj.OwnerReferences)
	}
	if len(obj.Spec.Logs) != 3 || obj.Spec.Logs[1].Containers[0] != "app" || *obj.Spec.Logs[1].LogsFile != app || !*obj.Spec.Logs[1].Follow {
		t.Errorf("spec %+v", obj.Spec.Logs)
	}

	// Running: a "started" line, then heartbeats; a container that ran to
	// its end gets the "started" line only.
	pod = pod.DeepCopy()
	pod.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: "init", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{}}}}
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
	_ = indexer.Update(pod)
	if err := p.reconcile(ctx, "ns/web"); err != nil {
		t.Fatal(err)
	}
	p.heartbeat(time.Now())
	p.heartbeat(time.Now())
	if got := readLikeKwok(t, app, false); got != "kstack simulated container started\nkstack simulated container: heartbeat 1\nkstack simulated container: heartbeat 2\n" {
		t.Errorf("app log %q", got)
	}
	if got := readLikeKwok(t, ContainerLogFile(l.Dir, "ns", "web", "u1", "init"), false); got != "kstack simulated container started\n" {
		t.Errorf("init log %q", got)
	}
	if got := readLikeKwok(t, ContainerLogFile(l.Dir, "ns", "web", "u1", "side"), false); got != "" {
		t.Errorf("a waiting container logged %q", got)
	}

	// A new pod of the same name replaces the Logs object of the old one.
	pod2 := pod.DeepCopy()
	pod2.UID = "u2"
	_ = indexer.Update(pod2)
	if err := p.reconcile(ctx, "ns/web"); err != nil {
		t.Fatal(err)
	}
	obj, err = kwok.KwokV1alpha1().Logs("ns").Get(ctx, "web", metav1.GetOptions{})
	if err != nil || obj.OwnerReferences[0].UID != "u2" || !strings.Contains(*obj.Spec.Logs[0].LogsFile, "ns_web_u2") {
		t.Fatalf("after the pod was replaced: %v %+v", err, obj)
	}

	// The old pod's files go after the grace period, the live pod's stay.
	p.grace = time.Minute
	now := time.Now()
	p.sweep(now)
	if _, err := os.Stat(app); err != nil {
		t.Fatalf("removed before the grace period: %v", err)
	}
	p.sweep(now.Add(time.Minute))
	for _, d := range []string{filepath.Join(l.PodLogsDir(), "ns_web_u1"), filepath.Join(l.ContainerRoot(), "ns_web_u1")} {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s left: %v", d, err)
		}
	}
	if _, err := os.Stat(ContainerLogFile(l.Dir, "ns", "web", "u2", "app")); err != nil {
		t.Errorf("the live pod's log: %v", err)
	}

	// A deleted pod's containers stop their heartbeat.
	_ = indexer.Delete(pod2)
	if err := p.reconcile(ctx, "ns/web"); err != nil {
		t.Fatal(err)
	}
	if len(p.containers) != 0 {
		t.Errorf("containers left: %v", p.containers)
	}
}
