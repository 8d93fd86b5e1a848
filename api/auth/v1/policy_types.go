package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PolicyScope says where a policy applies.
// +kubebuilder:validation:Enum=Platform;Project
type PolicyScope string

const (
	// ScopePlatform policies apply to the platform and every cluster of the tenant.
	ScopePlatform PolicyScope = "Platform"
	// ScopeProject policies apply inside the project that the binding names.
	ScopeProject PolicyScope = "Project"
)

// Statement allows or denies actions on resources; '*' is a wildcard.
type Statement struct {
	// Actions, e.g. "get*", "createPodExec", "*".
	// +kubebuilder:validation:MinItems=1
	Actions []string `json:"actions"`
	// Resources, e.g. "cluster:cls-123/namespace:default/*".
	// +kubebuilder:validation:MinItems=1
	Resources []string `json:"resources"`
	// +kubebuilder:validation:Enum=allow;deny
	Effect string `json:"effect"`
}

// Policy is a named set of statements. Predefined policies have an empty
// tenantID and serve every tenant.
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster
// +kubebuilder:printcolumn:name="Tenant",type=string,JSONPath=`.spec.tenantID`
// +kubebuilder:printcolumn:name="Scope",type=string,JSONPath=`.spec.scope`
// +kubebuilder:printcolumn:name="Display Name",type=string,JSONPath=`.spec.displayName`
type Policy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec PolicySpec `json:"spec,omitempty"`
}

// PolicySpec describes a policy.
type PolicySpec struct {
	// +optional
	TenantID string `json:"tenantID,omitempty"`
	// +kubebuilder:validation:MaxLength=255
	// +optional
	DisplayName string `json:"displayName,omitempty"`
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Description string `json:"description,omitempty"`
	// +kubebuilder:default=Platform
	Scope PolicyScope `json:"scope,omitempty"`
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=100
	Statements []Statement `json:"statements"`
	// Predefined policies are made by the platform and cannot be changed.
	// +optional
	Predefined bool `json:"predefined,omitempty"`
}

// PolicyList is a list of policies.
// +kubebuilder:object:root=true
type PolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Policy `json:"items"`
}

// PolicyBinding grants a policy to users and groups of one tenant, on the
// platform or, for project policies, in one project.
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster
// +kubebuilder:printcolumn:name="Tenant",type=string,JSONPath=`.spec.tenantID`
// +kubebuilder:printcolumn:name="Policy",type=string,JSONPath=`.spec.policyName`
// +kubebuilder:printcolumn:name="Project",type=string,JSONPath=`.spec.projectID`
type PolicyBinding struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec PolicyBindingSpec `json:"spec,omitempty"`
}

// PolicyBindingSpec names a policy and who holds it.
type PolicyBindingSpec struct {
	// +kubebuilder:default=default
	TenantID   string `json:"tenantID,omitempty"`
	PolicyName string `json:"policyName"`
	// Users are usernames of the tenant.
	// +optional
	Users []string `json:"users,omitempty"`
	// Groups are group names of the tenant, or groups an identity provider names.
	// +optional
	Groups []string `json:"groups,omitempty"`
	// ProjectID is where a project policy applies.
	// +optional
	ProjectID string `json:"projectID,omitempty"`
}

// PolicyBindingList is a list of bindings.
// +kubebuilder:object:root=true
type PolicyBindingList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []PolicyBinding `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Policy{}, &PolicyList{}, &PolicyBinding{}, &PolicyBindingList{})
}
