package virtualnode

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func mkNode(name, cpu, mem string, ready bool, mutate ...func(*corev1.Node)) *corev1.Node {
	st := corev1.ConditionTrue
	if !ready {
		st = corev1.ConditionFalse
	}
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NodeStatus{
		Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem), corev1.ResourcePods: resource.MustParse("110")},
		Capacity:    corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("999"), corev1.ResourceMemory: resource.MustParse("999Gi")},
		Conditions:  []corev1.NodeCondition{{Type: corev1.NodeReady, Status: st}},
	}}
	for _, m := range mutate {
		m(n)
	}
	return n
}

func pod(name, nodeName, cpu string, phase corev1.PodPhase, lbl map[string]string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: lbl},
		Spec: corev1.PodSpec{NodeName: nodeName, Containers: []corev1.Container{{Name: "c", Image: "img",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}}}}},
		Status: corev1.PodStatus{Phase: phase}}
}

func TestComputeCapacity(t *testing.T) {
	nodes := []*corev1.Node{
		mkNode("a", "16", "64Gi", true),
		mkNode("b", "16", "64Gi", true),
		mkNode("down", "16", "64Gi", false),
		mkNode("cordoned", "16", "64Gi", true, func(n *corev1.Node) { n.Spec.Unschedulable = true }),
		mkNode("tainted", "16", "64Gi", true, func(n *corev1.Node) {
			n.Spec.Taints = []corev1.Taint{{Key: "x", Effect: corev1.TaintEffectNoSchedule}}
		}),
	}
	ours := map[string]string{LabelNode: "vk-l1"}
	pods := []*corev1.Pod{
		pod("own-a", "a", "10", corev1.PodRunning, nil),          // the lower cluster's own: subtracted
		pod("ours-b", "b", "4", corev1.PodRunning, ours),         // placed by us: not subtracted
		pod("done", "a", "3", corev1.PodSucceeded, nil),          // finished: holds nothing
		pod("unbound", "", "3", corev1.PodPending, nil),          // not on a node
		pod("on-down-node", "down", "5", corev1.PodRunning, nil), // its node is not counted either
	}
	c := ComputeCapacity(nodes, pods, func(p *corev1.Pod) bool { return p.Labels[LabelNode] == "vk-l1" })
	if c.Nodes != 2 {
		t.Fatalf("usable nodes = %d, want 2 (down, cordoned and tainted nodes excluded)", c.Nodes)
	}
	if got := c.Allocatable.Cpu().String(); got != "22" {
		t.Errorf("allocatable cpu = %s, want 22 (allocatable 32, not capacity, minus the lower cluster's own 10)", got)
	}
	if got := c.Allocatable.Pods().Value(); got != 219 {
		t.Errorf("allocatable pods = %d, want 219", got)
	}
	// a has 6 free, b has 12 free (our pod occupies b for real).
	if got := c.LargestFree[corev1.ResourceCPU]; got.String() != "12" {
		t.Errorf("largest free cpu = %s, want 12", got.String())
	}
	if got := c.LargestFree[corev1.ResourceMemory]; got.String() != "64Gi" {
		t.Errorf("largest free memory = %s, want 64Gi", got.String())
	}
	// Overcommitted: never below zero.
	c = ComputeCapacity(nodes[:1], []*corev1.Pod{pod("huge", "a", "20", corev1.PodRunning, nil)}, func(*corev1.Pod) bool { return false })
	if c.Allocatable.Cpu().Sign() != 0 {
		t.Errorf("overcommitted cpu = %s, want 0", c.Allocatable.Cpu())
	}
}

func TestLowerPod(t *testing.T) {
	sched := Scheduling{NodeSelector: map[string]string{"disk": "ssd"}, Tolerations: []corev1.Toleration{{Key: "gpu", Operator: corev1.TolerationOpExists}}}
	raw, err := json.Marshal(sched)
	if err != nil {
		t.Fatal(err)
	}
	up := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "team", UID: "u-1", Labels: map[string]string{"app": "web"},
			Annotations: map[string]string{AnnotationScheduling: string(raw), "note": "kept"}},
		Spec: corev1.PodSpec{
			NodeName:          "vk-l1",
			PriorityClassName: "upper-only",
			NodeSelector:      map[string]string{LabelType: TypeVirtual},
			Tolerations:       []corev1.Toleration{{Key: TaintKey, Operator: corev1.TolerationOpExists}, {Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists}},
			TopologySpreadConstraints: []corev1.TopologySpreadConstraint{
				{TopologyKey: LabelLowerCluster, MaxSkew: 1}, {TopologyKey: "topology.kubernetes.io/zone", MaxSkew: 1},
			},
			Volumes: []corev1.Volume{
				{Name: "kube-api-access-x", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}}}}}},
				{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "app-config"}}}},
			},
			Containers: []corev1.Container{{Name: "c", Image: "nginx", VolumeMounts: []corev1.VolumeMount{{Name: "kube-api-access-x"}, {Name: "cfg"}},
				Env: []corev1.EnvVar{{Name: "PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "pw"}}}}}},
		},
	}
	lp, err := LowerPod(up, "vk-l1")
	if err != nil {
		t.Fatal(err)
	}
	if lp.Spec.NodeName != "" || lp.Spec.PriorityClassName != "" {
		t.Errorf("nodeName %q and priorityClassName %q must be cleared below", lp.Spec.NodeName, lp.Spec.PriorityClassName)
	}
	if !reflect.DeepEqual(lp.Spec.NodeSelector, map[string]string{"disk": "ssd"}) {
		t.Errorf("nodeSelector below = %v, want the restored disk=ssd without the upper-only type", lp.Spec.NodeSelector)
	}
	var tolKeys []string
	for _, tl := range lp.Spec.Tolerations {
		tolKeys = append(tolKeys, tl.Key)
	}
	if !reflect.DeepEqual(tolKeys, []string{"node.kubernetes.io/not-ready", "gpu"}) {
		t.Errorf("tolerations below = %v", tolKeys)
	}
	if len(lp.Spec.TopologySpreadConstraints) != 1 || lp.Spec.TopologySpreadConstraints[0].TopologyKey != "topology.kubernetes.io/zone" {
		t.Errorf("spread constraints below = %+v, want only the zone one", lp.Spec.TopologySpreadConstraints)
	}
	if len(lp.Spec.Volumes) != 1 || lp.Spec.Volumes[0].Name != "cfg" || len(lp.Spec.Containers[0].VolumeMounts) != 1 {
		t.Errorf("the upper token volume must go, the ConfigMap volume stay: %+v", lp.Spec.Volumes)
	}
	if lp.Labels[LabelNode] != "vk-l1" || lp.Annotations[AnnotationUpperUID] != "u-1" || lp.Annotations["note"] != "kept" {
		t.Errorf("labels %v annotations %v", lp.Labels, lp.Annotations)
	}
	if _, ok := lp.Annotations[AnnotationScheduling]; ok {
		t.Error("the scheduling annotation is consumed, not copied")
	}
	if up.Spec.NodeSelector[LabelType] != TypeVirtual || len(up.Spec.Volumes) != 2 {
		t.Error("LowerPod must not modify the upper pod")
	}
	refs := PodReferences(&up.Spec)
	if !reflect.DeepEqual(refs.ConfigMaps, []string{"app-config"}) || !reflect.DeepEqual(refs.Secrets, []string{"db"}) || refs.ServiceAccount != "default" {
		t.Errorf("references = %+v", refs)
	}

	// A label change moves the hash; a status change does not.
	h := MutableHash(up)
	up.Status.Phase = corev1.PodRunning
	if MutableHash(up) != h {
		t.Error("status must not change the hash")
	}
	up.Labels["v"] = "2"
	if MutableHash(up) == h {
		t.Error("a label change must change the hash")
	}

	up.Annotations[AnnotationScheduling] = "{not json"
	if _, err := LowerPod(up, "vk-l1"); err == nil {
		t.Error("a malformed scheduling annotation must be an error")
	}
}

func TestMutate(t *testing.T) {
	isVirtual := func(n string) bool { return n == "vk-l1" || n == "vk-l2" }
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}, Spec: corev1.PodSpec{
		NodeSelector: map[string]string{"disk": "ssd", LabelType: TypeVirtual, hostnameKey: "vk-l2"},
		Tolerations:  []corev1.Toleration{{Key: "gpu", Operator: corev1.TolerationOpExists}, {Key: "node.kubernetes.io/unreachable", Operator: corev1.TolerationOpExists}},
		Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{
				{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"a"}},
				{Key: LabelLowerCluster, Operator: corev1.NodeSelectorOpIn, Values: []string{"l2"}},
			}}}}}},
		Containers: []corev1.Container{{Name: "c", Image: "x", Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("1500m"), corev1.ResourceMemory: resource.MustParse("100Mi")}}}},
	}}
	if err := Mutate(p, []string{"vk-l1"}, isVirtual); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p.Spec.NodeSelector, map[string]string{LabelType: TypeVirtual, hostnameKey: "vk-l2"}) {
		t.Errorf("upper nodeSelector = %v: virtual-node keys stay, others move", p.Spec.NodeSelector)
	}
	s, err := ParseScheduling(p.Annotations)
	if err != nil || s == nil {
		t.Fatalf("scheduling annotation: %v %v", s, err)
	}
	if !reflect.DeepEqual(s.NodeSelector, map[string]string{"disk": "ssd"}) || len(s.Tolerations) != 1 || s.Tolerations[0].Key != "gpu" {
		t.Errorf("moved: %+v", s)
	}
	if s.NodeAffinity == nil || s.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchExpressions[0].Key != "zone" {
		t.Errorf("the zone requirement must move down: %+v", s.NodeAffinity)
	}
	if len(p.Spec.Tolerations) != 1 || p.Spec.Tolerations[0].Key != "node.kubernetes.io/unreachable" {
		t.Errorf("upper tolerations = %+v", p.Spec.Tolerations)
	}
	terms := p.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	if len(terms) != 1 {
		t.Fatalf("terms = %+v: the term names a lower cluster, so it needs no non-virtual alternative", terms)
	}
	want := map[string]string{LabelLowerCluster: "l2", LabelLargestCPU: "1499", LabelLargestMem: "99", hostnameKey: "vk-l1"}
	for _, r := range terms[0].MatchExpressions {
		if want[r.Key] != r.Values[0] {
			t.Errorf("requirement %s %s %v unexpected", r.Key, r.Operator, r.Values)
		}
		delete(want, r.Key)
	}
	if len(want) > 0 {
		t.Errorf("missing requirements: %v", want)
	}
	// Idempotent: the webhook may be called again (reinvocation).
	before, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := Mutate(p, []string{"vk-l1"}, isVirtual); err != nil {
		t.Fatal(err)
	}
	after, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if string(before) != string(after) {
		t.Errorf("a second Mutate changed the pod:\n%s\n%s", before, after)
	}

	// A pod with no constraints gets the slice requirement and a term for
	// nodes that are not virtual.
	q := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")}}}}}}
	if err := Mutate(q, nil, isVirtual); err != nil {
		t.Fatal(err)
	}
	qt := q.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	if len(qt) != 2 || qt[0].MatchExpressions[0].Key != LabelLargestCPU || qt[1].MatchExpressions[0].Key != LabelType {
		t.Errorf("terms = %+v", qt)
	}
	if _, ok := q.Annotations[AnnotationScheduling]; ok {
		t.Error("nothing moved: no annotation expected")
	}

	bad := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{AnnotationScheduling: "[]"}}}
	if err := Mutate(bad, nil, isVirtual); err == nil {
		t.Error("a malformed annotation must be refused")
	}
}

func TestReplacementAndBackoff(t *testing.T) {
	up := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "old", ResourceVersion: "7",
		Annotations: map[string]string{AnnotationScheduling: `{"nodeSelector":{"disk":"ssd"}}`, AnnotationMoves: "1"}},
		Spec:   corev1.PodSpec{NodeName: "vk-l1", Containers: []corev1.Container{{Name: "c"}}},
		Status: corev1.PodStatus{Phase: corev1.PodPending}}
	r := Replacement(up, "vk-l1")
	if r.Spec.NodeName != "" || r.UID != "" || r.ResourceVersion != "" || r.Status.Phase != "" {
		t.Errorf("replacement must be a new, unbound pod: %+v", r.ObjectMeta)
	}
	if r.Annotations[AnnotationMoves] != "2" || r.Annotations[AnnotationScheduling] != up.Annotations[AnnotationScheduling] {
		t.Errorf("annotations = %v: the count rises and the constraints are kept", r.Annotations)
	}
	r2 := Replacement(r, "vk-l2")
	avoid := map[string]bool{}
	for _, term := range r2.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		for _, e := range term.MatchExpressions {
			if e.Key == hostnameKey {
				for _, v := range e.Values {
					avoid[v] = true
				}
			}
		}
	}
	if !avoid["vk-l1"] || !avoid["vk-l2"] {
		t.Errorf("a second move must avoid both nodes: %v", avoid)
	}
	if Backoff(10*time.Second, 0) != 10*time.Second || Backoff(10*time.Second, 2) != 40*time.Second || Backoff(10*time.Second, 9) != 160*time.Second {
		t.Error("backoff doubles per move and is capped at 16x")
	}
	stuck := &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{
		Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable, LastTransitionTime: metav1.Now()}}}}
	if _, ok := StuckSince(stuck); !ok {
		t.Error("an unschedulable pending pod is stuck")
	}
	stuck.Spec.NodeName = "n"
	if _, ok := StuckSince(stuck); ok {
		t.Error("a bound pod is not stuck in scheduling")
	}
}

func TestAvoidStore(t *testing.T) {
	s := newAvoidStore(time.Minute)
	if s.add("rs-1", "vk-l1") != 1 || s.add("rs-1", "vk-l2") != 2 {
		t.Fatal("moves count per owner")
	}
	if got := len(s.avoid("rs-1")); got != 2 || s.moves("rs-2") != 0 {
		t.Errorf("avoid = %d nodes", got)
	}
	s.ttl = 0
	if s.moves("rs-1") != 0 || len(s.avoid("rs-1")) != 0 {
		t.Error("entries expire")
	}
}

func TestSlimLowerPodKeepsWhatIsRead(t *testing.T) {
	p := pod("web", "n1", "250m", corev1.PodRunning, map[string]string{LabelNode: "vk-a", "app": "web"})
	p.Annotations = map[string]string{AnnotationUpperUID: "u-1", "kubectl.kubernetes.io/last-applied-configuration": strings.Repeat("x", 4096)}
	p.Spec.InitContainers = []corev1.Container{{Name: "init", Resources: requestsCPU("1")}}
	p.Spec.Volumes = []corev1.Volume{{Name: "v"}}
	p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "A", Value: "b"}}
	p.Status.PodIP = "10.0.0.1"
	p.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "m"}}
	o, err := slimLowerPod(p)
	if err != nil {
		t.Fatal(err)
	}
	s := o.(*corev1.Pod)
	if got, want := podRequests(s), podRequests(p); !reflect.DeepEqual(got.Cpu().MilliValue(), want.Cpu().MilliValue()) || got.Cpu().MilliValue() != 1000 {
		t.Errorf("requests %v, want %v (the init container's 1 CPU dominates)", got, want)
	}
	if s.Annotations[AnnotationUpperUID] != "u-1" || len(s.Annotations) != 1 || s.Labels[LabelNode] != "vk-a" {
		t.Errorf("annotations %v labels %v", s.Annotations, s.Labels)
	}
	if len(s.Spec.Volumes) != 0 || len(s.Spec.Containers[0].Env) != 0 || len(s.ManagedFields) != 0 {
		t.Error("volumes, env and managed fields are not read and must not be cached")
	}
	if s.Spec.NodeName != "n1" || s.Status.PodIP != "10.0.0.1" || s.Status.Phase != corev1.PodRunning {
		t.Errorf("node %q status %+v", s.Spec.NodeName, s.Status)
	}
}

func requestsCPU(cpu string) corev1.ResourceRequirements {
	return corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}}
}
