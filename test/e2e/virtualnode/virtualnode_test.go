package virtualnode_test

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kstack/kstack/internal/virtualnode"
	"github.com/kstack/kstack/test/e2e/framework"
)

// env is one upper and two lower real local clusters (kube-apiserver,
// controller-manager, scheduler, kwok nodes) and a kstack virtual-node
// process joining them.
type env struct {
	k                    *framework.Kstack
	upKC, eastKC, westKC string
	up, east, west       kubernetes.Interface
	vk                   *framework.Proc
	vkArgs               []string
}

func clientFor(t *testing.T, kc string) kubernetes.Interface {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kc)
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 100, 200
	return kubernetes.NewForConfigOrDie(cfg)
}

func (e *env) lower(name string) kubernetes.Interface {
	if name == "east" {
		return e.east
	}
	return e.west
}

func (e *env) startVK(t *testing.T) {
	t.Helper()
	e.vk = e.k.Start(e.vkArgs...)
	e.vk.WaitOutput(t, "virtual nodes ready", 3*time.Minute)
}

var ctx = context.Background()

func requests(cpu string) corev1.ResourceRequirements {
	return corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse("64Mi")}}
}

func virtualOnly() map[string]string {
	return map[string]string{virtualnode.LabelType: virtualnode.TypeVirtual}
}

func deployment(ns, name string, replicas int32, spec corev1.PodSpec) *appsv1.Deployment {
	lbl := map[string]string{"app": name}
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: lbl},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: lbl}, Spec: spec}}}
}

func container(cpu string) []corev1.Container {
	return []corev1.Container{{Name: "app", Image: "nginx", Resources: requests(cpu)}}
}

func mustCreateNS(t *testing.T, cs kubernetes.Interface, name string, lbl map[string]string) {
	t.Helper()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: lbl}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The namespace's default ServiceAccount comes from the controller-manager.
	framework.Eventually(t, time.Minute, "service account default in "+name, func() error {
		_, err := cs.CoreV1().ServiceAccounts(name).Get(ctx, "default", metav1.GetOptions{})
		return err
	})
}

func pods(t *testing.T, cs kubernetes.Interface, ns, selector string) []corev1.Pod {
	t.Helper()
	l, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	return l.Items
}

// placement counts Running upper pods per node; err unless want pods run.
func placement(cs kubernetes.Interface, ns, selector string, want int) (map[string]int, error) {
	l, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, err
	}
	by := map[string]int{}
	running := 0
	for _, p := range l.Items {
		if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
			running++
			by[p.Spec.NodeName]++
		}
	}
	if running != want || len(l.Items) != want {
		return by, fmt.Errorf("%d of %d pods Running (%d exist): %v", running, want, len(l.Items), by)
	}
	return by, nil
}

// lowerPods are the pods a virtual node placed in a lower cluster.
func lowerPods(cs kubernetes.Interface, ns, node string) ([]corev1.Pod, error) {
	l, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: virtualnode.LabelNode + "=" + node})
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}

// nodeLabel reads a number from a node's label; a missing or malformed
// label is an error, not zero.
func nodeLabel(cs kubernetes.Interface, node, key string) (int64, error) {
	n, err := cs.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		return 0, err
	}
	raw, ok := n.Labels[key]
	if !ok {
		return 0, fmt.Errorf("node %s has no label %s", node, key)
	}
	v, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("node %s label %s: %w", node, key, err)
	}
	return v, nil
}

// noStuckCopy waits until the lower copy of a moved pod is gone (or going).
func noStuckCopy(t *testing.T, cs kubernetes.Interface, ns, name string) {
	t.Helper()
	framework.Eventually(t, 30*time.Second, "the stuck copy of "+name+" removed below", func() error {
		lp, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) || err == nil && lp.DeletionTimestamp != nil {
			return nil
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("still there, on %q", lp.Spec.NodeName)
	})
}

// hog fills a lower node with a pod of the lower cluster's own, so that
// exactly `free` CPU stays free on it.
func hog(t *testing.T, cs kubernetes.Interface, ns, node string, free int64) {
	t.Helper()
	l, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + node})
	if err != nil {
		t.Fatal(err)
	}
	used := resource.MustParse("0")
	for _, p := range l.Items {
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		for _, c := range p.Spec.Containers {
			used.Add(*c.Resources.Requests.Cpu())
		}
	}
	cpu := resource.NewMilliQuantity(16000-used.MilliValue()-free*1000, resource.DecimalSI)
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "hog-" + node, Namespace: ns, Labels: map[string]string{"role": "hog"}},
		Spec: corev1.PodSpec{NodeName: node, Containers: container(cpu.String())}}
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestVirtualNodes(t *testing.T) {
	k := framework.New(t)
	e := &env{k: k}
	e.upKC = k.CreateCluster("upper", 0)
	e.eastKC = k.CreateCluster("east", 2)
	e.westKC = k.CreateCluster("west", 2)
	e.up, e.east, e.west = clientFor(t, e.upKC), clientFor(t, e.eastKC), clientFor(t, e.westKC)

	t.Run("bad arguments", func(t *testing.T) {
		msg := k.MustFail("virtual-node", "--upper", e.upKC)
		if !strings.Contains(msg, "--upper and at least one --lower are required") {
			t.Errorf("no --lower: %s", msg)
		}
		msg = k.MustFail("virtual-node", "--upper", e.upKC, "--lower", "/no/such/kubeconfig")
		if !strings.Contains(msg, "neither a kubeconfig file nor a platform cluster ID") {
			t.Errorf("missing file: %s", msg)
		}
		msg = k.MustFail("virtual-node", "--upper", e.upKC, "--lower", "a="+e.eastKC, "--lower", "a="+e.westKC)
		if !strings.Contains(msg, `two lower clusters are both named "a"`) {
			t.Errorf("duplicate names: %s", msg)
		}
		msg = k.MustFail("virtual-node", "--upper", e.upKC, "--lower", "Bad_Name="+e.eastKC)
		if !strings.Contains(msg, "cannot name a node") {
			t.Errorf("bad name: %s", msg)
		}
		msg = k.MustFail("virtual-node", "--upper", e.upKC, "--lower", e.eastKC, "--max-moves", "-1")
		if !strings.Contains(msg, "may not be negative") {
			t.Errorf("negative: %s", msg)
		}
	})

	e.vkArgs = []string{"virtual-node", "--upper", e.upKC, "--lower", e.eastKC, "--lower", e.westKC,
		"--webhook", "--deschedule-after", "5s", "--failover-after", "20s"}
	e.startVK(t)

	t.Run("virtual nodes", func(t *testing.T) {
		framework.Eventually(t, time.Minute, "vk-east and vk-west Ready", func() error {
			for _, name := range []string{"vk-east", "vk-west"} {
				n, err := e.up.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					return err
				}
				if !nodeReady(n) {
					return fmt.Errorf("%s not Ready: %+v", name, n.Status.Conditions)
				}
				// The controller-manager's not-ready taint of a new node goes
				// once it has seen the node Ready; no taint of our own (no --taint).
				if len(n.Spec.Taints) != 0 {
					return fmt.Errorf("%s has taints %v", name, n.Spec.Taints)
				}
			}
			return nil
		})
		n, err := e.up.CoreV1().Nodes().Get(ctx, "vk-east", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// Two simulated nodes of 16 CPU / 64Gi: allocatable, summed.
		if n.Status.Allocatable.Cpu().String() != "32" || n.Status.Allocatable.Memory().String() != "128Gi" {
			t.Errorf("vk-east allocatable = %v", n.Status.Allocatable)
		}
		if n.Labels[virtualnode.LabelLowerCluster] != "east" || n.Labels[virtualnode.LabelLargestCPU] != "16000" {
			t.Errorf("vk-east labels %v", n.Labels)
		}
		lease, err := e.up.CoordinationV1().Leases("kube-node-lease").Get(ctx, "vk-east", metav1.GetOptions{})
		if err != nil || lease.Spec.RenewTime == nil {
			t.Errorf("vk-east has no heartbeat Lease: %v", err)
		}
	})

	t.Run("deployment spread over both clusters", func(t *testing.T) {
		mustCreateNS(t, e.up, "spread", nil)
		// Honor: a virtual node that is NotReady (tainted) is no domain to
		// balance against, so that failover may put every pod on the other.
		honor := corev1.NodeInclusionPolicyHonor
		spec := corev1.PodSpec{NodeSelector: virtualOnly(), Containers: container("100m"),
			TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: virtualnode.LabelLowerCluster,
				WhenUnsatisfiable: corev1.DoNotSchedule, NodeTaintsPolicy: &honor,
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}}}
		if _, err := e.up.AppsV1().Deployments("spread").Create(ctx, deployment("spread", "web", 20, spec), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		var by map[string]int
		framework.Eventually(t, 3*time.Minute, "20 pods Running upstream", func() (err error) {
			by, err = placement(e.up, "spread", "app=web", 20)
			return err
		})
		if by["vk-east"] != 10 || by["vk-west"] != 10 {
			t.Errorf("placement %v, want 10 and 10 (topology spread over lower clusters)", by)
		}
		// Every upper pod has its Running copy below, and reports its IP.
		for _, lower := range []string{"east", "west"} {
			lp, err := lowerPods(e.lower(lower), "spread", "vk-"+lower)
			if err != nil {
				t.Fatal(err)
			}
			if len(lp) != 10 {
				t.Errorf("%d pods in %s, want 10", len(lp), lower)
			}
			for _, p := range lp {
				if p.Status.Phase != corev1.PodRunning || !strings.HasPrefix(p.Spec.NodeName, lower+"-node-") {
					t.Errorf("lower pod %s: %s on %q", p.Name, p.Status.Phase, p.Spec.NodeName)
				}
				upp, err := e.up.CoreV1().Pods("spread").Get(ctx, p.Name, metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if upp.Status.PodIP == "" || upp.Status.PodIP != p.Status.PodIP || string(upp.UID) != p.Annotations[virtualnode.AnnotationUpperUID] {
					t.Errorf("upper pod %s: ip %q uid %s; lower ip %q for uid %s", upp.Name, upp.Status.PodIP, upp.UID, p.Status.PodIP, p.Annotations[virtualnode.AnnotationUpperUID])
				}
			}
		}
		// No double counting: our own pods do not shrink the virtual node.
		n, err := e.up.CoreV1().Nodes().Get(ctx, "vk-east", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if n.Status.Allocatable.Cpu().String() != "32" {
			t.Errorf("vk-east allocatable cpu = %s after placing pods, want 32 (the upper scheduler counts them)", n.Status.Allocatable.Cpu())
		}
	})

	t.Run("logs exec and port-forward through the upper cluster", func(t *testing.T) {
		p := pods(t, e.up, "spread", "app=web")[0]
		// The simulated container's log file is written just after the pod
		// runs, as a kubelet's is: wait for its first lines.
		framework.Eventually(t, time.Minute, "the pod's logs through the upper cluster", func() error {
			logs, err := k.Kubectl(e.upKC, "-n", "spread", "logs", p.Name, "--tail", "2")
			if err != nil {
				return err
			}
			if !strings.Contains(logs, "kstack simulated container") {
				return fmt.Errorf("logs %q", logs)
			}
			return nil
		})
		out := k.MustKubectl(e.upKC, "-n", "spread", "exec", p.Name, "--", "sh", "-c", "echo exec-ok")
		if strings.TrimSpace(out) != "exec-ok" {
			t.Errorf("exec through the upper cluster: %q", out)
		}
		// head, not cat: kwok's simulated exec does not pass on the end of stdin.
		r := k.RunStdin("piped stdin\n", "kubectl", "--kubeconfig", e.upKC, "-n", "spread", "exec", "-i", p.Name, "--", "head", "-n1")
		if r.Err != nil || r.Stdout != "piped stdin\n" {
			t.Errorf("exec -i: %q %v %s", r.Stdout, r.Err, r.Stderr)
		}
		addr := framework.FreeAddr(t)
		port := addr[strings.LastIndex(addr, ":")+1:]
		pf := k.Start("kubectl", "--kubeconfig", e.upKC, "-n", "spread", "port-forward", p.Name, port+":80")
		pf.WaitOutput(t, "Forwarding from", time.Minute)
		framework.WaitHTTP(t, "http://127.0.0.1:"+port+"/", "Hello from a kstack simulated pod", 30*time.Second)
		pf.Stop()
	})

	t.Run("config maps and secrets carried and kept in step", func(t *testing.T) {
		mustCreateNS(t, e.up, "cfg", nil)
		if _, err := e.up.CoreV1().ConfigMaps("cfg").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "app-config"}, Data: map[string]string{"greeting": "v1"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.up.CoreV1().Secrets("cfg").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "db"}, StringData: map[string]string{"password": "s3cret"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		c := container("100m")
		c[0].Env = []corev1.EnvVar{
			{Name: "GREETING", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "app-config"}, Key: "greeting"}}},
			{Name: "PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "password"}}},
		}
		c[0].VolumeMounts = []corev1.VolumeMount{{Name: "cfg", MountPath: "/cfg"}}
		spec := corev1.PodSpec{NodeSelector: virtualOnly(), Containers: c,
			Volumes: []corev1.Volume{{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "app-config"}}}}}}
		if _, err := e.up.AppsV1().Deployments("cfg").Create(ctx, deployment("cfg", "reader", 2, spec), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		var by map[string]int
		framework.Eventually(t, 2*time.Minute, "readers Running", func() (err error) {
			by, err = placement(e.up, "cfg", "app=reader", 2)
			return err
		})
		for node := range by {
			lower := e.lower(strings.TrimPrefix(node, "vk-"))
			lp, err := lowerPods(lower, "cfg", node)
			if err != nil {
				t.Fatal(err)
			}
			if len(lp) == 0 {
				t.Fatalf("no pod below %s", node)
			}
			// Env stays a reference: it resolves in the lower cluster, from the copy.
			if ref := lp[0].Spec.Containers[0].Env[0].ValueFrom; ref == nil || ref.ConfigMapKeyRef == nil || lp[0].Spec.Containers[0].Env[0].Value != "" {
				t.Errorf("env below must stay a ConfigMap reference: %+v", lp[0].Spec.Containers[0].Env[0])
			}
			for _, v := range lp[0].Spec.Volumes {
				if v.Projected != nil && strings.HasPrefix(v.Name, "kube-api-access-") {
					for _, s := range v.Projected.Sources {
						if s.ServiceAccountToken != nil && s.ServiceAccountToken.Path != "token" {
							t.Errorf("unexpected token source %+v", s)
						}
					}
				}
			}
			s, err := lower.CoreV1().Secrets("cfg").Get(ctx, "db", metav1.GetOptions{})
			if err != nil || string(s.Data["password"]) != "s3cret" || s.Labels[virtualnode.LabelCopy] != "true" {
				t.Errorf("secret copy in %s: %v %v", node, err, s)
			}
			if _, err := lower.CoreV1().ServiceAccounts("cfg").Get(ctx, "default", metav1.GetOptions{}); err != nil {
				t.Errorf("service account below %s: %v", node, err)
			}
			framework.Eventually(t, 30*time.Second, "config map copy v1 in "+node, func() error { return cmData(lower, "v1") })
		}
		if _, err := e.up.CoreV1().ConfigMaps("cfg").Patch(ctx, "app-config", "application/merge-patch+json", []byte(`{"data":{"greeting":"v2"}}`), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.up.CoreV1().Secrets("cfg").Patch(ctx, "db", "application/merge-patch+json", []byte(`{"stringData":{"password":"rotated"}}`), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		for node := range by {
			lower := e.lower(strings.TrimPrefix(node, "vk-"))
			framework.Eventually(t, 30*time.Second, "config map update reaches "+node, func() error { return cmData(lower, "v2") })
			framework.Eventually(t, 30*time.Second, "secret update reaches "+node, func() error {
				s, err := lower.CoreV1().Secrets("cfg").Get(ctx, "db", metav1.GetOptions{})
				if err != nil {
					return err
				}
				if string(s.Data["password"]) != "rotated" {
					return fmt.Errorf("password still old")
				}
				return nil
			})
		}
	})

	t.Run("claims carried and pod updates propagated", func(t *testing.T) {
		pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "cfg"}, Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}
		if _, err := e.up.CoreV1().PersistentVolumeClaims("cfg").Create(ctx, pvc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		c := container("10m")
		c[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "writer", Namespace: "cfg", Labels: map[string]string{"app": "writer", "version": "1"}},
			Spec: corev1.PodSpec{NodeSelector: virtualOnly(), Containers: c, Volumes: []corev1.Volume{{Name: "data",
				VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}}}}}
		if _, err := e.up.CoreV1().Pods("cfg").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		var node string
		framework.Eventually(t, 2*time.Minute, "writer Running", func() error {
			by, err := placement(e.up, "cfg", "app=writer", 1)
			for n := range by {
				node = n
			}
			return err
		})
		lower := e.lower(strings.TrimPrefix(node, "vk-"))
		framework.Eventually(t, time.Minute, "claim copied and bound below", func() error {
			c, err := lower.CoreV1().PersistentVolumeClaims("cfg").Get(ctx, "data", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if c.Status.Phase != corev1.ClaimBound || c.Labels[virtualnode.LabelCopy] != "true" {
				return fmt.Errorf("claim below: %s, labels %v", c.Status.Phase, c.Labels)
			}
			return nil
		})
		// Labels and images are mutable: they reach the lower pod in place.
		patch := `{"metadata":{"labels":{"version":"2"}},"spec":{"containers":[{"name":"app","image":"nginx:1.27"}]}}`
		if _, err := e.up.CoreV1().Pods("cfg").Patch(ctx, "writer", "application/strategic-merge-patch+json", []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		before, err := lower.CoreV1().Pods("cfg").Get(ctx, "writer", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		framework.Eventually(t, time.Minute, "the update reaches the lower pod", func() error {
			lp, err := lower.CoreV1().Pods("cfg").Get(ctx, "writer", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if lp.Labels["version"] != "2" || lp.Spec.Containers[0].Image != "nginx:1.27" {
				return fmt.Errorf("lower pod: version %q image %q", lp.Labels["version"], lp.Spec.Containers[0].Image)
			}
			if lp.UID != before.UID {
				return fmt.Errorf("the lower pod was re-created instead of updated")
			}
			return nil
		})
		// Deleting the upper pod deletes the lower one, with its grace period
		// (kwok waits it out, as a container would).
		grace := int64(2)
		if err := e.up.CoreV1().Pods("cfg").Delete(ctx, "writer", metav1.DeleteOptions{GracePeriodSeconds: &grace}); err != nil {
			t.Fatal(err)
		}
		framework.Eventually(t, time.Minute, "lower pod deleted", func() error {
			if _, err := lower.CoreV1().Pods("cfg").Get(ctx, "writer", metav1.GetOptions{}); err == nil {
				return fmt.Errorf("still there")
			}
			if _, err := e.up.CoreV1().Pods("cfg").Get(ctx, "writer", metav1.GetOptions{}); err == nil {
				return fmt.Errorf("upper pod still there")
			}
			return nil
		})
	})

	t.Run("a job bigger than either cluster runs across both", func(t *testing.T) {
		mustCreateNS(t, e.up, "batch", nil)
		// 8 pods of 6 CPU: 48 CPU, more than either lower cluster's 32, less
		// than their 64 together (2 fit on each 16-CPU node). Spread evenly,
		// as a job that needs all its pods at once would be.
		n := int32(8)
		job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "crunch", Namespace: "batch"}, Spec: batchv1.JobSpec{
			Parallelism: &n, Completions: &n,
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "crunch"}}, Spec: corev1.PodSpec{
				NodeSelector: virtualOnly(), RestartPolicy: corev1.RestartPolicyNever, Containers: container("6"),
				TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: virtualnode.LabelLowerCluster,
					WhenUnsatisfiable: corev1.DoNotSchedule, LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "crunch"}}}},
			}}}}
		if _, err := e.up.BatchV1().Jobs("batch").Create(ctx, job, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		nodes := map[string]bool{}
		framework.Eventually(t, 3*time.Minute, "job complete", func() error {
			for _, p := range pods(t, e.up, "batch", "job-name=crunch") {
				nodes[p.Spec.NodeName] = true
			}
			j, err := e.up.BatchV1().Jobs("batch").Get(ctx, "crunch", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if j.Status.Succeeded != 8 {
				return fmt.Errorf("%d of 8 succeeded", j.Status.Succeeded)
			}
			return nil
		})
		if !nodes["vk-east"] || !nodes["vk-west"] {
			t.Errorf("job pods ran on %v, want both virtual nodes", nodes)
		}
	})

	t.Run("fragmentation avoided by the webhook", func(t *testing.T) {
		// east: 4 CPU free on each node (8 in total); a 6-CPU pod fits the
		// total but no single node.
		mustCreateNS(t, e.east, "hogs", nil)
		hog(t, e.east, "hogs", "east-node-1", 4)
		hog(t, e.east, "hogs", "east-node-2", 4)
		framework.Eventually(t, time.Minute, "vk-east's slice label shows the hogs", func() error {
			v, err := nodeLabel(e.up, "vk-east", virtualnode.LabelLargestCPU)
			if err != nil {
				return err
			}
			if v >= 6000 {
				return fmt.Errorf("largest free cpu %d", v)
			}
			return nil
		})
		mustCreateNS(t, e.up, "frag", map[string]string{virtualnode.LabelWebhook: "enabled"})
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "big", Namespace: "frag"}, Spec: corev1.PodSpec{
			NodeSelector: map[string]string{"disk": "any"}, // meant for the lower cluster: the webhook moves it
			Affinity:     preferNode("vk-east"),
			Containers:   container("6")}}
		if _, err := e.west.CoreV1().Nodes().Patch(ctx, "west-node-1", "application/merge-patch+json", []byte(`{"metadata":{"labels":{"disk":"any"}}}`), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.up.CoreV1().Pods("frag").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		framework.Eventually(t, 2*time.Minute, "big Running", func() error { _, err := placement(e.up, "frag", "", 1); return err })
		got, err := e.up.CoreV1().Pods("frag").Get(ctx, "big", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got.Spec.NodeName != "vk-west" || got.Annotations[virtualnode.AnnotationMoves] != "" {
			t.Errorf("big on %s (moves %q), want vk-west at once: east has 8 CPU free but no node with 6", got.Spec.NodeName, got.Annotations[virtualnode.AnnotationMoves])
		}
		if got.Spec.NodeSelector["disk"] != "" || !strings.Contains(got.Annotations[virtualnode.AnnotationScheduling], `"disk":"any"`) {
			t.Errorf("the webhook must move nodeSelector disk into the annotation: %v %v", got.Spec.NodeSelector, got.Annotations)
		}
		// A malformed annotation is refused at creation, with the reason.
		bad := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "bad", Namespace: "frag", Annotations: map[string]string{virtualnode.AnnotationScheduling: "{not json"}},
			Spec: corev1.PodSpec{Containers: container("10m")}}
		if _, err := e.up.CoreV1().Pods("frag").Create(ctx, bad, metav1.CreateOptions{}); err == nil || !strings.Contains(err.Error(), "is not valid JSON") {
			t.Errorf("a malformed scheduling annotation: %v", err)
		}
		if _, err := e.up.CoreV1().Pods("frag").Get(ctx, "bad", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("the refused pod: %v, want NotFound", err)
		}
		lp, err := e.west.CoreV1().Pods("frag").Get(ctx, "big", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if lp.Spec.NodeName != "west-node-1" || lp.Spec.NodeSelector["disk"] != "any" {
			t.Errorf("below, the nodeSelector is restored and honoured: %+v", lp)
		}
	})

	t.Run("fragmentation repaired by the descheduler", func(t *testing.T) {
		// Three pods (3, 3 and 2 CPU) all fit vk-east's 8 CPU and its largest
		// slice of 4, but only two fit east's nodes (4 free on each): the
		// third stays Pending below, and the descheduler must move it to
		// vk-west. East's nodes take the pods (tier=batch) only once the upper
		// scheduler has bound all three to vk-east: the slice label drops as
		// soon as east places a pod, and would otherwise send a late third pod
		// to vk-west at once, with nothing for the descheduler to do.
		for _, n := range []string{"west-node-1", "west-node-2"} {
			if _, err := e.west.CoreV1().Nodes().Patch(ctx, n, "application/merge-patch+json", []byte(`{"metadata":{"labels":{"tier":"batch"}}}`), metav1.PatchOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		mustCreateNS(t, e.up, "race", map[string]string{virtualnode.LabelWebhook: "enabled"})
		created := map[string]types.UID{}
		for i, cpu := range []string{"3", "3", "2"} {
			p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p%d", i), Namespace: "race", Labels: map[string]string{"app": "race"}},
				Spec: corev1.PodSpec{NodeSelector: map[string]string{"tier": "batch"}, Affinity: preferNode("vk-east"), Containers: container(cpu)}}
			got, err := e.up.CoreV1().Pods("race").Create(ctx, p, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			created[got.Name] = got.UID
		}
		framework.Eventually(t, 30*time.Second, "all three bound to vk-east", func() error {
			for _, p := range pods(t, e.up, "race", "app=race") {
				if p.Spec.NodeName != "" && p.Spec.NodeName != "vk-east" {
					t.Fatalf("%s bound to %s before east could place anything: the race this test needs did not happen", p.Name, p.Spec.NodeName)
				}
				if p.Spec.NodeName == "" {
					return fmt.Errorf("%s not bound yet", p.Name)
				}
			}
			return nil
		})
		for _, n := range []string{"east-node-1", "east-node-2"} {
			if _, err := e.east.CoreV1().Nodes().Patch(ctx, n, "application/merge-patch+json", []byte(`{"metadata":{"labels":{"tier":"batch"}}}`), metav1.PatchOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		// Exactly one pod can be stuck below, whichever east places last.
		var moved corev1.Pod
		framework.Eventually(t, 3*time.Minute, "the stuck pod moved to vk-west and all three Running", func() error {
			by, err := placement(e.up, "race", "app=race", 3)
			var m []corev1.Pod
			for _, p := range pods(t, e.up, "race", "app=race") {
				if p.Annotations[virtualnode.AnnotationMoves] != "" {
					m = append(m, p)
				}
			}
			if err != nil || len(m) != 1 || by["vk-east"] != 2 || by["vk-west"] != 1 {
				return fmt.Errorf("placement %v (%v), %d moved; want two Running on vk-east and one moved to vk-west", by, err, len(m))
			}
			moved = m[0]
			return nil
		})
		if moved.Spec.NodeName != "vk-west" || moved.Annotations[virtualnode.AnnotationMoves] != "1" || moved.UID == created[moved.Name] {
			t.Errorf("moved pod %s: on %s, moves %q, uid %s (was %s); want re-created on vk-west, moved once", moved.Name, moved.Spec.NodeName, moved.Annotations[virtualnode.AnnotationMoves], moved.UID, created[moved.Name])
		}
		if !strings.Contains(moved.Annotations[virtualnode.AnnotationScheduling], `"tier":"batch"`) {
			t.Errorf("the move lost the pod's lower-cluster constraints: %v", moved.Annotations)
		}
		for _, p := range pods(t, e.up, "race", "app=race") {
			if p.Name != moved.Name && (p.Spec.NodeName != "vk-east" || p.UID != created[p.Name]) {
				t.Errorf("pod %s: on %s, uid %s (was %s); want left alone on vk-east", p.Name, p.Spec.NodeName, p.UID, created[p.Name])
			}
		}
		ev, err := e.up.CoreV1().Events("race").List(ctx, metav1.ListOptions{FieldSelector: "reason=Moved,involvedObject.name=" + moved.Name})
		if err != nil {
			t.Fatal(err)
		}
		if len(ev.Items) == 0 {
			t.Errorf("the move of %s left no Moved event", moved.Name)
		}
		noStuckCopy(t, e.east, "race", moved.Name)
		// A pod bound to vk-east by name bypasses the scheduler and the
		// webhook's slice: east cannot place 6 CPU, so the descheduler
		// re-creates it unbound, kept off vk-east.
		pinned := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "pinned", Namespace: "race", Labels: map[string]string{"app": "pinned"}},
			Spec: corev1.PodSpec{NodeName: "vk-east", NodeSelector: map[string]string{"tier": "batch"}, Containers: container("6")}}
		first, err := e.up.CoreV1().Pods("race").Create(ctx, pinned, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		framework.Eventually(t, 2*time.Minute, "pinned moved and Running", func() error {
			_, err := placement(e.up, "race", "app=pinned", 1)
			return err
		})
		got, err := e.up.CoreV1().Pods("race").Get(ctx, "pinned", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got.Spec.NodeName != "vk-west" || got.Annotations[virtualnode.AnnotationMoves] != "1" || got.UID == first.UID {
			t.Errorf("pinned: on %s, moves %q, uid %s (was %s); want re-created on vk-west", got.Spec.NodeName, got.Annotations[virtualnode.AnnotationMoves], got.UID, first.UID)
		}
		if !strings.Contains(got.Annotations[virtualnode.AnnotationScheduling], `"tier":"batch"`) {
			t.Errorf("the move lost the pod's lower-cluster constraints: %v", got.Annotations)
		}
		noStuckCopy(t, e.east, "race", "pinned")
		// Leave east empty of hogs for what follows.
		if err := e.east.CoreV1().Namespaces().Delete(ctx, "hogs", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a cordoned virtual node takes no new pods", func(t *testing.T) {
		k.MustKubectl(e.upKC, "cordon", "vk-west")
		mustCreateNS(t, e.up, "cordon", nil)
		if _, err := e.up.AppsV1().Deployments("cordon").Create(ctx, deployment("cordon", "c", 6, corev1.PodSpec{NodeSelector: virtualOnly(), Containers: container("10m")}), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		var by map[string]int
		framework.Eventually(t, 2*time.Minute, "6 Running", func() (err error) { by, err = placement(e.up, "cordon", "app=c", 6); return err })
		if by["vk-west"] != 0 {
			t.Errorf("placement %v: cordoned vk-west took pods", by)
		}
		k.MustKubectl(e.upKC, "uncordon", "vk-west")
		if err := e.up.CoreV1().Namespaces().Delete(ctx, "cordon", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("services reach pods in every lower cluster", func(t *testing.T) {
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "spread"}, Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(80)}}}}
		if _, err := e.up.CoreV1().Services("spread").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		upIPs := map[string]bool{}
		for _, p := range pods(t, e.up, "spread", "app=web") {
			upIPs[p.Status.PodIP] = true
		}
		for _, lower := range []string{"east", "west"} {
			cs := e.lower(lower)
			framework.Eventually(t, time.Minute, "service web and its 20 endpoints in "+lower, func() error {
				s, err := cs.CoreV1().Services("spread").Get(ctx, "web", metav1.GetOptions{})
				if err != nil {
					return err
				}
				if s.Spec.Selector != nil || len(s.Spec.Ports) != 1 {
					return fmt.Errorf("lower service has selector %v ports %v", s.Spec.Selector, s.Spec.Ports)
				}
				sl, err := cs.DiscoveryV1().EndpointSlices("spread").List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=web"})
				if err != nil {
					return err
				}
				n := 0
				for _, es := range sl.Items {
					for _, ep := range es.Endpoints {
						for _, a := range ep.Addresses {
							if !upIPs[a] {
								return fmt.Errorf("endpoint %s is no upper pod's IP", a)
							}
							n++
						}
					}
				}
				if n != 20 {
					return fmt.Errorf("%d endpoints, want 20 (the pods of both clusters)", n)
				}
				return nil
			})
		}
	})

	t.Run("restart loses and duplicates no pod", func(t *testing.T) {
		before := lowerUIDs(t, e)
		e.vk.Kill()
		// While it is down: one pod is deleted above and two are added.
		victim := pods(t, e.up, "spread", "app=web")[0]
		zero := int64(0)
		if err := e.up.CoreV1().Pods("spread").Delete(ctx, victim.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.up.AppsV1().Deployments("spread").Patch(ctx, "web", "application/merge-patch+json", []byte(`{"spec":{"replicas":22}}`), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		e.startVK(t)
		framework.Eventually(t, 2*time.Minute, "22 pods Running", func() error { _, err := placement(e.up, "spread", "app=web", 22); return err })
		framework.Eventually(t, time.Minute, "exactly one lower pod per upper pod", func() error {
			after := lowerUIDs(t, e)
			upper := pods(t, e.up, "spread", "app=web")
			if len(after) != len(upper) {
				return fmt.Errorf("%d lower pods for %d upper pods", len(after), len(upper))
			}
			for _, p := range upper {
				if _, ok := after[string(p.UID)]; !ok {
					return fmt.Errorf("upper pod %s has no lower pod", p.Name)
				}
			}
			return nil
		})
		after := lowerUIDs(t, e)
		kept := 0
		for upperUID, lowerUID := range before {
			if upperUID == string(victim.UID) {
				if _, ok := after[upperUID]; ok {
					t.Errorf("the pod deleted while the virtual node was down is still below")
				}
				continue
			}
			if after[upperUID] != lowerUID {
				t.Errorf("lower pod of %s was re-created across the restart", upperUID)
			}
			kept++
		}
		if kept != 19 {
			t.Errorf("%d lower pods kept, want 19", kept)
		}
	})

	t.Run("a stopped lower cluster fails over", func(t *testing.T) {
		k.MustRun("local", "stop", "west")
		framework.Eventually(t, time.Minute, "vk-west NotReady", func() error {
			n, err := e.up.CoreV1().Nodes().Get(ctx, "vk-west", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if nodeReady(n) {
				return fmt.Errorf("still Ready")
			}
			return nil
		})
		n, err := e.up.CoreV1().Nodes().Get(ctx, "vk-west", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var notReadyAt time.Time
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady {
				notReadyAt = c.LastTransitionTime.Time
				if c.Reason != "LowerClusterUnreachable" {
					t.Errorf("NotReady reason %q, want LowerClusterUnreachable", c.Reason)
				}
			}
		}
		if notReadyAt.IsZero() {
			t.Fatalf("vk-west has no Ready condition: %+v", n.Status.Conditions)
		}
		var by map[string]int
		framework.Eventually(t, 3*time.Minute, "all 22 pods Running on vk-east", func() (err error) {
			by, err = placement(e.up, "spread", "app=web", 22)
			if err == nil && by["vk-east"] != 22 {
				err = fmt.Errorf("placement %v", by)
			}
			return err
		})
		// The replacements were made no sooner than --failover-after (20s)
		// after the node turned NotReady (timestamps have 1s resolution).
		var first time.Time
		for _, p := range pods(t, e.up, "spread", "app=web") {
			if c := p.CreationTimestamp.Time; c.After(notReadyAt) && (first.IsZero() || c.Before(first)) {
				first = c
			}
		}
		if first.IsZero() || first.Sub(notReadyAt) < 18*time.Second {
			t.Errorf("first replacement at %s, NotReady at %s: --failover-after is 20s", first, notReadyAt)
		}
		t.Logf("pods re-created on vk-east %s after vk-west turned NotReady", first.Sub(notReadyAt))
		// When west comes back, its stale copies are removed.
		k.MustRun("local", "start", "west")
		framework.Eventually(t, 2*time.Minute, "west's stale copies removed", func() error {
			lp, err := lowerPods(e.west, "spread", "vk-west")
			if err != nil {
				return err
			}
			if len(lp) > 0 {
				return fmt.Errorf("%d stale pods in west", len(lp))
			}
			return nil
		})
	})

	t.Run("platform", func(t *testing.T) { testPlatform(t, e) })
}

// platform: the same clusters imported into a platform; virtual nodes by
// cluster ID, run by the CLI through the platform's proxy and by the
// platform itself (a VirtualNodeSet).
func testPlatform(t *testing.T, e *env) {
	k := e.k
	k.Up(3*time.Minute, "--listen", framework.FreeAddr(t))
	k.MustRun("cluster", "import", "--kubeconfig", e.upKC, "--name", "upper")
	k.MustRun("cluster", "import", "--kubeconfig", e.eastKC, "--name", "east")
	upID, eastID := k.ClusterID("upper"), k.ClusterID("east")

	runPinned := func(t *testing.T, node string) {
		t.Helper()
		framework.Eventually(t, 2*time.Minute, node+" Ready", func() error {
			n, err := e.up.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if !nodeReady(n) {
				return fmt.Errorf("not Ready")
			}
			return nil
		})
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "on-" + node, Namespace: "spread"}, Spec: corev1.PodSpec{NodeName: node, Containers: container("10m")}}
		if _, err := e.up.CoreV1().Pods("spread").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		framework.Eventually(t, time.Minute, p.Name+" Running", func() error {
			got, err := e.up.CoreV1().Pods("spread").Get(ctx, p.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if got.Status.Phase != corev1.PodRunning {
				return fmt.Errorf("phase %s", got.Status.Phase)
			}
			return nil
		})
		if lp, err := e.east.CoreV1().Pods("spread").Get(ctx, p.Name, metav1.GetOptions{}); err != nil || lp.Labels[virtualnode.LabelNode] != node {
			t.Errorf("no copy of %s in east placed by %s: %v", p.Name, node, err)
		}
		if logs := k.MustKubectl(e.upKC, "-n", "spread", "logs", p.Name, "--tail", "1"); !strings.Contains(logs, "kstack simulated container") {
			t.Errorf("logs: %q", logs)
		}
	}

	t.Run("by cluster ID through the platform's proxy", func(t *testing.T) {
		vk := k.Start("virtual-node", "--upper", upID, "--lower", eastID, "--node-prefix", "id-", "--failover-after", "0")
		vk.WaitOutput(t, "virtual nodes ready", 3*time.Minute)
		runPinned(t, "id-"+eastID)
		vk.Stop()
	})

	t.Run("run by the platform", func(t *testing.T) {
		msg := k.MustFail("virtual-node", "--in-platform", "bad", "--upper", e.upKC, "--lower", eastID)
		if !strings.Contains(msg, "--in-platform takes cluster IDs") {
			t.Errorf("kubeconfig with --in-platform: %s", msg)
		}
		k.MustRun("virtual-node", "--in-platform", "edge", "--upper", upID, "--lower", eastID, "--node-prefix", "p-")
		runPinned(t, "p-"+eastID)
		framework.Eventually(t, time.Minute, "VirtualNodeSet edge Running", func() error {
			out := k.MustRun("kubectl", "get", "virtualnodesets", "edge", "-o", "jsonpath={.status.phase} {.status.nodes}")
			if out != "Running [\"p-"+eastID+"\"]" {
				return fmt.Errorf("status %q", out)
			}
			return nil
		})
		k.MustRun("kubectl", "delete", "virtualnodeset", "edge")
		framework.Eventually(t, time.Minute, "the platform's virtual node removed", func() error {
			if _, err := e.up.CoreV1().Nodes().Get(ctx, "p-"+eastID, metav1.GetOptions{}); err == nil {
				return fmt.Errorf("p-%s still there", eastID)
			}
			return nil
		})
	})
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func preferNode(name string) *corev1.Affinity {
	return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{{
		Weight: 100, Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpIn, Values: []string{name}}}}}}}}
}

func cmData(cs kubernetes.Interface, want string) error {
	cm, err := cs.CoreV1().ConfigMaps("cfg").Get(ctx, "app-config", metav1.GetOptions{})
	if err != nil {
		return err
	}
	if cm.Data["greeting"] != want {
		return fmt.Errorf("greeting %q, want %q", cm.Data["greeting"], want)
	}
	return nil
}

// lowerUIDs maps upper pod UID to lower pod UID for the spread namespace.
func lowerUIDs(t *testing.T, e *env) map[string]string {
	t.Helper()
	out := map[string]string{}
	var dup []string
	for _, lower := range []string{"east", "west"} {
		lp, err := lowerPods(e.lower(lower), "spread", "vk-"+lower)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range lp {
			u := p.Annotations[virtualnode.AnnotationUpperUID]
			if _, ok := out[u]; ok {
				dup = append(dup, u)
			}
			out[u] = string(p.UID)
		}
	}
	sort.Strings(dup)
	if len(dup) > 0 {
		t.Errorf("upper pods with two lower copies: %v", dup)
	}
	return out
}
