package bench

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"

	"github.com/kstack/kstack/test/e2e/framework"
)

// BenchmarkVirtualNode measures, against one upper and two lower local
// clusters in one run: a pod's create-to-Running latency seen upstream
// through a virtual node and directly in a lower cluster; the throughput of
// a burst of 1,000 pods through the virtual nodes; and the virtual-node
// process's memory per 1,000 pods.
func BenchmarkVirtualNode(b *testing.B) {
	k := framework.New(b)
	upKC := k.CreateCluster("upper", 0)
	k.MustRun("local", "create", "east", "--nodes", "6")
	k.MustRun("local", "create", "west", "--nodes", "6")
	eastKC := strings.TrimSpace(k.MustRun("local", "kubeconfig", "east"))
	westKC := strings.TrimSpace(k.MustRun("local", "kubeconfig", "west"))
	up, east := client(b, upKC), client(b, eastKC)
	vk := k.Start("virtual-node", "--upper", upKC, "--lower", eastKC, "--lower", westKC)
	vk.WaitOutput(b, "virtual nodes ready", 3*time.Minute)
	ctx := context.Background()
	for _, cs := range []kubernetes.Interface{up, east} {
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "bench"}}, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	waitSA(b, up, "bench")
	waitSA(b, east, "bench")
	time.Sleep(5 * time.Second) // let the taints of the new nodes go

	benchPod := func(name string, sel map[string]string, nodeName string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"bench": "vn"}},
			Spec: corev1.PodSpec{NodeSelector: sel, NodeName: nodeName, Containers: []corev1.Container{{Name: "c", Image: "nginx",
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m")}}}}}}
	}
	// Latency: one pod at a time, from create to Running seen by a watch.
	latency := func(cs kubernetes.Interface, prefix string, sel map[string]string, n int) []time.Duration {
		var out []time.Duration
		for i := 0; i < n; i++ {
			name := fmt.Sprintf("%s-%d", prefix, i)
			w, err := cs.CoreV1().Pods("bench").Watch(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String()})
			if err != nil {
				b.Fatal(err)
			}
			t0 := time.Now()
			if _, err := cs.CoreV1().Pods("bench").Create(ctx, benchPod(name, sel, ""), metav1.CreateOptions{}); err != nil {
				b.Fatal(err)
			}
			deadline := time.After(time.Minute)
		wait:
			for {
				select {
				case ev := <-w.ResultChan():
					if p, ok := ev.Object.(*corev1.Pod); ok && p.Status.Phase == corev1.PodRunning {
						out = append(out, time.Since(t0))
						break wait
					}
				case <-deadline:
					b.Fatalf("pod %s not Running within a minute", name)
				}
			}
			w.Stop()
		}
		return out
	}
	virtual := map[string]string{"type": "virtual-kubelet"}
	// Interleave, so that both see the same machine load.
	var viaVK, direct []time.Duration
	for round := 0; round < 5; round++ {
		viaVK = append(viaVK, latency(up, fmt.Sprintf("lat-vk-%d", round), virtual, 10)...)
		direct = append(direct, latency(east, fmt.Sprintf("lat-direct-%d", round), nil, 10)...)
	}
	p50vk, p99vk := percentile(viaVK, 0.5), percentile(viaVK, 0.99)
	p50d, p99d := percentile(direct, 0.5), percentile(direct, 0.99)
	fmt.Printf("create -> Running, %d pods each: via virtual node (seen upstream) p50 %s p99 %s; directly in the lower cluster p50 %s p99 %s; ratio p50 %.2fx p99 %.2fx\n",
		len(viaVK), p50vk.Round(time.Millisecond), p99vk.Round(time.Millisecond), p50d.Round(time.Millisecond), p99d.Round(time.Millisecond),
		float64(p50vk)/float64(p50d), float64(p99vk)/float64(p99d))
	b.ReportMetric(float64(p50vk.Milliseconds()), "ms-p50-via-vk")
	b.ReportMetric(float64(p50d.Milliseconds()), "ms-p50-direct")

	// Memory before the burst, with the latency pods gone.
	if err := up.CoreV1().Pods("bench").DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
		b.Fatal(err)
	}
	waitPods(b, up, 0, false, 2*time.Minute)
	time.Sleep(10 * time.Second)
	before := rssOf([]int{vk.Pid()})

	// Burst: 1,000 pods created by 20 clients at once; time until all are
	// Running upstream.
	const burst = 1000
	t0 := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, burst)
	for w := 0; w < 20; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < burst; i += 20 {
				if _, err := up.CoreV1().Pods("bench").Create(ctx, benchPod(fmt.Sprintf("burst-%d", i), virtual, ""), metav1.CreateOptions{}); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	created := time.Since(t0)
	waitPods(b, up, burst, true, 10*time.Minute)
	took := time.Since(t0)
	time.Sleep(10 * time.Second)
	after := rssOf([]int{vk.Pid()})
	fmt.Printf("burst of %d pods: created in %s, all Running upstream after %s: %.0f pods/s\n", burst, created.Round(time.Millisecond), took.Round(time.Millisecond), burst/took.Seconds())
	fmt.Printf("virtual-node process memory (Pss): %.0f MiB with no pods, %.0f MiB with %d: %.1f MiB per 1,000 pods\n",
		float64(before)/(1<<20), float64(after)/(1<<20), burst, float64(after-before)/(1<<20)*1000/burst)
	b.ReportMetric(burst/took.Seconds(), "pods/s-burst")
	b.ReportMetric(float64(after-before)/(1<<20)*1000/burst, "MiB-per-1000-pods")
}

func waitSA(b *testing.B, cs kubernetes.Interface, ns string) {
	for start := time.Now(); ; time.Sleep(200 * time.Millisecond) {
		if _, err := cs.CoreV1().ServiceAccounts(ns).Get(context.Background(), "default", metav1.GetOptions{}); err == nil {
			return
		}
		if time.Since(start) > time.Minute {
			b.Fatal("no default service account in " + ns)
		}
	}
}

// waitPods waits until the bench namespace has n pods (all Running if running).
func waitPods(b *testing.B, cs kubernetes.Interface, n int, running bool, timeout time.Duration) {
	last := time.Now()
	for start := time.Now(); ; time.Sleep(500 * time.Millisecond) {
		l, err := cs.CoreV1().Pods("bench").List(context.Background(), metav1.ListOptions{})
		if err != nil {
			b.Fatal(err)
		}
		ok := 0
		for _, p := range l.Items {
			if !running || p.Status.Phase == corev1.PodRunning {
				ok++
			}
		}
		if len(l.Items) == n && ok == n {
			return
		}
		if time.Since(last) > 10*time.Second {
			fmt.Printf("  ... %d pods (%d Running), waiting for %d, after %s\n", len(l.Items), ok, n, time.Since(start).Round(time.Second))
			last = time.Now()
		}
		if time.Since(start) > timeout {
			b.Fatalf("%d pods (%d ok), want %d, after %s", len(l.Items), ok, n, timeout)
		}
	}
}
