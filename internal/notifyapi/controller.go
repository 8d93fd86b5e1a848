package notifyapi

import (
	"context"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
// is stored, so one its channel does not name is kept this long after it
// was written (AnnotationWrittenAt) before it is taken for the Secret of
// a write that never happened, of a replaced version, or of a deleted
// channel.
const OrphanGrace = 5 * time.Minute

// Credentials deletes the credentials Secrets that their channels do not
// name: those of deleted channels, of versions replaced, and of writes
// refused after Admit.
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
	bySecret := handler.EnqueueRequestsFromMapFunc(c.secretsOf)
	return ctrl.NewControllerManagedBy(mgr).Named("notify-credentials").
		For(&corev1.Secret{}, builder.WithPredicates(labelled)).
		Watches(&notifyv1.Channel{}, bySecret).
		Complete(c)
}

// secretsOf are the credentials Secrets of channel o.
func (c *Credentials) secretsOf(ctx context.Context, o client.Object) []reconcile.Request {
	var list corev1.SecretList
	if err := c.Client.List(ctx, &list, client.InNamespace(c.SystemNamespace), client.MatchingLabels{LabelChannel: o.GetNamespace() + "." + o.GetName()}); err != nil {
		return nil
	}
	out := make([]reconcile.Request, 0, len(list.Items))
	for _, s := range list.Items {
		out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: s.Namespace, Name: s.Name}})
	}
	return out
}

// Reconcile deletes one credentials Secret if its channel does not name
// it (it is gone, or names another) and the grace has passed.
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
	if c.Reader != nil && (apierrors.IsNotFound(err) || err == nil && ch.Spec.CredentialsSecret != sec.Name) {
		// The cache may lag: the API server decides.
		err = c.Reader.Get(ctx, key, &ch)
	}
	switch {
	case err == nil && ch.Spec.CredentialsSecret == sec.Name:
		return ctrl.Result{}, nil
	case err != nil && !apierrors.IsNotFound(err):
		return ctrl.Result{}, err
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	written := sec.CreationTimestamp.Time
	if t, err := time.Parse(time.RFC3339, sec.Annotations[AnnotationWrittenAt]); err == nil {
		written = t
	}
	if age := now().Sub(written); age < OrphanGrace {
		return ctrl.Result{RequeueAfter: OrphanGrace - age}, nil
	}
	// Only the Secret looked at: not one written since under its name.
	pre := metav1.Preconditions{UID: &sec.UID, ResourceVersion: &sec.ResourceVersion}
	if err := c.Client.Delete(ctx, &sec, client.Preconditions(pre)); err != nil && !apierrors.IsNotFound(err) {
		if apierrors.IsConflict(err) {
			return ctrl.Result{Requeue: true}, nil
		}
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, nil
}
