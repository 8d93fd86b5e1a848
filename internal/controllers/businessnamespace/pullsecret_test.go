package businessnamespace

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8sfake "k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	businessv1 "github.com/kstack/kstack/api/business/v1"
)

func bns(project, cluster, name string) *businessv1.Namespace {
	return &businessv1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: businessv1.ObjectName(cluster, name), Namespace: project},
		Spec: businessv1.NamespaceSpec{TenantID: "default", ProjectName: project, ClusterName: cluster, Namespace: name}}
}

func TestPullSecret(t *testing.T) {
	ctx := context.Background()
	cs := k8sfake.NewClientset(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}})
	pw := "kspull_prj-a_one"
	var credErr error
	r := &Reconciler{RegistryHost: "kstack.test:8443", PullCredential: func(_ context.Context, project string) (string, string, error) {
		if project != "prj-a" {
			t.Fatalf("asked for the credential of %s", project)
		}
		return "kstack-pull-prj-a", pw, credErr
	}}
	ns := bns("prj-a", "cls-1", "team")

	// The credential not made yet: wait, write nothing.
	credErr = errors.New("not made yet")
	if err := r.ensurePullSecret(ctx, cs, ns); !isWaiting(err) {
		t.Fatalf("credential missing: %v", err)
	}
	if _, err := cs.CoreV1().Secrets("team").Get(ctx, PullSecretName, metav1.GetOptions{}); err == nil {
		t.Fatal("a pull secret was written without a credential")
	}
	credErr = nil

	// The default ServiceAccount not made yet: the Secret is written, and
	// the reconciler comes back for the ServiceAccount.
	if err := r.ensurePullSecret(ctx, cs, ns); !isWaiting(err) {
		t.Fatalf("without the default ServiceAccount: %v", err)
	}
	check := func(wantPW string) {
		t.Helper()
		sec, err := cs.CoreV1().Secrets("team").Get(ctx, PullSecretName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if sec.Type != corev1.SecretTypeDockerConfigJson || sec.Labels[businessv1.LabelProject] != "prj-a" {
			t.Fatalf("Secret %+v", sec)
		}
		var cfg struct {
			Auths map[string]struct{ Username, Password, Auth string } `json:"auths"`
		}
		if err := json.Unmarshal(sec.Data[corev1.DockerConfigJsonKey], &cfg); err != nil {
			t.Fatal(err)
		}
		a := cfg.Auths["kstack.test:8443"]
		if len(cfg.Auths) != 1 || a.Username != "kstack-pull-prj-a" || a.Password != wantPW || a.Auth == "" {
			t.Fatalf("docker config %s", sec.Data[corev1.DockerConfigJsonKey])
		}
	}
	check(pw)

	// The ServiceAccount appears with a pull secret of its own: kept.
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "team"},
		ImagePullSecrets: []corev1.LocalObjectReference{{Name: "mine"}}}
	if _, err := cs.CoreV1().ServiceAccounts("team").Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := r.ensurePullSecret(ctx, cs, ns); err != nil {
		t.Fatal(err)
	}
	got, _ := cs.CoreV1().ServiceAccounts("team").Get(ctx, "default", metav1.GetOptions{})
	want := []corev1.LocalObjectReference{{Name: "mine"}, {Name: PullSecretName}}
	if !reflect.DeepEqual(got.ImagePullSecrets, want) {
		t.Fatalf("imagePullSecrets %v", got.ImagePullSecrets)
	}
	// Again: nothing changes, nothing is added twice.
	if err := r.ensurePullSecret(ctx, cs, ns); err != nil {
		t.Fatal(err)
	}
	got, _ = cs.CoreV1().ServiceAccounts("team").Get(ctx, "default", metav1.GetOptions{})
	if !reflect.DeepEqual(got.ImagePullSecrets, want) {
		t.Fatalf("imagePullSecrets after a second pass %v", got.ImagePullSecrets)
	}

	// Rotated: re-written.
	pw = "kspull_prj-a_two"
	if err := r.ensurePullSecret(ctx, cs, ns); err != nil {
		t.Fatal(err)
	}
	check(pw)

	// A Secret of another type under the name is replaced.
	if err := cs.CoreV1().Secrets("team").Delete(ctx, PullSecretName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Secrets("team").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: PullSecretName, Namespace: "team"},
		Type: corev1.SecretTypeOpaque}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := r.ensurePullSecret(ctx, cs, ns); !isWaiting(err) {
		t.Fatalf("replacing: %v", err)
	}
	if err := r.ensurePullSecret(ctx, cs, ns); err != nil {
		t.Fatal(err)
	}
	check(pw)
}

func TestPullSecretsOff(t *testing.T) {
	if (&Reconciler{}).pullSecrets() || (&Reconciler{RegistryHost: "h:1"}).pullSecrets() ||
		(&Reconciler{PullCredential: func(context.Context, string) (string, string, error) { return "", "", nil }}).pullSecrets() {
		t.Fatal("pull secrets on without a registry host and a credential source")
	}
}

func TestCredentialEnqueuesProjectNamespaces(t *testing.T) {
	s := runtime.NewScheme()
	if err := businessv1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	c := fake.NewClientBuilder().WithScheme(s).WithObjects(bns("prj-a", "cls-1", "team"), bns("prj-a", "cls-2", "team"), bns("prj-b", "cls-1", "other")).Build()
	r := &Reconciler{Client: c}
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "registry-pull-prj-a", Namespace: "kstack-system",
		Labels: map[string]string{businessv1.LabelProject: "prj-a", LabelManagedBy: PullCredentialManagedBy}}}
	if !isPullCredential(sec) {
		t.Fatal("a pull credential's Secret is not recognised")
	}
	if isPullCredential(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{businessv1.LabelProject: "prj-a"}}}) {
		t.Fatal("another Secret of the project was taken for a pull credential")
	}
	reqs := r.namespacesOfCredential(context.Background(), sec)
	var names []string
	for _, q := range reqs {
		if q.Namespace != "prj-a" {
			t.Fatalf("enqueued %v", q)
		}
		names = append(names, q.Name)
	}
	if !reflect.DeepEqual(names, []string{"cls-1-team", "cls-2-team"}) {
		t.Fatalf("enqueued %v", names)
	}
}
