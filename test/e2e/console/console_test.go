// Package console holds the end-to-end tests of the web console, driven in
// Debian's headless chromium: logins through the platform's own OpenID
// flow, the platform console and the business console, on real clusters.
package console

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/cookiejar"
	"net/url"
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
	// Access tokens of 20 s: the console must renew them as the test goes on.
	p := k.Up(3*time.Minute, "--listen", framework.FreeAddr(t), "--platform-arg=--access-token-lifetime=20s")
	kc := k.CreateCluster("east", 2)
	for user, pw := range map[string]string{"bob": "Passw0rd-Bob1", "carol": "Passw0rd-Carol1"} {
		if r := k.RunStdin(pw+"\n", "user", "create", user, "--password-stdin"); r.Err != nil {
			t.Fatal(r.Stderr)
		}
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
		// Search as you type: the list narrows without a reload.
		admin.Do(chromedp.SendKeys(css(`input[name=q]`), "no-such-cluster"))
		admin.WaitText("#results", "No cluster matches", 10*time.Second, false)
		if !strings.Contains(admin.Location(), "q=no-such-cluster") {
			t.Errorf("the search is not in the address bar: %s", admin.Location())
		}
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
		// Bad label changes are the user's to fix: refused whole (422) with
		// what is wrong, and the good change given with them is not applied.
		const badLabel = `invalid label change "bad": use key=value to set, key- to remove`
		if got := admin.Text(`#nodes tbody tr:first-child td:first-child`); got != node {
			t.Fatalf("the first row is node %s, was %s", got, node)
		}
		admin.Do(chromedp.Click(css(`#nodes tbody tr:first-child details:nth-of-type(2) summary`)))
		admin.Set(`#nodes tbody tr:first-child details:nth-of-type(2) input[name=changes]`, "zone=a bad key")
		admin.Do(chromedp.Click(css(`#nodes tbody tr:first-child details:nth-of-type(2) button`)))
		admin.WaitText("#alert", badLabel, 20*time.Second, false)
		if h := admin.Text("main h1"); h != http.StatusText(http.StatusUnprocessableEntity) {
			t.Errorf("the page for bad label changes is titled %q, want %q", h, http.StatusText(http.StatusUnprocessableEntity))
		}
		admin.Screenshot("bad-labels")
		// The status itself, with the same form as the browser sends.
		c := framework.ConsoleLogin(t, p.ConsoleURL, "admin", adminPassword)
		code, body := c.Post(t, "/console/platform/clusters/"+clusterID+"/nodes/"+node+"/labels", url.Values{"changes": {"zone=a bad key"}})
		if code != http.StatusUnprocessableEntity || !strings.Contains(html.UnescapeString(body), badLabel) {
			t.Errorf("bad label changes: %d, want 422 with %q:\n%.2000s", code, badLabel, body)
		}
		for _, key := range []string{"zone", "bad", "key"} {
			if v, ok := nodeLabels(t, k, kc, node)[key]; ok {
				t.Errorf("refused label changes left label %s=%q on node %s", key, v, node)
			}
		}
		admin.Open("/console/platform/clusters/" + clusterID)
		admin.Do(chromedp.Click(css(`#nodes tbody tr:first-child details:nth-of-type(2) summary`)))
		admin.Set(`#nodes tbody tr:first-child details:nth-of-type(2) input[name=changes]`, "zone=a")
		admin.Do(chromedp.Click(css(`#nodes tbody tr:first-child details:nth-of-type(2) button`)))
		admin.WaitText("#nodes", "zone=a", 20*time.Second, false)
		if v := nodeLabels(t, k, kc, node)["zone"]; v != "a" {
			t.Errorf("node %s after the label change zone=a: zone=%q", node, v)
		}
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
		admin.Open("/console/platform/policies")
		if !strings.Contains(admin.Text("#policies"), "platform-user") {
			t.Error("the policies page does not list the predefined policies")
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
		k.MustRun("project", "add-member", project, "carol", "--role", "project-viewer")

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
		b := strings.TrimSpace(k.MustRun("project", "create", "team-b", "--cluster", clusterID, "--cpu", "1", "-o", "name"))
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
		// An access key, shown once.
		alice.Open("/console/platform/credentials")
		alice.Set(`input[name=description]`, "ci")
		alice.Set(`input[name=expiresIn]`, "soon")
		alice.Do(chromedp.Submit(css(`input[name=expiresIn]`)))
		alice.WaitText("main", "hours or minutes", 20*time.Second, false)
		alice.Set(`input[name=expiresIn]`, "2h")
		alice.Do(chromedp.Submit(css(`input[name=expiresIn]`)))
		alice.WaitText("#new-key", "ksk_", 20*time.Second, false)
		alice.Screenshot("credentials")
		alice.Open("/console/platform/credentials")
		if strings.Contains(alice.Text("body"), "ksk_") {
			t.Error("an access key is shown again after creation")
		}
		alice.Open("/console/business")
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

	t.Run("extension components, and a workload whose replicas a CronHPA schedules", func(t *testing.T) {
		admin, alice := admin.In(t), alice.In(t)
		installAddon(t, admin, clusterID, "CronHPA", "addons")

		alice.Open("/console/business/" + clusterID + "/web")
		alice.Do(chromedp.Click(css("#new-workload")), chromedp.WaitVisible(css("#workload-form")))
		// No pod of it (the namespace allows 3), and schedules that fire on
		// 29 February only: nothing here scales while the test runs.
		alice.Set("#name", "nightly")
		alice.Set(`input[name="c0.image"]`, "nginx:1.27")
		alice.Set("#form-replicas", "0")
		alice.Do(chromedp.Click(css("#replicas-cron")))
		alice.Set("#cron0-schedule", "0 22 29 2 *")
		alice.Set("#cron0-replicas", "3")
		alice.Do(chromedp.Click(css("#add-cron-row")), chromedp.WaitVisible(css("#cron1-schedule")))
		alice.Set("#cron1-schedule", "61 * * * *")
		alice.Set("#cron1-replicas", "1")
		alice.Do(chromedp.Click(css("#create-workload")))
		alice.WaitText("#workload-form", `schedule "61 * * * *"`, 20*time.Second, false)
		alice.Screenshot("workload-form-cron-error")
		if _, err := k.Kubectl(kc, "-n", "web", "get", "deployment", "nightly"); err == nil {
			t.Fatal("a refused schedule row left the Deployment behind")
		}
		alice.Set("#cron1-schedule", "0 6 29 2 *")
		alice.Do(chromedp.Click(css("#create-workload")))
		alice.WaitText("main", "Created nightly", 30*time.Second, false)
		got := k.MustKubectl(kc, "-n", "web", "get", "cronhpa", "nightly", "-o", `jsonpath={.spec.scaleTargetRef.kind}/{.spec.scaleTargetRef.name} {range .spec.crons[*]}{.schedule}={.targetReplicas};{end}`)
		if got != "Deployment/nightly 0 22 29 2 *=3;0 6 29 2 *=1;" {
			t.Fatalf("the CronHPA made with the workload: %q", got)
		}
		alice.Open("/console/business/" + clusterID + "/web/autoscaling")
		alice.WaitText("main", "nightly", 20*time.Second, false)
		if text := alice.Text("main"); !strings.Contains(text, "0 22 29 2 *") {
			t.Errorf("the Autoscaling page does not show nightly's schedules:\n%s", text)
		}
		alice.Screenshot("autoscaling")
	})

	t.Run("a TApp from the workload form: instances Running, one killed and restored, one gray-released to a new template", func(t *testing.T) {
		admin, alice := admin.In(t), alice.In(t)
		nsPath := "/console/business/" + clusterID + "/web"
		// Room for the TApp's 3 pods beside hello's 2: web allows 3 pods,
		// so 6 while this runs, and 3 again at the end (what the later
		// subtests count on).
		setPods := func(n string) {
			t.Helper()
			framework.Eventually(t, 2*time.Minute, "web's quota of "+n+" pods in the member", func() error {
				if r := k.Run("namespace", "set-quota", "web", "--project", project, "--cluster", clusterID, "--cpu", "2", "--memory", "4Gi", "--pods", n); r.Err != nil {
					return fmt.Errorf("set-quota: %v: %s", r.Err, r.Stderr)
				}
				got := k.MustKubectl(kc, "-n", "web", "get", "resourcequota", "-o", "jsonpath={.items[*].spec.hard.pods}")
				for _, f := range strings.Fields(got) {
					if f == n {
						return nil
					}
				}
				return fmt.Errorf("the member's quotas allow %q pods", got)
			})
		}
		setPods("6")
		// fillShop fills the open workload form with a TApp "shop" of 3
		// instances and a Service, and submits it.
		fillShop := func() {
			alice.Set("#name", "shop")
			alice.Set("#form-replicas", "3")
			alice.Set(`input[name="c0.image"]`, "nginx:1.27")
			alice.Set(`input[name="c0.ports"]`, "80")
			alice.Set("#serviceType", "ClusterIP")
			alice.Set(`input[name=servicePorts]`, "80:80")
			alice.Do(chromedp.Click(css("#create-workload")))
		}

		// Without the add-on: the form says so, and makes nothing (not the Service either).
		alice.Open(nsPath)
		alice.Do(chromedp.Click(css("#new-workload")), chromedp.WaitVisible(css("#workload-form")))
		alice.Set("#kind", "tapps")
		fillShop()
		alice.WaitText("#form-error", "the TApp add-on is not installed in cluster "+clusterID, 20*time.Second, false)
		if !strings.Contains(alice.Text("#form-error"), "Nothing was created") || !framework.Eval[bool](alice, `document.querySelector("#tapp-missing a#install-tapp") !== null`) {
			t.Errorf("the form without the TApp add-on: %q", alice.Text("#workload-form"))
		}
		alice.Screenshot("workload-form-tapp-missing")
		if out, err := k.Kubectl(kc, "-n", "web", "get", "service", "shop"); err == nil || !strings.Contains(err.Error(), "NotFound") {
			t.Fatalf("a refused TApp left its Service behind: %s %v", out, err)
		}
		// The TApps tab says so too, instead of failing.
		alice.Open(nsPath + "/tapps")
		alice.WaitText("#tapp-missing", "not installed", 10*time.Second, false)

		installAddon(t, admin, clusterID, "TApp", "addons-tapp")

		// The same TApp again, from the TApps tab's "New TApp": now it and
		// its Service are made, and the TApp's page follows.
		alice.Open(nsPath + "/tapps")
		alice.Do(chromedp.Click(css("#new-tapp")), chromedp.WaitVisible(css("#workload-form")))
		if kind := framework.Eval[string](alice, `document.querySelector("#kind").value`); kind != "tapps" {
			t.Errorf("the TApps tab's New TApp opens the form with kind %q", kind)
		}
		fillShop()
		alice.WaitText("main", "Created shop", 30*time.Second, false)
		if loc := alice.Location(); !strings.Contains(loc, nsPath+"/tapps/shop") {
			t.Errorf("after creating the TApp alice is at %s, not its page", loc)
		}
		if got := k.MustKubectl(kc, "-n", "web", "get", "tapp", "shop", "-o", "jsonpath={.spec.replicas} {.spec.template.spec.containers[0].image}"); got != "3 nginx:1.27" {
			t.Fatalf("the TApp made from the form: %q", got)
		}
		if got := k.MustKubectl(kc, "-n", "web", "get", "service", "shop", "-o", "jsonpath={.spec.selector.app} {.spec.ports[0].port}"); got != "shop 80" {
			t.Errorf("the TApp's Service: %q", got)
		}
		tappPage := nsPath + "/tapps/shop"
		running := func(want int) {
			t.Helper()
			framework.Eventually(t, 3*time.Minute, fmt.Sprintf("%d instances Running on the TApp's page", want), func() error {
				alice.Open(tappPage)
				if n := framework.Eval[int](alice, `document.querySelectorAll("#tapp-instances td span.status-Running").length`); n != want {
					return fmt.Errorf("%d Running: %s", n, framework.Eval[string](alice, `(document.querySelector("#tapp-instances")||{}).textContent||""`))
				}
				return nil
			})
		}
		running(3)
		for _, id := range []string{"0", "1", "2"} {
			if row := alice.Text("#instance-" + id); !strings.Contains(row, "default") || !strings.Contains(row, "shop-"+id) || !strings.Contains(row, "nginx:1.27") {
				t.Errorf("instance %s's row: %q", id, row)
			}
		}
		alice.Screenshot("tapp")
		alice.Open(nsPath + "/tapps")
		alice.WaitText("#tapp-shop", "3 / 3", 30*time.Second, true)
		alice.Screenshot("tapps")

		// Kill instance 2: its pod goes; restore it: Running again.
		alice.Open(tappPage)
		alice.Do(chromedp.Click(css("#kill-2")))
		alice.WaitText("main", "Killing instance 2", 20*time.Second, false)
		alice.WaitText("#instance-2", "Killed", 2*time.Minute, true)
		framework.Eventually(t, 2*time.Minute, "pod shop-2 gone", func() error {
			if out := k.MustKubectl(kc, "-n", "web", "get", "pod", "shop-2", "--ignore-not-found", "-o", "name"); out != "" {
				return fmt.Errorf("still there: %s", out)
			}
			return nil
		})
		alice.Screenshot("tapp-killed")
		alice.Open(tappPage)
		alice.Do(chromedp.Click(css("#restore-2")))
		alice.WaitText("main", "Restoring instance 2", 20*time.Second, false)
		running(3)
		if phase := k.MustKubectl(kc, "-n", "web", "get", "pod", "shop-2", "-o", "jsonpath={.status.phase}"); phase != "Running" {
			t.Errorf("restored shop-2: phase %q", phase)
		}

		// A gray release: a new template v2 of the pool (another image),
		// and instance 0 only moved to it.
		alice.Set("#new-template-name", "v2")
		alice.Set("#new-template-image-shop", "nginx:1.28")
		alice.Do(chromedp.Click(css("#add-template")))
		alice.WaitText("main", "Added template v2 to the pool", 20*time.Second, false)
		alice.WaitText("#template-v2", "nginx:1.28", 10*time.Second, false)
		alice.Do(chromedp.Click(css("#choose-0")))
		alice.Set("#gray-template", "v2")
		alice.Do(chromedp.Click(css("#gray-release")))
		alice.WaitText("main", "Moving 1 instance to template v2", 20*time.Second, false)
		instancePod := func(id string) string {
			return k.MustKubectl(kc, "-n", "web", "get", "pod", "shop-"+id, "-o", `jsonpath={.metadata.labels.tapp\.tkestack\.io/template} {.spec.containers[0].image}`)
		}
		framework.Eventually(t, 2*time.Minute, "instance 0 on v2's image", func() error {
			if got := instancePod("0"); got != "v2 nginx:1.28" {
				return fmt.Errorf("shop-0: %q", got)
			}
			return nil
		})
		for _, id := range []string{"1", "2"} {
			if got := instancePod(id); got != "default nginx:1.27" {
				t.Errorf("shop-%s, not chosen, is %q", id, got)
			}
		}
		alice.WaitText("#instance-0", "nginx:1.28", time.Minute, true)
		if row := alice.Text("#instance-0"); !strings.Contains(row, "v2") {
			t.Errorf("instance 0's row after the gray release: %q", row)
		}
		if row := alice.Text("#instance-1"); strings.Contains(row, "v2") || strings.Contains(row, "nginx:1.28") {
			t.Errorf("instance 1's row after the gray release: %q", row)
		}
		running(3)
		alice.Screenshot("tapp-gray")

		// Away again, and web's quota back to 3 pods.
		k.MustKubectl(kc, "-n", "web", "delete", "tapp", "shop")
		k.MustKubectl(kc, "-n", "web", "delete", "service", "shop")
		framework.Eventually(t, 2*time.Minute, "the TApp's pods gone", func() error {
			if out := k.MustKubectl(kc, "-n", "web", "get", "pods", "-l", "tapp.tkestack.io/name=shop", "-o", "name"); out != "" {
				return fmt.Errorf("still there: %s", out)
			}
			return nil
		})
		setPods("3")
	})

	t.Run("create from YAML, with the error in place; Secret values hidden until asked", func(t *testing.T) {
		alice := alice.In(t)
		alice.Open("/console/business/" + clusterID + "/web/yaml")
		bad := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: fast\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: s3cret-value\nbogusField: 1\n"
		alice.Set("#yaml", bad)
		alice.Do(chromedp.Click(css("#create-yaml")))
		alice.WaitText("#yaml-error", "document 2 (Secret db)", 20*time.Second, false)
		if !strings.Contains(alice.Text("#yaml-error"), "bogusField") {
			t.Errorf("the YAML error does not name the bad field: %s", alice.Text("#yaml-error"))
		}
		alice.Screenshot("yaml-error")
		// Nothing was made: the first document was only a dry run.
		if out, err := k.Kubectl(kc, "-n", "web", "get", "configmap", "settings"); err == nil || !strings.Contains(err.Error(), "NotFound") {
			t.Fatalf("a refused YAML left its first document behind: %s %v", out, err)
		}
		alice.Set("#yaml", strings.Replace(bad, "bogusField: 1\n", "", 1))
		alice.Do(chromedp.Click(css("#create-yaml")))
		alice.WaitText("main", "Created 2 object", 20*time.Second, false)
		// Edit in place: a broken YAML is shown with its error and kept; a good one saves.
		alice.Open("/console/business/" + clusterID + "/web/configmaps/settings")
		yaml := framework.Eval[string](alice, `document.querySelector("#edit-form textarea").value`)
		alice.Set("#edit-form textarea", strings.Replace(yaml, "mode: fast", "mode: [slow", 1))
		alice.Do(chromedp.Click(css("#save-yaml")))
		alice.WaitText("#edit-error", "cannot be read", 20*time.Second, false)
		if v := framework.Eval[string](alice, `document.querySelector("#edit-form textarea").value`); !strings.Contains(v, "mode: [slow") {
			t.Error("the YAML with an error was not kept in the editor")
		}
		alice.Set("#edit-form textarea", strings.Replace(yaml, "mode: fast", "mode: slow", 1))
		alice.Do(chromedp.Click(css("#save-yaml")))
		alice.WaitText("main", "ConfigMap settings updated", 20*time.Second, false)
		if got := k.MustKubectl(kc, "-n", "web", "get", "configmap", "settings", "-o", "jsonpath={.data.mode}"); got != "slow" {
			t.Fatalf("the ConfigMap after the edit: mode=%q", got)
		}
		alice.Open("/console/business/" + clusterID + "/web/secrets/db")
		if body := alice.Text("body"); strings.Contains(body, "s3cret-value") || strings.Contains(body, "czNjcmV0LXZhbHVl") {
			t.Fatal("the Secret's page shows its value before it is asked for")
		}
		alice.Do(chromedp.Click(css("#reveal")))
		alice.WaitText("#secret-values", "s3cret-value", 20*time.Second, false)
		alice.Screenshot("secret")
	})

	t.Run("logs follow, and a web shell", func(t *testing.T) {
		alice := alice.In(t)
		// The pod's own CRI log file: DIR/var/log/pods/NAMESPACE_POD_UID/CONTAINER/0.log.
		logs, _ := filepath.Glob(filepath.Join(k.DataDir, "clusters", "east", "var", "log", "pods", "*_"+pod+"_*", "*", "0.log"))
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

		// A new image, then back with Roll back.
		image := func() string {
			return k.MustKubectl(kc, "-n", "web", "get", "deploy", "hello", "-o", "jsonpath={.spec.template.spec.containers[0].image}")
		}
		alice.Set(`#workload-actions input[name=image]`, "nginx:1.28")
		alice.Do(chromedp.Click(css(`#workload-actions input[name=image] ~ button, #workload-actions form:nth-of-type(2) button`)))
		alice.WaitText("main", "set to nginx:1.28", 20*time.Second, false)
		if got := image(); got != "nginx:1.28" {
			t.Fatalf("image after Set image: %s", got)
		}
		framework.Eventually(t, 30*time.Second, "the second revision rolled out", func() error {
			rev := k.MustKubectl(kc, "-n", "web", "get", "deploy", "hello", "-o", `jsonpath={.metadata.annotations.deployment\.kubernetes\.io/revision}`)
			if rev != "2" {
				return fmt.Errorf("revision %q", rev)
			}
			return nil
		})
		alice.Do(chromedp.Click(css("#rollback")))
		alice.WaitText("main", "Rolled back", 20*time.Second, false)
		if got := image(); got != "nginx:1.27" {
			t.Fatalf("image after Roll back: %s", got)
		}
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

	t.Run("a read-only member sees no buttons, and the server refuses anyway", func(t *testing.T) {
		carol := framework.NewBrowser(t, p.ConsoleURL, "carol")
		carol.Login("carol", "Passw0rd-Carol1")
		carol.Open("/console/business/" + clusterID + "/web/deployments/hello")
		carol.WaitText("main", "Deployment hello", 10*time.Second, false)
		for _, sel := range []string{"#new-workload", "#scale", "#delete", "#rollback", "#save-yaml"} {
			if framework.Eval[bool](carol, fmt.Sprintf(`document.querySelector(%q) !== null`, sel)) {
				t.Errorf("a read-only member is shown %s", sel)
			}
		}
		carol.Screenshot("viewer")
		// The same request the Scale button would send, with a valid session and token.
		c := framework.ConsoleLogin(t, p.ConsoleURL, "carol", "Passw0rd-Carol1")
		code, body := c.Post(t, "/console/business/"+clusterID+"/web/deployments/hello/scale", url.Values{"replicas": {"0"}})
		if code != http.StatusForbidden || !strings.Contains(body, "may not") {
			t.Fatalf("a read-only member scaling: %d\n%s", code, body)
		}
		if got := k.MustKubectl(kc, "-n", "web", "get", "deploy", "hello", "-o", "jsonpath={.spec.replicas}"); got != "1" {
			t.Fatalf("replicas after a refused scale: %s", got)
		}
	})

	t.Run("audit records and persisted events", func(t *testing.T) {
		admin := admin.In(t)
		// The node operations above (updates), made through the console as the admin.
		admin.Open("/console/platform/audit?range=1h&resource=nodes&verb=update")
		admin.WaitText("#audit", "console", 30*time.Second, true)
		admin.Screenshot("audit")
		c := framework.ConsoleLogin(t, p.ConsoleURL, "admin", adminPassword)
		code, body := c.Get(t, "/console/platform/audit/export?range=1h&resource=nodes&verb=update")
		if code != http.StatusOK || !strings.Contains(body, `"verb":"update"`) || strings.Contains(body, "<html") {
			t.Errorf("audit export: %d\n%.1000s", code, body)
		}
		// The API's refusal of a bad search is shown next to the form.
		admin.Open("/console/platform/audit?result=maybe")
		admin.WaitText("#search-error", "result", 10*time.Second, false)
		// Carol sees her own operations only (the refused scale above).
		carol := framework.ConsoleLogin(t, p.ConsoleURL, "carol", "Passw0rd-Carol1")
		code, body = carol.Get(t, "/console/platform/audit?range=1h")
		if code != http.StatusOK || !strings.Contains(body, `id="own-operations"`) || !strings.Contains(body, "<td>carol</td>") || strings.Contains(body, "<td>admin</td>") {
			t.Errorf("carol's audit page: %d\n%.3000s", code, body)
		}

		admin.Open("/console/platform/clusters/" + clusterID + "?tab=persisted-events")
		admin.WaitText("main", "Event persistence is off", 10*time.Second, false)
		admin.Do(chromedp.Click(css("#persistence-toggle")))
		admin.WaitText("main", "Event persistence is on", 20*time.Second, false)
		admin.WaitText("#results", "Normal", 60*time.Second, true)
		admin.Screenshot("persisted-events")
		code, body = c.Get(t, "/console/platform/clusters/"+clusterID+"/events/export?range=24h")
		if code != http.StatusOK || !strings.Contains(body, `"involvedObject"`) {
			t.Errorf("events export: %d\n%.1000s", code, body)
		}
	})

	t.Run("CSRF, origin, cookies, CSP, and logout revokes the session", func(t *testing.T) {
		c := framework.ConsoleLogin(t, p.ConsoleURL, "alice", "Passw0rd-Alice1")
		scale := "/console/business/" + clusterID + "/web/deployments/hello/scale"
		code, body := c.Post(t, scale, url.Values{"replicas": {"2"}, "csrf": {"forged"}})
		if code != http.StatusForbidden || !strings.Contains(body, "security token") {
			t.Fatalf("a POST with a wrong CSRF token: %d\n%.500s", code, body)
		}
		req, _ := http.NewRequest(http.MethodPost, c.Base+scale, strings.NewReader(url.Values{"replicas": {"2"}, "csrf": {c.CSRF}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "https://evil.example")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("a cross-site POST: %d", resp.StatusCode)
		}
		// Cookies are Secure, HttpOnly, SameSite and __Host-; pages carry a CSP.
		raw := &http.Client{Transport: c.Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err = raw.Get(c.Base + "/console/login")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if len(resp.Header.Values("Set-Cookie")) == 0 {
			t.Error("the login page set no cookie to check")
		}
		for _, sc := range resp.Header.Values("Set-Cookie") {
			for _, want := range []string{"__Host-", "Secure", "HttpOnly", "SameSite=Lax", "Path=/"} {
				if !strings.Contains(sc, want) {
					t.Errorf("cookie %q lacks %s", sc, want)
				}
			}
		}
		resp, err = c.Client.Get(c.Base + "/console/business")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("CSP: %q", csp)
		}
		// Logout revokes the session: the old cookies no longer work.
		u, _ := url.Parse(c.Base)
		old := c.Jar.Cookies(u)
		if code, _ := c.Post(t, "/console/logout", url.Values{}); code != http.StatusOK {
			t.Fatalf("logout: %d", code)
		}
		// The session is deleted at once; the gateway's cache of sessions
		// sees it within moments.
		framework.Eventually(t, 10*time.Second, "the logged-out session refused", func() error {
			jar, _ := cookiejar.New(nil)
			jar.SetCookies(u, old)
			replay := &http.Client{Jar: jar, Transport: c.Transport}
			resp, err := replay.Get(c.Base + "/console/business")
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.Request.URL.Path != "/console/logged-out" {
				return fmt.Errorf("the cookies of a logged-out session still open %s", resp.Request.URL)
			}
			return nil
		})
	})

	t.Run("groups and grants", func(t *testing.T) {
		admin := admin.In(t)
		admin.Open("/console/platform/groups")
		admin.Set(`#group-form input[name=name]`, "Bad Name")
		admin.Do(chromedp.Submit(css(`#group-form input[name=name]`)))
		admin.WaitText("#group-form .error", "Bad Name", 20*time.Second, false)
		admin.Set(`#group-form input[name=name]`, "ops")
		admin.Set(`#group-form input[name=members]`, "bob")
		admin.Do(chromedp.Submit(css(`#group-form input[name=name]`)))
		admin.WaitText("#groups", "ops", 20*time.Second, false)
		admin.Screenshot("groups")
		admin.Open("/console/platform/policies")
		admin.Do(chromedp.Click(css("#bind")))
		admin.WaitText("#bind-form .error", "at least one user or group", 20*time.Second, false)
		admin.Set(`#bind-form select[name=policy]`, "platform-user")
		admin.Set(`#bind-form input[name=groups]`, "ops")
		admin.Do(chromedp.Click(css("#bind")))
		admin.WaitText("#bindings", "ops", 20*time.Second, false)
		admin.Screenshot("policies")
		// Bob, in group ops, now has the platform console.
		framework.Eventually(t, 20*time.Second, "bob's platform console", func() error {
			c := framework.ConsoleLogin(t, p.ConsoleURL, "bob", "Passw0rd-Bob1")
			if code, body := c.Get(t, "/console/platform/clusters"); code != http.StatusOK || !strings.Contains(body, clusterID) {
				return fmt.Errorf("bob's clusters page: %d", code)
			}
			return nil
		})
	})

	t.Run("hostile names stay text; a narrow window; tokens renewed", func(t *testing.T) {
		admin := admin.In(t)
		hostile := `<script>window.pwned=1</script><img src=x onerror="window.pwned=2">`
		k.MustRun("project", "create", hostile, "--cluster", clusterID, "--cpu", "100m")
		admin.Open("/console/platform/projects")
		admin.WaitText("#projects", hostile, 10*time.Second, false)
		if n := framework.Eval[int](admin, `document.querySelectorAll("main script, main img").length`); n != 0 {
			t.Errorf("a project's name became %d elements", n)
		}
		if !framework.Eval[bool](admin, `window.pwned === undefined`) {
			t.Error("a project's name ran a script")
		}
		// A phone-sized window: nothing wider than the screen but tables, which scroll.
		admin.Do(chromedp.EmulateViewport(390, 844))
		for _, path := range []string{"/console/platform", "/console/platform/clusters", "/console/platform/projects/" + project, "/console/business/" + clusterID + "/web/new"} {
			admin.Open(path)
			if w := framework.Eval[int](admin, `document.documentElement.scrollWidth - window.innerWidth`); w > 2 {
				t.Errorf("%s is %dpx wider than a 390px window", path, w)
			}
		}
		admin.Screenshot("narrow-workload-form")
		admin.Do(chromedp.EmulateViewport(1280, 800))
		// The access token (20 s) has expired by now; the console renews it.
		time.Sleep(21 * time.Second)
		admin.Open("/console/platform/clusters")
		admin.WaitText("#clusters", clusterID, 10*time.Second, false)
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
			} else if !strings.Contains(err.Error(), "NotFound") {
				return err
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

// nodeLabels reads a node's labels with kubectl.
func nodeLabels(t *testing.T, k *framework.Kstack, kc, node string) map[string]string {
	t.Helper()
	var n struct {
		Metadata struct {
			Labels map[string]string `json:"labels"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal([]byte(k.MustKubectl(kc, "get", "node", node, "-o", "json")), &n); err != nil {
		t.Fatal(err)
	}
	if len(n.Metadata.Labels) == 0 {
		t.Fatalf("node %s has no labels at all", node)
	}
	return n.Metadata.Labels
}

// installAddon installs an add-on from the Extension Components page and
// waits for the page to show it Running.
func installAddon(t *testing.T, admin *framework.Browser, clusterID, name, shot string) {
	t.Helper()
	admin.Open("/console/platform/addons?cluster=" + clusterID)
	admin.Do(chromedp.Click(css("#install-" + name)))
	admin.WaitText("#addons", name, 30*time.Second, false)
	framework.Eventually(t, 2*time.Minute, name+" Running on the page", func() error {
		admin.Open("/console/platform/addons?cluster=" + clusterID)
		if row := admin.Text("#addon-" + name); !strings.Contains(row, "Running") {
			return fmt.Errorf("%s", row)
		}
		return nil
	})
	admin.Screenshot(shot)
}
