package virtualnode

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"
)

// mover moves upper pods off a virtual node: the descheduler (pods stuck
// Pending below) and failover (a lower cluster that stopped answering).
type mover struct {
	upper    kubernetes.Interface
	lowers   []*lowerNode
	avoid    *avoidStore
	recorder record.EventRecorder
	log      *slog.Logger

	descheduleAfter time.Duration
	maxMoves        int
	failoverAfter   time.Duration
}

// StuckSince says since when a lower pod has been unschedulable, if it is.
func StuckSince(lp *corev1.Pod) (time.Time, bool) {
	if lp.Spec.NodeName != "" || lp.DeletionTimestamp != nil || lp.Status.Phase != corev1.PodPending {
		return time.Time{}, false
	}
	for _, c := range lp.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			return c.LastTransitionTime.Time, true
		}
	}
	return time.Time{}, false
}

// Backoff is how long a pod moved `moves` times may stay stuck before the
// next move: after, 2×after, 4×after, ... capped at 16×after.
func Backoff(after time.Duration, moves int) time.Duration {
	if moves > 4 {
		moves = 4
	}
	return after << moves
}

// moveCount is how often a pod (or its owner's pods) has been moved.
func (m *mover) moveCount(p *corev1.Pod) int {
	if owner := controllerUID(p); owner != "" {
		return m.avoid.moves(owner)
	}
	n, _ := strconv.Atoi(p.Annotations[AnnotationMoves])
	return n
}

func (m *mover) run(ctx context.Context) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			for _, l := range m.lowers {
				if down, since := l.down(); down {
					if m.failoverAfter > 0 && time.Since(since) >= m.failoverAfter {
						m.failover(ctx, l)
					}
					continue
				}
				if m.descheduleAfter > 0 {
					m.deschedule(ctx, l)
				}
			}
		}
	}
}

// upperPods are the pods bound to l's virtual node that may be moved.
func (m *mover) upperPods(l *lowerNode) []*corev1.Pod {
	if l.upperPods == nil {
		return nil
	}
	ps, _ := l.upperPods.List(labels.Everything())
	out := ps[:0]
	for _, p := range ps {
		// A DaemonSet's pod belongs on its node: moving it would only bring
		// it back.
		if ref := metav1.GetControllerOf(p); ref != nil && ref.Kind == "DaemonSet" {
			continue
		}
		if p.Spec.NodeName == l.nodeName && p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out
}

// deschedule moves pods that the lower scheduler cannot place (fragmentation:
// enough free in total, on no single node).
func (m *mover) deschedule(ctx context.Context, l *lowerNode) {
	for _, up := range m.upperPods(l) {
		if up.Status.Phase != corev1.PodPending {
			continue
		}
		lp, err := l.ownLowerPod(up.Namespace, up.Name)
		if err != nil {
			continue
		}
		since, stuck := StuckSince(lp)
		if !stuck {
			continue
		}
		moves := m.moveCount(up)
		if time.Since(since) < Backoff(m.descheduleAfter, moves) {
			continue
		}
		if moves >= m.maxMoves {
			if up.Annotations[prefix+"gave-up"] == "" {
				m.recorder.Eventf(up, corev1.EventTypeWarning, "NotMoved", "stuck in lower cluster %s, but moved %d times already (--max-moves)", l.cluster, moves)
				patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:"true"}}}`, prefix+"gave-up")
				_, _ = m.upper.CoreV1().Pods(up.Namespace).Patch(ctx, up.Name, "application/merge-patch+json", []byte(patch), metav1.PatchOptions{})
			}
			continue
		}
		m.move(ctx, up, l, fmt.Sprintf("unschedulable in lower cluster %s for %s", l.cluster, time.Since(since).Round(time.Second)))
	}
}

// failover moves every pod off the virtual node of a lower cluster that has
// not answered for --failover-after.
func (m *mover) failover(ctx context.Context, l *lowerNode) {
	for _, up := range m.upperPods(l) {
		if up.Status.Phase == corev1.PodSucceeded || up.Status.Phase == corev1.PodFailed {
			continue
		}
		m.move(ctx, up, l, fmt.Sprintf("lower cluster %s has not answered for %s", l.cluster, m.failoverAfter))
	}
}

// move takes a pod off l's virtual node. A pod with a controller is deleted
// and its owner's replacement is kept off the node by the webhook; a bare pod
// is re-created here, unbound, with the node excluded. Either way the pod's
// scheduling annotation, labels and spec are kept.
func (m *mover) move(ctx context.Context, up *corev1.Pod, l *lowerNode, why string) {
	zero := int64(0)
	del := metav1.DeleteOptions{GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &up.UID}}
	if owner := controllerUID(up); owner != "" {
		moves := m.avoid.add(owner, l.nodeName)
		m.recorder.Eventf(up, corev1.EventTypeNormal, "Moved", "%s: deleted so that its %s makes a new one elsewhere (move %d)", why, metav1.GetControllerOf(up).Kind, moves)
		if err := m.upper.CoreV1().Pods(up.Namespace).Delete(ctx, up.Name, del); err != nil && !apierrors.IsNotFound(err) {
			m.log.Warn("moving a pod", "pod", up.Namespace+"/"+up.Name, "err", err)
			return
		}
		m.log.Info("pod moved off virtual node", "pod", up.Namespace+"/"+up.Name, "node", l.nodeName, "why", why)
		return
	}
	repl := Replacement(up, l.nodeName)
	m.recorder.Eventf(up, corev1.EventTypeNormal, "Moved", "%s: re-created unbound, kept off %s", why, l.nodeName)
	if err := m.upper.CoreV1().Pods(up.Namespace).Delete(ctx, up.Name, del); err != nil && !apierrors.IsNotFound(err) {
		m.log.Warn("moving a pod", "pod", up.Namespace+"/"+up.Name, "err", err)
		return
	}
	// The name is free once the old pod is gone (grace 0: at once).
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := m.upper.CoreV1().Pods(repl.Namespace).Create(ctx, repl, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return false, nil
		}
		return err == nil, err
	})
	if err != nil {
		m.log.Error("re-creating a moved pod failed; its spec follows so it can be re-created by hand", "pod", up.Namespace+"/"+up.Name, "err", err, "node", l.nodeName)
		return
	}
	m.log.Info("pod moved off virtual node", "pod", up.Namespace+"/"+up.Name, "node", l.nodeName, "why", why)
}

// Replacement is a bare pod re-created unbound and kept off node, with its
// move count raised. Everything else the user wrote is kept, including the
// scheduling annotation (tensile-kube's descheduler dropped it on a second
// move).
func Replacement(up *corev1.Pod, node string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
		Name: up.Name, Namespace: up.Namespace, Labels: up.Labels, Annotations: map[string]string{},
	}}
	for k, v := range up.Annotations {
		p.Annotations[k] = v
	}
	n, _ := strconv.Atoi(up.Annotations[AnnotationMoves])
	p.Annotations[AnnotationMoves] = strconv.Itoa(n + 1)
	p.Spec = *up.Spec.DeepCopy()
	p.Spec.NodeName = ""
	addRequired(p, []corev1.NodeSelectorRequirement{{Key: hostnameKey, Operator: corev1.NodeSelectorOpNotIn, Values: []string{node}}})
	return p
}

// collectGarbage deletes lower pods whose upper pod is gone or was replaced
// (a lower cluster that comes back after failover, a crash between steps).
// A pod must look orphaned twice in a row, so that one just created is not
// taken for an orphan.
func collectGarbage(ctx context.Context, l *lowerNode, every time.Duration) {
	suspects := map[string]bool{}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if down, _ := l.down(); down {
			continue
		}
		ps, _ := l.GetPods(ctx)
		next := map[string]bool{}
		for _, lp := range ps {
			if lp.DeletionTimestamp != nil || l.upperFor(lp) != nil {
				continue
			}
			key := string(lp.UID)
			if !suspects[key] {
				next[key] = true
				continue
			}
			zero := int64(0)
			err := l.client.CoreV1().Pods(lp.Namespace).Delete(ctx, lp.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &lp.UID}})
			if err == nil {
				l.log.Info("deleted a lower pod whose upper pod is gone", "pod", lp.Namespace+"/"+lp.Name)
			}
		}
		suspects = next
	}
}
