package logagent

import (
	"path"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// podInfo is what the agent needs of a pod: enough to match rules, label
// records and find container files.
type podInfo struct {
	Namespace, Name, UID, Node string
	Labels                     map[string]string
	Owners                     []metav1.OwnerReference
	// Mounts by container name, and the pod's emptyDir volume names.
	Mounts   map[string][]corev1.VolumeMount
	EmptyDir map[string]bool
}

func podInfoOf(p *corev1.Pod) *podInfo {
	pi := &podInfo{
		Namespace: p.Namespace, Name: p.Name, UID: string(p.UID), Node: p.Spec.NodeName,
		Labels: p.Labels, Owners: p.OwnerReferences,
		Mounts: map[string][]corev1.VolumeMount{}, EmptyDir: map[string]bool{},
	}
	for _, cs := range [][]corev1.Container{p.Spec.InitContainers, p.Spec.Containers} {
		for _, c := range cs {
			pi.Mounts[c.Name] = c.VolumeMounts
		}
	}
	for _, v := range p.Spec.Volumes {
		if v.EmptyDir != nil {
			pi.EmptyDir[v.Name] = true
		}
	}
	return pi
}

// controller is the pod's controlling owner reference, or nil.
func (p *podInfo) controller() *metav1.OwnerReference {
	for i := range p.Owners {
		if o := &p.Owners[i]; o.Controller != nil && *o.Controller {
			return o
		}
	}
	if len(p.Owners) > 0 {
		return &p.Owners[0]
	}
	return nil
}

// matches reports whether pod p belongs to workload w, by owner references
// only (no lookups of the workload, so a rule naming a workload that does not
// exist yet applies when its pods appear):
//   - Deployment d: owned by ReplicaSet "d-<pod-template-hash label>";
//   - CronJob c: owned by Job "c-<digits>" (the CronJob controller names its
//     Jobs after the scheduled time in minutes);
//   - other kinds: owned by an object of that kind and name.
func (w Workload) matches(p *podInfo) bool {
	if p == nil || w.Namespace != p.Namespace {
		return false
	}
	for _, o := range p.Owners {
		switch w.Kind {
		case "Deployment":
			h := p.Labels["pod-template-hash"]
			if o.Kind == "ReplicaSet" && h != "" && o.Name == w.Name+"-"+h {
				return true
			}
		case "CronJob":
			if o.Kind == "Job" && isCronJobJob(o.Name, w.Name) {
				return true
			}
		default:
			if o.Kind == w.Kind && o.Name == w.Name {
				return true
			}
		}
	}
	return false
}

func isCronJobJob(job, cronJob string) bool {
	n, ok := strings.CutPrefix(job, cronJob+"-")
	if !ok || n == "" {
		return false
	}
	for _, c := range n {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// workload names the pod's workload for records: a ReplicaSet carrying the
// pod's template hash is reported as its Deployment.
func (p *podInfo) workload() (kind, name string) {
	o := p.controller()
	if o == nil {
		return "", ""
	}
	if o.Kind == "ReplicaSet" {
		if h := p.Labels["pod-template-hash"]; h != "" {
			if d, ok := strings.CutSuffix(o.Name, "-"+h); ok {
				return "Deployment", d
			}
		}
	}
	return o.Kind, o.Name
}

// containerFileDir finds where the files of container path glob (absolute,
// inside the container) are on the node when no --container-root is given:
// in the emptyDir volume mounted over it, which the kubelet keeps at
// /var/lib/kubelet/pods/<uid>/volumes/kubernetes.io~empty-dir/<volume>.
// It returns that directory (relative to the host root) and the glob
// relative to it; ok is false when no emptyDir volume of the container
// covers the path (such files live in the container's image layers, which
// the agent does not read).
func (p *podInfo) containerFileDir(container, glob string) (dir, rel string, ok bool) {
	var best *corev1.VolumeMount
	for i, m := range p.Mounts[container] {
		mp := path.Clean(m.MountPath)
		if !p.EmptyDir[m.Name] || !strings.HasPrefix(glob, strings.TrimSuffix(mp, "/")+"/") {
			continue
		}
		if best == nil || len(mp) > len(path.Clean(best.MountPath)) {
			best = &p.Mounts[container][i]
		}
	}
	if best == nil {
		return "", "", false
	}
	dir = path.Join("/var/lib/kubelet/pods", p.UID, "volumes/kubernetes.io~empty-dir", best.Name, best.SubPath)
	rel = strings.TrimPrefix(glob, strings.TrimSuffix(path.Clean(best.MountPath), "/")+"/")
	return dir, rel, true
}

// hasContainer reports whether the pod has a container of that name.
func (p *podInfo) hasContainer(name string) bool {
	_, ok := p.Mounts[name]
	return ok
}

// expandRoot fills the --container-root pattern for one container.
func expandRoot(pattern string, p *podInfo, container string) string {
	return strings.NewReplacer("{namespace}", p.Namespace, "{pod}", p.Name, "{uid}", p.UID, "{container}", container).Replace(pattern)
}
