// Package v1 holds apps.tkestack.io/v1, the TApp add-on's API (seed 004
// §5.1): its objects live in member clusters, so its CRD is part of the
// add-on (internal/addons/tapp), not of config/crd.
// +kubebuilder:object:generate=true
// +groupName=apps.tkestack.io
package v1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of this API.
	GroupVersion = schema.GroupVersion{Group: "apps.tkestack.io", Version: "v1"}
	// SchemeBuilder registers the kinds of this API.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}
	// AddToScheme adds the kinds of this API to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
