package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Channel types.
const (
	ChannelEmail   = "email"
	ChannelWebhook = "webhook"
	ChannelSMS     = "sms"
	ChannelWeChat  = "wechat"
)

// Channel is a way of sending messages: an SMTP server, a webhook, or an
// SMS or WeChat provider. Credentials given on create or replace (the SMTP
// password, secret webhook headers, provider keys) are moved into a Secret
// of the platform before the channel is stored; they are never stored here
// nor served back. The addresses are dialled by the platform, so loopback,
// link-local and the platform's own addresses are refused unless an
// administrator allows them.
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=chn
// +kubebuilder:printcolumn:name="Display",type=string,JSONPath=`.spec.displayName`
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.type`
type Channel struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec ChannelSpec `json:"spec,omitempty"`
}

// ChannelSpec is one channel; exactly the field of its type is set.
type ChannelSpec struct {
	// +kubebuilder:default=default
	TenantID string `json:"tenantID,omitempty"`
	// +kubebuilder:validation:MaxLength=60
	// +optional
	DisplayName string `json:"displayName,omitempty"`
	// +kubebuilder:validation:Enum=email;webhook;sms;wechat
	Type string `json:"type"`
	// +optional
	Email *EmailChannel `json:"email,omitempty"`
	// +optional
	Webhook *WebhookChannel `json:"webhook,omitempty"`
	// +optional
	SMS *ProviderChannel `json:"sms,omitempty"`
	// +optional
	WeChat *ProviderChannel `json:"wechat,omitempty"`
	// CredentialsSecret is the Secret of the platform's namespace that
	// holds this channel's credentials; the platform sets it.
	// +optional
	CredentialsSecret string `json:"credentialsSecret,omitempty"`
	// Concurrency is how many deliveries of this channel may be in flight
	// at once (default 4): a slow channel ties up only its own.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=32
	// +optional
	Concurrency int `json:"concurrency,omitempty"`
}

// EmailChannel sends mail through an SMTP server, always over TLS.
type EmailChannel struct {
	SMTPHost string `json:"smtpHost"`
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	SMTPPort int32 `json:"smtpPort"`
	// TLS is starttls (the server must offer STARTTLS) or implicit (TLS
	// from the first byte, usually port 465).
	// +kubebuilder:validation:Enum=starttls;implicit
	TLS  string `json:"tls"`
	From string `json:"from"`
	// +optional
	Username string `json:"username,omitempty"`
	// Password is accepted on create and replace only, and never stored.
	// +optional
	Password string `json:"password,omitempty"`
	// CABundle is PEM certificates to trust for the server (default: the
	// system's).
	// +optional
	CABundle string `json:"caBundle,omitempty"`
}

// WebhookChannel POSTs each message to a URL.
type WebhookChannel struct {
	URL string `json:"url"`
	// +optional
	Headers []Header `json:"headers,omitempty"`
	// +optional
	CABundle string `json:"caBundle,omitempty"`
	// TimeoutSeconds bounds one request (default 10).
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=30
	// +optional
	TimeoutSeconds int32 `json:"timeoutSeconds,omitempty"`
}

// Header is one request header. A Secret header's value (a token) is
// accepted on create and replace only and kept in the channel's Secret.
type Header struct {
	Name string `json:"name"`
	// +optional
	Value string `json:"value,omitempty"`
	// +optional
	Secret bool `json:"secret,omitempty"`
}

// ProviderChannel is an SMS or WeChat provider.
type ProviderChannel struct {
	// Provider is a provider the platform knows (tencentcloud-sms,
	// wechat-mp).
	Provider string `json:"provider"`
	// Endpoint overrides the provider's address.
	// +optional
	Endpoint string `json:"endpoint,omitempty"`
	// Params are the provider's settings that are not secret (app ID,
	// signature, template ID, region).
	// +optional
	Params map[string]string `json:"params,omitempty"`
	// Key is the provider's secret key, accepted on create and replace
	// only.
	// +optional
	Key string `json:"key,omitempty"`
}

// ChannelList is a list of channels.
// +kubebuilder:object:root=true
type ChannelList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Channel `json:"items"`
}

// TestSendRequest is the body of a channel's test-send.
type TestSendRequest struct {
	// Receiver names a receiver to send to (email, SMS, WeChat channels).
	// +optional
	Receiver *ObjectRef `json:"receiver,omitempty"`
	// Template names a template to render (default: a built-in one).
	// +optional
	Template *ObjectRef `json:"template,omitempty"`
}

// TestSendResult is what one synchronous attempt did.
type TestSendResult struct {
	// Status is sent or failed.
	Status string `json:"status"`
	// Code is the HTTP status or SMTP reply code, 0 when none.
	// +optional
	Code int `json:"code,omitempty"`
	// +optional
	Error string `json:"error,omitempty"`
}

func init() {
	SchemeBuilder.Register(&Channel{}, &ChannelList{})
}
