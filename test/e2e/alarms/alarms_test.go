// Package alarms holds the end-to-end test of alarms and notifications: two
// real platform replicas (sharing the platform's kube-apiserver and one
// PostgreSQL record store, each with its own metric store) evaluate a
// project's alarm policy over a real member's pods; a real HTTP webhook and
// a real SMTP server (STARTTLS, AUTH) each get every message once, the
// resolved one too; a silence mutes a firing until it is expired; the
// records are found by search; bad input is refused with its reason.
package alarms

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kstack/kstack/internal/testutil/hooktest"
	"github.com/kstack/kstack/internal/testutil/pgtest"
	"github.com/kstack/kstack/internal/testutil/smtptest"
	"github.com/kstack/kstack/test/e2e/framework"
)

const (
	notifyAPI  = "/notify/apis/notify.tkestack.io/v1/"
	monitorAPI = "/monitor/apis/monitor.tkestack.io/v1/"
	// groupInterval is --alarm-group-interval below: "nothing more came"
	// is checked over several of them.
	groupInterval = 2 * time.Second
)

// flags shorten every wait: a policy's "minute" is 2 s, messages are
// grouped for 1 s, and a failing delivery gives up after 3 attempts. The
// test's servers run on this machine: loopback 127.0.0.1 is allowed, as an
// administrator would allow a lab's addresses; 127.0.0.2 is not.
var flags = []string{"--dial-allow=127.0.0.1/32", "--metrics-interval=2s", "--alarm-period-unit=2s",
	"--alarm-group-wait=1s", "--alarm-group-interval=2s", "--alarm-repeat-interval=1h", "--notify-max-attempts=3"}

type env struct {
	t         *testing.T
	k         *framework.Kstack
	hc        *http.Client
	base      string
	aliceTok  string
	project   string
	cluster   string
	memberKC  string
	pod       string
	hook      *hooktest.Hook
	slowHook  *hooktest.Hook
	mail      *smtptest.Server
	policyKey string
}

func (e *env) do(method, path, token, contentType, body string) (int, string) {
	e.t.Helper()
	return framework.Do(e.t, e.hc, method, e.base+path, token, "", contentType, body)
}

func (e *env) create(path, body string) string {
	e.t.Helper()
	code, out := e.do("POST", path, e.aliceTok, "application/json", body)
	if code != http.StatusCreated {
		e.t.Fatalf("POST %s: %d %s", path, code, out)
	}
	return out
}

func TestAlarms(t *testing.T) {
	hook := hooktest.Start(t, hooktest.Options{})
	slow := hooktest.Start(t, hooktest.Options{Delay: 5 * time.Second})
	mail := smtptest.Start(t, smtptest.Options{TLS: "starttls", Username: "alerts", Password: "m4il-s3cret"})
	pg := pgtest.New(t)

	k := framework.New(t)
	k.Env = append(k.Env, "KSTACK_ADMIN_PASSWORD=Adm1n-Passw0rd")
	args := []string{"--listen", framework.FreeAddr(t), "--record-store", pg.DSN}
	for _, f := range flags {
		args = append(args, "--platform-arg="+f)
	}
	p := k.Up(3*time.Minute, args...)
	second, secondURL := startReplica(t, k, pg.DSN, p.ConsoleURL)
	hc, adminTok := k.PlatformHTTP()
	cluster, memberKC := k.ImportedCluster("m1", 1)
	k.MustRun("cluster", "monitoring", cluster, "on")

	framework.CreateUser(t, k, "alice", "Passw0rd-Alice1")
	prj := strings.TrimSpace(k.MustRun("project", "create", "team-a", "--cluster", cluster, "--cpu", "4", "--memory", "8Gi", "--pods", "20", "-o", "name"))
	k.MustRun("project", "add-member", prj, "alice")
	k.MustRun("namespace", "create", "web", "--project", prj, "--cluster", cluster, "--cpu", "2", "--memory", "2Gi", "--pods", "10")
	alice := framework.Login(t, k, "default", "alice", "Passw0rd-Alice1")
	akc := filepath.Join(t.TempDir(), "alice.kubeconfig")
	alice.MustRun("kubeconfig", "--cluster", cluster, "-f", akc)
	alice.MustKubectl(akc, "-n", "web", "create", "deployment", "shop", "--image=nginx", "--replicas=1")
	alice.MustKubectl(akc, "-n", "web", "set", "resources", "deployment", "shop", "--requests=cpu=100m,memory=64Mi")
	e := &env{t: t, k: k, hc: hc, base: p.ConsoleURL, aliceTok: framework.Token(t, alice), project: prj, cluster: cluster,
		memberKC: memberKC, hook: hook, slowHook: slow, mail: mail}
	framework.Eventually(t, 2*time.Minute, "shop's pod running", func() error {
		out, err := alice.Kubectl(akc, "-n", "web", "get", "pods", "-l", "app=shop", "--field-selector=status.phase=Running", "-o", "jsonpath={.items[*].metadata.name}")
		if f := strings.Fields(out); err != nil || len(f) != 1 {
			return fmt.Errorf("%v %q", err, out)
		}
		e.pod = strings.TrimSpace(out)
		return nil
	})

	t.Run("bad input", func(t *testing.T) { badInput(t, e) })
	t.Run("channels, templates, receivers", func(t *testing.T) { setUp(t, e, adminTok) })
	t.Run("fire once, resolve once", func(t *testing.T) { fireAndResolve(t, e) })
	t.Run("silence", func(t *testing.T) { silence(t, e) })
	t.Run("records", func(t *testing.T) { records(t, e) })
	t.Run("test-send", func(t *testing.T) { testSend(t, e) })
	t.Run("the second replica serves members without leading", func(t *testing.T) { secondServes(t, e, secondURL) })
	t.Run("failover", func(t *testing.T) { failover(t, e, p.Kubeconfig, second) })
	second.Stop()
}

// startReplica runs a second `kstack platform run` against the same
// kube-apiserver and PostgreSQL, with its own metric store, record queue,
// gateway and webhook: it collects and evaluates too.
// external is the first replica's URL: both are one platform, whose
// tokens either accepts (behind one load balancer, in production).
func startReplica(t *testing.T, k *framework.Kstack, dsn, external string) (*framework.Proc, string) {
	pdir := filepath.Join(k.DataDir, "platform")
	addr := framework.FreeAddr(t)
	args := []string{"platform", "run", "--kubeconfig", filepath.Join(pdir, "kubeconfig", "platform.kubeconfig"),
		"--listen", addr, "--external-url", external,
		"--tls-cert-file", filepath.Join(pdir, "pki", "gateway.crt"), "--tls-key-file", filepath.Join(pdir, "pki", "gateway.key"),
		"--record-store", dsn, "--record-queue-dir", t.TempDir(), "--metrics-dir", t.TempDir()}
	r := k.Start(append(args, flags...)...)
	r.WaitOutput(t, "platform starting", 2*time.Minute)
	return r, "https://" + addr
}

func badInput(t *testing.T, e *env) {
	ns := notifyAPI + "namespaces/" + e.project + "/"
	pol := monitorAPI + "namespaces/" + e.project + "/alarmpolicies"
	for _, tt := range []struct{ what, path, body, want string }{
		{"a raw expression that does not parse", pol, policy(e, "bad-expr", `"expr":"sum(k8s_pod_restart_total"`, "", ""), "spec.expr"},
		{"an unknown metric", pol, policy(e, "bad-metric", "", condition("k8s_pod_nonsense", ">", "2"), ""), `unknown metric`},
		{"a threshold that is not a number", pol, policy(e, "bad-threshold", "", condition("k8s_pod_restart_total", ">", "abc"), ""), `"abc" is not a number`},
		{"a period out of range", pol, strings.Replace(policy(e, "bad-period", "", condition("k8s_pod_restart_total", ">", "2"), ""), `"periodMinutes":1`, `"periodMinutes":6`, 1), "out of range"},
		{"a template with an unknown variable", ns + "templates", `{"apiVersion":"notify.tkestack.io/v1","kind":"Template","metadata":{"name":"bad"},"spec":{"channelType":"webhook","contentType":"text/plain","body":"{{ .Secrets }}"}}`, "unknown variable .Secrets"},
		{"a template that queries", ns + "templates", `{"apiVersion":"notify.tkestack.io/v1","kind":"Template","metadata":{"name":"bad2"},"spec":{"channelType":"webhook","contentType":"text/plain","body":"{{ query \"up\" }}"}}`, `function "query" not defined`},
		{"a webhook on loopback that is not allowed", ns + "channels", webhookChannel("bad-hook", "http://127.0.0.2:9/", ""), "loopback"},
		{"a webhook on the metadata service", ns + "channels", webhookChannel("bad-hook2", "http://169.254.169.254/latest", ""), "link-local"},
	} {
		code, body := e.do("POST", tt.path, e.aliceTok, "application/json", tt.body)
		if code < 400 || code > 499 || !strings.Contains(strings.ReplaceAll(body, `\"`, `"`), tt.want) {
			t.Errorf("%s: %d %s, want a refusal with %q", tt.what, code, body, tt.want)
		}
	}
}

func webhookChannel(name, url, headers string) string {
	return `{"apiVersion":"notify.tkestack.io/v1","kind":"Channel","metadata":{"name":"` + name + `"},"spec":{"type":"webhook","webhook":{"url":"` + url + `"` + headers + `}}}`
}

func condition(metric, op, threshold string) string {
	return `"conditions":[{"metric":"` + metric + `","operator":"` + op + `","threshold":"` + threshold + `","periods":2}]`
}

// policy is alice's policy on the pods of shop; fields are extra spec
// fields (expr or conditions), notifications the channels it tells.
func policy(e *env, name, expr, conditions, notifications string) string {
	spec := []string{`"displayName":"` + name + `"`, `"clusterName":"` + e.cluster + `"`, `"namespace":"web"`, `"objectType":"Pod"`,
		`"object":{"workload":{"kind":"Deployment","name":"shop"}}`, `"periodMinutes":1`}
	for _, f := range []string{expr, conditions} {
		if f != "" {
			spec = append(spec, f)
		}
	}
	if notifications == "" {
		notifications = `[{"channel":{"name":"hook"},"template":{"name":"hook-json"}}]`
	}
	spec = append(spec, `"receivers":[{"name":"alice"}]`, `"notifications":`+notifications)
	return `{"apiVersion":"monitor.tkestack.io/v1","kind":"AlarmPolicy","metadata":{"name":"` + name + `"},"spec":{` + strings.Join(spec, ",") + `}}`
}

// setUp makes alice's channels (a webhook with a secret header, a slow
// webhook, mail over STARTTLS with a password), templates, receiver and
// policy: the pods of shop restarting more than twice, two periods in a row.
func setUp(t *testing.T, e *env, adminTok string) {
	ns := notifyAPI + "namespaces/" + e.project + "/"
	e.create(ns+"channels", webhookChannel("hook", e.hook.URL(), `,"headers":[{"name":"X-Token","value":"h00k-t0ken","secret":true},{"name":"X-Team","value":"team-a"}]`))
	e.create(ns+"channels", strings.Replace(webhookChannel("slow", e.slowHook.URL(), `,"timeoutSeconds":1`), `"type":"webhook"`, `"type":"webhook","concurrency":1`, 1))
	ca, _ := json.Marshal(e.mail.CAPEM())
	e.create(ns+"channels", `{"apiVersion":"notify.tkestack.io/v1","kind":"Channel","metadata":{"name":"mail"},"spec":{"type":"email","email":{"smtpHost":"127.0.0.1","smtpPort":`+
		fmt.Sprint(e.mail.Port())+`,"tls":"starttls","from":"kstack@example.com","username":"alerts","password":"m4il-s3cret","caBundle":`+string(ca)+`}}}`)
	e.create(ns+"templates", `{"apiVersion":"notify.tkestack.io/v1","kind":"Template","metadata":{"name":"hook-json"},"spec":{"channelType":"webhook","contentType":"application/json",`+
		`"body":"{\"status\":\"{{ .Status }}\",\"policy\":\"{{ .Policy.DisplayName }}\",\"pods\":[{{ range $i, $a := .Alerts }}{{ if $i }},{{ end }}\"{{ index $a.Labels \"pod\" }}\"{{ end }}]}"}}`)
	e.create(ns+"templates", `{"apiVersion":"notify.tkestack.io/v1","kind":"Template","metadata":{"name":"mail-text"},"spec":{"channelType":"email",`+
		`"subject":"[{{ .Status }}] {{ .Policy.DisplayName }}","body":"{{ range .Alerts }}pod {{ index .Labels \"pod\" }} restarts {{ .Value }}\n{{ end }}"}}`)
	e.create(ns+"receivers", `{"apiVersion":"notify.tkestack.io/v1","kind":"Receiver","metadata":{"name":"alice"},"spec":{"displayName":"Alice","email":"alice@example.com"}}`)

	// Credentials are never served back, to alice nor to the administrator.
	for _, ch := range []string{"hook", "mail"} {
		for _, tok := range []string{e.aliceTok, adminTok} {
			code, body := e.do("GET", ns+"channels/"+ch, tok, "", "")
			if code != http.StatusOK || strings.Contains(body, "h00k-t0ken") || strings.Contains(body, "m4il-s3cret") || !strings.Contains(body, "credentialsSecret") {
				t.Fatalf("reading channel %s back: %d %s", ch, code, body)
			}
		}
	}
	notifications := `[{"channel":{"name":"hook"},"template":{"name":"hook-json"}},{"channel":{"name":"mail"},"template":{"name":"mail-text"}},{"channel":{"name":"slow"},"template":{"name":"hook-json"}}]`
	e.create(monitorAPI+"namespaces/"+e.project+"/alarmpolicies", policy(e, "restarts", "", condition("k8s_pod_restart_total", ">", "2"), notifications))
	e.policyKey = e.project + "/restarts"
	framework.Eventually(t, 2*time.Minute, "the policy evaluated", func() error {
		code, body := e.do("GET", monitorAPI+"namespaces/"+e.project+"/alarmpolicies/restarts", e.aliceTok, "", "")
		if code != http.StatusOK || !strings.Contains(body, `"phase":"Active"`) || !strings.Contains(body, "k8s_pod_restart_total") {
			return fmt.Errorf("%d %s", code, body)
		}
		return nil
	})
}

// restarts sets the pod's restart count, as the kubelet would after crashes.
func (e *env) restarts(n int) {
	e.t.Helper()
	out, err := e.k.Kubectl(e.memberKC, "-n", "web", "patch", "pod", e.pod, "--subresource=status", "--type=json",
		"-p", fmt.Sprintf(`[{"op":"replace","path":"/status/containerStatuses/0/restartCount","value":%d}]`, n))
	if err != nil {
		e.t.Fatalf("setting the restart count: %v %s", err, out)
	}
}

type hookBody struct {
	Status, Policy string
	Pods           []string
}

func decode(t *testing.T, r hooktest.Req) hookBody {
	t.Helper()
	var b hookBody
	if err := json.Unmarshal(r.Body, &b); err != nil {
		t.Fatalf("the webhook's body is not the template's JSON: %v\n%s", err, r.Body)
	}
	return b
}

// quiet checks that nothing more arrives over several group intervals.
func quiet(t *testing.T, e *env, hooks, mails int) {
	t.Helper()
	time.Sleep(4 * groupInterval)
	if got := len(e.hook.Received()); got != hooks {
		t.Fatalf("the webhook got %d messages, want %d: %s", got, hooks, bodies(e.hook.Received()))
	}
	if got := len(e.mail.Messages()); got != mails {
		t.Fatalf("the mailbox has %d messages, want %d", got, mails)
	}
}

func bodies(rs []hooktest.Req) string {
	var b strings.Builder
	for _, r := range rs {
		fmt.Fprintf(&b, "%s %s\n", r.At.Format(time.RFC3339Nano), r.Body)
	}
	return b.String()
}

func fireAndResolve(t *testing.T, e *env) {
	e.restarts(5)
	got := e.hook.Wait(t, 1, 3*time.Minute)
	b := decode(t, got[0])
	if b.Status != "firing" || b.Policy != "restarts" || len(b.Pods) != 1 || b.Pods[0] != e.pod {
		t.Fatalf("the firing message: %+v", b)
	}
	if h := got[0].Header; h.Get("X-Token") != "h00k-t0ken" || h.Get("X-Team") != "team-a" || !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
		t.Fatalf("the webhook's headers: %v", h)
	}
	mails := e.mail.Wait(t, 1, time.Minute)
	m := mails[0]
	if m.Subject != "[firing] restarts" || !strings.Contains(m.Body, "pod "+e.pod+" restarts 5") || len(m.To) != 1 || m.To[0] != "alice@example.com" {
		t.Fatalf("the firing mail: %+v", m)
	}
	// Both replicas evaluate; the message went out once, and goes out once.
	quiet(t, e, 1, 1)

	e.restarts(0)
	got = e.hook.Wait(t, 2, 3*time.Minute)
	if b := decode(t, got[1]); b.Status != "resolved" || len(b.Pods) != 1 {
		t.Fatalf("the resolved message: %+v", b)
	}
	mails = e.mail.Wait(t, 2, time.Minute)
	if mails[1].Subject != "[resolved] restarts" {
		t.Fatalf("the resolved mail: %+v", mails[1])
	}
	quiet(t, e, 2, 2)
}

// silence: a silence on the policy mutes its next firing (which is still
// recorded); expired, the same firing is delivered.
func silence(t *testing.T, e *env) {
	sil := monitorAPI + "namespaces/" + e.project + "/alarmsilences"
	end := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	e.create(sil, `{"apiVersion":"monitor.tkestack.io/v1","kind":"AlarmSilence","metadata":{"name":"quiet"},"spec":{"matchers":[{"name":"alarm_policy","value":"`+
		e.policyKey+`"}],"endsAt":"`+end+`","comment":"maintenance"}}`)
	code, body := e.do("GET", sil+"/quiet", e.aliceTok, "", "")
	if code != http.StatusOK || !strings.Contains(body, `"createdBy":"alice"`) {
		t.Fatalf("the silence: %d %s", code, body)
	}
	e.restarts(7)
	// The alarm fires (its record says so) but nothing is sent.
	waitAlarm(t, e, "firing", 1)
	quiet(t, e, 2, 2)
	now := time.Now().UTC().Format(time.RFC3339)
	if code, body := e.do("PATCH", sil+"/quiet", e.aliceTok, "application/merge-patch+json", `{"spec":{"endsAt":"`+now+`"}}`); code != http.StatusOK {
		t.Fatalf("expiring the silence: %d %s", code, body)
	}
	got := e.hook.Wait(t, 3, 3*time.Minute)
	if b := decode(t, got[2]); b.Status != "firing" {
		t.Fatalf("the firing after the silence: %+v", b)
	}
	e.mail.Wait(t, 3, time.Minute)
	quiet(t, e, 3, 3)
	e.restarts(0)
	e.hook.Wait(t, 4, 3*time.Minute)
}

type recordList struct {
	Items []struct {
		Verb, Name, Cluster, Namespace, Project string
		Data                                    json.RawMessage
	}
}

// waitAlarm waits for n alarm records of the policy with verb.
func waitAlarm(t *testing.T, e *env, verb string, n int) recordList {
	t.Helper()
	var l recordList
	framework.Eventually(t, 2*time.Minute, fmt.Sprintf("%d %s alarm records", n, verb), func() error {
		if l = alarmRecords(t, e, verb); len(l.Items) < n {
			return fmt.Errorf("%d records: %+v", len(l.Items), l.Items)
		}
		return nil
	})
	return l
}

func records(t *testing.T, e *env) {
	l := waitAlarm(t, e, "resolved", 2)
	for _, r := range l.Items {
		if r.Cluster != e.cluster || r.Namespace != "web" || r.Project != e.project || !strings.Contains(string(r.Data), e.pod) {
			t.Fatalf("an alarm record: %+v %s", r, r.Data)
		}
	}
	// Every message has its record with its delivery status: the hook's
	// and the mail's sent, the slow hook's failed after its attempts.
	for _, tt := range []struct{ channel, status string }{{"hook", `"status":"sent"`}, {"mail", `"status":"sent"`}, {"slow", `"status":"failed"`}} {
		framework.Eventually(t, 2*time.Minute, tt.channel+"'s notification records", func() error {
			code, body := e.do("GET", notifyAPI+"namespaces/"+e.project+"/notifications?channel="+e.project+"/"+tt.channel, e.aliceTok, "", "")
			if code != http.StatusOK || !strings.Contains(body, tt.status) {
				return fmt.Errorf("%d %s", code, body)
			}
			if strings.Contains(body, "h00k-t0ken") || strings.Contains(body, "m4il-s3cret") {
				t.Fatalf("a credential in the notification records: %s", body)
			}
			return nil
		})
	}
	// The slow hook never held the others back: it got its requests, and
	// they timed out, while the fast hook had its four messages.
	if len(e.slowHook.Received()) == 0 {
		t.Fatal("the slow webhook was never called")
	}
}

// testSend: the console's test-send, through the API: a good channel
// sends, an SMTP server refusing the password says so.
func testSend(t *testing.T, e *env) {
	ns := notifyAPI + "namespaces/" + e.project + "/"
	before := len(e.hook.Received())
	code, body := e.do("POST", ns+"channels/hook/test", e.aliceTok, "application/json", `{}`)
	if code != http.StatusOK || !strings.Contains(body, `"status":"sent"`) {
		t.Fatalf("test-send to the webhook: %d %s", code, body)
	}
	e.hook.Wait(t, before+1, time.Minute)
	ca, _ := json.Marshal(e.mail.CAPEM())
	e.create(ns+"channels", `{"apiVersion":"notify.tkestack.io/v1","kind":"Channel","metadata":{"name":"wrong-pass"},"spec":{"type":"email","email":{"smtpHost":"127.0.0.1","smtpPort":`+
		fmt.Sprint(e.mail.Port())+`,"tls":"starttls","from":"kstack@example.com","username":"alerts","password":"not-it","caBundle":`+string(ca)+`}}}`)
	code, body = e.do("POST", ns+"channels/wrong-pass/test", e.aliceTok, "application/json", `{"receiver":{"name":"alice"}}`)
	if code != http.StatusOK || !strings.Contains(body, `"status":"failed"`) || !strings.Contains(body, "535") {
		t.Fatalf("test-send with a wrong password: %d %s", code, body)
	}
	// A server without TLS: the channel wants STARTTLS and refuses to send
	// the password in the clear.
	plain := smtptest.Start(t, smtptest.Options{TLS: "none"})
	e.create(ns+"channels", `{"apiVersion":"notify.tkestack.io/v1","kind":"Channel","metadata":{"name":"no-tls"},"spec":{"type":"email","email":{"smtpHost":"127.0.0.1","smtpPort":`+
		fmt.Sprint(plain.Port())+`,"tls":"starttls","from":"kstack@example.com","username":"alerts","password":"m4il-s3cret"}}}`)
	code, body = e.do("POST", ns+"channels/no-tls/test", e.aliceTok, "application/json", `{"receiver":{"name":"alice"}}`)
	if code != http.StatusOK || !strings.Contains(body, `"status":"failed"`) || !strings.Contains(strings.ToLower(body), "starttls") || len(plain.Messages()) != 0 {
		t.Fatalf("test-send to a server without STARTTLS: %d %s", code, body)
	}
}

// secondServes: the replica that does not lead is connected to the members
// too: its proxy reaches them and its own metric store has their series
// (ADR 0014), so a query answered by it tells the truth and its evaluator
// is ready to take over.
func secondServes(t *testing.T, e *env, base string) {
	code, body := framework.Do(t, e.hc, "GET", base+"/apis/platform.tkestack.io/v1/clusters/"+e.cluster+"/proxy/api/v1/namespaces/web/pods", e.aliceTok, "", "", "")
	if code != http.StatusOK || !strings.Contains(body, e.pod) {
		t.Fatalf("the member's pods through the second replica's proxy: %d %s", code, body)
	}
	q := url.Values{"query": {`k8s_pod_restart_total{pod="` + e.pod + `"}`}}
	framework.Eventually(t, time.Minute, "the pod's restarts in the second replica's metric store", func() error {
		code, body := framework.Do(t, e.hc, "GET", base+"/monitor/apis/monitor.tkestack.io/v1/prometheus/api/v1/query?"+q.Encode(), e.aliceTok, "", "", "")
		if code != http.StatusOK || !strings.Contains(body, e.pod) {
			return fmt.Errorf("%d %s", code, body)
		}
		return nil
	})
}

// failover: while an alarm fires, the leader stops; the other replica
// takes over with the shared notification log: the firing message is not
// sent again, and the resolved one comes once.
func failover(t *testing.T, e *env, platformKC string, second *framework.Proc) {
	hooks, mails := len(e.hook.Received()), len(e.mail.Messages())
	e.restarts(9)
	e.hook.Wait(t, hooks+1, 3*time.Minute)
	e.mail.Wait(t, mails+1, time.Minute)
	before, after := framework.StopFirstReplica(t, e.k, platformKC, second, nil)
	t.Logf("leader %s -> %s", before, after)
	quiet(t, e, hooks+1, mails+1)
	e.restarts(0)
	got := e.hook.Wait(t, hooks+2, 3*time.Minute)
	if b := decode(t, got[hooks+1]); b.Status != "resolved" {
		t.Fatalf("the resolved message after the failover: %+v", b)
	}
	e.mail.Wait(t, mails+2, time.Minute)
	quiet(t, e, hooks+2, mails+2)
	// One record per firing, across the failover: the new leader resolved
	// the record the old one opened, and none stays open.
	framework.Eventually(t, time.Minute, "no open alarm record", func() error {
		if n := len(alarmRecords(t, e, "firing").Items); n != 0 {
			return fmt.Errorf("%d open", n)
		}
		return nil
	})
	if l := alarmRecords(t, e, "resolved"); len(l.Items) != 3 {
		t.Fatalf("%d resolved alarm records after three firings, want 3: %+v", len(l.Items), l.Items)
	}
}

// alarmRecords are the policy's alarm records with verb.
func alarmRecords(t *testing.T, e *env, verb string) recordList {
	t.Helper()
	code, body := e.do("GET", monitorAPI+"namespaces/"+e.project+"/alarms?policy="+e.policyKey+"&status="+verb, e.aliceTok, "", "")
	var l recordList
	if code != http.StatusOK || json.Unmarshal([]byte(body), &l) != nil {
		t.Fatalf("alarm records: %d %s", code, body)
	}
	return l
}
