package tapp

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	k8sfake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"

	appsv1 "github.com/kstack/kstack/addonapi/apps/v1"
)

type fixture struct {
	c      *Controller
	cs     *k8sfake.Clientset
	dyn    *dynamicfake.FakeDynamicClient
	events *record.FakeRecorder
	tapp   *appsv1.TApp
}

func newFixture(t *testing.T, tapp *appsv1.TApp) *fixture {
	t.Helper()
	u := toU(t, tapp)
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{GVR: "TAppList"}, u)
	cs := k8sfake.NewClientset()
	ev := record.NewFakeRecorder(100)
	return &fixture{c: &Controller{Client: cs, Dynamic: dyn, Recorder: ev, Log: slog.Default()}, cs: cs, dyn: dyn, events: ev, tapp: tapp}
}

func toU(t *testing.T, tapp *appsv1.TApp) *unstructured.Unstructured {
	t.Helper()
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(tapp)
	if err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: m}
}

// sync runs one sync of the fixture's TApp as it is now.
func (f *fixture) sync(t *testing.T) {
	t.Helper()
	if err := f.c.Sync(context.Background(), toU(t, f.tapp)); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) pods(t *testing.T) map[string]corev1.Pod {
	t.Helper()
	l, err := f.cs.CoreV1().Pods("web").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]corev1.Pod{}
	for _, p := range l.Items {
		out[p.Name] = p
	}
	return out
}

// runAll makes every pod Running and Ready, as a kubelet would.
func (f *fixture) runAll(t *testing.T) {
	t.Helper()
	for _, p := range f.pods(t) {
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		if _, err := f.cs.CoreV1().Pods("web").UpdateStatus(context.Background(), &p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

func (f *fixture) drain() []string {
	var out []string
	for len(f.events.Events) > 0 {
		out = append(out, <-f.events.Events)
	}
	return out
}

func TestControllerCreatesUpdatesInPlaceAndKills(t *testing.T) {
	tapp := &appsv1.TApp{TypeMeta: metav1.TypeMeta{APIVersion: appsv1.GroupVersion.String(), Kind: "TApp"},
		ObjectMeta: metav1.ObjectMeta{Name: "example-tapp", Namespace: "web", UID: "u-1", Generation: 1},
		Spec: appsv1.TAppSpec{Replicas: 3, Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "example-tapp"}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "nginx", Image: "nginx:1.7.9"}}}}}}
	f := newFixture(t, tapp)
	f.sync(t)
	pods := f.pods(t)
	if len(pods) != 3 {
		t.Fatalf("%d pods, want 3", len(pods))
	}
	p0 := pods["example-tapp-0"]
	if p0.Labels["app"] != "example-tapp" || p0.Labels[LabelInstance] != "0" || p0.Labels[LabelTemplate] != "default" || !metav1.IsControlledBy(&p0, tapp) {
		t.Fatalf("pod 0: labels %v owners %v", p0.Labels, p0.OwnerReferences)
	}
	if ev := strings.Join(f.drain(), "\n"); strings.Count(ev, "SuccessfulCreate Instance: example-tapp-") != 3 {
		t.Fatalf("events:\n%s", ev)
	}

	// The image of instance 1 only: a template of the pool that differs in
	// its image, and instance 1 on it.
	f.runAll(t)
	tapp.Spec.TemplatePool = map[string]appsv1.PoolTemplate{"test": {PodTemplateSpec: *tapp.Spec.Template.DeepCopy()}}
	tapp.Spec.TemplatePool["test"].Spec.Containers[0].Image = "nginx:latest"
	tapp.Spec.Templates = map[string]appsv1.TemplateName{"1": "test"}
	f.sync(t)
	pods = f.pods(t)
	p1 := pods["example-tapp-1"]
	if p1.Spec.Containers[0].Image != "nginx:latest" || p1.Labels[LabelTemplate] != "test" {
		t.Fatalf("pod 1 after the in-place update: image %s, template %s", p1.Spec.Containers[0].Image, p1.Labels[LabelTemplate])
	}
	if pods["example-tapp-0"].Spec.Containers[0].Image != "nginx:1.7.9" || pods["example-tapp-2"].Spec.Containers[0].Image != "nginx:1.7.9" {
		t.Fatal("instances 0 and 2 were changed too")
	}
	if ev := strings.Join(f.drain(), "\n"); !strings.Contains(ev, "SuccessfulUpdate Instance: example-tapp-1") {
		t.Fatalf("events:\n%s", ev)
	}

	// Kill instance 2.
	tapp.Spec.Statuses = map[string]appsv1.InstanceStatus{"2": appsv1.InstanceKilled}
	f.sync(t)
	if _, ok := f.pods(t)["example-tapp-2"]; ok {
		t.Fatal("instance 2 was not killed")
	}
	// The status the next sync writes: 1 updating (its pod's image hash
	// changed but it restarts), 2 killed.
	f.sync(t)
	got, err := f.dyn.Resource(GVR).Namespace("web").Get(context.Background(), "example-tapp", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var st appsv1.TApp
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(got.Object, &st); err != nil {
		t.Fatal(err)
	}
	if st.Status.Statuses["2"] != appsv1.InstanceKilled || st.Status.Statuses["0"] != appsv1.InstanceRunning || st.Status.ScaleLabelSelector != "app=example-tapp" {
		t.Fatalf("status %+v", st.Status)
	}
}
