package clusterimport

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1 "github.com/kstack/kstack/api/auth/v1"
	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/randomid"
)

// SystemNamespace holds the Secrets of the credentials.
const SystemNamespace = "kstack-system"

// NewClusterID returns "cls-" and 8 random characters from [a-z0-9].
func NewClusterID() string { return randomid.New("cls-", 8) }

// DuplicateError says the cluster is already on the platform.
type DuplicateError struct{ Existing platformv1.Cluster }

func (e *DuplicateError) Error() string {
	return fmt.Sprintf("this cluster is already on the platform as %s (%q): it has the same kube-system namespace UID", e.Existing.Name, e.Existing.Spec.DisplayName)
}

// Import validates the request live and, only if it passes, stores the
// Secret, the ClusterCredential and the Cluster. A failure part-way removes
// what was stored.
func Import(ctx context.Context, c client.Client, r *Request, clusterType platformv1.ClusterType) (*platformv1.Cluster, error) {
	res, err := Validate(ctx, r)
	if err != nil {
		return nil, err
	}
	var existing platformv1.ClusterList
	if err := c.List(ctx, &existing, client.MatchingLabels{platformv1.LabelClusterUID: res.UID}); err != nil {
		return nil, err
	}
	if len(existing.Items) > 0 {
		return nil, &DuplicateError{Existing: existing.Items[0]}
	}
	id := NewClusterID()
	display := r.DisplayName
	if display == "" {
		display = id
	}
	// The Secret is named by the member's UID: a second, concurrent import of
	// the same cluster fails here instead of making a duplicate.
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: SystemNamespace, Name: "cc-" + res.UID,
			Labels: map[string]string{platformv1.LabelClusterUID: res.UID, "platform.kstack.io/cluster": id},
		},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{},
	}
	if r.Token != "" {
		secret.Data["token"] = []byte(r.Token)
	}
	if len(r.ClientKey) > 0 {
		secret.Data["clientKey"] = r.ClientKey
	}
	if err := c.Create(ctx, secret); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("this cluster is being imported, or is already on the platform (credential %s exists)", secret.Name)
		}
		return nil, fmt.Errorf("storing the credential: %w", err)
	}
	undo := []client.Object{secret}
	fail := func(err error) (*platformv1.Cluster, error) {
		for i := len(undo) - 1; i >= 0; i-- {
			_ = c.Delete(context.Background(), undo[i])
		}
		return nil, err
	}
	tenant := r.TenantID
	if tenant == "" {
		tenant = authv1.DefaultTenant
	}
	cred := &platformv1.ClusterCredential{
		ObjectMeta: metav1.ObjectMeta{Name: "cc-" + id, Labels: map[string]string{authv1.LabelTenant: tenant}},
		Spec: platformv1.ClusterCredentialSpec{
			TenantID: tenant, ClusterName: id, Server: r.Server, CACert: r.CACert, TLSServerName: r.TLSServerName,
			ClientCert: r.ClientCert, SecretRef: platformv1.SecretReference{Namespace: secret.Namespace, Name: secret.Name},
		},
	}
	if err := c.Create(ctx, cred); err != nil {
		return fail(fmt.Errorf("storing the credential: %w", err))
	}
	undo = append(undo, cred)
	cls := &platformv1.Cluster{
		ObjectMeta: metav1.ObjectMeta{Name: id, Labels: map[string]string{platformv1.LabelClusterUID: res.UID, authv1.LabelTenant: tenant}},
		Spec: platformv1.ClusterSpec{
			TenantID: tenant, DisplayName: display, Type: clusterType,
			ClusterCredentialRef: &corev1.LocalObjectReference{Name: cred.Name},
		},
	}
	if clusterType == platformv1.ClusterLocal {
		cls.Annotations = map[string]string{platformv1.AnnotationLocalCluster: r.DisplayName}
	}
	if err := c.Create(ctx, cls); err != nil {
		return fail(fmt.Errorf("storing the cluster: %w", err))
	}
	return cls, nil
}

// RESTConfigFor builds the client configuration of a stored credential, and a
// fingerprint that changes when the credential does.
func RESTConfigFor(ctx context.Context, c client.Client, cred *platformv1.ClusterCredential) (*rest.Config, string, error) {
	var secret corev1.Secret
	key := client.ObjectKey{Namespace: cred.Spec.SecretRef.Namespace, Name: cred.Spec.SecretRef.Name}
	if err := c.Get(ctx, key, &secret); err != nil {
		return nil, "", fmt.Errorf("reading the credential's secret %s: %w", key, err)
	}
	r := &Request{ClusterConnection: platformv1.ClusterConnection{
		Server: cred.Spec.Server, CACert: cred.Spec.CACert, TLSServerName: cred.Spec.TLSServerName,
		Token: string(secret.Data["token"]), ClientCert: cred.Spec.ClientCert, ClientKey: secret.Data["clientKey"],
	}}
	return r.RESTConfig(), cred.ResourceVersion + "/" + secret.ResourceVersion, nil
}

// UpdateCredential replaces a cluster's address and credential after
// checking them live, as at import; they must reach the same cluster.
func UpdateCredential(ctx context.Context, c client.Client, id string, r *Request) (*platformv1.Cluster, error) {
	var cls platformv1.Cluster
	if err := c.Get(ctx, client.ObjectKey{Name: id}, &cls); err != nil {
		return nil, fmt.Errorf("no cluster %q on the platform", id)
	}
	if cls.Spec.Type == platformv1.ClusterGlobal {
		return nil, fmt.Errorf("the global cluster is the platform's own control plane; its credential is not kept here")
	}
	if cls.Spec.ClusterCredentialRef == nil {
		return nil, fmt.Errorf("cluster %s has no credential to update", id)
	}
	res, err := Validate(ctx, r)
	if err != nil {
		return nil, err
	}
	if uid := cls.Labels[platformv1.LabelClusterUID]; uid != "" && uid != res.UID {
		return nil, fmt.Errorf("the new address and credential reach another cluster (kube-system UID %s, not %s): import that one instead", res.UID, uid)
	}
	var cred platformv1.ClusterCredential
	if err := c.Get(ctx, client.ObjectKey{Name: cls.Spec.ClusterCredentialRef.Name}, &cred); err != nil {
		return nil, err
	}
	var secret corev1.Secret
	if err := c.Get(ctx, client.ObjectKey{Namespace: cred.Spec.SecretRef.Namespace, Name: cred.Spec.SecretRef.Name}, &secret); err != nil {
		return nil, err
	}
	secret.Data = map[string][]byte{}
	if r.Token != "" {
		secret.Data["token"] = []byte(r.Token)
	}
	if len(r.ClientKey) > 0 {
		secret.Data["clientKey"] = r.ClientKey
	}
	if err := c.Update(ctx, &secret); err != nil {
		return nil, fmt.Errorf("storing the credential: %w", err)
	}
	cred.Spec.Server, cred.Spec.CACert, cred.Spec.TLSServerName, cred.Spec.ClientCert = r.Server, r.CACert, r.TLSServerName, r.ClientCert
	if err := c.Update(ctx, &cred); err != nil {
		return nil, fmt.Errorf("storing the credential: %w", err)
	}
	return &cls, nil
}
