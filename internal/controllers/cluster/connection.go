package cluster

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/clustercache"
)

// Connection keeps this replica's cluster cache connected to every member,
// on every replica, not only the leader: the gateway's proxy, the metric
// collector and the alarm evaluator of each replica read it. It writes
// nothing; the leader's Reconciler owns the status and the member objects.
type Connection struct {
	Client client.Client
	Cache  *clustercache.Cache
}

// SetupWithManager registers the controller to run on every replica.
func (c *Connection) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("cluster-connection").
		WithOptions(controller.Options{NeedLeaderElection: ptr.To(false)}).
		For(&platformv1.Cluster{}, builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
			return o.GetName() != platformv1.GlobalClusterName
		}))).
		Complete(c)
}

// Reconcile connects the cluster, or forgets it once it is gone. A
// credential replaced in place (same Cluster) is picked up at the next
// resync, as the leader's status refresh does.
func (c *Connection) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var cls platformv1.Cluster
	if err := c.Client.Get(ctx, req.NamespacedName, &cls); err != nil {
		if apierrors.IsNotFound(err) {
			c.Cache.Remove(req.Name)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !cls.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil // the leader disconnects it; NotFound forgets it here
	}
	// An error is the leader's to report in the status; here the next
	// resync tries again.
	_, _, _ = connect(ctx, c.Client, c.Cache, &cls)
	return ctrl.Result{RequeueAfter: ResyncPeriod}, nil
}
