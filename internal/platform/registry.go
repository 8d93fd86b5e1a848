package platform

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/applicationapi"
	"github.com/kstack/kstack/internal/auth/decision"
	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/chartimport"
	"github.com/kstack/kstack/internal/chartstore"
	"github.com/kstack/kstack/internal/clustercache"
	"github.com/kstack/kstack/internal/dialcheck"
	"github.com/kstack/kstack/internal/gateway"
	"github.com/kstack/kstack/internal/registry"
	"github.com/kstack/kstack/internal/registryapi"
	"github.com/kstack/kstack/internal/registryauth"
)

// RegistryOptions configure the image registry served at the gateway's /v2/.
type RegistryOptions struct {
	// Dir is the registry's storage on the local disk ("" and no S3: the
	// registry is off).
	Dir string
	// S3Bucket, when set, stores the registry in S3 instead (distribution's
	// s3-aws driver); the other S3 fields go with it.
	S3Bucket, S3Endpoint, S3Region, S3RootDirectory string
	// S3AccessKeyFile holds "ACCESS_KEY:SECRET_KEY" (not a flag value, so
	// that it never shows in a process list).
	S3AccessKeyFile string
	// MaxManifestBytes and MaxBlobBytes bound what one push may store.
	MaxManifestBytes, MaxBlobBytes int64
	// GCInterval is how often the leader collects unreferenced blobs (0:
	// only on request); GCGrace keeps blobs touched that recently.
	GCInterval, GCGrace time.Duration
	// PullRotation is how often a project's pull credential is replaced;
	// PullGrace how long the one before it still works.
	PullRotation, PullGrace time.Duration
	// AppStaleAfter: a Helm application's operation not renewed for that
	// long was interrupted, and the leader recovers its release.
	AppStaleAfter time.Duration
}

// DefaultRegistryOptions are the flags' defaults.
func DefaultRegistryOptions() RegistryOptions {
	return RegistryOptions{MaxManifestBytes: 4 << 20, MaxBlobBytes: 10 << 30, GCInterval: 24 * time.Hour, GCGrace: time.Hour,
		PullRotation: 24 * time.Hour, PullGrace: time.Hour, AppStaleAfter: 45 * time.Second}
}

func (o RegistryOptions) enabled() bool { return o.Dir != "" || o.S3Bucket != "" }

// check refuses settings the registry would misread.
func (o RegistryOptions) check() error {
	switch {
	case o.MaxManifestBytes <= 0:
		return fmt.Errorf("--registry-max-manifest-size %d: want a positive number of bytes (default 4 MiB)", o.MaxManifestBytes)
	case o.MaxBlobBytes <= 0:
		return fmt.Errorf("--registry-max-blob-size %d: want a positive number of bytes (default 10 GiB)", o.MaxBlobBytes)
	case o.GCInterval < 0:
		return fmt.Errorf("--registry-gc-interval %s: want 0 (only on request) or a positive duration such as 24h", o.GCInterval)
	case o.GCGrace < time.Second:
		return fmt.Errorf("--registry-gc-grace %s: want at least 1s (blobs a client touched that recently are never collected; 1h outside tests)", o.GCGrace)
	case o.PullRotation <= 0:
		return fmt.Errorf("--registry-pull-rotation %s: want a positive duration such as 24h", o.PullRotation)
	case o.PullGrace < 0 || o.PullGrace > o.PullRotation:
		return fmt.Errorf("--registry-pull-grace %s: want 0 or more, at most --registry-pull-rotation %s", o.PullGrace, o.PullRotation)
	case o.AppStaleAfter < 4*time.Second:
		return fmt.Errorf("--app-operation-stale-after %s: want at least 4s (a running operation renews every quarter of it; 45s outside tests)", o.AppStaleAfter)
	case o.S3Bucket == "" && (o.S3Endpoint != "" || o.S3AccessKeyFile != "" || o.S3Region != ""):
		return fmt.Errorf("the --registry-s3-* flags need --registry-s3-bucket")
	}
	return nil
}

// s3Keys reads --registry-s3-access-key-file: "ACCESS_KEY:SECRET_KEY".
func (o RegistryOptions) s3Keys() (access, secret string, err error) {
	if o.S3AccessKeyFile == "" {
		return "", "", nil
	}
	data, err := os.ReadFile(o.S3AccessKeyFile)
	if err != nil {
		return "", "", fmt.Errorf("reading --registry-s3-access-key-file: %w", err)
	}
	access, secret, ok := strings.Cut(strings.TrimSpace(string(data)), ":")
	if !ok || access == "" || secret == "" {
		return "", "", fmt.Errorf("--registry-s3-access-key-file %s: want one line ACCESS_KEY:SECRET_KEY", o.S3AccessKeyFile)
	}
	return access, secret, nil
}

// gcPauseEnv names a file: while it exists, a garbage collection waits
// between its mark and its sweep (end-to-end tests of the push race).
const gcPauseEnv = "KSTACK_REGISTRY_GC_PAUSE_FILE"

func waitWhileExists(path string, limit time.Duration) {
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(path); err != nil {
			return
		}
	}
}

// registryWiring is the registry's pieces: the storage and handlers, the
// token service, the projects' pull credentials.
type registryWiring struct {
	reg  *registry.Registry
	auth *registryauth.Service
	pull *registryauth.PullCredentials
	// host is host:port of the registry as clients name it (the external URL's).
	host string
	// charts are the chart groups' charts in the registry.
	charts *chartstore.Store
	// appStaleAfter is RegistryOptions.AppStaleAfter.
	appStaleAfter time.Duration
}

// handler serves the token endpoint and /v2/ for the gateway.
func (w *registryWiring) handler() http.Handler {
	v2 := w.reg.Handler()
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path == gateway.RegistryTokenPath {
			w.auth.ServeToken(rw, r)
			return
		}
		v2.ServeHTTP(rw, r)
	})
}

// wireRegistry builds the registry, unless it is off (no --registry-dir
// and no bucket).
func (r *runner) wireRegistry(ctx context.Context, dec *decision.Decider, dir *directory.Directory) (*registryWiring, error) {
	o := r.o.Registry
	if err := o.check(); err != nil {
		return nil, err
	}
	if !o.enabled() {
		r.log.Info("the image registry is off: give --registry-dir or --registry-s3-bucket to serve it")
		return nil, nil
	}
	u, err := url.Parse(r.o.ExternalURL)
	if err != nil {
		return nil, err
	}
	mgr := r.mgr
	svc := &registryauth.Service{
		Keys: r.keys, Issuer: r.issuer, Client: mgr.GetClient(), Reader: mgr.GetAPIReader(),
		Decider: dec, Dir: dir, Authn: r.auth, SystemNamespace: SystemNamespace,
		Log: r.log.With("component", "registry-token"),
		// The same check as the login page (LDAP, local users, lockout);
		// the provider is made after the groups, so it is read late.
		Passwords: func(ctx context.Context, tenant, username, password string) error {
			op := r.op.Load()
			if op == nil {
				return errors.New("the platform's login service is still starting: try again in a moment")
			}
			_, _, err := op.PasswordLogin(ctx, tenant, username, password)
			return err
		},
	}
	secret, err := registryHTTPSecret(ctx, r.cs)
	if err != nil {
		return nil, err
	}
	cfg := registry.Config{
		RootDir: o.Dir, Secret: secret, Realm: strings.TrimSuffix(r.o.ExternalURL, "/") + gateway.RegistryTokenPath,
		Service: registryauth.Audience, Auth: svc,
		MaxManifestBytes: o.MaxManifestBytes, MaxBlobBytes: o.MaxBlobBytes, GCGrace: o.GCGrace,
		Log: r.log.With("component", "registry"),
	}
	if f := os.Getenv(gcPauseEnv); f != "" {
		// Tests only: hold each collection after its mark while the file
		// exists; FILE.marked tells the test the mark is done.
		cfg.AfterMark = func() {
			_ = os.WriteFile(f+".marked", nil, 0o600)
			waitWhileExists(f, 10*time.Minute)
		}
	}
	if o.S3Bucket != "" {
		access, secret, err := o.s3Keys()
		if err != nil {
			return nil, err
		}
		cfg.S3 = &registry.S3{Endpoint: o.S3Endpoint, Region: o.S3Region, Bucket: o.S3Bucket, RootDirectory: o.S3RootDirectory,
			AccessKey: access, SecretKey: secret, ForcePathStyle: o.S3Endpoint != ""}
	}
	reg, err := registry.New(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("starting the image registry: %w", err)
	}
	pull := &registryauth.PullCredentials{Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), SystemNamespace: SystemNamespace,
		Rotation: o.PullRotation, Grace: o.PullGrace}
	charts, err := chartstore.New(reg, u.Host)
	if err != nil {
		return nil, fmt.Errorf("starting the chart store: %w", err)
	}
	w := &registryWiring{reg: reg, auth: svc, pull: pull, host: u.Host, charts: charts, appStaleAfter: o.AppStaleAfter}
	// A RunnableFunc runs on the leader only.
	log := r.log.With("component", "registry-gc")
	if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error { return w.collect(ctx, o.GCInterval, log) })); err != nil {
		return nil, err
	}
	return w, nil
}

// applications is the application group; with the registry off there are
// no charts to install.
func (w *registryWiring) applications(env apigroup.Env, cache *clustercache.Cache, projectOf func(context.Context, string, string) string) *applicationapi.Module {
	m := &applicationapi.Module{Env: env, Cache: cache, ProjectOf: projectOf}
	if w != nil {
		m.Charts, m.StaleAfter = w.charts, w.appStaleAfter
	}
	return m
}

// module is the registry group, with the registry when it is on.
func (w *registryWiring) module(env apigroup.Env, dial *dialcheck.Policy) *registryapi.Module {
	m := &registryapi.Module{Env: env, Dial: dial}
	if w == nil {
		return m
	}
	m.Store, m.ErrNotFound, m.Pull, m.RegistryHost = w.reg, registry.ErrNotFound, w.pull, w.host
	m.PullController = w.pull.SetupWithManager
	m.Charts, m.ErrChartNotFound = w.charts, chartstore.ErrNotFound
	m.Importer = &chartimport.Importer{Store: w.charts, Dial: dial, Reader: env.Reader, SystemNamespace: env.SystemNamespace,
		Log: env.Log.With("component", "chart-import")}
	return m
}

// collect runs the garbage collector on the leader every interval.
func (w *registryWiring) collect(ctx context.Context, interval time.Duration, log *slog.Logger) error {
	if interval <= 0 {
		return nil
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		res, err := w.reg.GC(ctx)
		if err != nil {
			log.Warn("registry garbage collection failed", "err", err)
			continue
		}
		log.Info("registry garbage collection", "marked", res.Marked, "deleted", res.Deleted, "deletedBytes", res.DeletedBytes, "kept", res.Kept)
	}
}

// user is whom a registry request is from, for its audit record: the
// verified token's holder, or, for a token request, the username it gives
// (as given: the record's code says whether the login worked).
func (w *registryWiring) user(r *http.Request) *directory.Principal {
	if r.URL.Path == gateway.RegistryTokenPath {
		// (An OAuth2 form's body was read by the token service: its
		// username is not known here.)
		name, _, ok := r.BasicAuth()
		if !ok || name == "" {
			return nil
		}
		tenant, user, ok := strings.Cut(name, ".")
		if !ok {
			tenant, user = "default", name
		}
		return &directory.Principal{Username: user, Tenant: tenant, Method: "registry-login"}
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return nil
	}
	c, err := w.auth.Verify(r.Context(), strings.TrimSpace(tok))
	if err != nil || c.Subject == "" {
		return nil
	}
	if c.Project != "" {
		return &directory.Principal{Username: registryauth.PullUsername(c.Project), Tenant: c.Tenant, Method: "registry-token"}
	}
	_, user, _ := strings.Cut(c.Subject, ".")
	return &directory.Principal{Username: user, Tenant: c.Tenant, Method: "registry-token"}
}

// registryHTTPSecret is the key that signs the state of resumable uploads,
// shared by the replicas (an upload may move between them), kept in a
// Secret of the platform's namespace.
func registryHTTPSecret(ctx context.Context, cs kubernetes.Interface) (string, error) {
	const name, key = "registry-http-secret", "secret"
	secrets := cs.CoreV1().Secrets(SystemNamespace)
	for range 3 {
		s, err := secrets.Get(ctx, name, metav1.GetOptions{})
		if err == nil && len(s.Data[key]) >= 32 {
			return string(s.Data[key]), nil
		}
		if err != nil && !apierrors.IsNotFound(err) {
			return "", fmt.Errorf("reading Secret %s/%s: %w", SystemNamespace, name, err)
		}
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return "", err
		}
		_, err = secrets.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name},
			Data: map[string][]byte{key: []byte(hex.EncodeToString(b))}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return "", fmt.Errorf("creating Secret %s/%s: %w", SystemNamespace, name, err)
		}
	}
	return "", fmt.Errorf("Secret %s/%s holds no usable key: delete it and restart", SystemNamespace, name)
}
