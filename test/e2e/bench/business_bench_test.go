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
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	crclient "sigs.k8s.io/controller-runtime/pkg/client"

	businessv1 "github.com/kstack/kstack/api/business/v1"
	"github.com/kstack/kstack/test/e2e/framework"
)

// BenchmarkProjects measures the delay from a pod change in a member to its
// project's usage, then the latency of listing projects and of the portal
// with 1,000 projects and 10,000 namespaces on the platform.
func BenchmarkProjects(b *testing.B) {
	k := framework.New(b)
	k.Env = append(k.Env, "KSTACK_ADMIN_PASSWORD=Adm1n-Passw0rd")
	p := k.Up(3*time.Minute, "--listen", framework.FreeAddr(b))
	k.MustRun("local", "create", "pb", "--nodes", "1", "--import")
	cls := clusterID(b, k, "pb")
	member := client(b, strings.TrimSpace(k.MustRun("local", "kubeconfig", "pb")))
	if r := k.RunStdin("Passw0rd-Bench1\n", "user", "create", "bench", "--password-stdin"); r.Err != nil {
		b.Fatal(r.Stderr)
	}
	c := globalClient(b, p.Kubeconfig, businessv1.AddToScheme)
	ctx := context.Background()

	// Usage delay on an idle platform.
	prj := strings.TrimSpace(k.MustRun("project", "create", "usage", "--cluster", cls, "--cpu", "100", "-o", "name"))
	k.MustRun("namespace", "create", "usage", "--project", prj, "--cluster", cls, "--cpu", "50")
	for start := time.Now(); ; time.Sleep(100 * time.Millisecond) {
		if _, err := member.CoreV1().ResourceQuotas("usage").Get(ctx, businessv1.QuotaName, metav1.GetOptions{}); err == nil {
			break
		}
		if time.Since(start) > time.Minute {
			b.Fatal("the project namespace never reached the member")
		}
	}
	usedCPU := func() string {
		var pr businessv1.Project
		if err := c.Get(ctx, crclient.ObjectKey{Name: prj}, &pr); err != nil {
			return ""
		}
		for _, u := range pr.Status.Clusters {
			q := u.Used["requests.cpu"]
			return q.String()
		}
		return ""
	}
	var delays []time.Duration
	for i := 0; i < 10; i++ {
		before := usedCPU()
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("u-%d", i)}, Spec: corev1.PodSpec{NodeName: "pb-node-1",
			Containers: []corev1.Container{{Name: "c", Image: "nginx", Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{"cpu": resource.MustParse("100m")}}}}}}
		t0 := time.Now()
		if _, err := member.CoreV1().Pods("usage").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		for usedCPU() == before {
			if time.Since(t0) > time.Minute {
				b.Fatal("usage did not change within a minute")
			}
			time.Sleep(20 * time.Millisecond)
		}
		delays = append(delays, time.Since(t0))
	}
	fmt.Printf("pod created in a member -> project usage: p50 %v p99 %v (10 pods)\n", percentile(delays, .5).Round(time.Millisecond), percentile(delays, .99).Round(time.Millisecond))
	b.ReportMetric(float64(percentile(delays, .5))/1e6, "ms-usage-delay-p50")

	// 1,000 projects with 10 namespaces each, made directly in the store.
	fmt.Println("creating 1000 projects and 10000 namespaces ...")
	start := time.Now()
	var wg sync.WaitGroup
	jobs := make(chan int)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				name := fmt.Sprintf("prj-b%07d", i)
				pr := &businessv1.Project{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kstack.io/tenant": "default"}},
					Spec: businessv1.ProjectSpec{TenantID: "default", DisplayName: name, Clusters: []businessv1.ClusterQuota{{Name: cls, Hard: corev1.ResourceList{"pods": resource.MustParse("100")}}}}}
				if i%100 == 0 {
					pr.Spec.Members = []businessv1.ProjectMember{{Username: "bench", Role: "project-member"}}
				}
				if err := c.Create(ctx, pr); err != nil {
					b.Error(err)
					return
				}
				for j := 0; j < 10; j++ {
					n := fmt.Sprintf("b%07d-%d", i, j)
					ns := &businessv1.Namespace{ObjectMeta: metav1.ObjectMeta{Namespace: name, Name: businessv1.ObjectName(cls, n), Labels: map[string]string{"kstack.io/tenant": "default"}},
						Spec: businessv1.NamespaceSpec{TenantID: "default", ProjectName: name, ClusterName: cls, Namespace: n}}
					for try := 0; ; try++ { // the project's namespace on the platform comes from its controller
						err := c.Create(ctx, ns)
						if err == nil {
							break
						}
						if try > 100 {
							b.Error(err)
							return
						}
						time.Sleep(100 * time.Millisecond)
					}
				}
			}
		}()
	}
	for i := 0; i < 1000; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	fmt.Printf("  made in %v\n", time.Since(start).Round(time.Second))

	hc, adminTok := k.PlatformHTTP()
	bench := k.As("bench")
	if r := bench.RunStdin("Passw0rd-Bench1\n", "login", "--username", "bench", "--password-stdin"); r.Err != nil {
		b.Fatal(r.Stderr)
	}
	benchTok := strings.TrimSpace(bench.MustRun("credential"))
	benchTok = benchTok[strings.Index(benchTok, `"token":"`)+9:]
	benchTok = benchTok[:strings.Index(benchTok, `"`)]
	measure := func(what, url, tok string, check func(string) bool) {
		var d []time.Duration
		for i := 0; i < 30; i++ {
			t0 := time.Now()
			code, body := framework.Do(b, hc, http.MethodGet, url, tok, "", "", "")
			d = append(d, time.Since(t0))
			if code != 200 || !check(body) {
				b.Fatalf("%s: %d %.300s", what, code, body)
			}
		}
		fmt.Printf("%-52s p50 %v p95 %v\n", what, percentile(d, .5).Round(time.Millisecond), percentile(d, .95).Round(time.Millisecond))
	}
	measure("list 1,000 projects (administrator)", p.ConsoleURL+"/business/apis/business.tkestack.io/v1/projects", adminTok,
		func(s string) bool {
			return strings.Count(s, `"kind":"Project"`) >= 1000 || strings.Count(s, `"displayName":"prj-b`) == 1000
		})
	measure("portal of a member of 10 projects (of 1,000)", p.ConsoleURL+"/business/apis/business.tkestack.io/v1/portal", benchTok,
		func(s string) bool { return strings.Count(s, `"role":"project-member"`) == 10 })
	measure("list one project's 10 namespaces (of 10,000)", p.ConsoleURL+"/business/apis/business.tkestack.io/v1/namespaces/prj-b0000500/namespaces", adminTok,
		func(s string) bool { return strings.Count(s, `"projectName":"prj-b0000500"`) == 10 })
}
