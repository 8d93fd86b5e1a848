package tapp

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"

	appsv1 "github.com/kstack/kstack/addonapi/apps/v1"
	"github.com/kstack/kstack/internal/clock"
)

// GVR is the TApp resource.
var GVR = appsv1.GroupVersion.WithResource("tapps")

// Controller makes one member's TApps' pods match their specs.
type Controller struct {
	Client   kubernetes.Interface
	Dynamic  dynamic.Interface
	Recorder record.EventRecorder
	Log      *slog.Logger
	// Nodes looks a node up (a lister's); nil: nodes are not watched and
	// no instance is migrated.
	Nodes func(name string) (*corev1.Node, error)
	// Clock tells how long a node has been lost (nil: the real clock).
	Clock clock.Clock
}

func (c *Controller) now() time.Time {
	if c.Clock == nil {
		return time.Now()
	}
	return c.Clock.Now()
}

// PodName is instance id's pod.
func PodName(tapp string, id int) string { return fmt.Sprintf("%s-%d", tapp, id) }

// Sync brings one TApp's pods a step closer to its spec and writes its
// status; it is called again as pods change.
func (c *Controller) Sync(ctx context.Context, u *unstructured.Unstructured) error {
	var t appsv1.TApp
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &t); err != nil {
		return fmt.Errorf("decoding TApp %s/%s: %w", u.GetNamespace(), u.GetName(), err)
	}
	if !t.DeletionTimestamp.IsZero() {
		return nil // its pods go with it (owner references)
	}
	hashes, err := HashTemplates(&t.Spec)
	if err != nil {
		return err
	}
	list, err := c.Client.CoreV1().Pods(t.Namespace).List(ctx, metav1.ListOptions{LabelSelector: LabelTApp + "=" + t.Name})
	if err != nil {
		return err
	}
	pods, byID := map[int]Pod{}, map[int]*corev1.Pod{}
	for i := range list.Items {
		p := &list.Items[i]
		id, err := strconv.Atoi(p.Labels[LabelInstance])
		if err != nil || p.Name != PodName(t.Name, id) || !metav1.IsControlledBy(p, &t) {
			continue // not one of its instances' pods
		}
		pods[id], byID[id] = podOf(p), p
	}
	gone, err := c.migrate(ctx, &t, u, byID)
	if err != nil {
		return err
	}
	for _, id := range gone {
		delete(pods, id)
		delete(byID, id)
	}
	for id, p := range byID {
		if err := c.finishInPlace(ctx, p); err != nil {
			return fmt.Errorf("instance %s: %w", PodName(t.Name, id), err)
		}
	}
	for _, a := range Plan(&t.Spec, hashes, pods) {
		if err := c.do(ctx, &t, u, a, hashes, byID[a.ID]); err != nil {
			return fmt.Errorf("instance %s: %w", PodName(t.Name, a.ID), err)
		}
	}
	return c.writeStatus(ctx, &t, u, hashes, pods)
}

func podOf(p *corev1.Pod) Pod {
	ready := false
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			ready = true
		}
	}
	inPlace := p.Annotations[AnnotationInPlace] != ""
	// A pod whose in-place update the kubelet has not shown yet is not
	// available: it counts against maxUnavailable.
	return Pod{Template: p.Labels[LabelTemplate], SpecHash: p.Labels[LabelSpecHash], ImageHash: p.Labels[LabelImageHash],
		Ready: ready && !inPlace, Deleting: p.DeletionTimestamp != nil, InPlace: inPlace, Phase: p.Status.Phase}
}

// templateOf is the pod template named name.
func templateOf(t *appsv1.TApp, name string) corev1.PodTemplateSpec {
	if name == appsv1.DefaultTemplateName {
		return t.Spec.Template
	}
	return t.Spec.TemplatePool[name].PodTemplateSpec
}

func (c *Controller) do(ctx context.Context, t *appsv1.TApp, u *unstructured.Unstructured, a Action, hashes Hashes, cur *corev1.Pod) error {
	name := PodName(t.Name, a.ID)
	pods := c.Client.CoreV1().Pods(t.Namespace)
	switch a.Op {
	case Create:
		if err := c.ensureClaims(ctx, t, a.ID); err != nil {
			c.Recorder.Eventf(u, corev1.EventTypeWarning, "FailedCreate", "Instance: %s: %v", name, err)
			return err
		}
		pod := c.newPod(t, a.ID, a.Template, hashes[a.Template])
		if _, err := pods.Create(ctx, pod, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			c.Recorder.Eventf(u, corev1.EventTypeWarning, "FailedCreate", "Instance: %s: %v", name, err)
			return err
		}
		c.Recorder.Eventf(u, corev1.EventTypeNormal, "SuccessfulCreate", "Instance: %s", name)
	case Delete, Recreate:
		opts := metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &cur.UID}}
		if t.Spec.ForceDeletePod {
			opts.GracePeriodSeconds = new(int64)
		}
		if err := pods.Delete(ctx, name, opts); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		if a.Op == Recreate {
			c.Recorder.Eventf(u, corev1.EventTypeNormal, "SuccessfulUpdate", "Instance: %s (recreated: its template changed beyond images)", name)
		} else {
			c.Recorder.Eventf(u, corev1.EventTypeNormal, "SuccessfulDelete", "Instance: %s", name)
		}
	case UpdateInPlace:
		patch, err := imagePatch(cur, templateOf(t, a.Template), a.Template, hashes[a.Template][1])
		if err != nil {
			return err
		}
		if _, err := pods.Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
			c.Recorder.Eventf(u, corev1.EventTypeWarning, "FailedUpdate", "Instance: %s: %v", name, err)
			return err
		}
		c.Recorder.Eventf(u, corev1.EventTypeNormal, "SuccessfulUpdate", "Instance: %s", name)
	}
	return nil
}

// newPod is instance id's pod on template name.
func (c *Controller) newPod(t *appsv1.TApp, id int, name string, h [2]string) *corev1.Pod {
	tmpl := templateOf(t, name)
	labels := map[string]string{}
	for k, v := range tmpl.Labels {
		labels[k] = v
	}
	labels[LabelTApp], labels[LabelInstance], labels[LabelTemplate] = t.Name, strconv.Itoa(id), name
	labels[LabelSpecHash], labels[LabelImageHash] = h[0], h[1]
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: PodName(t.Name, id), Namespace: t.Namespace, Labels: labels, Annotations: tmpl.Annotations,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(t, appsv1.GroupVersion.WithKind("TApp"))}},
		Spec: *tmpl.Spec.DeepCopy(),
	}
	// A fixed identity, as a StatefulSet's pods have.
	if pod.Spec.Hostname == "" {
		pod.Spec.Hostname = pod.Name
	}
	// The instance's claims, in place of template volumes of their names.
	for _, claim := range t.Spec.VolumeClaimTemplates {
		vols := pod.Spec.Volumes[:0]
		for _, v := range pod.Spec.Volumes {
			if v.Name != claim.Name {
				vols = append(vols, v)
			}
		}
		pod.Spec.Volumes = append(vols, corev1.Volume{Name: claim.Name, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: ClaimName(claim.Name, t.Name, id)}}})
	}
	return pod
}

// ClaimName is instance id's claim of volumeClaimTemplate claim, named as a
// StatefulSet's.
func ClaimName(claim, tapp string, id int) string { return fmt.Sprintf("%s-%s-%d", claim, tapp, id) }

// ensureClaims makes instance id's claims that do not exist yet. They are
// not owned by the TApp: as a StatefulSet's, they stay when it goes, and an
// instance that comes back gets its data back.
func (c *Controller) ensureClaims(ctx context.Context, t *appsv1.TApp, id int) error {
	for _, claim := range t.Spec.VolumeClaimTemplates {
		labels := map[string]string{}
		for k, v := range claim.Labels {
			labels[k] = v
		}
		labels[LabelTApp], labels[LabelInstance] = t.Name, strconv.Itoa(id)
		pvc := &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: ClaimName(claim.Name, t.Name, id), Namespace: t.Namespace, Labels: labels, Annotations: claim.Annotations},
			Spec:       *claim.Spec.DeepCopy(),
		}
		_, err := c.Client.CoreV1().PersistentVolumeClaims(t.Namespace).Create(ctx, pvc, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("claim %s: %w", pvc.Name, err)
		}
	}
	return nil
}

// imagePatch sets the images of cur's containers to the template's (by
// container name) and relabels the pod: nothing else of the pod changes.
func imagePatch(cur *corev1.Pod, tmpl corev1.PodTemplateSpec, name, imageHash string) ([]byte, error) {
	want := map[string]string{}
	for _, list := range [][]corev1.Container{tmpl.Spec.InitContainers, tmpl.Spec.Containers} {
		for _, ctr := range list {
			want[ctr.Name] = ctr.Image
		}
	}
	var containers []map[string]string
	for _, ctr := range cur.Spec.Containers {
		if img, ok := want[ctr.Name]; ok && img != ctr.Image {
			containers = append(containers, map[string]string{"name": ctr.Name, "image": img})
		}
	}
	return json.Marshal(map[string]any{
		"metadata": map[string]any{"labels": map[string]string{LabelTemplate: name, LabelImageHash: imageHash},
			"annotations": map[string]string{AnnotationInPlace: imageHash}},
		"spec": map[string]any{"containers": containers},
	})
}

// writeStatus computes the status from the pods seen at the start of the
// sync (the next sync sees what it did).
func (c *Controller) writeStatus(ctx context.Context, t *appsv1.TApp, u *unstructured.Unstructured, hashes Hashes, pods map[int]Pod) error {
	st := appsv1.TAppStatus{ObservedGeneration: t.Generation, Statuses: map[string]appsv1.InstanceStatus{}}
	sel := t.Spec.Selector
	if sel == nil {
		sel = &metav1.LabelSelector{MatchLabels: t.Spec.Template.Labels}
	}
	if s, err := metav1.LabelSelectorAsSelector(sel); err == nil {
		st.ScaleLabelSelector = s.String()
	}
	counts := map[appsv1.InstanceStatus]int{}
	for id := 0; id < int(t.Spec.Replicas); id++ {
		s := instanceStatus(&t.Spec, hashes, id, pods)
		st.Statuses[strconv.Itoa(id)] = s
		counts[s]++
		if p, ok := pods[id]; ok {
			st.Replicas++
			if p.Ready {
				st.ReadyReplicas++
			}
		}
	}
	n := int(t.Spec.Replicas)
	switch {
	case n > 0 && counts[appsv1.InstanceKilled] == n:
		st.AppStatus = appsv1.AppKilled
	case counts[appsv1.InstanceFailed] > 0:
		st.AppStatus = appsv1.AppFailed
	case n > 0 && counts[appsv1.InstanceSucc]+counts[appsv1.InstanceKilled] == n && counts[appsv1.InstanceSucc] > 0:
		st.AppStatus = appsv1.AppSucc
	case counts[appsv1.InstanceRunning]+counts[appsv1.InstanceKilled]+counts[appsv1.InstanceSucc] == n:
		st.AppStatus = appsv1.AppRunning
	default:
		st.AppStatus = appsv1.AppPending
	}
	if equality.Semantic.DeepEqual(st, t.Status) {
		return nil
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&st)
	if err != nil {
		return err
	}
	out := u.DeepCopy()
	out.Object["status"] = m
	_, err = c.Dynamic.Resource(GVR).Namespace(t.Namespace).UpdateStatus(ctx, out, metav1.UpdateOptions{})
	return err
}

// instanceStatus is what instance id is doing, as the seed names it.
func instanceStatus(spec *appsv1.TAppSpec, hashes Hashes, id int, pods map[int]Pod) appsv1.InstanceStatus {
	p, ok := pods[id]
	killed := Killed(spec, id)
	switch {
	case !ok && killed:
		return appsv1.InstanceKilled
	case !ok:
		return appsv1.InstanceNotCreated
	case p.Deleting && killed:
		return appsv1.InstanceKilling
	case p.Deleting || killed:
		return appsv1.InstanceUpdating
	}
	switch p.Phase {
	case corev1.PodSucceeded:
		return appsv1.InstanceSucc
	case corev1.PodFailed:
		return appsv1.InstanceFailed
	case corev1.PodPending:
		return appsv1.InstancePending
	case corev1.PodRunning:
		h := hashes[TemplateOf(spec, id)]
		if p.Template != TemplateOf(spec, id) || p.SpecHash != h[0] || p.ImageHash != h[1] || p.InPlace {
			return appsv1.InstanceUpdating
		}
		return appsv1.InstanceRunning
	}
	return appsv1.InstanceUnknown
}

// finishInPlace removes the in-place mark of a pod whose container
// statuses show the images of its spec (the kubelet restarted them).
func (c *Controller) finishInPlace(ctx context.Context, p *corev1.Pod) error {
	if p.Annotations[AnnotationInPlace] == "" || !imagesShown(p) {
		return nil
	}
	patch := []byte(`{"metadata":{"annotations":{"` + AnnotationInPlace + `":null}}}`)
	_, err := c.Client.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	return err
}

// imagesShown: every container's status has its spec's image (a kubelet
// may show it qualified: docker.io/library/nginx:latest for nginx:latest).
func imagesShown(p *corev1.Pod) bool {
	status := map[string]string{}
	for _, s := range p.Status.ContainerStatuses {
		status[s.Name] = s.Image
	}
	for _, ctr := range p.Spec.Containers {
		got := status[ctr.Name]
		if got != ctr.Image && !strings.HasSuffix(got, "/"+ctr.Image) {
			return false
		}
	}
	return true
}
