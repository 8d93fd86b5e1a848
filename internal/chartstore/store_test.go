package chartstore

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"

	"github.com/kstack/kstack/internal/registry"
)

// noAuth refuses every outside caller: the store goes in process.
type noAuth struct{}

func (noAuth) Verify(context.Context, string) (*registry.Caller, error) {
	return nil, errors.New("no tokens in this test")
}
func (noAuth) Allowed(context.Context, *registry.Caller, string, string) bool { return false }
func (noAuth) Namespaces(context.Context, *registry.Caller) []string          { return nil }

func archive(t *testing.T, name, version string, files ...*chart.File) []byte {
	t.Helper()
	ch := &chart.Chart{Metadata: &chart.Metadata{APIVersion: "v2", Name: name, Version: version, AppVersion: "v" + version, Description: name + " chart"},
		Values: map[string]any{"replicaCount": 1},
		// chartutil.Save writes values.yaml from Raw, as it was read.
		Raw:       []*chart.File{{Name: "values.yaml", Data: []byte("replicaCount: 1\n")}},
		Schema:    []byte(`{"type":"object"}`),
		Files:     files,
		Templates: []*chart.File{{Name: "templates/cm.yaml", Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")}}}
	path, err := chartutil.Save(ch, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestStore pushes, lists, loads and deletes charts in a real embedded
// registry (distribution on a filesystem), in process.
func TestStore(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	reg, err := registry.New(ctx, registry.Config{RootDir: t.TempDir(), Realm: "https://kstack.example/registry/token", Service: "kstack-registry",
		Auth: noAuth{}, GCGrace: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(reg, "kstack.example:443")
	if err != nil {
		t.Fatal(err)
	}
	readme := &chart.File{Name: "README.md", Data: []byte("# web\nServes the shop.\n")}
	for _, v := range []string{"0.1.0", "0.10.0", "0.2.0", "1.0.0+build.1"} {
		if name, version, err := s.Push(ctx, "shop", archive(t, "web", v, readme)); err != nil || name != "web" || version != v {
			t.Fatalf("push %s: %s %s %v", v, name, version, err)
		}
	}
	if _, _, err := s.Push(ctx, "shop", []byte("not a tgz")); err == nil || !strings.Contains(err.Error(), "not a chart archive") {
		t.Fatalf("pushing garbage: %v", err)
	}

	charts, err := s.Charts(ctx, "shop")
	if err != nil || len(charts) != 1 || charts[0].Name != "web" || charts[0].Versions != 4 || charts[0].LatestVersion != "1.0.0+build.1" ||
		charts[0].Pull != "oci://kstack.example:443/shop/web" {
		t.Fatalf("charts: %+v %v", charts, err)
	}
	vs, err := s.Versions(ctx, "shop", "web")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range vs {
		got = append(got, v.Version)
	}
	// Newest first, by semantic version (not by string), '+' restored.
	if strings.Join(got, " ") != "1.0.0+build.1 0.10.0 0.2.0 0.1.0" || vs[0].AppVersion != "v1.0.0+build.1" || vs[0].Digest == "" {
		t.Fatalf("versions: %v (%+v)", got, vs[0])
	}
	if !s.Has(ctx, "shop", "web", "0.2.0") || s.Has(ctx, "shop", "web", "9.9.9") || s.Has(ctx, "shop", "nothing", "0.1.0") {
		t.Fatal("Has answers wrongly")
	}
	d, err := s.Detail(ctx, "shop", "web", "0.2.0")
	if err != nil || d.Readme != "# web\nServes the shop.\n" || !strings.Contains(d.Values, "replicaCount: 1") || d.ValuesSchema != `{"type":"object"}` || d.Version != "0.2.0" {
		t.Fatalf("detail: %+v %v", *d, err)
	}
	ch, _, err := s.Load(ctx, "shop", "web", "1.0.0+build.1")
	if err != nil || ch.Metadata.Version != "1.0.0+build.1" {
		t.Fatalf("load: %v %v", ch, err)
	}
	// A missing version names the ones there are.
	if _, _, err := s.Load(ctx, "shop", "web", "9.9.9"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "0.10.0") {
		t.Fatalf("loading a missing version: %v", err)
	}
	if _, _, err := s.Load(ctx, "shop", "nothing", "0.1.0"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("loading a missing chart: %v", err)
	}

	if err := s.Delete(ctx, "shop", "web", "0.1.0"); err != nil {
		t.Fatal(err)
	}
	if s.Has(ctx, "shop", "web", "0.1.0") || !s.Has(ctx, "shop", "web", "0.2.0") {
		t.Fatal("deleting one version")
	}
	if err := s.Delete(ctx, "shop", "web", ""); err != nil {
		t.Fatal(err)
	}
	if charts, err := s.Charts(ctx, "shop"); err != nil || len(charts) != 0 {
		t.Fatalf("charts after deleting the chart: %+v %v", charts, err)
	}
}
