package attacks

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kstack/kstack/test/e2e/framework"
)

// addons: the add-on rows. Enabling an add-on is changing a cluster:
// a project member may not, an administrator may, and another tenant's
// administrator cannot name the cluster. A CronHPA scales only in its own
// namespace: a project member writes CronHPAs in its project's namespace
// and not in another project's, and a namespace smuggled into the target
// reference is not stored. Run after alarms (pat, atk-web, atk-other).
func addons(t *testing.T, hc *http.Client, base, a string, tokens map[string]string) {
	addonsURL := base + "/platform/apis/platform.tkestack.io/v1/clusteraddons"
	enable := func(cluster string) string {
		return `{"apiVersion":"platform.tkestack.io/v1","kind":"ClusterAddon","spec":{"clusterName":"` + cluster + `","type":"CronHPA"}}`
	}
	check(t, hc, tokens, []row{
		{what: "addon: a project member enables CronHPA in its project's cluster", who: "pat", method: "POST", url: addonsURL, contentType: "application/json",
			body: enable(a), want: "may not"},
		{what: "addon: another tenant's administrator enables CronHPA in this tenant's cluster", who: "dave", method: "POST", url: addonsURL, contentType: "application/json",
			body: enable(a), want: `there is no cluster "` + a + `" of tenant t2`},
		{what: "addon: the administrator enables CronHPA (twin)", who: "root", method: "POST", url: addonsURL, contentType: "application/json",
			body: enable(a), allow: true, want: `"name":"` + a + `-cronhpa"`},
		{what: "addon: the cluster's add-ons, for a project member, who may not read the cluster itself", who: "pat", method: "GET",
			url: base + "/platform/apis/platform.tkestack.io/v1/clusters/" + a + "/addons", want: "not found"},
		{what: "addon: the cluster's add-ons (twin)", who: "root", method: "GET",
			url: base + "/platform/apis/platform.tkestack.io/v1/clusters/" + a + "/addons", allow: true, want: `"type":"CronHPA"`},
		{what: "addon: another tenant's cluster's add-on types", who: "dave", method: "GET",
			url: base + "/platform/apis/platform.tkestack.io/v1/clusters/" + a + "/addontypes", want: "not found"},
		{what: "addon: a project member turns the add-on's controller off", who: "pat", method: "PATCH", url: addonsURL + "/" + a + "-cronhpa", contentType: merge,
			body: `{"spec":{"controller":"External"}}`, want: "may not"},
	})
	framework.Eventually(t, 2*time.Minute, "CronHPA installed in A", func() error {
		code, body := framework.Do(t, hc, "GET", addonsURL+"/"+a+"-cronhpa", tokens["root"], "", "", "")
		if code != http.StatusOK || !strings.Contains(body, `"phase":"Running"`) {
			return fmt.Errorf("%d %s", code, body)
		}
		return nil
	})
	cron := func(name, target string) string {
		return `{"apiVersion":"extensions.tkestack.io/v1","kind":"CronHPA","metadata":{"name":"` + name + `"},"spec":{"scaleTargetRef":` + target +
			`,"crons":[{"schedule":"0 8 * * *","targetReplicas":2}]}}`
	}
	cronhpas := func(ns string) string {
		return base + "/apis/platform.tkestack.io/v1/clusters/" + a + "/proxy/apis/extensions.tkestack.io/v1/namespaces/" + ns + "/cronhpas"
	}
	check(t, hc, tokens, []row{
		{what: "cronhpa: in one's project's namespace (twin)", who: "pat", method: "POST", url: cronhpas("atk-web"), contentType: "application/json",
			body: cron("atk-pat-cron", `{"apiVersion":"apps/v1","kind":"Deployment","name":"web"}`), allow: true, want: `"name":"atk-pat-cron"`},
		{what: "cronhpa: in another project's namespace", who: "pat", method: "POST", url: cronhpas("atk-other"), contentType: "application/json",
			body: cron("atk-pat-cron", `{"apiVersion":"apps/v1","kind":"Deployment","name":"web"}`), want: "may not"},
		{what: "cronhpa: a target reference naming another project's namespace is not stored", who: "pat", method: "POST", url: cronhpas("atk-web"), contentType: "application/json",
			body: cron("atk-pat-smuggle", `{"apiVersion":"apps/v1","kind":"Deployment","name":"web","namespace":"atk-other"}`), allow: true, want: `"name":"atk-pat-smuggle"`, hide: "atk-other"},
		{what: "cronhpa: another project's CronHPAs", who: "quinn", method: "GET", url: cronhpas("atk-web"), want: "may not"},
		{what: "cronhpa: one's project's CronHPAs (twin)", who: "pat", method: "GET", url: cronhpas("atk-web"), allow: true, want: "atk-pat-cron"},
	})

	// The seed's TApp calls are decided as the TApp in the member, by its
	// namespace's project, not as the cluster.
	mustDo(t, hc, tokens["root"], "POST", addonsURL, strings.Replace(enable(a), "CronHPA", "TApp", 1))
	framework.Eventually(t, 2*time.Minute, "TApp installed in A", func() error {
		code, body := framework.Do(t, hc, "POST", base+"/apis/platform.tkestack.io/v1/clusters/"+a+"/proxy/apis/apps.tkestack.io/v1/namespaces/atk-web/tapps", tokens["root"], "", "application/json",
			`{"apiVersion":"apps.tkestack.io/v1","kind":"TApp","metadata":{"name":"atk-tapp"},"spec":{"replicas":0,"template":{"metadata":{"labels":{"app":"atk-tapp"}},"spec":{"containers":[{"name":"c","image":"nginx"}]}}}}`)
		if code != http.StatusCreated && code != http.StatusConflict {
			return fmt.Errorf("%d %s", code, body)
		}
		return nil
	})
	tapps := func(ns string) string {
		return base + "/platform/apis/platform.tkestack.io/v1/clusters/" + a + "/tapps?namespace=" + ns + "&name=atk-tapp"
	}
	check(t, hc, tokens, []row{
		{what: "tapp call: one's project's TApp (twin)", who: "pat", method: "GET", url: tapps("atk-web"), allow: true, want: `"name":"atk-tapp"`},
		{what: "tapp call: another project's TApp", who: "quinn", method: "GET", url: tapps("atk-web"), want: "may not"},
		{what: "tapp call: patch another project's TApp", who: "quinn", method: "PATCH", url: tapps("atk-web"), contentType: merge,
			body: `{"spec":{"replicas":3}}`, want: "may not"},
		{what: "tapp call: patch one's project's TApp (twin)", who: "pat", method: "PATCH", url: tapps("atk-web"), contentType: merge,
			body: `{"spec":{"replicas":0}}`, allow: true, want: `"name":"atk-tapp"`},
		{what: "tapp call: another tenant's administrator, to whom the cluster does not exist", who: "dave", method: "GET", url: tapps("atk-web"), want: "no cluster"},
	})
}
