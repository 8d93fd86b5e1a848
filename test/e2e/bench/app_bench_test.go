package bench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kstack/kstack/test/e2e/framework"
)

// BenchmarkAppInstall measures, side by side in one run on this machine,
// the time from "install" to every workload of a 20-resource chart (10
// Deployments of one pod, 10 ConfigMaps) being Running and ready:
//
//   - kstack: `kstack app install --wait`, as a project member: the
//     platform loads the chart from its registry, checks the values, and
//     runs Helm as the member through the proxy;
//   - helm: `helm install --wait` of the same chart archive straight at the
//     member (its admin kubeconfig), the anchor.
//
// KSTACK_BENCH_APP_ROUNDS (3) rounds, each a fresh release, the two
// alternating first; the median of each. Both wait the same way (Helm's
// readiness checks); the member is a local cluster of kwok nodes, whose
// pods turn Running as soon as they are scheduled, so the figures are the
// platforms' overhead and Helm's polling, not image pulls.
func BenchmarkAppInstall(b *testing.B) {
	if os.Getenv("KSTACK_BENCH") == "" {
		b.Skip("set KSTACK_BENCH=1 (make bench)")
	}
	rounds := envInt("KSTACK_BENCH_APP_ROUNDS", 3)
	for i := 0; i < b.N; i++ {
		runAppBench(b, rounds)
	}
}

func runAppBench(b *testing.B, rounds int) {
	k := framework.New(b)
	k.Env = append(k.Env, "KSTACK_ADMIN_PASSWORD=Adm1n-Passw0rd")
	p := k.Up(3*time.Minute, "--listen", framework.FreeAddr(b))
	host := strings.TrimPrefix(p.ConsoleURL, "https://")
	cluster, memberKC := k.ImportedCluster("bench", 2)
	framework.CreateUser(b, k, "bench", "Passw0rd-Bench1")
	prj := strings.TrimSpace(k.MustRun("project", "create", "bench", "--cluster", cluster, "--cpu", "20", "--memory", "40Gi", "--pods", "200", "-o", "name"))
	k.MustRun("project", "add-member", prj, "bench")
	k.MustRun("namespace", "create", "kstack-path", "--project", prj, "--cluster", cluster, "--cpu", "10", "--memory", "20Gi", "--pods", "100")
	k.MustKubectl(memberKC, "create", "namespace", "helm-path")
	k.MustRun("chart", "group", "create", "bench", "--visibility", "Project", "--project", prj)
	u := framework.Login(b, k, "default", "bench", "Passw0rd-Bench1")
	key := strings.TrimSpace(u.MustRun("apikey", "create", "--expires", "2h", "--description", "app bench"))

	helm := framework.Helm(b)
	home := b.TempDir()
	caFile := filepath.Join(home, "ca.crt")
	if err := os.WriteFile(caFile, k.PlatformCA(), 0o644); err != nil {
		b.Fatal(err)
	}
	run := func(stdin string, args ...string) {
		cmd := exec.Command(helm, args...)
		cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+filepath.Join(home, "cache"), "HELM_CONFIG_HOME="+filepath.Join(home, "config"),
			"HELM_DATA_HOME="+filepath.Join(home, "data"))
		cmd.Stdin = strings.NewReader(stdin)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	tgz := filepath.Join(home, "twenty-0.1.0.tgz")
	run("", "package", twentyChart(b), "-d", home)
	run(key+"\n", "registry", "login", host, "--username", "bench", "--password-stdin", "--ca-file", caFile)
	run("", "push", tgz, "oci://"+host+"/bench", "--ca-file", caFile)

	times := map[string][]time.Duration{}
	for r := 0; r < rounds; r++ {
		name := fmt.Sprintf("twenty-%d", r)
		paths := []string{"kstack", "helm"}
		if r%2 == 1 {
			paths = []string{"helm", "kstack"}
		}
		for _, path := range paths {
			t0 := time.Now()
			if path == "kstack" {
				u.MustRun("app", "install", name, "--chart", "bench/twenty", "--version", "0.1.0", "--cluster", cluster, "--namespace", "kstack-path",
					"--project", prj, "--wait", "--timeout", "5m")
			} else {
				run("", "install", name, tgz, "-n", "helm-path", "--kubeconfig", memberKC, "--wait", "--timeout", "5m")
			}
			times[path] = append(times[path], time.Since(t0))
			ns := map[string]string{"kstack": "kstack-path", "helm": "helm-path"}[path]
			running := strings.Count(k.MustKubectl(memberKC, "get", "pods", "-n", ns, "-l", "release="+name,
				"--field-selector", "status.phase=Running", "-o", "name"), "pod/")
			if running != 10 {
				b.Fatalf("%s: %d pods of %s Running after the install returned, want 10", path, running, name)
			}
		}
		u.MustRun("app", "uninstall", name, "--project", prj)
		run("", "uninstall", name, "-n", "helm-path", "--kubeconfig", memberKC, "--wait")
	}
	med := func(d []time.Duration) time.Duration {
		s := append([]time.Duration(nil), d...)
		sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
		return s[len(s)/2]
	}
	fmt.Printf("install of a 20-resource chart (10 Deployments, 10 ConfigMaps) to all workloads Running, median of %d:\n", rounds)
	fmt.Printf("  kstack app install --wait (as a project member, through the proxy): %v  %v\n", med(times["kstack"]).Round(10*time.Millisecond), times["kstack"])
	fmt.Printf("  helm install --wait straight at the member:                         %v  %v\n", med(times["helm"]).Round(10*time.Millisecond), times["helm"])
	fmt.Printf("  kstack / helm: %.2f\n", float64(med(times["kstack"]))/float64(med(times["helm"])))
	b.ReportMetric(med(times["kstack"]).Seconds(), "s-kstack-install")
	b.ReportMetric(med(times["helm"]).Seconds(), "s-helm-install")
}

// twentyChart writes the benchmark's chart: 10 Deployments of one pod and
// 10 ConfigMaps.
func twentyChart(b *testing.B) string {
	dir := filepath.Join(b.TempDir(), "twenty")
	if err := os.MkdirAll(filepath.Join(dir, "templates"), 0o755); err != nil {
		b.Fatal(err)
	}
	files := map[string]string{
		"Chart.yaml": "apiVersion: v2\nname: twenty\nversion: 0.1.0\n",
		"templates/all.yaml": `{{- range $i := until 10 }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ $.Release.Name }}-cm-{{ $i }}
data: {index: "{{ $i }}"}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $.Release.Name }}-{{ $i }}
spec:
  replicas: 1
  selector:
    matchLabels: {app: {{ $.Release.Name }}-{{ $i }}}
  template:
    metadata:
      labels: {app: {{ $.Release.Name }}-{{ $i }}, release: {{ $.Release.Name }}}
    spec:
      containers:
      - name: c
        image: registry.example/app:1
        resources:
          requests: {cpu: 10m, memory: 16Mi}
          limits: {cpu: 50m, memory: 32Mi}
{{- end }}
`,
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}
