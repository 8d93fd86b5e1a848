package v1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Project is a business: members with project roles, and a quota in each
// cluster it spans. Its name is "prj-" and 8 characters of [a-z0-9]; its
// Namespaces live in the global cluster's namespace of the same name.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=prj
// +kubebuilder:printcolumn:name="Display Name",type=string,JSONPath=`.spec.displayName`
// +kubebuilder:printcolumn:name="Tenant",type=string,JSONPath=`.spec.tenantID`
// +kubebuilder:printcolumn:name="Parent",type=string,JSONPath=`.spec.parentProjectName`
type Project struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ProjectSpec   `json:"spec,omitempty"`
	Status ProjectStatus `json:"status,omitempty"`
}

// ProjectRole is a member's role in a project: one of the predefined
// project policies.
// +kubebuilder:validation:Enum=project-admin;project-member;project-viewer
type ProjectRole string

// ProjectMember is a user of the project's tenant and their role.
type ProjectMember struct {
	Username string      `json:"username"`
	Role     ProjectRole `json:"role"`
}

// ClusterQuota is the project's hard limits in one cluster: any
// ResourceQuota resource (requests.cpu, limits.memory, pods, count/...).
type ClusterQuota struct {
	Name string              `json:"name"`
	Hard corev1.ResourceList `json:"hard,omitempty"`
}

// ProjectSpec describes a project.
type ProjectSpec struct {
	// +kubebuilder:default=default
	TenantID string `json:"tenantID,omitempty"`
	// +kubebuilder:validation:MaxLength=255
	DisplayName string `json:"displayName"`
	// +optional
	Members []ProjectMember `json:"members,omitempty"`
	// Clusters the project spans, with its quota in each.
	// +optional
	Clusters []ClusterQuota `json:"clusters,omitempty"`
	// ParentProjectName makes this a sub-project, whose quotas fit inside
	// the parent's.
	// +optional
	ParentProjectName string `json:"parentProjectName,omitempty"`
}

// ClusterUsage is what a project has handed out to its namespaces and
// sub-projects in one cluster, and what those use.
type ClusterUsage struct {
	Name      string              `json:"name"`
	Allocated corev1.ResourceList `json:"allocated,omitempty"`
	Used      corev1.ResourceList `json:"used,omitempty"`
}

// ProjectStatus adds up the project's namespaces per cluster.
type ProjectStatus struct {
	// +optional
	Clusters []ClusterUsage `json:"clusters,omitempty"`
	// +optional
	Namespaces int32 `json:"namespaces,omitempty"`
}

// ProjectList is a list of projects.
// +kubebuilder:object:root=true
type ProjectList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Project `json:"items"`
}

// Quota returns the project's hard limits in a cluster, and whether it
// spans the cluster at all.
func (p *Project) Quota(cluster string) (corev1.ResourceList, bool) {
	for _, c := range p.Spec.Clusters {
		if c.Name == cluster {
			return c.Hard, true
		}
	}
	return nil, false
}

// Role returns a user's role in the project ("" for none).
func (p *Project) Role(username string) ProjectRole {
	for _, m := range p.Spec.Members {
		if m.Username == username {
			return m.Role
		}
	}
	return ""
}

func init() {
	SchemeBuilder.Register(&Project{}, &ProjectList{})
}
