// Package tapp is the TApp add-on (seed 004 §4.2.4.1, §5.1): instances with
// fixed IDs, each on a template of a pool, killed and restored one by one,
// and updated in place when only their images change.
package tapp

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"

	corev1 "k8s.io/api/core/v1"

	appsv1 "github.com/kstack/kstack/addonapi/apps/v1"
)

// Labels every pod of a TApp carries.
const (
	LabelTApp     = "tapp.tkestack.io/name"
	LabelInstance = "tapp.tkestack.io/instance-id"
	LabelTemplate = "tapp.tkestack.io/template"
	// LabelSpecHash is the hash of the pod's template without its
	// containers' images: pods of one spec hash differ at most in images,
	// which are updated in place.
	LabelSpecHash = "tapp.tkestack.io/spec-hash"
	// LabelImageHash is the hash of the images alone.
	LabelImageHash = "tapp.tkestack.io/image-hash"
	// AnnotationInPlace marks a pod whose images were changed in place
	// until its container statuses show them (the kubelet restarted the
	// containers): until then the instance is Updating.
	AnnotationInPlace = "tapp.tkestack.io/in-place-update"
)

// DefaultMaxUnavailable is the update limit when the spec gives none: one
// instance of a template at a time (docs/tapp.md says why).
const DefaultMaxUnavailable = 1

// Pod is what the planner needs of an instance's pod.
type Pod struct {
	Template  string
	SpecHash  string
	ImageHash string
	// Ready: the pod is Ready; Done: it ended (Succeeded or Failed) and
	// is not restarted (restart policy Never or OnFailure for success).
	Ready, Deleting bool
	// InPlace: an in-place update is under way (AnnotationInPlace).
	InPlace bool
	Phase   corev1.PodPhase
}

// Op is what an action does to one instance.
type Op string

// The actions.
const (
	// Create makes the instance's pod on its template.
	Create Op = "Create"
	// Delete removes the pod of an instance that is killed or out of
	// range.
	Delete Op = "Delete"
	// Recreate removes a pod whose spec changed beyond its images; it is
	// made again on the next pass (Create).
	Recreate Op = "Recreate"
	// UpdateInPlace changes the images of the pod's containers: the pod
	// keeps its name, UID, IP and volumes; only those containers restart.
	UpdateInPlace Op = "UpdateInPlace"
)

// Action is one step of a plan.
type Action struct {
	ID       int
	Op       Op
	Template string
}

// Hashes are the spec and image hashes of each template of a TApp.
type Hashes map[string][2]string

// HashTemplates computes the hashes of spec.template (DefaultTemplateName)
// and of the pool's templates.
func HashTemplates(spec *appsv1.TAppSpec) (Hashes, error) {
	out := Hashes{}
	add := func(name string, t corev1.PodTemplateSpec) error {
		sh, ih, err := hashTemplate(t)
		if err != nil {
			return fmt.Errorf("template %q: %w", name, err)
		}
		out[name] = [2]string{sh, ih}
		return nil
	}
	if err := add(appsv1.DefaultTemplateName, spec.Template); err != nil {
		return nil, err
	}
	for name, t := range spec.TemplatePool {
		if err := add(name, t.PodTemplateSpec); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// hashTemplate is the hash of t without images, and the hash of its images.
func hashTemplate(t corev1.PodTemplateSpec) (spec, images string, err error) {
	t = *t.DeepCopy()
	var imgs []string
	for _, list := range [][]corev1.Container{t.Spec.InitContainers, t.Spec.Containers} {
		for i := range list {
			imgs = append(imgs, list[i].Name+"="+list[i].Image)
			list[i].Image = ""
		}
	}
	b, err := json.Marshal(t)
	if err != nil {
		return "", "", err
	}
	ib, _ := json.Marshal(imgs)
	return short(b), short(ib), nil
}

func short(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])[:16]
}

// TemplateOf is the template an instance runs.
func TemplateOf(spec *appsv1.TAppSpec, id int) string {
	if t, ok := spec.Templates[strconv.Itoa(id)]; ok && t != "" {
		return string(t)
	}
	return appsv1.DefaultTemplateName
}

// Killed says whether instance id is to be killed.
func Killed(spec *appsv1.TAppSpec, id int) bool {
	return spec.Statuses[strconv.Itoa(id)] == appsv1.InstanceKilled
}

// maxUnavailable is the update limit of template name.
func maxUnavailable(spec *appsv1.TAppSpec, name string) int {
	u := spec.UpdateStrategy
	if u.Template != "" && u.Template != name {
		return DefaultMaxUnavailable
	}
	if u.MaxUnavailable != nil && *u.MaxUnavailable > 0 {
		return int(*u.MaxUnavailable)
	}
	return DefaultMaxUnavailable
}

// Plan is what to do now to bring the pods (by instance ID) to the spec:
// instances in 0..replicas-1 that are not killed get a pod of their
// template; killed and out-of-range instances lose theirs; a pod whose
// template changed only in images is updated in place, any other change
// recreates it. Updates and recreations of a template's instances stop
// where that template would have more than its maxUnavailable instances
// unavailable (not Ready, or being changed). Actions are in ID order.
func Plan(spec *appsv1.TAppSpec, hashes Hashes, pods map[int]Pod) []Action {
	var out []Action
	ids := make([]int, 0, len(pods))
	for id := range pods {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	// Pods to remove: killed or out of range. They do not count against
	// the update limit: the user asked for them to go.
	for _, id := range ids {
		p := pods[id]
		if (id >= int(spec.Replicas) || Killed(spec, id)) && !p.Deleting {
			out = append(out, Action{ID: id, Op: Delete, Template: p.Template})
		}
	}
	// Unavailable instances per template, before this plan.
	unavailable := map[string]int{}
	for id := 0; id < int(spec.Replicas); id++ {
		if Killed(spec, id) {
			continue
		}
		p, ok := pods[id]
		if ok && (!p.Ready || p.Deleting) && !ended(p) {
			unavailable[TemplateOf(spec, id)]++
		}
	}
	for id := 0; id < int(spec.Replicas); id++ {
		if Killed(spec, id) {
			continue
		}
		want := TemplateOf(spec, id)
		h, known := hashes[want]
		if !known {
			continue // refused by admission; nothing to make it from
		}
		p, ok := pods[id]
		switch {
		case !ok:
			out = append(out, Action{ID: id, Op: Create, Template: want})
			continue
		case p.Deleting || ended(p):
			continue
		case p.Template == want && p.SpecHash == h[0] && p.ImageHash == h[1]:
			continue
		}
		// A change: in place or by recreating, within the limit (an
		// instance already unavailable may change at no further cost).
		if p.Ready {
			if unavailable[want] >= maxUnavailable(spec, want) {
				continue
			}
			unavailable[want]++
		}
		op := Recreate
		if p.SpecHash == h[0] {
			op = UpdateInPlace
		}
		out = append(out, Action{ID: id, Op: op, Template: want})
	}
	return out
}

// ended: a pod that finished and is not restarted (batch instances).
func ended(p Pod) bool {
	return p.Phase == corev1.PodSucceeded || p.Phase == corev1.PodFailed
}
