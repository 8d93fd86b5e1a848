// Package apigrouptest holds what the API groups' unit tests share.
package apigrouptest

import (
	"errors"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kstack/kstack/internal/apigroup"
)

// CheckRefusal: code 0 wants no error; otherwise an *apigroup.Error with
// that code whose message holds msg.
func CheckRefusal(t testing.TB, err error, code int, msg string) {
	t.Helper()
	if code == 0 {
		if err != nil {
			t.Fatalf("got %v, want no error", err)
		}
		return
	}
	var e *apigroup.Error
	if !errors.As(err, &e) {
		t.Fatalf("got %T %v, want *apigroup.Error %d %q", err, err, code, msg)
	}
	if e.Code != code || !strings.Contains(e.Msg, msg) {
		t.Fatalf("got %d %q, want %d containing %q", e.Code, e.Msg, code, msg)
	}
}

// Unstructured converts a typed object, as the gateway hands a body to a
// group's Admit.
func Unstructured(t testing.TB, obj any) *unstructured.Unstructured {
	t.Helper()
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: m}
}
