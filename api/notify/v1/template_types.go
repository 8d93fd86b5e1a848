package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Template is a message template for one channel type, written with Go's
// text/template over the variables of a notification (.Status, .Policy,
// .Alerts, …). It is checked when saved: an unknown variable or function,
// invalid JSON for a JSON webhook, or a line break in a subject is refused.
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=tpl
// +kubebuilder:printcolumn:name="Display",type=string,JSONPath=`.spec.displayName`
// +kubebuilder:printcolumn:name="Channel",type=string,JSONPath=`.spec.channelType`
type Template struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec TemplateSpec `json:"spec,omitempty"`
}

// TemplateSpec is the text of a message.
type TemplateSpec struct {
	// +kubebuilder:default=default
	TenantID string `json:"tenantID,omitempty"`
	// +kubebuilder:validation:MaxLength=60
	// +optional
	DisplayName string `json:"displayName,omitempty"`
	// +kubebuilder:validation:Enum=email;webhook;sms;wechat
	ChannelType string `json:"channelType"`
	// Subject is the mail subject or WeChat title: one line.
	// +optional
	Subject string `json:"subject,omitempty"`
	// Body is the message.
	Body string `json:"body"`
	// ContentType of a webhook body: application/json (the rendered body
	// must be valid JSON; default) or text/plain.
	// +optional
	ContentType string `json:"contentType,omitempty"`
}

// TemplateList is a list of templates.
// +kubebuilder:object:root=true
type TemplateList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Template `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Template{}, &TemplateList{})
}
