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
	"net/netip"
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
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/addons/catalog"
	"github.com/kstack/kstack/internal/admissionwebhook"
	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/auditapi"
	"github.com/kstack/kstack/internal/auth/authn"
	"github.com/kstack/kstack/internal/auth/decision"
	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/auth/oidcprovider"
	"github.com/kstack/kstack/internal/auth/signing"
	"github.com/kstack/kstack/internal/authapi"
	"github.com/kstack/kstack/internal/businessapi"
	"github.com/kstack/kstack/internal/clock"
	"github.com/kstack/kstack/internal/clusteraddon"
	"github.com/kstack/kstack/internal/clustercache"
	"github.com/kstack/kstack/internal/console"
	"github.com/kstack/kstack/internal/dialcheck"
	"github.com/kstack/kstack/internal/eventapi"
	"github.com/kstack/kstack/internal/gateway"
	"github.com/kstack/kstack/internal/logagentapi"
	"github.com/kstack/kstack/internal/monitorapi"
	"github.com/kstack/kstack/internal/notifyapi"
	"github.com/kstack/kstack/internal/platformapi"
	"github.com/kstack/kstack/internal/platformscheme"
	"github.com/kstack/kstack/internal/recordstore"
	"github.com/kstack/kstack/internal/selfmetrics"
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
	// Controllers enables and disables controllers by name ("*", "-name").
	Controllers []string
	// WebhookListen is where the kube-apiserver calls this replica's
	// admission webhook (the checks on stored objects).
	WebhookListen string
	// WebhookClientCAFile verifies the kube-apiserver's webhook client
	// certificate; without it the webhook answers any TLS client.
	WebhookClientCAFile string
	// Records configure the record store (audit, events).
	Records RecordOptions
	// Metrics configure monitoring (the metric store, collection).
	Metrics MetricsOptions
	// Alarms configure alarm evaluation and notification delivery.
	Alarms AlarmOptions
	// Registry configures the image registry.
	Registry RegistryOptions
	// TestClockFile, for tests only, gives the add-on controllers a clock
	// read from a file (internal/clock.File).
	TestClockFile string
	// DialAllow are prefixes users may point the platform at although
	// they are loopback, link-local or the platform's own (--dial-allow).
	DialAllow []string
}

// Scheme knows the built-in kinds and kstack's own.
func Scheme() *runtime.Scheme { return platformscheme.New() }

// Run runs the platform process until ctx is done, in named phases; a
// failure names the phase it happened in.
func Run(ctx context.Context, o RunOptions) error {
	r := &runner{o: o}
	for _, ph := range []struct {
		name string
		run  func(context.Context) error
	}{
		{"configure", r.configure},
		{"open the record store", r.openRecords},
		{"open the metric store", r.openMetrics},
		{"prepare the store", r.prepareStore},
		{"create the manager", r.createManager},
		{"wire the API groups and controllers", r.wireGroups},
		{"wire the gateway", r.wireGateway},
	} {
		start := time.Now()
		if err := ph.run(ctx); err != nil {
			return fmt.Errorf("%s: %w", ph.name, err)
		}
		r.log.Debug("platform phase done", "phase", ph.name, "took", time.Since(start))
	}
	r.log.Info("platform starting", "listen", o.Listen, "leaderElection", o.LeaderElect, "controllers", r.controllers)
	return r.mgr.Start(ctx)
}

// runner holds what one phase of Run hands the next.
type runner struct {
	o            RunOptions
	log          *slog.Logger
	cfg          *rest.Config
	auth         *authn.Authenticator
	issuer       string
	extraClients []oidcprovider.Client
	gw           *gateway.Server
	cs           kubernetes.Interface
	keys         *signing.Keys
	mgr          ctrl.Manager
	synced       *atomic.Bool
	cache        *clustercache.Cache
	platform     *platformapi.Module
	controllers  []string
	webhook      *admissionwebhook.Server
	records      *records
	monitoring   *monitoring
	self         *selfmetrics.Metrics
	// op is the OpenID provider, once wireGateway made it (the registry's
	// token service checks passwords with it).
	op       atomic.Pointer[oidcprovider.Provider]
	registry *registryWiring
}

// configure reads the flags' files and binds the gateway's port, before
// anything is written.
func (r *runner) configure(context.Context) error {
	o := &r.o
	r.log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	if _, err := apigroup.SelectControllers(allControllers(), o.Controllers); err != nil {
		return err
	}
	if _, err := dialcheck.ParseAllow(o.DialAllow); err != nil {
		return err
	}
	ctrl.SetLogger(logr.FromSlogHandler(r.log.Handler()))
	cfg, err := clientcmd.BuildConfigFromFlags("", o.Kubeconfig)
	if err != nil {
		return fmt.Errorf("reading --kubeconfig %s: %w", o.Kubeconfig, err)
	}
	// client-go's default (5 QPS; controller-runtime's 20) throttled logins,
	// which each write a session and the user's status, to about 5 a second.
	cfg.QPS, cfg.Burst = 300, 600
	r.cfg = cfg
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
	r.issuer = strings.TrimSuffix(o.ExternalURL, "/") + "/oidc"
	r.auth = &authn.Authenticator{Issuer: r.issuer, Audiences: []string{oidcprovider.ConsoleClientID, oidcprovider.CLIClientID}}
	if o.AdminTokenFile != "" {
		tok, err := os.ReadFile(o.AdminTokenFile)
		if err != nil {
			return fmt.Errorf("reading --admin-token-file: %w", err)
		}
		r.auth.AdminTokenHash = sha256.Sum256(bytes.TrimSpace(tok))
	}
	if o.OIDCClientsFile != "" {
		if r.extraClients, err = oidcprovider.LoadClients(o.OIDCClientsFile); err != nil {
			return err
		}
		for _, c := range r.extraClients {
			r.auth.Audiences = append(r.auth.Audiences, c.ID)
		}
	}
	r.gw = &gateway.Server{
		Listen: o.Listen,
		TLS:    tlsCfg,
		Log:    r.log.With("component", "gateway"),
		Auth:   r.auth,
	}
	if err := r.gw.Bind(); err != nil {
		return err
	}
	// A replica is its host and its gateway's port: a restart takes over
	// its own registration.
	host, _ := os.Hostname()
	_, port, _ := net.SplitHostPort(r.gw.Addr())
	r.webhook = &admissionwebhook.Server{Replica: host + "-" + port, Log: r.log.With("component", "admission-webhook")}
	r.gw.Replica = r.webhook.Replica
	if o.WebhookListen == "" {
		o.WebhookListen = "127.0.0.1:0"
	}
	if o.WebhookClientCAFile == "" {
		r.log.Warn("no --webhook-client-ca-file: the admission webhook answers any TLS client on " + o.WebhookListen)
	}
	return r.webhook.Bind(o.WebhookListen, o.WebhookClientCAFile)
}

// prepareStore makes what the manager needs before it starts: the system
// namespace, the CRDs, the gateway's RBAC, the invariants the store keeps
// itself (ValidatingAdmissionPolicies), the signing keys and the
// predefined policies.
func (r *runner) prepareStore(ctx context.Context) error {
	cs, err := kubernetes.NewForConfig(r.cfg)
	if err != nil {
		return err
	}
	r.cs = cs
	if err := bootstrap(ctx, cs); err != nil {
		return err
	}
	if err := InstallCRDs(ctx, r.cfg); err != nil {
		return err
	}
	if err := ensureAdminsBinding(ctx, cs); err != nil {
		return err
	}
	if err := ensureInvariants(ctx, cs); err != nil {
		return err
	}
	r.keys = &signing.Keys{Client: cs, Namespace: SystemNamespace, RotateAfter: r.o.KeyRotation, Retain: r.o.SessionLifetime + time.Hour}
	if err := r.keys.Sync(ctx); err != nil {
		return err
	}
	direct, err := client.New(r.cfg, client.Options{Scheme: Scheme()})
	if err != nil {
		return err
	}
	return directory.EnsurePredefined(ctx, direct)
}

func (r *runner) createManager(context.Context) error {
	mgr, err := ctrl.NewManager(r.cfg, ctrl.Options{
		Scheme:                        Scheme(),
		Metrics:                       metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress:        "0",
		LeaderElection:                r.o.LeaderElect,
		LeaderElectionID:              "kstack-platform",
		LeaderElectionNamespace:       SystemNamespace,
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		return fmt.Errorf("creating the controller manager: %w", err)
	}
	r.mgr, r.synced = mgr, &atomic.Bool{}
	return mgr.Add(cacheSynced{mgr: mgr, synced: r.synced})
}

// wireGroups builds the API groups from one list, registers their indexes
// and sets up the controllers that --controllers enables.
func (r *runner) wireGroups(ctx context.Context) error {
	mgr := r.mgr
	dc, err := discovery.NewDiscoveryClientForConfig(r.cfg)
	if err != nil {
		return err
	}
	r.cache = clustercache.New(nil)
	dir := &directory.Directory{Client: mgr.GetClient(), Reader: mgr.GetAPIReader()}
	r.auth.Dir, r.auth.Keys = dir, r.keys
	dec := &decision.Decider{Dir: dir}
	env := apigroup.Env{Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), Decider: dec, Host: r.gw,
		SystemNamespace: SystemNamespace, Log: r.log.With("component", "gateway")}
	r.platform = &platformapi.Module{Env: env, Cache: r.cache, Discovery: dc, VirtualNodeIP: r.o.VirtualNodeIP,
		VirtualNodeLog: slog.New(slog.NewTextHandler(os.Stderr, nil)).With("controller", "virtualnodeset")}
	ck, err := clock.FromFlag(r.o.TestClockFile)
	if err != nil {
		return fmt.Errorf("--test-clock-file: %w", err)
	}
	r.platform.Addons = &clusteraddon.Addons{Env: env, Cache: r.cache, Catalog: catalog.All(), Clock: ck,
		ControllerLog: slog.New(slog.NewTextHandler(os.Stderr, nil)).With("controller", "cluster-addon")}
	business := &businessapi.Module{Env: env, Cache: r.cache}
	// Project policies apply in a member namespace that a project owns.
	dec.ProjectOf = business.ProjectOf
	if r.registry, err = r.wireRegistry(ctx, dec, dir); err != nil {
		return err
	}
	if r.registry != nil {
		business.RegistryHost, business.PullCredential = r.registry.host, r.registry.pull.Current
	}
	var rw recordWiring
	if r.records != nil {
		rw = recordWiring{store: r.records.store, sink: r.records.writer}
	}
	rw.cache, rw.projectOf, rw.global, rw.registry = r.cache, business.ProjectOf, r.cs, r.registry
	if rw.dial, err = r.dialPolicy(); err != nil {
		return err
	}
	rw.monitor = r.monitorModule()
	rw.monitor.Env = env
	rw.monitor.GroupInterval = r.o.Alarms.GroupInterval
	if rw.alarms, err = r.wireAlarms(rw.dial); err != nil {
		return err
	}
	if rw.alarms != nil {
		rw.monitor.Alarms = rw.alarms.setup
	}
	groups, err := apigroup.NewRegistry(groupList(r.platform, business, env, rw)...)
	if err != nil {
		return err
	}
	for _, ix := range groups.Indexes() {
		if err := mgr.GetFieldIndexer().IndexField(context.Background(), ix.Object, ix.Field, ix.Func); err != nil {
			return fmt.Errorf("indexing %T by %s: %w", ix.Object, ix.Field, err)
		}
	}
	ctrls, err := apigroup.SelectControllers(groups.Controllers(), r.o.Controllers)
	if err != nil {
		return err
	}
	for _, c := range ctrls {
		if err := c.Setup(mgr); err != nil {
			return fmt.Errorf("controller %s: %w", c.Name, err)
		}
		r.controllers = append(r.controllers, c.Name)
	}
	dec.Hidden = groups.Hidden
	r.gw.Groups, r.gw.Decider = groups, dec
	r.webhook.Handler, r.webhook.Client = &admissionwebhook.Handler{Groups: groups, Log: r.webhook.Log}, r.cs
	if err := r.webhook.Register(ctx, r.cs, groups.Names()); err != nil {
		return err
	}
	if err := r.startRecords(); err != nil {
		return err
	}
	return mgr.Add(r.webhook)
}

// groupList is the one list of the platform's API groups, in the order
// their controllers start.
func groupList(platform *platformapi.Module, business *businessapi.Module, env apigroup.Env, rw recordWiring) []apigroup.Module {
	var sink interface {
		Add(recordstore.Record) error
	}
	if rw.sink != nil {
		sink = rw.sink
	}
	monitor := rw.monitor
	if monitor == nil {
		monitor = &monitorapi.Module{Env: env}
	}
	monitor.Records = rw.store
	notify := &notifyapi.Module{Env: env, Dial: rw.dial, Store: rw.store}
	if rw.alarms != nil {
		// Test-send works on any replica; an unset queue answers 503.
		notify.Queue = rw.alarms.queue
	}
	return []apigroup.Module{platform, &authapi.Module{Env: env}, business,
		&auditapi.Module{Env: env, Store: rw.store},
		&eventapi.Module{Env: env, Store: rw.store, Sink: sink, Cache: rw.cache, Global: rw.global, ProjectOf: rw.projectOf},
		&logagentapi.Module{Env: env, Cache: rw.cache, Dial: rw.dial},
		monitor,
		notify,
		rw.registry.module(env, rw.dial),
		rw.registry.applications(env, rw.cache, rw.projectOf),
	}
}

// recordWiring is what the record groups are built with.
type recordWiring struct {
	store     recordstore.Store
	sink      *recordstore.Writer
	cache     *clustercache.Cache
	projectOf func(ctx context.Context, cluster, namespace string) string
	dial      *dialcheck.Policy
	global    kubernetes.Interface
	monitor   *monitorapi.Module
	alarms    *alarming
	registry  *registryWiring
}

// dialPolicy is what users may point the platform at: not its own
// addresses, nor loopback or link-local ones unless --dial-allow says so.
func (r *runner) dialPolicy() (*dialcheck.Policy, error) {
	allow, err := dialcheck.ParseAllow(r.o.DialAllow)
	if err != nil {
		return nil, err
	}
	p := &dialcheck.Policy{Allow: allow}
	hosts := []string{}
	if h, _, err := net.SplitHostPort(r.gw.Addr()); err == nil {
		hosts = append(hosts, h)
		// Listening on every address: each of this machine's addresses
		// reaches the gateway.
		if a, err := netip.ParseAddr(h); err == nil && a.IsUnspecified() {
			p.Own = append(p.Own, interfaceAddrs()...)
		}
	}
	if u, err := url.Parse(r.o.ExternalURL); err == nil && u.Hostname() != "" {
		if _, err := netip.ParseAddr(u.Hostname()); err == nil {
			hosts = append(hosts, u.Hostname())
		} else if addrs, err := lookupOwn(u.Hostname()); err == nil {
			for _, a := range addrs {
				hosts = append(hosts, a.String())
			}
		}
	}
	for _, h := range hosts {
		if a, err := netip.ParseAddr(h); err == nil && !a.IsUnspecified() {
			p.Own = append(p.Own, a.Unmap())
		}
	}
	return p, nil
}

// lookupOwn resolves the platform's own host name, bounded: an unreachable
// resolver must not hold the start-up.
func lookupOwn(host string) ([]netip.Addr, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}

// interfaceAddrs are this machine's addresses.
func interfaceAddrs() []netip.Addr {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []netip.Addr
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok {
				out = append(out, ip.Unmap())
			}
		}
	}
	return out
}

// allControllers are the groups' controllers, unwired: their names are
// what --controllers knows.
func allControllers() []apigroup.Controller {
	var all []apigroup.Controller
	for _, m := range groupList(&platformapi.Module{}, &businessapi.Module{}, apigroup.Env{}, recordWiring{}) {
		all = append(all, m.Controllers()...)
	}
	return all
}

// ControllerNames are the names --controllers knows.
func ControllerNames() []string {
	var names []string
	for _, c := range allControllers() {
		names = append(names, c.Name)
	}
	return names
}

// wireGateway connects the gateway to the members, the OpenID provider
// and the console, and adds it to the manager.
func (r *runner) wireGateway(context.Context) error {
	mgr, gw, log := r.mgr, r.gw, r.log
	global, err := gateway.TransportTarget(r.cfg, true)
	if err != nil {
		return err
	}
	cache := r.cache
	gw.Targets = targets{global: global, cache: cache, client: mgr.GetClient()}
	gw.CachedPodNames = func(cluster, namespace string) ([]string, bool) {
		e, ok := cache.Get(cluster)
		if !ok {
			return nil, false
		}
		return e.PodNames(namespace)
	}
	gw.Client, gw.Reader, gw.Mapper = mgr.GetClient(), mgr.GetAPIReader(), mgr.GetRESTMapper()
	op := &oidcprovider.Provider{
		Issuer: r.issuer, Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), Dir: gw.Decider.Dir, Keys: r.keys,
		Namespace: SystemNamespace, Log: log.With("component", "oidc"),
		AccessTokenLifetime: r.o.AccessTokenLifetime, SessionLifetime: r.o.SessionLifetime,
		MaxFailedLogins: int32(r.o.MaxFailedLogins), LockDuration: r.o.LockDuration,
		ConsoleRedirectURIs: []string{strings.TrimSuffix(r.o.ExternalURL, "/") + "/console/callback"},
		ExtraClients:        r.extraClients,
	}
	if err := op.Start(); err != nil {
		return err
	}
	gw.OIDC = op.Handler()
	r.op.Store(op)
	if r.registry != nil {
		gw.Registry, gw.RegistryUser = r.registry.handler(), r.registry.user
	}
	con := &console.Server{
		ExternalURL: r.o.ExternalURL, Issuer: r.issuer, OIDC: op.Handler(), Authenticate: r.auth.Token,
		Serve:          gw.ServeAs,
		PlatformConfig: func(p *directory.Principal) *rest.Config { return platformapi.PlatformConfig(gw, p) },
		MemberConfig: func(p *directory.Principal, cluster string) *rest.Config {
			return platformapi.MemberConfig(gw, p, cluster)
		},
		Clusters: r.platform.VisibleClusters, PodNames: gw.PodNames,
		Decider: gw.Decider, Scheme: Scheme(), Mapper: mgr.GetRESTMapper(),
		Log: log.With("component", "console"), Version: version.Version,
	}
	if err := con.Init(); err != nil {
		return err
	}
	gw.Console = con
	keys := r.keys
	if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		go op.Run(ctx)
		keys.Run(ctx, 30*time.Second, func(err error) { log.Warn("syncing signing keys", "err", err) })
		return nil
	})); err != nil {
		return err
	}
	cs, synced := r.cs, r.synced
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
	return mgr.Add(gw)
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

func (t targets) Global() *gateway.Target { return t.global }

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
	return &gateway.Target{Name: name, Server: u, Transport: e.Transport, Locked: cls.Spec.Locked, Tenant: cls.Spec.TenantID}, nil
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
