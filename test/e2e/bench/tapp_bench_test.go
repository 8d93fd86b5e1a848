package bench

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kstack/kstack/test/e2e/framework"
)

// BenchmarkTAppInPlaceUpdate: in one member (3 kwok nodes) with the TApp
// add-on run by the platform, the time from an image change to all 100
// instances of a TApp updated in place (each pod showing the new image in
// its container status, Ready, the same pod), with maxUnavailable 1 (the
// default) and 25; against a Deployment of 100 replicas rolling to a new
// image (its default 25% unavailable, 25% surge) until every replica is a
// new, available pod. Pods made and deleted are counted for each.
func BenchmarkTAppInPlaceUpdate(b *testing.B) {
	if os.Getenv("KSTACK_BENCH") == "" {
		b.Skip("set KSTACK_BENCH=1 (make bench)")
	}
	const n = 100
	k := framework.New(b)
	k.Up(3*time.Minute, "--listen", framework.FreeAddr(b))
	cluster, kc := k.ImportedCluster("bench", 3)
	k.MustRun("addon", "install", cluster, "TApp", "--wait")
	cs := client(b, kc)
	ctx := context.Background()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "bench"}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	waitSA(b, cs, "bench")

	for i := 0; i < b.N; i++ {
		for _, maxUnavailable := range []int{1, 25} {
			name := fmt.Sprintf("tapp-%d-%d", maxUnavailable, i)
			tapp := func(image string) string {
				return fmt.Sprintf(`{"apiVersion":"apps.tkestack.io/v1","kind":"TApp","metadata":{"name":%q,"namespace":"bench"},"spec":{"replicas":%d,`+
					`"updateStrategy":{"maxUnavailable":%d},"template":{"metadata":{"labels":{"app":%q}},"spec":{"containers":[{"name":"web","image":%q}]}}}}`,
					name, n, maxUnavailable, name, image)
			}
			apply(b, k, kc, tapp("nginx:1.26"))
			before := waitPodsOn(b, cs, "app="+name, n, "nginx:1.26", 5*time.Minute)
			start := time.Now()
			apply(b, k, kc, tapp("nginx:1.27"))
			after := waitPodsOn(b, cs, "app="+name, n, "nginx:1.27", 10*time.Minute)
			secs := time.Since(start).Seconds()
			made, gone := churn(before, after)
			fmt.Printf("TApp, %d instances, maxUnavailable %d: image change -> all updated in place and Ready: %.2f s; pods made %d, deleted %d\n",
				n, maxUnavailable, secs, made, gone)
			b.ReportMetric(secs, fmt.Sprintf("s-tapp-maxunavailable-%d", maxUnavailable))
			k.MustKubectl(kc, "-n", "bench", "delete", "tapp", name, "--wait")
		}

		// The anchor: a Deployment's rolling update in the same cluster.
		name := fmt.Sprintf("deploy-%d", i)
		k.MustKubectl(kc, "-n", "bench", "create", "deployment", name, "--image=nginx:1.26", fmt.Sprintf("--replicas=%d", n))
		before := waitPodsOn(b, cs, "app="+name, n, "nginx:1.26", 5*time.Minute)
		waitRolledOut(b, cs, name, n, 5*time.Minute)
		start := time.Now()
		k.MustKubectl(kc, "-n", "bench", "set", "image", "deployment/"+name, "nginx=nginx:1.27") // the container is named after the image
		waitRolledOut(b, cs, name, n, 10*time.Minute)
		secs := time.Since(start).Seconds()
		after := waitPodsOn(b, cs, "app="+name, n, "nginx:1.27", time.Minute)
		made, gone := churn(before, after)
		fmt.Printf("Deployment, %d replicas, rolling update (25%% unavailable, 25%% surge): image change -> all replicas new and available: %.2f s; pods made %d, deleted %d\n",
			n, secs, made, gone)
		b.ReportMetric(secs, "s-deployment")
		k.MustKubectl(kc, "-n", "bench", "delete", "deployment", name, "--wait")
	}
}

func apply(b *testing.B, k *framework.Kstack, kc, manifest string) {
	b.Helper()
	if r := k.RunStdin(manifest, "kubectl", "--kubeconfig", kc, "apply", "-f", "-"); r.Err != nil {
		b.Fatalf("kubectl apply: %v\n%s", r.Err, r.Stderr)
	}
}

// waitPodsOn polls until exactly n pods match sel, each Ready, not being
// deleted, with every container status on image, and returns their UIDs.
func waitPodsOn(b *testing.B, cs kubernetes.Interface, sel string, n int, image string, timeout time.Duration) map[string]bool {
	b.Helper()
	var last string
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		l, err := cs.CoreV1().Pods("bench").List(context.Background(), metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			b.Fatal(err)
		}
		uids, done := map[string]bool{}, 0
		for _, p := range l.Items {
			uids[string(p.UID)] = true
			if p.DeletionTimestamp == nil && podReady(&p) && onImage(&p, image) && p.Annotations["tapp.tkestack.io/in-place-update"] == "" {
				done++
			}
		}
		if done == n && len(l.Items) == n {
			return uids
		}
		last = fmt.Sprintf("%d pods, %d Ready on %s", len(l.Items), done, image)
	}
	b.Fatalf("%s: %s after %s", sel, last, timeout)
	return nil
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func onImage(p *corev1.Pod, image string) bool {
	if len(p.Status.ContainerStatuses) == 0 {
		return false
	}
	for _, s := range p.Status.ContainerStatuses {
		if s.Image != image && s.Image != "docker.io/library/"+image {
			return false
		}
	}
	return true
}

func waitRolledOut(b *testing.B, cs kubernetes.Interface, name string, n int32, timeout time.Duration) {
	b.Helper()
	var d *appsv1.Deployment
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var err error
		if d, err = cs.AppsV1().Deployments("bench").Get(context.Background(), name, metav1.GetOptions{}); err != nil {
			b.Fatal(err)
		}
		s := d.Status
		if s.ObservedGeneration >= d.Generation && s.UpdatedReplicas == n && s.Replicas == n && s.AvailableReplicas == n && s.ReadyReplicas == n {
			return
		}
	}
	b.Fatalf("deployment %s not rolled out after %s: %+v", name, timeout, d.Status)
}

// churn: pods made (in after only) and deleted (in before only).
func churn(before, after map[string]bool) (made, gone int) {
	for u := range after {
		if !before[u] {
			made++
		}
	}
	for u := range before {
		if !after[u] {
			gone++
		}
	}
	return made, gone
}
