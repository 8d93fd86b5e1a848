// Package v1 holds extensions.tkestack.io/v1, the CronHPA add-on's API: its
// objects live in member clusters, not on the platform, so its CRD is part
// of the add-on (internal/addons/cronhpa), not of config/crd.
// +kubebuilder:object:generate=true
// +groupName=extensions.tkestack.io
package v1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of this API.
	GroupVersion = schema.GroupVersion{Group: "extensions.tkestack.io", Version: "v1"}
	// SchemeBuilder registers the kinds of this API.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}
	// AddToScheme adds the kinds of this API to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
