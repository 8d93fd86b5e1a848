package v1

// The bodies of the business group's actions, which the CLI and the console
// send and read. They are not stored objects.

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// PublishRequest is the body of POST
// /business/apis/business.tkestack.io/v1/namespaces/{project}/publish.
// +kubebuilder:object:generate=false
type PublishRequest struct {
	// Manifests are YAML or JSON documents.
	Manifests string   `json:"manifests"`
	Clusters  []string `json:"clusters"`
	Namespace string   `json:"namespace"`
	PublishOverrides
	// TimeoutSeconds bounds the wait for workloads (default 60, at most 300).
	TimeoutSeconds int `json:"timeoutSeconds,omitempty"`
}

// PublishOverrides are per-cluster changes: "value" for every cluster or
// "cls-x=value" for one.
// +kubebuilder:object:generate=false
type PublishOverrides struct {
	Replicas []string `json:"replicas,omitempty"`
	Images   []string `json:"images,omitempty"`
}

// PublishResult is one object in one cluster.
// +kubebuilder:object:generate=false
type PublishResult struct {
	Cluster string `json:"cluster"`
	Object  string `json:"object"`
	Ready   string `json:"ready"`
	Status  string `json:"status"`
}

// PublishResponse lists each object in each cluster.
// +kubebuilder:object:generate=false
type PublishResponse struct {
	Results []PublishResult `json:"results"`
}

// MoveRequest is the body of POST
// /business/apis/business.tkestack.io/v1/namespaces/{project}/namespaces/{name}/move.
// +kubebuilder:object:generate=false
type MoveRequest struct {
	Project string `json:"project"`
}

// PortalProject is one project as the portal shows it to a member.
// +kubebuilder:object:generate=false
type PortalProject struct {
	Name        string   `json:"name"`
	DisplayName string   `json:"displayName"`
	Role        string   `json:"role"`
	Clusters    []string `json:"clusters"`
	// Namespaces are "<cluster>/<namespace>".
	Namespaces []string `json:"namespaces"`
}

// Portal is GET /business/apis/business.tkestack.io/v1/portal (seed 004
// §4.3): the projects the caller belongs to, and their role in each.
// +kubebuilder:object:generate=false
type Portal struct {
	metav1.TypeMeta `json:",inline"`
	Administrator   bool            `json:"administrator"`
	Projects        []PortalProject `json:"projects"`
}
