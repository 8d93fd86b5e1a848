// Package catalog is the list of add-on types the platform offers.
package catalog

import (
	"github.com/kstack/kstack/internal/addons"
	"github.com/kstack/kstack/internal/addons/cronhpa"
	"github.com/kstack/kstack/internal/addons/tapp"
)

// All are the add-on types, each made anew (they hold no state).
func All() addons.Catalog {
	return addons.Catalog{cronhpa.Addon(), tapp.Addon()}
}
