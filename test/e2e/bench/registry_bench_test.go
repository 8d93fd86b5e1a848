package bench

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/kstack/kstack/internal/testutil/ocitest"
	"github.com/kstack/kstack/test/e2e/framework"
)

// registryTarget is one registry the benchmark pushes to and pulls from.
type registryTarget struct {
	name   string
	host   string // host:port
	remote ocitest.Remote
	proto  string // HTTP version the registry answered with
}

// BenchmarkRegistry measures, side by side in one run on this machine:
//
//   - push and pull throughput of one KSTACK_BENCH_REGISTRY_LAYER_MB (100)
//     MB layer (random bytes, uncompressed, so that nobody spends time
//     compressing) through kstack's registry (the gateway's HTTPS, a token
//     from its token service for an access key, the embedded distribution
//     with its touch-recording storage) and through a standalone
//     distribution v3.1.2 (ocitest.StartStandalone: its example
//     configuration, HTTPS on 127.0.0.1 with a certificate of its own, no
//     auth), both storing in directories of the same file system (the test's
//     temporary directory: $TMPDIR), both spoken to over HTTP/1.1 (the
//     gateway's protocol; the standalone would negotiate HTTP/2). The median of KSTACK_BENCH_REGISTRY_ROUNDS (3)
//     rounds, each a fresh layer, the two registries alternating first;
//     the pull reads the blob just pushed (from the page cache on both
//     sides);
//   - pushes per second of small artifacts: KSTACK_BENCH_REGISTRY_PUSHES
//     (1000) images of one 4 KiB layer, a small config and a 3 KiB
//     manifest, from KSTACK_BENCH_REGISTRY_CLIENTS (50) concurrent clients.
//     Each client keeps its connections (as one docker daemon does) and
//     each push is a whole `docker push`: ping, a token request (kstack:
//     an access key checked per request), HEAD and upload of the two
//     blobs, PUT of the manifest. Against the standalone too, for scale.
//
// Clients and servers share this machine's CPUs. Distribution's filesystem
// driver fsyncs each file it writes (a small push writes about a dozen):
// on a disk with slow fsync that, not kstack, bounds the small pushes of
// both registries; TMPDIR=/dev/shm shows the ceiling without the disk.
func BenchmarkRegistry(b *testing.B) {
	if os.Getenv("KSTACK_BENCH") == "" {
		b.Skip("set KSTACK_BENCH=1 (make bench)")
	}
	layerMB := envInt("KSTACK_BENCH_REGISTRY_LAYER_MB", 100)
	rounds := envInt("KSTACK_BENCH_REGISTRY_ROUNDS", 3)
	clients := envInt("KSTACK_BENCH_REGISTRY_CLIENTS", 50)
	pushes := envInt("KSTACK_BENCH_REGISTRY_PUSHES", 1000)
	for i := 0; i < b.N; i++ {
		runRegistryBench(b, int64(layerMB)<<20, rounds, clients, pushes)
	}
}

func runRegistryBench(b *testing.B, layerBytes int64, rounds, clients, pushes int) {
	ctx := context.Background()
	k := framework.New(b)
	k.Env = append(k.Env, "KSTACK_ADMIN_PASSWORD=Adm1n-Passw0rd")
	p := k.Up(3*time.Minute, "--listen", framework.FreeAddr(b), "--platform-arg=--registry-gc-interval=0")
	framework.CreateUser(b, k, "bench", "Passw0rd-Bench1", "--policy", "platform-user")
	k.MustRun("registry", "namespace", "create", "bench")
	u := framework.Login(b, k, "default", "bench", "Passw0rd-Bench1")
	key := strings.TrimSpace(u.MustRun("apikey", "create", "--expires", "2h", "--description", "registry bench"))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(k.PlatformCA())
	ks := &registryTarget{name: "kstack", host: strings.TrimPrefix(p.ConsoleURL, "https://"),
		remote: ocitest.Remote{RootCAs: pool, Username: "bench", Password: key}}
	// The standalone stores beside kstack's data dir: the same disk.
	sa := ocitest.StartStandalone(b, filepath.Join(filepath.Dir(k.DataDir), "standalone-registry"))
	st := &registryTarget{name: "standalone", host: sa.Host, remote: sa.Remote}
	for _, tg := range []*registryTarget{ks, st} {
		tg.remote.RoundTripper = http1(tg.remote)
		tg.proto = httpProto(b, tg)
	}

	// Throughput of one big layer.
	push := map[string][]float64{}
	pull := map[string][]float64{}
	for r := 0; r < rounds; r++ {
		order := []*registryTarget{ks, st}
		if r%2 == 1 {
			order = []*registryTarget{st, ks}
		}
		for _, tg := range order {
			layer, err := ocitest.RandomLayer(layerBytes)
			if err != nil {
				b.Fatal(err)
			}
			img, err := ocitest.ImageOf(layer)
			if err != nil {
				b.Fatal(err)
			}
			size, _ := layer.Size()
			dg, _ := layer.Digest()
			repo := tg.host + "/bench/big"
			t0 := time.Now()
			if err := tg.remote.Push(ctx, fmt.Sprintf("%s:r%d", repo, r), img); err != nil {
				b.Fatalf("%s: pushing %d MB: %v", tg.name, size>>20, err)
			}
			push[tg.name] = append(push[tg.name], mbps(size, time.Since(t0)))
			t0 = time.Now()
			n, err := tg.remote.ReadBlob(ctx, repo, dg.String())
			if err != nil || n != size {
				b.Fatalf("%s: pulling the layer: %d bytes, %v", tg.name, n, err)
			}
			pull[tg.name] = append(pull[tg.name], mbps(size, time.Since(t0)))
		}
	}

	// Small pushes from many clients.
	rate := map[string]float64{}
	p50 := map[string]time.Duration{}
	for _, tg := range []*registryTarget{ks, st} {
		rate[tg.name], p50[tg.name] = smallPushes(b, tg, clients, pushes)
	}

	med := func(v []float64) float64 {
		s := append([]float64(nil), v...)
		sort.Float64s(s)
		return s[len(s)/2]
	}
	kp, sp := med(push["kstack"]), med(push["standalone"])
	kl, sl := med(pull["kstack"]), med(pull["standalone"])
	fmt.Printf("\nRegistry, this machine (%d CPUs), both registries storing under %s (same file system), both HTTPS on 127.0.0.1 (kstack %s through its gateway with token auth and an access key; standalone distribution v3.1.2 %s, no auth):\n",
		runtime.NumCPU(), os.TempDir(), ks.proto, st.proto)
	fmt.Printf("  %-52s %12s %12s %8s\n", "", "kstack", "standalone", "ratio")
	fmt.Printf("  %-52s %12.1f %12.1f %8.2f\n", fmt.Sprintf("push, one %d MB layer (MB/s, median of %d)", layerBytes>>20, rounds), kp, sp, kp/sp)
	fmt.Printf("  %-52s %12.1f %12.1f %8.2f\n", fmt.Sprintf("pull, one %d MB layer (MB/s, median of %d)", layerBytes>>20, rounds), kl, sl, kl/sl)
	fmt.Printf("  %-52s %12.1f %12.1f %8.2f\n", fmt.Sprintf("small artifacts pushed per second, %d clients", clients), rate["kstack"], rate["standalone"], rate["kstack"]/rate["standalone"])
	fmt.Printf("  %-52s %12s %12s\n", "  one push, p50", p50["kstack"].Round(time.Millisecond), p50["standalone"].Round(time.Millisecond))
	fmt.Printf("  push rounds (MB/s): kstack %v, standalone %v; pull rounds: kstack %v, standalone %v\n",
		rounded(push["kstack"]), rounded(push["standalone"]), rounded(pull["kstack"]), rounded(pull["standalone"]))
	fmt.Printf("  (aims: throughput ratio >= 0.9; >= 100 small pushes/s, Harbor's published figure is 39/s)\n\n")
	b.ReportMetric(kp, "MB/s-push-kstack")
	b.ReportMetric(kp/sp, "push-ratio")
	b.ReportMetric(kl, "MB/s-pull-kstack")
	b.ReportMetric(kl/sl, "pull-ratio")
	b.ReportMetric(rate["kstack"], "pushes/s-kstack")
}

// smallPushes pushes n small images from c clients to tg and returns the
// pushes per second and the median time of one push. Any failed push
// fails the benchmark.
func smallPushes(b *testing.B, tg *registryTarget, c, n int) (float64, time.Duration) {
	ctx := context.Background()
	imgs := make([]v1.Image, n)
	for i := range imgs {
		layer, err := ocitest.RandomLayer(4 << 10)
		if err != nil {
			b.Fatal(err)
		}
		img, err := ocitest.ImageOf(layer)
		if err != nil {
			b.Fatal(err)
		}
		// A manifest of a few KiB, as small artifacts' are.
		imgs[i] = mutate.Annotations(img, map[string]string{"bench.padding": strings.Repeat("p", 3<<10)}).(v1.Image)
		// Compute digests now, not while timing.
		if _, err := imgs[i].RawManifest(); err != nil {
			b.Fatal(err)
		}
	}
	jobs := make(chan int, n)
	for i := 0; i < n; i++ {
		jobs <- i
	}
	close(jobs)
	var mu sync.Mutex
	var took []time.Duration
	var failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			r := tg.remote
			r.RoundTripper = http1(r) // this client's connections
			for i := range jobs {
				t0 := time.Now()
				err := r.Push(ctx, fmt.Sprintf("%s/bench/client-%02d:a%d", tg.host, w, i), imgs[i])
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				mu.Lock()
				took = append(took, time.Since(t0))
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start)
	if f := failed.Load(); f > 0 {
		b.Fatalf("%s: %d of %d small pushes failed, the first: %v", tg.name, f, n, firstErr.Load())
	}
	return float64(n) / elapsed.Seconds(), percentile(took, .5)
}

// http1 is a transport of r's that speaks HTTP/1.1 only: the gateway
// serves HTTP/1.1, and the standalone registry (which would negotiate
// HTTP/2) is measured the same way.
func http1(r ocitest.Remote) *http.Transport {
	tr := r.Transport()
	tr.ForceAttemptHTTP2 = false
	tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	return tr
}

// httpProto is the HTTP version tg answers GET /v2/ with.
func httpProto(b *testing.B, tg *registryTarget) string {
	c := &http.Client{Timeout: 10 * time.Second, Transport: tg.remote.RoundTripper}
	resp, err := c.Get("https://" + tg.host + "/v2/")
	if err != nil {
		b.Fatalf("%s: GET /v2/: %v", tg.name, err)
	}
	resp.Body.Close()
	return resp.Proto
}

func mbps(n int64, d time.Duration) float64 { return float64(n) / (1 << 20) / d.Seconds() }

func rounded(v []float64) []string {
	var out []string
	for _, x := range v {
		out = append(out, fmt.Sprintf("%.0f", x))
	}
	return out
}
