package v1

import (
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ClusterAddon turns one extension component (an add-on type such as
// CronHPA) on in one member cluster (seed 004 §4.2.4). Its name is
// <cluster>-<type in lower case>, so a cluster has each type at most once.
// The platform's leader brings the add-on's CRDs and objects into the
// member by server-side apply and runs its controller (docs/addons.md).
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=addon
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Cluster",type=string,JSONPath=`.spec.clusterName`
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.type`
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.status.version`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ClusterAddon struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ClusterAddonSpec   `json:"spec"`
	Status ClusterAddonStatus `json:"status,omitempty"`
}

// ClusterAddonSpec says which add-on, where, at which version.
type ClusterAddonSpec struct {
	// +kubebuilder:default=default
	TenantID string `json:"tenantID,omitempty"`
	// ClusterName is the member cluster's ID (checked by the platform,
	// which says why another name is refused).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	ClusterName string `json:"clusterName"`
	// Type is the add-on type, e.g. CronHPA (kstack addon types).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=40
	Type string `json:"type"`
	// Version is the desired version; empty means the latest when the
	// add-on is enabled (the platform fills it in).
	// +optional
	// +kubebuilder:validation:MaxLength=40
	Version string `json:"version,omitempty"`
	// Controller says where the add-on's controller runs: Platform (the
	// platform's leader runs it through its connection to the member) or
	// External (`kstack addon run TYPE --kubeconfig ...`, a process of its
	// own, for large members).
	// +kubebuilder:default=Platform
	// +kubebuilder:validation:Enum=Platform;External
	// +optional
	Controller string `json:"controller,omitempty"`
}

// Where an add-on's controller runs.
const (
	AddonControllerPlatform = "Platform"
	AddonControllerExternal = "External"
)

// Phases of a ClusterAddon.
const (
	// AddonWaiting: the member is not reachable; it installs once it is.
	AddonWaiting = "Waiting"
	// AddonInstalling: being applied (install or upgrade).
	AddonInstalling = "Installing"
	// AddonRunning: installed, healthy.
	AddonRunning = "Running"
	// AddonFailed: the last install or upgrade failed; the member was
	// left as it was before it; status.message says why.
	AddonFailed = "Failed"
	// AddonTerminating: being uninstalled.
	AddonTerminating = "Terminating"
)

// Conditions of a ClusterAddon.
const (
	// AddonInstalled: the version in status.version is in the member.
	AddonInstalled = "Installed"
	// AddonHealthy: its CRDs are established and its controller runs.
	AddonHealthy = "Healthy"
)

// ClusterAddonStatus is what is in the member.
type ClusterAddonStatus struct {
	// Phase is Waiting, Installing, Running, Failed or Terminating.
	// +optional
	Phase string `json:"phase,omitempty"`
	// Version is the version installed in the member ("" before the first
	// install succeeded).
	// +optional
	Version string `json:"version,omitempty"`
	// Message says why the add-on is not Running, in words.
	// +optional
	Message string `json:"message,omitempty"`
	// Conditions: Installed, Healthy.
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// Objects are what the installed version made in the member: what
	// an upgrade prunes and an uninstall removes, and nothing else.
	// +optional
	Objects []AddonObject `json:"objects,omitempty"`
	// RetryCount counts failed attempts at the desired version.
	// +optional
	RetryCount int32 `json:"retryCount,omitempty"`
	// ObservedGeneration is the spec generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// AddonObject names one object an add-on made in a member.
type AddonObject struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// +optional
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

// ClusterAddonList is a list of ClusterAddons.
// +kubebuilder:object:root=true
type ClusterAddonList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterAddon `json:"items"`
}

// AddonName is the name of the ClusterAddon of type in cluster.
func AddonName(cluster, addonType string) string {
	return cluster + "-" + strings.ToLower(addonType)
}

func init() {
	SchemeBuilder.Register(&ClusterAddon{}, &ClusterAddonList{})
}
