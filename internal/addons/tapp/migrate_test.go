package tapp

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	appsv1 "github.com/kstack/kstack/addonapi/apps/v1"
)

type fixedClock struct{ t time.Time }

func (c *fixedClock) Now() time.Time                     { return c.t }
func (c *fixedClock) At(time.Time, func()) (stop func()) { return func() {} }

func newTApp(replicas int32) *appsv1.TApp {
	return &appsv1.TApp{TypeMeta: metav1.TypeMeta{APIVersion: appsv1.GroupVersion.String(), Kind: "TApp"},
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "web", UID: "u-1", Generation: 1},
		Spec: appsv1.TAppSpec{Replicas: replicas, Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "db"}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "db", Image: "postgres:16"}}}}}}
}

func TestControllerMigratesInstancesOffLostNodes(t *testing.T) {
	f := newFixture(t, newTApp(3))
	ck := &fixedClock{t: time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)}
	nodes := map[string]*corev1.Node{}
	node := func(name string, ready corev1.ConditionStatus, since time.Duration) {
		nodes[name] = &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
			{Type: corev1.NodeReady, Status: ready, Reason: "KubeletStopped", LastTransitionTime: metav1.NewTime(ck.t.Add(-since))}}}}
	}
	f.c.Clock = ck
	f.c.Nodes = func(name string) (*corev1.Node, error) {
		if n, ok := nodes[name]; ok {
			return n, nil
		}
		return nil, apierrors.NewNotFound(corev1.Resource("nodes"), name)
	}
	f.sync(t)
	f.runAll(t)
	// Instance 0 on a healthy node, 1 on a node not Ready for a while,
	// 2 on a node that is gone.
	node("a", corev1.ConditionTrue, time.Hour)
	node("b", corev1.ConditionFalse, MigrateAfter-time.Second)
	for id, n := range map[string]string{"db-0": "a", "db-1": "b", "db-2": "c"} {
		p := f.pods(t)[id]
		p.Spec.NodeName = n
		if _, err := f.cs.CoreV1().Pods("web").Update(context.Background(), &p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	before := f.pods(t)
	f.drain()

	f.sync(t)
	after := f.pods(t)
	if after["db-0"].UID != before["db-0"].UID || after["db-1"].UID != before["db-1"].UID {
		t.Fatal("an instance on a Ready node, or on one not Ready for less than MigrateAfter, was moved")
	}
	if after["db-2"].Spec.NodeName != "" {
		t.Fatalf("instance 2 is still on the node that is gone: %+v", after["db-2"].Spec.NodeName)
	}
	ev := strings.Join(f.drain(), "\n")
	if !strings.Contains(ev, "Warning Migrate Instance: db-2: node c is gone; its pod was deleted to run again on another node") ||
		!strings.Contains(ev, "SuccessfulCreate Instance: db-2") {
		t.Fatalf("events:\n%s", ev)
	}

	// Node b has now been not Ready for MigrateAfter.
	ck.t = ck.t.Add(time.Second)
	f.sync(t)
	after = f.pods(t)
	if after["db-1"].Spec.NodeName != "" || after["db-0"].Spec.NodeName != "a" {
		t.Fatalf("instance 1 not migrated, or instance 0 moved: %q %q", after["db-1"].Spec.NodeName, after["db-0"].Spec.NodeName)
	}
	if ev := strings.Join(f.drain(), "\n"); !strings.Contains(ev, "Instance: db-1: node b has not been Ready for 5m0s (KubeletStopped)") {
		t.Fatalf("events:\n%s", ev)
	}

	// A finished batch pod on a lost node keeps its result.
	p := after["db-0"]
	p.Status.Phase = corev1.PodSucceeded
	if _, err := f.cs.CoreV1().Pods("web").UpdateStatus(context.Background(), &p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	delete(nodes, "a")
	f.sync(t)
	if got := f.pods(t)["db-0"]; got.UID != p.UID {
		t.Fatal("a finished pod on a lost node was deleted")
	}
}

func TestControllerMakesEachInstanceItsClaims(t *testing.T) {
	tapp := newTApp(2)
	tapp.Spec.Template.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		{Name: "conf", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	tapp.Spec.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "data", Labels: map[string]string{"tier": "db"}},
		Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}}
	f := newFixture(t, tapp)
	// A claim left by an earlier instance 1 is its again, as it was.
	kept := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data-db-1", Namespace: "web", UID: "kept"}}
	if _, err := f.cs.CoreV1().PersistentVolumeClaims("web").Create(context.Background(), kept, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.sync(t)
	for id, want := range map[string]string{"0": "data-db-0", "1": "data-db-1"} {
		pvc, err := f.cs.CoreV1().PersistentVolumeClaims("web").Get(context.Background(), want, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if id == "0" && (pvc.Labels["tier"] != "db" || pvc.Labels[LabelTApp] != "db" || pvc.Labels[LabelInstance] != "0" ||
			pvc.Spec.Resources.Requests.Storage().String() != "1Gi" || len(pvc.OwnerReferences) != 0) {
			t.Fatalf("claim of instance 0: %+v", pvc)
		}
		if id == "1" && pvc.UID != "kept" {
			t.Fatal("instance 1's claim was replaced")
		}
		pod := f.pods(t)["db-"+id]
		var names []string
		for _, v := range pod.Spec.Volumes {
			switch {
			case v.PersistentVolumeClaim != nil:
				names = append(names, v.Name+"=pvc:"+v.PersistentVolumeClaim.ClaimName)
			default:
				names = append(names, v.Name)
			}
		}
		if got := strings.Join(names, ","); got != "conf,data=pvc:"+want {
			t.Fatalf("pod db-%s volumes %s", id, got)
		}
	}
}
