package addons

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"

	platformv1 "github.com/kstack/kstack/api/platform/v1"
)

// LabelAddon marks what an add-on made in a member (with kstack's
// managed-by label): its value is the add-on type in lower case. Nothing
// without it is ever changed or removed by an add-on.
const LabelAddon = "platform.kstack.io/addon"

// Installer brings an add-on's objects into one member and takes them out.
type Installer struct {
	Dynamic dynamic.Interface
	Mapper  meta.RESTMapper
}

// NewInstaller is an installer for the member that m reaches.
func NewInstaller(m Member) (*Installer, error) {
	dyn, err := dynamic.NewForConfig(m.Config)
	if err != nil {
		return nil, err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(m.Config)
	if err != nil {
		return nil, err
	}
	return &Installer{Dynamic: dyn, Mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))}, nil
}

// Ref is an object's reference in the inventory.
func Ref(u *unstructured.Unstructured) platformv1.AddonObject {
	return platformv1.AddonObject{APIVersion: u.GetAPIVersion(), Kind: u.GetKind(), Namespace: u.GetNamespace(), Name: u.GetName()}
}

func describe(o platformv1.AddonObject) string {
	if o.Namespace != "" {
		return fmt.Sprintf("%s %s/%s", o.Kind, o.Namespace, o.Name)
	}
	return o.Kind + " " + o.Name
}

func (in *Installer) resource(o platformv1.AddonObject) (dynamic.ResourceInterface, error) {
	gv, err := schema.ParseGroupVersion(o.APIVersion)
	if err != nil {
		return nil, err
	}
	m, err := in.Mapper.RESTMapping(gv.WithKind(o.Kind).GroupKind(), gv.Version)
	if err != nil {
		return nil, fmt.Errorf("the member does not serve %s %s: %w", o.APIVersion, o.Kind, err)
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		return in.Dynamic.Resource(m.Resource).Namespace(o.Namespace), nil
	}
	return in.Dynamic.Resource(m.Resource), nil
}

// Apply makes the member hold objs of addon a (labelled, applied with its
// field manager) where it held prev (the installed version's objects and
// inventory; nil for an install). Objects of prev that objs no longer has
// are removed. When anything fails the member is put back as it was: what
// this call created is removed and what it changed is applied again as
// prev had it.
func (in *Installer) Apply(ctx context.Context, a *Addon, objs, prev []*unstructured.Unstructured, inventory []platformv1.AddonObject) ([]platformv1.AddonObject, error) {
	value := strings.ToLower(a.Type)
	// Nothing is touched that another owner made: the whole set is checked
	// before the first write.
	created := map[platformv1.AddonObject]bool{}
	for _, o := range objs {
		ref := Ref(o)
		ri, err := in.resource(ref)
		if err != nil {
			return inventory, err
		}
		cur, err := ri.Get(ctx, ref.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			created[ref] = true
		case err != nil:
			return inventory, fmt.Errorf("reading %s in the member: %w", describe(ref), err)
		case cur.GetLabels()[LabelAddon] != value:
			return inventory, fmt.Errorf("%s is already in the member and was not made by kstack's %s add-on (it has no %s=%s label): "+
				"remove it (and whatever installed it) first, or leave the add-on off in this cluster", describe(ref), a.Type, LabelAddon, value)
		}
	}
	var applied []platformv1.AddonObject
	for _, o := range objs {
		ref := Ref(o)
		if err := in.applyOne(ctx, a, o); err != nil {
			rbErr := in.rollback(ctx, a, applied, created, prev)
			err = fmt.Errorf("applying %s: %w", describe(ref), err)
			if rbErr != nil {
				return inventory, fmt.Errorf("%w; putting the member back failed too: %v", err, rbErr)
			}
			return inventory, fmt.Errorf("%w; the member was left as it was", err)
		}
		applied = append(applied, ref)
	}
	// Prune what the new version no longer has.
	var errs []error
	for _, old := range inventory {
		if !slices.Contains(applied, old) {
			if err := in.deleteOurs(ctx, a, old); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return applied, errors.Join(errs...)
}

func (in *Installer) applyOne(ctx context.Context, a *Addon, o *unstructured.Unstructured) error {
	o = o.DeepCopy()
	labels := o.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[platformv1.LabelManagedBy] = platformv1.ManagedByValue
	labels[LabelAddon] = strings.ToLower(a.Type)
	o.SetLabels(labels)
	ri, err := in.resource(Ref(o))
	if err != nil {
		return err
	}
	_, err = ri.Apply(ctx, o.GetName(), o, metav1.ApplyOptions{FieldManager: a.FieldManager(), Force: true})
	return err
}

// rollback undoes applied: removes what was created, and applies again
// what prev had of the rest.
func (in *Installer) rollback(ctx context.Context, a *Addon, applied []platformv1.AddonObject, created map[platformv1.AddonObject]bool, prev []*unstructured.Unstructured) error {
	var errs []error
	for i := len(applied) - 1; i >= 0; i-- {
		ref := applied[i]
		if created[ref] {
			errs = append(errs, in.deleteOurs(ctx, a, ref))
			continue
		}
		for _, p := range prev {
			if Ref(p) == ref {
				errs = append(errs, in.applyOne(ctx, a, p))
			}
		}
	}
	return errors.Join(errs...)
}

// deleteOurs removes one object if it carries the add-on's label.
func (in *Installer) deleteOurs(ctx context.Context, a *Addon, ref platformv1.AddonObject) error {
	ri, err := in.resource(ref)
	if err != nil {
		return err
	}
	cur, err := ri.Get(ctx, ref.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading %s: %w", describe(ref), err)
	}
	if cur.GetLabels()[LabelAddon] != strings.ToLower(a.Type) {
		return nil // not ours: left alone
	}
	uid := cur.GetUID()
	err = ri.Delete(ctx, ref.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("removing %s: %w", describe(ref), err)
	}
	return nil
}

// Remove takes what inventory names out of the member, newest first, and
// waits (bounded) until it is gone; then the controller's Lease.
func (in *Installer) Remove(ctx context.Context, a *Addon, inventory []platformv1.AddonObject) error {
	var errs []error
	for i := len(inventory) - 1; i >= 0; i-- {
		errs = append(errs, in.deleteOurs(ctx, a, inventory[i]))
	}
	lease := platformv1.AddonObject{APIVersion: "coordination.k8s.io/v1", Kind: "Lease", Namespace: LeaseNamespace, Name: a.LeaseName()}
	errs = append(errs, in.deleteLease(ctx, lease))
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		for _, ref := range inventory {
			ri, err := in.resource(ref)
			if err != nil {
				return false, err
			}
			if _, err := ri.Get(ctx, ref.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				return false, nil
			}
		}
		return true, nil
	})
}

func (in *Installer) deleteLease(ctx context.Context, ref platformv1.AddonObject) error {
	ri, err := in.resource(ref)
	if err != nil {
		return err
	}
	if err := ri.Delete(ctx, ref.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("removing %s: %w", describe(ref), err)
	}
	return nil
}

// Established says whether the add-on's CRDs in inventory are served
// (condition Established); the error says which is not.
func (in *Installer) Established(ctx context.Context, inventory []platformv1.AddonObject) error {
	for _, ref := range inventory {
		if ref.Kind != "CustomResourceDefinition" {
			continue
		}
		ri, err := in.resource(ref)
		if err != nil {
			return err
		}
		crd, err := ri.Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("CustomResourceDefinition %s: %w", ref.Name, err)
		}
		conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
		ok := false
		for _, c := range conds {
			m, _ := c.(map[string]any)
			if m["type"] == "Established" && m["status"] == "True" {
				ok = true
			}
		}
		if !ok {
			return fmt.Errorf("CustomResourceDefinition %s is not established yet", ref.Name)
		}
	}
	return nil
}
