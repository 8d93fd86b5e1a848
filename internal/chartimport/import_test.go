package chartimport

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/repo"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	registryv1 "github.com/kstack/kstack/api/registry/v1"
	"github.com/kstack/kstack/internal/dialcheck"
	"github.com/kstack/kstack/internal/platformscheme"
)

// memStore is a Store in memory.
type memStore struct{ charts map[string][]byte }

func (s *memStore) Has(_ context.Context, group, name, version string) bool {
	_, ok := s.charts[group+"/"+name+":"+version]
	return ok
}

func (s *memStore) Push(_ context.Context, group string, tgz []byte) (string, string, error) {
	ch, err := loader.LoadArchive(bytes.NewReader(tgz))
	if err != nil {
		return "", "", err
	}
	s.charts[group+"/"+ch.Name()+":"+ch.Metadata.Version] = tgz
	return ch.Name(), ch.Metadata.Version, nil
}

// repoServer serves an index of hello 1.0.0 and 1.1.0 behind basic auth
// (user "mirror", password "pw"); corrupt makes 1.1.0's archive differ
// from its digest.
type repoServer struct {
	*httptest.Server
	dir      string
	requests atomic.Int32
	corrupt  bool
}

func newRepo(t *testing.T) *repoServer {
	rs := &repoServer{dir: t.TempDir()}
	rs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rs.requests.Add(1)
		if u, p, ok := r.BasicAuth(); !ok || u != "mirror" || p != "pw" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		if rs.corrupt && strings.HasSuffix(r.URL.Path, "hello-1.1.0.tgz") {
			_, _ = w.Write([]byte("not the archive the index names"))
			return
		}
		http.StripPrefix("/charts/", http.FileServer(http.Dir(rs.dir))).ServeHTTP(w, r)
	}))
	t.Cleanup(rs.Close)
	for _, v := range []string{"1.0.0", "1.1.0"} {
		ch := &chart.Chart{Metadata: &chart.Metadata{APIVersion: "v2", Name: "hello", Version: v},
			Templates: []*chart.File{{Name: "templates/cm.yaml", Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: hello}\n")}}}
		if _, err := chartutil.Save(ch, rs.dir); err != nil {
			t.Fatal(err)
		}
	}
	idx, err := repo.IndexDirectory(rs.dir, rs.URL+"/charts")
	if err != nil {
		t.Fatal(err)
	}
	if err := idx.WriteFile(filepath.Join(rs.dir, "index.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	return rs
}

func group(addr, user string, every *time.Duration) *registryv1.ChartGroup {
	cg := &registryv1.ChartGroup{ObjectMeta: metav1.ObjectMeta{Name: "mirror"}, Spec: registryv1.ChartGroupSpec{
		Type: registryv1.Imported, Visibility: registryv1.VisibilityPublic,
		ImportedInfo: &registryv1.ImportedInfo{Addr: addr, Username: user}}}
	if user != "" {
		cg.Spec.ImportedInfo.PasswordSecret = SecretName("mirror")
	}
	if every != nil {
		cg.Spec.ImportedInfo.SyncInterval = &metav1.Duration{Duration: *every}
	}
	return cg
}

func setUp(t *testing.T, objs ...client.Object) (*Importer, *memStore, client.Client) {
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "kstack-system", Name: SecretName("mirror")},
		Data: map[string][]byte{PasswordKey: []byte("pw")}}
	c := fake.NewClientBuilder().WithScheme(platformscheme.New()).WithObjects(append(objs, secret)...).
		WithStatusSubresource(&registryv1.ChartGroup{}).Build()
	st := &memStore{charts: map[string][]byte{}}
	im := &Importer{Store: st, Reader: c, SystemNamespace: "kstack-system",
		Dial: &dialcheck.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}}
	return im, st, c
}

func TestSync(t *testing.T) {
	rs := newRepo(t)
	im, st, _ := setUp(t)
	ctx := context.Background()
	res, err := im.Sync(ctx, group(rs.URL+"/charts", "mirror", nil))
	if err != nil || res.Charts != 1 || res.Versions != 2 || res.Copied != 2 || res.Failed != 0 {
		t.Fatalf("first sync: %+v %v", res, err)
	}
	if !st.Has(ctx, "mirror", "hello", "1.0.0") || !st.Has(ctx, "mirror", "hello", "1.1.0") {
		t.Fatalf("stored: %v", st.charts)
	}
	// Again: nothing to copy, and no archive fetched.
	before := rs.requests.Load()
	res, err = im.Sync(ctx, group(rs.URL+"/charts", "mirror", nil))
	if err != nil || res.Copied != 0 || res.Skipped != 2 || rs.requests.Load() != before+1 {
		t.Fatalf("second sync: %+v %v (%d requests)", res, err, rs.requests.Load()-before)
	}
	// Only the newest version when asked.
	im2, st2, _ := setUp(t)
	cg := group(rs.URL+"/charts", "mirror", nil)
	cg.Spec.ImportedInfo.LatestVersions = 1
	if res, err := im2.Sync(ctx, cg); err != nil || res.Copied != 1 || !st2.Has(ctx, "mirror", "hello", "1.1.0") {
		t.Fatalf("latest only: %+v %v %v", res, err, st2.charts)
	}
}

func TestSyncRefusals(t *testing.T) {
	rs := newRepo(t)
	garbage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("<html>hi</html>")) }))
	defer garbage.Close()
	redirect := httptest.NewServer(http.RedirectHandler("http://elsewhere.example/", http.StatusFound))
	defer redirect.Close()
	ctx := context.Background()
	for _, tt := range []struct {
		what string
		cg   *registryv1.ChartGroup
		dial *dialcheck.Policy
		want string
	}{
		{"no credentials", group(rs.URL+"/charts", "", nil), nil, "asks for credentials"},
		{"wrong user", group(rs.URL+"/charts", "someone", nil), nil, "refused the credentials of user someone"},
		{"garbage", group(garbage.URL, "", nil), nil, "is not a Helm chart repository"},
		{"a redirect", group(redirect.URL, "", nil), nil, "redirects are not followed"},
		{"nothing listening", group("http://127.0.0.1:1/charts", "", nil), nil, "does not answer"},
		{"loopback not allowed", group(rs.URL+"/charts", "mirror", nil), &dialcheck.Policy{}, "loopback"},
	} {
		im, st, _ := setUp(t)
		if tt.dial != nil {
			im.Dial = tt.dial
		}
		if tt.what == "wrong user" {
			// The Secret holds "pw", which user someone does not have.
			tt.cg.Spec.ImportedInfo.PasswordSecret = SecretName("mirror")
		}
		if _, err := im.Sync(ctx, tt.cg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error with %q", tt.what, err, tt.want)
		}
		if len(st.charts) != 0 {
			t.Errorf("%s: stored %v", tt.what, st.charts)
		}
	}
	// A version whose archive is not the index's digest is counted, and the
	// others are copied.
	rs.corrupt = true
	im, st, _ := setUp(t)
	res, err := im.Sync(ctx, group(rs.URL+"/charts", "mirror", nil))
	if err != nil || res.Copied != 1 || res.Failed != 1 || len(res.Errors) != 1 || !strings.Contains(res.Errors[0], "sha256") || st.Has(ctx, "mirror", "hello", "1.1.0") {
		t.Fatalf("a corrupt archive: %+v %v", res, err)
	}
}

// TestReconcile: a group is synced when never tried, or when its interval
// has passed since the last attempt, and not otherwise; the status says
// how it went.
func TestReconcile(t *testing.T) {
	rs := newRepo(t)
	hour, zero := time.Hour, time.Duration(0)
	now := time.Now()
	req := ctrl.Request{NamespacedName: client.ObjectKey{Name: "mirror"}}
	ctx := context.Background()

	for _, tt := range []struct {
		what      string
		every     *time.Duration
		lastTried time.Duration // how long ago (0: never)
		synced    bool
		requeue   time.Duration // about
	}{
		{"never tried, hourly", &hour, 0, true, time.Hour},
		{"tried 10m ago, hourly", &hour, 10 * time.Minute, false, 50 * time.Minute},
		{"tried 2h ago, hourly", &hour, 2 * time.Hour, true, time.Hour},
		{"never tried, on demand only", &zero, 0, true, 0},
		{"tried, on demand only", &zero, 2 * time.Hour, false, 0},
		{"tried 30m ago, default interval", nil, 30 * time.Minute, false, 30 * time.Minute},
	} {
		cg := group(rs.URL+"/charts", "mirror", tt.every)
		if tt.lastTried > 0 {
			at := metav1.NewTime(now.Add(-tt.lastTried))
			cg.Status.LastSyncAttempt = &at
		}
		im, st, c := setUp(t, cg)
		r := &Reconciler{Client: c, Importer: im, now: func() time.Time { return now },
			Count: func(context.Context, string) (int, error) { return 1, nil }}
		res, err := r.Reconcile(ctx, req)
		if err != nil {
			t.Fatalf("%s: %v", tt.what, err)
		}
		if got := len(st.charts) > 0; got != tt.synced {
			t.Errorf("%s: synced %v, want %v", tt.what, got, tt.synced)
		}
		if d := res.RequeueAfter - tt.requeue; d < -time.Second || d > time.Second {
			t.Errorf("%s: requeue after %v, want about %v", tt.what, res.RequeueAfter, tt.requeue)
		}
		var got registryv1.ChartGroup
		if err := c.Get(ctx, req.NamespacedName, &got); err != nil {
			t.Fatal(err)
		}
		if tt.synced && (got.Status.Phase != registryv1.ChartGroupReady || got.Status.ChartCount != 1 || !strings.Contains(got.Status.Message, "2 copied")) {
			t.Errorf("%s: status after the sync: %+v", tt.what, got.Status)
		}
	}

	// A failed sync is recorded, with the reason.
	cg := group("http://127.0.0.1:1/charts", "", &hour)
	im, _, c := setUp(t, cg)
	if _, err := (&Reconciler{Client: c, Importer: im}).Reconcile(ctx, req); err != nil {
		t.Fatal(err)
	}
	var got registryv1.ChartGroup
	if err := c.Get(ctx, req.NamespacedName, &got); err != nil {
		t.Fatal(err)
	}
	if got.Status.Phase != registryv1.ChartGroupFailed || !strings.Contains(got.Status.Message, "does not answer") || got.Status.LastSyncAttempt == nil || got.Status.LastSyncTime != nil {
		t.Fatalf("status after a failed sync: %+v", got.Status)
	}
}
