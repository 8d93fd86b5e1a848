package tapp

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	appsv1 "github.com/kstack/kstack/addonapi/apps/v1"
)

// MigrateAfter is how long a node may be not Ready before the TApp pods on
// it are deleted to run again on another node. It is Kubernetes' default
// eviction time (300 s), so that a node that is only slow to report is not
// taken for dead: if it still runs the pod, the instance runs twice for a
// while (docs/tapp.md).
const MigrateAfter = 5 * time.Minute

// lostNode says why pod p's node is lost ("" if it is not): the node is
// gone, or has not been Ready for MigrateAfter.
func (c *Controller) lostNode(p *corev1.Pod) string {
	if c.Nodes == nil || p.Spec.NodeName == "" {
		return ""
	}
	n, err := c.Nodes(p.Spec.NodeName)
	if apierrors.IsNotFound(err) {
		return "node " + p.Spec.NodeName + " is gone"
	}
	if err != nil {
		return ""
	}
	for _, cond := range n.Status.Conditions {
		if cond.Type != corev1.NodeReady || cond.Status == corev1.ConditionTrue {
			continue
		}
		if since := c.now().Sub(cond.LastTransitionTime.Time); since >= MigrateAfter {
			return fmt.Sprintf("node %s has not been Ready for %s (%s)", n.Name, since.Round(time.Second), cond.Reason)
		}
	}
	return ""
}

// migrate deletes, at once (grace period 0), the pods of t on lost nodes, so
// that their instances are created again and scheduled elsewhere: the
// kubelet of a lost node cannot confirm a graceful deletion, and a pod of a
// fixed name would wait for it forever. A finished batch pod keeps its
// result. It returns the instances whose pods it deleted.
func (c *Controller) migrate(ctx context.Context, t *appsv1.TApp, u *unstructured.Unstructured, byID map[int]*corev1.Pod) ([]int, error) {
	var gone []int
	for id, p := range byID {
		if ended(podOf(p)) {
			continue
		}
		why := c.lostNode(p)
		if why == "" {
			continue
		}
		opts := metav1.DeleteOptions{GracePeriodSeconds: new(int64), Preconditions: &metav1.Preconditions{UID: &p.UID}}
		if err := c.Client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, opts); err != nil && !apierrors.IsNotFound(err) {
			return gone, fmt.Errorf("instance %s on a lost node: %w", p.Name, err)
		}
		c.Log.Info("migrating a TApp instance off a lost node", "tapp", t.Namespace+"/"+t.Name, "pod", p.Name, "why", why)
		c.Recorder.Eventf(u, corev1.EventTypeWarning, "Migrate", "Instance: %s: %s; its pod was deleted to run again on another node", p.Name, why)
		gone = append(gone, id)
	}
	return gone, nil
}
