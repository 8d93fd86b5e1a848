package v1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// The bodies of the auth group's actions, which the CLI and the console
// send and read. They are not stored objects.

// Whoami is what GET /auth/whoami answers.
// +kubebuilder:object:generate=false
type Whoami struct {
	Username   string   `json:"username"`
	Tenant     string   `json:"tenant"`
	Groups     []string `json:"groups,omitempty"`
	SuperAdmin bool     `json:"platformAdministrator"`
	Method     string   `json:"method"`
	Policies   []string `json:"policies,omitempty"`
}

// CreateUserRequest is the body of POST /auth/apis/auth.tkestack.io/v1/users.
// +kubebuilder:object:generate=false
type CreateUserRequest struct {
	Spec     UserSpec `json:"spec"`
	Password string   `json:"password,omitempty"`
	// Policies are platform policies to bind to the new user, e.g.
	// ["platform-user"] (the seed's platform role).
	Policies []string `json:"policies,omitempty"`
}

// PasswordRequest is the body of PUT .../users/{name}/password.
// +kubebuilder:object:generate=false
type PasswordRequest struct {
	// OldPassword is required when users change their own password.
	OldPassword string `json:"oldPassword,omitempty"`
	Password    string `json:"password"`
}

// APIKeyRequest is the body of POST /auth/apis/auth.tkestack.io/v1/apikeys.
// +kubebuilder:object:generate=false
type APIKeyRequest struct {
	Description string `json:"description,omitempty"`
	// ExpiresIn is hours or minutes, e.g. "24h" or "30m".
	ExpiresIn string `json:"expiresIn"`
}

// APIKeyView is an access key as its owner sees it; Key is set once, at creation.
// +kubebuilder:object:generate=false
type APIKeyView struct {
	Name        string      `json:"name"`
	Username    string      `json:"username"`
	Description string      `json:"description,omitempty"`
	ExpiresAt   metav1.Time `json:"expiresAt"`
	Disabled    bool        `json:"disabled"`
	Expired     bool        `json:"expired"`
	Created     metav1.Time `json:"created"`
	Key         string      `json:"key,omitempty"`
}
