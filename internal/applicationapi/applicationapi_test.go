package applicationapi

import (
	"context"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage"
	"helm.sh/helm/v3/pkg/storage/driver"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	applicationv1 "github.com/kstack/kstack/api/application/v1"
	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/clustercache"
	"github.com/kstack/kstack/internal/platformscheme"
)

func TestKeyPathsMaskedSplit(t *testing.T) {
	vals := map[string]any{"db": map[string]any{"password": "p", "user": "u"}, "token": "t", "replicas": 2}
	secret := map[string]any{"db": map[string]any{"password": "p"}, "token": "t"}
	paths := keyPaths(secret)
	if strings.Join(paths, ",") != "db.password,token" {
		t.Fatalf("keyPaths = %v", paths)
	}
	m := masked(vals, paths)
	if m["token"] != "(secret)" || m["db"].(map[string]any)["password"] != "(secret)" || m["db"].(map[string]any)["user"] != "u" || m["replicas"] != 2 {
		t.Fatalf("masked = %v", m)
	}
	if vals["token"] != "t" {
		t.Fatal("masked changed its input")
	}
	rest, at := split(vals, paths)
	if _, ok := rest["token"]; ok || rest["db"].(map[string]any)["user"] != "u" || rest["replicas"] != 2 {
		t.Fatalf("split's rest = %v", rest)
	}
	if at["token"] != "t" || at["db"].(map[string]any)["password"] != "p" {
		t.Fatalf("split's secret part = %v", at)
	}
	if back := merge(rest, at); toYAML(back) != toYAML(vals) {
		t.Fatalf("merge(split) = %s, want %s", toYAML(back), toYAML(vals))
	}
	// A path that is not there, or goes through a leaf, splits nothing.
	if rest, at := split(vals, []string{"missing.key", "token.deeper"}); len(at) != 0 || rest["token"] != "t" {
		t.Fatalf("split of absent paths: %v %v", rest, at)
	}
}

// TestDottedKeys: a key with a dot in it is one key, masked and split as
// such; the secret keys of an App only grow.
func TestDottedKeys(t *testing.T) {
	vals := map[string]any{"annotations": map[string]any{"nginx.ingress/auth": "secret", "plain": "p"}, `back\slash`: "b"}
	paths := keyPaths(map[string]any{"annotations": map[string]any{"nginx.ingress/auth": "secret"}, `back\slash`: "b"})
	if strings.Join(paths, " ") != `annotations.nginx\.ingress/auth back\\slash` {
		t.Fatalf("keyPaths = %q", paths)
	}
	if got := splitPath(paths[0]); len(got) != 2 || got[1] != "nginx.ingress/auth" {
		t.Fatalf("splitPath(%q) = %q", paths[0], got)
	}
	m := masked(vals, paths)
	if m["annotations"].(map[string]any)["nginx.ingress/auth"] != "(secret)" || m[`back\slash`] != "(secret)" || m["annotations"].(map[string]any)["plain"] != "p" {
		t.Fatalf("masked = %v", m)
	}
	rest, at := split(vals, paths)
	if _, ok := rest["annotations"].(map[string]any)["nginx.ingress/auth"]; ok || at["annotations"].(map[string]any)["nginx.ingress/auth"] != "secret" {
		t.Fatalf("split = %v / %v", rest, at)
	}
	if u := union([]string{"b", "a"}, []string{"c", "a"}); strings.Join(u, ",") != "a,b,c" {
		t.Fatalf("union = %v", u)
	}
}

func TestParseValues(t *testing.T) {
	if v, err := parseValues("f", ""); err != nil || len(v) != 0 {
		t.Fatalf("empty: %v %v", v, err)
	}
	if v, err := parseValues("f", `{"a": {"b": 1}}`); err != nil || v["a"].(map[string]any)["b"] != float64(1) {
		t.Fatalf("JSON: %v %v", v, err)
	}
	if _, err := parseValues("spec.values.rawValues", "- a list\n- not a map\n"); err == nil || !strings.Contains(err.Error(), "spec.values.rawValues") {
		t.Fatalf("a list: %v", err)
	}
}

func TestCheckSchema(t *testing.T) {
	ch := &chart.Chart{Metadata: &chart.Metadata{APIVersion: "v2", Name: "web", Version: "1.0.0"},
		Values: map[string]any{"replicaCount": 1},
		Schema: []byte(`{"type":"object","properties":{"replicaCount":{"type":"integer","maximum":10}}}`)}
	if err := checkSchema(ch, map[string]any{"replicaCount": 3}); err != nil {
		t.Fatalf("valid values: %v", err)
	}
	err := checkSchema(ch, map[string]any{"replicaCount": 99})
	if err == nil || !strings.Contains(err.Error(), "replicaCount") {
		t.Fatalf("replicaCount 99: %v", err)
	}
}

func TestCheckSpec(t *testing.T) {
	good := func() *applicationv1.App {
		return &applicationv1.App{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: applicationv1.AppSpec{
			TargetCluster: "cls-a", TargetNamespace: "shop",
			Chart: applicationv1.Chart{ChartGroupName: "g", ChartName: "web", ChartVersion: "1.0.0"}}}
	}
	if err := checkSpec(good()); err != nil {
		t.Fatalf("a good spec: %v", err)
	}
	for _, tt := range []struct {
		what   string
		change func(*applicationv1.App)
		want   string
	}{
		{"no name", func(a *applicationv1.App) { a.Name = "" }, "metadata.name"},
		{"a bad name", func(a *applicationv1.App) { a.Name = "Web_1" }, "lower-case"},
		{"a long release", func(a *applicationv1.App) { a.Name = strings.Repeat("a", 60) }, "53"},
		{"no cluster", func(a *applicationv1.App) { a.Spec.TargetCluster = "" }, "spec.targetCluster"},
		{"no namespace", func(a *applicationv1.App) { a.Spec.TargetNamespace = "" }, "spec.targetNamespace"},
		{"no chart", func(a *applicationv1.App) { a.Spec.Chart.ChartName = "" }, "spec.chart"},
		{"no version", func(a *applicationv1.App) { a.Spec.Chart.ChartVersion = "" }, "chartVersion"},
		{"a values type", func(a *applicationv1.App) { a.Spec.Values.RawValuesType = "toml" }, "yaml or json"},
		{"a type", func(a *applicationv1.App) { a.Spec.Type = "HelmV2" }, "HelmV3"},
		{"a timeout", func(a *applicationv1.App) { a.Spec.Timeout = &metav1.Duration{Duration: 2 * time.Hour} }, "1h"},
	} {
		a := good()
		tt.change(a)
		if err := checkSpec(a); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error with %q", tt.what, err, tt.want)
		}
	}
}

func TestStale(t *testing.T) {
	now := time.Now()
	op := &applicationv1.AppOperation{StartedAt: metav1.NewTime(now.Add(-time.Minute))}
	if !stale(op, now, 45*time.Second) {
		t.Fatal("an operation started a minute ago, never renewed, is not stale")
	}
	op.RenewTime = ptrTime(now.Add(-10 * time.Second))
	if stale(op, now, 45*time.Second) {
		t.Fatal("an operation renewed 10s ago is stale")
	}
}

// TestRecoverRelease: a revision left pending by an interrupted operation
// is marked failed, and Helm then upgrades from it; a deployed one is left
// alone.
func TestRecoverRelease(t *testing.T) {
	cfg := &action.Configuration{Releases: storage.Init(driver.NewMemory())}
	ch := &chart.Chart{Metadata: &chart.Metadata{APIVersion: "v2", Name: "web", Version: "1.0.0"}}
	mk := func(v int, st release.Status) {
		r := &release.Release{Name: "web", Namespace: "shop", Version: v, Chart: ch, Info: &release.Info{Status: st}}
		if err := cfg.Releases.Create(r); err != nil {
			t.Fatal(err)
		}
	}
	op := &applicationv1.AppOperation{Type: "upgrade", User: "alice"}
	mk(1, release.StatusDeployed)
	if r, err := recoverRelease(cfg, "web", op); err != nil || r != nil {
		t.Fatalf("a deployed release was recovered: %v %v", r, err)
	}
	mk(2, release.StatusPendingUpgrade)
	r, err := recoverRelease(cfg, "web", op)
	if err != nil || r == nil || r.Version != 2 {
		t.Fatalf("recovering a pending upgrade: %v %v", r, err)
	}
	last, err := cfg.Releases.Last("web")
	if err != nil || last.Info.Status != release.StatusFailed || !strings.Contains(last.Info.Description, "upgrade by alice was interrupted") {
		t.Fatalf("the revision after the recovery: %+v %v", last.Info, err)
	}
	if d, err := cfg.Releases.Deployed("web"); err != nil || d.Version != 1 {
		t.Fatalf("the deployed revision after the recovery: %v %v", d, err)
	}
	if r, err := recoverRelease(cfg, "missing", op); err != nil || r != nil {
		t.Fatalf("recovering a release that does not exist: %v %v", r, err)
	}
}

// TestRecoveryWithoutMember: a stale operation waits while its member is
// away, and is ended (Interrupted, the lock released) when its cluster no
// longer exists; a live one is left to renew.
func TestRecoveryWithoutMember(t *testing.T) {
	now := time.Now()
	mk := func(renewed time.Duration, cluster string) (*Recovery, client.Client) {
		app := &applicationv1.App{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "prj-a"},
			Spec: applicationv1.AppSpec{TargetCluster: cluster, TargetNamespace: "shop"},
			Status: applicationv1.AppStatus{Phase: applicationv1.AppUpgrading, Operation: &applicationv1.AppOperation{
				Type: "upgrade", User: "alice", StartedAt: metav1.NewTime(now.Add(-time.Hour)), RenewTime: ptrTime(now.Add(-renewed))}}}
		objs := []client.Object{app, &platformv1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: "cls-here"}}}
		c := fake.NewClientBuilder().WithScheme(platformscheme.New()).WithObjects(objs...).WithStatusSubresource(&applicationv1.App{}).Build()
		return &Recovery{Client: c, Cache: clustercache.New(nil), StaleAfter: 45 * time.Second, Now: func() time.Time { return now }}, c
	}
	req := ctrl.Request{NamespacedName: client.ObjectKey{Namespace: "prj-a", Name: "web"}}
	ctx := context.Background()
	get := func(c client.Client) applicationv1.App {
		var a applicationv1.App
		if err := c.Get(ctx, req.NamespacedName, &a); err != nil {
			t.Fatal(err)
		}
		return a
	}

	r, c := mk(10*time.Second, "cls-gone")
	if res, err := r.Reconcile(ctx, req); err != nil || res.RequeueAfter < 30*time.Second || res.RequeueAfter > 40*time.Second || get(c).Status.Operation == nil {
		t.Fatalf("a live operation: %+v %v", res, err)
	}
	r, c = mk(time.Minute, "cls-here")
	if res, err := r.Reconcile(ctx, req); err != nil || res.RequeueAfter != 5*time.Second || get(c).Status.Operation == nil {
		t.Fatalf("a stale operation whose member is away: %+v %v", res, err)
	}
	r, c = mk(time.Minute, "cls-gone")
	if _, err := r.Reconcile(ctx, req); err != nil {
		t.Fatal(err)
	}
	st := get(c).Status
	if st.Operation != nil || st.Phase != applicationv1.AppFailed || st.LastOperation == nil || st.LastOperation.Result != ResultInterrupted ||
		!strings.Contains(st.Message, "upgrade by alice was interrupted") || !strings.Contains(st.Message, "cls-gone no longer exists") {
		t.Fatalf("a stale operation whose cluster is gone: %+v", st)
	}
}
