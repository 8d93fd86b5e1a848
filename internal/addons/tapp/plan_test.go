package tapp

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"

	appsv1 "github.com/kstack/kstack/addonapi/apps/v1"
)

func template(image, env string) corev1.PodTemplateSpec {
	c := corev1.Container{Name: "nginx", Image: image}
	if env != "" {
		c.Env = []corev1.EnvVar{{Name: "MODE", Value: env}}
	}
	return corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{c}}}
}

func spec(replicas int32) *appsv1.TAppSpec {
	return &appsv1.TAppSpec{Replicas: replicas, Template: template("nginx:1.7.9", ""),
		TemplatePool: map[string]appsv1.PoolTemplate{}, Templates: map[string]appsv1.TemplateName{}, Statuses: map[string]appsv1.InstanceStatus{}}
}

// running pods of the spec's templates, one per instance, all Ready.
func running(t *testing.T, s *appsv1.TAppSpec) map[int]Pod {
	t.Helper()
	h, err := HashTemplates(s)
	if err != nil {
		t.Fatal(err)
	}
	pods := map[int]Pod{}
	for id := 0; id < int(s.Replicas); id++ {
		name := TemplateOf(s, id)
		pods[id] = Pod{Template: name, SpecHash: h[name][0], ImageHash: h[name][1], Ready: true, Phase: corev1.PodRunning}
	}
	return pods
}

func plan(t *testing.T, s *appsv1.TAppSpec, pods map[int]Pod) string {
	t.Helper()
	h, err := HashTemplates(s)
	if err != nil {
		t.Fatal(err)
	}
	out := ""
	for _, a := range Plan(s, h, pods) {
		out += fmt.Sprintf("%s %d %s; ", a.Op, a.ID, a.Template)
	}
	return out
}

func TestPlan(t *testing.T) {
	i32 := func(v int32) *int32 { return &v }
	for _, tt := range []struct {
		what   string
		spec   func() *appsv1.TAppSpec
		pods   func(t *testing.T) map[int]Pod
		want   string
		before func(s *appsv1.TAppSpec)
	}{
		{what: "a new TApp of 3: one pod per instance", spec: func() *appsv1.TAppSpec { return spec(3) },
			pods: func(*testing.T) map[int]Pod { return nil },
			want: "Create 0 default; Create 1 default; Create 2 default; "},
		{what: "in step: nothing to do", spec: func() *appsv1.TAppSpec { return spec(3) },
			want: ""},
		{what: "kill instance 1", spec: func() *appsv1.TAppSpec { return spec(3) },
			before: func(s *appsv1.TAppSpec) { s.Statuses["1"] = appsv1.InstanceKilled },
			want:   "Delete 1 default; "},
		{what: "scale from 3 to 2", spec: func() *appsv1.TAppSpec { return spec(3) },
			before: func(s *appsv1.TAppSpec) { s.Replicas = 2 },
			want:   "Delete 2 default; "},
		{what: "scale from 3 to 5: new IDs", spec: func() *appsv1.TAppSpec { return spec(3) },
			before: func(s *appsv1.TAppSpec) { s.Replicas = 5 },
			want:   "Create 3 default; Create 4 default; "},
		{what: "an image change: in place, one at a time by default", spec: func() *appsv1.TAppSpec { return spec(3) },
			before: func(s *appsv1.TAppSpec) { s.Template = template("nginx:latest", "") },
			want:   "UpdateInPlace 0 default; "},
		{what: "an image change with maxUnavailable 2", spec: func() *appsv1.TAppSpec { return spec(3) },
			before: func(s *appsv1.TAppSpec) {
				s.Template = template("nginx:latest", "")
				s.UpdateStrategy.MaxUnavailable = i32(2)
			},
			want: "UpdateInPlace 0 default; UpdateInPlace 1 default; "},
		{what: "any other change recreates", spec: func() *appsv1.TAppSpec { return spec(3) },
			before: func(s *appsv1.TAppSpec) {
				s.Template = template("nginx:1.7.9", "fast")
				s.UpdateStrategy.MaxUnavailable = i32(3)
			},
			want: "Recreate 0 default; Recreate 1 default; Recreate 2 default; "},
		{what: "instance 1 to another template of other images only: gray release in place", spec: func() *appsv1.TAppSpec { return spec(3) },
			before: func(s *appsv1.TAppSpec) {
				s.TemplatePool["test"] = appsv1.PoolTemplate{PodTemplateSpec: template("nginx:latest", "")}
				s.Templates["1"] = "test"
			},
			want: "UpdateInPlace 1 test; "},
		{what: "the limit applies to the strategy's template only", spec: func() *appsv1.TAppSpec { return spec(4) },
			before: func(s *appsv1.TAppSpec) {
				s.TemplatePool["test"] = appsv1.PoolTemplate{PodTemplateSpec: template("nginx:latest", "")}
				s.Templates["0"], s.Templates["1"], s.Templates["2"] = "test", "test", "test"
				s.UpdateStrategy = appsv1.TAppUpdateStrategy{Template: "test", MaxUnavailable: i32(2)}
			},
			want: "UpdateInPlace 0 test; UpdateInPlace 1 test; "},
	} {
		t.Run(tt.what, func(t *testing.T) {
			s := tt.spec()
			var pods map[int]Pod
			if tt.pods != nil {
				pods = tt.pods(t)
			} else {
				pods = running(t, s)
			}
			if tt.before != nil {
				tt.before(s)
			}
			if got := plan(t, s, pods); got != tt.want {
				t.Fatalf("plan: %q, want %q", got, tt.want)
			}
		})
	}
}

// An update goes on as instances become Ready again, never beyond the limit.
func TestPlanRollsOnUnderTheLimit(t *testing.T) {
	s := spec(3)
	pods := running(t, s)
	s.Template = template("nginx:latest", "")
	h, _ := HashTemplates(s)
	// Instance 0 is being updated (not Ready yet): nothing else moves.
	p := pods[0]
	p.ImageHash, p.Ready = h[appsv1.DefaultTemplateName][1], false
	pods[0] = p
	if got := plan(t, s, pods); got != "" {
		t.Fatalf("while 0 is not Ready: %q", got)
	}
	// 0 is Ready: 1 goes.
	p.Ready = true
	pods[0] = p
	if got := plan(t, s, pods); got != "UpdateInPlace 1 default; " {
		t.Fatalf("after 0: %q", got)
	}
	// An instance that is unavailable anyway changes at no further cost.
	q := pods[2]
	q.Ready = false
	pods[2] = q
	if got := plan(t, s, pods); got != "UpdateInPlace 2 default; " {
		t.Fatalf("with 2 not Ready: %q", got)
	}
}

// Batch instances that ended are left as they are; killed ones restored.
func TestPlanBatchAndRestore(t *testing.T) {
	s := spec(2)
	pods := running(t, s)
	p := pods[0]
	p.Phase, p.Ready = corev1.PodSucceeded, false
	pods[0] = p
	delete(pods, 1) // killed earlier, now restored (no status)
	if got := plan(t, s, pods); got != "Create 1 default; " {
		t.Fatalf("plan: %q", got)
	}
}
