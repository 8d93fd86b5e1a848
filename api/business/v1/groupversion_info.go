// Package v1 holds the business.tkestack.io/v1 API: projects (businesses),
// a team's slice of the fleet with a quota in each cluster, and the
// namespaces they own in member clusters.
// +kubebuilder:object:generate=true
// +groupName=business.tkestack.io
package v1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of this API.
	GroupVersion = schema.GroupVersion{Group: "business.tkestack.io", Version: "v1"}
	// SchemeBuilder registers the kinds of this API.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}
	// AddToScheme adds the kinds of this API to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

const (
	// LabelProject marks a member cluster's namespace with the project that owns it.
	LabelProject = "kstack.io/project"
	// NamespaceFinalizer makes deleting a business Namespace clean the member.
	NamespaceFinalizer = "business.tkestack.io/namespace"
	// QuotaName is the ResourceQuota kstack keeps in each project namespace.
	QuotaName = "kstack-quota"
	// AnnotationAdopt on a business Namespace takes over a member namespace
	// that exists already: "true" for one outside any project (import), or
	// the ID of the project it moves from.
	AnnotationAdopt = "business.tkestack.io/adopt"
)
