package attacks

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kstack/kstack/test/e2e/framework"
)

const monitorAPI = "/monitor/apis/monitor.tkestack.io/v1/"

// monitoring: the metric store's queries and the collection status.
// Clusters A and B are monitored; mallory may list the pods of A only;
// dave administers tenant t2, which has no members of A's or B's.
func monitoring(t *testing.T, hc *http.Client, base, a, b string, tokens map[string]string) {
	root := tokens["root"]
	for _, c := range []string{a, b} {
		if code, out := framework.Do(t, hc, "PATCH", base+platformAPI+"clusters/"+c, root, "", merge, `{"spec":{"features":{"monitoring":true}}}`); code != http.StatusOK {
			t.Fatalf("switching monitoring on: %d %s", code, out)
		}
	}
	prom := base + monitorAPI + "prometheus/api/v1/"
	query := func(expr string) string { return prom + "query?" + url.Values{"query": {expr}}.Encode() }
	framework.Eventually(t, 2*time.Minute, "A and B collected", func() error {
		code, body := framework.Do(t, hc, "GET", query(`count by (cluster) (k8s_node_status_ready)`), root, "", "", "")
		if code != http.StatusOK || !strings.Contains(body, a) || !strings.Contains(body, b) {
			return fmt.Errorf("%d %s", code, body)
		}
		return nil
	})
	empty := `"result":[]`
	onA := `"cluster":"` + a + `"`
	onB := `"cluster":"` + b + `"`
	check(t, hc, tokens, []row{
		// A query never reaches series the caller may not see: an empty
		// answer, never an error that confirms them.
		{what: "node series of one's cluster (twin)", who: "mallory", method: "GET", url: query(`k8s_node_status_ready`), allow: true, want: onA, hide: onB},
		{what: "node series of a cluster one has no rights on", who: "mallory", method: "GET", url: query(`k8s_node_status_ready{cluster="` + b + `"}`), allow: true, want: empty},
		{what: "every series by regular expression", who: "mallory", method: "GET", url: query(`{__name__=~".+",cluster!="` + a + `"}`), allow: true, want: empty},
		{what: "another tenant's cluster", who: "dave", method: "GET", url: query(`k8s_node_status_ready{cluster="` + a + `"}`), allow: true, want: empty},
		{what: "the platform's own series", who: "mallory", method: "GET", url: query(`kstack_gateway_requests_total`), allow: true, want: empty},
		{what: "the platform's own series by its administrator (twin)", who: "root", method: "GET", url: query(`kstack_gateway_requests_total`), allow: true, want: "kstack_gateway_requests_total"},
		{what: "label values across clusters", who: "mallory", method: "GET", url: prom + "label/cluster/values", allow: true, want: a, hide: b},
		{what: "series of a cluster one has no rights on", who: "mallory", method: "GET", url: prom + "series?" + url.Values{"match[]": {`{cluster="` + b + `"}`}}.Encode(), allow: true, want: `"data":[]`},
		{what: "series of one's cluster (twin)", who: "mallory", method: "GET", url: prom + "series?" + url.Values{"match[]": {`{cluster="` + a + `"}`}}.Encode(), allow: true, want: onA},
		// The collection status: the cluster's administrators.
		{what: "collection status of one's cluster (twin)", who: "mallory", method: "GET", url: base + monitorAPI + "clusters/" + a + "/status", allow: true, want: `"enabled":true`},
		{what: "collection status of a cluster one has no rights on", who: "mallory", method: "GET", url: base + monitorAPI + "clusters/" + b + "/status", want: "may not see the monitoring"},
		{what: "collection status of another tenant's cluster", who: "dave", method: "GET", url: base + monitorAPI + "clusters/" + a + "/status", want: "no cluster"},
		// Switching monitoring is a change of the cluster.
		{what: "switching monitoring of a cluster one has no rights on", who: "mallory", method: "PATCH", url: base + platformAPI + "clusters/" + b, contentType: merge,
			body: `{"spec":{"features":{"monitoring":false}}}`, want: "may not"},
	})
}
