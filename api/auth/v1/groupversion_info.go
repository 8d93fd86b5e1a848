// Package v1 holds the auth.tkestack.io/v1 API: who may use the platform
// (users, groups, their local passwords, identity providers, sessions and
// access keys) and what they may do (policies and their bindings).
// +kubebuilder:object:generate=true
// +groupName=auth.tkestack.io
package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of this API.
	GroupVersion = schema.GroupVersion{Group: "auth.tkestack.io", Version: "v1"}
	// SchemeBuilder registers the kinds of this API.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}
	// AddToScheme adds the kinds of this API to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

const (
	// DefaultTenant is the tenant of the platform's operators; its
	// administrators administer every tenant.
	DefaultTenant = "default"
	// LabelTenant carries an object's tenant, so that lists can be filtered
	// by the API server rather than after the fact.
	LabelTenant = "kstack.io/tenant"
	// LabelOwner carries the username that owns an access key or session.
	LabelOwner = "kstack.io/owner"
	// LocalProvider is the identity provider of users with a kstack password.
	LocalProvider = "local"
)

// ObjectName is the name of a tenant's user or group object: tenant IDs and
// usernames contain no dots, so the pair is unambiguous.
func ObjectName(tenant, name string) string { return tenant + "." + name }

// OwnedBy makes an object go with its user: the garbage collector deletes a
// user's password, sessions and access keys when the user is deleted.
func OwnedBy(u *User) []metav1.OwnerReference {
	if u == nil || u.UID == "" {
		return nil
	}
	return []metav1.OwnerReference{{APIVersion: GroupVersion.String(), Kind: "User", Name: u.Name, UID: u.UID}}
}
