package localcluster

// The logs of simulated containers. Each container of a local cluster's pods
// has its own CRI log file, laid out as a kubelet's /var/log/pods, so that a
// log agent tails them as it would on a real node; kwok serves them to
// `kubectl logs` through one Logs object per pod (kwok reads them with the
// kubelet's own CRI log reader).

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	kwokv1alpha1 "sigs.k8s.io/kwok/pkg/apis/v1alpha1"
	kwokclient "sigs.k8s.io/kwok/pkg/client/clientset/versioned"

	"github.com/kstack/kstack/internal/controlplane"
)

const (
	// criTimeLayout is the fixed-width RFC 3339 time that starts a CRI log
	// line: fixed width so that lines sort as text.
	criTimeLayout = "2006-01-02T15:04:05.000000000Z07:00"
	// maxCRILine is where container runtimes split a long line into partial
	// (P) pieces; readers join them again.
	maxCRILine = 16 << 10
	// maxLogSize is the size past which a container's log is rotated.
	maxLogSize = 1 << 20
	// heartbeatEvery paces the line each running container prints, so that
	// `kubectl logs -f` of a simulated pod shows output.
	heartbeatEvery = 2 * time.Second
	// podLogsGrace keeps a deleted pod's files for a while, so that a log
	// agent still reads their last lines. $KSTACK_POD_LOGS_GRACE sets
	// another (tests that watch them go).
	podLogsGrace = 30 * time.Second
)

// graceFromEnv is $KSTACK_POD_LOGS_GRACE if it is a positive duration, else
// podLogsGrace.
func graceFromEnv() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("KSTACK_POD_LOGS_GRACE")); err == nil && d > 0 {
		return d
	}
	return podLogsGrace
}

// podDirName names a pod's directory as the kubelet does; namespaces and pod
// names cannot hold "_", so the name is unambiguous.
func podDirName(namespace, pod, uid string) string { return namespace + "_" + pod + "_" + uid }

// ContainerLogFile is the CRI log file of one container of a pod of the local
// cluster whose directory is dir.
func ContainerLogFile(dir, namespace, pod, uid, container string) string {
	return filepath.Join(controlplane.Layout{Dir: dir}.PodLogsDir(), podDirName(namespace, pod, uid), container, "0.log")
}

// containerRootDir stands in for the root file system of one container.
func containerRootDir(l controlplane.Layout, namespace, pod, uid, container string) string {
	return filepath.Join(l.ContainerRoot(), podDirName(namespace, pod, uid), container)
}

// AppendContainerLog appends lines to a simulated container's log, as if its
// process printed them to stdout (a line holding newlines becomes several).
// dir is the local cluster's directory.
func AppendContainerLog(dir, namespace, pod, uid, container string, lines ...string) error {
	var b []byte
	now := time.Now()
	for _, l := range lines {
		b = appendCRI(b, now, "stdout", l)
	}
	return appendFile(ContainerLogFile(dir, namespace, pod, uid, container), b)
}

// appendCRI appends msg to b as CRI log lines of stream at t: one full (F)
// line per line of msg, a long one split into partial (P) pieces first.
func appendCRI(b []byte, t time.Time, stream, msg string) []byte {
	ts := t.UTC().Format(criTimeLayout)
	for _, line := range strings.Split(strings.TrimSuffix(msg, "\n"), "\n") {
		for len(line) > maxCRILine {
			b = fmt.Appendf(b, "%s %s P %s\n", ts, stream, line[:maxCRILine])
			line = line[maxCRILine:]
		}
		b = fmt.Appendf(b, "%s %s F %s\n", ts, stream, line)
	}
	return b
}

// appendFile appends b in one write: with O_APPEND, lines of concurrent
// writers (the heartbeat, a test) stay whole.
func appendFile(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// rotateLog starts a new file once path outgrows limit, as the kubelet
// does: the file is renamed to path.TIME (replacing an earlier one) and an
// empty one takes its name, so readers see a new inode under the old name
// (kwok's reader reopens on it, as kubectl logs -f does on a kubelet).
func rotateLog(path string, limit int64, now time.Time) error {
	st, err := os.Stat(path)
	if err != nil || st.Size() <= limit {
		return nil
	}
	dir, base := filepath.Split(path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), base+".") {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
	if err := os.Rename(path, path+"."+now.UTC().Format("20060102-150405")); err != nil {
		return err
	}
	return appendFile(path, nil)
}

// podLogs keeps, for every pod of the cluster, each container's log file
// and root directory and the pod's kwok Logs object; it writes the
// heartbeat of running containers and removes a deleted pod's files after
// a grace period. The Logs object is owned by its pod: the garbage
// collector removes it with the pod.
type podLogs struct {
	layout controlplane.Layout
	kwok   kwokclient.Interface
	pods   corelisters.PodLister
	queue  workqueue.TypedRateLimitingInterface[string]
	log    *slog.Logger
	grace  time.Duration

	mu         sync.Mutex
	containers map[string]*simContainer // by log file
	checked    map[string]checkedLogs   // by pod key: the Logs object last made
	gone       map[string]time.Time     // by pod directory: since when it has no pod
}

type simContainer struct {
	pod     string // namespace/name
	running bool
	started bool // the "started" line is written
	beats   int
}

type checkedLogs struct {
	sig string
	at  time.Time
}

// startPodLogs starts watching the cluster's pods; it stops with ctx.
func startPodLogs(ctx context.Context, l controlplane.Layout, cfg *rest.Config, log *slog.Logger) error {
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	kwok, err := kwokclient.NewForConfig(cfg)
	if err != nil {
		return err
	}
	// The periodic resync repairs a Logs object or file removed by hand.
	factory := informers.NewSharedInformerFactory(kube, 10*time.Minute)
	inf := factory.Core().V1().Pods()
	p := newPodLogs(l, kwok, inf.Lister(), log)
	enqueue := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			p.queue.Add(key)
		}
	}
	if _, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
		DeleteFunc: enqueue,
	}); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	go func() {
		<-ctx.Done()
		p.queue.ShutDown()
	}()
	go func() {
		if !cache.WaitForCacheSync(ctx.Done(), inf.Informer().HasSynced) {
			return
		}
		for range 2 {
			go p.work(ctx)
		}
		p.tick(ctx)
	}()
	return nil
}

func newPodLogs(l controlplane.Layout, kwok kwokclient.Interface, pods corelisters.PodLister, log *slog.Logger) *podLogs {
	return &podLogs{
		layout: l, kwok: kwok, pods: pods, log: log, grace: graceFromEnv(),
		queue:      workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]()),
		containers: map[string]*simContainer{},
		checked:    map[string]checkedLogs{},
		gone:       map[string]time.Time{},
	}
}

func (p *podLogs) work(ctx context.Context) {
	for {
		key, quit := p.queue.Get()
		if quit {
			return
		}
		if err := p.reconcile(ctx, key); err != nil {
			if ctx.Err() == nil {
				p.log.Warn("simulated container logs", "pod", key, "err", err)
			}
			p.queue.AddRateLimited(key)
		} else {
			p.queue.Forget(key)
		}
		p.queue.Done(key)
	}
}

// tick writes the heartbeats and, less often, removes deleted pods' files.
func (p *podLogs) tick(ctx context.Context) {
	beat := time.NewTicker(heartbeatEvery)
	defer beat.Stop()
	sweep := time.NewTicker(min(10*time.Second, p.grace))
	defer sweep.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-beat.C:
			p.heartbeat(time.Now())
		case <-sweep.C:
			p.sweep(time.Now())
		}
	}
}

// podContainers lists every container of a pod (init, app, ephemeral) with
// its status, if any yet.
func podContainers(pod *corev1.Pod) (names []string, status map[string]corev1.ContainerStatus) {
	status = map[string]corev1.ContainerStatus{}
	for _, c := range pod.Spec.InitContainers {
		names = append(names, c.Name)
	}
	for _, c := range pod.Spec.Containers {
		names = append(names, c.Name)
	}
	for _, c := range pod.Spec.EphemeralContainers {
		names = append(names, c.Name)
	}
	for _, list := range [][]corev1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses, pod.Status.EphemeralContainerStatuses} {
		for _, s := range list {
			status[s.Name] = s
		}
	}
	return names, status
}

// reconcile brings one pod's files, Logs object and heartbeats in line with
// the pod (or its absence).
func (p *podLogs) reconcile(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	pod, err := p.pods.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		p.forget(key, nil)
		return nil
	}
	if err != nil {
		return err
	}
	uid := string(pod.UID)
	names, status := podContainers(pod)
	files := map[string]bool{}
	for _, c := range names {
		file := ContainerLogFile(p.layout.Dir, ns, name, uid, c)
		files[file] = true
		if err := os.MkdirAll(containerRootDir(p.layout, ns, name, uid, c), 0o755); err != nil {
			return err
		}
		// An empty file from the start: kwok serves it (empty) at once, and a
		// log agent can begin tailing before the first line.
		if err := appendFile(file, nil); err != nil {
			return err
		}
	}
	if err := p.ensureLogsObject(ctx, pod, names); err != nil {
		return err
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	p.forgetLocked(key, files)
	now := time.Now()
	for _, c := range names {
		file := ContainerLogFile(p.layout.Dir, ns, name, uid, c)
		sc := p.containers[file]
		if sc == nil {
			sc = &simContainer{pod: key}
			p.containers[file] = sc
		}
		s := status[c]
		sc.running = s.State.Running != nil
		if !sc.started && (s.State.Running != nil || s.State.Terminated != nil) {
			sc.started = true
			// Only into a new file: after a supervisor restart the container
			// has long started.
			if st, err := os.Stat(file); err == nil && st.Size() == 0 {
				_ = appendFile(file, appendCRI(nil, now, "stdout", "kstack simulated container started"))
			}
		}
	}
	return nil
}

// forget drops the containers of pod key that are not in keep.
func (p *podLogs) forget(key string, keep map[string]bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.forgetLocked(key, keep)
	if keep == nil {
		delete(p.checked, key)
	}
}

func (p *podLogs) forgetLocked(key string, keep map[string]bool) {
	for file, sc := range p.containers {
		if sc.pod == key && !keep[file] {
			delete(p.containers, file)
		}
	}
}

// ensureLogsObject makes the pod's kwok Logs object point at its
// containers' files. Pods change often (status) and the object rarely: a
// pod whose object was made for the same containers recently is skipped.
func (p *podLogs) ensureLogsObject(ctx context.Context, pod *corev1.Pod, containers []string) error {
	key := pod.Namespace + "/" + pod.Name
	sig := string(pod.UID) + " " + strings.Join(containers, ",")
	p.mu.Lock()
	last, ok := p.checked[key]
	p.mu.Unlock()
	if ok && last.sig == sig && time.Since(last.at) < 5*time.Minute {
		return nil
	}
	follow := true
	var spec kwokv1alpha1.LogsSpec
	for _, c := range containers {
		file := ContainerLogFile(p.layout.Dir, pod.Namespace, pod.Name, string(pod.UID), c)
		spec.Logs = append(spec.Logs, kwokv1alpha1.Log{Containers: []string{c}, LogsFile: &file, Follow: &follow})
	}
	owner := []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID}}
	want := &kwokv1alpha1.Logs{
		ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace, OwnerReferences: owner},
		Spec:       spec,
	}
	client := p.kwok.KwokV1alpha1().Logs(pod.Namespace)
	cur, err := client.Get(ctx, pod.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		_, err = client.Create(ctx, want, metav1.CreateOptions{})
	case err != nil:
	case !reflect.DeepEqual(cur.OwnerReferences, owner):
		// Left by an earlier pod of the same name that the garbage collector
		// has not removed yet: replace it rather than race the collector.
		uid := cur.UID
		err = client.Delete(ctx, pod.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
		if err == nil || apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			_, err = client.Create(ctx, want, metav1.CreateOptions{})
		}
	case !equality.Semantic.DeepEqual(cur.Spec, spec):
		cur.Spec = spec
		_, err = client.Update(ctx, cur, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("kwok Logs object: %w", err)
	}
	p.mu.Lock()
	p.checked[key] = checkedLogs{sig: sig, at: time.Now()}
	p.mu.Unlock()
	return nil
}

// heartbeat appends a line to the log of every running container.
func (p *podLogs) heartbeat(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for file, sc := range p.containers {
		if !sc.running {
			continue
		}
		sc.beats++
		if err := rotateLog(file, maxLogSize, now); err != nil {
			p.log.Warn("rotating a simulated container log", "file", file, "err", err)
		}
		_ = appendFile(file, appendCRI(nil, now, "stdout", fmt.Sprintf("kstack simulated container: heartbeat %d", sc.beats)))
	}
}

// sweep removes the directories of pods that have been gone for the grace
// period (also those deleted while the supervisor was not running).
func (p *podLogs) sweep(now time.Time) {
	pods, err := p.pods.List(labels.Everything())
	if err != nil {
		return
	}
	live := map[string]bool{}
	for _, pod := range pods {
		live[podDirName(pod.Namespace, pod.Name, string(pod.UID))] = true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	seen := map[string]bool{}
	for _, root := range []string{p.layout.PodLogsDir(), p.layout.ContainerRoot()} {
		entries, err := os.ReadDir(root)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			p.log.Warn("reading simulated container logs", "dir", root, "err", err)
		}
		for _, e := range entries {
			dir := filepath.Join(root, e.Name())
			if live[e.Name()] {
				continue
			}
			seen[dir] = true
			since, ok := p.gone[dir]
			if !ok {
				p.gone[dir] = now
				continue
			}
			if now.Sub(since) >= p.grace {
				if err := os.RemoveAll(dir); err != nil {
					p.log.Warn("removing a deleted pod's files", "dir", dir, "err", err)
					continue
				}
				delete(seen, dir)
			}
		}
	}
	for dir := range p.gone {
		if !seen[dir] {
			delete(p.gone, dir)
		}
	}
}
