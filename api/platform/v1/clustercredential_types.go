package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ClusterCredential says how the platform reaches a member cluster. The
// public parts live here; the secret parts (token, client key) live in the
// Secret that SecretRef names, in the platform's system namespace, so that
// they are encrypted at rest and only platform administrators can read them.
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=cc
// +kubebuilder:printcolumn:name="Cluster",type=string,JSONPath=`.spec.clusterName`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ClusterCredential struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec ClusterCredentialSpec `json:"spec,omitempty"`
}

// ClusterCredentialSpec holds a member cluster's address and credential.
type ClusterCredentialSpec struct {
	// +kubebuilder:default=default
	TenantID string `json:"tenantID,omitempty"`
	// ClusterName is the Cluster this credential belongs to.
	ClusterName string `json:"clusterName"`
	// Server is the https URL of the member's kube-apiserver.
	// +kubebuilder:validation:Pattern=`^https://`
	Server string `json:"server"`
	// CACert is the PEM CA bundle that signs the server's certificate.
	// +optional
	CACert []byte `json:"caCert,omitempty"`
	// TLSServerName overrides the name checked in the server's certificate.
	// +optional
	TLSServerName string `json:"tlsServerName,omitempty"`
	// ClientCert is the PEM client certificate, when the credential is one.
	// +optional
	ClientCert []byte `json:"clientCert,omitempty"`
	// SecretRef names the Secret with the keys "token" and/or "clientKey".
	SecretRef SecretReference `json:"secretRef"`
}

// SecretReference names a Secret.
type SecretReference struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// ClusterCredentialList is a list of credentials.
// +kubebuilder:object:root=true
type ClusterCredentialList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterCredential `json:"items"`
}

func init() {
	SchemeBuilder.Register(&ClusterCredential{}, &ClusterCredentialList{})
}

// Labels and names kstack uses for clusters.
const (
	// LabelClusterUID carries Status.ClusterUID, to find duplicates fast.
	LabelClusterUID = "platform.kstack.io/cluster-uid"
	// LabelManagedBy marks every object kstack creates in a member cluster.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// ManagedByValue is the value of LabelManagedBy.
	ManagedByValue = "kstack"
	// ProxyGroup is the group the proxy adds to every impersonated request;
	// one kstack-owned ClusterRoleBinding in each member grants it.
	ProxyGroup = "kstack:platform-users"
	// MemberBindingName names that ClusterRoleBinding.
	MemberBindingName = "kstack-platform-users"
	// AnnotationLocalCluster names the `kstack local` cluster behind a Local Cluster.
	AnnotationLocalCluster = "platform.kstack.io/local-cluster"
	// ClusterFinalizer makes the platform clean a member before forgetting it.
	ClusterFinalizer = "platform.kstack.io/member-cleanup"
)
