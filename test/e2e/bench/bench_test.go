// Package bench measures kstack's speed and memory. Run with `make bench`;
// it prints figures and asserts nothing about them (the suite's tests only
// check behaviour).
package bench

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kstack/kstack/test/e2e/framework"
)

// BenchmarkLocalCreate: seconds from `kstack local create` to all nodes Ready
// (create returns then), and the resident memory of the cluster's processes.
func BenchmarkLocalCreate(b *testing.B) {
	k := framework.New(b)
	for i := 0; i < b.N; i++ {
		name := fmt.Sprintf("bench-%d", i)
		start := time.Now()
		k.MustRun("local", "create", name, "--nodes", "3")
		secs := time.Since(start).Seconds()
		kc := strings.TrimSpace(k.MustRun("local", "kubeconfig", name))
		// Let it settle (caches filled, first leases written) before measuring memory.
		k.MustKubectl(kc, "create", "deployment", "web", "--image=nginx", "--replicas=10")
		time.Sleep(15 * time.Second)
		rss := rssOf(k.Processes())
		b.ReportMetric(secs, "s-to-nodes-ready")
		b.ReportMetric(float64(rss)/(1<<20), "MiB-pss-cluster")
		fmt.Printf("local create -> 3 nodes Ready: %.2f s; resident memory (Pss) of the cluster (supervisor + all components): %.0f MiB\n", secs, float64(rss)/(1<<20))
		k.MustRun("local", "delete", name)
	}
}

// BenchmarkUpReadyz: seconds from starting `kstack up` to /readyz answering 200.
func BenchmarkUpReadyz(b *testing.B) {
	for i := 0; i < b.N; i++ {
		k := framework.New(b)
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		for _, phase := range []string{"first up (new data dir)", "second up (same data dir)"} {
			cmd := exec.Command(k.Bin, "--data-dir", k.DataDir, "up", "--listen", addr)
			start := time.Now()
			if err := cmd.Start(); err != nil {
				b.Fatal(err)
			}
			c := &http.Client{Timeout: time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
			var secs float64
			for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
				resp, err := c.Get("https://" + addr + "/readyz")
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode == 200 {
						secs = time.Since(start).Seconds()
						break
					}
				}
			}
			if secs == 0 {
				b.Fatal("/readyz never answered 200")
			}
			rss := rssOf(k.Processes())
			fmt.Printf("kstack up, %s -> /readyz OK: %.2f s; resident memory (Pss) of the platform: %.0f MiB\n", phase, secs, float64(rss)/(1<<20))
			b.ReportMetric(secs, "s-to-readyz")
			cmd.Process.Signal(os.Interrupt)
			cmd.Wait()
		}
	}
}

// rssOf sums the proportional set size (Pss) of the given processes: their
// resident memory with pages shared between them (the one kstack binary's
// text) counted once, not once per process as summing VmRSS would.
func rssOf(pids []int) int64 {
	var total int64
	for _, pid := range pids {
		data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "smaps_rollup"))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "Pss:" {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				total += kb << 10
			}
		}
	}
	return total
}
