package applicationapi

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"helm.sh/helm/v3/pkg/release"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	applicationv1 "github.com/kstack/kstack/api/application/v1"
	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/clustercache"
)

// Recovery finds operations whose replica stopped (they no longer renew)
// and recovers their releases as the platform: a revision left pending-*
// is marked failed, so that the next upgrade or rollback goes on from it
// (helm#8987), and the App says what happened. It runs on the leader.
type Recovery struct {
	Client     client.Client
	Cache      *clustercache.Cache
	StaleAfter time.Duration
	Log        *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// SetupWithManager watches Apps.
func (r *Recovery) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).Named(RecoveryController).For(&applicationv1.App{}).Complete(r)
}

func (r *Recovery) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Reconcile recovers one App's interrupted operation, or comes back when
// its running one would be stale.
func (r *Recovery) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var app applicationv1.App
	if err := r.Client.Get(ctx, req.NamespacedName, &app); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	op := app.Status.Operation
	if op == nil {
		return ctrl.Result{}, nil
	}
	now := r.now()
	if !stale(op, now, r.StaleAfter) {
		return ctrl.Result{RequeueAfter: lastRenewed(op).Add(r.StaleAfter).Sub(now) + time.Second}, nil
	}
	e, ok := r.Cache.Get(app.Spec.TargetCluster)
	if !ok || !e.Health().Healthy {
		var cl platformv1.Cluster
		if err := r.Client.Get(ctx, client.ObjectKey{Name: app.Spec.TargetCluster}, &cl); apierrors.IsNotFound(err) {
			// The cluster is gone: there is no release to recover, and the
			// App is released so that it can be uninstalled.
			return ctrl.Result{}, r.record(ctx, req, op, op, nil, nil, "; its cluster "+app.Spec.TargetCluster+" no longer exists")
		}
		// The member is away (or not yet probed after a restart): the
		// release waits for it.
		return ctrl.Result{RequeueAfter: 5 * time.Second}, nil
	}
	cfg, err := helmConfig(e.Config, app.Spec.TargetNamespace)
	if err != nil {
		return ctrl.Result{}, err
	}
	// Claim the lock first (optimistic concurrency on what was read), so
	// that an operation that began meanwhile keeps its revision; a
	// recovery that dies here goes stale in turn and is tried again.
	claim := &applicationv1.AppOperation{Type: "recovery", User: RecoveryController, StartedAt: metav1.NewTime(now), RenewTime: ptrTime(now)}
	app.Status.Operation = claim
	if err := r.Client.Status().Update(ctx, &app); err != nil {
		if apierrors.IsConflict(err) {
			return ctrl.Result{Requeue: true}, nil
		}
		return ctrl.Result{}, err
	}
	claim = app.Status.Operation
	marked, err := recoverRelease(cfg, releaseName(&app), op)
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("recovering release %s in %s/%s: %w", releaseName(&app), app.Spec.TargetCluster, app.Spec.TargetNamespace, err)
	}
	if err := r.record(ctx, req, claim, op, marked, latest(cfg, releaseName(&app)), "; upgrade or roll back to go on"); err != nil {
		return ctrl.Result{}, err
	}
	if r.Log != nil {
		r.Log.Info("recovered an interrupted application operation", "app", req.String(), "op", op.Type, "user", op.User, "markedFailed", marked != nil)
	}
	return ctrl.Result{}, nil
}

// record ends op as Interrupted on the App, if holder still holds its
// lock: marked is the revision marked failed (nil: none), rel the
// release's latest revision (nil: unknown), extra ends the message.
func (r *Recovery) record(ctx context.Context, req ctrl.Request, holder, op *applicationv1.AppOperation, marked, rel *release.Release, extra string) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var cur applicationv1.App
		if err := r.Client.Get(ctx, req.NamespacedName, &cur); err != nil {
			return client.IgnoreNotFound(err)
		}
		if !sameOp(cur.Status.Operation, holder) {
			return nil // another operation took over
		}
		done := *op
		done.Result, done.FinishedAt, done.RenewTime = ResultInterrupted, ptrTime(r.now()), nil
		st := &cur.Status
		st.Operation, st.LastOperation, st.Phase = nil, &done, applicationv1.AppFailed
		st.Message = fmt.Sprintf("%s by %s was interrupted: the platform replica running it stopped", op.Type, op.User)
		if marked != nil {
			st.Message += fmt.Sprintf("; revision %d was left pending and is now marked failed", marked.Version)
		}
		st.Message += extra
		setRelease(st, rel)
		return r.Client.Status().Update(ctx, &cur)
	})
}
