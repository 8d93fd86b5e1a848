package tapp

import (
	"context"
	"embed"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	"github.com/kstack/kstack/internal/addons"
)

// The CRD is generated from addonapi/apps/v1 into crd/.
//
//go:embed crd/*.yaml manifests
var files embed.FS

// Addon is the TApp add-on.
func Addon() *addons.Addon {
	return &addons.Addon{
		Type:        "TApp",
		Description: "Workloads whose instances have fixed IDs (<tapp>-<id>), several templates at once for gray releases, kill and restore by instance, and in-place image updates.",
		Level:       "Enhance",
		Kinds:       []string{"tapps.apps.tkestack.io"},
		Versions: []addons.Version{
			{Version: "v1.0.0", Objects: addons.Manifests(files, "crd/apps.tkestack.io_tapps.yaml", "manifests/v1.0.0/rbac.yaml")},
		},
		Controller: Run,
		InUse:      InUse,
	}
}

// resync looks at every TApp again this often, whatever happened.
const resync = 30 * time.Second

// Run is the add-on's controller for member m: TApps and their pods are
// watched, and each change of either syncs the TApp.
func Run(ctx context.Context, m addons.Member) error {
	cl, err := addons.NewClients(ctx, m, "tapp-controller")
	if err != nil {
		return err
	}
	defer cl.Close()
	dyn, cs := cl.Dynamic, cl.Kube
	log := m.Log.With("addon", "TApp", "cluster", m.Cluster)
	c := &Controller{Client: cs, Dynamic: dyn, Log: log, Recorder: cl.Recorder, Clock: m.Clock}
	q := addons.NewQueue()
	defer q.ShutDown()
	tf := dynamicinformer.NewDynamicSharedInformerFactory(dyn, resync)
	tapps := tf.ForResource(GVR)
	if _, err := tapps.Informer().AddEventHandler(addons.Enqueue(q)); err != nil {
		return err
	}
	// A pod's change is its TApp's.
	pf := informers.NewSharedInformerFactoryWithOptions(cs, 10*time.Minute,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = LabelTApp }))
	owner := func(obj any) {
		if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = t.Obj
		}
		if p, ok := obj.(*corev1.Pod); ok {
			q.Add(p.Namespace + "/" + p.Labels[LabelTApp])
		}
	}
	if _, err := pf.Core().V1().Pods().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: owner, UpdateFunc: func(_, o any) { owner(o) }, DeleteFunc: owner,
	}); err != nil {
		return err
	}
	// A node that stops being Ready, or goes, may hold instances to
	// migrate: every TApp is looked at again.
	nf := informers.NewSharedInformerFactory(cs, 10*time.Minute)
	nodes := nf.Core().V1().Nodes()
	all := func() {
		for _, key := range tapps.Informer().GetStore().ListKeys() {
			q.Add(key)
		}
	}
	if _, err := nodes.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(o, n any) {
			if ready(o) != ready(n) {
				all()
			}
		},
		DeleteFunc: func(any) { all() },
	}); err != nil {
		return err
	}
	c.Nodes = func(name string) (*corev1.Node, error) { return nodes.Lister().Get(name) }
	tf.Start(ctx.Done())
	pf.Start(ctx.Done())
	nf.Start(ctx.Done())
	defer tf.Shutdown()
	defer pf.Shutdown()
	defer nf.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), tapps.Informer().HasSynced, pf.Core().V1().Pods().Informer().HasSynced, nodes.Informer().HasSynced) {
		return ctx.Err()
	}
	log.Info("TApp controller synced")
	lister := tapps.Lister()
	addons.Work(ctx, q, log, func(ctx context.Context, key string) (time.Duration, error) {
		obj, err := lister.Get(key)
		if apierrors.IsNotFound(err) {
			return 0, nil // its pods go with it (owner references)
		}
		if err != nil {
			return 0, err
		}
		return 0, c.Sync(ctx, obj.(*unstructured.Unstructured))
	})
	return nil
}

// ready is a node's Ready condition status ("" if obj is not a node).
func ready(obj any) corev1.ConditionStatus {
	n, ok := obj.(*corev1.Node)
	if !ok {
		return ""
	}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status
		}
	}
	return ""
}

// InUse lists the member's TApps.
func InUse(ctx context.Context, m addons.Member) ([]string, error) {
	return addons.ObjectsOf(ctx, m, GVR, "TApp")
}
