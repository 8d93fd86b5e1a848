package attacks

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kstack/kstack/test/e2e/framework"
)

const (
	auditAPI    = "/audit/apis/audit.tkestack.io/v1/"
	eventAPI    = "/event/apis/event.tkestack.io/v1/"
	logagentAPI = "/logagent/apis/logagent.tkestack.io/v1/"
)

// records: the audit search, persisted events and log rules. Cluster A
// persists its events; the default tenant's project has namespace atk-web
// in A. The platform allows dialling 127.0.0.2 only (--dial-allow).
func records(t *testing.T, hc *http.Client, base, a, b string, tokens map[string]string) {
	root := tokens["root"]
	if code, out := framework.Do(t, hc, "PATCH", base+platformAPI+"clusters/"+a, root, "", merge, `{"spec":{"features":{"eventPersistence":true}}}`); code != http.StatusOK {
		t.Fatalf("switching event persistence on: %d %s", code, out)
	}
	mustDo(t, hc, root, "POST", base+businessAPI+"namespaces/"+dfltProj+"/namespaces",
		`{"apiVersion":"business.tkestack.io/v1","kind":"Namespace","spec":{"clusterName":"`+a+`","namespace":"atk-web","hard":{"pods":"1"}}}`)
	mustDo(t, hc, root, "POST", base+"/apis/platform.tkestack.io/v1/clusters/"+a+"/proxy/api/v1/namespaces/default/events",
		`{"apiVersion":"v1","kind":"Event","metadata":{"name":"atk-event"},"involvedObject":{"kind":"Node","name":"atk-a-node-1"},"reason":"AttackSuite","message":"made by the attack suite","type":"Normal"}`)
	framework.Eventually(t, time.Minute, "the attack suite's event persisted", func() error {
		code, body := framework.Do(t, hc, "GET", base+eventAPI+"clusters/"+a+"/events?reason=AttackSuite", root, "", "", "")
		if code != http.StatusOK || !strings.Contains(body, "atk-event") {
			return fmt.Errorf("%d %s", code, body)
		}
		return nil
	})

	ruleIn := func(cluster, name, namespace, input, output string) string {
		return `{"apiVersion":"logagent.tkestack.io/v1","kind":"LogCollector","metadata":{"name":"` + name + `"},"spec":{"clusterName":"` + cluster +
			`","namespace":"` + namespace + `","input":` + input + `,"outputs":[` + output + `]}}`
	}
	rule := func(name, namespace, input, output string) string { return ruleIn(a, name, namespace, input, output) }
	stdout := `{"type":"ContainerStdout"}`
	hostFile := `{"type":"HostFile","hostFiles":["/var/log/syslog"]}`
	kafka := func(broker string) string {
		return `{"name":"k","type":"kafka","kafka":{"brokers":["` + broker + `"],"topic":"logs","username":"u","password":"s3cret-pass"}}`
	}
	projRules := base + logagentAPI + "namespaces/" + dfltProj + "/logcollectors"
	sysRules := base + logagentAPI + "namespaces/kstack-system/logcollectors"
	t2Rules := base + logagentAPI + "namespaces/" + t2Project + "/logcollectors"
	check(t, hc, tokens, []row{
		// Audit: one's own operations; a tenant's administrator sees the
		// tenant's, never another tenant's.
		{what: "audit search of one's own operations (twin)", who: "mallory", method: "GET", url: base + auditAPI + "events?limit=1000",
			allow: true, want: `"username":"mallory"`, hide: `"username":"maker"`},
		{what: "audit search of another user's operations", who: "mallory", method: "GET", url: base + auditAPI + "events?user=maker", want: "only their own operations"},
		{what: "audit export of another user's operations", who: "mallory", method: "GET", url: base + auditAPI + "events/export?user=maker", want: "only their own operations"},
		{what: "audit search of the tenant by its administrator (twin)", who: "dave", method: "GET", url: base + auditAPI + "events?limit=1000",
			allow: true, want: `"username":"t2:dave"`, hide: `"username":"mallory"`},
		{what: "audit search of another tenant", who: "dave", method: "GET", url: base + auditAPI + "events?tenant=default", want: "of tenant t2 only"},
		// Events: the caller's clusters and namespaces only.
		{what: "events of a cluster one has rights on (twin)", who: "mallory", method: "GET", url: base + eventAPI + "clusters/" + a + "/events", allow: true, want: "atk-event"},
		{what: "events of a cluster one has no rights on", who: "mallory", method: "GET", url: base + eventAPI + "clusters/" + b + "/events", want: "may not list the events"},
		{what: "events of another tenant's cluster", who: "dave", method: "GET", url: base + eventAPI + "clusters/" + a + "/events", want: "no cluster"},
		{what: "export of another tenant's cluster's events", who: "dave", method: "GET", url: base + eventAPI + "clusters/" + a + "/events/export", want: "no cluster"},
		// Log rules: a namespace of the rule's project, cluster rules for
		// the platform's administrators, sinks the platform may dial, and
		// passwords never stored nor served.
		{what: "log rule of the project's namespace (twin)", who: "root", method: "POST", url: projRules, contentType: "application/json",
			body: rule("atk-rule", "atk-web", stdout, kafka("127.0.0.2:9")), allow: true, want: "atk-rule", hide: "s3cret-pass"},
		{what: "read back a log rule: no password (twin)", who: "root", method: "GET", url: projRules + "/atk-rule", allow: true, want: "passwordSecret", hide: "s3cret-pass"},
		{what: "log rule in a project one is not in", who: "mallory", method: "POST", url: projRules, contentType: "application/json",
			body: rule("atk-rule-m", "atk-web", stdout, kafka("127.0.0.2:9")), want: "may not"},
		{what: "log rule on another tenant's cluster", who: "dave", method: "POST", url: t2Rules, contentType: "application/json",
			body: rule("atk-rule-d", "atk-web", stdout, kafka("127.0.0.2:9")), want: "no cluster"},
		{what: "log rule naming another project's namespace", who: "root", method: "POST", url: base + logagentAPI + "namespaces/prj-make0000/logcollectors", contentType: "application/json",
			body: rule("atk-rule-p", "atk-web", stdout, kafka("127.0.0.2:9")), want: "is not a namespace of project prj-make0000"},
		{what: "log rule of files on nodes by a tenant's administrator", who: "dave", method: "POST", url: t2Rules, contentType: "application/json",
			body: ruleIn(t2ClusterA, "atk-rule-h", "", hostFile, kafka("127.0.0.2:9")), want: "platform administrators only"},
		{what: "log rule of files on nodes by the platform's administrator (twin)", who: "root", method: "POST", url: sysRules, contentType: "application/json",
			body: rule("atk-rule-h", "", hostFile, kafka("127.0.0.2:9")), allow: true, want: "atk-rule-h"},
		{what: "log rule of a file outside /var/log", who: "root", method: "POST", url: sysRules, contentType: "application/json",
			body: rule("atk-rule-x", "", `{"type":"HostFile","hostFiles":["/etc/shadow"]}`, kafka("127.0.0.2:9")), want: "outside /var/log/"},
		{what: "log rule sending to loopback", who: "root", method: "POST", url: projRules, contentType: "application/json",
			body: rule("atk-rule-l", "atk-web", stdout, kafka("127.0.0.1:9092")), want: "loopback"},
		{what: "log rule sending to the metadata service", who: "root", method: "POST", url: projRules, contentType: "application/json",
			body: rule("atk-rule-md", "atk-web", stdout, `{"name":"e","type":"elasticsearch","elasticsearch":{"addresses":["http://169.254.169.254/"],"index":"logs"}}`), want: "link-local"},
		{what: "a password patched into a stored rule", who: "root", method: "PATCH", url: projRules + "/atk-rule", contentType: merge,
			body: `{"spec":{"outputs":[{"name":"k","type":"kafka","kafka":{"brokers":["127.0.0.2:9"],"topic":"logs","password":"patched"}}]}}`, want: "never in a patch"},
		{what: "the rule's password Secret through the platform API", who: "mallory", method: "GET", url: base + "/platform/api/v1/namespaces/kstack-system/secrets/logcollector-" + dfltProj + "-atk-rule", want: "platform users reach only"},
		{what: "the agent's manifests by a non-administrator", who: "mallory", method: "GET", url: base + logagentAPI + "clusters/" + a + "/agent.yaml?image=kstack", want: "only platform administrators"},
		{what: "the agent's manifests (twin)", who: "root", method: "GET", url: base + logagentAPI + "clusters/" + a + "/agent.yaml?image=kstack", allow: true, want: "DaemonSet"},
	})
}
