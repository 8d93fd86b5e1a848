// Package eventapi is the event.tkestack.io API group: Kubernetes events of
// the clusters whose administrators switched on event persistence
// (spec.features.eventPersistence), kept in the record store past the hour
// a cluster keeps them, and searched per cluster. A project's members
// search the events of their project's namespaces only.
package eventapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	businessv1 "github.com/kstack/kstack/api/business/v1"
	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/auth/attributes"
	"github.com/kstack/kstack/internal/auth/decision"
	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/clustercache"
	"github.com/kstack/kstack/internal/recordsearch"
	"github.com/kstack/kstack/internal/recordstore"
	ctrl "sigs.k8s.io/controller-runtime"
)

const (
	// Group is the API group.
	Group = "event.tkestack.io"
	// Prefix is where the gateway serves it.
	Prefix    = "/event"
	groupPath = Prefix + "/apis/" + Group + "/v1/"
	// Kind is the record store's kind for events.
	Kind = "event"
	// MaxExport bounds one export.
	MaxExport = 1_000_000
)

// Module is the event group.
type Module struct {
	Env   apigroup.Env
	Store recordstore.Store
	// Sink takes the collected events (the record store's writer).
	Sink interface {
		Add(recordstore.Record) error
	}
	Cache *clustercache.Cache
	// Global is a client of the platform's own cluster.
	Global kubernetes.Interface
	// ProjectOf is the project of a member's namespace ("" when none).
	ProjectOf func(ctx context.Context, cluster, namespace string) string
}

// Info names the group.
func (m *Module) Info() apigroup.Info { return apigroup.Info{Group: Group, Prefix: Prefix} }

// Resources: none; events are not objects of the platform's apiserver.
func (m *Module) Resources() []apigroup.Resource { return nil }

// Admit: nothing is written through the generic API.
func (m *Module) Admit(context.Context, *apigroup.Request) error { return nil }

// Validate: nothing is stored.
func (m *Module) Validate(context.Context, *apigroup.Request) error { return nil }

// Indexes: none.
func (m *Module) Indexes() []apigroup.Index { return nil }

// Controllers: the collector, which watches the events of every cluster
// with event persistence on.
func (m *Module) Controllers() []apigroup.Controller {
	return []apigroup.Controller{{Name: "event-persistence", Setup: func(mgr ctrl.Manager) error {
		c := &Collector{Client: mgr.GetClient(), Global: m.Global, Cache: m.Cache, Sink: m.Sink, ProjectOf: m.ProjectOf, Log: m.Env.Log}
		return c.SetupWithManager(mgr)
	}}}
}

// Routes: a cluster's events, and their export.
func (m *Module) Routes() []apigroup.Route {
	return []apigroup.Route{
		{Pattern: "GET " + groupPath + "clusters/{cluster}/events", Handler: m.list},
		{Pattern: "GET " + groupPath + "clusters/{cluster}/events/export", Handler: m.export},
	}
}

var filters = map[string]func(*recordstore.Query, string){
	"namespace": func(q *recordstore.Query, v string) { q.Namespaces = []string{v} },
	"kind":      recordsearch.Set(func(q *recordstore.Query) *string { return &q.Resource }),
	"name":      recordsearch.Set(func(q *recordstore.Query) *string { return &q.Name }),
	"reason":    recordsearch.Set(func(q *recordstore.Query) *string { return &q.Verb }),
	"source":    recordsearch.Set(func(q *recordstore.Query) *string { return &q.User }),
}

// query is the caller's search of cluster's events, narrowed to the
// namespaces whose events they may list.
func (m *Module) query(r *http.Request, p *directory.Principal) (recordstore.Query, error) {
	if m.Store == nil {
		return recordstore.Query{}, apigroup.Refuse(http.StatusServiceUnavailable, "this platform runs without a record store (--record-store)")
	}
	cluster := r.PathValue("cluster")
	q, err := recordsearch.Parse(Kind, r.URL.Query(), filters)
	if err != nil {
		return q, err
	}
	q.Cluster = cluster
	ctx := r.Context()
	var cl platformv1.Cluster
	if err := m.Env.Client.Get(ctx, client.ObjectKey{Name: cluster}, &cl); err != nil {
		return q, apigroup.Refuse(http.StatusNotFound, "no cluster %q on the platform", cluster)
	}
	tenant := cl.Spec.TenantID
	if decision.Admin(p) {
		return q, nil
	}
	if pt := p.Tenant; tenant != pt && (pt != "" || tenant != apigroup.DefaultTenant) {
		return q, apigroup.Refuse(http.StatusNotFound, "no cluster %q on the platform", cluster)
	}
	q.Tenant = &tenant
	if m.mayList(ctx, p, cluster, tenant, "") {
		return q, nil
	}
	// Not the whole cluster: the namespaces of projects whose events the
	// caller may list.
	var nss businessv1.NamespaceList
	if err := m.Env.Client.List(ctx, &nss); err != nil {
		return q, apigroup.Refuse(http.StatusServiceUnavailable, "reading the cluster's namespaces: %v", err)
	}
	var allowed []string
	for _, ns := range nss.Items {
		if ns.Spec.ClusterName == cluster && ns.Spec.TenantID == tenant && m.mayList(ctx, p, cluster, tenant, ns.Spec.Namespace) {
			allowed = append(allowed, ns.Spec.Namespace)
		}
	}
	if len(allowed) == 0 {
		return q, apigroup.Refuse(http.StatusForbidden, "%s may not list the events of any namespace of cluster %s", p.Name(), cluster)
	}
	if q.Namespaces != nil {
		for _, ns := range allowed {
			if ns == q.Namespaces[0] {
				return q, nil
			}
		}
		return q, apigroup.Refuse(http.StatusForbidden, "%s may not list the events of namespace %s of cluster %s", p.Name(), q.Namespaces[0], cluster)
	}
	q.Namespaces = allowed
	return q, nil
}

// mayList asks the decision point whether p may list the events of
// namespace ("" for all namespaces) in cluster, as if they asked the
// member itself.
func (m *Module) mayList(ctx context.Context, p *directory.Principal, cluster, tenant, namespace string) bool {
	path := "/api/v1/events"
	if namespace != "" {
		path = "/api/v1/namespaces/" + namespace + "/events"
	}
	a, err := attributes.Member(cluster, &http.Request{Method: http.MethodGet, URL: &url.URL{Path: path}}, path)
	if err != nil {
		return false
	}
	return m.Env.Decider.Member(ctx, p, cluster, tenant, a).Allowed
}

func (m *Module) list(w http.ResponseWriter, r *http.Request, p *directory.Principal) {
	q, err := m.query(r, p)
	if err != nil {
		apigroup.WriteError(w, err)
		return
	}
	list := corev1.EventList{}
	list.APIVersion, list.Kind = "v1", "EventList"
	if list.Items, list.Continue, err = recordsearch.Documents[corev1.Event](r.Context(), m.Store, q); err != nil {
		apigroup.WriteError(w, err)
		return
	}
	apigroup.WriteJSON(w, http.StatusOK, list)
}

func (m *Module) export(w http.ResponseWriter, r *http.Request, p *directory.Principal) {
	q, err := m.query(r, p)
	recordsearch.ServeExport(w, r, m.Store, q, err, fmt.Sprintf("events-%s.jsonl", r.PathValue("cluster")), MaxExport)
}
