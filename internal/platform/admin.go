package platform

import (
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1 "github.com/kstack/kstack/api/auth/v1"
	"github.com/kstack/kstack/internal/auth/account"
	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/authapi"
)

// AdminUsername is the administrator that the first `kstack up` creates.
const AdminUsername = "admin"

// AdminPasswordEnv gives the first administrator's password.
const AdminPasswordEnv = "KSTACK_ADMIN_PASSWORD"

func adminClient(kubeconfig string) (client.Client, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("reading the admin kubeconfig %s: %w", kubeconfig, err)
	}
	return client.New(cfg, client.Options{Scheme: Scheme()})
}

// GeneratePassword makes a password that meets the account rules.
func GeneratePassword() string {
	const (
		upper  = "ABCDEFGHJKLMNPQRSTUVWXYZ"
		lower  = "abcdefghijkmnpqrstuvwxyz"
		digits = "23456789"
		all    = upper + lower + digits
	)
	pick := func(set string) byte {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(set))))
		if err != nil {
			panic(err)
		}
		return set[n.Int64()]
	}
	for {
		b := make([]byte, 16)
		for i := range b {
			b[i] = pick(all)
		}
		if account.ValidatePassword(string(b)) == nil {
			return string(b)
		}
	}
}

// errAdminExists says a password given for the first start was not used.
var errAdminExists = fmt.Errorf("the administrator exists already, so the given password was not used: change it with `kstack passwd` or `kstack admin reset-password`")

// ensureAdmin creates the administrator on the first start. It returns the
// password when it generated one (to be shown once), "" otherwise.
func ensureAdmin(ctx context.Context, c client.Client, password string) (string, error) {
	name := authv1.ObjectName(authv1.DefaultTenant, AdminUsername)
	var u authv1.User
	err := c.Get(ctx, client.ObjectKey{Name: name}, &u)
	if err == nil {
		if password != "" {
			return "", errAdminExists
		}
		return "", nil
	}
	if !apierrors.IsNotFound(err) {
		return "", fmt.Errorf("reading the administrator: %w", err)
	}
	generated := ""
	if password == "" {
		password = GeneratePassword()
		generated = password
	} else if err := account.ValidatePassword(password); err != nil {
		return "", fmt.Errorf("the administrator's password (--admin-password or %s): %w", AdminPasswordEnv, err)
	}
	binding := &authv1.PolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name + "." + directory.PolicyAdministrator, Labels: map[string]string{authv1.LabelTenant: authv1.DefaultTenant}},
		Spec:       authv1.PolicyBindingSpec{TenantID: authv1.DefaultTenant, PolicyName: directory.PolicyAdministrator, Users: []string{AdminUsername}},
	}
	if err := c.Create(ctx, binding); err != nil && !apierrors.IsAlreadyExists(err) {
		return "", fmt.Errorf("binding the administrator's policy: %w", err)
	}
	u = authv1.User{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{authv1.LabelTenant: authv1.DefaultTenant}},
		Spec:       authv1.UserSpec{TenantID: authv1.DefaultTenant, Username: AdminUsername, DisplayName: "Administrator", IdentityProvider: authv1.LocalProvider},
	}
	if err := c.Create(ctx, &u); err != nil {
		return "", fmt.Errorf("creating the administrator: %w", err)
	}
	if err := authapi.SetPassword(ctx, c, &u, password, ""); err != nil {
		_ = c.Delete(ctx, &u)
		return "", err
	}
	return generated, nil
}

// ResetPassword sets a user's password through the data dir's admin
// kubeconfig (break-glass), unlocks the account, ends its sessions and
// records an Event on the user for the audit trail.
func ResetPassword(ctx context.Context, kubeconfig, username, password string) error {
	c, err := adminClient(kubeconfig)
	if err != nil {
		return err
	}
	if err := account.ValidatePassword(password); err != nil {
		return err
	}
	var u authv1.User
	if err := c.Get(ctx, client.ObjectKey{Name: authv1.ObjectName(authv1.DefaultTenant, username)}, &u); err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("there is no user %q in the default tenant", username)
		}
		return fmt.Errorf("reaching the platform's API server (is `kstack up` running?): %w", err)
	}
	if err := authapi.SetPassword(ctx, c, &u, password, ""); err != nil {
		return err
	}
	now := metav1.NewTime(time.Now())
	ev := &corev1.Event{
		// Events about cluster-scoped objects live in "default".
		ObjectMeta:     metav1.ObjectMeta{GenerateName: "password-reset-", Namespace: metav1.NamespaceDefault},
		InvolvedObject: corev1.ObjectReference{APIVersion: authv1.GroupVersion.String(), Kind: "User", Name: u.Name, UID: u.UID},
		Reason:         "PasswordReset", Type: corev1.EventTypeWarning,
		Message:        fmt.Sprintf("the password of %s was reset with the data dir's admin credentials (kstack admin reset-password)", username),
		Source:         corev1.EventSource{Component: "kstack-admin"},
		FirstTimestamp: now, LastTimestamp: now, Count: 1,
	}
	if err := c.Create(ctx, ev); err != nil {
		return fmt.Errorf("the password was reset, but recording the audit event failed: %w", err)
	}
	return nil
}
