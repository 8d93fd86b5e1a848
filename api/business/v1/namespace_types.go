package v1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// NamespacePhase is where a business Namespace stands.
type NamespacePhase string

const (
	NamespacePending     NamespacePhase = "Pending"
	NamespaceAvailable   NamespacePhase = "Available"
	NamespaceFailed      NamespacePhase = "Failed"
	NamespaceTerminating NamespacePhase = "Terminating"
)

// Namespace is a project's namespace in one member cluster. It lives in the
// global cluster's namespace named after its project (as in TKEStack), and
// is named "<cluster>-<namespace>".
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=bns
// +kubebuilder:printcolumn:name="Cluster",type=string,JSONPath=`.spec.clusterName`
// +kubebuilder:printcolumn:name="Namespace",type=string,JSONPath=`.spec.namespace`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
type Namespace struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   NamespaceSpec   `json:"spec,omitempty"`
	Status NamespaceStatus `json:"status,omitempty"`
}

// NamespaceSpec describes a project namespace.
type NamespaceSpec struct {
	// +kubebuilder:default=default
	TenantID    string `json:"tenantID,omitempty"`
	ProjectName string `json:"projectName"`
	ClusterName string `json:"clusterName"`
	// Namespace is the name in the member cluster.
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace"`
	// Hard limits of the namespace's ResourceQuota.
	// +optional
	Hard corev1.ResourceList `json:"hard,omitempty"`
}

// NamespaceStatus is the member namespace as last seen.
type NamespaceStatus struct {
	// +optional
	Phase NamespacePhase `json:"phase,omitempty"`
	// +optional
	Message string `json:"message,omitempty"`
	// Used is the ResourceQuota's usage in the member.
	// +optional
	Used corev1.ResourceList `json:"used,omitempty"`
	// +optional
	LastSyncTime *metav1.Time `json:"lastSyncTime,omitempty"`
}

// NamespaceList is a list of namespaces.
// +kubebuilder:object:root=true
type NamespaceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Namespace `json:"items"`
}

// ObjectName names a business Namespace.
func ObjectName(cluster, namespace string) string { return cluster + "-" + namespace }

func init() {
	SchemeBuilder.Register(&Namespace{}, &NamespaceList{})
}
