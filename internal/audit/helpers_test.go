package audit

import (
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

var statusCode = metav1.Status{Code: 201}

func authn(name string) authnv1.UserInfo { return authnv1.UserInfo{Username: name} }
func micro(t time.Time) metav1.MicroTime { return metav1.NewMicroTime(t) }
func ptr[T any](v T) *T                  { return &v }
func raw(s string) *runtime.Unknown      { return &runtime.Unknown{Raw: []byte(s)} }
