// Package apigroup is the seam between the gateway and the platform's API
// groups. Each group's package (platformapi, authapi, businessapi, and the
// groups to come) implements Module: it declares its resources, admits
// writes to them, serves its actions and cluster subresource routes, and
// brings its controllers and the indexes its admission reads. The gateway
// knows nothing beyond this interface, so a new group touches no gateway
// file.
package apigroup

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kstack/kstack/internal/auth/attributes"
	"github.com/kstack/kstack/internal/auth/decision"
	"github.com/kstack/kstack/internal/auth/directory"
)

// Module is one API group of the platform, as the gateway sees it.
type Module interface {
	// Info names the group and where the gateway serves it.
	Info() Info
	// Resources are the group's kinds; a kind of a served group that is not
	// listed gets the zero Resource (not tenant-scoped, patchable).
	Resources() []Resource
	// Admit prepares a write at the gateway, after the decision point
	// allowed it: it may complete a create or update body (a generated
	// name, labels derived from the spec; Request.Object is the body,
	// already in the caller's tenant), and it refuses what is about the
	// request rather than the object (a collection delete) and deletes
	// (Request.Object is nil for patch and delete). It decides nothing that
	// a patch could get around: that is Validate's. A refusal is an *Error.
	Admit(ctx context.Context, r *Request) error
	// Validate decides on a create or update as it would be stored, with
	// the object before it (Request.Old, nil for a create), whatever the
	// request's encoding: merge, JSON patch and server-side apply arrive
	// here decoded. The platform's kube-apiserver calls it through the
	// admission webhook for every write that came through the gateway, under
	// the gateway's lock for the write. References, quotas and grants are
	// checked here. A refusal is an *Error.
	Validate(ctx context.Context, r *Request) error
	// Routes are the group's actions and cluster subresource routes, matched
	// before anything else on the cleaned path.
	Routes() []Route
	// Indexes are the cache indexes the group's admission and controllers read.
	Indexes() []Index
	// Controllers are the group's controllers, each enabled or disabled by
	// name with `kstack platform run --controllers`.
	Controllers() []Controller
}

// Info names a group.
type Info struct {
	// Group is the API group, e.g. "business.tkestack.io".
	Group string
	// Prefix is the path the group's API is served under, e.g. "/business"
	// (any served group is reachable under any prefix, as in TKEStack).
	Prefix string
	// ClusterHeader: a request under Prefix that carries X-TKE-ClusterName
	// goes to that member cluster (unless a Route matches it first).
	ClusterHeader bool
}

// Resource describes one kind of a group.
type Resource struct {
	// Kind is the singular lower-case resource, as attributes.Attributes
	// has it ("policy"); together with the group it is the key.
	Kind string
	// Version is the version the platform serves and reads it at.
	Version string
	// TenantScoped objects carry spec.tenantID and the tenant label: the
	// gateway stamps them on writes and narrows lists to the caller's tenant.
	TenantScoped bool
	// SharedTenant: lists also hold the objects every tenant shares
	// (the predefined policies).
	SharedTenant bool
	// TenantIsName: the object's name is its tenant (identity providers).
	TenantIsName bool
	// SpecOptional: an object sent without a spec is not given one to
	// carry its tenant (the label alone does).
	SpecOptional bool
	// AdminOnly, when set, is why only platform administrators reach the
	// kind through the generic API.
	AdminOnly string
	// Hidden, when set, is why no one, administrators included, reads or
	// writes the kind through the platform (password hashes).
	Hidden string
	// Patch says who may patch the object itself (subresources aside).
	Patch PatchRule
	// NoPatch is why a refused patch is refused, e.g. "so that quotas are
	// always checked whole".
	NoPatch string
	// Project is the project whose project policies govern a request on
	// the kind (nil or "": none).
	Project func(a attributes.Attributes) string
	// Lock is the key that serialises a create or update with the checks
	// before it (quota), per replica; nil or "": no lock.
	Lock func(a attributes.Attributes) string
}

// PatchRule says who may patch an object.
type PatchRule int

const (
	// PatchAnyone may patch, as far as the decision point allows.
	PatchAnyone PatchRule = iota
	// PatchAdmins: only platform administrators patch; others replace the
	// object whole, so that admission sees all of it.
	PatchAdmins
	// PatchNoOne: the object is only ever replaced whole.
	PatchNoOne
)

// Request is a write that a Module admits.
type Request struct {
	Principal  *directory.Principal
	Attributes attributes.Attributes
	// Object is the body of a create or update for Admit (nil for patch
	// and delete), and the object as it would be stored for Validate.
	Object *unstructured.Unstructured
	// Old is the stored object an update replaces (Validate only).
	Old *unstructured.Unstructured
	// Query is the request's query (e.g. ?cascade=true on a delete); nil
	// for Validate.
	Query url.Values
	// DryRun: nothing will be stored (Validate only).
	DryRun bool
}

// Route is an action or a cluster subresource route of a group.
type Route struct {
	// Pattern is an http.ServeMux pattern over the whole cleaned path,
	// prefix included, e.g. "POST /business/apis/business.tkestack.io/v1/namespaces/{project}/publish".
	// A pattern without a method sees every method (and answers 405 itself).
	Pattern string
	Handler Handler
}

// Handler serves a route for an authenticated caller. r's path is the
// cleaned path, and r.PathValue reads the pattern's wildcards.
type Handler func(w http.ResponseWriter, r *http.Request, p *directory.Principal)

// Index is a field index of the platform's cache.
type Index struct {
	Object client.Object
	Field  string
	Func   client.IndexerFunc
}

// Controller is a named controller, set up on the platform's manager.
type Controller struct {
	Name  string
	Setup func(mgr ctrl.Manager) error
}

// Env is what a group's package works with.
type Env struct {
	// Client reads from the platform's informer cache and writes.
	Client client.Client
	// Reader reads from the API server, past the cache.
	Reader client.Reader
	// Decider is the one decision point.
	Decider *decision.Decider
	// Host is the gateway.
	Host Host
	// SystemNamespace holds the platform's Secrets.
	SystemNamespace string
	Log             *slog.Logger
}

// MayUse checks that p may use what a reference in field names: p must
// hold action on resource (administrators hold everything). Whether the
// object is of the referring object's tenant is the group's to check
// first, with an answer that does not tell another tenant's objects from
// missing ones.
func (e Env) MayUse(ctx context.Context, p *directory.Principal, field, action, resource string) error {
	if decision.Admin(p) {
		return nil
	}
	if d := e.Decider.Can(ctx, p, "", action, resource); !d.Allowed {
		return Refuse(http.StatusForbidden, "%s: %s may not use %s (it needs %s): %s", field, p.Name(), resource, action, d.Reason)
	}
	return nil
}

// Host is what the gateway offers the groups' handlers.
type Host interface {
	// Proxy decides on r and forwards it to memberPath in cluster, as p.
	Proxy(w http.ResponseWriter, r *http.Request, p *directory.Principal, cluster, memberPath string)
	// AsUser is a transport that serves requests through the gateway as p.
	AsUser(p *directory.Principal) http.RoundTripper
	// ItemAllowed decides on one item of a list (in namespace, "" for a
	// cluster-scoped kind) as if it were read by name.
	ItemAllowed(ctx context.Context, p *directory.Principal, list attributes.Attributes, namespace, name, tenant string) bool
	// Lock serialises the writes of one key in this replica.
	Lock(key string) (unlock func())
}
