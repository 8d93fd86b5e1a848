package businessapi

import (
	"context"
	"net/http"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	businessv1 "github.com/kstack/kstack/api/business/v1"
	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/auth/decision"
	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/platformapi"
	"github.com/kstack/kstack/internal/publish"
)

// publish applies manifests to the project's namespace in several clusters.
func (m *Module) publish(w http.ResponseWriter, r *http.Request, p *directory.Principal, project string) {
	ctx := r.Context()
	if r.Method != http.MethodPost {
		apigroup.MethodNotAllowed(w, "use POST to publish")
		return
	}
	var in businessv1.PublishRequest
	if err := apigroup.DecodeBody(r, &in); err != nil {
		apigroup.WriteError(w, err)
		return
	}
	if len(in.Clusters) == 0 || in.Namespace == "" {
		apigroup.WriteError(w, apigroup.Refuse(http.StatusUnprocessableEntity, "name the clusters and the namespace to publish to"))
		return
	}
	timeout := time.Duration(in.TimeoutSeconds) * time.Second
	if in.TimeoutSeconds == 0 {
		timeout = time.Minute
	}
	if timeout < 0 || timeout > 5*time.Minute {
		apigroup.WriteError(w, apigroup.Refuse(http.StatusUnprocessableEntity, "timeoutSeconds must be between 1 and 300"))
		return
	}
	objs, err := publish.Decode([]byte(in.Manifests))
	if err != nil {
		apigroup.WriteError(w, apigroup.Refuse(http.StatusUnprocessableEntity, "%v", err))
		return
	}
	var nss businessv1.NamespaceList
	if err := m.Client.List(ctx, &nss, client.InNamespace(project)); err != nil {
		apigroup.WriteError(w, err)
		return
	}
	for _, cl := range in.Clusters {
		found := false
		for _, n := range nss.Items {
			found = found || n.Spec.ClusterName == cl && n.Spec.Namespace == in.Namespace && (n.Spec.TenantID == p.Tenant || decision.Admin(p))
		}
		if !found {
			apigroup.WriteError(w, apigroup.Refuse(http.StatusUnprocessableEntity, "project %s has no namespace %s in cluster %s: create it first", project, in.Namespace, cl))
			return
		}
	}
	out := businessv1.PublishResponse{Results: []businessv1.PublishResult{}}
	for _, cl := range in.Clusters {
		cfg := platformapi.MemberConfig(m.Host, p, cl)
		cctx, cancel := context.WithTimeout(ctx, timeout+30*time.Second)
		res, err := publish.Apply(cctx, cfg, cl, in.Namespace, objs, in.PublishOverrides, timeout)
		cancel()
		if err != nil {
			out.Results = append(out.Results, businessv1.PublishResult{Cluster: cl, Object: "-", Ready: "-", Status: "Failed: " + err.Error()})
			continue
		}
		out.Results = append(out.Results, res...)
	}
	m.Log.Info("published", "project", project, "namespace", in.Namespace, "clusters", in.Clusters, "objects", len(objs), "by", p.Name())
	apigroup.WriteJSON(w, http.StatusOK, out)
}
