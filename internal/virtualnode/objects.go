package virtualnode

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corev1listers "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
)

// upperObjects are the upper cluster's informers shared by every virtual
// node of the process: what pods refer to, and what is carried down.
type upperObjects struct {
	factory    informers.SharedInformerFactory
	configMaps corev1listers.ConfigMapLister
	secrets    corev1listers.SecretLister
	pvcs       corev1listers.PersistentVolumeClaimLister
	services   corev1listers.ServiceLister
	slices     discoverylisters.EndpointSliceLister
	nodes      corev1listers.NodeLister
}

func newUpperObjects(cs kubernetes.Interface) *upperObjects {
	f := informers.NewSharedInformerFactory(cs, 0)
	return &upperObjects{
		factory:    f,
		configMaps: f.Core().V1().ConfigMaps().Lister(),
		secrets:    f.Core().V1().Secrets().Lister(),
		pvcs:       f.Core().V1().PersistentVolumeClaims().Lister(),
		services:   f.Core().V1().Services().Lister(),
		slices:     f.Discovery().V1().EndpointSlices().Lister(),
		nodes:      f.Core().V1().Nodes().Lister(),
	}
}

func (u *upperObjects) start(ctx context.Context) error {
	u.factory.Start(ctx.Done())
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for t, ok := range u.factory.WaitForCacheSync(sctx.Done()) {
		if !ok {
			return fmt.Errorf("upper cluster: the %v cache did not sync within 2 minutes", t)
		}
	}
	return nil
}

// copyMeta is the metadata of a lower copy.
func copyMeta(name, namespace string, lbls map[string]string) metav1.ObjectMeta {
	l := map[string]string{}
	for k, v := range lbls {
		l[k] = v
	}
	l[LabelCopy] = "true"
	return metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: l}
}

func (l *lowerNode) ensureNamespace(ctx context.Context, ns string) error {
	if _, err := l.namespaces.Get(ns); err == nil {
		return nil
	}
	_, err := l.client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: copyMeta(ns, "", nil)}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s in lower cluster %s: %w", ns, l.cluster, err)
	}
	return nil
}

// copyReferences copies what a pod refers to. A reference missing above is
// skipped: the lower kubelet then reports it as the upper kubelet would.
func (l *lowerNode) copyReferences(ctx context.Context, ns string, refs References) error {
	for _, name := range refs.ConfigMaps {
		if cm, err := l.upperObjs.configMaps.ConfigMaps(ns).Get(name); err == nil {
			if err := l.syncConfigMap(ctx, cm, true); err != nil {
				return err
			}
		}
	}
	for _, name := range refs.Secrets {
		if s, err := l.upperObjs.secrets.Secrets(ns).Get(name); err == nil {
			if err := l.syncSecret(ctx, s, true); err != nil {
				return err
			}
		}
	}
	for _, name := range refs.PVCs {
		if pvc, err := l.upperObjs.pvcs.PersistentVolumeClaims(ns).Get(name); err == nil {
			if err := l.copyPVC(ctx, pvc); err != nil {
				return err
			}
		}
	}
	if _, err := l.serviceAccounts.ServiceAccounts(ns).Get(refs.ServiceAccount); err == nil {
		return nil
	}
	sa := &corev1.ServiceAccount{ObjectMeta: copyMeta(refs.ServiceAccount, ns, nil)}
	if _, err := l.client.CoreV1().ServiceAccounts(ns).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating service account %s/%s in lower cluster %s: %w", ns, refs.ServiceAccount, l.cluster, err)
	}
	return nil
}

// copyClient is the part of a typed client (ConfigMaps, Secrets) that
// syncCopy needs.
type copyClient[T metav1.Object] interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (T, error)
	Create(ctx context.Context, obj T, opts metav1.CreateOptions) (T, error)
	Update(ctx context.Context, obj T, opts metav1.UpdateOptions) (T, error)
}

// syncCopy writes the lower copy of an upper object. With create false it
// only updates an existing copy (an upper change). A lower object of that
// name that kstack did not copy is left alone. same says whether the copy
// holds the upper data; apply puts it there.
func syncCopy[T metav1.Object](ctx context.Context, c copyClient[T], want T, create bool, same func(cur T) bool, apply func(cur T)) error {
	cur, err := c.Get(ctx, want.GetName(), metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		if !create {
			return nil
		}
		_, err = c.Create(ctx, want, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		return err
	case err != nil:
		return err
	case cur.GetLabels()[LabelCopy] != "true" || same(cur):
		return nil
	}
	apply(cur)
	_, err = c.Update(ctx, cur, metav1.UpdateOptions{})
	return err
}

// syncConfigMap and syncSecret first ask the cache of copies: a pod
// creation whose references are already carried down costs no API call.
func (l *lowerNode) syncConfigMap(ctx context.Context, cm *corev1.ConfigMap, create bool) error {
	same := func(cur *corev1.ConfigMap) bool {
		return equality.Semantic.DeepEqual(cur.Data, cm.Data) && equality.Semantic.DeepEqual(cur.BinaryData, cm.BinaryData)
	}
	if cur, err := l.copies.Core().V1().ConfigMaps().Lister().ConfigMaps(cm.Namespace).Get(cm.Name); err == nil && same(cur) {
		return nil
	}
	want := &corev1.ConfigMap{ObjectMeta: copyMeta(cm.Name, cm.Namespace, cm.Labels), Data: cm.Data, BinaryData: cm.BinaryData, Immutable: cm.Immutable}
	return syncCopy(ctx, l.client.CoreV1().ConfigMaps(cm.Namespace), want, create, same,
		func(cur *corev1.ConfigMap) { cur.Data, cur.BinaryData = cm.Data, cm.BinaryData })
}

func (l *lowerNode) syncSecret(ctx context.Context, s *corev1.Secret, create bool) error {
	if s.Type == corev1.SecretTypeServiceAccountToken {
		return nil // signed by the upper cluster; meaningless below
	}
	same := func(cur *corev1.Secret) bool { return equality.Semantic.DeepEqual(cur.Data, s.Data) }
	if cur, err := l.copies.Core().V1().Secrets().Lister().Secrets(s.Namespace).Get(s.Name); err == nil && same(cur) {
		return nil
	}
	want := &corev1.Secret{ObjectMeta: copyMeta(s.Name, s.Namespace, s.Labels), Data: s.Data, Type: s.Type, Immutable: s.Immutable}
	return syncCopy(ctx, l.client.CoreV1().Secrets(s.Namespace), want, create, same, func(cur *corev1.Secret) { cur.Data = s.Data })
}

// copyPVC creates a claim of the same size and access modes below, in the
// lower cluster's default storage class unless it has the upper's class.
func (l *lowerNode) copyPVC(ctx context.Context, pvc *corev1.PersistentVolumeClaim) error {
	want := &corev1.PersistentVolumeClaim{ObjectMeta: copyMeta(pvc.Name, pvc.Namespace, pvc.Labels)}
	want.Spec.AccessModes = pvc.Spec.AccessModes
	want.Spec.Resources = pvc.Spec.Resources
	want.Spec.VolumeMode = pvc.Spec.VolumeMode
	if sc := pvc.Spec.StorageClassName; sc != nil {
		if _, err := l.client.StorageV1().StorageClasses().Get(ctx, *sc, metav1.GetOptions{}); err == nil {
			want.Spec.StorageClassName = sc
		}
	}
	_, err := l.client.CoreV1().PersistentVolumeClaims(pvc.Namespace).Create(ctx, want, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("copying claim %s/%s to lower cluster %s: %w", pvc.Namespace, pvc.Name, l.cluster, err)
	}
	return nil
}

// deleteCopy removes a lower copy when its upper object is deleted; uid is
// the copy's, as the copies cache knows it, so nothing else of that name goes.
func (l *lowerNode) deleteCopy(ctx context.Context, kind, ns, name string, uid types.UID) error {
	opts := metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}}
	var err error
	if kind == "ConfigMap" {
		err = l.client.CoreV1().ConfigMaps(ns).Delete(ctx, name, opts)
	} else {
		err = l.client.CoreV1().Secrets(ns).Delete(ctx, name, opts)
	}
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	return err
}

// watchReferences keeps lower copies of ConfigMaps and Secrets in step with
// the upper ones (tensile-kube's copies were never updated).
func watchReferences(ctx context.Context, u *upperObjects, lowers []*lowerNode, log *slog.Logger) error {
	// copyUID is the UID of l's copy of an object, "" when l has none.
	copyUID := func(l *lowerNode, kind, ns, name string) types.UID {
		var o metav1.Object
		var err error
		if kind == "ConfigMap" {
			o, err = l.copies.Core().V1().ConfigMaps().Lister().ConfigMaps(ns).Get(name)
		} else {
			o, err = l.copies.Core().V1().Secrets().Lister().Secrets(ns).Get(name)
		}
		if err != nil {
			return ""
		}
		return o.GetUID()
	}
	each := func(kind, ns, name string, f func(*lowerNode, types.UID) error) {
		for _, l := range lowers {
			uid := copyUID(l, kind, ns, name)
			if uid == "" {
				continue
			}
			if err := f(l, uid); err != nil {
				log.Warn("carrying a change down", "kind", kind, "object", ns+"/"+name, "lower", l.cluster, "err", err)
			}
		}
	}
	_, err := u.factory.Core().V1().ConfigMaps().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, o any) {
			cm := o.(*corev1.ConfigMap)
			each("ConfigMap", cm.Namespace, cm.Name, func(l *lowerNode, _ types.UID) error { return l.syncConfigMap(ctx, cm, false) })
		},
		DeleteFunc: func(o any) {
			if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
				o = t.Obj
			}
			if cm, ok := o.(*corev1.ConfigMap); ok {
				each("ConfigMap", cm.Namespace, cm.Name, func(l *lowerNode, uid types.UID) error {
					return l.deleteCopy(ctx, "ConfigMap", cm.Namespace, cm.Name, uid)
				})
			}
		},
	})
	if err != nil {
		return err
	}
	_, err = u.factory.Core().V1().Secrets().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, o any) {
			s := o.(*corev1.Secret)
			each("Secret", s.Namespace, s.Name, func(l *lowerNode, _ types.UID) error { return l.syncSecret(ctx, s, false) })
		},
		DeleteFunc: func(o any) {
			if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
				o = t.Obj
			}
			if s, ok := o.(*corev1.Secret); ok {
				each("Secret", s.Namespace, s.Name, func(l *lowerNode, uid types.UID) error {
					return l.deleteCopy(ctx, "Secret", s.Namespace, s.Name, uid)
				})
			}
		},
	})
	return err
}
