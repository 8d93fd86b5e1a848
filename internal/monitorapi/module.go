// Package monitorapi is the monitor.tkestack.io API group: the platform's
// metric store, queried with PromQL through a Prometheus-shaped API (so
// Grafana can use the platform as a Prometheus data source), and each
// monitored cluster's collection status. Every query is scoped to what the
// caller may see: the whole of the clusters where they may list pods, the
// (cluster, namespace) pairs of the projects where they may, and the
// project series of the projects they may read.
package monitorapi

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	businessv1 "github.com/kstack/kstack/api/business/v1"
	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/auth/attributes"
	"github.com/kstack/kstack/internal/auth/decision"
	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/metricscollect"
	"github.com/kstack/kstack/internal/metricstore"
	"github.com/kstack/kstack/internal/promapi"
	"github.com/kstack/kstack/internal/recordstore"
	"github.com/kstack/kstack/internal/remotewrite"
)

const (
	// Group is the API group.
	Group = "monitor.tkestack.io"
	// Prefix is where the gateway serves it.
	Prefix    = "/monitor"
	groupPath = Prefix + "/apis/" + Group + "/v1/"
	// PrometheusPath is the base of the Prometheus HTTP API: a Grafana
	// data source's URL is the gateway's address followed by it.
	PrometheusPath = groupPath + "prometheus"
)

// Module is the monitor group.
type Module struct {
	Env       apigroup.Env
	Store     *metricstore.Store
	API       *promapi.API
	Collector *metricscollect.Collector
	// RemoteWrite, when set, sends every collected sample on (the leader's).
	RemoteWrite *remotewrite.Writer
	// GroupInterval is the platform's --alarm-group-interval: a policy's
	// repeat interval may not be shorter (0: not checked).
	GroupInterval time.Duration
	// Records is the record store the alarm records are searched in (nil:
	// 503).
	Records recordstore.Store
	// Alarms sets up alarm evaluation (every replica) and dispatch and
	// delivery (the leader); nil: alarms are off.
	Alarms func(mgr ctrl.Manager) error
}

// Info names the group.
func (m *Module) Info() apigroup.Info { return apigroup.Info{Group: Group, Prefix: Prefix} }

// Indexes: none.
func (m *Module) Indexes() []apigroup.Index { return nil }

// Controllers: the collector runs on every replica (each keeps its own
// metric store, as a pair of Prometheus servers do); remote-write sends
// from the leader only, so the receiver gets each sample once.
func (m *Module) Controllers() []apigroup.Controller {
	return []apigroup.Controller{{Name: "monitoring", Setup: func(mgr ctrl.Manager) error {
		if m.Collector == nil {
			return nil
		}
		if w := m.RemoteWrite; w != nil {
			elected := mgr.Elected()
			w.Active = func() bool {
				select {
				case <-elected:
					return true
				default:
					return false
				}
			}
			if err := mgr.Add(everyReplica(w.Run)); err != nil {
				return err
			}
		}
		return mgr.Add(everyReplica(m.Collector.Run))
	}}, {Name: "alarms", Setup: func(mgr ctrl.Manager) error {
		if m.Alarms == nil {
			return nil
		}
		return m.Alarms(mgr)
	}}}
}

// everyReplica runs f on every replica, leader or not.
type everyReplica func(context.Context) error

func (f everyReplica) Start(ctx context.Context) error { return f(ctx) }
func (f everyReplica) NeedLeaderElection() bool        { return false }

var _ manager.LeaderElectionRunnable = everyReplica(nil)

// Routes: the Prometheus API, the clusters' collection status, and the
// alarm records of a cluster or a project.
func (m *Module) Routes() []apigroup.Route {
	return []apigroup.Route{
		{Pattern: "GET " + PrometheusPath + "/{rest...}", Handler: m.prometheus},
		{Pattern: "POST " + PrometheusPath + "/{rest...}", Handler: m.prometheus},
		{Pattern: "GET " + groupPath + "clusters/{cluster}/status", Handler: m.status},
		{Pattern: "GET " + groupPath + "clusters/{cluster}/alarms", Handler: m.alarmRecords().ClusterList},
		{Pattern: "GET " + groupPath + "clusters/{cluster}/alarms/export", Handler: m.alarmRecords().ClusterExport},
		{Pattern: "GET " + groupPath + "namespaces/{project}/alarms", Handler: m.alarmRecords().ProjectList},
		{Pattern: "GET " + groupPath + "namespaces/{project}/alarms/export", Handler: m.alarmRecords().ProjectExport},
	}
}

func (m *Module) prometheus(w http.ResponseWriter, r *http.Request, p *directory.Principal) {
	if m.Store == nil || m.API == nil {
		apigroup.WriteError(w, apigroup.Refuse(http.StatusServiceUnavailable, "this platform runs without a metric store (--metrics-dir)"))
		return
	}
	scope, err := m.Scope(r.Context(), p)
	if err != nil {
		apigroup.WriteError(w, err)
		return
	}
	m.API.Serve(w, r, strings.TrimPrefix(r.URL.Path, PrometheusPath), scope)
}

// status is a cluster's collection status, for those who may see the
// cluster's node series (its administrators).
func (m *Module) status(w http.ResponseWriter, r *http.Request, p *directory.Principal) {
	name := r.PathValue("cluster")
	var cl platformv1.Cluster
	if err := m.Env.Client.Get(r.Context(), client.ObjectKey{Name: name}, &cl); err != nil || !m.sameTenant(p, cl.Spec.TenantID) {
		apigroup.WriteError(w, apigroup.Refuse(http.StatusNotFound, "no cluster %q on the platform", name))
		return
	}
	if !decision.Admin(p) && !m.mayListPods(r.Context(), p, name, cl.Spec.TenantID, "") {
		apigroup.WriteError(w, apigroup.Refuse(http.StatusForbidden, "%s may not see the monitoring of cluster %s (it needs to list the cluster's pods)", p.Name(), name))
		return
	}
	st := metricscollect.Status{}
	if m.Collector != nil {
		st = m.Collector.Status(name)
	}
	st.Enabled = cl.Spec.Features.Monitoring
	apigroup.WriteJSON(w, http.StatusOK, st)
}

// Scope is what series p may read: administrators all; others the
// clusters of their tenant where they may list every pod, the namespaces
// of their tenant's projects where they may list pods (as the pair of
// cluster and namespace), and the projects they may read.
func (m *Module) Scope(ctx context.Context, p *directory.Principal) (*metricstore.Scope, error) {
	if decision.Admin(p) {
		return &metricstore.Scope{All: true}, nil
	}
	sc := &metricstore.Scope{
		Clusters:   map[string]bool{},
		Namespaces: map[metricstore.ClusterNamespace]bool{},
		Projects:   map[metricstore.ClusterProject]bool{},
	}
	tenant := p.Tenant
	if tenant == "" {
		tenant = apigroup.DefaultTenant
	}
	var clusters platformv1.ClusterList
	if err := m.Env.Client.List(ctx, &clusters, client.MatchingLabels{apigroup.LabelTenant: tenant}); err != nil {
		return nil, apigroup.Refuse(http.StatusServiceUnavailable, "reading the clusters: %v", err)
	}
	mine := map[string]bool{}
	for _, c := range clusters.Items {
		if !m.sameTenant(p, c.Spec.TenantID) {
			continue
		}
		mine[c.Name] = true
		if m.mayListPods(ctx, p, c.Name, c.Spec.TenantID, "") {
			sc.Clusters[c.Name] = true
		}
	}
	var nss businessv1.NamespaceList
	if err := m.Env.Client.List(ctx, &nss); err != nil {
		return nil, apigroup.Refuse(http.StatusServiceUnavailable, "reading the projects' namespaces: %v", err)
	}
	for _, ns := range nss.Items {
		c := ns.Spec.ClusterName
		if !mine[c] || sc.Clusters[c] || !m.sameTenant(p, ns.Spec.TenantID) {
			continue
		}
		if m.mayListPods(ctx, p, c, ns.Spec.TenantID, ns.Spec.Namespace) {
			sc.Namespaces[metricstore.ClusterNamespace{Cluster: c, Namespace: ns.Spec.Namespace}] = true
		}
	}
	var projects businessv1.ProjectList
	if err := m.Env.Client.List(ctx, &projects); err != nil {
		return nil, apigroup.Refuse(http.StatusServiceUnavailable, "reading the projects: %v", err)
	}
	for _, prj := range projects.Items {
		if !m.sameTenant(p, prj.Spec.TenantID) {
			continue
		}
		if !m.Env.Decider.Can(ctx, p, prj.Name, "getProject", "project:"+prj.Name).Allowed {
			continue
		}
		for _, c := range prj.Spec.Clusters {
			if mine[c.Name] {
				sc.Projects[metricstore.ClusterProject{Cluster: c.Name, Project: prj.Name}] = true
			}
		}
	}
	return sc, nil
}

// sameTenant: a tenant-less principal is of the default tenant.
func (m *Module) sameTenant(p *directory.Principal, tenant string) bool {
	if decision.Admin(p) {
		return true
	}
	pt := p.Tenant
	if pt == "" {
		pt = apigroup.DefaultTenant
	}
	if tenant == "" {
		tenant = apigroup.DefaultTenant
	}
	return pt == tenant
}

// mayListPods asks the decision point whether p may list the pods of
// namespace ("" for all namespaces) in cluster, as if they asked the member:
// usage is the pods' own data, so it is seen with the same right.
func (m *Module) mayListPods(ctx context.Context, p *directory.Principal, cluster, tenant, namespace string) bool {
	path := "/api/v1/pods"
	if namespace != "" {
		path = "/api/v1/namespaces/" + namespace + "/pods"
	}
	a, err := attributes.Member(cluster, &http.Request{Method: http.MethodGet, URL: &url.URL{Path: path}}, path)
	if err != nil {
		return false
	}
	return m.Env.Decider.Member(ctx, p, cluster, tenant, a).Allowed
}
