package addons

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// LeaseNamespace holds the add-ons' controller Leases in a member.
const LeaseNamespace = "kube-system"

// Lease timings: a controller that stops without releasing its Lease (a
// crash) is replaced after LeaseDuration.
var (
	LeaseDuration = 15 * time.Second
	RenewDeadline = 10 * time.Second
	RetryPeriod   = 2 * time.Second
)

// RunController runs a's controller for member m while holding the add-on's
// Lease in the member, until ctx ends: wherever it is started (the
// platform's leader, `kstack addon run`, or both by mistake), one copy
// works at a time, and a copy that stops hands over to another. It returns
// when ctx ends; a controller that fails is started again.
func RunController(ctx context.Context, a *Addon, m Member, holder string) error {
	cs, err := kubernetes.NewForConfig(m.Config)
	if err != nil {
		return err
	}
	if holder == "" {
		host, _ := os.Hostname()
		holder = host
	}
	holder = fmt.Sprintf("%s_%s", holder, rand.String(6))
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: LeaseNamespace, Name: a.LeaseName()},
		Client:     cs.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: holder},
	}
	for ctx.Err() == nil {
		// The Lease is released only once the controller has returned (not
		// by ReleaseOnCancel, which releases while the callback may still
		// be at work): the next holder never overlaps with this one.
		done := make(chan struct{})
		var led atomic.Bool
		leaderelection.RunOrDie(ctx, leaderelection.LeaderElectionConfig{
			Lock: lock, Name: a.LeaseName(),
			LeaseDuration: LeaseDuration, RenewDeadline: RenewDeadline, RetryPeriod: RetryPeriod,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(ctx context.Context) {
					led.Store(true)
					defer close(done)
					m.Log.Info("add-on controller started", "addon", a.Type, "cluster", m.Cluster, "holder", holder)
					for ctx.Err() == nil {
						if err := a.Controller(ctx, m); err != nil && ctx.Err() == nil {
							m.Log.Warn("add-on controller failed; starting it again", "addon", a.Type, "cluster", m.Cluster, "err", err)
							select {
							case <-ctx.Done():
							case <-time.After(5 * time.Second):
							}
						}
					}
				},
				OnStoppedLeading: func() {
					m.Log.Info("add-on controller stopped", "addon", a.Type, "cluster", m.Cluster, "holder", holder)
				},
			},
		})
		if led.Load() {
			<-done
			release(lock, holder)
		}
	}
	return nil
}

// release gives the Lease up if holder still holds it, as client-go's
// ReleaseOnCancel does: no holder and a one-second duration.
func release(lock *resourcelock.LeaseLock, holder string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rec, _, err := lock.Get(ctx)
	if err != nil || rec.HolderIdentity != holder {
		return
	}
	now := metav1.NewTime(time.Now())
	_ = lock.Update(ctx, resourcelock.LeaderElectionRecord{LeaderTransitions: rec.LeaderTransitions, LeaseDurationSeconds: 1, RenewTime: now, AcquireTime: now})
}
