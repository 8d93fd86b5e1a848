package alarmsilence

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	monitorv1 "github.com/kstack/kstack/api/monitor/v1"
)

func TestGC(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	sch := runtime.NewScheme()
	_ = monitorv1.AddToScheme(sch)
	c := fake.NewClientBuilder().WithScheme(sch).WithObjects(
		silence("prj-a", "ended-8d", "default", now.Add(-9*day), now.Add(-8*day)),
		silence("prj-a", "ended-6d", "default", now.Add(-7*day), now.Add(-6*day)),
		silence("prj-b", "active", "default", now.Add(-day), now.Add(day)),
		silence("kstack-system", "ended-30d", "t1", now.Add(-31*day), now.Add(-30*day)),
	).Build()
	g := &GC{Client: c, Now: func() time.Time { return now }}
	if !g.NeedLeaderElection() {
		t.Fatal("the GC runs on every replica")
	}
	n, err := g.Collect(context.Background())
	if err != nil || n != 2 {
		t.Fatalf("deleted %d, %v; want 2", n, err)
	}
	var list monitorv1.AlarmSilenceList
	if err := c.List(context.Background(), &list); err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, s := range list.Items {
		left = append(left, s.Namespace+"/"+s.Name)
	}
	if len(left) != 2 || left[0] != "prj-a/ended-6d" || left[1] != "prj-b/active" {
		t.Fatalf("left %v", left)
	}
	// Start collects at once, then every Every, until ctx ends.
	g.Now = func() time.Time { return now.Add(2 * day) }
	g.Every = 10 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- g.Start(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := c.Get(context.Background(), types.NamespacedName{Namespace: "prj-a", Name: "ended-6d"}, &monitorv1.AlarmSilence{})
		if apierrors.IsNotFound(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Start did not collect")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestMuterListsOncePerWindow: a flush asks about each alert; the silences
// are listed once per CacheFor, not once per alert.
func TestMuterListsOncePerWindow(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	sch := runtime.NewScheme()
	_ = monitorv1.AddToScheme(sch)
	var lists atomic.Int32
	c := fake.NewClientBuilder().WithScheme(sch).WithObjects(
		silence("prj-a", "all", "default", now.Add(-time.Hour), now.Add(time.Hour), monitorv1.Matcher{Name: "pod", Value: "web-1"}),
	).WithInterceptorFuncs(interceptor.Funcs{
		List: func(ctx context.Context, c client.WithWatch, l client.ObjectList, o ...client.ListOption) error {
			lists.Add(1)
			return c.List(ctx, l, o...)
		},
	}).Build()
	clock := now
	m := &Muter{Client: c, Now: func() time.Time { return clock }}
	for i := 0; i < 100; i++ {
		if !m.Mutes(context.Background(), lset("prj-a/p", "default", "pod", "web-1")) || m.Mutes(context.Background(), lset("prj-a/p", "default", "pod", "web-2")) {
			t.Fatal("wrong answer from the cached list")
		}
	}
	if n := lists.Load(); n != 1 {
		t.Fatalf("listed %d times for 200 alerts", n)
	}
	// A new silence shows after the window.
	if err := c.Create(context.Background(), silence("prj-a", "two", "default", now.Add(-time.Hour), now.Add(time.Hour), monitorv1.Matcher{Name: "pod", Value: "web-2"})); err != nil {
		t.Fatal(err)
	}
	clock = now.Add(DefaultCacheFor)
	if !m.Mutes(context.Background(), lset("prj-a/p", "default", "pod", "web-2")) || lists.Load() != 2 {
		t.Fatalf("after the window: listed %d times", lists.Load())
	}
}
