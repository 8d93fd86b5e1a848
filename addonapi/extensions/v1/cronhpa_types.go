package v1

import (
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// CronHPA sets the replicas of a workload on cron schedules (seed 004
// §5.3): at each schedule's time, the target's scale subresource is set to
// that schedule's targetReplicas.
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=cronhpa
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Target",type=string,JSONPath=`.spec.scaleTargetRef.name`
// +kubebuilder:printcolumn:name="Last Schedule",type=date,JSONPath=`.status.lastScheduleTime`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type CronHPA struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   CronHPASpec   `json:"spec"`
	Status CronHPAStatus `json:"status,omitempty"`
}

// CronHPASpec is the seed's spec, with a time zone.
type CronHPASpec struct {
	// ScaleTargetRef is the workload to scale, in the CronHPA's namespace:
	// any kind with a scale subresource (Deployment, StatefulSet, TApp).
	ScaleTargetRef autoscalingv2.CrossVersionObjectReference `json:"scaleTargetRef"`
	// Crons are the schedules: at each one's time the target gets its
	// targetReplicas.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=100
	Crons []Cron `json:"crons"`
	// TimeZone is the IANA time zone the schedules are read in, e.g.
	// Asia/Shanghai (default UTC).
	// +optional
	// +kubebuilder:validation:MaxLength=64
	TimeZone string `json:"timeZone,omitempty"`
}

// Cron is one schedule.
type Cron struct {
	// Schedule is a 5-field crontab (minute hour day month weekday, weekday
	// 0-7 with 0 and 7 Sunday) or @hourly, @daily, @weekly, @monthly.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=100
	Schedule string `json:"schedule"`
	// TargetReplicas is what the target is scaled to.
	// +kubebuilder:validation:Minimum=0
	TargetReplicas int32 `json:"targetReplicas"`
}

// CronHPAStatus records the last schedule applied.
type CronHPAStatus struct {
	// LastScheduleTime is the time of the last schedule applied to the
	// target: every firing up to it is done, none is replayed.
	// +optional
	LastScheduleTime *metav1.Time `json:"lastScheduleTime,omitempty"`
	// Conditions: Valid (the schedules and target), Scaled (the last scale).
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// ObservedGeneration is the spec generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// CronHPAList is a list of CronHPAs.
// +kubebuilder:object:root=true
type CronHPAList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []CronHPA `json:"items"`
}

func init() {
	SchemeBuilder.Register(&CronHPA{}, &CronHPAList{})
}
