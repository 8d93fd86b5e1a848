package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Receiver is a person (or a shared mailbox) that messages are sent to; the
// channel decides which address is used.
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=rcv
// +kubebuilder:printcolumn:name="Display",type=string,JSONPath=`.spec.displayName`
// +kubebuilder:printcolumn:name="Email",type=string,JSONPath=`.spec.email`
type Receiver struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec ReceiverSpec `json:"spec,omitempty"`
}

// ReceiverSpec is a receiver's addresses; at least one is given.
type ReceiverSpec struct {
	// +kubebuilder:default=default
	TenantID string `json:"tenantID,omitempty"`
	// +kubebuilder:validation:MaxLength=60
	// +optional
	DisplayName string `json:"displayName,omitempty"`
	// Username is the platform user this receiver stands for, if any.
	// +optional
	Username string `json:"username,omitempty"`
	// +optional
	Email string `json:"email,omitempty"`
	// +optional
	Mobile string `json:"mobile,omitempty"`
	// +optional
	WeChatOpenID string `json:"wechatOpenID,omitempty"`
}

// ReceiverList is a list of receivers.
// +kubebuilder:object:root=true
type ReceiverList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Receiver `json:"items"`
}

// ReceiverGroup is a named set of receivers.
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=rcvg
// +kubebuilder:printcolumn:name="Display",type=string,JSONPath=`.spec.displayName`
type ReceiverGroup struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec ReceiverGroupSpec `json:"spec,omitempty"`
}

// ReceiverGroupSpec lists the group's receivers.
type ReceiverGroupSpec struct {
	// +kubebuilder:default=default
	TenantID string `json:"tenantID,omitempty"`
	// +kubebuilder:validation:MaxLength=60
	// +optional
	DisplayName string `json:"displayName,omitempty"`
	// +kubebuilder:validation:MinItems=1
	Receivers []ObjectRef `json:"receivers"`
}

// ObjectRef names an object of the same tenant in the referrer's namespace
// (Namespace empty) or in kstack-system.
type ObjectRef struct {
	// +optional
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

// ReceiverGroupList is a list of receiver groups.
// +kubebuilder:object:root=true
type ReceiverGroupList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ReceiverGroup `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Receiver{}, &ReceiverList{}, &ReceiverGroup{}, &ReceiverGroupList{})
}
