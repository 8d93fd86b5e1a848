package platformapi

import (
	"net/http"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/gateway"
)

// tapps serves the seed's TApp calls (§7.1 2.2 and 2.3): GET and PATCH of
// .../clusters/{id}/tapps?namespace=N&name=T are the TApp N/T in the member,
// read or patched as the caller: decided as getTapp or patchTapp on
// cluster:ID/namespace:N/tapp:T, as any proxied request to it.
func (m *Module) tapps(w http.ResponseWriter, r *http.Request, p *directory.Principal) {
	if r.Method != http.MethodGet && r.Method != http.MethodPatch {
		apigroup.MethodNotAllowed(w, "a TApp is read (GET) or patched (PATCH) here; other calls go to /apis/apps.tkestack.io/v1/namespaces/N/tapps through the cluster's proxy")
		return
	}
	cluster := r.PathValue("id")
	q := r.URL.Query()
	ns, name := q.Get("namespace"), q.Get("name")
	for _, v := range []struct{ param, value string }{{"namespace", ns}, {"name", name}} {
		if v.value == "" {
			apigroup.WriteError(w, apigroup.Refuse(http.StatusBadRequest, "give the TApp's %s: ?namespace=NAMESPACE&name=NAME", v.param))
			return
		}
		if errs := validation.IsDNS1123Subdomain(v.value); len(errs) > 0 {
			apigroup.WriteError(w, apigroup.Refuse(http.StatusBadRequest, "%s %q is not a valid name: %s", v.param, v.value, errs[0]))
			return
		}
	}
	if h := r.Header.Get(gateway.ClusterHeader); h != "" && h != cluster {
		apigroup.WriteError(w, apigroup.Refuse(http.StatusBadRequest, "%s names cluster %s, the path %s: give one cluster", gateway.ClusterHeader, h, cluster))
		return
	}
	// The member sees the TApp's own path, without the guide's query.
	r2 := r.Clone(r.Context())
	r2.URL.RawQuery = ""
	m.Host.Proxy(w, r2, p, cluster, "/apis/apps.tkestack.io/v1/namespaces/"+ns+"/tapps/"+name)
}
