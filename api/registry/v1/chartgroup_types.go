package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ChartGroupVisibility says who may use a chart group's charts (seed 004
// §4.2.5.2: 指定用户, 指定业务, 公共).
type ChartGroupVisibility string

const (
	// VisibilityUser: the users in spec.users (and the tenant's users whose
	// policies allow it) pull and push.
	VisibilityUser ChartGroupVisibility = "User"
	// VisibilityProject: the members of the projects in spec.projects, as
	// their project policies allow.
	VisibilityProject ChartGroupVisibility = "Project"
	// VisibilityPublic: anyone pulls, anonymous clients too; pushes as the
	// tenant's policies allow.
	VisibilityPublic ChartGroupVisibility = "Public"
)

// ChartGroupType says where a chart group's charts come from.
type ChartGroupType string

const (
	// SelfBuilt: charts are pushed to the platform's registry
	// (helm push CHART.tgz oci://<registry>/<group>).
	SelfBuilt ChartGroupType = "SelfBuilt"
	// Imported: charts are copied from a third-party chart repository (an
	// HTTP index.yaml repository), periodically and on demand.
	Imported ChartGroupType = "Imported"
)

// ChartGroup is a repository of Helm charts (seed 004 §4.2.5.2, 仓库): its
// charts are OCI artifacts in the platform's registry at
// <registry>/<name>/<chart>:<version>. The name is a path segment of the
// registry, so it is unique across chart groups and registry namespaces.
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=cg
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Visibility",type=string,JSONPath=`.spec.visibility`
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.type`
// +kubebuilder:printcolumn:name="Charts",type=integer,JSONPath=`.status.chartCount`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
type ChartGroup struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ChartGroupSpec   `json:"spec,omitempty"`
	Status ChartGroupStatus `json:"status,omitempty"`
}

// ChartGroupSpec is what the owner sets.
type ChartGroupSpec struct {
	// +kubebuilder:default=default
	TenantID string `json:"tenantID,omitempty"`
	// +kubebuilder:validation:MaxLength=60
	// +optional
	DisplayName string `json:"displayName,omitempty"`
	// +kubebuilder:validation:MaxLength=255
	// +optional
	Description string `json:"description,omitempty"`
	// +kubebuilder:validation:Enum=User;Project;Public
	// +kubebuilder:default=User
	Visibility ChartGroupVisibility `json:"visibility,omitempty"`
	// Users of the tenant who may pull and push (Visibility User).
	// +optional
	// +listType=set
	Users []string `json:"users,omitempty"`
	// Projects of the tenant whose members may pull and push, as their
	// project policies allow (Visibility Project).
	// +optional
	// +listType=set
	Projects []string `json:"projects,omitempty"`
	// +kubebuilder:validation:Enum=SelfBuilt;Imported
	// +kubebuilder:default=SelfBuilt
	Type ChartGroupType `json:"type,omitempty"`
	// ImportedInfo is the third-party repository of an Imported group.
	// +optional
	ImportedInfo *ImportedInfo `json:"importedInfo,omitempty"`
	// Creator is the user who made the group; the platform sets it.
	// +optional
	Creator string `json:"creator,omitempty"`
}

// ImportedInfo is a third-party chart repository.
type ImportedInfo struct {
	// Addr is the repository's URL: <Addr>/index.yaml is its index.
	Addr string `json:"addr"`
	// +optional
	Username string `json:"username,omitempty"`
	// Password is write-only: the platform moves it into a Secret before
	// the group is stored, and never serves it back.
	// +optional
	Password string `json:"password,omitempty"`
	// PasswordSecret names the Secret (in the platform's namespace) that
	// holds the password; the platform sets it.
	// +optional
	PasswordSecret string `json:"passwordSecret,omitempty"`
	// SyncInterval is how often the repository is synced (default 1h; 0s:
	// only on demand).
	// +optional
	SyncInterval *metav1.Duration `json:"syncInterval,omitempty"`
	// LatestVersions, when above 0, copies only that many of each chart's
	// newest versions.
	// +optional
	LatestVersions int `json:"latestVersions,omitempty"`
}

// ChartGroupPhase is the state of a chart group.
type ChartGroupPhase string

const (
	ChartGroupReady   ChartGroupPhase = "Ready"
	ChartGroupSyncing ChartGroupPhase = "Syncing"
	// ChartGroupFailed: the last sync failed (Message says why); the
	// charts copied before stay.
	ChartGroupFailed ChartGroupPhase = "Failed"
)

// ChartGroupStatus is what the platform reports.
type ChartGroupStatus struct {
	// +optional
	Phase ChartGroupPhase `json:"phase,omitempty"`
	// +optional
	Message string `json:"message,omitempty"`
	// ChartCount is the number of charts in the group.
	// +optional
	ChartCount int `json:"chartCount"`
	// LastSyncTime is when an import last succeeded.
	// +optional
	LastSyncTime *metav1.Time `json:"lastSyncTime,omitempty"`
	// LastSyncAttempt is when an import was last tried.
	// +optional
	LastSyncAttempt *metav1.Time `json:"lastSyncAttempt,omitempty"`
}

// ChartGroupList is a list of chart groups.
// +kubebuilder:object:root=true
type ChartGroupList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ChartGroup `json:"items"`
}

func init() {
	SchemeBuilder.Register(&ChartGroup{}, &ChartGroupList{})
}
