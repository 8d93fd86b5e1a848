// Package cronhpa is the CronHPA add-on (seed 004 §4.2.4.2, §5.3): the
// cronhpas.extensions.tkestack.io CRD and the controller that sets a
// workload's replicas through its scale subresource on cron schedules.
package cronhpa

import (
	"embed"

	"github.com/kstack/kstack/internal/addons"
)

// The latest CRD is generated from addonapi/extensions/v1 into crd/; each
// released version's manifests are frozen in manifests/<version>/ (v1.0.0
// has the seed's fields only; v1.1.0 adds timeZone and conditions).
//
//go:embed crd/*.yaml manifests
var files embed.FS

// Addon is the CronHPA add-on.
func Addon() *addons.Addon {
	return &addons.Addon{
		Type:        "CronHPA",
		Description: "Scales workloads (Deployment, StatefulSet, TApp, anything with a scale subresource) to set replicas on cron schedules.",
		Level:       "Enhance",
		Kinds:       []string{"cronhpas.extensions.tkestack.io"},
		Versions: []addons.Version{
			{Version: "v1.0.0", Objects: addons.Manifests(files, "manifests/v1.0.0/extensions.tkestack.io_cronhpas.yaml", "manifests/v1.0.0/rbac.yaml")},
			{Version: "v1.1.0", Objects: addons.Manifests(files, "crd/extensions.tkestack.io_cronhpas.yaml", "manifests/v1.1.0/rbac.yaml")},
		},
		Controller: Run,
		InUse:      InUse,
	}
}
