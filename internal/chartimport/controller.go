package chartimport

import (
	"context"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	registryv1 "github.com/kstack/kstack/api/registry/v1"
)

// Reconciler syncs each Imported chart group when its interval has passed
// since the last attempt (the leader only).
type Reconciler struct {
	Client   client.Client
	Importer *Importer
	// Count, when set, counts a group's charts after a sync.
	Count func(ctx context.Context, group string) (int, error)
	now   func() time.Time
}

// SetupWithManager registers the controller.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).Named("chart-import").For(&registryv1.ChartGroup{}).Complete(r)
}

// Reconcile syncs a group that is due, and comes back when the next one is.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var cg registryv1.ChartGroup
	if err := r.Client.Get(ctx, req.NamespacedName, &cg); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if cg.DeletionTimestamp != nil || cg.Spec.Type != registryv1.Imported || cg.Spec.ImportedInfo == nil {
		return ctrl.Result{}, nil
	}
	every := Interval(&cg)
	now := time.Now()
	if r.now != nil {
		now = r.now()
	}
	if last := cg.Status.LastSyncAttempt; last != nil {
		if every == 0 {
			return ctrl.Result{}, nil // on demand only
		}
		if next := last.Add(every); now.Before(next) {
			return ctrl.Result{RequeueAfter: next.Sub(now)}, nil
		}
	}
	res, err := r.Importer.Sync(ctx, &cg)
	if err := RecordSync(ctx, r.Client, cg.Name, res, err, r.Count); err != nil {
		return ctrl.Result{}, err
	}
	if every == 0 {
		return ctrl.Result{}, nil
	}
	return ctrl.Result{RequeueAfter: every}, nil
}

// RecordSync writes a sync's outcome into the group's status.
func RecordSync(ctx context.Context, c client.Client, group string, res registryv1.ChartSyncResult, syncErr error, count func(context.Context, string) (int, error)) error {
	var cg registryv1.ChartGroup
	if err := c.Get(ctx, client.ObjectKey{Name: group}, &cg); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	}
	now := metav1.Now()
	cg.Status.LastSyncAttempt = &now
	switch {
	case syncErr != nil:
		cg.Status.Phase, cg.Status.Message = registryv1.ChartGroupFailed, "sync failed: "+syncErr.Error()
	case res.Failed > 0:
		cg.Status.Phase = registryv1.ChartGroupFailed
		cg.Status.Message = fmtResult(res)
		cg.Status.LastSyncTime = &now
	default:
		cg.Status.Phase, cg.Status.Message, cg.Status.LastSyncTime = registryv1.ChartGroupReady, fmtResult(res), &now
	}
	if count != nil {
		if n, err := count(ctx, group); err == nil {
			cg.Status.ChartCount = n
		}
	}
	return c.Status().Update(ctx, &cg)
}

func fmtResult(res registryv1.ChartSyncResult) string {
	s := "synced: " + itoa(res.Charts) + " charts, " + itoa(res.Versions) + " versions; " + itoa(res.Copied) + " copied, " + itoa(res.Skipped) + " already here"
	if res.Failed > 0 {
		s += ", " + itoa(res.Failed) + " failed"
		if len(res.Errors) > 0 {
			s += " (" + res.Errors[0] + ")"
		}
	}
	return s
}

func itoa(n int) string { return strconv.Itoa(n) }
