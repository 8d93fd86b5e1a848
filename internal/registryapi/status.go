package registryapi

import (
	"context"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	registryv1 "github.com/kstack/kstack/api/registry/v1"
)

// StatusController is the name of the status refresh (--controllers).
const StatusController = "registry-namespace-status"

// DefaultStatusInterval is how often a namespace's status is read again.
const DefaultStatusInterval = time.Minute

// Status keeps each registry namespace's repoCount and size: read from the
// registry when the namespace is made, again every Interval (pushes are
// the registry's, which tells no one), and at once after a delete through
// the API. On a timer rather than on reads, since plain gets and lists of
// the object go to the API server, never through this group; the count
// costs a walk of the namespace's manifests, bounded to one per namespace
// per interval.
type Status struct {
	Client   client.Client
	Store    Store
	Interval time.Duration
}

func (s *Status) interval() time.Duration {
	if s.Interval > 0 {
		return s.Interval
	}
	return DefaultStatusInterval
}

// SetupWithManager watches registry namespaces; the status writes do not
// change the generation, so they do not come back as events.
func (s *Status) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).Named(StatusController).
		For(&registryv1.RegistryNamespace{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Complete(s)
}

// Reconcile refreshes one namespace and comes back after the interval.
func (s *Status) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	if err := s.Refresh(ctx, req.Name); err != nil {
		// The registry's storage may be away for a while: try again at
		// the next round rather than in a tight loop.
		log.FromContext(ctx).Info("registry namespace status not refreshed", "namespace", req.Name, "err", err.Error())
	}
	return ctrl.Result{RequeueAfter: s.interval()}, nil
}

// Refresh counts the repositories of namespace name and their sizes, and
// writes them to its status when they changed.
func (s *Status) Refresh(ctx context.Context, name string) error {
	var ns registryv1.RegistryNamespace
	if err := s.Client.Get(ctx, client.ObjectKey{Name: name}, &ns); err != nil {
		return client.IgnoreNotFound(err)
	}
	if !ns.DeletionTimestamp.IsZero() {
		return nil
	}
	repos, err := s.Store.Repositories(ctx, name)
	if err != nil {
		return err
	}
	want := registryv1.RegistryNamespaceStatus{RepoCount: len(repos)}
	for _, r := range repos {
		want.Size += r.Size
	}
	if ns.Status == want {
		return nil
	}
	orig := ns.DeepCopy()
	ns.Status = want
	return client.IgnoreNotFound(s.Client.Status().Patch(ctx, &ns, client.MergeFrom(orig)))
}
