package v1

import (
	"encoding/json"

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
// +kubebuilder:validation:MaxLength=16
type InstanceStatus string

// TemplateName names a template of the pool, or "default" (spec.template).
// +kubebuilder:validation:MaxLength=253
type TemplateName string

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

// TAppSpec is the seed's spec. The rules below are the bad input the
// member's API server refuses (docs/tapp.md): entries of templates and
// statuses may name only instances 0..replicas-1, but an entry that is
// already there and unchanged may stay when the TApp is scaled down, so that
// HPA, CronHPA and kubectl scale keep working and a killed instance stays
// killed when it comes back. (A message cannot see oldSelf, so it names an
// entry out of range, which may be one of those.)
// +kubebuilder:validation:XValidation:rule="!has(self.templates) || self.templates.all(k, self.templates[k] == 'default' || (has(self.templatePool) && self.templates[k] in self.templatePool))",message="spec.templates names a template, which is not in spec.templatePool: add the template to spec.templatePool, or name \"default\" for spec.template",messageExpression="'spec.templates: instance ' + self.templates.filter(k, !(self.templates[k] == 'default' || (has(self.templatePool) && self.templates[k] in self.templatePool)))[0] + ' names template \"' + self.templates[self.templates.filter(k, !(self.templates[k] == 'default' || (has(self.templatePool) && self.templates[k] in self.templatePool)))[0]] + '\", which is not in spec.templatePool: add the template to spec.templatePool, or name \"default\" for spec.template'",reason=FieldValueInvalid
// +kubebuilder:validation:XValidation:rule="!has(self.templates) || self.templates.all(k, k.matches('^(0|[1-9][0-9]{0,8})$') && (int(k) < (has(self.replicas) ? self.replicas : 0) || (oldSelf.hasValue() && has(oldSelf.value().templates) && k in oldSelf.value().templates && oldSelf.value().templates[k] == self.templates[k])))",optionalOldSelf=true,message="spec.templates: the keys are instance ids, from 0 to replicas-1, written as numbers without sign or leading zeros; of the other keys, only those of instances removed by scaling down may stay, unchanged",messageExpression="'spec.templates: the keys are instance ids, from 0 to replicas-1, written as numbers without sign or leading zeros; of the other keys, such as \"' + self.templates.filter(k, !(k.matches('^(0|[1-9][0-9]{0,8})$') && int(k) < (has(self.replicas) ? self.replicas : 0)))[0] + '\", only those of instances removed by scaling down may stay, unchanged'",reason=FieldValueInvalid
// +kubebuilder:validation:XValidation:rule="!has(self.statuses) || self.statuses.all(k, k.matches('^(0|[1-9][0-9]{0,8})$') && (int(k) < (has(self.replicas) ? self.replicas : 0) || (oldSelf.hasValue() && has(oldSelf.value().statuses) && k in oldSelf.value().statuses && oldSelf.value().statuses[k] == self.statuses[k])))",optionalOldSelf=true,message="spec.statuses: the keys are instance ids, from 0 to replicas-1, written as numbers without sign or leading zeros; of the other keys, only those of instances removed by scaling down may stay, unchanged",messageExpression="'spec.statuses: the keys are instance ids, from 0 to replicas-1, written as numbers without sign or leading zeros; of the other keys, such as \"' + self.statuses.filter(k, !(k.matches('^(0|[1-9][0-9]{0,8})$') && int(k) < (has(self.replicas) ? self.replicas : 0)))[0] + '\", only those of instances removed by scaling down may stay, unchanged'",reason=FieldValueInvalid
// +kubebuilder:validation:XValidation:rule="!has(self.statuses) || self.statuses.all(k, self.statuses[k] in ['Running', 'Killed'])",message="spec.statuses: an instance can only be set Running or Killed",messageExpression="'spec.statuses: instance ' + self.statuses.filter(k, !(self.statuses[k] in ['Running', 'Killed']))[0] + ' is \"' + self.statuses[self.statuses.filter(k, !(self.statuses[k] in ['Running', 'Killed']))[0]] + '\": an instance can only be set Running or Killed'",reason=FieldValueInvalid
// +kubebuilder:validation:XValidation:rule="has(self.volumeClaimTemplates) == has(oldSelf.volumeClaimTemplates) && (!has(self.volumeClaimTemplates) || self.volumeClaimTemplates == oldSelf.volumeClaimTemplates)",message="spec.volumeClaimTemplates cannot change once the TApp exists (as for a StatefulSet): make a new TApp for other claims",reason=FieldValueForbidden
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
	// +kubebuilder:validation:MaxProperties=64
	TemplatePool map[string]PoolTemplate `json:"templatePool,omitempty"`
	// Statuses: instance ID -> desired status, Running or Killed.
	// +optional
	// +kubebuilder:validation:MaxProperties=1000
	Statuses map[string]InstanceStatus `json:"statuses,omitempty"`
	// Templates: instance ID -> template name of the pool; instances not
	// listed use spec.template.
	// +optional
	// +kubebuilder:validation:MaxProperties=1000
	Templates map[string]TemplateName `json:"templates,omitempty"`
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
	// +kubebuilder:validation:MaxItems=16
	VolumeClaimTemplates []corev1.PersistentVolumeClaim `json:"volumeClaimTemplates,omitempty"`
}

// PoolTemplate is a pod template of the pool. Its schema is left open
// (like spec.template's) so the CRD stays small, while the pool itself is a
// typed map the API server's rules can look names up in.
// +kubebuilder:pruning:PreserveUnknownFields
type PoolTemplate struct {
	corev1.PodTemplateSpec `json:"-"`
}

// MarshalJSON writes the pod template itself.
func (p PoolTemplate) MarshalJSON() ([]byte, error) { return json.Marshal(p.PodTemplateSpec) }

// UnmarshalJSON reads the pod template itself.
func (p *PoolTemplate) UnmarshalJSON(b []byte) error {
	return json.Unmarshal(b, &p.PodTemplateSpec)
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
