// Package quota adds up ResourceLists and says, in words, where one does not
// fit in another: the accounting behind projects, their namespaces and
// sub-projects.
package quota

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Sum adds resource lists.
func Sum(lists ...corev1.ResourceList) corev1.ResourceList {
	out := corev1.ResourceList{}
	for _, l := range lists {
		for name, q := range l {
			cur := out[name]
			cur.Add(q)
			out[name] = cur
		}
	}
	return out
}

// Overage is one resource that does not fit.
type Overage struct {
	Resource corev1.ResourceName
	// Limit is what there is; Taken what others already hold; Asked what
	// the request wants.
	Limit, Taken, Asked resource.Quantity
}

// Fit checks that asked fits in limit next to taken. Resources the limit
// does not name are not limited; a limit on a resource the request does
// not name is unaffected.
func Fit(limit, taken, asked corev1.ResourceList) []Overage {
	var out []Overage
	for name, a := range asked {
		l, ok := limit[name]
		if !ok {
			continue
		}
		t := taken[name]
		total := t.DeepCopy()
		total.Add(a)
		if total.Cmp(l) > 0 {
			out = append(out, Overage{Resource: name, Limit: l, Taken: t, Asked: a})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Resource < out[j].Resource })
	return out
}

// Describe says what does not fit, e.g. `requests.cpu: 3 asked, but only 1
// of 4 is left (3 already allocated)`.
func Describe(over []Overage) string {
	var parts []string
	for _, o := range over {
		left := o.Limit.DeepCopy()
		left.Sub(o.Taken)
		parts = append(parts, fmt.Sprintf("%s: %s asked, but only %s of %s is left (%s already allocated)",
			o.Resource, o.Asked.String(), left.String(), o.Limit.String(), o.Taken.String()))
	}
	return strings.Join(parts, "; ")
}

// Below reports the resources where limit is lower than used.
func Below(limit, used corev1.ResourceList) []Overage {
	var out []Overage
	for name, u := range used {
		if l, ok := limit[name]; ok && l.Cmp(u) < 0 {
			out = append(out, Overage{Resource: name, Limit: l, Asked: u})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Resource < out[j].Resource })
	return out
}

// DescribeBelow says where a new limit is below what is allocated.
func DescribeBelow(over []Overage) string {
	var parts []string
	for _, o := range over {
		parts = append(parts, fmt.Sprintf("%s: %s is below the %s already allocated", o.Resource, o.Limit.String(), o.Asked.String()))
	}
	return strings.Join(parts, "; ")
}

// Parse builds a ResourceList from flags like cpu=2, memory=4Gi. "cpu" and
// "memory" mean requests and limits both, as in a ResourceQuota.
func Parse(pairs map[string]string) (corev1.ResourceList, error) {
	out := corev1.ResourceList{}
	for k, v := range pairs {
		if v == "" {
			continue
		}
		q, err := resource.ParseQuantity(v)
		if err != nil {
			return nil, fmt.Errorf("%s=%q is not a quantity (e.g. 2, 500m, 4Gi): %v", k, v, err)
		}
		if q.Sign() < 0 {
			return nil, fmt.Errorf("%s=%s is negative", k, v)
		}
		out[corev1.ResourceName(k)] = q
	}
	return out, nil
}
