// Package console holds the end-to-end tests of the web console, driven in
// Debian's headless chromium: logins through the platform's own OpenID
// flow, the platform console and the business console, on real clusters.
package console

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kstack/kstack/test/e2e/framework"
)

const adminPassword = "Adm1n-Passw0rd"

// css is a CSS selector.
type css = chromedp.CSS

func TestConsole(t *testing.T) {
	k := framework.New(t)
	k.Env = append(k.Env, "KSTACK_ADMIN_PASSWORD="+adminPassword)
	p := k.Up(3*time.Minute, "--listen", framework.FreeAddr(t))
	kc := k.CreateCluster("east", 2)
	if r := k.RunStdin("Passw0rd-Bob1\n", "user", "create", "bob", "--password-stdin"); r.Err != nil {
		t.Fatal(r.Stderr)
	}

	admin := framework.NewBrowser(t, p.ConsoleURL, "admin")
	admin.Login("admin", adminPassword)
	if loc := admin.Location(); !strings.HasSuffix(loc, "/console/platform") {
		t.Fatalf("after login the admin is at %s, not the platform overview", loc)
	}
	admin.WaitText("#overview", "clusters", 10*time.Second, false)
	admin.Screenshot("overview")

	var clusterID string
	t.Run("import a cluster, with the error for a wrong token next to the field", func(t *testing.T) {
		admin := admin.In(t)
		cfg, err := clientcmd.LoadFromFile(kc)
		if err != nil {
			t.Fatal(err)
		}
		cl := cfg.Clusters[cfg.Contexts[cfg.CurrentContext].Cluster]
		ca := string(cl.CertificateAuthorityData)
		if ca == "" {
			data, err := os.ReadFile(cl.CertificateAuthority)
			if err != nil {
				t.Fatal(err)
			}
			ca = string(data)
		}
		admin.Open("/console/platform/clusters")
		admin.Do(chromedp.Click(css("#import")), chromedp.WaitVisible(css("#import-form")))
		admin.Do(chromedp.Click(css(`input[name=mode][value=token]`)), chromedp.SendKeys(css(`input[name=name]`), "east"))
		admin.Set(`input[name=server]`, cl.Server)
		admin.Set(`textarea[name=ca]`, ca)
		admin.Do(chromedp.SendKeys(css(`input[name=token]`), "not-a-real-token"), chromedp.Click(css("#import-submit")))
		admin.WaitText(`input[name=token] + .field-error`, "credential", 30*time.Second, false)
		admin.Screenshot("import-wrong-token")

		kubeconfig, err := os.ReadFile(kc)
		if err != nil {
			t.Fatal(err)
		}
		admin.Do(chromedp.Click(css(`input[name=mode][value=kubeconfig]`)))
		admin.Set(`textarea[name=kubeconfig]`, string(kubeconfig))
		admin.Do(chromedp.Click(css("#import-submit")))
		admin.WaitText("main", "imported", 60*time.Second, false)
		loc := admin.Location()
		clusterID = loc[strings.LastIndex(loc, "/")+1 : strings.Index(loc, "?")]
		if !strings.HasPrefix(clusterID, "cls-") {
			t.Fatalf("after the import the page is %s", loc)
		}
		// The list shows it Running without a reload (it refreshes itself).
		admin.Open("/console/platform/clusters")
		admin.WaitText("#clusters", "Running", 60*time.Second, false)
		admin.Screenshot("clusters")
	})

	t.Run("cluster detail and node operations", func(t *testing.T) {
		admin := admin.In(t)
		admin.Open("/console/platform/clusters/" + clusterID)
		admin.WaitText("#nodes", "Ready", 30*time.Second, true)
		admin.Screenshot("cluster-nodes")
		admin.Do(chromedp.Click(css(`#nodes tbody tr:first-child button.secondary`)))
		admin.WaitText("main", "cordoned", 20*time.Second, false)
		admin.WaitText("#nodes", "cordoned", 5*time.Second, false)
		node := admin.Text(`#nodes tbody tr:first-child td:first-child`)
		out := k.MustKubectl(kc, "get", "node", node, "-o", "jsonpath={.spec.unschedulable}")
		if out != "true" {
			t.Fatalf("node %s after Cordon: unschedulable=%q", node, out)
		}
		admin.Do(chromedp.Click(css(`#nodes tbody tr:first-child button.secondary`)))
		admin.WaitText("main", "uncordoned", 20*time.Second, false)
		for tab, want := range map[string]string{"namespaces": "kube-system", "workloads": "Nothing here yet", "events": "Normal"} {
			admin.Open("/console/platform/clusters/" + clusterID + "?tab=" + tab)
			admin.Screenshot("cluster-" + tab)
			if !strings.Contains(admin.Text("main"), want) {
				t.Errorf("the cluster's %s tab does not show %q", tab, want)
			}
		}
	})

	var project string
	t.Run("users, a project with quotas, members and a namespace", func(t *testing.T) {
		admin := admin.In(t)
		admin.Open("/console/platform/users")
		admin.Do(chromedp.SendKeys(css(`#user-form input[name=username]`), "alice"),
			chromedp.SendKeys(css(`#user-form input[name=password]`), "short"),
			chromedp.Click(css(`#user-form button`)))
		admin.WaitText("#user-form .error", "password", 20*time.Second, false)
		admin.Do(chromedp.SendKeys(css(`#user-form input[name=password]`), "Passw0rd-Alice1"),
			chromedp.Click(css(`#user-form button`)))
		admin.WaitText("#users", "alice", 20*time.Second, false)
		admin.Screenshot("users")
		for _, pg := range []string{"groups", "policies", "credentials"} {
			admin.Open("/console/platform/" + pg)
			admin.Screenshot(pg)
		}
		if !strings.Contains(admin.Text("main"), "access keys") {
			t.Error("the access keys page says nothing of access keys")
		}

		admin.Open("/console/platform/projects/new")
		admin.Do(chromedp.SendKeys(css(`#project-form input[name=name]`), "team-a"),
			chromedp.Click(css(`input[name=cluster][value=`+clusterID+`]`)),
			chromedp.SendKeys(css(`input[name="`+clusterID+`.requests.cpu"]`), "4"),
			chromedp.SendKeys(css(`input[name="`+clusterID+`.requests.memory"]`), "8Gi"),
			chromedp.SendKeys(css(`input[name="`+clusterID+`.pods"]`), "10"),
			chromedp.Click(css("#create-project")))
		admin.WaitText("main", "created", 30*time.Second, false)
		loc := admin.Location()
		project = loc[strings.LastIndex(loc, "/")+1 : strings.Index(loc, "?")]
		admin.Do(chromedp.SendKeys(css(`input[name=username]`), "alice"), chromedp.Click(css("#add-member")))
		admin.WaitText("#members", "alice", 20*time.Second, false)

		// A namespace over the project's quota: the platform's refusal, in place.
		admin.Do(chromedp.SendKeys(css(`#ns-form input[name=namespace]`), "big"),
			chromedp.SendKeys(css(`#ns-form input[name="ns.requests.cpu"]`), "100"),
			chromedp.Click(css("#create-namespace")))
		admin.WaitText("#ns-form .error", "does not fit", 20*time.Second, false)
		admin.Screenshot("project-quota-error")
		admin.Set(`#ns-form input[name=namespace]`, "web")
		admin.Set(`#ns-form input[name="ns.requests.cpu"]`, "2")
		admin.Do(chromedp.SendKeys(css(`#ns-form input[name="ns.requests.memory"]`), "4Gi"),
			chromedp.SendKeys(css(`#ns-form input[name="ns.pods"]`), "3"),
			chromedp.Click(css("#create-namespace")))
		admin.WaitText("#namespaces", "web", 30*time.Second, false)
		admin.WaitText("#namespaces", "Available", 60*time.Second, true)
		admin.Screenshot("project")
		if n := framework.Eval[int](admin, `document.querySelectorAll("table.quota meter").length`); n < 6 {
			t.Errorf("the project page shows %d quota bars, want 6 (3 resources, allocated and used)", n)
		}

		// Bob's project, elsewhere.
		b := strings.TrimSpace(k.MustRun("project", "create", "team-b", "--cluster", clusterID, "--cpu", "1"))
		k.MustRun("project", "add-member", b, "bob")
		k.MustRun("namespace", "create", "other", "--project", b, "--cluster", clusterID, "--cpu", "500m")
	})

	alice := framework.NewBrowser(t, p.ConsoleURL, "alice")
	var pod string
	t.Run("a member deploys from the form and sees it Running", func(t *testing.T) {
		alice := alice.In(t)
		alice.Login("alice", "Passw0rd-Alice1")
		if loc := alice.Location(); !strings.HasSuffix(loc, "/console/business") {
			t.Fatalf("alice landed on %s, not the business console", loc)
		}
		if strings.Contains(alice.Text("header"), "Platform") {
			t.Error("alice, who has no platform rights, is shown the platform console")
		}
		alice.WaitText("main", "team-a", 10*time.Second, false)
		alice.Screenshot("business")
		alice.Do(chromedp.Click(css(`a[href="/console/business/`+clusterID+`/web"]`)), chromedp.WaitVisible(css("#new-workload")))
		alice.Screenshot("namespace")
		alice.Do(chromedp.Click(css("#new-workload")), chromedp.WaitVisible(css("#workload-form")))
		// Bad input first: every field says what is wrong, and nothing is made.
		alice.Set("#name", "Hello_World")
		alice.Set(`input[name="c0.image"]`, "")
		alice.Set(`input[name="c0.cpuRequest"]`, "lots")
		alice.Do(chromedp.Click(css("#create-workload")))
		alice.WaitText("#workload-form", "need attention", 20*time.Second, false)
		text := alice.Text("#workload-form")
		for _, want := range []string{"a name is lowercase", "give an image", `"lots" is not a quantity`} {
			if !strings.Contains(text, want) {
				t.Errorf("the form's errors lack %q:\n%s", want, text)
			}
		}
		alice.Screenshot("workload-form-errors")
		alice.Set("#name", "hello")
		alice.Set(`input[name="c0.image"]`, "nginx:1.27")
		alice.Set(`input[name="c0.cpuRequest"]`, "100m")
		alice.Set("#form-replicas", "2")
		alice.Set(`input[name="c0.ports"]`, "80")
		alice.Set(`textarea[name="c0.env"]`, "GREETING=hi")
		alice.Set("#serviceType", "ClusterIP")
		alice.Set(`input[name=servicePorts]`, "80:80")
		alice.Do(chromedp.Click(css("#create-workload")))
		alice.WaitText("main", "Created hello", 30*time.Second, false)
		// Live status: the page updates itself until both pods run.
		framework.Eventually(t, 90*time.Second, "2 Running pods on the page", func() error {
			n := framework.Eval[int](alice, `[...document.querySelectorAll("table td.status-Running")].length`)
			if n < 2 {
				return fmt.Errorf("%d Running", n)
			}
			return nil
		})
		alice.Screenshot("deployment")
		out := k.MustKubectl(kc, "-n", "web", "get", "svc", "hello", "-o", "jsonpath={.spec.ports[0].port}")
		if out != "80" {
			t.Errorf("the Service made from the form has port %q", out)
		}
		env := k.MustKubectl(kc, "-n", "web", "get", "deploy", "hello", "-o", "jsonpath={.spec.template.spec.containers[0].env[0].value}")
		if env != "hi" {
			t.Errorf("the env from the form: %q", env)
		}
		pod = alice.Text(`table td a[href*="/pods/"]`)
	})

	t.Run("logs follow, and a web shell", func(t *testing.T) {
		alice := alice.In(t)
		logs, _ := filepath.Glob(filepath.Join(k.DataDir, "clusters", "east", "*", "container.log"))
		if len(logs) == 0 {
			logs, _ = filepath.Glob(filepath.Join(k.DataDir, "clusters", "east", "*", "*", "container.log"))
		}
		if len(logs) != 1 {
			t.Fatalf("east's simulated container log: %v", logs)
		}
		alice.Open("/console/business/" + clusterID + "/web/pods/" + pod)
		alice.WaitText("pre.logs", "heartbeat", 30*time.Second, false)
		// A new line arrives while we watch, and HTML in it stays text.
		hostile := `<img src=x onerror="window.pwned=1"><script>window.pwned=2</script> hostile-log-line`
		f, err := os.OpenFile(logs[0], os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(f, "%s stdout F %s\n", time.Now().UTC().Format(time.RFC3339Nano), hostile)
		f.Close()
		alice.WaitText("pre.logs", "hostile-log-line", 30*time.Second, false)
		if !strings.Contains(alice.Text("pre.logs"), hostile) {
			t.Error("the hostile log line is not shown as text")
		}
		if n := framework.Eval[int](alice, `document.querySelectorAll("pre.logs img, pre.logs script").length`); n != 0 {
			t.Errorf("a log line became %d elements", n)
		}
		if v := framework.Eval[bool](alice, `window.pwned === undefined`); !v {
			t.Error("a log line ran a script")
		}
		alice.Screenshot("pod-logs")

		alice.Do(chromedp.Click(css(`a[id^="shell-"]`)), chromedp.WaitVisible(css("#terminal .xterm")))
		alice.WaitText("#shell-status", "Connected", 30*time.Second, false)
		// Typed through xterm's own input path (what a keystroke does): chromedp's
		// synthetic key events reach xterm twice (keydown and keypress).
		framework.Eval[bool](alice, `document.querySelector("#terminal").kstackTerm.input("echo shell-$((6*7))\r", true) === undefined`)
		alice.WaitText("#terminal .xterm-rows", "shell-42", 30*time.Second, false)
		alice.Screenshot("shell")
	})

	t.Run("scale, and the namespace quota's refusal", func(t *testing.T) {
		alice := alice.In(t)
		alice.Open("/console/business/" + clusterID + "/web/deployments/hello")
		alice.Set("#replicas", "5")
		alice.Do(chromedp.Click(css("#scale")))
		alice.WaitText("main", "Scaled to 5", 20*time.Second, false)
		// The namespace allows 3 pods: the page says why the other 2 are missing.
		alice.WaitText("#object-status", "exceeded quota", 60*time.Second, false)
		alice.Screenshot("quota-exceeded")
		got := k.MustKubectl(kc, "-n", "web", "get", "deploy", "hello", "-o", "jsonpath={.spec.replicas}")
		if got != "5" {
			t.Errorf("replicas after Scale: %s", got)
		}
		alice.Set("#replicas", "1")
		alice.Do(chromedp.Click(css("#scale")))
		alice.WaitText("main", "Scaled to 1", 20*time.Second, false)
	})

	t.Run("a member of another project finds nothing of the first", func(t *testing.T) {
		bob := framework.NewBrowser(t, p.ConsoleURL, "bob")
		bob.Login("bob", "Passw0rd-Bob1")
		text := bob.Text("main")
		if strings.Contains(text, "team-a") || strings.Contains(text, "web") || !strings.Contains(text, "team-b") {
			t.Fatalf("bob's business console:\n%s", text)
		}
		bob.Screenshot("business")
		for _, path := range []string{
			"/console/business/" + clusterID + "/web/deployments",
			"/console/business/" + clusterID + "/web/deployments/hello",
			"/console/business/" + clusterID + "/web/pods/" + pod,
			"/console/platform/projects/" + project,
		} {
			bob.Open(path)
			body := bob.Text("body")
			if strings.Contains(body, "hello") && !strings.Contains(body, "may not") || strings.Contains(body, "nginx") {
				t.Errorf("bob sees team-a's objects at %s:\n%s", path, body)
			}
			if !strings.Contains(body, "may not") && !strings.Contains(body, "not found") {
				t.Errorf("bob at %s: no refusal:\n%s", path, body)
			}
		}
		bob.Screenshot("refused")
	})

	t.Run("delete asks first; logout ends the session", func(t *testing.T) {
		alice := alice.In(t)
		alice.Open("/console/business/" + clusterID + "/web/deployments/hello")
		alice.Do(chromedp.Click(css("#delete")), chromedp.WaitVisible(css("#confirm-name")))
		alice.Do(chromedp.Click(css("#confirm-delete")))
		alice.WaitText("#alert", "type the name", 20*time.Second, false)
		alice.Do(chromedp.SendKeys(css("#confirm-name"), "hello"), chromedp.Click(css("#confirm-delete")))
		alice.WaitText("main", "deleted", 20*time.Second, false)
		framework.Eventually(t, 30*time.Second, "the Deployment gone", func() error {
			if out, err := k.Kubectl(kc, "-n", "web", "get", "deploy", "hello"); err == nil {
				return fmt.Errorf("still there: %s", out)
			}
			return nil
		})
		alice.Do(chromedp.Click(css("#logout")))
		alice.WaitText("main", "logged out", 20*time.Second, false)
		// The session is over: the console sends the browser to log in again.
		alice.Open("/console/business")
		alice.Do(chromedp.WaitVisible(css("#username")))
	})
}
