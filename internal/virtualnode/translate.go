package virtualnode

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Names kstack puts on objects. Upper-cluster keys (node labels, pod
// annotations) and lower-cluster keys (on the copies) share one prefix.
const (
	prefix = "virtualnode.kstack.io/"

	// LabelNode marks a lower pod with the virtual node that placed it.
	LabelNode = prefix + "node"
	// LabelCopy marks lower objects (namespaces, ConfigMaps, Secrets, PVCs,
	// ServiceAccounts, Services, EndpointSlices) that kstack copied down.
	LabelCopy = prefix + "copy"
	// AnnotationUpperUID names the upper pod a lower pod stands for.
	AnnotationUpperUID = prefix + "upper-uid"
	// AnnotationUpperHash is a digest of the upper pod's mutable fields when
	// the lower pod was last written.
	AnnotationUpperHash = prefix + "upper-hash"
	// AnnotationScheduling holds the constraints meant for the lower cluster
	// (JSON of Scheduling), set by the webhook and restored downstream.
	AnnotationScheduling = prefix + "lower-scheduling"
	// AnnotationMoves counts how often the descheduler moved a bare pod.
	AnnotationMoves = prefix + "moves"
	// LabelWebhook opts a namespace or a pod into the webhook ("enabled").
	LabelWebhook = prefix + "webhook"

	// Node labels of a virtual node.
	LabelLowerCluster = "kstack.io/lower-cluster"
	LabelLargestCPU   = "kstack.io/largest-free-cpu"    // millicores
	LabelLargestMem   = "kstack.io/largest-free-memory" // MiB
	LabelLargestPods  = "kstack.io/largest-free-pods"
	LabelType         = "type"
	TypeVirtual       = "virtual-kubelet"
	// TaintKey is the usual virtual-kubelet taint, added with --taint.
	TaintKey = "virtual-kubelet.io/provider"
)

// Scheduling is what the webhook moves out of the upper pod's spec: the
// constraints that name lower nodes, which no virtual node can satisfy.
type Scheduling struct {
	NodeSelector map[string]string    `json:"nodeSelector,omitempty"`
	NodeAffinity *corev1.NodeAffinity `json:"nodeAffinity,omitempty"`
	Tolerations  []corev1.Toleration  `json:"tolerations,omitempty"`
}

// UpperOnlyKey says whether a node-label key belongs to the upper cluster's
// view (the virtual nodes), so constraints on it stay upstream and are
// stripped from the lower copy.
func UpperOnlyKey(key string) bool {
	return key == LabelType || strings.HasPrefix(key, "kstack.io/") || strings.HasPrefix(key, prefix)
}

// upperOnlyToleration: tolerations of the virtual-node taint mean nothing below.
func upperOnlyToleration(t corev1.Toleration) bool {
	return t.Key == TaintKey
}

// ParseScheduling reads the scheduling annotation; absent means nil.
func ParseScheduling(annotations map[string]string) (*Scheduling, error) {
	raw, ok := annotations[AnnotationScheduling]
	if !ok {
		return nil, nil
	}
	var s Scheduling
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		return nil, fmt.Errorf("annotation %s is not valid JSON of {nodeSelector, nodeAffinity, tolerations}: %w", AnnotationScheduling, err)
	}
	return &s, nil
}

// LowerPod builds the pod to create in the lower cluster for an upper pod
// bound to virtual node nodeName.
func LowerPod(up *corev1.Pod, nodeName string) (*corev1.Pod, error) {
	sched, err := ParseScheduling(up.Annotations)
	if err != nil {
		return nil, err
	}
	p := &corev1.Pod{}
	p.Name, p.Namespace = up.Name, up.Namespace
	p.Labels = map[string]string{}
	for k, v := range up.Labels {
		p.Labels[k] = v
	}
	p.Labels[LabelNode] = nodeName
	p.Annotations = map[string]string{}
	for k, v := range up.Annotations {
		if k != AnnotationScheduling && k != AnnotationMoves {
			p.Annotations[k] = v
		}
	}
	p.Annotations[AnnotationUpperUID] = string(up.UID)
	p.Annotations[AnnotationUpperHash] = MutableHash(up)

	spec := up.Spec.DeepCopy()
	spec.NodeName = ""
	// Priority classes are the upper cluster's; the lower may not have them.
	spec.PriorityClassName, spec.Priority, spec.PreemptionPolicy = "", nil, nil
	spec.EphemeralContainers = nil
	stripTokenVolumes(spec)
	stripUpperConstraints(spec)
	if sched != nil {
		spec.NodeSelector = sched.NodeSelector
		if sched.NodeAffinity != nil {
			if spec.Affinity == nil {
				spec.Affinity = &corev1.Affinity{}
			}
			spec.Affinity.NodeAffinity = sched.NodeAffinity
		}
		spec.Tolerations = append(spec.Tolerations, sched.Tolerations...)
	}
	p.Spec = *spec
	return p, nil
}

// stripTokenVolumes removes the upper cluster's projected service-account
// token: it is signed by the upper cluster. The lower cluster's admission
// mounts its own token for the same ServiceAccount, which kstack copies.
func stripTokenVolumes(spec *corev1.PodSpec) {
	drop := map[string]bool{}
	vols := spec.Volumes[:0]
	for _, v := range spec.Volumes {
		if isTokenVolume(v) {
			drop[v.Name] = true
			continue
		}
		vols = append(vols, v)
	}
	spec.Volumes = vols
	strip := func(cs []corev1.Container) {
		for i := range cs {
			mounts := cs[i].VolumeMounts[:0]
			for _, m := range cs[i].VolumeMounts {
				if !drop[m.Name] {
					mounts = append(mounts, m)
				}
			}
			cs[i].VolumeMounts = mounts
		}
	}
	strip(spec.InitContainers)
	strip(spec.Containers)
}

func isTokenVolume(v corev1.Volume) bool {
	if v.Projected == nil {
		return false
	}
	for _, s := range v.Projected.Sources {
		if s.ServiceAccountToken != nil {
			return strings.HasPrefix(v.Name, "kube-api-access-")
		}
	}
	return false
}

// stripUpperConstraints removes constraints that only make sense against
// virtual nodes: selectors, affinity terms and spread constraints on
// virtual-node labels, and tolerations of the virtual-node taint.
func stripUpperConstraints(spec *corev1.PodSpec) {
	for k := range spec.NodeSelector {
		if UpperOnlyKey(k) {
			delete(spec.NodeSelector, k)
		}
	}
	if len(spec.NodeSelector) == 0 {
		spec.NodeSelector = nil
	}
	tols := spec.Tolerations[:0]
	for _, t := range spec.Tolerations {
		if !upperOnlyToleration(t) {
			tols = append(tols, t)
		}
	}
	spec.Tolerations = tols
	tsc := spec.TopologySpreadConstraints[:0]
	for _, c := range spec.TopologySpreadConstraints {
		if !UpperOnlyKey(c.TopologyKey) {
			tsc = append(tsc, c)
		}
	}
	spec.TopologySpreadConstraints = tsc
	if spec.Affinity == nil {
		return
	}
	if na := spec.Affinity.NodeAffinity; na != nil {
		spec.Affinity.NodeAffinity = stripNodeAffinity(na, func(r corev1.NodeSelectorRequirement) bool { return UpperOnlyKey(r.Key) })
	}
	spec.Affinity.PodAffinity = stripPodAffinity(spec.Affinity.PodAffinity)
	if aa := spec.Affinity.PodAntiAffinity; aa != nil {
		pa := stripPodAffinity(&corev1.PodAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution:  aa.RequiredDuringSchedulingIgnoredDuringExecution,
			PreferredDuringSchedulingIgnoredDuringExecution: aa.PreferredDuringSchedulingIgnoredDuringExecution,
		})
		spec.Affinity.PodAntiAffinity = nil
		if pa != nil {
			spec.Affinity.PodAntiAffinity = &corev1.PodAntiAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution:  pa.RequiredDuringSchedulingIgnoredDuringExecution,
				PreferredDuringSchedulingIgnoredDuringExecution: pa.PreferredDuringSchedulingIgnoredDuringExecution,
			}
		}
	}
	if spec.Affinity.NodeAffinity == nil && spec.Affinity.PodAffinity == nil && spec.Affinity.PodAntiAffinity == nil {
		spec.Affinity = nil
	}
}

// stripNodeAffinity drops the requirements drop matches; a required term left
// empty is dropped; nil when nothing is left.
func stripNodeAffinity(na *corev1.NodeAffinity, drop func(corev1.NodeSelectorRequirement) bool) *corev1.NodeAffinity {
	keep := func(rs []corev1.NodeSelectorRequirement) []corev1.NodeSelectorRequirement {
		var out []corev1.NodeSelectorRequirement
		for _, r := range rs {
			if !drop(r) {
				out = append(out, r)
			}
		}
		return out
	}
	out := &corev1.NodeAffinity{}
	if req := na.RequiredDuringSchedulingIgnoredDuringExecution; req != nil {
		var terms []corev1.NodeSelectorTerm
		for _, t := range req.NodeSelectorTerms {
			nt := corev1.NodeSelectorTerm{MatchExpressions: keep(t.MatchExpressions), MatchFields: keep(t.MatchFields)}
			if len(nt.MatchExpressions)+len(nt.MatchFields) > 0 {
				terms = append(terms, nt)
			} else {
				// A term that only named virtual nodes matches anywhere below.
				terms = nil
				break
			}
		}
		if len(terms) > 0 {
			out.RequiredDuringSchedulingIgnoredDuringExecution = &corev1.NodeSelector{NodeSelectorTerms: terms}
		}
	}
	for _, p := range na.PreferredDuringSchedulingIgnoredDuringExecution {
		pt := corev1.NodeSelectorTerm{MatchExpressions: keep(p.Preference.MatchExpressions), MatchFields: keep(p.Preference.MatchFields)}
		if len(pt.MatchExpressions)+len(pt.MatchFields) > 0 {
			out.PreferredDuringSchedulingIgnoredDuringExecution = append(out.PreferredDuringSchedulingIgnoredDuringExecution, corev1.PreferredSchedulingTerm{Weight: p.Weight, Preference: pt})
		}
	}
	if out.RequiredDuringSchedulingIgnoredDuringExecution == nil && len(out.PreferredDuringSchedulingIgnoredDuringExecution) == 0 {
		return nil
	}
	return out
}

func stripPodAffinity(pa *corev1.PodAffinity) *corev1.PodAffinity {
	if pa == nil {
		return nil
	}
	out := &corev1.PodAffinity{}
	for _, t := range pa.RequiredDuringSchedulingIgnoredDuringExecution {
		if !UpperOnlyKey(t.TopologyKey) {
			out.RequiredDuringSchedulingIgnoredDuringExecution = append(out.RequiredDuringSchedulingIgnoredDuringExecution, t)
		}
	}
	for _, t := range pa.PreferredDuringSchedulingIgnoredDuringExecution {
		if !UpperOnlyKey(t.PodAffinityTerm.TopologyKey) {
			out.PreferredDuringSchedulingIgnoredDuringExecution = append(out.PreferredDuringSchedulingIgnoredDuringExecution, t)
		}
	}
	if len(out.RequiredDuringSchedulingIgnoredDuringExecution)+len(out.PreferredDuringSchedulingIgnoredDuringExecution) == 0 {
		return nil
	}
	return out
}

// MutableHash digests the fields of an upper pod that may change after
// creation and that kstack carries down: labels, annotations, images,
// activeDeadlineSeconds and tolerations.
func MutableHash(p *corev1.Pod) string {
	h := sha256.New()
	write := func(m map[string]string, skip func(string) bool) {
		keys := make([]string, 0, len(m))
		for k := range m {
			if !skip(k) {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(h, "%q=%q;", k, m[k])
		}
		h.Write([]byte{0})
	}
	none := func(string) bool { return false }
	write(p.Labels, none)
	write(p.Annotations, func(k string) bool { return k == AnnotationUpperHash || k == AnnotationUpperUID })
	for _, c := range append(append([]corev1.Container{}, p.Spec.InitContainers...), p.Spec.Containers...) {
		fmt.Fprintf(h, "%s=%s;", c.Name, c.Image)
	}
	if p.Spec.ActiveDeadlineSeconds != nil {
		fmt.Fprintf(h, "ads=%d;", *p.Spec.ActiveDeadlineSeconds)
	}
	for _, t := range p.Spec.Tolerations {
		fmt.Fprintf(h, "%s|%s|%s|%s;", t.Key, t.Operator, t.Value, t.Effect)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// References are the objects of the upper namespace a pod needs below.
type References struct {
	ConfigMaps, Secrets, PVCs []string
	ServiceAccount            string
}

// PodReferences lists what a pod refers to: volumes (also projected),
// env and envFrom, image pull secrets, and its service account.
func PodReferences(spec *corev1.PodSpec) References {
	cms, secrets, pvcs := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, v := range spec.Volumes {
		switch {
		case v.ConfigMap != nil:
			cms[v.ConfigMap.Name] = true
		case v.Secret != nil:
			secrets[v.Secret.SecretName] = true
		case v.PersistentVolumeClaim != nil:
			pvcs[v.PersistentVolumeClaim.ClaimName] = true
		case v.Projected != nil && !isTokenVolume(v):
			for _, s := range v.Projected.Sources {
				if s.ConfigMap != nil {
					cms[s.ConfigMap.Name] = true
				}
				if s.Secret != nil {
					secrets[s.Secret.Name] = true
				}
			}
		}
	}
	for _, c := range append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...) {
		for _, e := range c.EnvFrom {
			if e.ConfigMapRef != nil {
				cms[e.ConfigMapRef.Name] = true
			}
			if e.SecretRef != nil {
				secrets[e.SecretRef.Name] = true
			}
		}
		for _, e := range c.Env {
			if e.ValueFrom == nil {
				continue
			}
			if r := e.ValueFrom.ConfigMapKeyRef; r != nil {
				cms[r.Name] = true
			}
			if r := e.ValueFrom.SecretKeyRef; r != nil {
				secrets[r.Name] = true
			}
		}
	}
	for _, s := range spec.ImagePullSecrets {
		secrets[s.Name] = true
	}
	sa := spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	return References{ConfigMaps: sortedKeys(cms), Secrets: sortedKeys(secrets), PVCs: sortedKeys(pvcs), ServiceAccount: sa}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		if k != "" {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// UpperStatus is the status of the upper pod, from its lower copy. Pod and
// host IPs are the lower cluster's (the flat-network assumption).
func UpperStatus(lower *corev1.Pod) corev1.PodStatus {
	return *lower.Status.DeepCopy()
}
