package cronhpa

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	fakediscovery "k8s.io/client-go/discovery/fake"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	extv1 "github.com/kstack/kstack/addonapi/extensions/v1"
)

var (
	deployGVR = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	cmGVR     = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
)

// fixedClock stands still at now; At only records.
type fixedClock struct {
	now  time.Time
	next time.Time
}

func (c *fixedClock) Now() time.Time { return c.now }
func (c *fixedClock) At(t time.Time, _ func()) func() {
	c.next = t
	return func() {}
}

type fixture struct {
	c       *Controller
	dyn     *dynamicfake.FakeDynamicClient
	indexer cache.Indexer
	clock   *fixedClock
	events  *record.FakeRecorder
}

func newFixture(t *testing.T, now time.Time, objs ...runtime.Object) *fixture {
	t.Helper()
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		GVR: "CronHPAList", deployGVR: "DeploymentList", cmGVR: "ConfigMapList"}, objs...)
	disc := &fakediscovery.FakeDiscovery{Fake: &k8stesting.Fake{Resources: []*metav1.APIResourceList{
		{GroupVersion: "apps/v1", APIResources: []metav1.APIResource{{Name: "deployments", Kind: "Deployment", Namespaced: true}, {Name: "deployments/scale", Kind: "Scale", Namespaced: true}}},
		{GroupVersion: "v1", APIResources: []metav1.APIResource{{Name: "configmaps", Kind: "ConfigMap", Namespaced: true}}},
	}}}
	ck := &fixedClock{now: now}
	ev := record.NewFakeRecorder(100)
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	c := &Controller{Dynamic: dyn, Discovery: disc, Clock: ck, Recorder: ev, Log: testLog(t),
		lister: cache.NewGenericLister(indexer, GVR.GroupResource()), timers: map[string]func(){},
		queue: workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]())}
	t.Cleanup(c.queue.ShutDown)
	return &fixture{c: c, dyn: dyn, indexer: indexer, clock: ck, events: ev}
}

func deployment(name string, replicas int64) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": name, "namespace": "web"}, "spec": map[string]any{"replicas": replicas}}}
}

func cronHPA(t *testing.T, created time.Time, last *time.Time, tz string, kind string, crons ...extv1.Cron) *unstructured.Unstructured {
	t.Helper()
	apiVersion := "apps/v1"
	if kind == "ConfigMap" {
		apiVersion = "v1"
	}
	h := &extv1.CronHPA{
		TypeMeta:   metav1.TypeMeta{APIVersion: extv1.GroupVersion.String(), Kind: "CronHPA"},
		ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: "web", CreationTimestamp: metav1.Time{Time: created}, Generation: 1},
		Spec:       extv1.CronHPASpec{Crons: crons, TimeZone: tz},
	}
	h.Spec.ScaleTargetRef.APIVersion, h.Spec.ScaleTargetRef.Kind, h.Spec.ScaleTargetRef.Name = apiVersion, kind, "shop"
	if last != nil {
		h.Status.LastScheduleTime = &metav1.Time{Time: *last}
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(h)
	if err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: m}
}

// sync runs one sync of the CronHPA u (stored and in the lister) and
// returns it as stored after.
func (f *fixture) sync(t *testing.T, u *unstructured.Unstructured) (*extv1.CronHPA, time.Duration) {
	t.Helper()
	ctx := context.Background()
	if _, err := f.dyn.Resource(GVR).Namespace("web").Get(ctx, "shop", metav1.GetOptions{}); err != nil {
		if _, err := f.dyn.Resource(GVR).Namespace("web").Create(ctx, u, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	stored, _ := f.dyn.Resource(GVR).Namespace("web").Get(ctx, "shop", metav1.GetOptions{})
	if err := f.indexer.Update(stored); err != nil {
		t.Fatal(err)
	}
	retry, err := f.c.sync(ctx, "web/shop")
	if err != nil {
		t.Fatal(err)
	}
	after, err := f.dyn.Resource(GVR).Namespace("web").Get(ctx, "shop", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var h extv1.CronHPA
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(after.Object, &h); err != nil {
		t.Fatal(err)
	}
	return &h, retry
}

func (f *fixture) replicas(t *testing.T) int64 {
	t.Helper()
	d, err := f.dyn.Resource(deployGVR).Namespace("web").Get(context.Background(), "shop", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n, _, _ := unstructured.NestedInt64(d.Object, "spec", "replicas")
	return n
}

func condition(h *extv1.CronHPA, typ string) metav1.Condition {
	for _, c := range h.Status.Conditions {
		if c.Type == typ {
			return c
		}
	}
	return metav1.Condition{}
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// The seed's daily example: 8:00 -> 60, 9:00 -> 10, 19:00 -> 60, 21:00 -> 10.
var daily = []extv1.Cron{{Schedule: "0 8 * * *", TargetReplicas: 60}, {Schedule: "0 9 * * *", TargetReplicas: 10},
	{Schedule: "0 19 * * *", TargetReplicas: 60}, {Schedule: "0 21 * * *", TargetReplicas: 10}}

func TestScalesAtTheScheduledMinute(t *testing.T) {
	created := at("2026-12-01T07:00:00Z")
	f := newFixture(t, at("2026-12-01T07:59:30Z"), deployment("shop", 2))
	h, _ := f.sync(t, cronHPA(t, created, nil, "", "Deployment", daily...))
	if f.replicas(t) != 2 || h.Status.LastScheduleTime != nil {
		t.Fatalf("scaled before 8:00: %d replicas, last %v", f.replicas(t), h.Status.LastScheduleTime)
	}
	if !f.clock.next.Equal(at("2026-12-01T08:00:00Z")) {
		t.Fatalf("next wake-up %v, want 8:00", f.clock.next)
	}
	f.clock.now = at("2026-12-01T08:00:01Z")
	h, _ = f.sync(t, nil)
	if f.replicas(t) != 60 || !h.Status.LastScheduleTime.Time.Equal(at("2026-12-01T08:00:00Z")) {
		t.Fatalf("at 8:00: %d replicas, last %v", f.replicas(t), h.Status.LastScheduleTime)
	}
	if c := condition(h, CondScaled); c.Reason != ReasonScaled || !strings.Contains(c.Message, "60 replicas") {
		t.Fatalf("Scaled condition %+v", c)
	}
	if ev := <-f.events.Events; !strings.Contains(ev, "SuccessfulRescale New size: 60") {
		t.Fatalf("event %q", ev)
	}
	// A user scales by hand; nothing fires again until 9:00.
	if _, err := f.dyn.Resource(deployGVR).Namespace("web").Update(context.Background(), deployment("shop", 3), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.clock.now = at("2026-12-01T08:30:00Z")
	f.sync(t, nil)
	if f.replicas(t) != 3 {
		t.Fatalf("the 8:00 schedule was applied twice: %d replicas", f.replicas(t))
	}
}

func TestMissedSchedulesApplyTheLatestOnce(t *testing.T) {
	last := at("2026-12-01T07:00:00Z")
	// Down from 7:00 to 20:30: 8:00, 9:00 and 19:00 were missed.
	f := newFixture(t, at("2026-12-01T20:30:00Z"), deployment("shop", 5))
	h, _ := f.sync(t, cronHPA(t, last.Add(-time.Hour), &last, "", "Deployment", daily...))
	if f.replicas(t) != 60 || !h.Status.LastScheduleTime.Time.Equal(at("2026-12-01T19:00:00Z")) {
		t.Fatalf("after the restart: %d replicas, last %v; want the 19:00 schedule's 60", f.replicas(t), h.Status.LastScheduleTime)
	}
	n := 0
	for len(f.events.Events) > 0 {
		if strings.Contains(<-f.events.Events, "SuccessfulRescale") {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d rescales, want 1 (no replay)", n)
	}
}

func TestTimeZoneAndSundayAsSeven(t *testing.T) {
	// "0 23 * * 7" in Asia/Shanghai: Sunday 2026-12-06 23:00 +08:00 = 15:00 UTC.
	f := newFixture(t, at("2026-12-06T15:00:30Z"), deployment("shop", 60))
	h, _ := f.sync(t, cronHPA(t, at("2026-12-05T00:00:00Z"), nil, "Asia/Shanghai", "Deployment", extv1.Cron{Schedule: "0 23 * * 7", TargetReplicas: 30}))
	if f.replicas(t) != 30 || !h.Status.LastScheduleTime.Time.Equal(at("2026-12-06T15:00:00Z")) {
		t.Fatalf("%d replicas, last %v", f.replicas(t), h.Status.LastScheduleTime)
	}
}

func TestBadInput(t *testing.T) {
	created := at("2026-12-01T07:00:00Z")
	for _, tt := range []struct {
		what, tz, kind, schedule, reason, want string
	}{
		{"invalid cron", "", "Deployment", "61 * * * *", ReasonInvalidSchedule, `spec.crons[0].schedule: schedule "61 * * * *"`},
		{"four fields", "", "Deployment", "0 8 * *", ReasonInvalidSchedule, "has 4 fields, want 5"},
		{"unknown time zone", "Mars/Olympus", "Deployment", "0 8 * * *", ReasonInvalidTimeZone, `spec.timeZone: unknown time zone "Mars/Olympus"`},
		{"no scale subresource", "", "ConfigMap", "0 8 * * *", ReasonNoScaleSubresource, "v1 ConfigMap has no scale subresource"},
	} {
		t.Run(tt.what, func(t *testing.T) {
			f := newFixture(t, at("2026-12-01T08:00:30Z"), deployment("shop", 2))
			h, _ := f.sync(t, cronHPA(t, created, nil, tt.tz, tt.kind, extv1.Cron{Schedule: tt.schedule, TargetReplicas: 9}))
			c := condition(h, CondValid)
			if c.Status != metav1.ConditionFalse || c.Reason != tt.reason || !strings.Contains(c.Message, tt.want) {
				t.Fatalf("Valid condition %+v, want %s with %q", c, tt.reason, tt.want)
			}
			if f.replicas(t) != 2 || h.Status.LastScheduleTime != nil {
				t.Fatalf("scaled anyway: %d, %v", f.replicas(t), h.Status.LastScheduleTime)
			}
			if ev := <-f.events.Events; !strings.Contains(ev, "Warning "+tt.reason) {
				t.Fatalf("event %q", ev)
			}
		})
	}
}

func TestMissingTargetAppliesWhenItAppears(t *testing.T) {
	f := newFixture(t, at("2026-12-01T08:00:30Z"))
	h, retry := f.sync(t, cronHPA(t, at("2026-12-01T07:00:00Z"), nil, "", "Deployment", daily...))
	if c := condition(h, CondScaled); c.Reason != ReasonTargetNotFound || !strings.Contains(c.Message, "Deployment shop does not exist (yet)") {
		t.Fatalf("Scaled condition %+v", c)
	}
	if h.Status.LastScheduleTime != nil || retry <= 0 {
		t.Fatalf("the 8:00 firing was marked done without a target (last %v, retry %v)", h.Status.LastScheduleTime, retry)
	}
	if _, err := f.dyn.Resource(deployGVR).Namespace("web").Create(context.Background(), deployment("shop", 1), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.clock.now = at("2026-12-01T08:05:00Z")
	h, _ = f.sync(t, nil)
	if f.replicas(t) != 60 || !h.Status.LastScheduleTime.Time.Equal(at("2026-12-01T08:00:00Z")) {
		t.Fatalf("once the target appeared: %d replicas, last %v", f.replicas(t), h.Status.LastScheduleTime)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

func testLog(t *testing.T) *slog.Logger { return slog.New(slog.NewTextHandler(testWriter{t}, nil)) }
