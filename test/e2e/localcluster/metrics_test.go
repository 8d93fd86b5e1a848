package localcluster_test

import (
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kstack/kstack/test/e2e/framework"
)

// resourceUsage is the ResourceUsage that sets every container of one pod
// to use cpu and memory, as a test sets a simulated pod's usage.
func resourceUsage(pod, cpu, memory string) string {
	return fmt.Sprintf(`apiVersion: kwok.x-k8s.io/v1alpha1
kind: ResourceUsage
metadata:
  name: %s
  namespace: default
spec:
  usages:
  - usage:
      cpu:
        value: %s
      memory:
        value: %s
`, pod, cpu, memory)
}

func apply(t *testing.T, k *framework.Kstack, kc, manifest string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "manifest.yaml")
	if err := os.WriteFile(f, []byte(manifest), 0o600); err != nil {
		t.Fatal(err)
	}
	k.MustKubectl(kc, "apply", "-f", f)
}

// sample returns the value of the series named exactly series (name and
// labels as printed) in Prometheus text.
func sample(text, series string) (float64, error) {
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("no %s in:\n%s", series, text)
}

// topPod returns the CPU in millicores and the memory that `kubectl top pod` shows.
func topPod(k *framework.Kstack, kc, pod string) (int, string, error) {
	out, err := k.Kubectl(kc, "top", "pod", pod, "--no-headers")
	if err != nil {
		return 0, "", err
	}
	f := strings.Fields(out)
	if len(f) != 3 || !strings.HasSuffix(f[1], "m") {
		return 0, "", fmt.Errorf("top pod printed %q", out)
	}
	cpu, err := strconv.Atoi(strings.TrimSuffix(f[1], "m"))
	return cpu, f[2], err
}

func TestLocalClusterResourceUsage(t *testing.T) {
	k := framework.New(t)
	start := time.Now()
	kc := k.CreateCluster("usage", 2)
	t.Logf("created in %s", time.Since(start).Round(100*time.Millisecond))
	if processes(t, kc)["metrics-server"] == 0 {
		t.Fatal("processes.json has no metrics-server")
	}

	// The metrics API of a fresh cluster: every node uses something of its own.
	start = time.Now()
	framework.Eventually(t, 2*time.Minute, "kubectl top nodes shows both nodes", func() error {
		out, err := k.Kubectl(kc, "top", "nodes", "--no-headers")
		if err != nil {
			return err
		}
		re := regexp.MustCompile(`(?m)^usage-node-\d\s+[1-9]\d*m\s+\S+\s+[1-9]\d*Mi\s`)
		if n := len(re.FindAllString(out, -1)); n != 2 {
			return fmt.Errorf("%d nodes with usage in:\n%s", n, out)
		}
		return nil
	})
	t.Logf("kubectl top nodes answered %s after create", time.Since(start).Round(100*time.Millisecond))

	// The nodes advertise an address the apiserver's node proxy accepts,
	// and where their resource metrics are.
	nodes := k.MustKubectl(kc, "get", "nodes", "-o", `jsonpath={range .items[*]}{.metadata.name} {.status.addresses[?(@.type=="InternalIP")].address} {.metadata.annotations.metrics\.k8s\.io/resource-metrics-path}{"\n"}{end}`)
	for _, line := range strings.Split(strings.TrimSpace(nodes), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || f[2] != "/metrics/nodes/"+f[0]+"/metrics/resource" {
			t.Fatalf("node %q: want NAME IP /metrics/nodes/NAME/metrics/resource", line)
		}
		if ip := net.ParseIP(f[1]); ip == nil || !ip.IsGlobalUnicast() {
			t.Fatalf("node %s advertises %s, which the apiserver's node proxy refuses (this host has no address but loopback?)", f[0], f[1])
		}
	}

	k.MustKubectl(kc, "run", "hog", "--image=nginx", "--labels=app=hog")
	k.MustKubectl(kc, "run", "idle", "--image=nginx", "--labels=app=idle")
	waitRunning(t, k, kc, "app=hog", 1)
	waitRunning(t, k, kc, "app=idle", 1)
	apply(t, k, kc, resourceUsage("hog", "250m", "300Mi"))
	usageSet := time.Now()
	node := k.MustKubectl(kc, "get", "pod", "hog", "-o", "jsonpath={.spec.nodeName}")
	idleNode := k.MustKubectl(kc, "get", "pod", "idle", "-o", "jsonpath={.spec.nodeName}")

	t.Run("the node proxy serves the pod's usage", func(t *testing.T) {
		raw := func(node string) (string, error) {
			return k.Kubectl(kc, "get", "--raw", "/api/v1/nodes/"+node+"/proxy/metrics/nodes/"+node+"/metrics/resource")
		}
		pod := `{namespace="default",pod="hog"}`
		ctr := `{container="hog",namespace="default",pod="hog"}`
		var first float64
		var firstAt time.Time
		framework.Eventually(t, time.Minute, "the ResourceUsage in the node's resource metrics", func() error {
			text, err := raw(node)
			if err != nil {
				return err
			}
			for _, s := range []string{"pod_memory_working_set_bytes" + pod, "container_memory_working_set_bytes" + ctr} {
				if v, err := sample(text, s); err != nil || v != 300<<20 {
					return fmt.Errorf("%s = %v (%v), want 300Mi", s, v, err)
				}
			}
			for _, s := range []string{"node_cpu_usage_seconds_total", "node_memory_working_set_bytes", "container_cpu_usage_seconds_total" + ctr, "container_start_time_seconds" + ctr} {
				if _, err := sample(text, s); err != nil {
					return err
				}
			}
			first, err = sample(text, "pod_cpu_usage_seconds_total"+pod)
			firstAt = time.Now()
			return err
		})
		// The CPU counter grows by 0.25 core-seconds a second.
		time.Sleep(10 * time.Second)
		text, err := raw(node)
		if err != nil {
			t.Fatal(err)
		}
		second, err := sample(text, "pod_cpu_usage_seconds_total"+pod)
		if err != nil {
			t.Fatal(err)
		}
		if rate := (second - first) / time.Since(firstAt).Seconds(); math.Abs(rate-0.25) > 0.05 {
			t.Errorf("pod_cpu_usage_seconds_total grew %.3f/s (%v to %v), want 0.25", rate, first, second)
		}
		// Pods without a ResourceUsage get the cluster's default.
		text, err = raw(idleNode)
		if err != nil {
			t.Fatal(err)
		}
		if v, err := sample(text, `pod_memory_working_set_bytes{namespace="default",pod="idle"}`); err != nil || v != 1<<20 {
			t.Errorf("the idle pod's memory %v (%v), want the default 1Mi", v, err)
		}
	})

	t.Run("kubectl top shows the pod's usage", func(t *testing.T) {
		framework.Eventually(t, 2*time.Minute, "kubectl top pod hog at 250m and 300Mi", func() error {
			cpu, mem, err := topPod(k, kc, "hog")
			if err != nil {
				return err
			}
			if cpu < 240 || cpu > 260 || mem != "300Mi" {
				return fmt.Errorf("hog: %dm %s", cpu, mem)
			}
			return nil
		})
		t.Logf("kubectl top pod showed it %s after the ResourceUsage was made", time.Since(usageSet).Round(100*time.Millisecond))
		// A pod's figures take two scrapes after kwok first counts its CPU.
		framework.Eventually(t, 2*time.Minute, "kubectl top pods -A shows the idle pod at the default usage", func() error {
			out, err := k.Kubectl(kc, "top", "pods", "-A", "--no-headers")
			if err != nil {
				return err
			}
			if !regexp.MustCompile(`(?m)^default\s+idle\s+\d+m\s+1Mi\s*$`).MatchString(out) {
				return fmt.Errorf("top pods -A:\n%s", out)
			}
			return nil
		})

		// Usage changes at run time.
		apply(t, k, kc, resourceUsage("hog", "500m", "100Mi"))
		changed := time.Now()
		framework.Eventually(t, 2*time.Minute, "kubectl top pod hog at 500m and 100Mi", func() error {
			cpu, mem, err := topPod(k, kc, "hog")
			if err != nil {
				return err
			}
			if cpu < 490 || cpu > 510 || mem != "100Mi" {
				return fmt.Errorf("hog: %dm %s", cpu, mem)
			}
			return nil
		})
		t.Logf("kubectl top pod showed the change %s after it", time.Since(changed).Round(100*time.Millisecond))
	})
}
