package nodeops

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestParseLabels(t *testing.T) {
	set, remove, err := ParseLabels([]string{"zone=a", "old-", "example.com/tier=web"})
	if err != nil || set["zone"] != "a" || set["example.com/tier"] != "web" || len(remove) != 1 || remove[0] != "old" {
		t.Fatalf("got %v %v %v", set, remove, err)
	}
	for _, bad := range [][]string{nil, {"novalue"}, {"bad key=x"}, {"k=has space"}, {"-"}} {
		if _, _, err := ParseLabels(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestParseTaints(t *testing.T) {
	add, remove, err := ParseTaints([]string{"gpu=true:NoSchedule", "dedicated:NoExecute", "old-", "x:NoSchedule-"})
	if err != nil || len(add) != 2 || len(remove) != 2 {
		t.Fatalf("got %v %v %v", add, remove, err)
	}
	if add[0].Key != "gpu" || add[0].Value != "true" || add[0].Effect != corev1.TaintEffectNoSchedule || add[1].Value != "" {
		t.Fatalf("add %+v", add)
	}
	for _, bad := range [][]string{nil, {"gpu=true"}, {"gpu=true:Sometimes"}, {"x:Bad-"}} {
		if _, _, err := ParseTaints(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestLabelTaintCordon(t *testing.T) {
	cs := fake.NewClientset(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", Labels: map[string]string{"old": "x"}},
		Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: "gone", Effect: corev1.TaintEffectNoSchedule}, {Key: "gpu", Value: "1", Effect: corev1.TaintEffectNoSchedule}}}})
	ctx := context.Background()
	if err := Label(ctx, cs, "n1", []string{"zone=a", "old-"}); err != nil {
		t.Fatal(err)
	}
	if err := Taint(ctx, cs, "n1", []string{"gone-", "gpu=2:NoSchedule"}); err != nil {
		t.Fatal(err)
	}
	if err := Cordon(ctx, cs, "n1", true); err != nil {
		t.Fatal(err)
	}
	n, err := cs.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n.Labels["zone"] != "a" || n.Labels["old"] != "" || !n.Spec.Unschedulable {
		t.Fatalf("node %+v", n)
	}
	if len(n.Spec.Taints) != 1 || n.Spec.Taints[0].Value != "2" {
		t.Fatalf("taints %+v", n.Spec.Taints)
	}
	if err := Label(ctx, cs, "missing", []string{"a=b"}); err == nil {
		t.Fatal("labelling a missing node succeeded")
	}
}
