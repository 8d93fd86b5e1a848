package virtualnode

import (
	"context"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// Services across clusters. An upper Service is copied into every lower
// cluster that has its namespace, without a selector, and the upper
// EndpointSlices (whose addresses are the lower pods' IPs, reported up) are
// copied beside it. A client in any lower cluster then reaches the pods in
// all of them. This assumes a flat pod network: pod IPs routable between the
// lower clusters (docs/virtual-nodes.md).

const managedBy = "virtualnode.kstack.io"

type serviceSync struct {
	upper  *upperObjects
	lowers []*lowerNode
	queue  workqueue.TypedRateLimitingInterface[string]
	log    *slog.Logger
}

func skipService(ns, name string) bool {
	return ns == metav1.NamespaceSystem || (ns == metav1.NamespaceDefault && name == "kubernetes")
}

func newServiceSync(u *upperObjects, lowers []*lowerNode, log *slog.Logger) (*serviceSync, error) {
	s := &serviceSync{upper: u, lowers: lowers, log: log,
		queue: workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]())}
	svcKey := func(o any) {
		if k, err := cache.DeletionHandlingMetaNamespaceKeyFunc(o); err == nil {
			s.queue.Add(k)
		}
	}
	sliceKey := func(o any) {
		if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
			o = t.Obj
		}
		if es, ok := o.(*discoveryv1.EndpointSlice); ok && es.Labels[discoveryv1.LabelServiceName] != "" {
			s.queue.Add(es.Namespace + "/" + es.Labels[discoveryv1.LabelServiceName])
		}
	}
	if _, err := u.factory.Core().V1().Services().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: svcKey, UpdateFunc: func(_, o any) { svcKey(o) }, DeleteFunc: svcKey,
	}); err != nil {
		return nil, err
	}
	if _, err := u.factory.Discovery().V1().EndpointSlices().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: sliceKey, UpdateFunc: func(_, o any) { sliceKey(o) }, DeleteFunc: sliceKey,
	}); err != nil {
		return nil, err
	}
	// A namespace that appears below (with the first pod) gets its Services.
	for _, l := range lowers {
		if _, err := l.factory.Core().V1().Namespaces().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc: func(o any) {
				ns := o.(*corev1.Namespace)
				svcs, _ := u.services.Services(ns.Name).List(labels.Everything())
				for _, svc := range svcs {
					s.queue.Add(svc.Namespace + "/" + svc.Name)
				}
			},
		}); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *serviceSync) run(ctx context.Context) {
	go func() { <-ctx.Done(); s.queue.ShutDown() }()
	for {
		key, quit := s.queue.Get()
		if quit {
			return
		}
		err := s.sync(ctx, key)
		if err != nil {
			s.log.Warn("carrying a service down", "service", key, "err", err)
			s.queue.AddRateLimited(key)
		} else {
			s.queue.Forget(key)
		}
		s.queue.Done(key)
	}
}

func (s *serviceSync) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil || skipService(ns, name) {
		return nil
	}
	svc, err := s.upper.services.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		svc = nil
	} else if err != nil {
		return err
	}
	sel := labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: name})
	slices, err := s.upper.slices.EndpointSlices(ns).List(sel)
	if err != nil {
		return err
	}
	var firstErr error
	for _, l := range s.lowers {
		if down, _ := l.down(); down {
			continue
		}
		if err := l.syncService(ctx, ns, name, svc, slices); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// syncService makes the lower copy of one Service and its slices match.
func (l *lowerNode) syncService(ctx context.Context, ns, name string, svc *corev1.Service, upperSlices []*discoveryv1.EndpointSlice) error {
	if _, err := l.namespaces.Get(ns); err != nil {
		return nil // no pods of ours there: nothing to reach it from
	}
	svcs := l.client.CoreV1().Services(ns)
	cur, err := l.copies.Core().V1().Services().Lister().Services(ns).Get(name)
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	if svc == nil {
		if cur != nil {
			if err := svcs.Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return err
			}
		}
		return l.syncSlices(ctx, ns, name, nil)
	}
	want := &corev1.Service{ObjectMeta: copyMeta(name, ns, svc.Labels)}
	want.Spec.Type = corev1.ServiceTypeClusterIP
	if svc.Spec.ClusterIP == corev1.ClusterIPNone {
		want.Spec.ClusterIP = corev1.ClusterIPNone
	}
	want.Spec.SessionAffinity = svc.Spec.SessionAffinity
	for _, p := range svc.Spec.Ports {
		want.Spec.Ports = append(want.Spec.Ports, corev1.ServicePort{Name: p.Name, Protocol: p.Protocol, Port: p.Port, TargetPort: p.TargetPort, AppProtocol: p.AppProtocol})
	}
	if cur == nil {
		if _, err := svcs.Create(ctx, want, metav1.CreateOptions{}); err != nil {
			if apierrors.IsAlreadyExists(err) {
				return nil // the lower cluster's own Service of that name: left alone
			}
			return err
		}
	} else if !equality.Semantic.DeepEqual(cur.Spec.Ports, want.Spec.Ports) {
		upd := cur.DeepCopy()
		upd.Spec.Ports = want.Spec.Ports
		if _, err := svcs.Update(ctx, upd, metav1.UpdateOptions{}); err != nil {
			return err
		}
	}
	return l.syncSlices(ctx, ns, name, upperSlices)
}

func (l *lowerNode) syncSlices(ctx context.Context, ns, svc string, upperSlices []*discoveryv1.EndpointSlice) error {
	c := l.client.DiscoveryV1().EndpointSlices(ns)
	lister := l.copies.Discovery().V1().EndpointSlices().Lister().EndpointSlices(ns)
	have, err := lister.List(labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: svc}))
	if err != nil {
		return err
	}
	want := map[string]bool{}
	for _, us := range upperSlices {
		ls := &discoveryv1.EndpointSlice{ObjectMeta: copyMeta(us.Name, ns, nil), AddressType: us.AddressType, Ports: us.Ports}
		ls.Labels[discoveryv1.LabelServiceName] = svc
		ls.Labels[discoveryv1.LabelManagedBy] = managedBy
		for _, e := range us.Endpoints {
			e = *e.DeepCopy()
			e.TargetRef, e.NodeName = nil, nil // upper objects, unknown below
			ls.Endpoints = append(ls.Endpoints, e)
		}
		want[us.Name] = true
		cur, err := lister.Get(us.Name)
		switch {
		case apierrors.IsNotFound(err):
			if _, err := c.Create(ctx, ls, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
				return err
			}
		case err != nil:
			return err
		case !equality.Semantic.DeepEqual(cur.Endpoints, ls.Endpoints) || !equality.Semantic.DeepEqual(cur.Ports, ls.Ports):
			upd := cur.DeepCopy()
			upd.Endpoints, upd.Ports = ls.Endpoints, ls.Ports
			if _, err := c.Update(ctx, upd, metav1.UpdateOptions{}); err != nil {
				return err
			}
		}
	}
	for _, h := range have {
		if !want[h.Name] {
			if err := c.Delete(ctx, h.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return err
			}
		}
	}
	return nil
}

// resyncServices re-queues every upper Service now and then, so that copies
// missed while a lower cluster was down catch up.
func (s *serviceSync) resync(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			svcs, _ := s.upper.services.List(labels.Everything())
			for _, svc := range svcs {
				s.queue.Add(svc.Namespace + "/" + svc.Name)
			}
		}
	}
}
