package v1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TApp is a set of pods with fixed instance IDs 0..replicas-1 (pods named
// <tapp>-<id>), each on a template of the pool, updated in place when only
// images change (seed 004 §5.1).
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=tapp
// +kubebuilder:subresource:status
// +kubebuilder:subresource:scale:specpath=.spec.replicas,statuspath=.status.replicas,selectorpath=.status.scaleLabelSelector
// +kubebuilder:printcolumn:name="Replicas",type=integer,JSONPath=`.status.replicas`
// +kubebuilder:printcolumn:name="Ready",type=integer,JSONPath=`.status.readyReplicas`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.appStatus`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type TApp struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   TAppSpec   `json:"spec,omitempty"`
	Status TAppStatus `json:"status,omitempty"`
}

// InstanceStatus is an instance's desired status (Running, Killed) or its
// observed one (NotCreated ... Unknown).
type InstanceStatus string

// Instance statuses.
const (
	InstanceNotCreated InstanceStatus = "NotCreated"
	InstancePending    InstanceStatus = "Pending"
	InstanceRunning    InstanceStatus = "Running"
	InstanceUpdating   InstanceStatus = "Updating"
	InstancePodFailed  InstanceStatus = "PodFailed"
	InstancePodSucc    InstanceStatus = "PodSucc"
	InstanceKilling    InstanceStatus = "Killing"
	InstanceKilled     InstanceStatus = "Killed"
	InstanceFailed     InstanceStatus = "Failed"
	InstanceSucc       InstanceStatus = "Succ"
	InstanceUnknown    InstanceStatus = "Unknown"
)

// AppStatus is the TApp's overall status.
type AppStatus string

// TApp statuses.
const (
	AppPending AppStatus = "Pending"
	AppRunning AppStatus = "Running"
	AppFailed  AppStatus = "Failed"
	AppSucc    AppStatus = "Succ"
	AppKilled  AppStatus = "Killed"
)

// DefaultTemplateName names spec.template in spec.templates.
const DefaultTemplateName = "default"

// TAppSpec is the seed's spec.
type TAppSpec struct {
	// Replicas is the number of instances, IDs 0..replicas-1.
	// +kubebuilder:validation:Minimum=0
	Replicas int32 `json:"replicas,omitempty"`
	// Selector selects the pods; default: the template's labels.
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
	// Template is the default template (DefaultTemplateName).
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	Template corev1.PodTemplateSpec `json:"template"`
	// TemplatePool: template name -> template.
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	TemplatePool map[string]corev1.PodTemplateSpec `json:"templatePool,omitempty"`
	// Statuses: instance ID -> desired status, Running or Killed.
	// +optional
	Statuses map[string]InstanceStatus `json:"statuses,omitempty"`
	// Templates: instance ID -> template name of the pool; instances not
	// listed use spec.template.
	// +optional
	Templates map[string]string `json:"templates,omitempty"`
	// UpdateStrategy limits how many instances of a template are
	// unavailable at once while they are updated.
	// +optional
	UpdateStrategy TAppUpdateStrategy `json:"updateStrategy,omitempty"`
	// ForceDeletePod deletes pods with a grace period of 0.
	// +optional
	ForceDeletePod bool `json:"forceDeletePod,omitempty"`
	// VolumeClaimTemplates: one PVC per instance and template, as a
	// StatefulSet's (<claim>-<tapp>-<id>); they cannot change.
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	VolumeClaimTemplates []corev1.PersistentVolumeClaim `json:"volumeClaimTemplates,omitempty"`
}

// TAppUpdateStrategy is the rolling update of one template.
type TAppUpdateStrategy struct {
	// Template is the template whose instances the limit applies to
	// (default: every template).
	// +optional
	Template string `json:"template,omitempty"`
	// MaxUnavailable is how many of its instances may be unavailable at
	// once during an update (default 1: docs/tapp.md says why).
	// +optional
	// +kubebuilder:validation:Minimum=1
	MaxUnavailable *int32 `json:"maxUnavailable,omitempty"`
}

// TAppStatus is the seed's status.
type TAppStatus struct {
	// ObservedGeneration is the spec generation the status describes.
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Replicas is the number of instances that have a pod.
	Replicas int32 `json:"replicas"`
	// ReadyReplicas is the number of instances whose pod is Ready.
	ReadyReplicas int32 `json:"readyReplicas"`
	// ScaleLabelSelector selects the pods, for HPA.
	// +optional
	ScaleLabelSelector string `json:"scaleLabelSelector,omitempty"`
	// AppStatus is Pending, Running, Failed, Succ or Killed.
	// +optional
	AppStatus AppStatus `json:"appStatus,omitempty"`
	// Statuses: instance ID -> observed status.
	// +optional
	Statuses map[string]InstanceStatus `json:"statuses,omitempty"`
}

// TAppList is a list of TApps.
// +kubebuilder:object:root=true
type TAppList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []TApp `json:"items"`
}

func init() {
	SchemeBuilder.Register(&TApp{}, &TAppList{})
}
