// Package v1 holds the registry.tkestack.io/v1 API: registry namespaces
// (the first part of an image's path on the platform's registry), and the
// bodies of the registry's actions (repositories, tags, the upload guide).
// +kubebuilder:object:generate=true
// +groupName=registry.tkestack.io
package v1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of this API.
	GroupVersion = schema.GroupVersion{Group: "registry.tkestack.io", Version: "v1"}
	// SchemeBuilder registers the kinds of this API.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}
	// AddToScheme adds the kinds of this API to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
