package clustercache

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/rest"
)

func TestSlimPodKeepsWhatMetricsNeed(t *testing.T) {
	yes := true
	always := corev1.ContainerRestartPolicyAlways
	res := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")},
	}
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: "web-1", Namespace: "shop", Annotations: map[string]string{"big": strings.Repeat("x", 1000)},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-abc", UID: "u", Controller: &yes}},
			ManagedFields:   []metav1.ManagedFieldsEntry{{Manager: "kubectl"}},
		},
		Spec: corev1.PodSpec{
			NodeName:       "n1",
			Containers:     []corev1.Container{{Name: "app", Image: "nginx", Command: []string{"nginx"}, Resources: res}},
			InitContainers: []corev1.Container{{Name: "migrate", Resources: res}, {Name: "proxy", RestartPolicy: &always, Resources: res}},
		},
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning,
			Conditions: []corev1.PodCondition{
				{Type: corev1.PodScheduled, Status: corev1.ConditionTrue},
				{Type: corev1.PodReady, Status: corev1.ConditionFalse, Message: "containers not ready"},
			},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "app", RestartCount: 4, Ready: true, Image: "nginx"}},
		},
	}
	out, err := slim(p)
	if err != nil {
		t.Fatal(err)
	}
	s := out.(*corev1.Pod)
	if ref := metav1.GetControllerOf(s); ref == nil || ref.Kind != "ReplicaSet" || ref.Name != "web-abc" {
		t.Fatalf("owner lost: %+v", s.OwnerReferences)
	}
	c := s.Spec.Containers[0]
	if c.Resources.Requests.Cpu().MilliValue() != 250 || c.Resources.Limits.Memory().Value() != 1<<30 || c.Image != "" {
		t.Fatalf("container %+v", c)
	}
	if len(s.Spec.InitContainers) != 1 || s.Spec.InitContainers[0].Name != "proxy" {
		t.Fatalf("init containers %+v: only sidecars run beside the others", s.Spec.InitContainers)
	}
	if len(s.Status.Conditions) != 1 || s.Status.Conditions[0].Type != corev1.PodReady || s.Status.Conditions[0].Status != corev1.ConditionFalse {
		t.Fatalf("conditions %+v", s.Status.Conditions)
	}
	if cs := s.Status.ContainerStatuses; len(cs) != 1 || cs[0].RestartCount != 4 || !cs[0].Ready || cs[0].Image != "" {
		t.Fatalf("statuses %+v", cs)
	}
	if s.Annotations != nil || s.ManagedFields != nil {
		t.Fatal("annotations or managed fields kept")
	}

	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "n1", Annotations: map[string]string{AnnotationResourceMetricsPath: "/metrics/nodes/n1/metrics/resource", "other": "x"}},
		Status: corev1.NodeStatus{
			Capacity:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4")},
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Message: "kubelet is posting ready status"}},
			Images:     []corev1.ContainerImage{{Names: []string{"nginx"}, SizeBytes: 1}},
		},
	}
	out, _ = slim(n)
	sn := out.(*corev1.Node)
	if sn.Annotations[AnnotationResourceMetricsPath] == "" || len(sn.Annotations) != 1 || sn.Status.Images != nil ||
		sn.Status.Capacity.Cpu().Value() != 4 || sn.Status.Conditions[0].Status != corev1.ConditionTrue {
		t.Fatalf("node %+v", sn)
	}

	two := int32(2)
	out, _ = slim(&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: map[string]string{"a": "b"}}, Spec: appsv1.DeploymentSpec{Replicas: &two, Template: corev1.PodTemplateSpec{Spec: p.Spec}}, Status: appsv1.DeploymentStatus{ReadyReplicas: 1}})
	d := out.(*appsv1.Deployment)
	if *d.Spec.Replicas != 2 || d.Status.ReadyReplicas != 1 || len(d.Spec.Template.Spec.Containers) != 0 {
		t.Fatalf("deployment %+v", d)
	}
}

// TestWorkloadInformersOnDemand: the workload and quota informers start
// only when asked, fill, and their listers answer.
func TestWorkloadInformersOnDemand(t *testing.T) {
	var mu sync.Mutex
	asked := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("watch") != "" {
			if r.URL.Query().Get("sendInitialEvents") != "" {
				w.WriteHeader(http.StatusBadRequest)
				w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","code":400}`))
				return
			}
			<-r.Context().Done()
			return
		}
		mu.Lock()
		asked[r.URL.Path] = true
		mu.Unlock()
		switch r.URL.Path {
		case "/readyz":
			w.Write([]byte("ok"))
		case "/apis/apps/v1/deployments":
			w.Write([]byte(`{"kind":"DeploymentList","apiVersion":"apps/v1","metadata":{"resourceVersion":"1"},"items":[{"metadata":{"name":"web","namespace":"shop","managedFields":[{"manager":"x"}]},"spec":{"replicas":3,"template":{"spec":{"containers":[{"name":"app","image":"nginx"}]}}},"status":{"readyReplicas":2}}]}`))
		default:
			w.Write([]byte(`{"kind":"List","apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":[]}`))
		}
	}))
	defer srv.Close()
	c := New(nil)
	e, err := c.Ensure("cls-w", &rest.Config{Host: srv.URL}, "v1", "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Remove("cls-w")
	time.Sleep(300 * time.Millisecond)
	mu.Lock()
	early := asked["/apis/apps/v1/deployments"]
	mu.Unlock()
	if early {
		t.Fatal("the deployment informer ran before anyone asked for it")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if !e.WaitSynced(ctx) {
		t.Fatal("the caches did not fill")
	}
	if !e.WorkloadsSynced() {
		t.Fatal("WorkloadsSynced is false after WaitSynced")
	}
	d, err := e.Deployments().Deployments("shop").Get("web")
	if err != nil {
		t.Fatal(err)
	}
	if *d.Spec.Replicas != 3 || d.Status.ReadyReplicas != 2 || d.ManagedFields != nil || len(d.Spec.Template.Spec.Containers) != 0 {
		t.Fatalf("deployment not slimmed: %+v", d)
	}
	for _, l := range []func() error{
		func() error { _, err := e.ReplicaSets().List(labels.Everything()); return err },
		func() error { _, err := e.StatefulSets().List(labels.Everything()); return err },
		func() error { _, err := e.DaemonSets().List(labels.Everything()); return err },
		func() error { _, err := e.Jobs().List(labels.Everything()); return err },
		func() error { _, err := e.ResourceQuotas().List(labels.Everything()); return err },
	} {
		if err := l(); err != nil {
			t.Fatal(err)
		}
	}
	// Summary is unchanged by the new informers.
	if _, err := e.Summary(); err != nil {
		t.Fatal(err)
	}
}
