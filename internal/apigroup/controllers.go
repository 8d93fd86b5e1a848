package apigroup

import (
	"fmt"
	"slices"
	"strings"
)

// SelectControllers picks the controllers that a --controllers list
// enables, spelt as kube-controller-manager and Karmada spell it: "*" is
// every controller, "name" enables one, "-name" disables one, and a later
// entry wins over "*". An empty list is "*".
func SelectControllers(all []Controller, list []string) ([]Controller, error) {
	if len(list) == 0 {
		list = []string{"*"}
	}
	known := make([]string, 0, len(all))
	for _, c := range all {
		known = append(known, c.Name)
	}
	star := false
	on, off := map[string]bool{}, map[string]bool{}
	for _, e := range list {
		e = strings.TrimSpace(e)
		name := strings.TrimPrefix(e, "-")
		switch {
		case e == "*":
			star = true
			continue
		case name == "" || !slices.Contains(known, name):
			return nil, fmt.Errorf("--controllers: %q is not a controller; the controllers are %s (and * for all, -NAME to disable one)", e, strings.Join(known, ", "))
		}
		if strings.HasPrefix(e, "-") {
			off[name] = true
		} else {
			on[name] = true
		}
	}
	var out []Controller
	for _, c := range all {
		if on[c.Name] || star && !off[c.Name] {
			out = append(out, c)
		}
	}
	return out, nil
}
