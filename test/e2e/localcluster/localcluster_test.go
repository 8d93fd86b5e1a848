package localcluster_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kstack/kstack/internal/localcluster"
	"github.com/kstack/kstack/test/e2e/framework"
)

// podPhases returns the phases of the pods matching selector.
func podPhases(k *framework.Kstack, kc, selector string) ([]string, error) {
	out, err := k.Kubectl(kc, "get", "pods", "-l", selector, "-o", "jsonpath={.items[*].status.phase}")
	if err != nil {
		return nil, err
	}
	return strings.Fields(out), nil
}

func waitRunning(t *testing.T, k *framework.Kstack, kc, selector string, want int) {
	t.Helper()
	framework.Eventually(t, 2*time.Minute, fmt.Sprintf("%d pods %s Running", want, selector), func() error {
		phases, err := podPhases(k, kc, selector)
		if err != nil {
			return err
		}
		running := 0
		for _, p := range phases {
			if p == "Running" {
				running++
			}
		}
		if running != want {
			return fmt.Errorf("pod phases %v", phases)
		}
		return nil
	})
}

func processes(t *testing.T, kc string) map[string]int {
	t.Helper()
	// kubeconfig is DIR/kubeconfig/admin.kubeconfig; the state is DIR/run/processes.json.
	state := filepath.Join(filepath.Dir(filepath.Dir(kc)), "run", "processes.json")
	data, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]int{}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestLocalClusters(t *testing.T) {
	k := framework.New(t)
	// A deleted pod's log files are kept for 2 s, not 30: the test watches
	// them go.
	k.Env = append(k.Env, "KSTACK_POD_LOGS_GRACE=2s")
	kcA := k.CreateCluster("alpha", 2)
	kcB := k.CreateCluster("beta", 3)

	// The kubeconfig command prints the path as its only line.
	if out := k.MustRun("local", "kubeconfig", "alpha"); strings.Count(out, "\n") != 1 || strings.TrimSpace(out) != kcA {
		t.Fatalf("local kubeconfig printed %q", out)
	}
	nodes := k.MustKubectl(kcB, "get", "nodes", "-o", "jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type==\"Ready\")].status} {end}")
	if strings.Count(nodes, "=True") != 3 {
		t.Fatalf("beta nodes: %q, want 3 Ready", nodes)
	}
	if v := k.MustKubectl(kcA, "version", "-o", "json"); !strings.Contains(v, `"gitVersion": "v1.37.2"`) {
		t.Fatalf("server version: %s", v)
	}

	list := k.MustRun("local", "list", "-o", "json")
	var infos []struct{ Name, Phase string }
	if err := json.Unmarshal([]byte(list), &infos); err != nil || len(infos) != 2 || infos[0].Phase != "Running" || infos[1].Phase != "Running" {
		t.Fatalf("local list: %v %s", err, list)
	}

	for _, kc := range []string{kcA, kcB} {
		k.MustKubectl(kc, "create", "deployment", "web", "--image=nginx", "--replicas=5")
	}
	waitRunning(t, k, kcA, "app=web", 5)
	waitRunning(t, k, kcB, "app=web", 5)

	t.Run("storage", func(t *testing.T) {
		manifest := filepath.Join(t.TempDir(), "pvc.yaml")
		if err := os.WriteFile(manifest, []byte(`apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Pod
metadata: {name: db, labels: {app: db}}
spec:
  containers: [{name: db, image: postgres, volumeMounts: [{name: d, mountPath: /var/lib/postgresql}]}]
  volumes: [{name: d, persistentVolumeClaim: {claimName: data}}]
`), 0o600); err != nil {
			t.Fatal(err)
		}
		k.MustKubectl(kcA, "apply", "-f", manifest)
		waitRunning(t, k, kcA, "app=db", 1)
		if phase := k.MustKubectl(kcA, "get", "pvc", "data", "-o", "jsonpath={.status.phase}"); phase != "Bound" {
			t.Fatalf("pvc phase %q", phase)
		}
		if sc := k.MustKubectl(kcA, "get", "storageclass", "-o", "jsonpath={.items[0].metadata.annotations.storageclass\\.kubernetes\\.io/is-default-class}"); sc != "true" {
			t.Fatalf("no default StorageClass: %q", sc)
		}
	})

	pod := strings.TrimPrefix(strings.Fields(k.MustKubectl(kcA, "get", "pods", "-l", "app=web", "-o", "name"))[0], "pod/")

	t.Run("logs", func(t *testing.T) {
		out := k.MustKubectl(kcA, "logs", pod)
		if !strings.Contains(out, "kstack simulated container") {
			t.Fatalf("logs: %q", out)
		}
	})

	t.Run("each container has its own CRI log", func(t *testing.T) {
		dir := filepath.Dir(filepath.Dir(kcA))
		fields := strings.Fields(k.MustKubectl(kcA, "get", "pod", pod, "-o", "jsonpath={.metadata.uid} {.spec.containers[0].name}"))
		uid, ctr := fields[0], fields[1]
		file := localcluster.ContainerLogFile(dir, "default", pod, uid, ctr)
		if _, err := os.Stat(file); err != nil {
			t.Fatalf("the container's log file: %v", err)
		}
		// kwok serves the pod's file through a Logs object owned by the pod.
		if owner := k.MustKubectl(kcA, "get", "logs.kwok.x-k8s.io", pod, "-o", "jsonpath={.metadata.ownerReferences[0].uid}"); owner != uid {
			t.Errorf("the Logs object's owner is %q, want the pod %s", owner, uid)
		}
		if err := localcluster.AppendContainerLog(dir, "default", pod, uid, ctr, "e2e line one", "e2e line two"); err != nil {
			t.Fatal(err)
		}
		// The message alone, as from a kubelet; with --timestamps, its time first.
		if out := k.MustKubectl(kcA, "logs", pod); !strings.Contains(out, "\ne2e line one\ne2e line two\n") {
			t.Errorf("logs: %q", out)
		}
		if out := k.MustKubectl(kcA, "logs", pod, "--timestamps", "--tail=50"); !regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\dT[0-9:.]+Z e2e line two$`).MatchString(out) {
			t.Errorf("logs --timestamps: %q", out)
		}

		// logs -f shows a line appended while it follows.
		cmd := exec.Command(k.Bin, "kubectl", "--kubeconfig", kcA, "logs", "-f", "--tail=1", pod)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { cmd.Process.Kill(); cmd.Wait() }()
		got := make(chan string, 100)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				got <- sc.Text()
			}
			close(got)
		}()
		select {
		case <-got: // following from here on
		case <-time.After(30 * time.Second):
			t.Fatal("logs -f printed nothing within 30s")
		}
		if err := localcluster.AppendContainerLog(dir, "default", pod, uid, ctr, "e2e followed line"); err != nil {
			t.Fatal(err)
		}
		deadline := time.After(30 * time.Second)
	follow:
		for {
			select {
			case line, ok := <-got:
				if !ok {
					t.Fatal("logs -f ended")
				}
				if line == "e2e followed line" {
					break follow
				}
			case <-deadline:
				t.Fatal("logs -f did not show the appended line within 30s")
			}
		}

		// A deleted pod's Logs object goes with it (garbage collection), its
		// files after a grace period.
		other := strings.TrimPrefix(strings.Fields(k.MustKubectl(kcA, "get", "pods", "-l", "app=web", "-o", "name"))[1], "pod/")
		otherUID := k.MustKubectl(kcA, "get", "pod", other, "-o", "jsonpath={.metadata.uid}")
		otherDir := filepath.Dir(filepath.Dir(localcluster.ContainerLogFile(dir, "default", other, otherUID, ctr)))
		if _, err := os.Stat(otherDir); err != nil {
			t.Fatal(err)
		}
		k.MustKubectl(kcA, "delete", "pod", other, "--wait=true")
		framework.Eventually(t, 2*time.Minute, "the deleted pod's Logs object and files removed", func() error {
			if out, err := k.Kubectl(kcA, "get", "logs.kwok.x-k8s.io", other, "--ignore-not-found", "-o", "name"); err != nil || out != "" {
				return fmt.Errorf("Logs object: %q %v", out, err)
			}
			if _, err := os.Stat(otherDir); !os.IsNotExist(err) {
				return fmt.Errorf("%s: %v", otherDir, err)
			}
			return nil
		})
		waitRunning(t, k, kcA, "app=web", 5)
	})

	t.Run("exec runs unprivileged in a scratch dir", func(t *testing.T) {
		out := k.MustKubectl(kcA, "exec", pod, "--", "sh", "-c", "id -u; pwd")
		lines := strings.Fields(out)
		if len(lines) != 2 {
			t.Fatalf("exec output %q", out)
		}
		if os.Geteuid() == 0 && lines[0] != "65534" {
			t.Fatalf("exec ran as uid %s, want 65534 (nobody)", lines[0])
		}
		if !strings.Contains(lines[1], "kstack-exec-alpha-") {
			t.Fatalf("exec ran in %s, want the scratch dir", lines[1])
		}
	})

	t.Run("port-forward", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		cmd := exec.Command(k.Bin, "kubectl", "--kubeconfig", kcA, "port-forward", "pod/"+pod, fmt.Sprintf("%d:80", port))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { cmd.Process.Kill(); cmd.Wait() }()
		framework.WaitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/", port), "kstack simulated pod", 30*time.Second)
	})

	t.Run("stop and start keep the objects", func(t *testing.T) {
		before := processes(t, kcA)
		if len(before) == 0 {
			t.Fatal("alpha's process list is empty: nothing to check after stop")
		}
		k.MustRun("local", "stop", "alpha")
		for name, pid := range before {
			if syscall.Kill(pid, 0) == nil && !zombie(pid) {
				t.Errorf("%s (pid %d) still runs after stop", name, pid)
			}
		}
		if out := k.MustRun("local", "list"); !strings.Contains(out, "Stopped") {
			t.Errorf("list after stop: %s", out)
		}
		if _, err := k.Kubectl(kcA, "get", "nodes", "--request-timeout=2s"); err == nil {
			t.Error("the stopped cluster still answers")
		}
		k.MustRun("local", "start", "alpha")
		if r := k.MustKubectl(kcA, "get", "deployment", "web", "-o", "jsonpath={.spec.replicas}"); r != "5" {
			t.Fatalf("deployment after restart: replicas %q", r)
		}
		waitRunning(t, k, kcA, "app=web", 5)
	})

	t.Run("a killed component is restarted", func(t *testing.T) {
		for _, comp := range []string{"kube-apiserver", "kwok"} {
			old := processes(t, kcB)[comp]
			if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			framework.Eventually(t, time.Minute, comp+" restarted", func() error {
				if pid := processes(t, kcB)[comp]; pid == 0 || pid == old {
					return fmt.Errorf("pid %d", pid)
				}
				return nil
			})
		}
		framework.Eventually(t, time.Minute, "beta serves again", func() error {
			_, err := k.Kubectl(kcB, "get", "nodes")
			return err
		})
		k.MustKubectl(kcB, "scale", "deployment", "web", "--replicas=7")
		waitRunning(t, k, kcB, "app=web", 7)
	})

	t.Run("delete removes everything", func(t *testing.T) {
		for _, name := range []string{"alpha", "beta"} {
			k.MustRun("local", "delete", name)
			if _, err := os.Stat(filepath.Join(k.DataDir, "clusters", name)); !os.IsNotExist(err) {
				t.Errorf("%s: directory left after delete: %v", name, err)
			}
		}
		if pids := k.Processes(); len(pids) > 0 {
			t.Errorf("processes left after delete: %v", pids)
		}
		if out := k.MustRun("local", "list", "-o", "json"); strings.TrimSpace(out) != "[]" {
			t.Errorf("list after delete: %s", out)
		}
	})
}

func zombie(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] == 'Z'
}
