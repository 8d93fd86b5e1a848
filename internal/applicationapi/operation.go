package applicationapi

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/release"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	applicationv1 "github.com/kstack/kstack/api/application/v1"
	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/auth/directory"
)

// Results of an operation, in status.lastOperation.result.
const (
	ResultSucceeded   = "Succeeded"
	ResultFailed      = "Failed"
	ResultInterrupted = "Interrupted"
)

// stale says whether op stopped renewing for longer than after.
func stale(op *applicationv1.AppOperation, now time.Time, after time.Duration) bool {
	last := op.StartedAt.Time
	if op.RenewTime != nil {
		last = op.RenewTime.Time
	}
	return now.Sub(last) > after
}

// begin records op in the App's status: the App is the release's lock on
// this platform. A live operation refuses the new one, naming it; one that
// stopped renewing (its replica was killed) is recovered first, as the
// caller, in the member (cfg), so the new operation finds no pending
// release.
func (m *Module) begin(ctx context.Context, app *applicationv1.App, typ string, p *directory.Principal, phase applicationv1.AppPhase, cfg *action.Configuration) (*applicationv1.AppOperation, error) {
	var cur applicationv1.App
	if err := m.Reader.Get(ctx, client.ObjectKeyFromObject(app), &cur); err != nil {
		return nil, apigroup.Refuse(http.StatusServiceUnavailable, "reading application %s: %v", app.Name, err)
	}
	now := time.Now()
	if op := cur.Status.Operation; op != nil {
		if !stale(op, now, m.staleAfter()) {
			return nil, apigroup.Refuse(http.StatusConflict, "application %s is busy: %s by %s, running since %s; wait for it to finish (kstack app get %s shows when it does)",
				app.Name, op.Type, op.User, op.StartedAt.UTC().Format(time.RFC3339), app.Name)
		}
		if _, err := recoverRelease(cfg, releaseName(&cur), op); err != nil {
			return nil, helmError("recovering release "+releaseName(&cur)+" from an interrupted "+op.Type, err)
		}
	}
	op := &applicationv1.AppOperation{Type: typ, User: p.Name(), StartedAt: metav1.NewTime(now), RenewTime: ptrTime(now)}
	cur.Status.Operation, cur.Status.Phase = op, phase
	if err := m.Client.Status().Update(ctx, &cur); err != nil {
		if apierrors.IsConflict(err) {
			return nil, apigroup.Refuse(http.StatusConflict, "application %s changed while %s began (another operation may have begun at the same time): try again", app.Name, typ)
		}
		return nil, apigroup.Refuse(http.StatusServiceUnavailable, "recording the %s of application %s: %v", typ, app.Name, err)
	}
	*app = cur
	return op, nil
}

func ptrTime(t time.Time) *metav1.Time { mt := metav1.NewTime(t); return &mt }

// run runs fn past the request (a client that hangs up does not cut a
// release in half), bounded by timeout plus a margin for Helm's own
// bookkeeping, renewing op while it runs.
func (m *Module) run(ctx context.Context, app *applicationv1.App, op *applicationv1.AppOperation, timeout time.Duration, fn func(context.Context) (*release.Release, error)) (*release.Release, error) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout+time.Minute)
	defer cancel()
	done := make(chan struct{})
	defer close(done)
	go m.heartbeat(rctx, done, client.ObjectKeyFromObject(app), op)
	return fn(rctx)
}

// heartbeat renews op every staleAfter/4 until done.
func (m *Module) heartbeat(ctx context.Context, done <-chan struct{}, key client.ObjectKey, op *applicationv1.AppOperation) {
	t := time.NewTicker(m.staleAfter() / 4)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			var cur applicationv1.App
			if err := m.Reader.Get(ctx, key, &cur); err != nil {
				return err
			}
			if cur.Status.Operation == nil || !cur.Status.Operation.StartedAt.Equal(&op.StartedAt) {
				return nil // recovered or finished meanwhile
			}
			cur.Status.Operation.RenewTime = ptrTime(time.Now())
			return m.Client.Status().Update(ctx, &cur)
		})
		if err != nil && m.Log != nil {
			m.Log.Warn("renewing an application's operation", "app", key.String(), "op", op.Type, "err", err)
		}
	}
}

// finish records how op ended: rel is the release after it (nil when
// unknown), mutate changes the App's spec (nil: none), runErr is why it
// failed (nil: it succeeded). It answers the App as stored.
func (m *Module) finish(ctx context.Context, app *applicationv1.App, op *applicationv1.AppOperation, rel *release.Release, mutate func(*applicationv1.App), runErr error, format string, args ...any) (*applicationv1.App, error) {
	ctx = context.WithoutCancel(ctx)
	key := client.ObjectKeyFromObject(app)
	var out applicationv1.App
	if mutate != nil {
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			if err := m.Reader.Get(ctx, key, &out); err != nil {
				return err
			}
			mutate(&out)
			return m.Client.Update(ctx, &out)
		})
		if err != nil {
			return nil, apigroup.Refuse(http.StatusServiceUnavailable, "recording application %s after its %s: %v", app.Name, op.Type, err)
		}
	}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := m.Reader.Get(ctx, key, &out); err != nil {
			return err
		}
		done := *op
		done.FinishedAt, done.RenewTime = ptrTime(time.Now()), nil
		st := &out.Status
		st.Operation, st.LastOperation = nil, &done
		if runErr != nil {
			done.Result, st.Phase = ResultFailed, applicationv1.AppFailed
			st.Message = fmt.Sprintf("%s by %s failed: %v", op.Type, op.User, runErr)
		} else {
			done.Result, st.Phase = ResultSucceeded, applicationv1.AppSucceeded
			st.Message = fmt.Sprintf(format, args...)
		}
		if rel != nil {
			st.Revision = rel.Version
			if rel.Info != nil {
				st.ReleaseStatus = rel.Info.Status.String()
			}
		}
		return m.Client.Status().Update(ctx, &out)
	})
	if err != nil {
		return nil, apigroup.Refuse(http.StatusServiceUnavailable, "recording the end of the %s of application %s: %v", op.Type, app.Name, err)
	}
	return &out, nil
}

// latest is the release's latest revision, or nil.
func latest(cfg *action.Configuration, name string) *release.Release {
	r, err := cfg.Releases.Last(name)
	if err != nil {
		return nil
	}
	return r
}

// recoverRelease marks the release's latest revision failed if an
// interrupted operation left it pending (helm#8987), so that the next
// upgrade or rollback goes on from it. It answers the revision it marked
// (nil: none was pending).
func recoverRelease(cfg *action.Configuration, name string, op *applicationv1.AppOperation) (*release.Release, error) {
	r, err := cfg.Releases.Last(name)
	if err != nil || r.Info == nil || !r.Info.Status.IsPending() {
		return nil, nil // nothing recorded, or nothing pending
	}
	r.SetStatus(release.StatusFailed, fmt.Sprintf("%s by %s was interrupted (the platform replica running it stopped); kstack marked this revision failed", op.Type, op.User))
	if err := cfg.Releases.Update(r); err != nil {
		return nil, err
	}
	return r, nil
}
