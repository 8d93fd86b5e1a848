package components

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
)

const (
	// ProvisionerName is the provisioner of local clusters' default StorageClass.
	ProvisionerName = "kstack.io/local-path"
	// DefaultStorageClass is the name of the StorageClass kstack creates.
	DefaultStorageClass = "standard"

	annStorageProvisioner = "volume.kubernetes.io/storage-provisioner"
	annProvisionedBy      = "pv.kubernetes.io/provisioned-by"
	annDefaultClass       = "storageclass.kubernetes.io/is-default-class"
)

// runProvisioner runs a dynamic volume provisioner for local clusters: it makes
// the default StorageClass and answers each claim of that class with a
// hostPath PersistentVolume under --volume-dir, deleting it when released.
func runProvisioner(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("provisioner", flag.ContinueOnError)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig of the cluster")
	volumeDir := fs.String("volume-dir", "", "directory that holds the volumes")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *kubeconfig == "" || *volumeDir == "" {
		fmt.Fprintln(os.Stderr, "provisioner: --kubeconfig and --volume-dir are required")
		return 2
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		fmt.Fprintf(os.Stderr, "provisioner: %v\n", err)
		return 1
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "provisioner: %v\n", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	p := &provisioner{cs: cs, dir: *volumeDir}
	if err := p.run(ctx); err != nil && ctx.Err() == nil {
		fmt.Fprintf(os.Stderr, "provisioner: %v\n", err)
		return 1
	}
	return 0
}

type provisioner struct {
	cs  kubernetes.Interface
	dir string
}

func (p *provisioner) run(ctx context.Context) error {
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		return err
	}
	if err := p.ensureStorageClass(ctx); err != nil {
		return err
	}
	factory := informers.NewSharedInformerFactory(p.cs, 10*time.Minute)
	pvcs := factory.Core().V1().PersistentVolumeClaims()
	pvs := factory.Core().V1().PersistentVolumes()
	q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]())
	defer q.ShutDown()
	enqueue := func(prefix string) cache.ResourceEventHandlerFuncs {
		add := func(obj any) {
			if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
				q.Add(prefix + key)
			}
		}
		return cache.ResourceEventHandlerFuncs{AddFunc: add, UpdateFunc: func(_, o any) { add(o) }}
	}
	if _, err := pvcs.Informer().AddEventHandler(enqueue("pvc/")); err != nil {
		return err
	}
	if _, err := pvs.Informer().AddEventHandler(enqueue("pv/")); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	klog.InfoS("provisioner running", "volumeDir", p.dir)

	go func() { <-ctx.Done(); q.ShutDown() }()
	for {
		key, shutdown := q.Get()
		if shutdown {
			return ctx.Err()
		}
		var err error
		switch {
		case len(key) > 4 && key[:4] == "pvc/":
			err = p.syncClaim(ctx, key[4:])
		case len(key) > 3 && key[:3] == "pv/":
			err = p.syncVolume(ctx, pvs.Lister().Get, key[3:])
		}
		if err != nil {
			klog.ErrorS(err, "sync failed, will retry", "key", key)
			q.AddRateLimited(key)
		} else {
			q.Forget(key)
		}
		q.Done(key)
	}
}

func (p *provisioner) ensureStorageClass(ctx context.Context) error {
	reclaim := corev1.PersistentVolumeReclaimDelete
	mode := storagev1.VolumeBindingImmediate
	sc := &storagev1.StorageClass{
		ObjectMeta: metav1.ObjectMeta{
			Name:        DefaultStorageClass,
			Annotations: map[string]string{annDefaultClass: "true"},
			Labels:      map[string]string{"app.kubernetes.io/managed-by": "kstack"},
		},
		Provisioner:       ProvisionerName,
		ReclaimPolicy:     &reclaim,
		VolumeBindingMode: &mode,
	}
	// Retry: the provisioner may start before the apiserver is ready.
	var err error
	for i := 0; i < 60; i++ {
		_, err = p.cs.StorageV1().StorageClasses().Create(ctx, sc, metav1.CreateOptions{})
		if err == nil || apierrors.IsAlreadyExists(err) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
	return fmt.Errorf("creating StorageClass %s: %w", DefaultStorageClass, err)
}

func (p *provisioner) syncClaim(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	claim, err := p.cs.CoreV1().PersistentVolumeClaims(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if claim.Spec.VolumeName != "" || claim.Annotations[annStorageProvisioner] != ProvisionerName || claim.DeletionTimestamp != nil {
		return nil
	}
	pvName := "pvc-" + string(claim.UID)
	path := filepath.Join(p.dir, pvName)
	if err := os.MkdirAll(path, 0o777); err != nil {
		return fmt.Errorf("making volume directory: %w", err)
	}
	size := claim.Spec.Resources.Requests[corev1.ResourceStorage]
	hostPathType := corev1.HostPathDirectoryOrCreate
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{
			Name:        pvName,
			Annotations: map[string]string{annProvisionedBy: ProvisionerName},
		},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: size},
			AccessModes:                   claim.Spec.AccessModes,
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete,
			StorageClassName:              ptrDeref(claim.Spec.StorageClassName),
			VolumeMode:                    claim.Spec.VolumeMode,
			ClaimRef: &corev1.ObjectReference{
				Kind: "PersistentVolumeClaim", APIVersion: "v1",
				Namespace: claim.Namespace, Name: claim.Name, UID: claim.UID,
			},
			PersistentVolumeSource: corev1.PersistentVolumeSource{
				HostPath: &corev1.HostPathVolumeSource{Path: path, Type: &hostPathType},
			},
		},
	}
	_, err = p.cs.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	if err == nil {
		klog.InfoS("provisioned volume", "claim", key, "volume", pvName)
	}
	return err
}

func (p *provisioner) syncVolume(ctx context.Context, get func(string) (*corev1.PersistentVolume, error), name string) error {
	pv, err := get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if pv.Annotations[annProvisionedBy] != ProvisionerName || pv.Status.Phase != corev1.VolumeReleased ||
		pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimDelete || pv.Spec.HostPath == nil {
		return nil
	}
	// Only remove directories this provisioner made.
	if filepath.Dir(pv.Spec.HostPath.Path) == filepath.Clean(p.dir) {
		if err := os.RemoveAll(pv.Spec.HostPath.Path); err != nil {
			return err
		}
	}
	err = p.cs.CoreV1().PersistentVolumes().Delete(ctx, name, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err == nil {
		klog.InfoS("deleted released volume", "volume", name)
	}
	return err
}

func ptrDeref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
