package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Chart is one chart of a chart group, as the chart routes list it (charts
// are repositories of the registry, their versions its tags).
type Chart struct {
	Name       string               `json:"name"`
	ChartGroup string               `json:"chartGroup"`
	Visibility ChartGroupVisibility `json:"visibility"`
	// LatestVersion is the highest version (semver order).
	LatestVersion string       `json:"latestVersion"`
	AppVersion    string       `json:"appVersion,omitempty"`
	Description   string       `json:"description,omitempty"`
	Icon          string       `json:"icon,omitempty"`
	Versions      int          `json:"versions"`
	PushedAt      *metav1.Time `json:"pushedAt,omitempty"`
	// Pull is oci://<registry>/<group>/<name>, what helm pull and install take.
	Pull string `json:"pull"`
}

// ChartList is the body of GET …/chartgroups/{group}/charts and GET …/charts.
type ChartList struct {
	metav1.TypeMeta `json:",inline"`
	Items           []Chart `json:"items"`
}

// ChartVersion is one version of a chart.
type ChartVersion struct {
	Version     string       `json:"version"`
	AppVersion  string       `json:"appVersion,omitempty"`
	Description string       `json:"description,omitempty"`
	Digest      string       `json:"digest"`
	Size        int64        `json:"size"`
	PushedAt    *metav1.Time `json:"pushedAt,omitempty"`
}

// ChartVersionList is the body of GET …/chartgroups/{group}/charts/{chart}:
// the versions, newest first.
type ChartVersionList struct {
	metav1.TypeMeta `json:",inline"`
	Chart           string         `json:"chart"`
	ChartGroup      string         `json:"chartGroup"`
	Items           []ChartVersion `json:"items"`
}

// ChartDetail is the body of GET …/chartgroups/{group}/charts/{chart}/versions/{version}:
// what a chart version holds that a user reads before installing it.
type ChartDetail struct {
	metav1.TypeMeta `json:",inline"`
	Chart           string   `json:"chart"`
	ChartGroup      string   `json:"chartGroup"`
	Version         string   `json:"version"`
	AppVersion      string   `json:"appVersion,omitempty"`
	Description     string   `json:"description,omitempty"`
	Home            string   `json:"home,omitempty"`
	Icon            string   `json:"icon,omitempty"`
	Keywords        []string `json:"keywords,omitempty"`
	// Readme is the chart's README.md.
	Readme string `json:"readme,omitempty"`
	// Values is the chart's values.yaml, as written.
	Values string `json:"values,omitempty"`
	// ValuesSchema is the chart's values.schema.json.
	ValuesSchema string `json:"valuesSchema,omitempty"`
	Digest       string `json:"digest"`
	Pull         string `json:"pull"`
}

// ChartSyncResult is the body of POST …/chartgroups/{group}/sync.
type ChartSyncResult struct {
	metav1.TypeMeta `json:",inline"`
	ChartGroup      string `json:"chartGroup"`
	// Charts and Versions the repository's index lists (after LatestVersions).
	Charts   int `json:"charts"`
	Versions int `json:"versions"`
	// Copied versions are new in the registry; Skipped were there already.
	Copied  int `json:"copied"`
	Skipped int `json:"skipped"`
	// Failed versions could not be copied; Errors says why (at most 10).
	Failed   int         `json:"failed"`
	Errors   []string    `json:"errors,omitempty"`
	Started  metav1.Time `json:"started"`
	Finished metav1.Time `json:"finished"`
}

// ChartUploadGuide is the body of GET …/chartgroups/{group}/guide.
type ChartUploadGuide struct {
	Registry   string   `json:"registry"`
	ChartGroup string   `json:"chartGroup"`
	Username   string   `json:"username"`
	Login      string   `json:"login"`
	Package    string   `json:"package"`
	Push       string   `json:"push"`
	Pull       string   `json:"pull"`
	Notes      []string `json:"notes,omitempty"`
}
