package notifyapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"sigs.k8s.io/controller-runtime/pkg/client"

	businessv1 "github.com/kstack/kstack/api/business/v1"
	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/auth/attributes"
	"github.com/kstack/kstack/internal/auth/decision"
	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/recordsearch"
	"github.com/kstack/kstack/internal/recordstore"
)

// MaxExport bounds one export of records.
const MaxExport = 1_000_000

// Records serves the searches of one kind of record (alarms,
// notifications): a cluster's, narrowed to the namespaces whose pods the
// caller may list unless they may list every pod of the cluster, and a
// project's, for those who may read the project.
type Records struct {
	Env   apigroup.Env
	Store recordstore.Store
	// Kind is the record store's kind ("alarm", "notification").
	Kind string
	// Plural names the records in messages and export files ("alarms").
	Plural string
	// ListKind and APIVersion type the list answered.
	ListKind, APIVersion string
	// Filters are the search's parameters beyond recordsearch.Common.
	Filters map[string]func(*recordstore.Query, string)
}

// RecordList is a page of records.
type RecordList struct {
	Kind       string               `json:"kind"`
	APIVersion string               `json:"apiVersion"`
	Items      []recordstore.Record `json:"items"`
	// Continue is the token of the next page ("" when this is the last).
	Continue string `json:"continue,omitempty"`
}

// notificationFilters: the receiver is the record's user, the channel its
// name ("<namespace>/<name>"), the verb firing, resolved or test.
var notificationFilters = map[string]func(*recordstore.Query, string){
	"namespace": func(q *recordstore.Query, v string) { q.Namespaces = []string{v} },
	"channel":   recordsearch.Set(func(q *recordstore.Query) *string { return &q.Name }),
	"receiver":  recordsearch.Set(func(q *recordstore.Query) *string { return &q.User }),
	"verb":      recordsearch.Set(func(q *recordstore.Query) *string { return &q.Verb }),
	"result":    recordsearch.Set(func(q *recordstore.Query) *string { return &q.Result }),
}

func (m *Module) records() *Records {
	return &Records{Env: m.Env, Store: m.Store, Kind: RecordKind, Plural: "notifications", ListKind: "NotificationList",
		APIVersion: Group + "/v1", Filters: notificationFilters}
}

// ClusterList answers GET .../clusters/{cluster}/<plural>.
func (rs *Records) ClusterList(w http.ResponseWriter, r *http.Request, p *directory.Principal) {
	q, err := rs.clusterQuery(r, p)
	rs.list(w, r, q, err)
}

// ClusterExport answers GET .../clusters/{cluster}/<plural>/export.
func (rs *Records) ClusterExport(w http.ResponseWriter, r *http.Request, p *directory.Principal) {
	q, err := rs.clusterQuery(r, p)
	recordsearch.ServeExport(w, r, rs.Store, q, err, fmt.Sprintf("%s-%s.jsonl", rs.Plural, r.PathValue("cluster")), MaxExport)
}

// ProjectList answers GET .../namespaces/{project}/<plural>.
func (rs *Records) ProjectList(w http.ResponseWriter, r *http.Request, p *directory.Principal) {
	q, err := rs.projectQuery(r, p)
	rs.list(w, r, q, err)
}

// ProjectExport answers GET .../namespaces/{project}/<plural>/export.
func (rs *Records) ProjectExport(w http.ResponseWriter, r *http.Request, p *directory.Principal) {
	q, err := rs.projectQuery(r, p)
	recordsearch.ServeExport(w, r, rs.Store, q, err, fmt.Sprintf("%s-%s.jsonl", rs.Plural, r.PathValue("project")), MaxExport)
}

func (rs *Records) list(w http.ResponseWriter, r *http.Request, q recordstore.Query, err error) {
	if err != nil {
		apigroup.WriteError(w, err)
		return
	}
	page, err := rs.Store.Search(r.Context(), q)
	if err != nil {
		apigroup.WriteError(w, recordsearch.StoreError(err))
		return
	}
	list := RecordList{Kind: rs.ListKind, APIVersion: rs.APIVersion, Items: page.Records, Continue: page.Continue}
	if list.Items == nil {
		list.Items = []recordstore.Record{}
	}
	apigroup.WriteJSON(w, http.StatusOK, list)
}

func (rs *Records) noStore() error {
	return apigroup.Refuse(http.StatusServiceUnavailable, "this platform runs without a record store (--record-store)")
}

// clusterQuery is the caller's search of a cluster's records, narrowed to
// the namespaces whose pods they may list when not the whole cluster's.
func (rs *Records) clusterQuery(r *http.Request, p *directory.Principal) (recordstore.Query, error) {
	if rs.Store == nil {
		return recordstore.Query{}, rs.noStore()
	}
	cluster := r.PathValue("cluster")
	q, err := recordsearch.Parse(rs.Kind, r.URL.Query(), rs.Filters)
	if err != nil {
		return q, err
	}
	q.Cluster = cluster
	ctx := r.Context()
	var cl platformv1.Cluster
	if err := rs.Env.Client.Get(ctx, client.ObjectKey{Name: cluster}, &cl); err != nil {
		return q, apigroup.Refuse(http.StatusNotFound, "no cluster %q on the platform", cluster)
	}
	tenant := cl.Spec.TenantID
	if tenant == "" {
		tenant = apigroup.DefaultTenant
	}
	if decision.Admin(p) {
		return q, nil
	}
	if !sameTenant(p.Tenant, tenant) {
		return q, apigroup.Refuse(http.StatusNotFound, "no cluster %q on the platform", cluster)
	}
	q.Tenant = &tenant
	if MayListPods(ctx, rs.Env.Decider, p, cluster, tenant, "") {
		return q, nil
	}
	var nss businessv1.NamespaceList
	if err := rs.Env.Client.List(ctx, &nss); err != nil {
		return q, apigroup.Refuse(http.StatusServiceUnavailable, "reading the cluster's namespaces: %v", err)
	}
	var allowed []string
	for _, ns := range nss.Items {
		if ns.Spec.ClusterName == cluster && sameTenant(ns.Spec.TenantID, tenant) && MayListPods(ctx, rs.Env.Decider, p, cluster, tenant, ns.Spec.Namespace) {
			allowed = append(allowed, ns.Spec.Namespace)
		}
	}
	if len(allowed) == 0 {
		return q, apigroup.Refuse(http.StatusForbidden, "%s may not list the %s of any namespace of cluster %s (it needs to list the namespace's pods)", p.Name(), rs.Plural, cluster)
	}
	if q.Namespaces != nil {
		for _, ns := range allowed {
			if ns == q.Namespaces[0] {
				return q, nil
			}
		}
		return q, apigroup.Refuse(http.StatusForbidden, "%s may not list the %s of namespace %s of cluster %s", p.Name(), rs.Plural, q.Namespaces[0], cluster)
	}
	q.Namespaces = allowed
	return q, nil
}

// projectQuery is the caller's search of a project's records: those who
// may read the project see them all.
func (rs *Records) projectQuery(r *http.Request, p *directory.Principal) (recordstore.Query, error) {
	if rs.Store == nil {
		return recordstore.Query{}, rs.noStore()
	}
	name := r.PathValue("project")
	q, err := recordsearch.Parse(rs.Kind, r.URL.Query(), rs.Filters)
	if err != nil {
		return q, err
	}
	ctx := r.Context()
	var prj businessv1.Project
	if err := rs.Env.Client.Get(ctx, client.ObjectKey{Name: name}, &prj); err != nil || !(decision.Admin(p) || sameTenant(p.Tenant, prj.Spec.TenantID)) {
		return q, apigroup.Refuse(http.StatusNotFound, "no project %q", name)
	}
	if d := rs.Env.Decider.Can(ctx, p, name, "getProject", "project:"+name); !d.Allowed {
		return q, apigroup.Refuse(http.StatusForbidden, "%s may not read project %s, so may not list its %s: %s", p.Name(), name, rs.Plural, d.Reason)
	}
	tenant := prj.Spec.TenantID
	if tenant == "" {
		tenant = apigroup.DefaultTenant
	}
	q.Tenant = &tenant
	q.Projects = []string{name}
	return q, nil
}

// MayListPods asks the decision point whether p may list the pods of
// namespace ("" for all namespaces) in cluster, as if they asked the
// member: the right monitoring data and alarms are seen with.
func MayListPods(ctx context.Context, d *decision.Decider, p *directory.Principal, cluster, tenant, namespace string) bool {
	if decision.Admin(p) {
		return true
	}
	path := "/api/v1/pods"
	if namespace != "" {
		path = "/api/v1/namespaces/" + namespace + "/pods"
	}
	a, err := attributes.Member(cluster, &http.Request{Method: http.MethodGet, URL: &url.URL{Path: path}}, path)
	if err != nil {
		return false
	}
	return d.Member(ctx, p, cluster, tenant, a).Allowed
}
