package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AppType is the kind of application; only HelmV3 exists (seed 004 §4.2.8.1).
type AppType string

// HelmV3 is a Helm v3 release.
const HelmV3 AppType = "HelmV3"

// App is a Helm application: one Helm v3 release of a chart from a chart
// group, in a namespace of a member cluster. It lives in the platform
// namespace named after the project that owns the target namespace, so the
// project's policies govern it. The platform installs, upgrades, rolls
// back and uninstalls it through its actions, each as the user who asks,
// through the proxy: the object records what was asked and what happened.
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=app
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Cluster",type=string,JSONPath=`.spec.targetCluster`
// +kubebuilder:printcolumn:name="Namespace",type=string,JSONPath=`.spec.targetNamespace`
// +kubebuilder:printcolumn:name="Chart",type=string,JSONPath=`.spec.chart.chartName`
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.spec.chart.chartVersion`
// +kubebuilder:printcolumn:name="Revision",type=integer,JSONPath=`.status.revision`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
type App struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   AppSpec   `json:"spec,omitempty"`
	Status AppStatus `json:"status,omitempty"`
}

// AppSpec is what was asked for.
type AppSpec struct {
	// +kubebuilder:default=default
	TenantID string `json:"tenantID,omitempty"`
	// +kubebuilder:validation:Enum=HelmV3
	// +kubebuilder:default=HelmV3
	Type AppType `json:"type,omitempty"`
	// Name is the release's name in the member (default: the App's name).
	// +optional
	Name            string `json:"name,omitempty"`
	TargetCluster   string `json:"targetCluster"`
	TargetNamespace string `json:"targetNamespace"`
	Chart           Chart  `json:"chart"`
	// +optional
	Values AppValues `json:"values,omitempty"`
	// DryRun renders the chart with the values and answers the manifest
	// (status.manifest) without installing or storing anything.
	// +optional
	DryRun bool `json:"dryRun,omitempty"`
	// Wait: the operation waits until the release's workloads are ready
	// (Helm's --wait), up to Timeout.
	// +optional
	Wait bool `json:"wait,omitempty"`
	// Timeout bounds one operation (default 5m).
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`
	// ProjectName is the project that owns the target namespace; the
	// platform sets it (it is also the App's namespace).
	// +optional
	ProjectName string `json:"projectName,omitempty"`
}

// Chart names a chart version of a chart group.
type Chart struct {
	ChartGroupName string `json:"chartGroupName"`
	ChartName      string `json:"chartName"`
	ChartVersion   string `json:"chartVersion"`
}

// AppValues are the values the chart is rendered with.
type AppValues struct {
	// RawValues is a YAML (or JSON) document of values, over the chart's
	// defaults.
	// +optional
	RawValues string `json:"rawValues,omitempty"`
	// +kubebuilder:validation:Enum=yaml;json
	// +optional
	RawValuesType string `json:"rawValuesType,omitempty"`
	// SecretValues is write-only: a YAML document of values that are
	// secret (passwords). The platform moves it into a Secret before the
	// App is stored and never serves it back; an upgrade without it keeps
	// the ones stored.
	// +optional
	SecretValues string `json:"secretValues,omitempty"`
	// SecretName names that Secret (in the App's namespace); the platform
	// sets it.
	// +optional
	SecretName string `json:"secretName,omitempty"`
	// SecretKeys are the paths (a.b.c) of the secret values, which every
	// view of the values masks; the platform sets it.
	// +optional
	SecretKeys []string `json:"secretKeys,omitempty"`
}

// AppPhase is where an App is.
type AppPhase string

const (
	AppInstalling   AppPhase = "Installing"
	AppUpgrading    AppPhase = "Upgrading"
	AppRollingBack  AppPhase = "RollingBack"
	AppUninstalling AppPhase = "Uninstalling"
	AppSucceeded    AppPhase = "Succeeded"
	AppFailed       AppPhase = "Failed"
)

// AppStatus is what happened.
type AppStatus struct {
	// +optional
	Phase AppPhase `json:"phase,omitempty"`
	// ReleaseStatus is Helm's status of the release's latest revision
	// (deployed, failed, pending-upgrade, ...).
	// +optional
	ReleaseStatus string `json:"releaseStatus,omitempty"`
	// Revision is the release's latest revision.
	// +optional
	Revision int `json:"revision,omitempty"`
	// RollbackRevision is the revision the last rollback went back to.
	// +optional
	RollbackRevision int `json:"rollbackRevision,omitempty"`
	// Message says what went wrong, or what the last operation did.
	// +optional
	Message string `json:"message,omitempty"`
	// Manifest is the rendered manifest of a dry run (never stored).
	// +optional
	Manifest string `json:"manifest,omitempty"`
	// Operation is the operation running on the release, if any.
	// +optional
	Operation *AppOperation `json:"operation,omitempty"`
	// LastOperation is the last operation that finished.
	// +optional
	LastOperation *AppOperation `json:"lastOperation,omitempty"`
}

// AppOperation is one install, upgrade, rollback or uninstall.
type AppOperation struct {
	// Type is install, upgrade, rollback or uninstall.
	Type string `json:"type"`
	// User is who asked for it; it ran as them.
	User      string      `json:"user"`
	StartedAt metav1.Time `json:"startedAt"`
	// RenewTime is renewed while it runs: an operation whose replica
	// stopped stops renewing, and the platform recovers the release.
	// +optional
	RenewTime *metav1.Time `json:"renewTime,omitempty"`
	// +optional
	FinishedAt *metav1.Time `json:"finishedAt,omitempty"`
	// Result is Succeeded or Failed, when it finished.
	// +optional
	Result string `json:"result,omitempty"`
}

// AppList is a list of Apps.
// +kubebuilder:object:root=true
type AppList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []App `json:"items"`
}

func init() {
	SchemeBuilder.Register(&App{}, &AppList{})
}
