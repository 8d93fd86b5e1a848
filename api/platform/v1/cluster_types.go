package v1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ClusterType says how a cluster came to the platform.
// +kubebuilder:validation:Enum=Imported;Local;Global
type ClusterType string

const (
	// ClusterImported is a cluster that existed before and was imported.
	ClusterImported ClusterType = "Imported"
	// ClusterLocal is a cluster that `kstack local` runs on the platform's host.
	ClusterLocal ClusterType = "Local"
	// ClusterGlobal is the platform's own control plane.
	ClusterGlobal ClusterType = "Global"
)

// ClusterPhase is the lifecycle phase of a cluster.
type ClusterPhase string

const (
	ClusterInitializing ClusterPhase = "Initializing"
	ClusterRunning      ClusterPhase = "Running"
	ClusterFailed       ClusterPhase = "Failed"
	ClusterTerminating  ClusterPhase = "Terminating"
)

// ClusterSpec is what the platform is told about a cluster.
type ClusterSpec struct {
	// TenantID is the tenant that owns the cluster.
	// +kubebuilder:default=default
	TenantID string `json:"tenantID,omitempty"`
	// DisplayName is the name people see.
	// +kubebuilder:validation:MaxLength=63
	DisplayName string `json:"displayName,omitempty"`
	// Type says how the cluster came to the platform.
	Type ClusterType `json:"type"`
	// ClusterCredentialRef names the ClusterCredential used to reach the cluster.
	// +optional
	ClusterCredentialRef *corev1.LocalObjectReference `json:"clusterCredentialRef,omitempty"`
	// Locked stops new workloads from being created through the platform.
	// +optional
	Locked bool `json:"locked,omitempty"`
	// Features are the platform services switched on for the cluster.
	// +optional
	Features ClusterFeatures `json:"features,omitempty"`
}

// ClusterFeatures are per-cluster switches of platform services.
type ClusterFeatures struct {
	// EventPersistence keeps every Kubernetes event of the cluster in the
	// platform's record store, searchable past the hour the cluster keeps them.
	// +optional
	EventPersistence bool `json:"eventPersistence,omitempty"`
	// Monitoring collects the cluster's usage and state into the platform's
	// metric store (nothing is installed in the cluster).
	// +optional
	Monitoring bool `json:"monitoring,omitempty"`
}

// ClusterAddress is an address of the cluster's API server.
type ClusterAddress struct {
	// Type is Advertise (how the platform reaches it) or Internal.
	Type string `json:"type"`
	Host string `json:"host"`
	Port int32  `json:"port"`
	// +optional
	Path string `json:"path,omitempty"`
}

// ClusterResource sums a cluster's nodes.
type ClusterResource struct {
	Capacity    corev1.ResourceList `json:"capacity,omitempty"`
	Allocatable corev1.ResourceList `json:"allocatable,omitempty"`
	// Allocated is what the cluster's pods request.
	Allocated corev1.ResourceList `json:"allocated,omitempty"`
}

// ClusterCondition is one observation of a cluster's health.
type ClusterCondition struct {
	Type   string                 `json:"type"`
	Status corev1.ConditionStatus `json:"status"`
	// +optional
	LastProbeTime metav1.Time `json:"lastProbeTime,omitempty"`
	// +optional
	LastTransitionTime metav1.Time `json:"lastTransitionTime,omitempty"`
	// +optional
	Reason string `json:"reason,omitempty"`
	// +optional
	Message string `json:"message,omitempty"`
}

// ClusterNodeSummary counts a cluster's nodes.
type ClusterNodeSummary struct {
	Total int32 `json:"total"`
	Ready int32 `json:"ready"`
}

// ClusterStatus is what the platform observes of a cluster.
type ClusterStatus struct {
	// +optional
	Phase ClusterPhase `json:"phase,omitempty"`
	// +optional
	Conditions []ClusterCondition `json:"conditions,omitempty"`
	// Version is the Kubernetes version of the cluster's API server.
	// +optional
	Version string `json:"version,omitempty"`
	// +optional
	Addresses []ClusterAddress `json:"addresses,omitempty"`
	// +optional
	Resource ClusterResource `json:"resource,omitempty"`
	// +optional
	Nodes ClusterNodeSummary `json:"nodes,omitempty"`
	// +optional
	Pods int32 `json:"pods,omitempty"`
	// ClusterUID is the UID of the member's kube-system namespace: how the
	// platform recognises a cluster that is imported twice.
	// +optional
	ClusterUID string `json:"clusterUID,omitempty"`
	// LastProbeTime is when the platform last reached the cluster.
	// +optional
	LastProbeTime *metav1.Time `json:"lastProbeTime,omitempty"`
	// ObservedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// Cluster is a Kubernetes cluster managed by the platform. Its name is its ID
// (cls- and 8 characters), or "global" for the platform's own control plane.
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=cls
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Display Name",type=string,JSONPath=`.spec.displayName`
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.type`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.status.version`
// +kubebuilder:printcolumn:name="Nodes",type=integer,JSONPath=`.status.nodes.ready`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Cluster struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ClusterSpec   `json:"spec,omitempty"`
	Status ClusterStatus `json:"status,omitempty"`
}

// ClusterList is a list of clusters.
// +kubebuilder:object:root=true
type ClusterList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Cluster `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Cluster{}, &ClusterList{})
}

// GlobalClusterName is the name of the platform's own cluster.
const GlobalClusterName = "global"
