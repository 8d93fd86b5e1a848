package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// VirtualNodeSet asks the platform to run virtual nodes: each lower cluster
// becomes one node of the upper cluster (docs/virtual-nodes.md). The
// platform's leader runs them with its own credentials to the members.
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=vns
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Upper",type=string,JSONPath=`.spec.upper`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Nodes",type=string,JSONPath=`.status.nodes`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type VirtualNodeSet struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   VirtualNodeSetSpec   `json:"spec"`
	Status VirtualNodeSetStatus `json:"status,omitempty"`
}

// VirtualNodeSetSpec names the clusters and the behaviour of the nodes.
type VirtualNodeSetSpec struct {
	// +kubebuilder:default=default
	TenantID string `json:"tenantID,omitempty"`
	// Upper is the cluster ID that gets the virtual nodes.
	// +kubebuilder:validation:Pattern=`^cls-[a-z0-9]+$`
	Upper string `json:"upper"`
	// Lowers are the cluster IDs that become virtual nodes.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:items:Pattern=`^cls-[a-z0-9]+$`
	Lowers []string `json:"lowers"`
	// NodePrefix: node name = prefix + lower cluster ID.
	// +kubebuilder:default=vk-
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*)?$`
	// +kubebuilder:validation:MaxLength=20
	NodePrefix string `json:"nodePrefix,omitempty"`
	// Webhook registers the mutating webhook in the upper cluster.
	// +optional
	Webhook bool `json:"webhook,omitempty"`
	// Taint adds virtual-kubelet.io/provider=kstack:NoSchedule.
	// +optional
	Taint bool `json:"taint,omitempty"`
	// DescheduleAfter moves pods unschedulable below for this long (0: never).
	// +kubebuilder:default="30s"
	DescheduleAfter metav1.Duration `json:"descheduleAfter,omitempty"`
	// MaxMoves bounds the moves of one pod or one owner's pods.
	// +kubebuilder:default=3
	// +kubebuilder:validation:Minimum=0
	MaxMoves int `json:"maxMoves,omitempty"`
	// FailoverAfter moves the pods of a lower cluster that has not answered
	// for this long (0: never).
	// +kubebuilder:default="60s"
	FailoverAfter metav1.Duration `json:"failoverAfter,omitempty"`
}

// VirtualNodeSetStatus says whether the nodes run.
type VirtualNodeSetStatus struct {
	// Phase is Pending, Running or Failed.
	// +optional
	Phase string `json:"phase,omitempty"`
	// Nodes are the virtual nodes registered in the upper cluster.
	// +optional
	Nodes []string `json:"nodes,omitempty"`
	// Message says why it is not Running.
	// +optional
	Message string `json:"message,omitempty"`
	// ObservedGeneration is the spec generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// VirtualNodeSetList is a list of VirtualNodeSets.
// +kubebuilder:object:root=true
type VirtualNodeSetList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []VirtualNodeSet `json:"items"`
}

func init() {
	SchemeBuilder.Register(&VirtualNodeSet{}, &VirtualNodeSetList{})
}
