package virtualnode

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corev1listers "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
	statsv1alpha1 "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// lowerNode is one lower cluster seen as one virtual node: the
// virtual-kubelet provider (pods) and node provider (status) in one.
type lowerNode struct {
	cluster  string // the lower cluster's name, as in the node label
	nodeName string
	log      *slog.Logger

	client kubernetes.Interface
	config *rest.Config

	upper           kubernetes.Interface
	upperPods       corev1listers.PodLister // upper pods bound to this node (virtual-kubelet's informer)
	upperObjs       *upperObjects
	factory         informers.SharedInformerFactory
	pods            corev1listers.PodLister // every lower pod: capacity needs the lower cluster's own pods
	nodes           corev1listers.NodeLister
	namespaces      corev1listers.NamespaceLister
	serviceAccounts corev1listers.ServiceAccountLister
	copies          informers.SharedInformerFactory // lower objects kstack copied (label-selected)

	mu         sync.Mutex
	notifyPod  func(*corev1.Pod)
	notifyNode func(*corev1.Node)
	node       *corev1.Node // what this provider last reported
	healthy    bool
	downSince  time.Time
	failures   int
	dirty      chan struct{}
}

func newLowerNode(cluster, nodeName string, cfg *rest.Config, log *slog.Logger) (*lowerNode, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = 200, 400
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	l := &lowerNode{cluster: cluster, nodeName: nodeName, client: cs, config: cfg, log: log.With("lower", cluster),
		healthy: true, dirty: make(chan struct{}, 1)}
	l.factory = informers.NewSharedInformerFactory(cs, 0)
	l.pods = l.factory.Core().V1().Pods().Lister()
	l.nodes = l.factory.Core().V1().Nodes().Lister()
	l.namespaces = l.factory.Core().V1().Namespaces().Lister()
	l.copies = informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.LabelSelector = LabelCopy + "=true"
	}))
	_ = l.copies.Core().V1().ConfigMaps().Informer()
	_ = l.copies.Core().V1().Secrets().Informer()
	_ = l.copies.Core().V1().Services().Informer()
	_ = l.copies.Discovery().V1().EndpointSlices().Informer()
	if err := l.factory.Core().V1().Pods().Informer().SetTransform(slimLowerPod); err != nil {
		return nil, err
	}
	l.serviceAccounts = l.factory.Core().V1().ServiceAccounts().Lister()
	_, err = l.factory.Core().V1().Pods().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { l.podChanged(o) },
		UpdateFunc: func(_, o any) { l.podChanged(o) },
		DeleteFunc: func(o any) { l.podGone(o) },
	})
	if err != nil {
		return nil, err
	}
	_, err = l.factory.Core().V1().Nodes().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { l.markDirty() }, UpdateFunc: func(_, _ any) { l.markDirty() }, DeleteFunc: func(any) { l.markDirty() },
	})
	return l, err
}

// start runs the lower informers and waits until they are synced.
func (l *lowerNode) start(ctx context.Context) error {
	l.factory.Start(ctx.Done())
	l.copies.Start(ctx.Done())
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for t, ok := range l.factory.WaitForCacheSync(sctx.Done()) {
		if !ok {
			return fmt.Errorf("lower cluster %s: the %v cache did not sync within 2 minutes", l.cluster, t)
		}
	}
	for t, ok := range l.copies.WaitForCacheSync(sctx.Done()) {
		if !ok {
			return fmt.Errorf("lower cluster %s: the %v cache did not sync within 2 minutes", l.cluster, t)
		}
	}
	return nil
}

func (l *lowerNode) markDirty() {
	select {
	case l.dirty <- struct{}{}:
	default:
	}
}

func (l *lowerNode) ours(p *corev1.Pod) bool { return p.Labels[LabelNode] == l.nodeName }

// ownLowerPod returns the lower pod if this virtual node placed it.
func (l *lowerNode) ownLowerPod(namespace, name string) (*corev1.Pod, error) {
	p, err := l.pods.Pods(namespace).Get(name)
	if apierrors.IsNotFound(err) || (err == nil && !l.ours(p)) {
		return nil, errdefs.NotFoundf("pod %s/%s is not in lower cluster %s", namespace, name, l.cluster)
	}
	return p, err
}

// CreatePod creates the upper pod's copy in the lower cluster, with its
// namespace, ServiceAccount, ConfigMaps, Secrets and PVCs.
func (l *lowerNode) CreatePod(ctx context.Context, up *corev1.Pod) error {
	lp, err := LowerPod(up, l.nodeName)
	if err != nil {
		return err
	}
	if err := l.ensureNamespace(ctx, up.Namespace); err != nil {
		return err
	}
	if err := l.copyReferences(ctx, up.Namespace, PodReferences(&up.Spec)); err != nil {
		return err
	}
	_, err = l.client.CoreV1().Pods(up.Namespace).Create(ctx, lp, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		existing, gerr := l.client.CoreV1().Pods(up.Namespace).Get(ctx, up.Name, metav1.GetOptions{})
		if gerr != nil {
			return gerr
		}
		if !l.ours(existing) {
			return fmt.Errorf("lower cluster %s already has a pod %s/%s that kstack did not place; rename the pod or remove the other one", l.cluster, up.Namespace, up.Name)
		}
		if existing.Annotations[AnnotationUpperUID] == string(up.UID) {
			return nil
		}
		return l.replaceStale(ctx, existing)
	}
	if err == nil {
		l.log.Info("pod created below", "pod", up.Namespace+"/"+up.Name)
	}
	return err
}

// replaceStale deletes a lower pod left by an earlier upper pod of the same
// name (a StatefulSet pod re-created, say); the retry creates the new one.
func (l *lowerNode) replaceStale(ctx context.Context, stale *corev1.Pod) error {
	zero := int64(0)
	err := l.client.CoreV1().Pods(stale.Namespace).Delete(ctx, stale.Name, metav1.DeleteOptions{
		GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &stale.UID}})
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return fmt.Errorf("replacing the lower pod %s/%s left by an earlier pod of that name; will retry", stale.Namespace, stale.Name)
}

// UpdatePod carries the mutable fields down: labels, annotations, images,
// activeDeadlineSeconds, and added tolerations.
func (l *lowerNode) UpdatePod(ctx context.Context, up *corev1.Pod) error {
	lp, err := l.ownLowerPod(up.Namespace, up.Name)
	if errdefs.IsNotFound(err) {
		return l.CreatePod(ctx, up)
	}
	if err != nil {
		return err
	}
	if lp.Annotations[AnnotationUpperUID] != string(up.UID) {
		return l.replaceStale(ctx, lp)
	}
	want, err := LowerPod(up, l.nodeName)
	if err != nil {
		return err
	}
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := l.client.CoreV1().Pods(up.Namespace).Get(ctx, up.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Labels, cur.Annotations = want.Labels, want.Annotations
		images := map[string]string{}
		for _, c := range append(append([]corev1.Container{}, want.Spec.InitContainers...), want.Spec.Containers...) {
			images[c.Name] = c.Image
		}
		for i := range cur.Spec.InitContainers {
			cur.Spec.InitContainers[i].Image = images[cur.Spec.InitContainers[i].Name]
		}
		for i := range cur.Spec.Containers {
			cur.Spec.Containers[i].Image = images[cur.Spec.Containers[i].Name]
		}
		cur.Spec.ActiveDeadlineSeconds = want.Spec.ActiveDeadlineSeconds
		have := map[string]bool{}
		for _, t := range cur.Spec.Tolerations {
			have[t.Key+"|"+string(t.Operator)+"|"+t.Value+"|"+string(t.Effect)] = true
		}
		for _, t := range want.Spec.Tolerations {
			if !have[t.Key+"|"+string(t.Operator)+"|"+t.Value+"|"+string(t.Effect)] {
				cur.Spec.Tolerations = append(cur.Spec.Tolerations, t)
			}
		}
		_, err = l.client.CoreV1().Pods(up.Namespace).Update(ctx, cur, metav1.UpdateOptions{})
		return err
	})
}

// DeletePod deletes the lower pod with the upper pod's grace period.
func (l *lowerNode) DeletePod(ctx context.Context, up *corev1.Pod) error {
	lp, err := l.ownLowerPod(up.Namespace, up.Name)
	if err != nil {
		return err
	}
	opts := metav1.DeleteOptions{GracePeriodSeconds: up.DeletionGracePeriodSeconds, Preconditions: &metav1.Preconditions{UID: &lp.UID}}
	err = l.client.CoreV1().Pods(up.Namespace).Delete(ctx, up.Name, opts)
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return errdefs.NotFoundf("pod %s/%s is already gone from lower cluster %s", up.Namespace, up.Name, l.cluster)
	}
	return err
}

// GetPod returns the pod as virtual-kubelet should compare it with the upper
// pod: the upper pod itself when the lower copy is current, else the lower
// pod (which differs, so virtual-kubelet calls UpdatePod).
func (l *lowerNode) GetPod(_ context.Context, namespace, name string) (*corev1.Pod, error) {
	lp, err := l.ownLowerPod(namespace, name)
	if err != nil {
		return nil, err
	}
	if up, err := l.upperPods.Pods(namespace).Get(name); err == nil &&
		lp.Annotations[AnnotationUpperUID] == string(up.UID) && lp.Annotations[AnnotationUpperHash] == MutableHash(up) {
		cp := up.DeepCopy()
		cp.Status = UpperStatus(lp)
		return cp, nil
	}
	return lp.DeepCopy(), nil
}

// GetPodStatus is the lower pod's status.
func (l *lowerNode) GetPodStatus(ctx context.Context, namespace, name string) (*corev1.PodStatus, error) {
	lp, err := l.ownLowerPod(namespace, name)
	if err != nil {
		return nil, err
	}
	s := UpperStatus(lp)
	return &s, nil
}

// GetPods lists the lower pods this virtual node placed.
func (l *lowerNode) GetPods(context.Context) ([]*corev1.Pod, error) {
	sel := labels.NewSelector()
	req, err := labels.NewRequirement(LabelNode, selection.Equals, []string{l.nodeName})
	if err != nil {
		return nil, err
	}
	ps, err := l.pods.List(sel.Add(*req))
	if err != nil {
		return nil, err
	}
	out := make([]*corev1.Pod, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.DeepCopy())
	}
	return out, nil
}

// NotifyPods registers virtual-kubelet's callback: status is pushed from the
// lower pod informer, never polled.
func (l *lowerNode) NotifyPods(_ context.Context, cb func(*corev1.Pod)) {
	l.mu.Lock()
	l.notifyPod = cb
	l.mu.Unlock()
	// Replay what the informer already holds (a restart).
	if ps, err := l.GetPods(context.Background()); err == nil {
		for _, p := range ps {
			l.podChanged(p)
		}
	}
}

func (l *lowerNode) callback() func(*corev1.Pod) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.notifyPod
}

// upperFor returns the upper pod a lower pod stands for, if it still exists.
func (l *lowerNode) upperFor(lp *corev1.Pod) *corev1.Pod {
	if l.upperPods == nil {
		return nil
	}
	up, err := l.upperPods.Pods(lp.Namespace).Get(lp.Name)
	if err != nil || string(up.UID) != lp.Annotations[AnnotationUpperUID] {
		return nil
	}
	return up
}

// relayTarget handles a lower pod event: capacity is recomputed for any
// pod; for ours, it returns the lower pod, its upper pod and the callback.
func (l *lowerNode) relayTarget(o any) (lp, up *corev1.Pod, cb func(*corev1.Pod), ok bool) {
	if t, isTomb := o.(cache.DeletedFinalStateUnknown); isTomb {
		o = t.Obj
	}
	lp, isPod := o.(*corev1.Pod)
	if !isPod {
		return nil, nil, nil, false
	}
	l.markDirty()
	if !l.ours(lp) {
		return nil, nil, nil, false
	}
	cb, up = l.callback(), l.upperFor(lp)
	return lp, up, cb, cb != nil && up != nil
}

func (l *lowerNode) podChanged(o any) {
	lp, up, cb, ok := l.relayTarget(o)
	if !ok {
		return
	}
	cp := up.DeepCopy()
	if lp.DeletionTimestamp != nil && up.DeletionTimestamp == nil {
		// Deleted below (an eviction, a drain): have the upper pod deleted
		// too, so that its controller makes a new one (tensile-kube #43).
		cp.DeletionTimestamp = lp.DeletionTimestamp
		zero := int64(0)
		cp.DeletionGracePeriodSeconds = &zero
	} else {
		cp.Status = UpperStatus(lp)
	}
	cb(cp)
}

func (l *lowerNode) podGone(o any) {
	_, up, cb, ok := l.relayTarget(o)
	if !ok {
		return
	}
	cp := up.DeepCopy()
	switch {
	case up.DeletionTimestamp != nil:
		// The delete we passed down finished: report a terminal status so
		// that virtual-kubelet removes the upper pod now.
		if cp.Status.Phase != corev1.PodSucceeded && cp.Status.Phase != corev1.PodFailed {
			cp.Status.Phase = corev1.PodFailed
			cp.Status.Reason = "Terminated"
			cp.Status.Message = "the pod was deleted in lower cluster " + l.cluster
		}
	case up.Status.Phase == corev1.PodSucceeded || up.Status.Phase == corev1.PodFailed:
		return // a finished pod cleaned up below: nothing to do above
	default:
		now := metav1.Now()
		zero := int64(0)
		cp.DeletionTimestamp, cp.DeletionGracePeriodSeconds = &now, &zero
	}
	cb(cp)
}

// GetStatsSummary reports the node and its pods without usage figures:
// usage belongs to the lower cluster's own metrics pipeline.
func (l *lowerNode) GetStatsSummary(context.Context) (*statsv1alpha1.Summary, error) {
	s := &statsv1alpha1.Summary{Node: statsv1alpha1.NodeStats{NodeName: l.nodeName, StartTime: metav1.Now()}}
	ps, _ := l.GetPods(context.Background())
	for _, p := range ps {
		s.Pods = append(s.Pods, statsv1alpha1.PodStats{PodRef: statsv1alpha1.PodReference{Name: p.Name, Namespace: p.Namespace, UID: p.Annotations[AnnotationUpperUID]}})
	}
	return s, nil
}

// GetMetricsResource has no figures to offer (see GetStatsSummary).
func (l *lowerNode) GetMetricsResource(context.Context) ([]*dto.MetricFamily, error) { return nil, nil }

// slimLowerPod keeps of a cached lower pod what the provider reads: identity,
// labels, kstack's annotations, what its requests are made of, where it runs
// and its status. The cache holds every pod of the lower cluster, not only
// the ones placed here, so this bounds the memory a big lower cluster costs.
// Code that needs the whole pod reads it from the API (UpdatePod, CreatePod).
func slimLowerPod(obj any) (any, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return dropManagedFields(obj)
	}
	s := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
		Name: p.Name, Namespace: p.Namespace, UID: p.UID, ResourceVersion: p.ResourceVersion, Generation: p.Generation,
		CreationTimestamp: p.CreationTimestamp, DeletionTimestamp: p.DeletionTimestamp, DeletionGracePeriodSeconds: p.DeletionGracePeriodSeconds,
		Labels: p.Labels,
	}, Status: p.Status}
	for k, v := range p.Annotations {
		if strings.HasPrefix(k, prefix) {
			if s.Annotations == nil {
				s.Annotations = map[string]string{}
			}
			s.Annotations[k] = v
		}
	}
	s.Spec.NodeName, s.Spec.Overhead, s.Spec.Resources, s.Spec.RestartPolicy = p.Spec.NodeName, p.Spec.Overhead, p.Spec.Resources, p.Spec.RestartPolicy
	slim := func(cs []corev1.Container) []corev1.Container {
		out := make([]corev1.Container, len(cs))
		for i, c := range cs {
			out[i] = corev1.Container{Name: c.Name, Image: c.Image, Resources: c.Resources, RestartPolicy: c.RestartPolicy}
		}
		return out
	}
	s.Spec.InitContainers, s.Spec.Containers = slim(p.Spec.InitContainers), slim(p.Spec.Containers)
	return s, nil
}
