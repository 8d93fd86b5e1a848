// Package platformscheme is the scheme of the platform's store: the
// built-in kinds and kstack's own API groups.
package platformscheme

import (
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	applicationv1 "github.com/kstack/kstack/api/application/v1"
	authv1 "github.com/kstack/kstack/api/auth/v1"
	businessv1 "github.com/kstack/kstack/api/business/v1"
	logagentv1 "github.com/kstack/kstack/api/logagent/v1"
	monitorv1 "github.com/kstack/kstack/api/monitor/v1"
	notifyv1 "github.com/kstack/kstack/api/notify/v1"
	platformv1 "github.com/kstack/kstack/api/platform/v1"
	registryv1 "github.com/kstack/kstack/api/registry/v1"
)

// New returns a scheme that knows the built-in kinds and kstack's own.
func New() *runtime.Scheme {
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = platformv1.AddToScheme(s)
	_ = authv1.AddToScheme(s)
	_ = businessv1.AddToScheme(s)
	_ = logagentv1.AddToScheme(s)
	_ = monitorv1.AddToScheme(s)
	_ = notifyv1.AddToScheme(s)
	_ = registryv1.AddToScheme(s)
	_ = applicationv1.AddToScheme(s)
	return s
}
