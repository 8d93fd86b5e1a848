package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kstack/kstack/internal/login"
	"github.com/kstack/kstack/test/e2e/framework"
)

// BenchmarkAuth measures what authentication and the decision point add to
// a proxied request (GET of one ConfigMap), per way of authenticating, and
// how many password logins (the full code flow with PKCE, bcrypt included)
// the platform completes per second.
func BenchmarkAuth(b *testing.B) {
	k := framework.New(b)
	k.Env = append(k.Env, "KSTACK_ADMIN_PASSWORD=Adm1n-Passw0rd")
	p := k.Up(3*time.Minute, "--listen", framework.FreeAddr(b))
	k.MustRun("local", "create", "authbench", "--nodes", "1", "--import")
	id := clusterID(b, k, "authbench")
	ctx := context.Background()
	direct := client(b, strings.TrimSpace(k.MustRun("local", "kubeconfig", "authbench")))
	if _, err := direct.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "bench"}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	mkUser := func(name, pw string, args ...string) *framework.Kstack {
		if r := k.RunStdin(pw+"\n", append([]string{"user", "create", name, "--password-stdin"}, args...)...); r.Err != nil {
			b.Fatalf("%v %s", r.Err, r.Stderr)
		}
		u := k.As(name)
		if r := u.RunStdin(pw+"\n", "login", "--username", name, "--password-stdin"); r.Err != nil {
			b.Fatalf("%v %s", r.Err, r.Stderr)
		}
		return u
	}
	alice := mkUser("alice", "Passw0rd-Alice", "--policy", "platform-user")
	// bob holds a custom policy of 20 statements, the last of which allows.
	var st []string
	for i := 0; i < 19; i++ {
		st = append(st, fmt.Sprintf(`{"actions":["get*"],"resources":["cluster:%s/namespace:team-%d/*"],"effect":"allow"}`, id, i))
	}
	st = append(st, `{"actions":["get*","list*"],"resources":["cluster:`+id+`/namespace:default/*"],"effect":"allow"}`)
	pf := filepath.Join(b.TempDir(), "p.json")
	if err := os.WriteFile(pf, []byte("["+strings.Join(st, ",")+"]"), 0o600); err != nil {
		b.Fatal(err)
	}
	k.MustRun("policy", "create", "bench-read", "-f", pf)
	bob := mkUser("bob", "Passw0rd-Bob01")
	k.MustRun("policy", "bind", "bench-read", "--user", "bob")

	kc := func(u *framework.Kstack, name string, args ...string) kubernetes.Interface {
		f := filepath.Join(b.TempDir(), name+".kubeconfig")
		u.MustRun(append([]string{"kubeconfig", "--cluster", id, "-f", f}, args...)...)
		return client(b, f)
	}
	key := strings.TrimSpace(alice.MustRun("apikey", "create", "--expires", "1h"))
	modes := []struct {
		name string
		cs   kubernetes.Interface
		d    []time.Duration
	}{
		{"direct to the member", direct, nil},
		{"proxy, data dir admin token", kc(k, "admin"), nil},
		{"proxy, login token (platform-user)", kc(alice, "alice"), nil},
		{"proxy, access key (platform-user)", kc(alice, "key", "--api-key", key), nil},
		{"proxy, login token (20-statement policy)", kc(bob, "bob"), nil},
	}
	for i := 0; i < 800; i++ {
		for m := range modes {
			start := time.Now()
			if _, err := modes[m].cs.CoreV1().ConfigMaps("default").Get(ctx, "bench", metav1.GetOptions{}); err != nil {
				b.Fatalf("%s: %v", modes[m].name, err)
			}
			modes[m].d = append(modes[m].d, time.Since(start))
		}
	}
	base := modes[1].d
	fmt.Println("GET one ConfigMap (800 each, interleaved):")
	for i, m := range modes {
		fmt.Printf("  %-42s p50 %8v p99 %8v", m.name, percentile(m.d, .5).Round(time.Microsecond), percentile(m.d, .99).Round(time.Microsecond))
		if i >= 2 {
			fmt.Printf("  | authn+authz over the admin token: p50 %v p99 %v",
				(percentile(m.d, .5) - percentile(base, .5)).Round(time.Microsecond), (percentile(m.d, .99) - percentile(base, .99)).Round(time.Microsecond))
		}
		fmt.Println()
	}
	b.ReportMetric(float64(percentile(modes[2].d, .5)-percentile(base, .5))/1e6, "ms-authz-added-p50")
	b.ReportMetric(float64(percentile(modes[2].d, .99)-percentile(base, .99))/1e6, "ms-authz-added-p99")

	// Login throughput: 4 clients, each logging in its own user (logins of
	// one user serialise on that user's status), 80 logins in all.
	ca := k.PlatformCA()
	const n, workers = 80, 4
	for w := 0; w < workers; w++ {
		if r := k.RunStdin("Passw0rd-Login1\n", "user", "create", fmt.Sprintf("login-%d", w), "--password-stdin"); r.Err != nil {
			b.Fatalf("%v %s", r.Err, r.Stderr)
		}
	}
	var mu sync.Mutex
	var lat []time.Duration
	jobs := make(chan int, n)
	for i := 0; i < n; i++ {
		jobs <- i
	}
	close(jobs)
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(user string) {
			defer wg.Done()
			for range jobs {
				t0 := time.Now()
				if _, err := login.PasswordLogin(ctx, p.ConsoleURL, ca, "default", user, "Passw0rd-Login1"); err != nil {
					b.Error(err)
					return
				}
				mu.Lock()
				lat = append(lat, time.Since(t0))
				mu.Unlock()
			}
		}(fmt.Sprintf("login-%d", w))
	}
	wg.Wait()
	el := time.Since(start)
	fmt.Printf("password logins (code flow + PKCE + bcrypt), %d clients: %.1f logins/s, latency p50 %v p99 %v\n",
		workers, float64(len(lat))/el.Seconds(), percentile(lat, .5).Round(time.Millisecond), percentile(lat, .99).Round(time.Millisecond))
	b.ReportMetric(float64(len(lat))/el.Seconds(), "logins/s")
}
