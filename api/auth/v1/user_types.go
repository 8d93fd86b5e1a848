package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// User is a person or program known to the platform. Its name is
// "<tenantID>.<username>". Local users' password hashes live apart, in
// LocalIdentity objects, which the gateway never serves.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster
// +kubebuilder:printcolumn:name="Tenant",type=string,JSONPath=`.spec.tenantID`
// +kubebuilder:printcolumn:name="Username",type=string,JSONPath=`.spec.username`
// +kubebuilder:printcolumn:name="Provider",type=string,JSONPath=`.spec.identityProvider`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type User struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   UserSpec   `json:"spec,omitempty"`
	Status UserStatus `json:"status,omitempty"`
}

// UserSpec describes a user.
type UserSpec struct {
	// +kubebuilder:default=default
	TenantID string `json:"tenantID,omitempty"`
	// Username is the account: 3-32 lowercase letters, digits and '-',
	// starting and ending with a letter or digit.
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=32
	Username string `json:"username"`
	// +kubebuilder:validation:MaxLength=255
	// +optional
	DisplayName string `json:"displayName,omitempty"`
	// +kubebuilder:validation:MaxLength=254
	// +optional
	Email string `json:"email,omitempty"`
	// +kubebuilder:validation:MaxLength=32
	// +optional
	PhoneNumber string `json:"phoneNumber,omitempty"`
	// IdentityProvider is "local" or the IdentityProvider that vouches for the user.
	// +kubebuilder:default=local
	IdentityProvider string `json:"identityProvider,omitempty"`
	// Disabled users cannot log in, and their tokens and keys stop working.
	// +optional
	Disabled bool `json:"disabled,omitempty"`
}

// UserStatus is what logins leave behind.
type UserStatus struct {
	// Groups are the groups the identity provider named at the last login.
	// +optional
	Groups []string `json:"groups,omitempty"`
	// +optional
	LastLoginTime *metav1.Time `json:"lastLoginTime,omitempty"`
	// FailedLogins counts failed logins in a row.
	// +optional
	FailedLogins int32 `json:"failedLogins,omitempty"`
	// LockedUntil is set when too many logins failed in a row.
	// +optional
	LockedUntil *metav1.Time `json:"lockedUntil,omitempty"`
}

// UserList is a list of users.
// +kubebuilder:object:root=true
type UserList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []User `json:"items"`
}

// LocalIdentity holds a local user's bcrypt password hash. Its name is the
// User's. The gateway refuses to serve this kind to anyone.
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster
type LocalIdentity struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec LocalIdentitySpec `json:"spec,omitempty"`
}

// LocalIdentitySpec is a password hash.
type LocalIdentitySpec struct {
	TenantID string `json:"tenantID"`
	Username string `json:"username"`
	// PasswordHash is a bcrypt hash.
	PasswordHash []byte `json:"passwordHash"`
	// PasswordChangedAt is when the password was last set.
	// +optional
	PasswordChangedAt *metav1.Time `json:"passwordChangedAt,omitempty"`
}

// LocalIdentityList is a list of local identities.
// +kubebuilder:object:root=true
type LocalIdentityList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []LocalIdentity `json:"items"`
}

// Group is a named set of users of one tenant. Its name is "<tenantID>.<name>".
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster
// +kubebuilder:printcolumn:name="Tenant",type=string,JSONPath=`.spec.tenantID`
// +kubebuilder:printcolumn:name="Name",type=string,JSONPath=`.spec.name`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Group struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec GroupSpec `json:"spec,omitempty"`
}

// GroupSpec describes a group.
type GroupSpec struct {
	// +kubebuilder:default=default
	TenantID string `json:"tenantID,omitempty"`
	// Name: under 60 lowercase letters, digits and '-', starting and ending
	// with a letter or digit.
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +kubebuilder:validation:MaxLength=59
	Name string `json:"name"`
	// +kubebuilder:validation:MaxLength=254
	// +optional
	Description string `json:"description,omitempty"`
	// Members are usernames of the group's tenant.
	// +optional
	Members []string `json:"members,omitempty"`
}

// GroupList is a list of groups.
// +kubebuilder:object:root=true
type GroupList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Group `json:"items"`
}

func init() {
	SchemeBuilder.Register(&User{}, &UserList{}, &LocalIdentity{}, &LocalIdentityList{}, &Group{}, &GroupList{})
}
