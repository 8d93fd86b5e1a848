// Package addons is the extension component framework (seed 004 §4.2.4):
// what an add-on is (its versions' objects, its controller, what uses it),
// and how one is brought into a member and taken out again: server-side
// apply with the add-on's own field manager, an inventory of what it made,
// rollback when an install or upgrade fails, and a Lease in the member so
// that its controller runs once wherever it is started (ADR 0018).
package addons

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/kstack/kstack/internal/clock"
)

// Addon is one add-on type.
type Addon struct {
	// Type is the name users give, e.g. CronHPA.
	Type        string
	Description string
	// Level is Basic or Enhance, as TKEStack classes add-ons.
	Level string
	// Kinds are the add-on's own kinds, as resource.group.
	Kinds []string
	// Versions in ascending order; the last is the latest.
	Versions []Version
	// Controller runs the add-on's controller for one member until ctx
	// ends. Only one runs per member at a time (RunController).
	Controller func(ctx context.Context, m Member) error
	// InUse lists the objects in the member that use the add-on (objects
	// of its kinds), as "kind namespace/name": uninstalling removes its
	// CRDs, and them with them, so it is refused while there are any
	// unless forced.
	InUse func(ctx context.Context, m Member) ([]string, error)
}

// Version is one version of an add-on.
type Version struct {
	Version string
	// Objects are what the version brings into a member, in the order
	// they are applied (CRDs first).
	Objects func() ([]*unstructured.Unstructured, error)
}

// Member is a member cluster an add-on works in.
type Member struct {
	Cluster string
	Config  *rest.Config
	Clock   clock.Clock
	Log     *slog.Logger
}

// Latest is the add-on's latest version.
func (a *Addon) Latest() Version { return a.Versions[len(a.Versions)-1] }

// Version looks a version up; the error names the versions there are.
func (a *Addon) Version(v string) (Version, error) {
	if v == "" {
		return a.Latest(), nil
	}
	for _, ver := range a.Versions {
		if ver.Version == v {
			return ver, nil
		}
	}
	return Version{}, fmt.Errorf("%s has no version %q; its versions are %s", a.Type, v, strings.Join(a.VersionNames(), ", "))
}

// VersionNames are the add-on's versions, oldest first.
func (a *Addon) VersionNames() []string {
	var out []string
	for _, v := range a.Versions {
		out = append(out, v.Version)
	}
	return out
}

// FieldManager is the add-on's field manager in members.
func (a *Addon) FieldManager() string { return "kstack-addon-" + strings.ToLower(a.Type) }

// LeaseName is the Lease in the member's kube-system that its controller
// holds while it runs.
func (a *Addon) LeaseName() string { return "kstack-addon-" + strings.ToLower(a.Type) }

// Catalog is the add-on types the platform offers.
type Catalog []*Addon

// Lookup finds a type (case-insensitively); the error names the types.
func (c Catalog) Lookup(t string) (*Addon, error) {
	var names []string
	for _, a := range c {
		if strings.EqualFold(a.Type, t) {
			return a, nil
		}
		names = append(names, a.Type)
	}
	slices.Sort(names)
	return nil, fmt.Errorf("there is no add-on type %q; the types are %s (kstack addon types)", t, strings.Join(names, ", "))
}

// ObjectsOf lists the member's objects of resource gvr as "kind
// namespace/name" (none when its CRD is not there): an add-on's InUse.
func ObjectsOf(ctx context.Context, m Member, gvr schema.GroupVersionResource, kind string) ([]string, error) {
	dyn, err := dynamic.NewForConfig(m.Config)
	if err != nil {
		return nil, err
	}
	l, err := dyn.Resource(gvr).List(ctx, metav1.ListOptions{})
	if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing the %ss: %w", kind, err)
	}
	var out []string
	for _, it := range l.Items {
		out = append(out, kind+" "+it.GetNamespace()+"/"+it.GetName())
	}
	return out, nil
}
