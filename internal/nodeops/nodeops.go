// Package nodeops are the node operations of the platform: cordon,
// uncordon, drain (evictions that respect PodDisruptionBudgets, DaemonSet
// pods left alone), labels and taints. They work on any client; the CLI
// gives them one that goes through the platform's proxy.
package nodeops

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"k8s.io/kubectl/pkg/drain"
)

// Cordon marks a node (un)schedulable.
func Cordon(ctx context.Context, cs kubernetes.Interface, node string, unschedulable bool) error {
	return update(ctx, cs, node, func(n *corev1.Node) error {
		n.Spec.Unschedulable = unschedulable
		return nil
	})
}

// DrainOptions tune a drain.
type DrainOptions struct {
	Timeout            time.Duration
	DeleteEmptyDirData bool
	// Force also deletes pods that no controller manages.
	Force bool
	Out   io.Writer
}

// Drain cordons a node and evicts its pods (not DaemonSet pods). Evictions
// honour PodDisruptionBudgets: a budget that does not allow the eviction
// makes the drain wait, and fail when Timeout passes.
func Drain(ctx context.Context, cs kubernetes.Interface, node string, o DrainOptions) error {
	n, err := cs.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("node %s: %w", node, err)
	}
	out := o.Out
	if out == nil {
		out = io.Discard
	}
	h := &drain.Helper{
		Ctx: ctx, Client: cs, Force: o.Force, GracePeriodSeconds: -1, IgnoreAllDaemonSets: true,
		Timeout: o.Timeout, DeleteEmptyDirData: o.DeleteEmptyDirData, Out: out, ErrOut: out,
		EvictErrorRetryDelay: time.Second,
		OnPodDeletedOrEvicted: func(p *corev1.Pod, _ bool) {
			fmt.Fprintf(out, "evicted pod %s/%s\n", p.Namespace, p.Name)
		},
	}
	if err := drain.RunCordonOrUncordon(h, n, true); err != nil {
		return fmt.Errorf("cordoning %s: %w", node, err)
	}
	if err := drain.RunNodeDrain(h, node); err != nil {
		if strings.Contains(err.Error(), "disruption budget") || strings.Contains(err.Error(), "global timeout") {
			return fmt.Errorf("draining %s: %w (a PodDisruptionBudget does not allow the evictions; the node stays cordoned)", node, err)
		}
		return fmt.Errorf("draining %s: %w", node, err)
	}
	return nil
}

// Label applies changes "key=value" (set) and "key-" (remove).
func Label(ctx context.Context, cs kubernetes.Interface, node string, changes []string) error {
	set, remove, err := ParseLabels(changes)
	if err != nil {
		return err
	}
	return update(ctx, cs, node, func(n *corev1.Node) error {
		if n.Labels == nil {
			n.Labels = map[string]string{}
		}
		for k, v := range set {
			n.Labels[k] = v
		}
		for _, k := range remove {
			delete(n.Labels, k)
		}
		return nil
	})
}

// ParseLabels reads "key=value" and "key-" arguments.
func ParseLabels(changes []string) (map[string]string, []string, error) {
	set := map[string]string{}
	var remove []string
	if len(changes) == 0 {
		return nil, nil, fmt.Errorf("no label change given: use key=value to set, key- to remove")
	}
	for _, c := range changes {
		if k, ok := strings.CutSuffix(c, "-"); ok && !strings.Contains(c, "=") {
			if err := checkKey(k); err != nil {
				return nil, nil, err
			}
			remove = append(remove, k)
			continue
		}
		k, v, ok := strings.Cut(c, "=")
		if !ok {
			return nil, nil, fmt.Errorf("invalid label change %q: use key=value to set, key- to remove", c)
		}
		if err := checkKey(k); err != nil {
			return nil, nil, err
		}
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			return nil, nil, fmt.Errorf("invalid label value %q: %s", v, strings.Join(errs, "; "))
		}
		set[k] = v
	}
	return set, remove, nil
}

func checkKey(k string) error {
	if errs := validation.IsQualifiedName(k); len(errs) > 0 {
		return fmt.Errorf("invalid key %q: %s", k, strings.Join(errs, "; "))
	}
	return nil
}

// Taint applies changes "key=value:Effect" or "key:Effect" (add or replace)
// and "key-" or "key:Effect-" (remove).
func Taint(ctx context.Context, cs kubernetes.Interface, node string, changes []string) error {
	add, remove, err := ParseTaints(changes)
	if err != nil {
		return err
	}
	return update(ctx, cs, node, func(n *corev1.Node) error {
		var kept []corev1.Taint
		for _, t := range n.Spec.Taints {
			drop := false
			for _, r := range remove {
				if r.Key == t.Key && (r.Effect == "" || r.Effect == t.Effect) {
					drop = true
				}
			}
			for _, a := range add {
				if a.Key == t.Key && a.Effect == t.Effect {
					drop = true // replaced below
				}
			}
			if !drop {
				kept = append(kept, t)
			}
		}
		n.Spec.Taints = append(kept, add...)
		return nil
	})
}

// ParseTaints reads taint changes.
func ParseTaints(changes []string) (add, remove []corev1.Taint, err error) {
	if len(changes) == 0 {
		return nil, nil, fmt.Errorf("no taint change given: use key=value:Effect to add, key- or key:Effect- to remove")
	}
	for _, c := range changes {
		if spec, ok := strings.CutSuffix(c, "-"); ok {
			k, eff, _ := strings.Cut(spec, ":")
			if err := checkKey(k); err != nil {
				return nil, nil, err
			}
			if eff != "" {
				if err := checkEffect(eff); err != nil {
					return nil, nil, err
				}
			}
			remove = append(remove, corev1.Taint{Key: k, Effect: corev1.TaintEffect(eff)})
			continue
		}
		kv, eff, ok := strings.Cut(c, ":")
		if !ok {
			return nil, nil, fmt.Errorf("invalid taint %q: use key=value:Effect (Effect is NoSchedule, PreferNoSchedule or NoExecute)", c)
		}
		if err := checkEffect(eff); err != nil {
			return nil, nil, err
		}
		k, v, _ := strings.Cut(kv, "=")
		if err := checkKey(k); err != nil {
			return nil, nil, err
		}
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			return nil, nil, fmt.Errorf("invalid taint value %q: %s", v, strings.Join(errs, "; "))
		}
		add = append(add, corev1.Taint{Key: k, Value: v, Effect: corev1.TaintEffect(eff)})
	}
	return add, remove, nil
}

func checkEffect(e string) error {
	switch corev1.TaintEffect(e) {
	case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
		return nil
	}
	return fmt.Errorf("invalid taint effect %q: use NoSchedule, PreferNoSchedule or NoExecute", e)
}

func update(ctx context.Context, cs kubernetes.Interface, node string, change func(*corev1.Node) error) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		n, err := cs.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("node %s: %w", node, err)
		}
		if err := change(n); err != nil {
			return err
		}
		_, err = cs.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{})
		return err
	})
}
