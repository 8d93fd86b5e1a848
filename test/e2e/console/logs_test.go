package console

import (
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kstack/kstack/internal/localcluster"
	"github.com/kstack/kstack/test/e2e/framework"
)

// consoleLogs: a workload's recent logs across its pods, merged and
// searched, and the log collection rules pages, on a real local cluster
// through the platform's own admission. It runs inside TestConsoleAlarms,
// on its platform, cluster (east), project (team-a, with alice) and
// namespace (web), after the alarm pages (one platform and member fewer).
func consoleLogs(t *testing.T, k *framework.Kstack, p *framework.Platform, cluster, prj string, aliceCLI *framework.Kstack, akc string) {
	other := strings.TrimSpace(k.MustRun("project", "create", "team-b", "--cluster", cluster, "--cpu", "1", "-o", "name"))
	k.MustRun("namespace", "create", "other", "--project", other, "--cluster", cluster, "--cpu", "500m")
	// shop, with its requests, runs one pod since the alarm pages: two here.
	aliceCLI.MustKubectl(akc, "-n", "web", "scale", "deployment", "shop", "--replicas=2")

	type podInfo struct {
		Metadata struct{ Name, UID string }
		Spec     struct{ Containers []struct{ Name string } }
	}
	var pods []podInfo
	framework.Eventually(t, 2*time.Minute, "shop's 2 pods running", func() error {
		out, err := aliceCLI.Kubectl(akc, "-n", "web", "get", "pods", "-l", "app=shop", "--field-selector=status.phase=Running", "-o", "json")
		if err != nil {
			return err
		}
		var l struct{ Items []podInfo }
		if err := json.Unmarshal([]byte(out), &l); err != nil {
			return err
		}
		if len(l.Items) != 2 {
			return fmt.Errorf("%d running", len(l.Items))
		}
		pods = l.Items
		return nil
	})
	dir := filepath.Join(k.DataDir, "clusters", "east")
	for i, line := range []string{"kstack-order-1 FAILED <b>bold</b>", "kstack-order-2 failed again", "kstack-order-3 ok"} {
		pd := pods[i%2]
		if err := localcluster.AppendContainerLog(dir, "web", pd.Metadata.Name, pd.Metadata.UID, pd.Spec.Containers[0].Name, line); err != nil {
			t.Fatal(err)
		}
	}

	alice := framework.NewBrowser(t, p.ConsoleURL, "alice")
	alice.Login("alice", "Passw0rd-Alice1")
	t.Run("a workload's logs across its pods, searched", func(t *testing.T) {
		alice := alice.In(t)
		alice.Open("/console/business/" + cluster + "/web/deployments/shop")
		alice.Do(chromedp.Click(css("#logs-tab")), chromedp.WaitVisible(css("#log-search")))
		alice.WaitText("#workload-logs", "kstack-order-3", 30*time.Second, true)
		text := alice.Text("#workload-logs")
		for _, pd := range pods {
			if !strings.Contains(text, pd.Metadata.Name+"/"+pd.Spec.Containers[0].Name+" ") {
				t.Errorf("no line of %s in:\n%s", pd.Metadata.Name, text)
			}
		}
		if strings.Index(text, "kstack-order-1") > strings.Index(text, "kstack-order-2") || strings.Index(text, "kstack-order-2") > strings.Index(text, "kstack-order-3") {
			t.Errorf("the lines are not in time order:\n%s", text)
		}
		alice.Set("#log-q", "failed")
		alice.Do(chromedp.Click(css("#log-refresh")))
		alice.WaitText("#log-summary", "match", 20*time.Second, false)
		if got := alice.Text("#log-matched"); got != "2" {
			t.Errorf("%s lines match, want 2: %s", got, alice.Text("#log-summary"))
		}
		text = alice.Text("#workload-logs")
		if !strings.Contains(text, "kstack-order-1 FAILED <b>bold</b>") || !strings.Contains(text, "kstack-order-2 failed again") || strings.Contains(text, "kstack-order-3") {
			t.Errorf("the search shows:\n%s", text)
		}
		if n := framework.Eval[int](alice, `document.querySelectorAll("#workload-logs b").length`); n != 0 {
			t.Error("a log line became markup")
		}
		if !strings.Contains(alice.Location(), "q=failed") {
			t.Errorf("the search is not in the address bar: %s", alice.Location())
		}
		alice.Screenshot("workload-logs")
		alice.Set("#log-tail", "100")
		framework.Eventually(t, 20*time.Second, "the line count in the address", func() error {
			if !strings.Contains(alice.Location(), "tail=100") {
				return fmt.Errorf("at %s", alice.Location())
			}
			return nil
		})
	})

	t.Run("a project's log rules: admission's refusals next to the form; delete asks first", func(t *testing.T) {
		alice := alice.In(t)
		alice.Open("/console/business")
		alice.Do(chromedp.Click(css(`#logrules-`+prj)), chromedp.WaitVisible(css("#rule-form")))
		alice.WaitText("main", "No log collection rules yet", 10*time.Second, false)
		if framework.Eval[bool](alice, `document.querySelector('#rule-input option[value=HostFile]') !== null`) {
			t.Error("a project member is offered HostFile rules")
		}
		alice.Set("#rule-name", "shop-logs")
		alice.Set("#rule-workloads", "Deployment/shop")
		// 127.0.0.2: loopback, outside the 127.0.0.1/32 this platform's
		// administrator allows for the alarm pages' test servers.
		alice.Set("#loki-url", "http://127.0.0.2:3100")
		alice.Set(`input[name="loki.password"]`, "pa55-w0rd")
		alice.Do(chromedp.Click(css("#create-rule")))
		alice.WaitText("#rule-error", "loopback", 20*time.Second, false)
		if v := framework.Eval[string](alice, `document.querySelector('input[name="loki.password"]').value`); v != "" {
			t.Errorf("the password is shown back: %q", v)
		}
		alice.Screenshot("log-rule-refused")
		alice.Set("#rule-input", "ContainerFile")
		alice.Set(`input[name="file.workload"]`, "shop")
		alice.Set(`input[name="file.container"]`, "nginx")
		alice.Set("#rule-file-path", "logs/../../etc/passwd")
		alice.Set("#loki-url", "http://192.0.2.10:3100")
		alice.Set(`input[name="loki.password"]`, "pa55-w0rd")
		alice.Do(chromedp.Click(css("#create-rule")))
		alice.WaitText("#rule-error", "absolute, clean path", 20*time.Second, false)
		alice.Set("#rule-file-path", "/var/log/app/*.log")
		alice.Set(`input[name="loki.password"]`, "pa55-w0rd")
		alice.Do(chromedp.Click(css("#create-rule")))
		alice.WaitText("main", "Rule shop-logs created", 30*time.Second, false)
		alice.WaitText("#logrules", "password kept by the platform", 10*time.Second, false)
		text := alice.Text("#logrules")
		for _, want := range []string{"shop-logs", "ContainerFile", "/var/log/app/*.log", "http://192.0.2.10:3100", "web"} {
			if !strings.Contains(text, want) {
				t.Errorf("the rule's row lacks %q:\n%s", want, text)
			}
		}
		if strings.Contains(alice.Text("body"), "pa55-w0rd") {
			t.Error("the page shows the password")
		}
		alice.Screenshot("log-rules")

		// A namespace of another project, posted by hand: admission's words.
		c := framework.ConsoleLogin(t, p.ConsoleURL, "alice", "Passw0rd-Alice1")
		_, body := c.Post(t, "/console/business/projects/"+prj+"/logrules", url.Values{"name": {"sneaky"}, "target": {prj + "/" + cluster + "/other"},
			"input": {"ContainerStdout"}, "kafka.brokers": {"192.0.2.10:9092"}, "kafka.topic": {"logs"}})
		if !strings.Contains(body, "is not a namespace of project") {
			t.Errorf("a rule for another project's namespace:\n%s", body)
		}

		alice.Do(chromedp.Click(css("#delete-shop-logs")), chromedp.WaitVisible(css(`#rule-shop-logs input[name=confirm]`)))
		alice.Do(chromedp.Click(css("#confirm-delete-shop-logs")))
		alice.WaitText("#alert", "type the name", 20*time.Second, false)
		alice.Do(chromedp.SendKeys(css(`#rule-shop-logs input[name=confirm]`), "shop-logs"), chromedp.Click(css("#confirm-delete-shop-logs")))
		alice.WaitText("main", "Rule shop-logs deleted", 20*time.Second, false)
		alice.WaitText("main", "No log collection rules yet", 10*time.Second, false)
	})

	t.Run("the platform's page: every rule, and cluster rules for administrators", func(t *testing.T) {
		admin := framework.NewBrowser(t, p.ConsoleURL, "admin")
		admin.Login("admin", adminPassword)
		admin.Do(chromedp.Click(css("#nav-logrules")), chromedp.WaitVisible(css("#rule-form")))
		admin.Set("#rule-name", "node-logs")
		admin.Set("#rule-target", "/"+cluster+"/")
		admin.Set("#rule-input", "HostFile")
		admin.Set("#rule-host-files", "/var/log/messages")
		admin.Set("#kafka-brokers", "192.0.2.10:9092")
		admin.Set("#kafka-topic", "logs")
		admin.Do(chromedp.Click(css("#create-rule")))
		admin.WaitText("main", "Rule node-logs created", 30*time.Second, false)
		admin.WaitText("#logrules", "cluster rule", 10*time.Second, false)
		if !strings.Contains(admin.Text("#logrules"), "/var/log/messages") {
			t.Errorf("the rules:\n%s", admin.Text("#logrules"))
		}
		admin.Screenshot("platform-log-rules")
	})
}
