package platformapi

import (
	"context"
	"net/http"

	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/auth/attributes"
	"github.com/kstack/kstack/internal/auth/decision"
	"github.com/kstack/kstack/internal/auth/directory"
)

// VisibleClusters are the clusters p may see, read from the platform's
// cache: the answer GET .../clusters gives through the API (all for
// administrators, the tenant's for those who may list clusters, else those
// they may get by name), without serialising every cluster twice. The
// console's cluster pages use it.
func (m *Module) VisibleClusters(ctx context.Context, p *directory.Principal) ([]platformv1.Cluster, error) {
	var l platformv1.ClusterList
	if decision.Admin(p) {
		err := m.Client.List(ctx, &l)
		return l.Items, err
	}
	if err := m.Client.List(ctx, &l, client.MatchingLabels{apigroup.LabelTenant: p.Tenant}); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "/apis/platform.tkestack.io/v1/clusters", nil)
	if err != nil {
		return nil, err
	}
	a, err := attributes.Platform(req, req.URL.Path)
	if err != nil {
		return nil, err
	}
	if m.Decider.Platform(ctx, p, a, "").Allowed {
		return l.Items, nil
	}
	kept := l.Items[:0]
	for _, c := range l.Items {
		if m.Host.ItemAllowed(ctx, p, a, "", c.Name, c.Labels[apigroup.LabelTenant]) {
			kept = append(kept, c)
		}
	}
	return kept, nil
}
