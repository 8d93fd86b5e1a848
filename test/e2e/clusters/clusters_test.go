// Package clusters tests cluster management end to end: import both ways,
// status, failure and recovery, and every form of the proxy, with real local
// clusters, the real kubectl and client-go.
package clusters

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kstack/kstack/test/e2e/framework"
)

type cluster struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		DisplayName string `json:"displayName"`
		Type        string `json:"type"`
	} `json:"spec"`
	Status struct {
		Phase   string `json:"phase"`
		Version string `json:"version"`
		Pods    int    `json:"pods"`
		Nodes   struct {
			Total, Ready int
		} `json:"nodes"`
	} `json:"status"`
}

func clusters(t *testing.T, k *framework.Kstack) map[string]cluster {
	t.Helper()
	var list []cluster
	if err := json.Unmarshal([]byte(k.MustRun("cluster", "list", "-o", "json")), &list); err != nil {
		t.Fatal(err)
	}
	out := map[string]cluster{}
	for _, c := range list {
		out[c.Spec.DisplayName] = c
	}
	return out
}

func waitPhase(t *testing.T, k *framework.Kstack, name, phase string, timeout time.Duration) cluster {
	t.Helper()
	var got cluster
	framework.Eventually(t, timeout, name+" "+phase, func() error {
		got = clusters(t, k)[name]
		if got.Status.Phase != phase {
			return fmt.Errorf("phase %q", got.Status.Phase)
		}
		return nil
	})
	return got
}

// platformHTTP is an HTTP client that trusts the platform's CA, and the admin token.
func platformHTTP(t *testing.T, k *framework.Kstack) (*http.Client, string) { return k.PlatformHTTP() }

func do(t *testing.T, c *http.Client, method, url, token, cluster, contentType, body string) (int, string) {
	t.Helper()
	return framework.Do(t, c, method, url, token, cluster, contentType, body)
}

// serviceAccountToken makes a ServiceAccount in the member, optionally bound
// to cluster-admin, and returns a token for it.
func serviceAccountToken(t *testing.T, k *framework.Kstack, kc, name string, admin bool) string {
	k.MustKubectl(kc, "-n", "kube-system", "create", "serviceaccount", name)
	if admin {
		k.MustKubectl(kc, "create", "clusterrolebinding", name, "--clusterrole=cluster-admin", "--serviceaccount=kube-system:"+name)
	}
	return strings.TrimSpace(k.MustKubectl(kc, "-n", "kube-system", "create", "token", name, "--duration=1h"))
}

// importedCluster creates a local cluster with --import, waits until the
// platform reports it Running, and returns its ID and its own admin kubeconfig.
func importedCluster(t *testing.T, k *framework.Kstack, name string, nodes int) (id, memberKubeconfig string) {
	t.Helper()
	return k.ImportedCluster(name, nodes)
}

func TestClusterManagement(t *testing.T) {
	k := framework.New(t)
	p := k.Up(3*time.Minute, "--listen", framework.FreeAddr(t))

	// Import in one step from `local create`.
	k.MustRun("local", "create", "one", "--nodes", "2", "--import")
	one := waitPhase(t, k, "one", "Running", time.Minute)
	if !regexp.MustCompile(`^cls-[a-z0-9]{8}$`).MatchString(one.Metadata.Name) || one.Spec.Type != "Local" {
		t.Fatalf("imported cluster: %+v", one)
	}
	if g := clusters(t, k)["global"]; g.Status.Phase != "Running" {
		t.Fatalf("global cluster: %+v", g)
	}

	// Import by address, CA and token.
	kcTwo := k.CreateCluster("two", 3)
	token := serviceAccountToken(t, k, kcTwo, "kstack-importer", true)
	server := k.MustKubectl(kcTwo, "config", "view", "-o", "jsonpath={.clusters[0].cluster.server}")
	caTwo := filepath.Join(k.DataDir, "clusters", "two", "pki", "ca.crt")
	out := k.MustRun("cluster", "import", "--server", server, "--ca", caTwo, "--token", token, "--name", "two")
	if !strings.Contains(out, "two") || !strings.Contains(out, "cls-") {
		t.Fatalf("import printed %q", out)
	}
	two := waitPhase(t, k, "two", "Running", time.Minute)
	id := two.Metadata.Name

	t.Run("status is true", func(t *testing.T) {
		k.MustKubectl(kcTwo, "create", "deployment", "status-probe", "--image=nginx", "--replicas=4")
		framework.Eventually(t, time.Minute, "status counts nodes and pods", func() error {
			c := clusters(t, k)["two"]
			if c.Status.Version != "v1.37.2" || c.Status.Nodes.Total != 3 || c.Status.Nodes.Ready != 3 || c.Status.Pods < 4 {
				return fmt.Errorf("status %+v", c.Status)
			}
			return nil
		})
		get := k.MustRun("cluster", "get", id)
		for _, want := range []string{"Running", "3/3", "v1.37.2"} {
			if !strings.Contains(get, want) {
				t.Errorf("cluster get lacks %q:\n%s", want, get)
			}
		}
	})

	t.Run("the platform made only its labelled binding in the member", func(t *testing.T) {
		out := k.MustKubectl(kcTwo, "get", "clusterrolebindings", "-l", "app.kubernetes.io/managed-by=kstack", "-o", "name")
		if strings.TrimSpace(out) != "clusterrolebinding.rbac.authorization.k8s.io/kstack-platform-users" {
			t.Fatalf("kstack objects in the member: %q", out)
		}
	})

	t.Run("duplicate imports are refused", func(t *testing.T) {
		stderr := k.MustFail("cluster", "import", "--kubeconfig", kcTwo, "--name", "again")
		if !strings.Contains(stderr, "already on the platform as "+id) {
			t.Fatalf("got %q", stderr)
		}
		stderr = k.MustFail("cluster", "import", "--kubeconfig", p.Kubeconfig)
		if !strings.Contains(stderr, "already on the platform as global") {
			t.Fatalf("importing the global cluster: %q", stderr)
		}
	})

	kc := filepath.Join(t.TempDir(), "proxy.kubeconfig")
	k.MustRun("kubeconfig", "--cluster", id, "-f", kc)
	if stdout := k.MustRun("kubeconfig", "--cluster", id); !strings.Contains(stdout, "/apis/platform.tkestack.io/v1/clusters/"+id+"/proxy") {
		t.Fatalf("kubeconfig on stdout: %s", stdout)
	}

	t.Run("kubectl through the proxy", func(t *testing.T) {
		if who := k.MustKubectl(kc, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username} {.status.userInfo.groups}"); !strings.HasPrefix(who, `admin ["kstack:platform-users"`) {
			t.Fatalf("the member sees %q", who)
		}
		k.MustKubectl(kc, "create", "namespace", "through-proxy")
		k.MustKubectl(kc, "-n", "through-proxy", "create", "deployment", "web", "--image=nginx:1.25", "--replicas=2")
		k.MustKubectl(kc, "-n", "through-proxy", "patch", "deployment", "web", "-p", `{"spec":{"replicas":3}}`)
		framework.Eventually(t, time.Minute, "3 pods Running", func() error {
			out, err := k.Kubectl(kc, "-n", "through-proxy", "get", "pods", "-o", "jsonpath={.items[*].status.phase}")
			if err != nil {
				return err
			}
			if strings.Count(out, "Running") != 3 {
				return fmt.Errorf("phases %q", out)
			}
			return nil
		})
		// The member itself sees the same.
		if n := k.MustKubectl(kcTwo, "-n", "through-proxy", "get", "deployment", "web", "-o", "jsonpath={.spec.replicas}"); n != "3" {
			t.Fatalf("replicas in the member: %q", n)
		}
		pod := strings.TrimPrefix(strings.Fields(k.MustKubectl(kc, "-n", "through-proxy", "get", "pods", "-o", "name"))[0], "pod/")

		if out := k.MustKubectl(kc, "-n", "through-proxy", "exec", pod, "--", "echo", "exec-through-proxy"); strings.TrimSpace(out) != "exec-through-proxy" {
			t.Fatalf("exec: %q", out)
		}

		// exec -i: stdin reaches the command through the proxy's upgrade. (kwok
		// does not pass on the end of stdin, so the command reads one line.)
		in := exec.Command(k.Bin, "kubectl", "--kubeconfig", kc, "-n", "through-proxy", "exec", "-i", pod, "--", "head", "-n1")
		in.Stdin = strings.NewReader("hello-through-stdin\n")
		if out, err := in.Output(); err != nil || strings.TrimSpace(string(out)) != "hello-through-stdin" {
			t.Fatalf("exec -i: %q %v", out, err)
		}

		// exec -it: a terminal (script(1) gives kubectl one) reaches the pod.
		if _, err := exec.LookPath("script"); err == nil {
			// Type only once the shell prompts: a line typed before the shell
			// has started can be flushed by it (seen under load in CI).
			tty := exec.Command("script", "-qc", k.Bin+" kubectl --kubeconfig "+kc+" -n through-proxy exec -it "+pod+" -- sh", "/dev/null")
			stdin, err := tty.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			var out framework.SyncBuffer
			tty.Stdout, tty.Stderr = &out, &out
			if err := tty.Start(); err != nil {
				t.Fatal(err)
			}
			framework.Eventually(t, 60*time.Second, "the shell's prompt", func() error {
				if !strings.Contains(out.String(), "$ ") {
					return fmt.Errorf("no prompt yet: %q", out.String())
				}
				return nil
			})
			// "tty" first, and exit only once its answer is back: output
			// written just before the shell exits was seen lost in the
			// exec stream's close (kwok's exec), not in the proxy.
			if _, err := io.WriteString(stdin, "tty\n"); err != nil {
				t.Fatal(err)
			}
			framework.Eventually(t, 60*time.Second, "a terminal in the pod", func() error {
				if !strings.Contains(out.String(), "/dev/pts/") {
					return fmt.Errorf("exec -it did not get a terminal: %q", out.String())
				}
				return nil
			})
			if _, err := io.WriteString(stdin, "exit\n"); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- tty.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("exec -it after exit: %v %q", err, out.String())
				}
			case <-time.After(60 * time.Second):
				_ = tty.Process.Kill()
				t.Fatalf("exec -it did not end after exit: %q", out.String())
			}
		} else {
			t.Fatal("script(1) is missing (Debian's bsdutils): run hack/install-deps.sh")
		}

		// logs -f streams: read the first line, then stop.
		cmd := exec.Command(k.Bin, "kubectl", "--kubeconfig", kc, "-n", "through-proxy", "logs", "-f", pod)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line := make(chan string, 1)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				if strings.Contains(sc.Text(), "heartbeat") {
					line <- sc.Text()
					return
				}
			}
		}()
		select {
		case <-line:
		case <-time.After(30 * time.Second):
			t.Error("logs -f streamed no heartbeat within 30s")
		}
		cmd.Process.Kill()
		cmd.Wait()

		// port-forward
		addr := framework.FreeAddr(t)
		port := addr[strings.LastIndex(addr, ":")+1:]
		pf := exec.Command(k.Bin, "kubectl", "--kubeconfig", kc, "-n", "through-proxy", "port-forward", "pod/"+pod, port+":80")
		if err := pf.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { pf.Process.Kill(); pf.Wait() }()
		framework.WaitHTTP(t, "http://"+addr, "kstack simulated pod", 30*time.Second)

		k.MustKubectl(kc, "delete", "namespace", "through-proxy", "--wait=false")
	})

	t.Run("client-go through the proxy, with watch", func(t *testing.T) {
		cfg, err := clientcmd.BuildConfigFromFlags("", kc)
		if err != nil {
			t.Fatal(err)
		}
		cs := kubernetes.NewForConfigOrDie(cfg)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		w, err := cs.CoreV1().ConfigMaps("default").Watch(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		start := time.Now()
		if _, err := cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "watched"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		for ev := range w.ResultChan() {
			if cm, ok := ev.Object.(*corev1.ConfigMap); ok && cm.Name == "watched" {
				t.Logf("watch event through the proxy after %s", time.Since(start))
				return
			}
		}
		t.Fatal("the watch ended without the event")
	})

	t.Run("the TKEStack header form", func(t *testing.T) {
		c, tok := platformHTTP(t, k)
		base := p.ConsoleURL
		code, body := do(t, c, "GET", base+"/platform/api/v1/namespaces/kube-system", tok, id, "", "")
		if code != 200 || !strings.Contains(body, `"name":"kube-system"`) {
			t.Fatalf("GET through the header: %d %s", code, body)
		}
		k.MustKubectl(kcTwo, "create", "deployment", "patched", "--image=nginx:1.24")
		code, body = do(t, c, "PATCH", base+"/platform/apis/apps/v1/namespaces/default/deployments/patched", tok, id,
			"application/strategic-merge-patch+json", `{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.26"}]}}}}`)
		if code != 200 {
			t.Fatalf("strategic-merge PATCH: %d %s", code, body)
		}
		if img := k.MustKubectl(kcTwo, "get", "deployment", "patched", "-o", "jsonpath={.spec.template.spec.containers[0].image}"); img != "nginx:1.26" {
			t.Fatalf("image after PATCH: %q", img)
		}
		code, body = do(t, c, "GET", base+"/platform/apis/platform.tkestack.io/v1/clusters", tok, "", "", "")
		if code != 200 || !strings.Contains(body, id) {
			t.Fatalf("the platform's own API: %d %s", code, body)
		}
		for _, cluster := range []string{id, ""} {
			if code, _ := do(t, c, "GET", base+"/platform/api/v1/namespaces", "", cluster, "", ""); code != 401 {
				t.Errorf("no credentials (cluster %q): %d, want 401", cluster, code)
			}
			if code, _ := do(t, c, "GET", base+"/platform/api/v1/namespaces", "wrong-token", cluster, "", ""); code != 401 {
				t.Errorf("wrong token (cluster %q): %d, want 401", cluster, code)
			}
		}
		if code, _ := do(t, c, "GET", base+"/platform/api/v1/namespaces", tok, "cls-nothere", "", ""); code != 404 {
			t.Errorf("unknown cluster: %d, want 404", code)
		}
	})

	t.Run("no path through a member reaches the platform", func(t *testing.T) {
		c, tok := platformHTTP(t, k)
		for _, path := range []string{
			"/../../../../platform/apis/platform.tkestack.io/v1/clusters",
			"/api/v1/..%2F..%2F..%2Fplatform",
			"/api%2Fv1/namespaces",
			"/./api/v1",
			"/api/v1/%2e%2e/%2e%2e",
		} {
			req, _ := http.NewRequest("GET", p.ConsoleURL+"/apis/platform.tkestack.io/v1/clusters/"+id+"/proxy"+path, nil)
			req.URL.Opaque = "//" + req.URL.Host + "/apis/platform.tkestack.io/v1/clusters/" + id + "/proxy" + path
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 400 || strings.Contains(string(body), "ClusterList") {
				t.Errorf("%s: %d %s", path, resp.StatusCode, body)
			}
		}
	})

	t.Run("an outage is seen and so is the recovery", func(t *testing.T) {
		k.MustRun("local", "stop", "one")
		start := time.Now()
		waitPhase(t, k, "one", "Failed", 90*time.Second)
		t.Logf("outage detected after %s", time.Since(start).Round(time.Second))
		k.MustRun("local", "start", "one")
		start = time.Now()
		waitPhase(t, k, "one", "Running", 90*time.Second)
		t.Logf("recovery detected after %s", time.Since(start).Round(time.Second))
	})

	t.Run("deleting a cluster cleans the member and keeps it running", func(t *testing.T) {
		k.MustRun("cluster", "delete", id)
		framework.Eventually(t, time.Minute, "cluster gone", func() error {
			if _, ok := clusters(t, k)["two"]; ok {
				return fmt.Errorf("still listed")
			}
			return nil
		})
		if out := k.MustKubectl(kcTwo, "get", "clusterrolebindings", "-l", "app.kubernetes.io/managed-by=kstack", "-o", "name"); strings.TrimSpace(out) != "" {
			t.Fatalf("kstack objects left in the member: %q", out)
		}
		// Cluster one's credential stays; two's is gone.
		if out := k.MustKubectl(p.Kubeconfig, "-n", "kstack-system", "get", "secrets", "-o", "name"); strings.Count(out, "secret/cc-") != 1 {
			t.Fatalf("credential secrets after delete: %q, want one's only", out)
		}
		k.MustKubectl(kcTwo, "get", "deployment", "status-probe")
		if _, err := k.Kubectl(kc, "get", "nodes"); err == nil {
			t.Fatal("the proxy still reaches a deleted cluster")
		}
	})
}
