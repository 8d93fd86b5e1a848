package virtualnode

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	resourcehelper "k8s.io/component-helpers/resource"
)

// Capacity is what a virtual node offers the upper scheduler.
type Capacity struct {
	// Allocatable is the sum of the allocatable of the lower cluster's usable
	// nodes minus the requests of the lower cluster's own pods. The pods this
	// virtual node placed there are not subtracted: the upper scheduler
	// already counts them against the virtual node (no double counting).
	Allocatable corev1.ResourceList
	// LargestFree is, per resource, the most that is free on any single
	// usable node, counting every pod. A pod that asks for more than this
	// cannot run in the lower cluster however much is free in total.
	LargestFree corev1.ResourceList
	// Nodes is how many lower nodes are usable (Ready, schedulable, untainted).
	Nodes int
}

// sliceResources are the resources whose largest single-node slice is exposed.
var sliceResources = []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourcePods}

// Usable says whether new pods may land on a lower node: Ready, not cordoned,
// and without NoSchedule/NoExecute taints (a pod may tolerate them, but
// counting such nodes would promise room most pods cannot use).
func Usable(n *corev1.Node) bool {
	if n.Spec.Unschedulable {
		return false
	}
	for _, t := range n.Spec.Taints {
		if t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute {
			return false
		}
	}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// occupies says whether a pod holds resources on its node.
func occupies(p *corev1.Pod) bool {
	return p.Spec.NodeName != "" && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed
}

// ComputeCapacity derives the virtual node's capacity from the lower
// cluster's nodes and pods. ours says whether a lower pod was placed by this
// virtual node.
func ComputeCapacity(nodes []*corev1.Node, pods []*corev1.Pod, ours func(*corev1.Pod) bool) Capacity {
	usable := map[string]*corev1.Node{}
	total := corev1.ResourceList{}
	for _, n := range nodes {
		if !Usable(n) {
			continue
		}
		usable[n.Name] = n
		addTo(total, n.Status.Allocatable)
	}
	used := map[string]corev1.ResourceList{} // every pod, per node
	foreign := corev1.ResourceList{}         // the lower cluster's own pods
	for _, p := range pods {
		if !occupies(p) || usable[p.Spec.NodeName] == nil {
			continue
		}
		req := podRequests(p)
		if used[p.Spec.NodeName] == nil {
			used[p.Spec.NodeName] = corev1.ResourceList{}
		}
		addTo(used[p.Spec.NodeName], req)
		if !ours(p) {
			addTo(foreign, req)
		}
	}
	largest := corev1.ResourceList{}
	for _, r := range sliceResources {
		largest[r] = *resource.NewQuantity(0, resource.DecimalSI)
	}
	for name, n := range usable {
		for _, r := range sliceResources {
			free := n.Status.Allocatable[r].DeepCopy()
			if u, ok := used[name][r]; ok {
				free.Sub(u)
			}
			if free.Cmp(largest[r]) > 0 {
				largest[r] = free
			}
		}
	}
	return Capacity{Allocatable: subtractFloor(total, foreign), LargestFree: largest, Nodes: len(usable)}
}

// podRequests is what a pod asks for, init containers and overhead included,
// plus one "pods" slot.
func podRequests(p *corev1.Pod) corev1.ResourceList {
	req := resourcehelper.PodRequests(p, resourcehelper.PodResourcesOptions{})
	req[corev1.ResourcePods] = *resource.NewQuantity(1, resource.DecimalSI)
	return req
}

func addTo(dst, src corev1.ResourceList) {
	for k, v := range src {
		q := dst[k]
		q.Add(v)
		dst[k] = q
	}
}

// subtractFloor returns a-b per resource of a, never below zero.
func subtractFloor(a, b corev1.ResourceList) corev1.ResourceList {
	out := corev1.ResourceList{}
	for k, v := range a {
		q := v.DeepCopy()
		if s, ok := b[k]; ok {
			q.Sub(s)
		}
		if q.Sign() < 0 {
			q = *resource.NewQuantity(0, q.Format)
		}
		out[k] = q
	}
	return out
}
