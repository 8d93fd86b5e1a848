package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	crclient "sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kstack/kstack/test/e2e/framework"
)

func client(b *testing.B, kubeconfig string) kubernetes.Interface {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		b.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 1000, 1000
	return kubernetes.NewForConfigOrDie(cfg)
}

// globalClient is a fast controller-runtime client of the platform's own
// API server (the admin kubeconfig) for the kinds the schemes add.
func globalClient(b *testing.B, kubeconfig string, add ...func(*runtime.Scheme) error) crclient.Client {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		b.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 1000, 2000
	s := runtime.NewScheme()
	for _, f := range add {
		if err := f(s); err != nil {
			b.Fatal(err)
		}
	}
	c, err := crclient.New(cfg, crclient.Options{Scheme: s})
	if err != nil {
		b.Fatal(err)
	}
	return c
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[int(float64(len(s)-1)*p)]
}

func clusterID(b *testing.B, k *framework.Kstack, name string) string {
	out := k.MustRun("cluster", "list")
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) > 2 && f[0] == name {
			return f[1]
		}
	}
	b.Fatalf("cluster %s not listed:\n%s", name, out)
	return ""
}

func phaseOf(k *framework.Kstack, id string) string {
	out := k.Run("cluster", "get", id).Stdout
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "Phase" {
			return f[1]
		}
	}
	return ""
}

// BenchmarkProxy measures, side by side against one member cluster, GET and
// LIST latency directly and through the proxy, the delay of a change to a
// watch through the proxy and to the platform's status, and the time to
// detect an outage and a recovery.
func BenchmarkProxy(b *testing.B) {
	k := framework.New(b)
	k.Up(3*time.Minute, "--listen", framework.FreeAddr(b))
	k.MustRun("local", "create", "bench", "--nodes", "10", "--import")
	id := clusterID(b, k, "bench")
	direct := client(b, strings.TrimSpace(k.MustRun("local", "kubeconfig", "bench")))
	proxyKC := filepath.Join(b.TempDir(), "proxy.kubeconfig")
	k.MustRun("kubeconfig", "--cluster", id, "-f", proxyKC)
	proxied := client(b, proxyKC)
	ctx := context.Background()

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "bench"}}
	if _, err := direct.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	for start := time.Now(); ; time.Sleep(200 * time.Millisecond) {
		if _, err := direct.CoreV1().ServiceAccounts("bench").Get(ctx, "default", metav1.GetOptions{}); err == nil {
			break
		}
		if time.Since(start) > time.Minute {
			b.Fatal("no default service account in namespace bench")
		}
	}
	fmt.Println("creating 1000 pods ...")
	for i := 0; i < 1000; i++ {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p-%04d", i), Labels: map[string]string{"app": "bench"}},
			Spec: corev1.PodSpec{NodeName: fmt.Sprintf("bench-node-%d", i%10+1), Containers: []corev1.Container{{Name: "c", Image: "nginx"}}}}
		if _, err := direct.CoreV1().Pods("bench").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	time.Sleep(10 * time.Second) // let kwok settle the pods

	measure := func(n int, f func(kubernetes.Interface) error) (d, p []time.Duration) {
		for i := 0; i < n; i++ {
			for _, c := range []struct {
				cs  kubernetes.Interface
				out *[]time.Duration
			}{{direct, &d}, {proxied, &p}} {
				start := time.Now()
				if err := f(c.cs); err != nil {
					b.Fatal(err)
				}
				*c.out = append(*c.out, time.Since(start))
			}
		}
		return d, p
	}
	gd, gp := measure(500, func(cs kubernetes.Interface) error {
		_, err := cs.CoreV1().Pods("bench").Get(ctx, "p-0500", metav1.GetOptions{})
		return err
	})
	ld, lp := measure(60, func(cs kubernetes.Interface) error {
		l, err := cs.CoreV1().Pods("bench").List(ctx, metav1.ListOptions{})
		if err == nil && len(l.Items) != 1000 {
			err = fmt.Errorf("listed %d pods", len(l.Items))
		}
		return err
	})
	fmt.Printf("GET one pod:      direct p50 %v p99 %v | proxy p50 %v p99 %v | added at p50 %v\n",
		percentile(gd, .5), percentile(gd, .99), percentile(gp, .5), percentile(gp, .99), percentile(gp, .5)-percentile(gd, .5))
	fmt.Printf("LIST 1000 pods:   direct p50 %v p99 %v | proxy p50 %v p99 %v | ratio at p50 %.2f\n",
		percentile(ld, .5), percentile(ld, .99), percentile(lp, .5), percentile(lp, .99), float64(percentile(lp, .5))/float64(percentile(ld, .5)))
	b.ReportMetric(float64(percentile(gp, .5)-percentile(gd, .5))/1e6, "ms-added-GET-p50")
	b.ReportMetric(float64(percentile(lp, .5))/float64(percentile(ld, .5)), "LIST-ratio-p50")

	// Watch through the proxy: delay from a change in the member.
	w, err := proxied.CoreV1().Pods("bench").Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=p-0001"})
	if err != nil {
		b.Fatal(err)
	}
	<-w.ResultChan() // the initial ADDED
	var wd []time.Duration
	for i := 0; i < 20; i++ {
		start := time.Now()
		patch := fmt.Sprintf(`{"metadata":{"labels":{"round":"%d"}}}`, i)
		if _, err := direct.CoreV1().Pods("bench").Patch(ctx, "p-0001", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			b.Fatal(err)
		}
		for ev := range w.ResultChan() {
			if p, ok := ev.Object.(*corev1.Pod); ok && p.Labels["round"] == strconv.Itoa(i) {
				break
			}
		}
		wd = append(wd, time.Since(start))
	}
	w.Stop()
	fmt.Printf("watch through the proxy, change -> event: p50 %v p99 %v\n", percentile(wd, .5), percentile(wd, .99))

	// The platform's status: delay from new pods to the Cluster's pod count.
	start := time.Now()
	for i := 0; i < 10; i++ {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("late-%d", i)},
			Spec: corev1.PodSpec{NodeName: "bench-node-1", Containers: []corev1.Container{{Name: "c", Image: "nginx"}}}}
		if _, err := direct.CoreV1().Pods("bench").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	for {
		out := k.Run("cluster", "get", id, "-o", "json").Stdout
		if strings.Contains(out, `"pods": 1010`) {
			break
		}
		if time.Since(start) > 2*time.Minute {
			b.Fatal("status never showed 1010 pods")
		}
		time.Sleep(100 * time.Millisecond)
	}
	fmt.Printf("pod change in the member -> platform status: %v\n", time.Since(start).Round(10*time.Millisecond))

	// Outage and recovery, timed from the moment each command starts (stop
	// returns once every process has exited; start once the nodes are Ready).
	start = time.Now()
	k.MustRun("local", "stop", "bench")
	stopTook := time.Since(start)
	for phaseOf(k, id) != "Failed" {
		time.Sleep(200 * time.Millisecond)
	}
	down := time.Since(start)
	start = time.Now()
	k.MustRun("local", "start", "bench")
	startTook := time.Since(start)
	for phaseOf(k, id) != "Running" {
		time.Sleep(200 * time.Millisecond)
	}
	up := time.Since(start)
	fmt.Printf("outage: Failed %v after `local stop` began (the stop itself took %v); recovery: Running %v after `local start` began (the start itself took %v)\n",
		down.Round(100*time.Millisecond), stopTook.Round(100*time.Millisecond), up.Round(100*time.Millisecond), startTook.Round(100*time.Millisecond))
}

// BenchmarkPlatformMemoryPerCluster imports up to KSTACK_BENCH_CLUSTERS (8)
// local clusters of 100 simulated nodes and prints the platform process's
// memory after each step, and the slope per cluster. Memory here is the
// process's anonymous resident memory (RssAnon: heap, stacks, caches), which
// is what grows with clusters; proportional set size would also move with the
// number of other processes that share the binary's pages.
func BenchmarkPlatformMemoryPerCluster(b *testing.B) {
	max := 8
	if v, err := strconv.Atoi(os.Getenv("KSTACK_BENCH_CLUSTERS")); err == nil && v > 0 {
		max = v
	}
	k := framework.New(b)
	k.Up(3*time.Minute, "--listen", framework.FreeAddr(b))
	platformPss := func() float64 {
		for _, pid := range k.Processes() {
			cmd, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
			if strings.Contains(string(cmd), "platform\x00run") {
				return float64(anonOf(pid)) / (1 << 20)
			}
		}
		b.Fatal("no platform process")
		return 0
	}
	settle := func() { time.Sleep(20 * time.Second) }
	settle()
	base := platformPss()
	fmt.Printf("platform process with 0 member clusters: %.0f MiB anonymous resident memory\n", base)
	var last float64
	for i := 1; i <= max; i++ {
		name := fmt.Sprintf("mem-%d", i)
		k.MustRun("local", "create", name, "--nodes", "100", "--import")
		if i == 1 || i == 2 || i == 4 || i == 8 || i == max {
			settle()
			last = platformPss()
			fmt.Printf("platform process with %d member clusters of 100 nodes: %.0f MiB\n", i, last)
		}
	}
	slope := (last - base) / float64(max)
	fmt.Printf("slope: %.1f MiB per managed cluster of 100 nodes\n", slope)
	b.ReportMetric(slope, "MiB-per-cluster")
}

// anonOf is a process's RssAnon.
func anonOf(pid int) int64 {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "RssAnon:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}
