package notifyapi

import (
	"context"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	notifyv1 "github.com/kstack/kstack/api/notify/v1"
)

// OrphanGrace: a credentials Secret is written by Admit before its channel
// is stored, so one without a channel is kept this long before it is
// taken for the Secret of a deleted channel.
const OrphanGrace = 5 * time.Minute

// Credentials deletes the credentials Secrets of channels that are gone.
type Credentials struct {
	Client          client.Client
	Reader          client.Reader
	SystemNamespace string
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// SetupWithManager watches the credentials Secrets and the channels.
func (c *Credentials) SetupWithManager(mgr ctrl.Manager) error {
	labelled := predicate.NewPredicateFuncs(func(o client.Object) bool {
		_, ok := o.GetLabels()[LabelChannel]
		return ok && o.GetNamespace() == c.SystemNamespace
	})
	bySecret := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: c.SystemNamespace, Name: secretName(o.GetNamespace(), o.GetName())}}}
	})
	return ctrl.NewControllerManagedBy(mgr).Named("notify-credentials").
		For(&corev1.Secret{}, builder.WithPredicates(labelled)).
		Watches(&notifyv1.Channel{}, bySecret).
		Complete(c)
}

// Reconcile deletes one credentials Secret if its channel is gone (and
// the grace has passed).
func (c *Credentials) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var sec corev1.Secret
	if err := c.Client.Get(ctx, req.NamespacedName, &sec); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	owner, ok := sec.Labels[LabelChannel]
	if !ok || sec.Namespace != c.SystemNamespace {
		return ctrl.Result{}, nil
	}
	// Namespaces hold no dot: the first one ends the namespace.
	ns, name, _ := strings.Cut(owner, ".")
	key := client.ObjectKey{Namespace: ns, Name: name}
	var ch notifyv1.Channel
	err := c.Client.Get(ctx, key, &ch)
	if apierrors.IsNotFound(err) && c.Reader != nil {
		err = c.Reader.Get(ctx, key, &ch)
	}
	switch {
	case err == nil:
		return ctrl.Result{}, nil
	case !apierrors.IsNotFound(err):
		return ctrl.Result{}, err
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	if age := now().Sub(sec.CreationTimestamp.Time); age < OrphanGrace {
		return ctrl.Result{RequeueAfter: OrphanGrace - age}, nil
	}
	if err := c.Client.Delete(ctx, &sec); err != nil && !apierrors.IsNotFound(err) {
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, nil
}
