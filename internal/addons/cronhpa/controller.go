package cronhpa

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	extv1 "github.com/kstack/kstack/addonapi/extensions/v1"
	"github.com/kstack/kstack/internal/addons"
	"github.com/kstack/kstack/internal/clock"
	"github.com/kstack/kstack/internal/cronschedule"
)

// GVR is the CronHPA resource.
var GVR = extv1.GroupVersion.WithResource("cronhpas")

// Conditions and reasons of a CronHPA's status.
const (
	CondValid  = "Valid"
	CondScaled = "Scaled"

	ReasonInvalidSchedule    = "InvalidSchedule"
	ReasonInvalidTimeZone    = "InvalidTimeZone"
	ReasonNoScaleSubresource = "NoScaleSubresource"
	ReasonTargetKindUnknown  = "TargetKindUnknown"
	ReasonTargetNotFound     = "TargetNotFound"
	ReasonScaled             = "Scaled"
	ReasonScaleFailed        = "ScaleFailed"
	ReasonValid              = "Valid"
)

// retryMissing is how often a CronHPA whose target is missing (or whose
// kind is not served yet) looks again: the firing applies once it appears.
var retryMissing = 5 * time.Second

// Controller scales the targets of one member's CronHPAs.
type Controller struct {
	Dynamic   dynamic.Interface
	Discovery discovery.DiscoveryInterface
	Clock     clock.Clock
	Recorder  record.EventRecorder
	Log       *slog.Logger

	lister cache.GenericLister
	queue  workqueue.TypedRateLimitingInterface[string]
	mu     sync.Mutex
	timers map[string]func()
}

// Run is the add-on's controller for member m.
func Run(ctx context.Context, m addons.Member) error {
	cl, err := addons.NewClients(ctx, m, "kstack-cronhpa")
	if err != nil {
		return err
	}
	defer cl.Close()
	c := &Controller{Dynamic: cl.Dynamic, Discovery: cl.Kube.Discovery(), Clock: m.Clock, Recorder: cl.Recorder,
		Log: m.Log.With("addon", "CronHPA", "cluster", m.Cluster)}
	return c.Run(ctx)
}

// Run watches the member's CronHPAs and works until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	c.timers = map[string]func(){}
	c.queue = addons.NewQueue()
	defer c.queue.ShutDown()
	f := dynamicinformer.NewDynamicSharedInformerFactory(c.Dynamic, 10*time.Minute)
	inf := f.ForResource(GVR)
	c.lister = inf.Lister()
	if _, err := inf.Informer().AddEventHandler(addons.Enqueue(c.queue)); err != nil {
		return err
	}
	f.Start(ctx.Done())
	defer f.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), inf.Informer().HasSynced) {
		return ctx.Err()
	}
	c.Log.Info("CronHPA controller synced")
	defer c.stopTimers()
	addons.Work(ctx, c.queue, c.Log, c.sync)
	return nil
}

func (c *Controller) stopTimers() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, stop := range c.timers {
		stop()
		delete(c.timers, k)
	}
}

// wakeAt enqueues key when the clock reaches t (replacing its earlier wake).
func (c *Controller) wakeAt(key string, t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if stop, ok := c.timers[key]; ok {
		stop()
		delete(c.timers, key)
	}
	if t.IsZero() {
		return
	}
	c.timers[key] = c.Clock.At(t, func() { c.queue.Add(key) })
}

// Parse reads a CronHPA's schedules in its time zone; the error names the
// field and says what is wrong (reason is the condition's reason).
func Parse(spec *extv1.CronHPASpec) (schedules []*cronschedule.Schedule, reason string, err error) {
	loc, err := cronschedule.LoadZone(spec.TimeZone)
	if err != nil {
		return nil, ReasonInvalidTimeZone, fmt.Errorf("spec.timeZone: %w", err)
	}
	if len(spec.Crons) == 0 {
		return nil, ReasonInvalidSchedule, fmt.Errorf("spec.crons: give at least one schedule with its targetReplicas")
	}
	for i, cr := range spec.Crons {
		s, err := cronschedule.Parse(cr.Schedule, loc)
		if err != nil {
			return nil, ReasonInvalidSchedule, fmt.Errorf("spec.crons[%d].schedule: %w", i, err)
		}
		if cr.TargetReplicas < 0 {
			return nil, ReasonInvalidSchedule, fmt.Errorf("spec.crons[%d].targetReplicas: %d is negative", i, cr.TargetReplicas)
		}
		schedules = append(schedules, s)
	}
	return schedules, "", nil
}

// sync brings one CronHPA up to date: it applies the latest firing since
// status.lastScheduleTime (none replayed), records it, and sets the wake-up
// for the next one. retry > 0 asks to be looked at again after it (real
// time), for a target that is not there yet.
func (c *Controller) sync(ctx context.Context, key string) (retry time.Duration, err error) {
	obj, err := c.lister.Get(key)
	if apierrors.IsNotFound(err) {
		c.wakeAt(key, time.Time{})
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	u := obj.(*unstructured.Unstructured)
	var hpa extv1.CronHPA
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &hpa); err != nil {
		return 0, fmt.Errorf("decoding %s: %w", key, err)
	}
	if !hpa.DeletionTimestamp.IsZero() {
		c.wakeAt(key, time.Time{})
		return 0, nil
	}
	st := hpa.Status.DeepCopy()
	st.ObservedGeneration = hpa.Generation
	now := c.Clock.Now()
	schedules, reason, perr := Parse(&hpa.Spec)
	if perr != nil {
		c.wakeAt(key, time.Time{})
		return 0, c.setStatus(ctx, u, &hpa, st, metav1.Condition{Type: CondValid, Status: metav1.ConditionFalse, Reason: reason, Message: perr.Error()})
	}
	c.wakeAt(key, cronschedule.NextAny(schedules, now))
	after := hpa.CreationTimestamp.Time
	if st.LastScheduleTime != nil {
		after = st.LastScheduleTime.Time
	}
	due, ok := cronschedule.Due(schedules, after, now)
	if !ok {
		return 0, c.setStatus(ctx, u, &hpa, st, validCondition(&hpa))
	}
	cr := hpa.Spec.Crons[due.Index]
	gvr, reason, terr := c.scaleResource(hpa.Spec.ScaleTargetRef.APIVersion, hpa.Spec.ScaleTargetRef.Kind)
	if terr != nil {
		// A kind that is not served yet may come (an add-on installed
		// later); one without a scale subresource needs a new spec.
		retry = retryMissing
		if reason == ReasonNoScaleSubresource {
			retry = time.Minute
		}
		return retry, c.setStatus(ctx, u, &hpa, st, metav1.Condition{Type: CondValid, Status: metav1.ConditionFalse, Reason: reason, Message: terr.Error()})
	}
	target := fmt.Sprintf("%s %s", hpa.Spec.ScaleTargetRef.Kind, hpa.Spec.ScaleTargetRef.Name)
	scale, err := c.Dynamic.Resource(gvr).Namespace(hpa.Namespace).Get(ctx, hpa.Spec.ScaleTargetRef.Name, metav1.GetOptions{}, "scale")
	if apierrors.IsNotFound(err) {
		meta.SetStatusCondition(&st.Conditions, validCondition(&hpa))
		return retryMissing, c.setStatus(ctx, u, &hpa, st, metav1.Condition{Type: CondScaled, Status: metav1.ConditionFalse, Reason: ReasonTargetNotFound,
			Message: fmt.Sprintf("%s does not exist (yet): the schedule %q of %s (%d replicas) applies when it appears", target, cr.Schedule, due.At.UTC().Format(time.RFC3339), cr.TargetReplicas)})
	}
	if err != nil {
		return 0, fmt.Errorf("reading the scale of %s: %w", target, err)
	}
	current, _, _ := unstructured.NestedInt64(scale.Object, "spec", "replicas")
	if current != int64(cr.TargetReplicas) {
		patch := fmt.Appendf(nil, `{"spec":{"replicas":%d}}`, cr.TargetReplicas)
		if _, err := c.Dynamic.Resource(gvr).Namespace(hpa.Namespace).Patch(ctx, hpa.Spec.ScaleTargetRef.Name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "kstack-cronhpa"}, "scale"); err != nil {
			c.Recorder.Eventf(u, corev1.EventTypeWarning, "FailedRescale", "scaling %s to %d: %v", target, cr.TargetReplicas, err)
			meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: CondScaled, Status: metav1.ConditionFalse, Reason: ReasonScaleFailed, Message: err.Error()})
			return 0, errors.Join(fmt.Errorf("scaling %s: %w", target, err), c.writeStatus(ctx, u, &hpa, st))
		}
		c.Recorder.Eventf(u, corev1.EventTypeNormal, "SuccessfulRescale", "New size: %d; reason: schedule %q at %s (was %d)", cr.TargetReplicas, cr.Schedule, due.At.UTC().Format(time.RFC3339), current)
		c.Log.Info("scaled", "cronhpa", key, "target", target, "from", current, "to", cr.TargetReplicas, "schedule", cr.Schedule, "at", due.At)
	}
	st.LastScheduleTime = &metav1.Time{Time: due.At}
	meta.SetStatusCondition(&st.Conditions, validCondition(&hpa))
	return 0, c.setStatus(ctx, u, &hpa, st, metav1.Condition{Type: CondScaled, Status: metav1.ConditionTrue, Reason: ReasonScaled,
		Message: fmt.Sprintf("%s has %d replicas, by schedule %q at %s", target, cr.TargetReplicas, cr.Schedule, due.At.UTC().Format(time.RFC3339))})
}

func validCondition(hpa *extv1.CronHPA) metav1.Condition {
	return metav1.Condition{Type: CondValid, Status: metav1.ConditionTrue, Reason: ReasonValid,
		Message: fmt.Sprintf("%d schedules in %s", len(hpa.Spec.Crons), zoneName(hpa.Spec.TimeZone))}
}

func zoneName(z string) string {
	if z == "" {
		return "UTC"
	}
	return z
}

// setStatus sets cond and writes the status if it changed; a new Valid=False
// is also told as a Warning event, once.
func (c *Controller) setStatus(ctx context.Context, u *unstructured.Unstructured, hpa *extv1.CronHPA, st *extv1.CronHPAStatus, cond metav1.Condition) error {
	cond.ObservedGeneration = hpa.Generation
	old := meta.FindStatusCondition(hpa.Status.Conditions, cond.Type)
	if cond.Status == metav1.ConditionFalse && (old == nil || old.Message != cond.Message) {
		c.Recorder.Event(u, corev1.EventTypeWarning, cond.Reason, cond.Message)
	}
	meta.SetStatusCondition(&st.Conditions, cond)
	return c.writeStatus(ctx, u, hpa, st)
}

func (c *Controller) writeStatus(ctx context.Context, u *unstructured.Unstructured, hpa *extv1.CronHPA, st *extv1.CronHPAStatus) error {
	for i := range st.Conditions {
		if st.Conditions[i].ObservedGeneration == 0 {
			st.Conditions[i].ObservedGeneration = hpa.Generation
		}
	}
	if statusEqual(&hpa.Status, st) {
		return nil
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(st)
	if err != nil {
		return err
	}
	out := u.DeepCopy()
	out.Object["status"] = m
	// The resourceVersion read makes two writers of one firing conflict
	// instead of both recording it.
	_, err = c.Dynamic.Resource(GVR).Namespace(hpa.Namespace).UpdateStatus(ctx, out, metav1.UpdateOptions{FieldManager: "kstack-cronhpa"})
	return err
}

func statusEqual(a, b *extv1.CronHPAStatus) bool {
	if a.ObservedGeneration != b.ObservedGeneration || (a.LastScheduleTime == nil) != (b.LastScheduleTime == nil) ||
		(a.LastScheduleTime != nil && !a.LastScheduleTime.Equal(b.LastScheduleTime)) || len(a.Conditions) != len(b.Conditions) {
		return false
	}
	for i := range a.Conditions {
		x, y := a.Conditions[i], b.Conditions[i]
		if x.Type != y.Type || x.Status != y.Status || x.Reason != y.Reason || x.Message != y.Message || x.ObservedGeneration != y.ObservedGeneration {
			return false
		}
	}
	return true
}

// scaleResource finds the target kind's resource and checks that it has a
// scale subresource.
func (c *Controller) scaleResource(apiVersion, kind string) (schema.GroupVersionResource, string, error) {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil || apiVersion == "" || kind == "" {
		return schema.GroupVersionResource{}, ReasonTargetKindUnknown, fmt.Errorf("spec.scaleTargetRef: give apiVersion and kind, e.g. apps/v1 Deployment (got %q %q)", apiVersion, kind)
	}
	list, err := c.Discovery.ServerResourcesForGroupVersion(gv.String())
	if err != nil {
		return schema.GroupVersionResource{}, ReasonTargetKindUnknown, fmt.Errorf("spec.scaleTargetRef: the cluster does not serve %s (%v); the schedule applies once it does", apiVersion, err)
	}
	var name string
	for _, r := range list.APIResources {
		if r.Kind == kind && !strings.Contains(r.Name, "/") {
			name = r.Name
		}
	}
	if name == "" {
		return schema.GroupVersionResource{}, ReasonTargetKindUnknown, fmt.Errorf("spec.scaleTargetRef: the cluster serves no kind %s in %s; the schedule applies once it does", kind, apiVersion)
	}
	for _, r := range list.APIResources {
		if r.Name == name+"/scale" {
			return gv.WithResource(name), "", nil
		}
	}
	return schema.GroupVersionResource{}, ReasonNoScaleSubresource, fmt.Errorf("spec.scaleTargetRef: %s %s has no scale subresource, so it cannot be scaled; "+
		"target a Deployment, StatefulSet, ReplicaSet, TApp or another kind with one", apiVersion, kind)
}

// InUse lists the member's CronHPAs.
func InUse(ctx context.Context, m addons.Member) ([]string, error) {
	return addons.ObjectsOf(ctx, m, GVR, "CronHPA")
}
