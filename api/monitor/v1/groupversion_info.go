// Package v1 holds the monitor.tkestack.io/v1 API: alarm policies
// (AlarmPolicy) evaluated by the platform over its metric store, and alarm
// silences (AlarmSilence) that mute their notifications for a while.
// +kubebuilder:object:generate=true
// +groupName=monitor.tkestack.io
package v1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of this API.
	GroupVersion = schema.GroupVersion{Group: "monitor.tkestack.io", Version: "v1"}
	// SchemeBuilder registers the kinds of this API.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}
	// AddToScheme adds the kinds of this API to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
