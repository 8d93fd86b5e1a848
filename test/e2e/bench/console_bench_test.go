package bench

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/test/e2e/framework"
)

// BenchmarkConsole prints the server's response times (p50, p95) for the
// console's main pages with 1,000 clusters on the platform and 10,000 pods
// in one namespace of a member cluster.
func BenchmarkConsole(b *testing.B) {
	k := framework.New(b)
	k.Env = append(k.Env, "KSTACK_ADMIN_PASSWORD=Adm1n-Passw0rd")
	p := k.Up(3*time.Minute, "--listen", framework.FreeAddr(b))
	k.MustRun("local", "create", "load", "--nodes", "4", "--import")
	cls := clusterID(b, k, "load")
	member := client(b, strings.TrimSpace(k.MustRun("local", "kubeconfig", "load")))
	c := globalClient(b, p.Kubeconfig, platformv1.AddToScheme)
	ctx := context.Background()

	// 999 more clusters (objects only: they have no credential, so the
	// platform reports them Failed, as it would unreachable ones).
	parallel(b, 999, 20, func(i int) error {
		return c.Create(ctx, &platformv1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cls-b%07d", i)},
			Spec: platformv1.ClusterSpec{TenantID: "default", DisplayName: fmt.Sprintf("bench-%d", i), Type: platformv1.ClusterImported}})
	})
	if _, err := member.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "many"}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	parallel(b, 10000, 20, func(i int) error {
		_, err := member.CoreV1().Pods("many").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p-%05d", i), Labels: map[string]string{"app": "many"}},
			Spec: corev1.PodSpec{NodeName: fmt.Sprintf("load-node-%d", i%4+1), Containers: []corev1.Container{{Name: "c", Image: "nginx"}}}}, metav1.CreateOptions{})
		return err
	})
	made := time.Since(start)
	// Measure a settled cluster: kwok marks the pods Running at its own
	// pace, and the member's API server is busy until it has.
	for deadline := time.Now().Add(15 * time.Minute); ; time.Sleep(2 * time.Second) {
		l, err := member.CoreV1().Pods("many").List(ctx, metav1.ListOptions{FieldSelector: "status.phase!=Running", Limit: 1})
		if err == nil && len(l.Items) == 0 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("the 10,000 pods were not all Running after 15 minutes")
		}
	}
	fmt.Printf("set-up: 1,000 clusters and 10,000 pods made in %s, all Running after %s\n", made.Round(time.Second), time.Since(start).Round(time.Second))
	time.Sleep(10 * time.Second) // the platform's informers catch up

	admin := framework.ConsoleLogin(b, p.ConsoleURL, "admin", "Adm1n-Passw0rd")
	pages := []struct{ what, path, want string }{
		{"overview (aggregates 1,000 clusters)", "/console/platform", "clusters"},
		{"clusters, first page of 1,000", "/console/platform/clusters", "cls-b0000000"},
		{"clusters, search", "/console/platform/clusters?q=bench-99", "bench-998"},
		{"clusters, page 10", "/console/platform/clusters?page=10", "cls-b00004"},
		{"cluster detail (nodes)", "/console/platform/clusters/" + cls, "load-node-1"},
		{"projects", "/console/platform/projects", "Projects"},
		{"pods, first page of 10,000", "/console/business/" + cls + "/many/pods", "p-00000"},
		{"pods, search by name", "/console/business/" + cls + "/many/pods?q=p-0999", "p-09999"},
		{"pod detail", "/console/business/" + cls + "/many/pods/p-05000", "p-05000"},
		{"deployments (empty namespace list)", "/console/business/" + cls + "/many/deployments", "Deployments"},
	}
	for _, pg := range pages {
		code, body := admin.Get(b, pg.path)
		if code != http.StatusOK || !strings.Contains(body, pg.want) {
			b.Fatalf("%s: %d, no %q in:\n%.2000s", pg.path, code, pg.want, body)
		}
	}
	fmt.Println("console page response times, 40 sequential requests each (server time as the client sees it, over loopback TLS):")
	for _, pg := range pages {
		var d []time.Duration
		for i := 0; i < 40; i++ {
			t0 := time.Now()
			code, _ := admin.Get(b, pg.path)
			d = append(d, time.Since(t0))
			if code != http.StatusOK {
				b.Fatalf("%s: %d", pg.path, code)
			}
		}
		fmt.Printf("  %-40s p50 %6v  p95 %6v\n", pg.what, percentile(d, .5).Round(time.Millisecond), percentile(d, .95).Round(time.Millisecond))
		b.ReportMetric(float64(percentile(d, .95))/1e6, "ms-p95-"+strings.Fields(pg.what)[0])
	}
}

// parallel runs f(0..n-1) with w workers and fails on the first error.
func parallel(b *testing.B, n, w int, f func(i int) error) {
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	next := make(chan int)
	for j := 0; j < w; j++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(i); err != nil {
					once.Do(func() { first = err })
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	if first != nil {
		b.Fatal(first)
	}
}
