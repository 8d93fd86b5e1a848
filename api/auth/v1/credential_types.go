package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// APIKey is an access credential: a bearer token for the API and the proxy.
// Only the SHA-256 of the secret is kept; the key is shown once, at creation.
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster
// +kubebuilder:printcolumn:name="Owner",type=string,JSONPath=`.spec.username`
// +kubebuilder:printcolumn:name="Disabled",type=boolean,JSONPath=`.spec.disabled`
// +kubebuilder:printcolumn:name="Expires",type=string,JSONPath=`.spec.expiresAt`
type APIKey struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec APIKeySpec `json:"spec,omitempty"`
}

// APIKeySpec describes an access key.
type APIKeySpec struct {
	TenantID string `json:"tenantID"`
	// Username owns the key and is who the key acts as.
	Username string `json:"username"`
	// +kubebuilder:validation:MaxLength=255
	// +optional
	Description string      `json:"description,omitempty"`
	ExpiresAt   metav1.Time `json:"expiresAt"`
	// +optional
	Disabled bool `json:"disabled,omitempty"`
	// SecretHash is the hex SHA-256 of the key's secret part.
	SecretHash string `json:"secretHash"`
}

// APIKeyList is a list of keys.
// +kubebuilder:object:root=true
type APIKeyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []APIKey `json:"items"`
}

// Session is one login: the access tokens issued for it name it, and
// deleting it (logout, revocation, password reset) ends them all.
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster
// +kubebuilder:printcolumn:name="Owner",type=string,JSONPath=`.spec.username`
// +kubebuilder:printcolumn:name="Client",type=string,JSONPath=`.spec.clientID`
// +kubebuilder:printcolumn:name="Expires",type=string,JSONPath=`.spec.expiresAt`
type Session struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec SessionSpec `json:"spec,omitempty"`
}

// SessionSpec describes a login.
type SessionSpec struct {
	TenantID string   `json:"tenantID"`
	Username string   `json:"username"`
	ClientID string   `json:"clientID"`
	Scopes   []string `json:"scopes,omitempty"`
	// AMR says how the user logged in (pwd, ldap, oidc).
	AMR      []string    `json:"amr,omitempty"`
	AuthTime metav1.Time `json:"authTime"`
	// ExpiresAt ends the session and its refresh token.
	ExpiresAt metav1.Time `json:"expiresAt"`
	// RefreshTokenHash is the hex SHA-256 of the current refresh token.
	// +optional
	RefreshTokenHash string `json:"refreshTokenHash,omitempty"`
}

// SessionList is a list of sessions.
// +kubebuilder:object:root=true
type SessionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Session `json:"items"`
}

// IdentityProviderType names how an identity provider checks people.
// +kubebuilder:validation:Enum=ldap;oidc
type IdentityProviderType string

const (
	// IdentityProviderLDAP checks passwords against an LDAP directory.
	IdentityProviderLDAP IdentityProviderType = "ldap"
	// IdentityProviderOIDC sends people to an external OpenID Connect issuer.
	IdentityProviderOIDC IdentityProviderType = "oidc"
)

// IdentityProvider vouches for the users of one tenant; its name is the
// tenant ID, as in TKEStack.
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=idp
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.type`
type IdentityProvider struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec IdentityProviderSpec `json:"spec,omitempty"`
}

// IdentityProviderSpec configures a provider. Secrets (an LDAP bind
// password, an OIDC client secret) never stay in Config: the gateway moves
// them into the Secret that SecretRef names.
type IdentityProviderSpec struct {
	// Name is the tenant ID, as metadata.name (TKEStack's body carries both).
	// +optional
	Name string `json:"name,omitempty"`
	// +optional
	DisplayName string               `json:"displayName,omitempty"`
	Type        IdentityProviderType `json:"type"`
	// Administrators are usernames that become the tenant's administrators.
	// +optional
	Administrators []string `json:"administrators,omitempty"`
	// Config is the provider's JSON configuration (dex's LDAP format, or
	// issuer, clientID, redirectURI and claims for OIDC).
	Config string `json:"config"`
	// +optional
	SecretRef *SecretReference `json:"secretRef,omitempty"`
}

// SecretReference names a Secret in the platform's system namespace.
type SecretReference struct {
	Name string `json:"name"`
}

// IdentityProviderList is a list of providers.
// +kubebuilder:object:root=true
type IdentityProviderList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []IdentityProvider `json:"items"`
}

func init() {
	SchemeBuilder.Register(&APIKey{}, &APIKeyList{}, &Session{}, &SessionList{}, &IdentityProvider{}, &IdentityProviderList{})
}
