// Package auditapi is the audit.tkestack.io API group: the search of the
// audit records (internal/audit) kept in the record store. It stores
// nothing in the platform's apiserver; its API is two routes.
package auditapi

import (
	"context"
	"net/http"
	"strconv"

	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"

	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/audit"
	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/recordsearch"
	"github.com/kstack/kstack/internal/recordstore"
)

const (
	// Group is the API group.
	Group = "audit.tkestack.io"
	// Prefix is where the gateway serves it.
	Prefix    = "/audit"
	groupPath = Prefix + "/apis/" + Group + "/v1/"
	// MaxExport bounds one export.
	MaxExport = 1_000_000
)

// Module is the audit group.
type Module struct {
	Env apigroup.Env
	// Store is searched (nil: the platform runs without a record store).
	Store recordstore.Store
}

// Info names the group.
func (m *Module) Info() apigroup.Info { return apigroup.Info{Group: Group, Prefix: Prefix} }

// Resources: none; audit records are not objects of the platform's apiserver.
func (m *Module) Resources() []apigroup.Resource { return nil }

// Admit: nothing is written through the generic API.
func (m *Module) Admit(_ context.Context, _ *apigroup.Request) error { return nil }

// Validate: nothing is stored.
func (m *Module) Validate(_ context.Context, _ *apigroup.Request) error { return nil }

// Indexes: none.
func (m *Module) Indexes() []apigroup.Index { return nil }

// Controllers: none.
func (m *Module) Controllers() []apigroup.Controller { return nil }

// Routes: the search (as TKEStack's /events/list too) and the export.
func (m *Module) Routes() []apigroup.Route {
	return []apigroup.Route{
		{Pattern: "GET " + groupPath + "events", Handler: m.list},
		{Pattern: "GET " + groupPath + "events/list", Handler: m.list},
		{Pattern: "GET " + groupPath + "events/export", Handler: m.export},
	}
}

// filters are the audit search's own parameters (TKEStack's names too).
var filters = map[string]func(*recordstore.Query, string){
	"user":        recordsearch.Set(func(q *recordstore.Query) *string { return &q.User }),
	"userName":    recordsearch.Set(func(q *recordstore.Query) *string { return &q.User }),
	"cluster":     recordsearch.Set(func(q *recordstore.Query) *string { return &q.Cluster }),
	"clusterName": recordsearch.Set(func(q *recordstore.Query) *string { return &q.Cluster }),
	"namespace":   func(q *recordstore.Query, v string) { q.Namespaces = []string{v} },
	"resource":    recordsearch.Set(func(q *recordstore.Query) *string { return &q.Resource }),
	"name":        recordsearch.Set(func(q *recordstore.Query) *string { return &q.Name }),
	"verb":        recordsearch.Set(func(q *recordstore.Query) *string { return &q.Verb }),
	"result":      recordsearch.Set(func(q *recordstore.Query) *string { return &q.Result }),
	"code": func(q *recordstore.Query, v string) {
		// A code that is no HTTP status is marked, for query to refuse.
		if n, err := strconv.Atoi(v); err == nil && n >= 100 && n <= 599 {
			q.Code = n
		} else {
			q.Code = -1
		}
	},
	"tenant": func(q *recordstore.Query, v string) { q.Tenant = &v },
}

// query is the caller's search, narrowed to what they may see: the
// platform's administrators see every tenant's records; those whose
// policies grant listAuditEvent on everything (a tenant's administrators)
// see their tenant's; everyone else their own operations.
func (m *Module) query(r *http.Request, p *directory.Principal) (recordstore.Query, error) {
	if m.Store == nil {
		return recordstore.Query{}, apigroup.Refuse(http.StatusServiceUnavailable, "this platform runs without a record store (--record-store)")
	}
	q, err := recordsearch.Parse(audit.Kind, r.URL.Query(), filters)
	if err != nil {
		return q, err
	}
	if q.Result != "" && q.Result != "success" && q.Result != "failure" {
		return q, apigroup.Refuse(http.StatusBadRequest, "result %q: use success or failure", q.Result)
	}
	if q.Code < 0 {
		return q, apigroup.Refuse(http.StatusBadRequest, "code: give an HTTP status code such as 403")
	}
	if p.SuperAdmin {
		return q, nil
	}
	if q.Tenant != nil && *q.Tenant != audit.TenantOf(p) {
		return q, apigroup.Refuse(http.StatusForbidden, "%s may search the audit records of tenant %s only", p.Name(), audit.TenantOf(p))
	}
	tenant := audit.TenantOf(p)
	q.Tenant = &tenant
	if m.Env.Decider != nil && m.Env.Decider.Can(r.Context(), p, "", "listAuditEvent", "auditevent:*").Allowed {
		return q, nil
	}
	if q.User != "" && q.User != p.Name() {
		return q, apigroup.Refuse(http.StatusForbidden, "%s may search only their own operations; platform administrators search everyone's", p.Name())
	}
	q.User = p.Name()
	return q, nil
}

func (m *Module) list(w http.ResponseWriter, r *http.Request, p *directory.Principal) {
	q, err := m.query(r, p)
	if err != nil {
		apigroup.WriteError(w, err)
		return
	}
	list := auditv1.EventList{}
	list.APIVersion, list.Kind = auditv1.SchemeGroupVersion.String(), "EventList"
	if list.Items, list.Continue, err = recordsearch.Documents[auditv1.Event](r.Context(), m.Store, q); err != nil {
		apigroup.WriteError(w, err)
		return
	}
	apigroup.WriteJSON(w, http.StatusOK, list)
}

func (m *Module) export(w http.ResponseWriter, r *http.Request, p *directory.Principal) {
	q, err := m.query(r, p)
	recordsearch.ServeExport(w, r, m.Store, q, err, "audit.jsonl", MaxExport)
}
