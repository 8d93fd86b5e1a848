package registryauth

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	businessv1 "github.com/kstack/kstack/api/business/v1"
)

func (e *env) reconcile(project string) ctrl.Result {
	e.t.Helper()
	res, err := e.pulls.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKey{Name: project}})
	if err != nil {
		e.t.Fatal(err)
	}
	return res
}

func (e *env) current(project string) (string, string) {
	e.t.Helper()
	u, p, err := e.pulls.Current(context.Background(), project)
	if err != nil {
		e.t.Fatal(err)
	}
	return u, p
}

func TestPullCredential(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	if _, _, err := e.pulls.Current(ctx, "prj-a"); !errors.Is(err, ErrNoPullCredential) {
		t.Fatalf("before the controller ran: %v", err)
	}
	if res := e.reconcile("prj-a"); res.RequeueAfter != 24*time.Hour {
		t.Fatalf("requeue after %v", res.RequeueAfter)
	}
	var sec corev1.Secret
	if err := e.c.Get(ctx, client.ObjectKey{Namespace: sysNS, Name: "registry-pull-prj-a"}, &sec); err != nil {
		t.Fatal(err)
	}
	if sec.Labels[businessv1.LabelProject] != "prj-a" || sec.Labels[LabelManagedBy] != PullControllerName ||
		len(sec.OwnerReferences) != 1 || sec.OwnerReferences[0].Kind != "Project" || sec.OwnerReferences[0].UID != "uid-prj-a" {
		t.Fatalf("Secret metadata %+v", sec.ObjectMeta)
	}
	user, pw := e.current("prj-a")
	if user != "kstack-pull-prj-a" || !strings.HasPrefix(pw, "kspull_prj-a_") || len(pw) != len("kspull_prj-a_")+64 {
		t.Fatalf("credential %s %s", user, pw)
	}
	// Reconciling again changes nothing.
	e.reconcile("prj-a")
	if _, again := e.current("prj-a"); again != pw {
		t.Fatal("a reconcile without cause rotated the credential")
	}

	// The credential pulls what its project shares, and public images;
	// never pushes, never another project's or tenant's.
	c, acc := e.access(e.get(user, pw, "repository:priv/web:pull,push,delete", "repository:pub/web:pull,push",
		"repository:other/web:pull", "repository:t2odd/web:pull", "repository:t2priv/web:pull", "registry:catalog:*"))
	if c.Subject != "pull.prj-a" || c.Project != "prj-a" || c.Tenant != "default" {
		t.Fatalf("caller %+v", c)
	}
	want := map[string][]string{"repository:priv/web": {"pull"}, "repository:pub/web": {"pull"}, "registry:catalog": {"*"}}
	if !reflect.DeepEqual(acc, want) {
		t.Fatalf("access %v, want %v", acc, want)
	}
	if !e.s.Allowed(ctx, c, "priv", "pull") || e.s.Allowed(ctx, c, "other", "pull") || e.s.Allowed(ctx, c, "priv", "push") || e.s.Allowed(ctx, c, "t2odd", "pull") {
		t.Fatal("Allowed for a pull credential")
	}
	// Through the OAuth2 form too.
	if _, acc := e.access(e.post(map[string][]string{"grant_type": {"password"}, "username": {user}, "password": {pw}, "scope": {"repository:priv/web:pull"}})); len(acc) != 1 {
		t.Fatalf("form: %v", acc)
	}
	// The username must name the same project.
	if a := e.get("kstack-pull-prj-b", pw); a.code != 401 || !strings.Contains(a.errs[0].Message, "username is kstack-pull-prj-a") {
		t.Fatalf("other username: %d %s", a.code, a.body)
	}
	if a := e.get(user, pw[:len(pw)-1]+"x"); a.code != 401 || a.errs[0].Message != "wrong username or password" {
		t.Fatalf("wrong secret: %d %s", a.code, a.body)
	}

	// Rotation when due; the old one works through the grace period.
	e.advance(23 * time.Hour)
	if res := e.reconcile("prj-a"); res.RequeueAfter <= 0 || res.RequeueAfter > time.Hour+time.Second {
		t.Fatalf("requeue after %v", res.RequeueAfter)
	}
	if _, same := e.current("prj-a"); same != pw {
		t.Fatal("rotated too early")
	}
	e.advance(time.Hour)
	rotatedAt := e.clock()
	e.reconcile("prj-a")
	_, pw2 := e.current("prj-a")
	if pw2 == pw {
		t.Fatal("not rotated after 24h")
	}
	for _, p := range []string{pw, pw2} {
		if _, acc := e.access(e.get(user, p, "repository:priv/web:pull")); len(acc) != 1 {
			t.Fatalf("within grace: %v", acc)
		}
	}
	e.advance(time.Hour - time.Second)
	e.access(e.get(user, pw, "repository:priv/web:pull"))
	e.advance(time.Second)
	a := e.get(user, pw, "repository:priv/web:pull")
	if a.code != 401 || !strings.Contains(a.errs[0].Message, "this pull credential was rotated at "+rotatedAt.Format(time.RFC3339)) ||
		!strings.Contains(a.errs[0].Message, "pull secret (kstack-registry) holds the new one") {
		t.Fatalf("after grace: %d %s", a.code, a.body)
	}
	e.access(e.get(user, pw2, "repository:priv/web:pull"))

	// Rotate now (the API's action): pw2 in grace, pw3 current, pw gone.
	st, err := e.pulls.Rotate(ctx, "prj-a")
	if err != nil {
		t.Fatal(err)
	}
	_, pw3 := e.current("prj-a")
	if pw3 == pw2 || st.Username != user || st.Project != "prj-a" || !st.RotatedAt.Time.Equal(e.clock()) ||
		st.PreviousValidUntil == nil || !st.PreviousValidUntil.Time.Equal(e.clock().Add(time.Hour)) {
		t.Fatalf("Rotate: %+v", st)
	}
	e.access(e.get(user, pw2, "repository:priv/web:pull"))
	e.access(e.get(user, pw3, "repository:priv/web:pull"))
	if a := e.get(user, pw, "repository:priv/web:pull"); a.code != 401 || a.errs[0].Message != "wrong username or password" {
		t.Fatalf("two rotations ago: %d %s", a.code, a.body)
	}
	if _, err := e.pulls.Rotate(ctx, "prj-nope"); err == nil || !strings.Contains(err.Error(), "project prj-nope not found") {
		t.Fatalf("Rotate of a missing project: %v", err)
	}

	// A project deleted (its Secret not yet collected): refused.
	var prj businessv1.Project
	if err := e.c.Get(ctx, client.ObjectKey{Name: "prj-a"}, &prj); err != nil {
		t.Fatal(err)
	}
	if err := e.c.Delete(ctx, &prj); err != nil {
		t.Fatal(err)
	}
	if a := e.get(user, pw3); a.code != 401 {
		t.Fatalf("credential of a deleted project: %d %s", a.code, a.body)
	}
	if res := e.reconcile("prj-a"); res != (ctrl.Result{}) {
		t.Fatalf("reconcile of a deleted project: %+v", res)
	}
}

// TestPullCredentialRepair: a Secret edited by hand is put back.
func TestPullCredentialRepair(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	e.reconcile("prj-b")
	var sec corev1.Secret
	key := client.ObjectKey{Namespace: sysNS, Name: "registry-pull-prj-b"}
	if err := e.c.Get(ctx, key, &sec); err != nil {
		t.Fatal(err)
	}
	sec.Data[keyCreatedAt] = []byte("garbage")
	sec.Labels = nil
	if err := e.c.Update(ctx, &sec); err != nil {
		t.Fatal(err)
	}
	e.reconcile("prj-b")
	if err := e.c.Get(ctx, key, &sec); err != nil {
		t.Fatal(err)
	}
	if _, ok := parseStored(&sec); !ok || sec.Labels[LabelManagedBy] != PullControllerName {
		t.Fatalf("not repaired: %+v", sec)
	}
}
