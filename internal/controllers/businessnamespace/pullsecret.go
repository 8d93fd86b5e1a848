package businessnamespace

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	businessv1 "github.com/kstack/kstack/api/business/v1"
)

// PullSecretName is the image pull secret for the platform's registry in
// every business namespace of a member.
const PullSecretName = "kstack-registry"

// The platform Secrets that hold projects' pull credentials carry these
// labels (registryauth.PullCredentials keeps them; its tests check that
// the values agree).
const (
	LabelManagedBy          = "app.kubernetes.io/managed-by"
	PullCredentialManagedBy = "registry-pull-credentials"
)

func (r *Reconciler) pullSecrets() bool { return r.RegistryHost != "" && r.PullCredential != nil }

func isPullCredential(o client.Object) bool {
	l := o.GetLabels()
	return l[LabelManagedBy] == PullCredentialManagedBy && l[businessv1.LabelProject] != ""
}

// namespacesOfCredential enqueues the business Namespaces of the project
// whose credential changed (they live in the namespace named after it).
func (r *Reconciler) namespacesOfCredential(ctx context.Context, o client.Object) []reconcile.Request {
	var l businessv1.NamespaceList
	if err := r.Client.List(ctx, &l, client.InNamespace(o.GetLabels()[businessv1.LabelProject])); err != nil {
		return nil // the resync catches up
	}
	out := make([]reconcile.Request, 0, len(l.Items))
	for _, ns := range l.Items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&ns)})
	}
	return out
}

// waitingError is a pull secret not written yet for a reason that passes
// by itself (the credential or the default ServiceAccount not made yet).
type waitingError struct{ msg string }

func (e *waitingError) Error() string { return e.msg }

func isWaiting(err error) bool {
	var w *waitingError
	return errors.As(err, &w)
}

type dockerAuth struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Auth     string `json:"auth"`
}

type dockerConfig struct {
	Auths map[string]dockerAuth `json:"auths"`
}

// DockerConfig is the .dockerconfigjson of a credential for host.
func DockerConfig(host, username, password string) []byte {
	b, _ := json.Marshal(dockerConfig{Auths: map[string]dockerAuth{host: {
		Username: username, Password: password, Auth: base64.StdEncoding.EncodeToString([]byte(username + ":" + password))}}})
	return b
}

// ensurePullSecret writes the project's pull credential into the member
// namespace as Secret kstack-registry, and makes the default
// ServiceAccount use it (keeping the pull secrets it has).
func (r *Reconciler) ensurePullSecret(ctx context.Context, cs kubernetes.Interface, ns *businessv1.Namespace) error {
	project, name := ns.Spec.ProjectName, ns.Spec.Namespace
	user, pw, err := r.PullCredential(ctx, project)
	if err != nil {
		ctrl.LoggerFrom(ctx).V(1).Info("the registry pull credential is not readable yet", "project", project, "err", err.Error())
		return &waitingError{fmt.Sprintf("waiting for the registry pull credential of project %s", project)}
	}
	want := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: PullSecretName, Namespace: name,
			Labels: map[string]string{businessv1.LabelProject: project, LabelManagedBy: "kstack"}},
		Type: corev1.SecretTypeDockerConfigJson,
		Data: map[string][]byte{corev1.DockerConfigJsonKey: DockerConfig(r.RegistryHost, user, pw)},
	}
	secrets := cs.CoreV1().Secrets(name)
	cur, err := secrets.Get(ctx, PullSecretName, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		if _, err := secrets.Create(ctx, want, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("writing the registry pull secret %s into %s/%s: %w", PullSecretName, ns.Spec.ClusterName, name, err)
		}
	case err != nil:
		return fmt.Errorf("reading the registry pull secret %s in %s/%s: %w", PullSecretName, ns.Spec.ClusterName, name, err)
	case cur.Type != want.Type:
		// A Secret's type cannot change: replace it.
		if err := secrets.Delete(ctx, PullSecretName, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("replacing Secret %s in %s/%s, which is not an image pull secret: %w", PullSecretName, ns.Spec.ClusterName, name, err)
		}
		return &waitingError{"replacing the registry pull secret"}
	case !bytes.Equal(cur.Data[corev1.DockerConfigJsonKey], want.Data[corev1.DockerConfigJsonKey]) || cur.Labels[businessv1.LabelProject] != project:
		cur.Data, cur.Labels = want.Data, want.Labels
		if _, err := secrets.Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
			if apierrors.IsConflict(err) {
				return &waitingError{"the registry pull secret changed meanwhile"}
			}
			return fmt.Errorf("updating the registry pull secret in %s/%s: %w", ns.Spec.ClusterName, name, err)
		}
	}
	sa, err := cs.CoreV1().ServiceAccounts(name).Get(ctx, "default", metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		// The member's controller manager makes it shortly after the namespace.
		return &waitingError{fmt.Sprintf("waiting for the default ServiceAccount of %s/%s", ns.Spec.ClusterName, name)}
	case err != nil:
		return fmt.Errorf("reading the default ServiceAccount of %s/%s: %w", ns.Spec.ClusterName, name, err)
	}
	ref := corev1.LocalObjectReference{Name: PullSecretName}
	if slices.Contains(sa.ImagePullSecrets, ref) {
		return nil
	}
	sa.ImagePullSecrets = append(sa.ImagePullSecrets, ref)
	if _, err := cs.CoreV1().ServiceAccounts(name).Update(ctx, sa, metav1.UpdateOptions{}); err != nil {
		if apierrors.IsConflict(err) {
			return &waitingError{"the default ServiceAccount changed meanwhile"}
		}
		return fmt.Errorf("adding the registry pull secret to the default ServiceAccount of %s/%s: %w", ns.Spec.ClusterName, name, err)
	}
	return nil
}
