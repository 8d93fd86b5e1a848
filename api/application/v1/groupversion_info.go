// Package v1 holds the application.tkestack.io/v1 API: Helm applications
// (App), each a Helm v3 release in a namespace of a member cluster, and the
// bodies of their actions (history, values diff, resources, rollback).
// +kubebuilder:object:generate=true
// +groupName=application.tkestack.io
package v1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of this API.
	GroupVersion = schema.GroupVersion{Group: "application.tkestack.io", Version: "v1"}
	// SchemeBuilder registers the kinds of this API.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}
	// AddToScheme adds the kinds of this API to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
