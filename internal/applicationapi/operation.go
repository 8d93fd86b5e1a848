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

// lastRenewed is when op last said it runs.
func lastRenewed(op *applicationv1.AppOperation) time.Time {
	if op.RenewTime != nil {
		return op.RenewTime.Time
	}
	return op.StartedAt.Time
}

// stale says whether op stopped renewing for longer than after.
func stale(op *applicationv1.AppOperation, now time.Time, after time.Duration) bool {
	return now.Sub(lastRenewed(op)) > after
}

// begin records op in the App's status: the App is the release's lock on
// this platform. A live operation refuses the new one, naming it. One that
// stopped renewing (its replica was killed) is taken over: the new
// operation claims the lock first (optimistic concurrency on the App), and
// only then recovers the release in the member, as the caller (cfg), so
// that no live operation's revision is ever marked failed.
func (m *Module) begin(ctx context.Context, app *applicationv1.App, typ string, p *directory.Principal, phase applicationv1.AppPhase, cfg *action.Configuration) (*applicationv1.AppOperation, error) {
	// app is as the caller read it past the cache: if it changed since,
	// the update below conflicts.
	cur := *app.DeepCopy()
	now := time.Now()
	staleOp := cur.Status.Operation
	if staleOp != nil && !stale(staleOp, now, m.staleAfter()) {
		return nil, apigroup.Refuse(http.StatusConflict, "application %s is busy: %s by %s, running since %s; wait for it to finish (kstack app get %s shows when it does)",
			app.Name, staleOp.Type, staleOp.User, staleOp.StartedAt.UTC().Format(time.RFC3339), app.Name)
	}
	op := &applicationv1.AppOperation{Type: typ, User: p.Name(), StartedAt: metav1.NewTime(now), RenewTime: ptrTime(now)}
	cur.Status.Operation, cur.Status.Phase = op, phase
	if err := m.Client.Status().Update(ctx, &cur); err != nil {
		if apierrors.IsConflict(err) {
			return nil, apigroup.Refuse(http.StatusConflict, "application %s changed while %s began (another operation may have begun at the same time): try again", app.Name, typ)
		}
		return nil, apigroup.Refuse(http.StatusServiceUnavailable, "recording the %s of application %s: %v", typ, app.Name, err)
	}
	// What the API server stored (its times are in seconds): the heartbeat
	// and finish recognise the lock as theirs by it.
	*op = *cur.Status.Operation
	*app = cur
	if staleOp != nil {
		if _, err := recoverRelease(cfg, releaseName(&cur), staleOp); err != nil {
			return nil, m.failed(ctx, app, op, nil, helmError("recovering release "+releaseName(&cur)+" from an interrupted "+staleOp.Type, err))
		}
	}
	return op, nil
}

// sameOp says whether the recorded operation is op (the lock is still op's).
func sameOp(rec, op *applicationv1.AppOperation) bool {
	return rec != nil && rec.Type == op.Type && rec.User == op.User && rec.StartedAt.Equal(&op.StartedAt)
}

func ptrTime(t time.Time) *metav1.Time { mt := metav1.NewTime(t); return &mt }

// run runs fn past the request (a client that hangs up does not cut a
// release in half), bounded by timeout plus a margin for Helm's own
// bookkeeping, renewing op while it runs.
func (m *Module) run(ctx context.Context, app *applicationv1.App, op *applicationv1.AppOperation, timeout time.Duration, fn func(context.Context) (*release.Release, error)) (*release.Release, error) {
	bg := context.WithoutCancel(ctx)
	rctx, cancel := context.WithTimeout(bg, timeout+time.Minute)
	defer cancel()
	done := make(chan struct{})
	defer close(done)
	// Renewed until fn returns, however long it takes (Helm's rollback and
	// uninstall, and hooks, do not all heed rctx).
	go m.heartbeat(bg, done, client.ObjectKeyFromObject(app), op)
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
		case <-t.C:
		}
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			var cur applicationv1.App
			if err := m.Reader.Get(ctx, key, &cur); err != nil {
				return err
			}
			if !sameOp(cur.Status.Operation, op) {
				return nil // taken over meanwhile: the lock is not op's to renew
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
		if sameOp(st.Operation, op) {
			st.Operation = nil // only op's own lock: another may hold it now
		}
		st.LastOperation = &done
		if runErr != nil {
			done.Result, st.Phase = ResultFailed, applicationv1.AppFailed
			st.Message = fmt.Sprintf("%s by %s failed: %v", op.Type, op.User, runErr)
		} else {
			done.Result, st.Phase = ResultSucceeded, applicationv1.AppSucceeded
			st.Message = fmt.Sprintf(format, args...)
		}
		setRelease(st, rel)
		return m.Client.Status().Update(ctx, &out)
	})
	if err != nil {
		return nil, apigroup.Refuse(http.StatusServiceUnavailable, "recording the end of the %s of application %s: %v", op.Type, app.Name, err)
	}
	return &out, nil
}

// failed records that op failed with err (a Refusal, answered to the
// caller) and answers err.
func (m *Module) failed(ctx context.Context, app *applicationv1.App, op *applicationv1.AppOperation, rel *release.Release, err error) error {
	if _, ferr := m.finish(ctx, app, op, rel, nil, err, ""); ferr != nil && m.Log != nil {
		m.Log.Warn("recording a failed "+op.Type, "app", app.Namespace+"/"+app.Name, "err", ferr)
	}
	return err
}

// setRelease records the release's latest revision (nil: unknown) in st.
func setRelease(st *applicationv1.AppStatus, rel *release.Release) {
	if rel == nil {
		return
	}
	st.Revision = rel.Version
	if rel.Info != nil {
		st.ReleaseStatus = rel.Info.Status.String()
	}
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
