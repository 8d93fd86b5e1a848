// Package virtualnodeset runs, inside the platform, the virtual nodes that
// VirtualNodeSets ask for: each lower member cluster becomes one node of the
// upper member, reached with the platform's own credentials.
package virtualnodeset

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1 "github.com/kstack/kstack/api/auth/v1"
	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/clustercache"
	"github.com/kstack/kstack/internal/virtualnode"
)

// checkEvery is how often a running set is looked at (a failed run restarts).
const checkEvery = 15 * time.Second

// Reconciler runs one virtualnode.Run per VirtualNodeSet. It runs only in
// the platform's leader (controller-runtime's leader election), so one
// process serves each set.
type Reconciler struct {
	Client client.Client
	Cache  *clustercache.Cache
	NodeIP string
	Log    *slog.Logger

	mu      sync.Mutex
	running map[string]*run
}

type run struct {
	generation int64
	upper      *rest.Config
	cancel     context.CancelFunc
	done       chan struct{}
	err        error
	nodes      []string
	ready      bool
}

// SetupWithManager registers the reconciler.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.running = map[string]*run{}
	return ctrl.NewControllerManagedBy(mgr).Named("virtualnodeset").For(&platformv1.VirtualNodeSet{}).Complete(r)
}

// Reconcile starts, restarts or stops the set's virtual nodes.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var vns platformv1.VirtualNodeSet
	err := r.Client.Get(ctx, req.NamespacedName, &vns)
	if apierrors.IsNotFound(err) || (err == nil && vns.DeletionTimestamp != nil) {
		r.stop(ctx, req.Name, true)
		return ctrl.Result{}, nil
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	r.mu.Lock()
	cur := r.running[req.Name]
	r.mu.Unlock()
	if cur != nil && cur.generation == vns.Generation {
		select {
		case <-cur.done:
			r.stop(ctx, req.Name, false)
			return ctrl.Result{RequeueAfter: checkEvery}, r.setStatus(ctx, &vns, "Failed", nil, fmt.Sprintf("the virtual nodes stopped: %v; restarting", cur.err))
		default:
		}
		r.mu.Lock()
		ready, nodes := cur.ready, cur.nodes
		r.mu.Unlock()
		if ready {
			return ctrl.Result{RequeueAfter: checkEvery}, r.setStatus(ctx, &vns, "Running", nodes, "")
		}
		return ctrl.Result{RequeueAfter: time.Second}, nil
	}
	r.stop(ctx, req.Name, false) // a changed spec: start over
	opts, err := r.options(ctx, &vns)
	if err != nil {
		return ctrl.Result{RequeueAfter: checkEvery}, r.setStatus(ctx, &vns, "Pending", nil, err.Error())
	}
	rctx, cancel := context.WithCancel(context.Background())
	cur = &run{generation: vns.Generation, upper: opts.Upper, cancel: cancel, done: make(chan struct{})}
	opts.Ready = func(nodes []string) {
		r.mu.Lock()
		cur.ready, cur.nodes = true, nodes
		r.mu.Unlock()
	}
	go func() {
		err := virtualnode.Run(rctx, opts)
		if err == nil && rctx.Err() == nil {
			err = errors.New("ended")
		}
		cur.err = err
		close(cur.done)
	}()
	r.mu.Lock()
	r.running[req.Name] = cur
	r.mu.Unlock()
	r.Log.Info("virtual nodes starting", "set", vns.Name, "upper", vns.Spec.Upper, "lowers", vns.Spec.Lowers)
	return ctrl.Result{RequeueAfter: time.Second}, r.setStatus(ctx, &vns, "Pending", nil, "starting")
}

func (r *Reconciler) options(ctx context.Context, vns *platformv1.VirtualNodeSet) (virtualnode.Options, error) {
	tenant := vns.Labels[authv1.LabelTenant]
	if tenant == "" {
		tenant = vns.Spec.TenantID
	}
	// A set may only join clusters of its own tenant: the nodes act with the
	// platform's credentials in every cluster they name. Checked for all
	// before any is used.
	for i, id := range append([]string{vns.Spec.Upper}, vns.Spec.Lowers...) {
		if i > 0 && id == vns.Spec.Upper {
			return virtualnode.Options{}, fmt.Errorf("cluster %s cannot be its own lower cluster", id)
		}
		var c platformv1.Cluster
		if err := r.Client.Get(ctx, client.ObjectKey{Name: id}, &c); err != nil {
			return virtualnode.Options{}, fmt.Errorf("cluster %s: %w", id, err)
		}
		if c.Spec.TenantID != tenant {
			return virtualnode.Options{}, fmt.Errorf("cluster %s belongs to another tenant than this set (%s)", id, tenant)
		}
	}
	cfg := func(id string) (*rest.Config, error) {
		e, ok := r.Cache.Get(id)
		if !ok || !e.Health().Healthy {
			return nil, fmt.Errorf("cluster %s is not connected and healthy (see `kstack cluster get %s`)", id, id)
		}
		return e.Config, nil
	}
	o := virtualnode.Options{NodePrefix: vns.Spec.NodePrefix, NodeIP: r.NodeIP, Taint: vns.Spec.Taint, Webhook: vns.Spec.Webhook,
		DescheduleAfter: vns.Spec.DescheduleAfter.Duration, MaxMoves: vns.Spec.MaxMoves, FailoverAfter: vns.Spec.FailoverAfter.Duration,
		Log: r.Log.With("set", vns.Name)}
	var err error
	if o.Upper, err = cfg(vns.Spec.Upper); err != nil {
		return o, err
	}
	for _, id := range vns.Spec.Lowers {
		c, err := cfg(id)
		if err != nil {
			return o, err
		}
		o.Lowers = append(o.Lowers, virtualnode.Lower{Name: id, Config: c})
	}
	return o, nil
}

// stop ends a set's virtual nodes; with removeNodes the nodes leave the
// upper cluster too (the set was deleted), and their pods with them.
func (r *Reconciler) stop(ctx context.Context, name string, removeNodes bool) {
	r.mu.Lock()
	cur := r.running[name]
	delete(r.running, name)
	r.mu.Unlock()
	if cur == nil {
		return
	}
	cur.cancel()
	<-cur.done
	if !removeNodes {
		return
	}
	cs, err := kubernetes.NewForConfig(cur.upper)
	if err != nil {
		return
	}
	for _, n := range cur.nodes {
		if err := cs.CoreV1().Nodes().Delete(ctx, n, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			r.Log.Warn("removing a virtual node", "node", n, "err", err)
		}
	}
	r.Log.Info("virtual nodes stopped and removed", "set", name, "nodes", cur.nodes)
}

func (r *Reconciler) setStatus(ctx context.Context, vns *platformv1.VirtualNodeSet, phase string, nodes []string, msg string) error {
	if vns.Status.Phase == phase && vns.Status.Message == msg && vns.Status.ObservedGeneration == vns.Generation && fmt.Sprint(vns.Status.Nodes) == fmt.Sprint(nodes) {
		return nil
	}
	vns.Status = platformv1.VirtualNodeSetStatus{Phase: phase, Nodes: nodes, Message: msg, ObservedGeneration: vns.Generation}
	return client.IgnoreNotFound(r.Client.Status().Update(ctx, vns))
}
