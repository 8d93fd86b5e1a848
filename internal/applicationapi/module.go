// Package applicationapi is the application.tkestack.io API group: Helm
// applications (App), each one Helm v3 release of a chart from a chart
// group, in a namespace of a member cluster (seed 004 §4.2.8.1).
//
// Every operation on a release runs as the user who asks for it, in the
// request, with the Helm SDK through the platform's proxy: the decision
// point and the member's RBAC judge each call Helm makes, and no one acts
// with the rights of whoever installed the application. So the App object
// is a record, written by the platform alone: generic creates, updates and
// deletes of Apps are refused, and these routes do the work (under
// /application/apis/application.tkestack.io/v1/namespaces/{project}/):
//
//	POST   apps                    install (spec.dryRun: render only)
//	PUT    apps/{name}             upgrade
//	DELETE apps/{name}             uninstall
//	POST   apps/{name}/rollback    AppRollback
//	GET    apps/{name}/histories   AppHistory
//	GET    apps/{name}/diff        AppValuesDiff (?from=N&to=M)
//	GET    apps/{name}/resources   AppResourceList
//
// and GET …/v1/apps lists the Apps of every project whose apps the caller
// may list.
//
// An App lives in the platform namespace named after the project that owns
// its target namespace, so that project's policies govern it. A running
// operation is recorded in the App's status and renewed while it runs; an
// operation whose replica stopped (killed mid-upgrade) stops renewing, and
// the recovery controller marks the release's pending revision failed, so
// that the release is never stuck in pending-* (helm#8987).
package applicationapi

import (
	"context"
	"net/http"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/auth/attributes"
	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/clustercache"
	"github.com/kstack/kstack/internal/registryapi"
)

const (
	// Group is the API group.
	Group = "application.tkestack.io"
	// Prefix is where the gateway serves it.
	Prefix = "/application"
	// GroupPath is the path of the group's version.
	GroupPath = Prefix + "/apis/" + Group + "/v1/"
	// Kind is the singular resource of Apps.
	Kind = "app"
	// RecoveryController names the controller that recovers interrupted operations.
	RecoveryController = "app-recovery"
)

// Module is the application group.
type Module struct {
	apigroup.Env
	// Charts reads chart versions from the registry; nil: the registry is
	// off, and nothing installs.
	Charts registryapi.ChartStore
	// Cache reaches members as the platform, for recovery only.
	Cache *clustercache.Cache
	// ProjectOf is the project that owns a member namespace ("" none).
	ProjectOf func(ctx context.Context, cluster, namespace string) string
	// StaleAfter: an operation not renewed for that long was interrupted
	// (default 45s); it is renewed every StaleAfter/4.
	StaleAfter time.Duration
	// DefaultTimeout bounds an operation that names no timeout (5m).
	DefaultTimeout time.Duration
}

// Info names the group.
func (m *Module) Info() apigroup.Info { return apigroup.Info{Group: Group, Prefix: Prefix} }

// Resources: Apps, in their project's namespace, governed by its policies.
// They are replaced by the platform alone (see the package comment).
func (m *Module) Resources() []apigroup.Resource {
	return []apigroup.Resource{{
		Kind: Kind, TenantScoped: true,
		Project: func(a attributes.Attributes) string { return a.Namespace },
		Patch:   apigroup.PatchNoOne,
		NoPatch: "an App records what its operations did: install, upgrade, roll back and uninstall it with kstack app (or the routes under " + GroupPath + "namespaces/{project}/apps)",
	}}
}

// Indexes: none.
func (m *Module) Indexes() []apigroup.Index { return nil }

// Controllers: the recovery of interrupted operations.
func (m *Module) Controllers() []apigroup.Controller {
	return []apigroup.Controller{{Name: RecoveryController, Setup: func(mgr ctrl.Manager) error {
		return (&Recovery{Client: mgr.GetClient(), Cache: m.Cache, StaleAfter: m.staleAfter(), Log: m.Log}).SetupWithManager(mgr)
	}}}
}

// Routes of the group (see the package comment).
func (m *Module) Routes() []apigroup.Route {
	apps := GroupPath + "namespaces/{project}/apps"
	one := apps + "/{name}"
	return []apigroup.Route{
		{Pattern: "GET " + GroupPath + "apps", Handler: m.listAll},
		{Pattern: "POST " + apps, Handler: m.install},
		{Pattern: "PUT " + one, Handler: m.upgrade},
		{Pattern: "DELETE " + one, Handler: m.uninstall},
		{Pattern: "POST " + one + "/rollback", Handler: m.rollback},
		{Pattern: "GET " + one + "/histories", Handler: m.history},
		{Pattern: "GET " + one + "/diff", Handler: m.diff},
		{Pattern: "GET " + one + "/resources", Handler: m.resources},
		{Pattern: "PUT " + one + "/status", Handler: refuseStatus},
		{Pattern: "PATCH " + one + "/status", Handler: refuseStatus},
	}
}

func refuseStatus(w http.ResponseWriter, _ *http.Request, _ *directory.Principal) {
	apigroup.WriteError(w, apigroup.Refuse(http.StatusForbidden, "an App's status is written by the platform alone"))
}

// Admit refuses every generic write of an App: the routes above write
// them, after running the operation as the caller.
func (m *Module) Admit(_ context.Context, r *apigroup.Request) error {
	if r.Attributes.Kind != Kind {
		return nil
	}
	switch r.Attributes.Verb {
	case "create":
		return apigroup.Refuse(http.StatusMethodNotAllowed, "install applications with kstack app install, or POST %snamespaces/{project}/apps (an App is written by the platform as it installs the release)", GroupPath)
	case "update", "patch":
		return apigroup.Refuse(http.StatusMethodNotAllowed, "upgrade applications with kstack app upgrade, or PUT %snamespaces/{project}/apps/{name}", GroupPath)
	case "delete", "deletecollection":
		return apigroup.Refuse(http.StatusMethodNotAllowed, "uninstall applications one at a time with kstack app uninstall, or DELETE %snamespaces/{project}/apps/{name}", GroupPath)
	}
	return nil
}

// Validate has nothing to decide: no generic write of an App gets here.
func (m *Module) Validate(context.Context, *apigroup.Request) error { return nil }

func (m *Module) staleAfter() time.Duration {
	if m.StaleAfter > 0 {
		return m.StaleAfter
	}
	return 45 * time.Second
}

func (m *Module) timeout(d *time.Duration) time.Duration {
	if d != nil && *d > 0 {
		return *d
	}
	if m.DefaultTimeout > 0 {
		return m.DefaultTimeout
	}
	return 5 * time.Minute
}
