package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kstack/kstack/test/e2e/framework"
)

// BenchmarkAdmission measures what deciding on the stored object costs a
// write: the same writes through the gateway with the admission webhook
// and the CEL invariants in place, with the webhook's registration
// removed, and with the invariants' bindings removed too (both with the
// break-glass kubeconfig); and the gateway's write against the same write
// sent straight to the platform's kube-apiserver.
func BenchmarkAdmission(b *testing.B) {
	k := framework.New(b)
	k.Env = append(k.Env, "KSTACK_ADMIN_PASSWORD=Adm1n-Passw0rd")
	p := k.Up(3*time.Minute, "--listen", framework.FreeAddr(b))
	hc, adminToken := k.PlatformHTTP()
	framework.CreateUser(b, k, "dave", "Passw0rd-Dave1", "--tenant", "t2", "--policy", "administrator")
	dave := framework.Token(b, framework.Login(b, k, "t2", "dave", "Passw0rd-Dave1"))
	// A cluster of t2, so that dave's project references one.
	base := p.ConsoleURL
	post := func(tok, url, body string) {
		if code, out := framework.Do(b, hc, "POST", url, tok, "", "application/json", body); code != http.StatusCreated {
			b.Fatalf("POST %s: %d %s", url, code, out)
		}
	}
	post(adminToken, base+"/platform/apis/platform.tkestack.io/v1/clusters",
		`{"apiVersion":"platform.tkestack.io/v1","kind":"Cluster","metadata":{"name":"cls-t2bench0"},"spec":{"tenantID":"t2","type":"Imported"}}`)
	project := `{"apiVersion":"business.tkestack.io/v1","kind":"Project","metadata":{"name":"prj-bench000"%s},"spec":{"displayName":"%s","clusters":[{"name":"cls-t2bench0","hard":{"pods":"10"}}]}}`
	post(dave, base+"/business/apis/business.tkestack.io/v1/projects", fmt.Sprintf(project, "", "round 0"))

	// One write: a project replaced whole (the webhook reads its clusters,
	// members and quotas), by the tenant's administrator through the
	// gateway, or by the break-glass kubeconfig straight to the API server.
	cfg, err := clientcmd.BuildConfigFromFlags("", p.Kubeconfig)
	if err != nil {
		b.Fatal(err)
	}
	breakGlass, err := rest.HTTPClientFor(cfg)
	if err != nil {
		b.Fatal(err)
	}
	const path = "/apis/business.tkestack.io/v1/projects/prj-bench000"
	rv := func() string {
		var obj struct {
			Metadata struct{ ResourceVersion string }
		}
		resp, err := breakGlass.Get(cfg.Host + path)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(&obj); err != nil {
			b.Fatal(err)
		}
		return obj.Metadata.ResourceVersion
	}
	round := 0
	put := func(n int, viaGateway bool) []time.Duration {
		var d []time.Duration
		for i := 0; i < n; i++ {
			round++
			meta := `,"resourceVersion":"` + rv() + `","labels":{"kstack.io/tenant":"t2"}`
			body := strings.Replace(fmt.Sprintf(project, meta, fmt.Sprintf("round %d", round)), `"spec":{`, `"spec":{"tenantID":"t2",`, 1)
			var code int
			var out string
			start := time.Now()
			if viaGateway {
				code, out = framework.Do(b, hc, "PUT", base+"/business"+path, dave, "", "application/json", body)
			} else {
				code, out = framework.Do(b, breakGlass, "PUT", cfg.Host+path, "", "", "application/json", body)
			}
			if code == http.StatusConflict {
				// The project controller wrote its status in between:
				// read the new version and write again, uncounted.
				i--
				continue
			}
			d = append(d, time.Since(start))
			if code != http.StatusOK {
				b.Fatalf("PUT (gateway %v): %d %s", viaGateway, code, out)
			}
		}
		return d
	}
	// The other write: a label on a user, whose check reads nothing.
	const userPath = "/apis/auth.tkestack.io/v1/users/t2.dave"
	patch := func(n int, viaGateway bool) []time.Duration {
		var d []time.Duration
		for i := 0; i < n; i++ {
			round++
			body := fmt.Sprintf(`{"metadata":{"labels":{"round":"%d"}}}`, round)
			var code int
			var out string
			start := time.Now()
			if viaGateway {
				code, out = framework.Do(b, hc, "PATCH", base+"/auth"+userPath, dave, "", "application/merge-patch+json", body)
			} else {
				code, out = framework.Do(b, breakGlass, "PATCH", cfg.Host+userPath, "", "", "application/merge-patch+json", body)
			}
			d = append(d, time.Since(start))
			if code != http.StatusOK {
				b.Fatalf("PATCH (gateway %v): %d %s", viaGateway, code, out)
			}
		}
		return d
	}
	const n = 300
	put(20, true) // warm up connections and caches
	put(20, false)
	patch(20, true)
	full, direct := put(n, true), put(n, false)
	fullU, directU := patch(n, true), patch(n, false)
	// The webhook's calls as the API server times them.
	callSum, callCount := webhookMetric(b, breakGlass, cfg.Host)
	hooks := strings.Fields(k.MustKubectl(p.Kubeconfig, "get", "validatingwebhookconfigurations", "-l", "app.kubernetes.io/managed-by=kstack", "-o", "name"))
	if len(hooks) == 0 {
		b.Fatal("no admission webhook registered")
	}
	k.MustKubectl(p.Kubeconfig, append([]string{"delete"}, hooks...)...)
	time.Sleep(2 * time.Second) // the API server drops the webhook from its list
	noHook, noHookU := put(n, true), patch(n, true)
	bindings := strings.Fields(k.MustKubectl(p.Kubeconfig, "get", "validatingadmissionpolicybindings", "-l", "app.kubernetes.io/managed-by=kstack", "-o", "name"))
	k.MustKubectl(p.Kubeconfig, append([]string{"delete"}, bindings...)...)
	time.Sleep(2 * time.Second)
	none, noneU := put(n, true), patch(n, true)

	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	p50, p99 := func(d []time.Duration) time.Duration { return percentile(d, .5) }, func(d []time.Duration) time.Duration { return percentile(d, .99) }
	report := func(what string, full, noHook, none, direct []time.Duration) {
		fmt.Printf("%s through the gateway, %d each:\n", what, n)
		fmt.Printf("  webhook + CEL invariants: p50 %v p99 %v\n", p50(full).Round(10*time.Microsecond), p99(full).Round(10*time.Microsecond))
		fmt.Printf("  CEL invariants only:      p50 %v p99 %v\n", p50(noHook).Round(10*time.Microsecond), p99(noHook).Round(10*time.Microsecond))
		fmt.Printf("  neither:                  p50 %v p99 %v\n", p50(none).Round(10*time.Microsecond), p99(none).Round(10*time.Microsecond))
		fmt.Printf("  added by the webhook:     p50 %.2f ms p99 %.2f ms\n", ms(p50(full)-p50(noHook)), ms(p99(full)-p99(noHook)))
		fmt.Printf("  added by the invariants:  p50 %.2f ms p99 %.2f ms\n", ms(p50(noHook)-p50(none)), ms(p99(noHook)-p99(none)))
		fmt.Printf("  straight to the kube-apiserver (break-glass: invariants, no webhook): p50 %v p99 %v; gateway with admission / direct at p50: %.2f\n",
			p50(direct).Round(10*time.Microsecond), p99(direct).Round(10*time.Microsecond), float64(p50(full))/float64(p50(direct)))
	}
	report("a user's label (merge patch; the check reads nothing)", fullU, noHookU, noneU, directU)
	report("a project replaced (PUT; the quota check lists the project's namespaces from the API server)", full, noHook, none, direct)
	if callCount > 0 {
		fmt.Printf("the webhook's calls as the API server times them (apiserver_admission_webhook_admission_duration_seconds), both writes: mean %.2f ms over %d calls\n", callSum/callCount*1000, int(callCount))
	}
	b.ReportMetric(ms(p50(fullU)-p50(noHookU)), "ms-webhook-user-p50")
	b.ReportMetric(float64(p50(fullU))/float64(p50(directU)), "gateway-user-write-ratio-p50")
	b.ReportMetric(ms(p50(full)-p50(noHook)), "ms-webhook-p50")
	b.ReportMetric(ms(p99(full)-p99(noHook)), "ms-webhook-p99")
	b.ReportMetric(ms(p50(noHook)-p50(none)), "ms-invariants-p50")
	b.ReportMetric(float64(p50(full))/float64(p50(direct)), "gateway-write-ratio-p50")
}

// webhookMetric reads the API server's histogram of validate.kstack.io's
// calls: the sum of seconds and the count.
func webhookMetric(b *testing.B, c *http.Client, host string) (sum, count float64) {
	resp, err := c.Get(host + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(line, "apiserver_admission_webhook_admission_duration_seconds_") || !strings.Contains(line, `name="validate.kstack.io"`) {
			continue
		}
		f := strings.Fields(line)
		var v float64
		if _, err := fmt.Sscan(f[len(f)-1], &v); err != nil {
			continue
		}
		switch {
		case strings.HasPrefix(line, "apiserver_admission_webhook_admission_duration_seconds_sum"):
			sum += v
		case strings.HasPrefix(line, "apiserver_admission_webhook_admission_duration_seconds_count"):
			count += v
		}
	}
	return sum, count
}
