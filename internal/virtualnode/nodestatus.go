package virtualnode

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

// Health of the lower cluster is probed here, not by virtual-kubelet's Ping:
// the virtual node's process is alive and keeps its Lease, while a dead lower
// cluster shows as Ready=False with a reason that names it.
const (
	probeInterval    = 2 * time.Second
	probeTimeout     = 2 * time.Second
	failureThreshold = 3
)

// Ping: the node's process is alive (virtual-kubelet then renews the Lease).
func (l *lowerNode) Ping(context.Context) error { return nil }

// NotifyNodeStatus registers virtual-kubelet's callback for status changes.
func (l *lowerNode) NotifyNodeStatus(_ context.Context, cb func(*corev1.Node)) {
	l.mu.Lock()
	l.notifyNode = cb
	l.mu.Unlock()
}

// initialNode is the node registered at start.
func (l *lowerNode) initialNode(opts *Options, port int32, kubeletVersion string) corev1.Node {
	n := corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: l.nodeName,
			Labels: map[string]string{
				LabelType: TypeVirtual, "kubernetes.io/role": "agent", "kubernetes.io/hostname": l.nodeName,
				"kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", LabelLowerCluster: l.cluster,
			},
		},
		Status: corev1.NodeStatus{
			Addresses: []corev1.NodeAddress{
				{Type: corev1.NodeInternalIP, Address: opts.NodeIP},
				{Type: corev1.NodeHostName, Address: l.nodeName},
			},
			DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: port}},
			NodeInfo: corev1.NodeSystemInfo{
				KubeletVersion: kubeletVersion, OperatingSystem: "linux", Architecture: "amd64",
				OSImage:                 "kstack virtual node for lower cluster " + l.cluster,
				ContainerRuntimeVersion: "kstack-virtual-node://" + l.cluster,
			},
		},
	}
	if opts.Taint {
		n.Spec.Taints = []corev1.Taint{{Key: TaintKey, Value: "kstack", Effect: corev1.TaintEffectNoSchedule}}
	}
	l.applyStatus(&n, time.Now())
	return n
}

// applyStatus sets capacity, slice labels and conditions from the caches.
func (l *lowerNode) applyStatus(n *corev1.Node, now time.Time) {
	nodes, _ := l.nodes.List(labels.Everything())
	pods, _ := l.pods.List(labels.Everything())
	c := ComputeCapacity(nodes, pods, l.ours)
	n.Status.Capacity = c.Allocatable
	n.Status.Allocatable = c.Allocatable
	if n.Labels == nil {
		n.Labels = map[string]string{}
	}
	cpu := c.LargestFree[corev1.ResourceCPU]
	mem := c.LargestFree[corev1.ResourceMemory]
	podsFree := c.LargestFree[corev1.ResourcePods]
	n.Labels[LabelLargestCPU] = strconv.FormatInt(cpu.MilliValue(), 10)
	n.Labels[LabelLargestMem] = strconv.FormatInt(mem.Value()/(1<<20), 10)
	n.Labels[LabelLargestPods] = strconv.FormatInt(podsFree.Value(), 10)
	if n.Annotations == nil {
		n.Annotations = map[string]string{}
	}
	slice, _ := json.Marshal(c.LargestFree)
	n.Annotations[prefix+"largest-free"] = string(slice)
	n.Annotations[prefix+"lower-nodes"] = strconv.Itoa(c.Nodes)

	l.mu.Lock()
	healthy, since := l.healthy, l.downSince
	l.mu.Unlock()
	ready := corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "LowerClusterReady",
		Message: fmt.Sprintf("lower cluster %s answers; %d usable nodes", l.cluster, c.Nodes)}
	if !healthy {
		ready = corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionFalse, Reason: "LowerClusterUnreachable",
			Message: fmt.Sprintf("lower cluster %s has not answered since %s", l.cluster, since.UTC().Format(time.RFC3339))}
	} else if c.Nodes == 0 {
		ready = corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionFalse, Reason: "NoUsableLowerNodes",
			Message: fmt.Sprintf("lower cluster %s has no Ready, schedulable, untainted node", l.cluster)}
	}
	conds := []corev1.NodeCondition{ready}
	for _, t := range []corev1.NodeConditionType{corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure, corev1.NodeNetworkUnavailable} {
		conds = append(conds, corev1.NodeCondition{Type: t, Status: corev1.ConditionFalse, Reason: "LowerCluster"})
	}
	// Keep transition times unless the status changed.
	for i := range conds {
		conds[i].LastHeartbeatTime = metav1.NewTime(now)
		conds[i].LastTransitionTime = metav1.NewTime(now)
		for _, old := range n.Status.Conditions {
			if old.Type == conds[i].Type && old.Status == conds[i].Status && !old.LastTransitionTime.IsZero() {
				conds[i].LastTransitionTime = old.LastTransitionTime
			}
		}
	}
	n.Status.Conditions = conds
	if healthy {
		n.Status.Phase = corev1.NodeRunning
	}
}

// runStatus probes the lower cluster and pushes node status when capacity,
// slices or health change (at most once a second), and at least every 30 s.
func (l *lowerNode) runStatus(ctx context.Context) {
	probe := time.NewTicker(probeInterval)
	defer probe.Stop()
	refresh := time.NewTicker(30 * time.Second)
	defer refresh.Stop()
	limit := time.NewTicker(time.Second)
	defer limit.Stop()
	pending := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-probe.C:
			if l.probe(ctx) {
				pending = true
			}
		case <-l.dirty:
			pending = true
		case <-refresh.C:
			pending = true
		case <-limit.C:
			if pending {
				pending = false
				l.pushStatus(ctx)
			}
		}
	}
}

// probe checks the lower kube-apiserver; it returns true when health changed.
func (l *lowerNode) probe(ctx context.Context) bool {
	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	err := l.client.Discovery().RESTClient().Get().AbsPath("/readyz").Do(pctx).Error()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err == nil {
		l.failures = 0
		if !l.healthy {
			l.healthy = true
			l.log.Info("lower cluster answers again; virtual node Ready", "node", l.nodeName)
			return true
		}
		return false
	}
	l.failures++
	if l.healthy && l.failures >= failureThreshold {
		l.healthy, l.downSince = false, time.Now()
		l.log.Warn("lower cluster does not answer; virtual node NotReady", "node", l.nodeName, "err", err)
		return true
	}
	return false
}

// down says since when the lower cluster has been unreachable.
func (l *lowerNode) down() (bool, time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return !l.healthy, l.downSince
}

func (l *lowerNode) pushStatus(ctx context.Context) {
	l.mu.Lock()
	cb, n := l.notifyNode, l.node
	l.mu.Unlock()
	if cb == nil || n == nil {
		return
	}
	next := n.DeepCopy()
	l.applyStatus(next, time.Now())
	if equality.Semantic.DeepEqual(next.Labels, n.Labels) && equality.Semantic.DeepEqual(next.Status.Allocatable, n.Status.Allocatable) &&
		conditionsEqual(next.Status.Conditions, n.Status.Conditions) {
		return
	}
	l.mu.Lock()
	l.node = next
	l.mu.Unlock()
	// Labels go through a metadata patch: the slice labels are what the
	// webhook's affinity reads, and node status updates do not carry them.
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"labels": map[string]string{
		LabelLargestCPU: next.Labels[LabelLargestCPU], LabelLargestMem: next.Labels[LabelLargestMem], LabelLargestPods: next.Labels[LabelLargestPods],
	}}})
	if _, err := l.upper.CoreV1().Nodes().Patch(ctx, l.nodeName, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		l.log.Warn("updating the virtual node's slice labels", "err", err)
	}
	cb(next.DeepCopy())
}

func conditionsEqual(a, b []corev1.NodeCondition) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Type != b[i].Type || a[i].Status != b[i].Status || a[i].Reason != b[i].Reason {
			return false
		}
	}
	return true
}
