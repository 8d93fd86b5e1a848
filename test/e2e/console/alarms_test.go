package console

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kstack/kstack/internal/testutil/hooktest"
	"github.com/kstack/kstack/internal/testutil/smtptest"
	"github.com/kstack/kstack/test/e2e/framework"
)

// TestConsoleAlarms: a project member's "Monitoring & Alarms" pages, in
// the browser: a receiver, channels (a real webhook, a real SMTP server
// that refuses the password) with their test-send, templates checked when
// saved, a policy made, refused, copied and batch-deleted; then a pod of
// the real member cluster restarts past the threshold, the webhook gets the
// firing message, and the records pages show the alarm and the message
// sent; a silence is made and expired.
func TestConsoleAlarms(t *testing.T) {
	const mailPassword = "m4il-s3cret-Pa55"
	hook := hooktest.Start(t, hooktest.Options{})
	// STARTTLS with a username and password, refusing every login: 535.
	mail := smtptest.Start(t, smtptest.Options{TLS: smtptest.StartTLS, Username: "alerts", Password: mailPassword, RefuseAuth: true})

	k := framework.New(t)
	k.Env = append(k.Env, "KSTACK_ADMIN_PASSWORD="+adminPassword)
	// A policy's minute is 2 s and messages are grouped for 1 s; the test's
	// servers are on loopback, which an administrator allows here.
	args := []string{"--listen", framework.FreeAddr(t)}
	for _, f := range []string{"--dial-allow=127.0.0.1/32", "--metrics-interval=2s", "--alarm-period-unit=2s",
		"--alarm-group-wait=1s", "--alarm-group-interval=2s"} {
		args = append(args, "--platform-arg="+f)
	}
	p := k.Up(3*time.Minute, args...)
	cluster, memberKC := k.ImportedCluster("east", 1)
	k.MustRun("cluster", "monitoring", cluster, "on")
	framework.CreateUser(t, k, "alice", "Passw0rd-Alice1")
	prj := strings.TrimSpace(k.MustRun("project", "create", "team-a", "--cluster", cluster, "--cpu", "4", "--memory", "8Gi", "--pods", "20", "-o", "name"))
	k.MustRun("project", "add-member", prj, "alice")
	k.MustRun("namespace", "create", "web", "--project", prj, "--cluster", cluster, "--cpu", "2", "--memory", "2Gi", "--pods", "10")
	aliceCLI := framework.Login(t, k, "default", "alice", "Passw0rd-Alice1")
	akc := filepath.Join(t.TempDir(), "alice.kubeconfig")
	aliceCLI.MustRun("kubeconfig", "--cluster", cluster, "-f", akc)
	// The namespace's quota wants requests: set before the pod is made.
	aliceCLI.MustKubectl(akc, "-n", "web", "create", "deployment", "shop", "--image=nginx", "--replicas=0")
	aliceCLI.MustKubectl(akc, "-n", "web", "set", "resources", "deployment", "shop", "--requests=cpu=100m,memory=64Mi")
	aliceCLI.MustKubectl(akc, "-n", "web", "scale", "deployment", "shop", "--replicas=1")
	var pod string
	framework.Eventually(t, 2*time.Minute, "shop's pod running", func() error {
		out, err := aliceCLI.Kubectl(akc, "-n", "web", "get", "pods", "-l", "app=shop", "--field-selector=status.phase=Running", "-o", "jsonpath={.items[*].metadata.name}")
		if f := strings.Fields(out); err != nil || len(f) != 1 {
			return fmt.Errorf("%v %q", err, out)
		}
		pod = strings.TrimSpace(out)
		return nil
	})

	alice := framework.NewBrowser(t, p.ConsoleURL, "alice")
	alice.Login("alice", "Passw0rd-Alice1")
	base := "/console/business/projects/" + prj + "/alarms"

	t.Run("a receiver; channels tested from the page; the password never served", func(t *testing.T) {
		alice := alice.In(t)
		alice.Open("/console/business")
		alice.Do(chromedp.Click(css("#alarms-"+prj)), chromedp.WaitVisible(css("#tab-receivers")))
		if loc := alice.Location(); !strings.HasSuffix(loc, base) {
			t.Fatalf("the project's Monitoring & Alarms link leads to %s", loc)
		}
		alice.WaitText("main", "No alarm policies yet", 10*time.Second, false)

		alice.Do(chromedp.Click(css("#tab-receivers")), chromedp.WaitVisible(css("#receiver-form")))
		alice.Set("#receiver-name", "alice")
		alice.Set("#receiver-display", "Alice")
		alice.Set("#receiver-email", "alice@example.com")
		alice.Do(chromedp.Click(css("#create-receiver")))
		alice.WaitText("main", "Receiver alice created", 30*time.Second, false)
		alice.WaitText("#receiver-alice", "alice@example.com", 10*time.Second, false)

		alice.Do(chromedp.Click(css("#tab-channels")), chromedp.WaitVisible(css("#channel-form")))
		alice.Set("#channel-name", "hook")
		choose(alice, "#channel-type", "webhook")
		alice.Set("#webhook-url", hook.URL())
		alice.Do(chromedp.Click(css("#create-channel")))
		alice.WaitText("main", "Channel hook created", 30*time.Second, false)
		alice.WaitText("#channel-hook", hook.URL(), 10*time.Second, false)

		alice.Do(chromedp.Click(css("#test-hook")))
		waitFor(alice, "#test-result-hook #test-sent, #test-result-hook #test-failed", 60*time.Second)
		if !exists(alice, "#test-result-hook #test-sent") {
			t.Fatalf("the webhook's test-send: %s", alice.Text("#test-result-hook"))
		}
		got := hook.Wait(t, 1, 30*time.Second)
		var sample hookMessage
		if err := json.Unmarshal(got[0].Body, &sample); err != nil || sample.Version != "4" || sample.Status != "firing" || len(sample.Alerts) == 0 {
			t.Errorf("the test message is not the built-in webhook template's JSON (%v):\n%s", err, got[0].Body)
		}
		alice.Screenshot("channel-test-sent")

		alice.Set("#channel-name", "mail")
		choose(alice, "#channel-type", "email")
		alice.Set("#smtp-host", mail.Host())
		alice.Set("#smtp-port", strconv.Itoa(mail.Port()))
		choose(alice, "#smtp-tls", "starttls")
		alice.Set("#smtp-from", "kstack@example.com")
		alice.Set("#smtp-username", "alerts")
		alice.Set("#smtp-password", mailPassword)
		alice.Set("#channel-ca", mail.CAPEM())
		alice.Do(chromedp.Click(css("#create-channel")))
		alice.WaitText("main", "Channel mail created", 30*time.Second, false)
		alice.WaitText("#channel-mail", "credentials kept by the platform", 10*time.Second, false)
		if text := alice.Text("#channel-mail"); !strings.Contains(text, fmt.Sprintf("%s:%d", mail.Host(), mail.Port())) || !strings.Contains(text, "user alerts") {
			t.Errorf("the mail channel's row: %s", text)
		}
		noSecret(t, alice, mailPassword)

		choose(alice, "#test-receiver-mail", "alice")
		alice.Do(chromedp.Click(css("#test-mail")))
		waitFor(alice, "#test-result-mail #test-sent, #test-result-mail #test-failed", 60*time.Second)
		if !exists(alice, "#test-result-mail #test-failed") || !strings.Contains(alice.Text("#test-result-mail"), "535") {
			t.Fatalf("the test-send to an SMTP server refusing the password: %s", alice.Text("#test-result-mail"))
		}
		if n := len(mail.Messages()); n != 0 {
			t.Errorf("the refusing SMTP server has %d messages", n)
		}
		alice.Screenshot("channel-test-failed")
		noSecret(t, alice, mailPassword)
		alice.Open(base + "/channels")
		alice.WaitText("#channels", "mail", 10*time.Second, false)
		noSecret(t, alice, mailPassword)
	})

	t.Run("templates: from the built-in webhook one; an unknown variable refused in place", func(t *testing.T) {
		alice := alice.In(t)
		alice.Open(base)
		alice.Do(chromedp.Click(css("#tab-templates")), chromedp.WaitVisible(css("#template-form")))
		alice.WaitText("main", "No templates yet", 10*time.Second, false)
		alice.Do(chromedp.Click(css("#default-webhook")))
		framework.Eventually(t, 30*time.Second, "the built-in webhook template in the form", func() error {
			if v := value(alice, "#template-type"); v != "webhook" {
				return fmt.Errorf("channel type %q", v)
			}
			if b := value(alice, "#template-body"); !strings.Contains(b, `"version": "4"`) {
				return fmt.Errorf("body %q", b)
			}
			return nil
		})
		alice.Set("#template-name", "hook-tpl")
		alice.Do(chromedp.Click(css("#create-template")))
		alice.WaitText("main", "Template hook-tpl created", 30*time.Second, false)
		if text := alice.Text("#template-hook-tpl"); !strings.Contains(text, "webhook") || !strings.Contains(text, "application/json") {
			t.Errorf("the template's row: %s", text)
		}

		alice.Set("#template-name", "leaky")
		alice.Set("#template-body", "{{ .Secrets }}")
		alice.Do(chromedp.Click(css("#create-template")))
		alice.WaitText("#template-error", "unknown variable .Secrets", 30*time.Second, false)
		if v := value(alice, "#template-body"); v != "{{ .Secrets }}" {
			t.Errorf("the refused body is not kept in the form: %q", v)
		}
		alice.Screenshot("template-refused")
		alice.Open(base + "/templates")
		if exists(alice, "#template-leaky") {
			t.Error("the refused template was made")
		}
	})

	var policy string
	t.Run("a policy: the API's refusal in place; copied; the copy batch-deleted", func(t *testing.T) {
		alice := alice.In(t)
		alice.Open(base)
		alice.Do(chromedp.Click(css("#new-policy")), chromedp.WaitVisible(css("#policy-form")))
		alice.Set("#policy-display", "shop restarts")
		choose(alice, "#policy-target", cluster+"/web")
		alice.Set("#policy-workload", "shop")
		choose(alice, "#cond-metric-0", "k8s_pod_restart_total")
		alice.Set("#cond-threshold-0", "abc")
		alice.Set("#cond-periods-0", "1")
		choose(alice, "#notify-channel-0", "hook")
		choose(alice, "#notify-template-0", "hook-tpl")
		alice.Do(chromedp.Click(css("#save-policy")))
		alice.WaitText("#policy-error", `threshold "abc" is not a number`, 30*time.Second, false)
		// The form is as typed, to be corrected.
		if v, c := value(alice, "#policy-display"), value(alice, "#notify-channel-0"); v != "shop restarts" || c != "hook" {
			t.Errorf("the refused form lost its values: name %q, channel %q", v, c)
		}
		alice.Screenshot("policy-refused")
		alice.Set("#cond-threshold-0", "2")
		alice.Do(chromedp.Click(css("#save-policy")))
		alice.WaitText("main", "created: the platform evaluates it", 30*time.Second, false)
		policy = policyNamed(t, alice, "shop restarts")
		row := "#policy-" + policy
		text := alice.Text(row)
		for _, want := range []string{cluster, "web", "Pod of Deployment/shop", "k8s_pod_restart_total > 2 for 1 period(s)", "1 min"} {
			if !strings.Contains(text, want) {
				t.Errorf("the policy's row lacks %q: %s", want, text)
			}
		}
		if !exists(alice, "#edit-"+policy) {
			t.Error("no Edit link on the policy")
		}
		// Evaluated: the platform compiled it and says Active.
		alice.WaitText(row, "Active", 2*time.Minute, true)

		alice.Do(chromedp.Click(css("#copy-"+policy)), chromedp.WaitVisible(css("#policy-form")))
		if v := value(alice, "#policy-display"); v != "Copy of shop restarts" {
			t.Errorf("the copy's name: %q", v)
		}
		for sel, want := range map[string]string{"#cond-metric-0": "k8s_pod_restart_total", "#cond-threshold-0": "2", "#policy-workload": "shop",
			"#notify-channel-0": "hook", "#notify-template-0": "hook-tpl", "#policy-target": cluster + "/web"} {
			if v := value(alice, sel); v != want {
				t.Errorf("the copy's %s is %q, want %q", sel, v, want)
			}
		}
		alice.Do(chromedp.Click(css("#save-policy")))
		alice.WaitText("main", "created: the platform evaluates it", 30*time.Second, false)
		cp := policyNamed(t, alice, "Copy of shop restarts")
		if cp == policy {
			t.Fatalf("the copy is the policy itself: %s", cp)
		}
		alice.Screenshot("policies")

		alice.Do(chromedp.Click(css("#select-"+cp)), chromedp.Click(css("#delete-policies")),
			chromedp.WaitVisible(css(`#policies-form input[name=confirm]`)))
		alice.Do(chromedp.SendKeys(css(`#policies-form input[name=confirm]`), "delete"), chromedp.Click(css("#confirm-delete-policies")))
		alice.WaitText("main", "Deleted "+cp, 30*time.Second, false)
		framework.Eventually(t, 30*time.Second, "the copy gone from the list", func() error {
			alice.Open(base)
			if exists(alice, "#policy-"+cp) {
				return fmt.Errorf("%s still listed", cp)
			}
			return nil
		})
		if !exists(alice, "#policy-"+policy) {
			t.Fatalf("the batch delete of the copy took %s too", policy)
		}
	})
	if policy == "" {
		t.Fatal("no policy to fire")
	}
	policyKey := prj + "/" + policy

	t.Run("the pod restarts: the webhook is told, the records pages show it", func(t *testing.T) {
		alice := alice.In(t)
		// As the kubelet would after crashes.
		if out, err := k.Kubectl(memberKC, "-n", "web", "patch", "pod", pod, "--subresource=status", "--type=json",
			"-p", `[{"op":"replace","path":"/status/containerStatuses/0/restartCount","value":5}]`); err != nil {
			t.Fatalf("raising the restart count: %v %s", err, out)
		}
		firing := func() []hookMessage {
			var out []hookMessage
			for _, r := range hook.Received() {
				var m hookMessage
				if json.Unmarshal(r.Body, &m) == nil && m.Status == "firing" && m.CommonAnnotations.Policy == "shop restarts" {
					out = append(out, m)
				}
			}
			return out
		}
		framework.Eventually(t, 4*time.Minute, "the webhook's firing message", func() error {
			if len(firing()) == 0 {
				return fmt.Errorf("%d requests, none firing for the policy", len(hook.Received()))
			}
			return nil
		})
		m := firing()[0]
		if len(m.Alerts) != 1 || m.Alerts[0].Labels["pod"] != pod || m.Alerts[0].Annotations["value"] != "5" {
			t.Errorf("the firing message's alerts: %+v", m.Alerts)
		}

		alice.Open(base)
		alice.Do(chromedp.Click(css("#tab-records")), chromedp.WaitVisible(css("#records-search")))
		alice.Set("#records-policy", policyKey)
		choose(alice, "#records-status", "firing")
		alice.Do(chromedp.Click(css("#records-search-button")))
		framework.Eventually(t, 20*time.Second, "the search in the address bar", func() error {
			if loc := alice.Location(); !strings.Contains(loc, "status=firing") {
				return fmt.Errorf("at %s", loc)
			}
			return nil
		})
		alice.WaitText("#results", pod, 2*time.Minute, true)
		// Fired, Status, Policy, Cluster, Namespace, Object, Metric, Value, Resolved.
		alarms := cells(alice, "#alarm-records")
		found := false
		for _, r := range alarms {
			if len(r) == 9 && r[1] == "firing" && strings.Contains(r[2], "shop restarts") && strings.Contains(r[2], policy) &&
				r[3] == cluster && r[4] == "web" && r[5] == pod && strings.Contains(r[6], "k8s_pod_restart_total") && r[7] == "5" {
				found = true
			}
			if r[1] != "firing" {
				t.Errorf("a record that is not firing in a search for firing ones: %q", r)
			}
		}
		if !found {
			t.Errorf("no firing record of %s for pod %s at 5: %q", policyKey, pod, alarms)
		}
		alice.Screenshot("alarm-records")

		alice.Do(chromedp.Click(css("#records-notifications")))
		framework.Eventually(t, 30*time.Second, "the Notifications tab", func() error {
			if !strings.Contains(alice.Location(), "kind=notifications") || !exists(alice, "#records-notifications[aria-current=page]") {
				return fmt.Errorf("at %s", alice.Location())
			}
			return nil
		})
		var rows [][]string
		framework.Eventually(t, 2*time.Minute, "the firing message's record, sent", func() error {
			rows = cells(alice, "#notification-records")
			for _, r := range rows {
				// Time, Verb, Channel, Type, Receiver, To, Status, …
				if len(r) > 6 && r[1] == "firing" && strings.Contains(r[2], "hook") && r[6] == "sent" {
					return nil
				}
			}
			alice.Do(chromedp.Reload(), chromedp.WaitReady(css("body")))
			return fmt.Errorf("rows %q", rows)
		})
		alice.Screenshot("notification-records")
		// The test-sends are records too: the mail's failed with its 535.
		mailFailed := false
		for _, r := range rows {
			if len(r) > 9 && r[1] == "test" && strings.Contains(r[2], "mail") && r[6] == "failed" && strings.Contains(strings.Join(r, " "), "535") {
				mailFailed = true
			}
		}
		if !mailFailed {
			t.Errorf("no failed test-send record of the mail channel: %q", rows)
		}
		noSecret(t, alice, mailPassword)
		// Told once, however many evaluations since.
		if n := len(firing()); n != 1 {
			t.Errorf("the webhook got %d firing messages for the policy, want 1", n)
		}
	})

	t.Run("a silence made and expired from the page", func(t *testing.T) {
		alice := alice.In(t)
		alice.Open(base)
		alice.WaitText("main", "No silences", 10*time.Second, false)
		alice.Set("#silence-matchers", "alarm_policy="+policyKey)
		alice.Set("#silence-for", "1h")
		alice.Set("#silence-comment", "maintenance")
		alice.Do(chromedp.Click(css("#create-silence")))
		alice.WaitText("main", "matching alarms do not notify until", 30*time.Second, false)
		sil := framework.Eval[string](alice, `(document.querySelector("#silences tbody tr[id^='silence-']")||{id:""}).id.replace(/^silence-/, "")`)
		if sil == "" {
			t.Fatal("the silence is not listed")
		}
		text := alice.Text("#silence-" + sil)
		for _, want := range []string{`alarm_policy="` + policyKey + `"`, "active", "alice", "maintenance"} {
			if !strings.Contains(text, want) {
				t.Errorf("the silence's row lacks %q: %s", want, text)
			}
		}
		alice.Screenshot("silence")
		alice.Do(chromedp.Click(css("#expire-" + sil)))
		alice.WaitText("main", "Silence "+sil+" expired", 30*time.Second, false)
		alice.WaitText("#silence-"+sil, "expired", 10*time.Second, false)
		if exists(alice, "#expire-"+sil) {
			t.Error("an expired silence still offers Expire now")
		}
	})

	t.Run("logs", func(t *testing.T) { consoleLogs(t, k, p, cluster, prj, aliceCLI, akc) })
}

// hookMessage is the built-in webhook template's JSON (Alertmanager's v4).
type hookMessage struct {
	Version, Status   string
	CommonAnnotations struct{ Policy string }
	Alerts            []struct {
		Status      string
		Labels      map[string]string
		Annotations map[string]string
	}
}

// choose sets a select (or a field) and checks the value took: a select
// without that option would be left empty.
func choose(b *framework.Browser, sel, v string) {
	b.T.Helper()
	b.Set(sel, v)
	if got := value(b, sel); got != v {
		b.Screenshot("no-option")
		b.T.Fatalf("%s has no option %q (value %q)", sel, v, got)
	}
}

// cells are the texts of a table's body cells, row by row.
func cells(b *framework.Browser, table string) [][]string {
	b.T.Helper()
	return framework.Eval[[][]string](b, fmt.Sprintf(`[...document.querySelectorAll(%q)].map(r => [...r.cells].map(c => c.textContent.trim()))`, table+" tbody tr"))
}

func value(b *framework.Browser, sel string) string {
	b.T.Helper()
	return framework.Eval[string](b, fmt.Sprintf(`(document.querySelector(%q)||{value:"(none)"}).value`, sel))
}

func exists(b *framework.Browser, sel string) bool {
	b.T.Helper()
	return framework.Eval[bool](b, fmt.Sprintf(`document.querySelector(%q) !== null`, sel))
}

// waitFor waits until sel matches an element (the page updates itself).
func waitFor(b *framework.Browser, sel string, timeout time.Duration) {
	b.T.Helper()
	framework.Eventually(b.T, timeout, sel+" on the page", func() error {
		if !exists(b, sel) {
			return fmt.Errorf("not yet")
		}
		return nil
	})
}

// noSecret fails if the page's HTML holds secret anywhere (a value, an
// attribute, a fragment).
func noSecret(t *testing.T, b *framework.Browser, secret string) {
	t.Helper()
	if strings.Contains(framework.Eval[string](b, `document.documentElement.outerHTML`), secret) {
		b.Screenshot("secret-shown")
		t.Errorf("the page at %s holds the password", b.Location())
	}
}

// policyNamed is the name of the listed policy with that display name.
func policyNamed(t *testing.T, b *framework.Browser, display string) string {
	t.Helper()
	name := framework.Eval[string](b, fmt.Sprintf(`(() => { const r = [...document.querySelectorAll("#policies tbody tr")]
		.find(r => r.cells.length > 1 && [...r.cells].some(c => (c.firstChild||{}).textContent === %q)); return r ? r.id.replace(/^policy-/, "") : "" })()`, display))
	if name == "" {
		b.Screenshot("no-policy")
		t.Fatalf("no policy %q listed: %s", display, b.Text("main"))
	}
	return name
}
