package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Repository is one repository of a registry namespace, as the registry's
// actions list it (repositories are not stored as objects: the registry's
// storage is the truth).
type Repository struct {
	// Name is the repository's path within the namespace ("web", "tools/cli").
	Name string `json:"name"`
	// Namespace is the registry namespace.
	Namespace string `json:"namespace"`
	// Tags is the number of tags.
	Tags int `json:"tags"`
	// Size is the sum of the tagged images' sizes (config and layers, as
	// their manifests state them), in bytes.
	Size int64 `json:"size"`
	// PushedAt is the most recent push of one of its tags.
	PushedAt *metav1.Time `json:"pushedAt,omitempty"`
	// Pull is the reference to pull it by: <registry>/<namespace>/<name>.
	Pull string `json:"pull"`
}

// RepositoryList is the body of GET …/registrynamespaces/{ns}/repositories.
type RepositoryList struct {
	metav1.TypeMeta `json:",inline"`
	Items           []Repository `json:"items"`
}

// Tag is one tag of a repository.
type Tag struct {
	Name string `json:"name"`
	// Digest is the manifest's digest ("sha256:…").
	Digest string `json:"digest"`
	// MediaType is the manifest's media type (OCI or Docker, image or index).
	MediaType string `json:"mediaType"`
	// Size is the image's size: config and layers (for an index, its
	// manifests' sizes), in bytes.
	Size int64 `json:"size"`
	// PushedAt is when the tag was last pointed at this digest.
	PushedAt *metav1.Time `json:"pushedAt,omitempty"`
	// Pull is <registry>/<namespace>/<repository>:<tag>.
	Pull string `json:"pull"`
}

// TagList is the body of GET …/repositories/{repo}/tags.
type TagList struct {
	metav1.TypeMeta `json:",inline"`
	Items           []Tag `json:"items"`
}

// UploadGuide is the body of GET …/registrynamespaces/{ns}/guide: the exact
// commands that log in to the registry, tag a local image and push it into
// the namespace, and pull it back.
type UploadGuide struct {
	Registry  string `json:"registry"`
	Namespace string `json:"namespace"`
	// Username to log in with (the caller's; an access key or the password
	// is the secret).
	Username string   `json:"username"`
	Login    string   `json:"login"`
	Tag      string   `json:"tag"`
	Push     string   `json:"push"`
	Pull     string   `json:"pull"`
	Notes    []string `json:"notes,omitempty"`
}

// GCResult is the body of POST /registry/gc (administrators).
type GCResult struct {
	// Marked is the number of blobs some manifest references.
	Marked int `json:"marked"`
	// Deleted blobs, and their bytes.
	Deleted      int   `json:"deleted"`
	DeletedBytes int64 `json:"deletedBytes"`
	// Kept: unreferenced blobs kept because a client touched them during
	// the grace period (an upload, a HEAD or GET, a manifest naming them).
	Kept     int         `json:"kept"`
	Started  metav1.Time `json:"started"`
	Finished metav1.Time `json:"finished"`
}

// PullCredentialStatus is the body of POST …/projects/{project}/pullcredential/rotate.
type PullCredentialStatus struct {
	Project string `json:"project"`
	// Username of the credential in the pull secrets.
	Username string `json:"username"`
	// RotatedAt is when the current credential was made; the one before it
	// is accepted until PreviousValidUntil.
	RotatedAt          metav1.Time  `json:"rotatedAt"`
	PreviousValidUntil *metav1.Time `json:"previousValidUntil,omitempty"`
}
