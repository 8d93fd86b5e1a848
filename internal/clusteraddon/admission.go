// Package clusteraddon is the platform's side of extension components:
// the ClusterAddon kind's checks, the leader's reconciler that installs,
// upgrades and uninstalls add-ons in members and runs their controllers,
// and the routes that list add-on types and a cluster's add-ons. The
// platformapi module serves it (ClusterAddon is a platform.tkestack.io kind).
package clusteraddon

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/addons"
	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/clock"
	"github.com/kstack/kstack/internal/clustercache"
)

// AnnotationForce on a ClusterAddon being uninstalled removes it although
// objects still use it, or its cluster cannot be reached (kstack addon
// uninstall --force).
const AnnotationForce = "platform.kstack.io/force-delete"

// Addons is the add-on side of the platform group.
type Addons struct {
	apigroup.Env
	Cache   *clustercache.Cache
	Catalog addons.Catalog
	// Clock is the add-on controllers' clock (a test's with --test-clock-file).
	Clock clock.Clock
	// ControllerLog logs the add-on controllers.
	ControllerLog *slog.Logger
}

// Admit completes a new ClusterAddon: the type as the catalog spells it,
// the latest version when none is given, and the name
// <cluster>-<type>.
func (m *Addons) Admit(_ context.Context, r *apigroup.Request) error {
	if r.Attributes.Verb != "create" || r.Object == nil {
		return nil
	}
	u := r.Object
	t, _, _ := unstructured.NestedString(u.Object, "spec", "type")
	a, err := m.Catalog.Lookup(t)
	if err != nil {
		return apigroup.Invalid("spec.type: %v", err)
	}
	_ = unstructured.SetNestedField(u.Object, a.Type, "spec", "type")
	if v, _, _ := unstructured.NestedString(u.Object, "spec", "version"); v == "" {
		_ = unstructured.SetNestedField(u.Object, a.Latest().Version, "spec", "version")
	}
	cluster, _, _ := unstructured.NestedString(u.Object, "spec", "clusterName")
	if u.GetName() == "" && cluster != "" {
		u.SetName(platformv1.AddonName(cluster, a.Type))
	}
	return nil
}

// Validate checks a ClusterAddon as it would be stored: a known type and
// version, its name, and a member cluster of its tenant that the caller
// may update.
func (m *Addons) Validate(ctx context.Context, r *apigroup.Request) error {
	var ca platformv1.ClusterAddon
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(r.Object.Object, &ca); err != nil {
		return apigroup.Invalid("the object is not a ClusterAddon: %v", err)
	}
	a, err := m.Catalog.Lookup(ca.Spec.Type)
	if err != nil {
		return apigroup.Invalid("spec.type: %v", err)
	}
	if a.Type != ca.Spec.Type {
		return apigroup.Invalid("spec.type: write %q as %q", ca.Spec.Type, a.Type)
	}
	if ca.Spec.Version == "" {
		return apigroup.Invalid("spec.version: give a version (%s)", strings.Join(a.VersionNames(), ", "))
	}
	if _, err := a.Version(ca.Spec.Version); err != nil {
		return apigroup.Invalid("spec.version: %v", err)
	}
	if want := platformv1.AddonName(ca.Spec.ClusterName, a.Type); ca.Name != want {
		return apigroup.Invalid("metadata.name: the %s add-on of cluster %s is named %s (one per cluster and type)", a.Type, ca.Spec.ClusterName, want)
	}
	if r.Old != nil && !ca.DeletionTimestamp.IsZero() {
		return nil // finalizer removal and status on the way out
	}
	var cls platformv1.Cluster
	err = m.Reader.Get(ctx, client.ObjectKey{Name: ca.Spec.ClusterName}, &cls)
	if err != nil || cls.Spec.TenantID != ca.Spec.TenantID {
		return apigroup.Invalid("spec.clusterName: there is no cluster %q of tenant %s (kstack cluster list)", ca.Spec.ClusterName, ca.Spec.TenantID)
	}
	if cls.Spec.Type == platformv1.ClusterGlobal {
		return apigroup.Invalid("spec.clusterName: %s is the global cluster, which runs the platform itself; add-ons go into member clusters", cls.Name)
	}
	if !cls.DeletionTimestamp.IsZero() {
		return apigroup.Refuse(http.StatusConflict, "spec.clusterName: cluster %s is being deleted", cls.Name)
	}
	return m.MayUse(ctx, r.Principal, "spec.clusterName", "updateCluster", "cluster:"+cls.Name)
}

// CheckUninstall refuses to uninstall an add-on whose objects are still
// used in its member (naming them), unless it is forced.
func (m *Addons) CheckUninstall(ctx context.Context, name string) error {
	var ca platformv1.ClusterAddon
	// Past the cache: kstack addon uninstall --force sets the annotation
	// just before it deletes.
	if err := m.Reader.Get(ctx, client.ObjectKey{Name: name}, &ca); err != nil {
		return nil // the API server answers for a missing add-on
	}
	if ca.Annotations[AnnotationForce] == "true" || len(ca.Status.Objects) == 0 {
		return nil
	}
	a, err := m.Catalog.Lookup(ca.Spec.Type)
	if err != nil {
		return nil
	}
	e, ok := m.Cache.Get(ca.Spec.ClusterName)
	if !ok || !e.Health().Healthy {
		return apigroup.Refuse(http.StatusConflict, "cluster %s cannot be reached, so whether its %ss are still used cannot be checked: uninstall when it is back, "+
			"or with --force (what the add-on made stays in the member until the cluster can be reached)", ca.Spec.ClusterName, a.Type)
	}
	used, err := a.InUse(ctx, addons.Member{Cluster: ca.Spec.ClusterName, Config: e.Config})
	if err != nil {
		return apigroup.Refuse(http.StatusServiceUnavailable, "checking what uses the %s add-on in cluster %s: %v", a.Type, ca.Spec.ClusterName, err)
	}
	if len(used) > 0 {
		return apigroup.Refuse(http.StatusConflict, "the %s add-on is still used in cluster %s by %s: delete them first, or uninstall with --force (which deletes them with it)",
			a.Type, ca.Spec.ClusterName, listSome(used))
	}
	return nil
}

func listSome(items []string) string {
	if len(items) > 10 {
		return strings.Join(items[:10], ", ") + fmt.Sprintf(" and %d more", len(items)-10)
	}
	return strings.Join(items, ", ")
}
