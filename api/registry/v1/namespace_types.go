package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Visibility says who may pull from a registry namespace.
type Visibility string

const (
	// Public: anyone pulls, anonymous clients included.
	Public Visibility = "Public"
	// Private: the owning tenant's users who may read the namespace, and
	// the members (and pull credentials) of the projects it is shared with.
	Private Visibility = "Private"
)

// RegistryNamespace is a namespace of the platform's image registry: images
// are pushed to <registry>/<name>/<repository>:<tag>. Its name is the path
// segment, unique across the platform (like an organisation on a public
// registry); it belongs to one tenant and may be shared with projects of
// that tenant.
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=rns
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Visibility",type=string,JSONPath=`.spec.visibility`
// +kubebuilder:printcolumn:name="Repositories",type=integer,JSONPath=`.status.repoCount`
// +kubebuilder:printcolumn:name="Display",type=string,JSONPath=`.spec.displayName`
type RegistryNamespace struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   RegistryNamespaceSpec   `json:"spec,omitempty"`
	Status RegistryNamespaceStatus `json:"status,omitempty"`
}

// RegistryNamespaceSpec is what the owner sets.
type RegistryNamespaceSpec struct {
	// +kubebuilder:default=default
	TenantID string `json:"tenantID,omitempty"`
	// +kubebuilder:validation:MaxLength=60
	// +optional
	DisplayName string `json:"displayName,omitempty"`
	// +kubebuilder:validation:Enum=Public;Private
	// +kubebuilder:default=Private
	Visibility Visibility `json:"visibility,omitempty"`
	// Projects of the same tenant whose members may pull from and push to
	// the namespace, and whose pull secrets may pull from it.
	// +optional
	// +listType=set
	Projects []string `json:"projects,omitempty"`
}

// RegistryNamespaceStatus is what the platform reports.
type RegistryNamespaceStatus struct {
	// RepoCount is the number of repositories in the namespace.
	// +optional
	RepoCount int `json:"repoCount"`
	// Size is the sum of the sizes of its tagged images, in bytes
	// (a layer shared by two images counts twice).
	// +optional
	Size int64 `json:"size,omitempty"`
}

// RegistryNamespaceList is a list of registry namespaces.
// +kubebuilder:object:root=true
type RegistryNamespaceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []RegistryNamespace `json:"items"`
}

func init() {
	SchemeBuilder.Register(&RegistryNamespace{}, &RegistryNamespaceList{})
}
