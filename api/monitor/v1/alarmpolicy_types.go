package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ObjectType is what an alarm policy watches (seed 004 §4.2.7).
type ObjectType string

const (
	// ObjectCluster: the cluster as a whole (cluster policies only).
	ObjectCluster ObjectType = "Cluster"
	// ObjectNode: the cluster's nodes, or chosen ones (cluster policies only).
	ObjectNode ObjectType = "Node"
	// ObjectPod: the pods of a workload, or every pod of the namespace (or,
	// in a cluster policy, of the cluster).
	ObjectPod ObjectType = "Pod"
)

// AlarmPolicy is one alarm policy of a member cluster. A policy of a
// project's namespace lives in the global cluster's namespace named after
// the project (as business Namespaces do), so the project's policies govern
// it and it reads only that namespace's series; a cluster policy lives in
// the platform's namespace, kstack-system, and reads the cluster's series.
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=ap
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Display",type=string,JSONPath=`.spec.displayName`
// +kubebuilder:printcolumn:name="Cluster",type=string,JSONPath=`.spec.clusterName`
// +kubebuilder:printcolumn:name="Namespace",type=string,JSONPath=`.spec.namespace`
// +kubebuilder:printcolumn:name="Object",type=string,JSONPath=`.spec.objectType`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Firing",type=integer,JSONPath=`.status.firing`
type AlarmPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   AlarmPolicySpec   `json:"spec,omitempty"`
	Status AlarmPolicyStatus `json:"status,omitempty"`
}

// AlarmPolicySpec says what is watched, when it is wrong, and who is told.
type AlarmPolicySpec struct {
	// +kubebuilder:default=default
	TenantID string `json:"tenantID,omitempty"`
	// DisplayName is the name people see (the seed's "alarm policy name").
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=60
	DisplayName string `json:"displayName"`
	ClusterName string `json:"clusterName"`
	// Namespace is the member namespace of a project policy; empty for a
	// cluster policy, which only those who may list every pod of the
	// cluster may make.
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// ProjectName is the project that owns Namespace; the platform sets it.
	// +optional
	ProjectName string `json:"projectName,omitempty"`
	// +kubebuilder:validation:Enum=Cluster;Node;Pod
	ObjectType ObjectType `json:"objectType"`
	// +optional
	Object AlarmObject `json:"object,omitempty"`
	// PeriodMinutes is the statistics period, 1 to 5 minutes: each
	// condition is evaluated once a period over the period's samples.
	PeriodMinutes int `json:"periodMinutes"`
	// Conditions are OR-ed: each one alarms on its own.
	// +kubebuilder:validation:MaxItems=10
	// +optional
	Conditions []AlarmCondition `json:"conditions,omitempty"`
	// Expr is a raw PromQL expression for those who write it themselves;
	// every series it returns is an alarm. It reads only the series of
	// the policy's scope.
	// +optional
	Expr string `json:"expr,omitempty"`
	// ExprPeriods is how many periods in a row Expr must hold (default 1).
	// +optional
	ExprPeriods int `json:"exprPeriods,omitempty"`
	// +optional
	Receivers []ObjectRef `json:"receivers,omitempty"`
	// +optional
	ReceiverGroups []ObjectRef `json:"receiverGroups,omitempty"`
	// Notifications are the (channel, template) pairs the receivers are
	// told through.
	// +kubebuilder:validation:MinItems=1
	Notifications []NotifyMethod `json:"notifications"`
	// RepeatInterval is how often a firing alarm is sent again (default
	// the platform's --alarm-repeat-interval).
	// +optional
	RepeatInterval *metav1.Duration `json:"repeatInterval,omitempty"`
	// SendResolved sends a message when the alarm clears (default true).
	// +optional
	SendResolved *bool `json:"sendResolved,omitempty"`
}

// AlarmObject narrows the objects a policy watches.
type AlarmObject struct {
	// Nodes narrow a Node policy (none: every node).
	// +optional
	Nodes []string `json:"nodes,omitempty"`
	// Workload narrows a Pod policy to the pods of one workload.
	// +optional
	Workload *WorkloadRef `json:"workload,omitempty"`
}

// WorkloadRef names a workload of the policy's namespace.
type WorkloadRef struct {
	// +kubebuilder:validation:Enum=Deployment;StatefulSet;DaemonSet;Job;CronJob;ReplicaSet;TApp
	Kind string `json:"kind"`
	Name string `json:"name"`
}

// AlarmCondition is "metric OP threshold for N periods in a row".
type AlarmCondition struct {
	// Metric is a name from the metric table (docs/metrics.md) that fits
	// the policy's object type.
	Metric string `json:"metric"`
	// +kubebuilder:validation:Enum=">";"<"
	Operator string `json:"operator"`
	// Threshold is a number; a string so that a bad one gets the
	// platform's own message.
	Threshold string `json:"threshold"`
	// Periods is how many periods in a row the condition must hold, 1-10.
	Periods int `json:"periods"`
}

// NotifyMethod is a channel and the template its messages are made with.
type NotifyMethod struct {
	Channel  ObjectRef `json:"channel"`
	Template ObjectRef `json:"template"`
}

// ObjectRef names an object of the same tenant in the referrer's namespace
// (Namespace empty) or in kstack-system (tenant-wide objects).
type ObjectRef struct {
	// +optional
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

// CompiledRule is one PromQL rule the platform made of a policy.
type CompiledRule struct {
	Name string `json:"name"`
	Expr string `json:"expr"`
	// For is how long the expression must hold before the alarm fires.
	For string `json:"for"`
}

// AlarmPolicyStatus is what the platform's evaluation reports.
type AlarmPolicyStatus struct {
	// Phase is Active, or Error (Message says why nothing is evaluated).
	// +optional
	Phase string `json:"phase,omitempty"`
	// +optional
	Message string `json:"message,omitempty"`
	// Rules are the compiled PromQL rules, shown so people see exactly
	// what is evaluated.
	// +optional
	Rules []CompiledRule `json:"rules,omitempty"`
	// Firing is how many alarms of the policy fire now.
	// +optional
	Firing int `json:"firing,omitempty"`
	// +optional
	LastEvaluationTime *metav1.Time `json:"lastEvaluationTime,omitempty"`
}

// AlarmPolicyList is a list of alarm policies.
// +kubebuilder:object:root=true
type AlarmPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AlarmPolicy `json:"items"`
}

func init() {
	SchemeBuilder.Register(&AlarmPolicy{}, &AlarmPolicyList{})
}
