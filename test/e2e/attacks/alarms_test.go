package attacks

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kstack/kstack/test/e2e/framework"
)

const (
	notifyAPI = "/notify/apis/notify.tkestack.io/v1/"
	otherProj = "prj-othr0000"
)

// alarms: alarm policies, templates and channels. Pat is a member of the
// default tenant's project (namespace atk-web in A, made by records); the
// other project has namespace atk-other in A. Both run a pod, so each
// namespace has series. The platform allows dialling 127.0.0.2 only.
func alarms(t *testing.T, admin *framework.Kstack, hc *http.Client, base, a string, tokens map[string]string) {
	root := tokens["root"]
	mustDo(t, hc, root, "POST", base+businessAPI+"projects",
		`{"apiVersion":"business.tkestack.io/v1","kind":"Project","metadata":{"name":"`+otherProj+`"},"spec":{"displayName":"other","clusters":[{"name":"`+a+`","hard":{"pods":"10"}}]}}`)
	mustDo(t, hc, root, "POST", base+businessAPI+"namespaces/"+otherProj+"/namespaces",
		`{"apiVersion":"business.tkestack.io/v1","kind":"Namespace","spec":{"clusterName":"`+a+`","namespace":"atk-other","hard":{"pods":"1"}}}`)
	for _, ns := range []string{"atk-web", "atk-other"} {
		framework.Eventually(t, time.Minute, "a pod in "+ns, func() error {
			code, body := framework.Do(t, hc, "POST", base+"/apis/platform.tkestack.io/v1/clusters/"+a+"/proxy/api/v1/namespaces/"+ns+"/pods", root, "", "application/json",
				`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"atk-pod"},"spec":{"containers":[{"name":"c","image":"nginx"}]}}`)
			if code != http.StatusCreated && code != http.StatusConflict {
				return fmt.Errorf("%d %s", code, body)
			}
			return nil
		})
	}
	framework.CreateUser(t, admin, "pat", "Passw0rd-Pat123")
	admin.MustRun("project", "add-member", dfltProj, "pat")
	tokens["pat"] = framework.Token(t, framework.Login(t, admin, "default", "pat", "Passw0rd-Pat123"))
	pat := tokens["pat"]

	prom := base + monitorAPI + "prometheus/api/v1/query?" + url.Values{"query": {`count by (namespace) (k8s_pod_status_ready{namespace=~"atk-web|atk-other"})`}}.Encode()
	framework.Eventually(t, 2*time.Minute, "both namespaces' pods collected", func() error {
		code, body := framework.Do(t, hc, "GET", prom, root, "", "", "")
		if code != http.StatusOK || !strings.Contains(body, "atk-web") || !strings.Contains(body, "atk-other") {
			return fmt.Errorf("%d %s", code, body)
		}
		return nil
	})

	chans := base + notifyAPI + "namespaces/" + dfltProj + "/channels"
	tpls := base + notifyAPI + "namespaces/" + dfltProj + "/templates"
	rcvs := base + notifyAPI + "namespaces/" + dfltProj + "/receivers"
	policies := base + monitorAPI + "namespaces/" + dfltProj + "/alarmpolicies"
	channel := func(name, u, password string) string {
		return `{"apiVersion":"notify.tkestack.io/v1","kind":"Channel","metadata":{"name":"` + name + `"},"spec":{"type":"webhook","webhook":{"url":"` + u +
			`","headers":[{"name":"Authorization","value":"Bearer ` + password + `","secret":true}]}}}`
	}
	template := func(name, body string) string {
		return `{"apiVersion":"notify.tkestack.io/v1","kind":"Template","metadata":{"name":"` + name + `"},"spec":{"channelType":"webhook","contentType":"text/plain","body":"` + body + `"}}`
	}
	receiver := func(name string) string {
		return `{"apiVersion":"notify.tkestack.io/v1","kind":"Receiver","metadata":{"name":"` + name + `"},"spec":{"email":"` + name + `@example.com"}}`
	}
	policy := func(name, expr, receiverNS string) string {
		return `{"apiVersion":"monitor.tkestack.io/v1","kind":"AlarmPolicy","metadata":{"name":"` + name + `"},"spec":{"displayName":"` + name + `","clusterName":"` + a +
			`","namespace":"atk-web","objectType":"Pod","periodMinutes":1,"expr":"` + expr + `","receivers":[{"namespace":"` + receiverNS + `","name":"atk-rcv"}],` +
			`"notifications":[{"channel":{"name":"atk-hook"},"template":{"name":"atk-tpl"}}]}}`
	}
	mustDo(t, hc, root, "POST", base+notifyAPI+"namespaces/"+otherProj+"/receivers", receiver("atk-rcv"))
	gateway := strings.TrimPrefix(base, "https://")
	check(t, hc, tokens, []row{
		// Addresses the platform would dial.
		{what: "a webhook on an allowed address (twin)", who: "pat", method: "POST", url: chans, contentType: "application/json", body: channel("atk-hook", "http://127.0.0.2:9/hook", "t0ken-atk"), allow: true, want: "atk-hook", hide: "t0ken-atk"},
		{what: "a webhook to the platform's own gateway", who: "pat", method: "POST", url: chans, contentType: "application/json", body: channel("atk-gw", "https://"+gateway+"/platform/api/v1/secrets", "x"), want: "may not dial"},
		{what: "a webhook to the metadata service", who: "pat", method: "POST", url: chans, contentType: "application/json", body: channel("atk-meta", "http://169.254.169.254/latest/meta-data", "x"), want: "link-local"},
		// Credentials are never served back nor patched in.
		{what: "reading a channel back (twin)", who: "pat", method: "GET", url: chans + "/atk-hook", allow: true, want: "credentialsSecret", hide: "t0ken-atk"},
		{what: "a channel's token patched in", who: "pat", method: "PATCH", url: chans + "/atk-hook", contentType: merge,
			body: `{"spec":{"webhook":{"headers":[{"name":"Authorization","value":"Bearer stolen","secret":true}]}}}`, want: "never in a patch"},
		// Templates cannot print what they are not given.
		{what: "a template printing its alarms (twin)", who: "pat", method: "POST", url: tpls, contentType: "application/json", body: template("atk-tpl", "{{ .Status }} {{ range .Alerts }}{{ .Labels.pod }}{{ end }}"), allow: true, want: "atk-tpl"},
		{what: "a template that queries the metric store", who: "pat", method: "POST", url: tpls, contentType: "application/json", body: template("atk-tpl2", `{{ query \"k8s_pod_restart_total\" }}`), want: `function "query" not defined`},
		{what: "a template that prints the platform's secrets", who: "pat", method: "POST", url: tpls, contentType: "application/json", body: template("atk-tpl3", "{{ .Secrets }}"), want: "unknown variable .Secrets"},
		// References name the caller's own project's objects.
		{what: "a receiver of one's project (twin)", who: "pat", method: "POST", url: rcvs, contentType: "application/json", body: receiver("atk-rcv"), allow: true, want: "atk-rcv"},
		{what: "a policy naming another project's receiver", who: "pat", method: "POST", url: policies, contentType: "application/json",
			body: policy("atk-ref", `count(k8s_pod_status_ready) > 0`, otherProj), want: "receiver"},
		// Another tenant's administrator sees nothing of them.
		{what: "another tenant's channel", who: "dave", method: "GET", url: chans + "/atk-hook", want: "not"},
		{what: "the project's channels listed (twin)", who: "pat", method: "GET", url: chans, allow: true, want: "atk-hook"},
		{what: "another tenant's channels listed", who: "dave", method: "GET", url: chans, allow: true, want: `"items":[]`, hide: "atk-hook"},
		// A policy reads only its own namespace's series: the twin fires,
		// the one naming the other project's namespace never does.
		{what: "a policy on one's own namespace (twin)", who: "pat", method: "POST", url: policies, contentType: "application/json",
			body: policy("atk-own", `count(k8s_pod_status_ready{namespace=\"atk-web\"}) > 0`, ""), allow: true, want: "atk-own"},
		{what: "a policy reading another project's namespace (accepted, reads nothing)", who: "pat", method: "POST", url: policies, contentType: "application/json",
			body: policy("atk-foreign", `count(k8s_pod_status_ready{namespace=\"atk-other\"}) > 0`, ""), allow: true, want: "atk-foreign"},
	})
	// The channel's credentials Secret, by the name the channel gives
	// (its own name and a version), through the platform API.
	scode, sbody := framework.Do(t, hc, "GET", chans+"/atk-hook", pat, "", "", "")
	var stored struct {
		Spec struct {
			CredentialsSecret string `json:"credentialsSecret"`
		} `json:"spec"`
	}
	if err := json.Unmarshal([]byte(sbody), &stored); scode != http.StatusOK || err != nil || !strings.HasPrefix(stored.Spec.CredentialsSecret, "channel-"+dfltProj+"-atk-hook-") {
		t.Errorf("the channel's credentialsSecret: %d %s", scode, sbody)
	}
	check(t, hc, tokens, []row{
		{what: "the channel's Secret through the platform API", who: "pat", method: "GET", url: base + "/platform/api/v1/namespaces/kstack-system/secrets/" + stored.Spec.CredentialsSecret, want: "platform users reach only"},
	})
	framework.Eventually(t, 3*time.Minute, "the twin policy firing", func() error {
		code, body := framework.Do(t, hc, "GET", policies+"/atk-own", pat, "", "", "")
		if code != http.StatusOK || !strings.Contains(body, `"firing":1`) {
			return fmt.Errorf("%d %s", code, body)
		}
		return nil
	})
	// The twin fired: the foreign policy has had as many evaluations, and
	// three more periods (of 2 s here) to be sure.
	time.Sleep(6 * time.Second)
	code, body := framework.Do(t, hc, "GET", policies+"/atk-foreign", pat, "", "", "")
	if code != http.StatusOK || strings.Contains(body, `"firing":`) || !strings.Contains(body, `"phase":"Active"`) {
		t.Errorf("the policy on another project's namespace: %d %s", code, body)
	}
	code, body = framework.Do(t, hc, "GET", base+monitorAPI+"namespaces/"+dfltProj+"/alarms?policy="+dfltProj+"/atk-foreign", pat, "", "", "")
	if code != http.StatusOK || strings.Contains(body, "atk-foreign") {
		t.Errorf("alarm records of the policy on another project's namespace: %d %s", code, body)
	}
	code, body = framework.Do(t, hc, "GET", base+monitorAPI+"namespaces/"+dfltProj+"/alarms?policy="+dfltProj+"/atk-own", pat, "", "", "")
	if code != http.StatusOK || !strings.Contains(body, "atk-own") {
		t.Errorf("alarm records of the twin: %d %s", code, body)
	}
}
