package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AppRevision is one revision of a release (helm history).
type AppRevision struct {
	Revision     int          `json:"revision"`
	Status       string       `json:"status"`
	Chart        string       `json:"chart"`
	ChartVersion string       `json:"chartVersion"`
	AppVersion   string       `json:"appVersion,omitempty"`
	Updated      *metav1.Time `json:"updated,omitempty"`
	Description  string       `json:"description,omitempty"`
}

// AppHistory is the body of GET …/namespaces/{project}/apps/{name}/histories,
// newest first.
type AppHistory struct {
	metav1.TypeMeta `json:",inline"`
	Items           []AppRevision `json:"items"`
}

// AppValuesDiff is the body of GET …/apps/{name}/diff?from=N&to=M: the user
// values of two revisions (secret values masked) and a unified diff.
type AppValuesDiff struct {
	metav1.TypeMeta `json:",inline"`
	From            int    `json:"from"`
	To              int    `json:"to"`
	FromValues      string `json:"fromValues"`
	ToValues        string `json:"toValues"`
	Diff            string `json:"diff"`
}

// AppResource is one object of a release, and its state in the member.
type AppResource struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
	// Status is Ready, NotReady, Missing or Unknown (when the caller may
	// not read it).
	Status  string `json:"status"`
	Message string `json:"message,omitempty"`
}

// AppResourceList is the body of GET …/apps/{name}/resources.
type AppResourceList struct {
	metav1.TypeMeta `json:",inline"`
	Revision        int           `json:"revision"`
	Items           []AppResource `json:"items"`
}

// AppRollback is the body of POST …/apps/{name}/rollback.
type AppRollback struct {
	// Revision to go back to (0: the one before the current).
	Revision int `json:"revision"`
}
