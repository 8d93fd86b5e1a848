// Package v1 holds the logagent.tkestack.io/v1 API: log collection rules
// (LogCollector) of a member cluster, which kstack's log agent carries out.
// +kubebuilder:object:generate=true
// +groupName=logagent.tkestack.io
package v1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of this API.
	GroupVersion = schema.GroupVersion{Group: "logagent.tkestack.io", Version: "v1"}
	// SchemeBuilder registers the kinds of this API.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}
	// AddToScheme adds the kinds of this API to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
