package alarmsilence

import (
	"context"
	"io"
	"log/slog"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	monitorv1 "github.com/kstack/kstack/api/monitor/v1"
)

// Defaults of GC.
const (
	DefaultKeep  = 7 * 24 * time.Hour
	DefaultEvery = time.Hour
)

// GC deletes AlarmSilences Keep (default 7 days) after their endsAt. It is
// a manager.Runnable for the leader only.
type GC struct {
	Client client.Client
	// Keep is how long an ended silence stays (default DefaultKeep).
	Keep time.Duration
	// Every is how often it looks (default DefaultEvery); it looks once at
	// start.
	Every time.Duration
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	Log *slog.Logger
}

// NeedLeaderElection: only the leader deletes.
func (g *GC) NeedLeaderElection() bool { return true }

// Start collects until ctx ends.
func (g *GC) Start(ctx context.Context) error {
	if g.Log == nil {
		g.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	every := g.Every
	if every <= 0 {
		every = DefaultEvery
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if n, err := g.Collect(ctx); err != nil {
			if ctx.Err() == nil {
				g.Log.Warn("could not collect ended alarm silences", "deleted", n, "err", err)
			}
		} else if n > 0 {
			g.Log.Info("deleted ended alarm silences", "deleted", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Collect deletes the silences that ended more than Keep ago, and says how
// many it deleted.
func (g *GC) Collect(ctx context.Context) (int, error) {
	keep := g.Keep
	if keep <= 0 {
		keep = DefaultKeep
	}
	now := time.Now()
	if g.Now != nil {
		now = g.Now()
	}
	var list monitorv1.AlarmSilenceList
	if err := g.Client.List(ctx, &list); err != nil {
		return 0, err
	}
	n := 0
	var firstErr error
	for i := range list.Items {
		s := &list.Items[i]
		if s.Spec.EndsAt.IsZero() || !now.After(s.Spec.EndsAt.Add(keep)) {
			continue
		}
		// Deleted only if unchanged since listed: an endsAt moved later
		// meanwhile keeps it.
		err := g.Client.Delete(ctx, s, client.Preconditions{UID: &s.UID, ResourceVersion: &s.ResourceVersion})
		switch {
		case err == nil:
			n++
		case apierrors.IsNotFound(err), apierrors.IsConflict(err):
		default:
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	return n, firstErr
}
