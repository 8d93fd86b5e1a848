package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// InputType is what a rule collects (seed 004 §4.2.8.2).
type InputType string

const (
	// InputStdout: the standard output of the containers of a namespace, or
	// of chosen workloads in it, or (cluster rules) of every namespace.
	InputStdout InputType = "ContainerStdout"
	// InputContainerFile: files inside the containers of a workload's pods.
	InputContainerFile InputType = "ContainerFile"
	// InputHostFile: files on the nodes, under /var/log (cluster
	// administrators only: shared nodes hold other tenants' data).
	InputHostFile InputType = "HostFile"
)

// LogCollector is one log collection rule of a member cluster. A rule of a
// project's namespace lives in the global cluster's namespace named after
// the project (as business Namespaces do), so the project's policies govern
// it; a cluster rule (every namespace, or files on nodes) lives in the
// platform's own namespace, kstack-system, and only platform
// administrators make those.
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=lc
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Cluster",type=string,JSONPath=`.spec.clusterName`
// +kubebuilder:printcolumn:name="Namespace",type=string,JSONPath=`.spec.namespace`
// +kubebuilder:printcolumn:name="Input",type=string,JSONPath=`.spec.input.type`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
type LogCollector struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   LogCollectorSpec   `json:"spec,omitempty"`
	Status LogCollectorStatus `json:"status,omitempty"`
}

// LogCollectorSpec says what to collect and where to send it.
type LogCollectorSpec struct {
	// +kubebuilder:default=default
	TenantID string `json:"tenantID,omitempty"`
	// DisplayName is the name people see.
	// +kubebuilder:validation:MaxLength=63
	// +optional
	DisplayName string `json:"displayName,omitempty"`
	ClusterName string `json:"clusterName"`
	// Namespace is the member namespace whose logs are collected; empty for
	// a cluster rule (every namespace, or files on nodes), which only the
	// cluster's administrators may make.
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// ProjectName is the project that owns Namespace; the platform sets it.
	// +optional
	ProjectName string   `json:"projectName,omitempty"`
	Input       LogInput `json:"input"`
	// +kubebuilder:validation:MinItems=1
	Outputs []LogOutput `json:"outputs"`
}

// LogInput is what is collected.
type LogInput struct {
	// +kubebuilder:validation:Enum=ContainerStdout;ContainerFile;HostFile
	Type InputType `json:"type"`
	// Workloads narrow ContainerStdout to these workloads of Namespace
	// (none: every pod of it). A workload that does not exist yet is
	// collected once it appears.
	// +optional
	Workloads []WorkloadRef `json:"workloads,omitempty"`
	// ContainerFiles are the files of ContainerFile rules.
	// +optional
	ContainerFiles []ContainerFileRef `json:"containerFiles,omitempty"`
	// HostFiles are the globs of HostFile rules, under /var/log/.
	// +optional
	HostFiles []string `json:"hostFiles,omitempty"`
}

// WorkloadRef names a workload in the rule's namespace.
type WorkloadRef struct {
	// +kubebuilder:validation:Enum=Deployment;StatefulSet;DaemonSet;Job;CronJob;ReplicaSet;TApp
	Kind string `json:"kind"`
	Name string `json:"name"`
}

// ContainerFileRef is a file glob in one container of a workload's pods.
type ContainerFileRef struct {
	Workload  WorkloadRef `json:"workload"`
	Container string      `json:"container"`
	// Path is an absolute glob inside the container.
	Path string `json:"path"`
}

// LogOutput is a sink. Passwords given on create or replace are moved into
// a Secret of the platform before the rule is stored; they are never
// stored here nor served back.
type LogOutput struct {
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`
	// +kubebuilder:validation:Enum=kafka;elasticsearch;loki
	Type string `json:"type"`
	// +optional
	Kafka *KafkaOutput `json:"kafka,omitempty"`
	// +optional
	Elasticsearch *ElasticsearchOutput `json:"elasticsearch,omitempty"`
	// +optional
	Loki *LokiOutput `json:"loki,omitempty"`
}

// Credentials of an output: Password is write-only (moved into
// PasswordSecret's key on create and replace).
type Credentials struct {
	// +optional
	Username string `json:"username,omitempty"`
	// Password is accepted on create and replace only, and never stored.
	// +optional
	Password string `json:"password,omitempty"`
	// PasswordSecret is where the platform keeps the password (set by the
	// platform; a Secret of the platform's namespace, key = output name).
	// +optional
	PasswordSecret string `json:"passwordSecret,omitempty"`
}

// KafkaOutput produces each line to a topic.
type KafkaOutput struct {
	// Brokers are HOST:PORT addresses.
	// +kubebuilder:validation:MinItems=1
	Brokers     []string `json:"brokers"`
	Topic       string   `json:"topic"`
	Credentials `json:",inline"`
}

// ElasticsearchOutput sends lines with the _bulk API.
type ElasticsearchOutput struct {
	// +kubebuilder:validation:MinItems=1
	Addresses []string `json:"addresses"`
	// +kubebuilder:validation:Pattern=`^[a-z][a-z0-9_+-]{0,59}$`
	Index       string `json:"index"`
	Credentials `json:",inline"`
}

// LokiOutput pushes to Loki's push API.
type LokiOutput struct {
	URL string `json:"url"`
	// +optional
	TenantID string `json:"tenantID,omitempty"`
	// +optional
	Labels      map[string]string `json:"labels,omitempty"`
	Credentials `json:",inline"`
}

// LogCollectorStatus is what the cluster's agents report.
type LogCollectorStatus struct {
	// Phase is Pending (not yet delivered to the cluster's agents),
	// Running, or Failing (an output cannot be reached).
	// +optional
	Phase string `json:"phase,omitempty"`
	// +optional
	Message string `json:"message,omitempty"`
	// +optional
	Outputs []OutputStatus `json:"outputs,omitempty"`
	// +optional
	LastUpdateTime *metav1.Time `json:"lastUpdateTime,omitempty"`
}

// OutputStatus sums the agents' figures for one output.
type OutputStatus struct {
	Name      string `json:"name"`
	Delivered int64  `json:"delivered"`
	Queued    int64  `json:"queued"`
	// Dropped lines did not fit in an agent's bounded queue while the
	// output was down.
	Dropped int64 `json:"dropped"`
	Healthy bool  `json:"healthy"`
	// +optional
	LastError string `json:"lastError,omitempty"`
	// +optional
	LastErrorTime *metav1.Time `json:"lastErrorTime,omitempty"`
}

// LogCollectorList is a list of log collectors.
// +kubebuilder:object:root=true
type LogCollectorList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []LogCollector `json:"items"`
}

func init() {
	SchemeBuilder.Register(&LogCollector{}, &LogCollectorList{})
}
