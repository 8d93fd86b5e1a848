package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AlarmSilence mutes the notifications of the alarms it matches until
// EndsAt; the alarms are still evaluated and recorded. A silence mutes
// only alarms of policies in its own namespace, so a project cannot
// silence another project's alarms. Expiring one early sets EndsAt to now.
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=asil
// +kubebuilder:printcolumn:name="Starts",type=string,JSONPath=`.spec.startsAt`
// +kubebuilder:printcolumn:name="Ends",type=string,JSONPath=`.spec.endsAt`
// +kubebuilder:printcolumn:name="Comment",type=string,JSONPath=`.spec.comment`
type AlarmSilence struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec AlarmSilenceSpec `json:"spec,omitempty"`
}

// AlarmSilenceSpec is which alarms are muted, and for how long.
type AlarmSilenceSpec struct {
	// +kubebuilder:default=default
	TenantID string `json:"tenantID,omitempty"`
	// Matchers select alarms by their labels (alarm_policy, cluster,
	// namespace, pod, node, alarm_metric, …); all must match.
	// +kubebuilder:validation:MinItems=1
	Matchers []Matcher `json:"matchers"`
	// StartsAt defaults to the time of creation.
	// +optional
	StartsAt *metav1.Time `json:"startsAt,omitempty"`
	EndsAt   metav1.Time  `json:"endsAt"`
	// +optional
	Comment string `json:"comment,omitempty"`
	// CreatedBy is who made the silence; the platform sets it.
	// +optional
	CreatedBy string `json:"createdBy,omitempty"`
}

// Matcher is one label matcher, as Alertmanager's.
type Matcher struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	// +kubebuilder:validation:Enum="=";"!=";"=~";"!~"
	// +kubebuilder:default="="
	Type string `json:"type,omitempty"`
}

// AlarmSilenceList is a list of alarm silences.
// +kubebuilder:object:root=true
type AlarmSilenceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AlarmSilence `json:"items"`
}

func init() {
	SchemeBuilder.Register(&AlarmSilence{}, &AlarmSilenceList{})
}
