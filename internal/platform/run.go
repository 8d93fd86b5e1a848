// Package platform runs the kstack platform: `kstack up` (the embedded
// control plane, the platform process and optional demo clusters) and
// `kstack platform run` (the platform process alone, against any
// kube-apiserver, which is also how highly available replicas run).
package platform

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	authv1 "github.com/kstack/kstack/api/auth/v1"
	businessv1 "github.com/kstack/kstack/api/business/v1"
	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/auth/authn"
	"github.com/kstack/kstack/internal/auth/decision"
	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/auth/oidcprovider"
	"github.com/kstack/kstack/internal/auth/signing"
	"github.com/kstack/kstack/internal/clustercache"
	"github.com/kstack/kstack/internal/clusterimport"
	"github.com/kstack/kstack/internal/console"
	"github.com/kstack/kstack/internal/controllers/businessnamespace"
	clustercontroller "github.com/kstack/kstack/internal/controllers/cluster"
	"github.com/kstack/kstack/internal/controllers/globalcluster"
	projectcontroller "github.com/kstack/kstack/internal/controllers/project"
	"github.com/kstack/kstack/internal/controllers/virtualnodeset"
	"github.com/kstack/kstack/internal/gateway"
	"github.com/kstack/kstack/internal/version"
)

// SystemNamespace holds the platform's own objects (leases, secrets).
const SystemNamespace = "kstack-system"

// RunOptions configure the platform process.
type RunOptions struct {
	Kubeconfig  string
	Listen      string
	TLSCertFile string
	TLSKeyFile  string
	LeaderElect bool
	// ClientCAFile verifies client certificates presented to the gateway.
	ClientCAFile string
	// AdminTokenFile holds the administrator's bearer token.
	AdminTokenFile string
	// ExternalURL is how people reach the gateway; the OpenID issuer is
	// ExternalURL + "/oidc".
	ExternalURL string
	// OIDCClientsFile registers further OAuth clients (JSON).
	OIDCClientsFile     string
	AccessTokenLifetime time.Duration
	SessionLifetime     time.Duration
	MaxFailedLogins     int
	LockDuration        time.Duration
	// KeyRotation is how often the token signing key is replaced.
	KeyRotation time.Duration
	// VirtualNodeIP is where member clusters reach the virtual nodes this
	// platform runs (kubelet endpoints, webhook).
	VirtualNodeIP string
}

// Scheme knows the built-in kinds and kstack's own.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = platformv1.AddToScheme(s)
	_ = authv1.AddToScheme(s)
	_ = businessv1.AddToScheme(s)
	return s
}

// Run runs the platform process until ctx is done.
func Run(ctx context.Context, o RunOptions) error {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctrl.SetLogger(logr.FromSlogHandler(log.Handler()))
	cfg, err := clientcmd.BuildConfigFromFlags("", o.Kubeconfig)
	if err != nil {
		return fmt.Errorf("reading --kubeconfig %s: %w", o.Kubeconfig, err)
	}
	// client-go's default (5 QPS; controller-runtime's 20) throttled logins,
	// which each write a session and the user's status, to about 5 a second.
	cfg.QPS, cfg.Burst = 300, 600
	cert, err := tls.LoadX509KeyPair(o.TLSCertFile, o.TLSKeyFile)
	if err != nil {
		return fmt.Errorf("loading the gateway's TLS certificate (%s, %s): %w", o.TLSCertFile, o.TLSKeyFile, err)
	}
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if o.ClientCAFile != "" {
		pem, err := os.ReadFile(o.ClientCAFile)
		if err != nil {
			return fmt.Errorf("reading --client-ca-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("--client-ca-file %s holds no PEM certificate", o.ClientCAFile)
		}
		tlsCfg.ClientCAs, tlsCfg.ClientAuth = pool, tls.VerifyClientCertIfGiven
	}
	if o.ExternalURL == "" {
		_, port, _ := net.SplitHostPort(o.Listen)
		o.ExternalURL = "https://127.0.0.1:" + port
	}
	if u, err := url.Parse(o.ExternalURL); err != nil || u.Scheme != "https" || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return fmt.Errorf("invalid --external-url %q: want an https URL such as https://kstack.example.com:8443", o.ExternalURL)
	}
	issuer := strings.TrimSuffix(o.ExternalURL, "/") + "/oidc"
	auth := &authn.Authenticator{Issuer: issuer, Audiences: []string{oidcprovider.ConsoleClientID, oidcprovider.CLIClientID}}
	if o.AdminTokenFile != "" {
		tok, err := os.ReadFile(o.AdminTokenFile)
		if err != nil {
			return fmt.Errorf("reading --admin-token-file: %w", err)
		}
		auth.AdminTokenHash = sha256.Sum256(bytes.TrimSpace(tok))
	}
	var extraClients []oidcprovider.Client
	if o.OIDCClientsFile != "" {
		if extraClients, err = oidcprovider.LoadClients(o.OIDCClientsFile); err != nil {
			return err
		}
		for _, c := range extraClients {
			auth.Audiences = append(auth.Audiences, c.ID)
		}
	}
	gw := &gateway.Server{
		Listen:          o.Listen,
		TLS:             tlsCfg,
		Version:         version.Version,
		Log:             log.With("component", "gateway"),
		Auth:            auth,
		SystemNamespace: SystemNamespace,
	}
	if err := gw.Bind(); err != nil {
		return err
	}

	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	if err := bootstrap(ctx, cs); err != nil {
		return err
	}
	if err := InstallCRDs(ctx, cfg); err != nil {
		return err
	}
	if err := ensureAdminsBinding(ctx, cs); err != nil {
		return err
	}
	keys := &signing.Keys{Client: cs, Namespace: SystemNamespace, RotateAfter: o.KeyRotation, Retain: o.SessionLifetime + time.Hour}
	if err := keys.Sync(ctx); err != nil {
		return err
	}
	direct, err := client.New(cfg, client.Options{Scheme: Scheme()})
	if err != nil {
		return err
	}
	if err := directory.EnsurePredefined(ctx, direct); err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        Scheme(),
		Metrics:                       metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress:        "0",
		LeaderElection:                o.LeaderElect,
		LeaderElectionID:              "kstack-platform",
		LeaderElectionNamespace:       SystemNamespace,
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		return fmt.Errorf("creating the controller manager: %w", err)
	}
	var synced atomic.Bool
	if err := mgr.Add(cacheSynced{mgr: mgr, synced: &synced}); err != nil {
		return err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	if err := (&globalcluster.Reconciler{Client: mgr.GetClient(), Discovery: dc}).SetupWithManager(mgr); err != nil {
		return err
	}
	cache := clustercache.New(nil)
	if err := (&clustercontroller.Reconciler{Client: mgr.GetClient(), Cache: cache}).SetupWithManager(mgr); err != nil {
		return err
	}
	if err := (&businessnamespace.Reconciler{Client: mgr.GetClient(), Cache: cache}).SetupWithManager(mgr); err != nil {
		return err
	}
	if err := (&projectcontroller.Reconciler{Client: mgr.GetClient()}).SetupWithManager(mgr); err != nil {
		return err
	}
	vnLog := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("controller", "virtualnodeset")
	if err := (&virtualnodeset.Reconciler{Client: mgr.GetClient(), Cache: cache, NodeIP: o.VirtualNodeIP, Log: vnLog}).SetupWithManager(mgr); err != nil {
		return err
	}
	global, err := gateway.TransportTarget(cfg, true)
	if err != nil {
		return err
	}
	gw.Targets = targets{global: global, cache: cache, client: mgr.GetClient()}
	gw.CachedPodNames = func(cluster, namespace string) ([]string, bool) {
		e, ok := cache.Get(cluster)
		if !ok {
			return nil, false
		}
		return e.PodNames(namespace)
	}
	dir := &directory.Directory{Client: mgr.GetClient(), Reader: mgr.GetAPIReader()}
	auth.Dir, auth.Keys = dir, keys
	gw.Decider = &decision.Decider{Dir: dir, ProjectOf: func(ctx context.Context, cluster, namespace string) string {
		var l businessv1.NamespaceList
		if err := mgr.GetClient().List(ctx, &l, client.MatchingFields{businessnamespace.IndexClusterNamespace: businessnamespace.Key(cluster, namespace)}); err != nil || len(l.Items) == 0 {
			return ""
		}
		return l.Items[0].Spec.ProjectName
	}}
	gw.Client, gw.Reader, gw.Mapper = mgr.GetClient(), mgr.GetAPIReader(), mgr.GetRESTMapper()
	op := &oidcprovider.Provider{
		Issuer: issuer, Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), Dir: dir, Keys: keys,
		Namespace: SystemNamespace, Log: log.With("component", "oidc"),
		AccessTokenLifetime: o.AccessTokenLifetime, SessionLifetime: o.SessionLifetime,
		MaxFailedLogins: int32(o.MaxFailedLogins), LockDuration: o.LockDuration,
		ConsoleRedirectURIs: []string{strings.TrimSuffix(o.ExternalURL, "/") + "/console/callback"},
		ExtraClients:        extraClients,
	}
	if err := op.Start(); err != nil {
		return err
	}
	gw.OIDC = op.Handler()
	con := &console.Server{
		ExternalURL: o.ExternalURL, Issuer: issuer, OIDC: op.Handler(), Authenticate: auth.Token,
		Serve: gw.ServeAs, PlatformConfig: gw.PlatformConfig, MemberConfig: gw.MemberConfig, Clusters: gw.VisibleClusters, PodNames: gw.PodNames,
		Decider: gw.Decider, Scheme: Scheme(), Mapper: mgr.GetRESTMapper(),
		Log: log.With("component", "console"), Version: version.Version,
	}
	if err := con.Init(); err != nil {
		return err
	}
	gw.Console = con
	if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		go op.Run(ctx)
		keys.Run(ctx, 30*time.Second, func(err error) { log.Warn("syncing signing keys", "err", err) })
		return nil
	})); err != nil {
		return err
	}
	gw.Import = func(ctx context.Context, r *clusterimport.Request, t platformv1.ClusterType) (*platformv1.Cluster, error) {
		return clusterimport.Import(ctx, mgr.GetClient(), r, t)
	}
	gw.UpdateCredential = func(ctx context.Context, id string, r *clusterimport.Request) (*platformv1.Cluster, error) {
		return clusterimport.UpdateCredential(ctx, mgr.GetClient(), id, r)
	}
	gw.Checks = []gateway.Check{
		{Name: "kube-apiserver", Func: func(ctx context.Context) error {
			_, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
			return err
		}},
		{Name: "informers-synced", Func: func(context.Context) error {
			if !synced.Load() {
				return fmt.Errorf("caches not synced yet")
			}
			return nil
		}},
	}
	if err := mgr.Add(gw); err != nil {
		return err
	}
	log.Info("platform starting", "listen", o.Listen, "leaderElection", o.LeaderElect)
	return mgr.Start(ctx)
}

// bootstrap makes what the manager needs before it starts: the system
// namespace and the CRDs.
func bootstrap(ctx context.Context, cs kubernetes.Interface) error {
	deadline := time.Now().Add(time.Minute)
	for {
		_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: SystemNamespace}}, metav1.CreateOptions{})
		if err == nil || apierrors.IsAlreadyExists(err) {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("creating namespace %s: %w", SystemNamespace, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
	return nil
}

// ensureAdminsBinding lets the gateway's impersonated requests into the
// global cluster pass its RBAC: administrators' (gateway.AdminsGroup) and,
// for the platform API only, everyone else's (platformv1.ProxyGroup), since
// the gateway's decision point has already decided on them.
func ensureAdminsBinding(ctx context.Context, cs kubernetes.Interface) error {
	for name, group := range map[string]string{"kstack-admins": gateway.AdminsGroup, platformv1.MemberBindingName: platformv1.ProxyGroup} {
		crb := &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{platformv1.LabelManagedBy: platformv1.ManagedByValue}},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: group}},
		}
		_, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating ClusterRoleBinding %s: %w", name, err)
		}
	}
	return nil
}

// targets resolves cluster names for the gateway's proxy.
type targets struct {
	global *gateway.Target
	cache  *clustercache.Cache
	client client.Client
}

func (t targets) Target(name string) (*gateway.Target, error) {
	if name == platformv1.GlobalClusterName {
		return t.global, nil
	}
	var cls platformv1.Cluster
	if err := t.client.Get(context.Background(), client.ObjectKey{Name: name}, &cls); err != nil {
		return nil, fmt.Errorf("no cluster %q on the platform", name)
	}
	e, ok := t.cache.Get(name)
	if !ok {
		return nil, fmt.Errorf("cluster %s is not connected yet (phase %q)", name, cls.Status.Phase)
	}
	u, err := url.Parse(e.Config.Host)
	if err != nil {
		return nil, err
	}
	return &gateway.Target{Server: u, Transport: e.Transport, Locked: cls.Spec.Locked, Tenant: cls.Spec.TenantID}, nil
}

type cacheSynced struct {
	mgr    ctrl.Manager
	synced *atomic.Bool
}

func (c cacheSynced) NeedLeaderElection() bool { return false }

func (c cacheSynced) Start(ctx context.Context) error {
	if c.mgr.GetCache().WaitForCacheSync(ctx) {
		c.synced.Store(true)
	}
	<-ctx.Done()
	return nil
}
