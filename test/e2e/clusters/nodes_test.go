package clusters

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kstack/kstack/test/e2e/framework"
)

// podsOn returns "namespace/name" of the pods on node, from the member.
func podsOn(t *testing.T, k *framework.Kstack, kc, node string) []string {
	out := k.MustKubectl(kc, "get", "pods", "-A", "--field-selector", "spec.nodeName="+node,
		"-o", `jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name}{"\n"}{end}`)
	return strings.Fields(out)
}

// nodeOperations runs the node commands against cluster id, a member of
// three nodes named after cluster (its local name) whose own kubeconfig is
// kc. It runs inside TestClusterLifecycle, on its cluster (one platform
// and member fewer); what it leaves (9 pods of spread, a DaemonSet, a
// drained node) is in no later subtest's way.
func nodeOperations(t *testing.T, k *framework.Kstack, id, kc, cluster string) {
	n1, n2, n3 := cluster+"-node-1", cluster+"-node-2", cluster+"-node-3"

	list := k.MustRun("node", "list", "--cluster", id)
	if strings.Count(list, "Ready") != 3 || !strings.Contains(list, n1) {
		t.Fatalf("node list:\n%s", list)
	}

	t.Run("cordon keeps new pods off and uncordon lets them back", func(t *testing.T) {
		k.MustRun("node", "cordon", "--cluster", id, n1)
		if u := k.MustKubectl(kc, "get", "node", n1, "-o", "jsonpath={.spec.unschedulable}"); u != "true" {
			t.Fatalf("unschedulable %q", u)
		}
		if !strings.Contains(k.MustRun("node", "list", "--cluster", id), "SchedulingDisabled") {
			t.Error("node list does not show the cordon")
		}
		k.MustKubectl(kc, "create", "deployment", "spread", "--image=nginx", "--replicas=9")
		waitRunning(t, k, kc, "app=spread", 9)
		for _, p := range podsOn(t, k, kc, n1) {
			if strings.Contains(p, "spread") {
				t.Errorf("pod %s went to the cordoned node", p)
			}
		}
		k.MustRun("node", "uncordon", "--cluster", id, n1)
		if u := k.MustKubectl(kc, "get", "node", n1, "-o", "jsonpath={.spec.unschedulable}"); u != "" && u != "false" {
			t.Fatalf("unschedulable after uncordon: %q", u)
		}
	})

	t.Run("labels and taints", func(t *testing.T) {
		k.MustRun("node", "label", "--cluster", id, n1, "zone=east", "type-")
		k.MustRun("node", "taint", "--cluster", id, n1, "gpu=true:NoSchedule")
		got := k.MustKubectl(kc, "get", "node", n1, "-o", "jsonpath={.metadata.labels.zone} {.metadata.labels.type} {.spec.taints[0].key}={.spec.taints[0].value}:{.spec.taints[0].effect}")
		if got != "east  gpu=true:NoSchedule" {
			t.Fatalf("node after label and taint: %q", got)
		}
		k.MustRun("node", "taint", "--cluster", id, n1, "gpu-")
		if taints := k.MustKubectl(kc, "get", "node", n1, "-o", "jsonpath={.spec.taints}"); taints != "" {
			t.Fatalf("taints after removal: %q", taints)
		}
		stderr := k.MustFail("node", "taint", "--cluster", id, n1, "gpu=true:Sometimes")
		if !strings.Contains(stderr, "invalid taint effect") {
			t.Fatalf("bad effect: %q", stderr)
		}
		stderr = k.MustFail("node", "label", "--cluster", id, "no-such-node", "a=b")
		if !strings.Contains(stderr, "not found") {
			t.Fatalf("missing node: %q", stderr)
		}
	})

	t.Run("drain evicts and respects PodDisruptionBudgets and DaemonSets", func(t *testing.T) {
		manifest := filepath.Join(t.TempDir(), "ds.yaml")
		if err := os.WriteFile(manifest, []byte(`apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {containers: [{name: a, image: agent}]}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: spread}
spec:
  minAvailable: 9
  selector: {matchLabels: {app: spread}}
`), 0o600); err != nil {
			t.Fatal(err)
		}
		k.MustKubectl(kc, "apply", "-f", manifest)
		waitRunning(t, k, kc, "app=agent", 3)
		framework.Eventually(t, time.Minute, "the PDB sees the pods", func() error {
			if h := k.MustKubectl(kc, "get", "pdb", "spread", "-o", "jsonpath={.status.currentHealthy}"); h != "9" {
				return fmt.Errorf("currentHealthy %q", h)
			}
			return nil
		})
		var victim string
		for _, n := range []string{n2, n3, n1} {
			for _, p := range podsOn(t, k, kc, n) {
				if strings.Contains(p, "spread") {
					victim = n
				}
			}
			if victim != "" {
				break
			}
		}
		if victim == "" {
			t.Fatal("no node runs a pod of spread")
		}
		stderr := k.MustFail("node", "drain", "--cluster", id, victim, "--timeout", "8s")
		if !strings.Contains(stderr, "PodDisruptionBudget") {
			t.Fatalf("drain blocked by the budget said %q", stderr)
		}
		if u := k.MustKubectl(kc, "get", "node", victim, "-o", "jsonpath={.spec.unschedulable}"); u != "true" {
			t.Fatal("the node is not cordoned after a blocked drain")
		}
		k.MustKubectl(kc, "delete", "pdb", "spread")
		k.MustRun("node", "drain", "--cluster", id, victim, "--timeout", "2m")
		framework.Eventually(t, time.Minute, "only DaemonSet pods left on "+victim, func() error {
			for _, p := range podsOn(t, k, kc, victim) {
				if !strings.Contains(p, "agent") {
					return fmt.Errorf("pod %s still there", p)
				}
			}
			return nil
		})
		if pods := podsOn(t, k, kc, victim); len(pods) != 1 {
			t.Fatalf("want the DaemonSet pod to stay, got %v", pods)
		}
		waitRunning(t, k, kc, "app=spread", 9)
	})
}

func waitRunning(t *testing.T, k *framework.Kstack, kc, selector string, want int) {
	t.Helper()
	framework.Eventually(t, 2*time.Minute, fmt.Sprintf("%d pods %s Running", want, selector), func() error {
		out, err := k.Kubectl(kc, "get", "pods", "-l", selector, "-o", "jsonpath={.items[*].status.phase}")
		if err != nil {
			return err
		}
		if n := strings.Count(out, "Running"); n != want || len(strings.Fields(out)) != want {
			return fmt.Errorf("phases %q", out)
		}
		return nil
	})
}
