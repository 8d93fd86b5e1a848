package platform

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/apiclient"
	"github.com/kstack/kstack/internal/auth/account"
	"github.com/kstack/kstack/internal/controlplane"
	"github.com/kstack/kstack/internal/datadir"
	"github.com/kstack/kstack/internal/localcluster"
	"github.com/kstack/kstack/internal/netutil"
	"github.com/kstack/kstack/internal/pki"
	"github.com/kstack/kstack/internal/supervisor"
)

// DefaultListen is the gateway's default address. It is fixed so that issued
// kubeconfigs and bookmarks stay valid across restarts.
const DefaultListen = ":8443"

// DemoClusters are the local clusters that `kstack up --demo` runs.
var DemoClusters = []string{"demo-1", "demo-2"}

// UpOptions configure `kstack up`.
type UpOptions struct {
	Data        *datadir.Dir
	Binary      string
	Listen      string
	ExternalURL string
	TLSCertFile string
	TLSKeyFile  string
	Demo        bool
	// AdminPassword is the first administrator's password ("" generates one).
	AdminPassword string
	// RecordStore is the record store's DSN ("" is SQLite in the data dir).
	RecordStore string
	// PlatformArgs are passed on to `kstack platform run`.
	PlatformArgs []string
	// Stdout gets the two lines that say where the platform is; Progress the rest.
	Stdout   io.Writer
	Progress io.Writer
	// Ready, if set, is called once the platform is ready (tests, benchmarks).
	Ready func()
}

// State is what the platform keeps about its embedded control plane.
type State struct {
	Ports controlplane.Ports `json:"ports"`
}

func layout(dataDir string) controlplane.Layout {
	return controlplane.Layout{Dir: filepath.Join(dataDir, "platform")}
}

// AdminKubeconfigPath is the break-glass kubeconfig of the platform in dataDir.
func AdminKubeconfigPath(dataDir string) string {
	return layout(dataDir).AdminKubeconfig()
}

var pkiOptions = controlplane.PKIOptions{
	Clients:        []controlplane.Identity{controlplane.AdminIdentity, controlplane.ControllerManager, controlplane.PlatformIdentity},
	EncryptSecrets: true,
}

func init() {
	// Local clusters must never take the platform's kept ports.
	localcluster.ReservedPorts = func(d *datadir.Dir) []int {
		st, err := readState(layout(d.Path))
		if err != nil {
			return nil
		}
		var out []int
		for _, p := range st.Ports.All() {
			out = append(out, p)
		}
		return out
	}
}

func statePath(l controlplane.Layout) string { return filepath.Join(l.Dir, "platform.json") }

func readState(l controlplane.Layout) (*State, error) {
	data, err := os.ReadFile(statePath(l))
	if err != nil {
		return nil, err
	}
	var st State
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("%s is damaged (%v); restore it or move the data dir aside", statePath(l), err)
	}
	return &st, nil
}

func (o *UpOptions) progress(format string, args ...any) {
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, format+"\n", args...)
	}
}

// Up runs the platform until ctx is done, then stops everything it
// started. It runs in named phases; each hands the next what it made, and
// what must be undone on the way out is undone in reverse order.
func Up(ctx context.Context, o UpOptions) error {
	u := &upRun{o: o, start: time.Now()}
	defer u.undo()
	for _, ph := range []struct {
		name string
		run  func(context.Context) error
	}{
		{"check the flags", u.checkFlags},
		{"prepare the data dir", u.prepareDataDir},
		{"certificates and credentials", u.credentials},
		{"start the control plane and the platform", u.startProcesses},
		{"the administrator", u.administrator},
		{"demo clusters", u.demoClusters},
	} {
		if err := ph.run(ctx); err != nil {
			if errors.Is(err, errInterrupted) {
				return nil
			}
			return err
		}
		if u.log != nil {
			u.log.Info("up phase done", "phase", ph.name, "since start", time.Since(u.start))
		}
	}
	// The console itself, so that the printed address opens it.
	fmt.Fprintf(o.Stdout, "Console: %s\n", strings.TrimSuffix(u.consoleURL, "/")+"/console/")
	fmt.Fprintf(o.Stdout, "Registry: %s (docker login %s; images are %s/NAMESPACE/REPOSITORY:TAG)\n", u.registryHost(), u.registryHost(), u.registryHost())
	fmt.Fprintf(o.Stdout, "Admin kubeconfig: %s\n", u.l.AdminKubeconfig())
	if o.Ready != nil {
		o.Ready()
	}
	<-ctx.Done()
	o.progress("Stopping kstack")
	return nil
}

// errInterrupted: Ctrl-C during a phase, which is not an error.
var errInterrupted = errors.New("interrupted")

// upRun is what the phases of Up share.
type upRun struct {
	o                 UpOptions
	start             time.Time
	host, port        string
	consoleURL        string
	certFile, keyFile string
	l                 controlplane.Layout
	st                *State
	log               *slog.Logger
	// cancel stops the supervised processes; undos run after it, last first.
	cancel func()
	undos  []func()
}

func (u *upRun) onExit(f func()) { u.undos = append(u.undos, f) }

func (u *upRun) undo() {
	if u.cancel != nil {
		u.cancel()
	}
	for i := len(u.undos) - 1; i >= 0; i-- {
		u.undos[i]()
	}
}

// checkFlags checks every flag before anything is written.
func (u *upRun) checkFlags(context.Context) error {
	o := &u.o
	host, port, err := net.SplitHostPort(o.Listen)
	if err != nil {
		return fmt.Errorf("invalid --listen %q: want HOST:PORT or :PORT, e.g. :8443 or 127.0.0.1:8443", o.Listen)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("invalid --listen %q: the port must be a number from 1 to 65535", o.Listen)
	}
	u.host, u.port = host, port
	if o.AdminPassword != "" {
		if err := account.ValidatePassword(o.AdminPassword); err != nil {
			return fmt.Errorf("the administrator's password (--admin-password or %s): %w", AdminPasswordEnv, err)
		}
	}
	if u.consoleURL, err = consoleURL(o.ExternalURL, host, port); err != nil {
		return err
	}
	u.certFile, u.keyFile = o.TLSCertFile, o.TLSKeyFile
	if (u.certFile == "") != (u.keyFile == "") {
		return errors.New("--tls-cert-file and --tls-key-file go together: give both, or neither for a certificate signed by the platform's CA")
	}
	if u.certFile != "" {
		if _, err := tls.LoadX509KeyPair(u.certFile, u.keyFile); err != nil {
			return fmt.Errorf("the TLS certificate given with --tls-cert-file/--tls-key-file cannot be used: %w", err)
		}
	}
	return netutil.CheckFree(host, mustAtoi(port), "the kstack gateway, --listen")
}

// prepareDataDir locks the platform's directory and chooses the control
// plane's ports on first start.
func (u *upRun) prepareDataDir(context.Context) error {
	u.l = layout(u.o.Data.Path)
	l := u.l
	if err := os.MkdirAll(l.Dir, 0o700); err != nil {
		return err
	}
	release, err := lockPlatform(l)
	if err != nil {
		return err
	}
	u.onExit(release)
	st, err := readState(l)
	if errors.Is(err, os.ErrNotExist) {
		u.o.progress("Initialising the platform in %s", l.Dir)
		used := map[int]bool{}
		for _, p := range (&localcluster.Manager{Data: u.o.Data}).KeptPorts() {
			used[p] = true
		}
		ports, err := netutil.FreePorts(4, used)
		if err != nil {
			return err
		}
		st = &State{Ports: controlplane.Ports{EtcdClient: ports[0], EtcdPeer: ports[1], APIServer: ports[2], ControllerManager: ports[3]}}
		if err := writeState(l, st); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	if st.Ports.AuditWebhook == 0 {
		// Data dirs made before the audit receiver have no port for it.
		used := map[int]bool{}
		for _, p := range st.Ports.All() {
			used[p] = true
		}
		ports, err := netutil.FreePorts(1, used)
		if err != nil {
			return err
		}
		st.Ports.AuditWebhook = ports[0]
		if err := writeState(l, st); err != nil {
			return err
		}
	}
	for use, p := range st.Ports.All() {
		if err := netutil.CheckFree("127.0.0.1", p, use+" of the platform's control plane"); err != nil {
			return err
		}
	}
	u.st = st
	return nil
}

// credentials makes (or checks) the PKI, kubeconfigs, the gateway's
// certificate, the admin token, the CLI's client info and the audit policy.
func (u *upRun) credentials(context.Context) error {
	l := u.l
	u.o.progress("Checking certificates")
	if err := controlplane.EnsurePKI(l, u.st.Ports, pkiOptions); err != nil {
		return err
	}
	if err := controlplane.WriteKubeconfigs(l, u.st.Ports, pkiOptions.Clients); err != nil {
		return err
	}
	if u.certFile == "" {
		cu, _ := url.Parse(u.consoleURL)
		if err := ensureGatewayCert(l, cu.Hostname()); err != nil {
			return err
		}
		u.certFile, u.keyFile = l.PKI("gateway.crt"), l.PKI("gateway.key")
	}
	if err := ensureAdminToken(l); err != nil {
		return err
	}
	gatewayCA := l.PKI("ca.crt")
	if u.o.TLSCertFile != "" {
		gatewayCA = ""
	}
	if err := writeClientInfo(l, ClientInfo{
		Server: localURL(u.host, u.port), CAFile: gatewayCA, TokenFile: adminTokenPath(l), Advertised: u.consoleURL,
	}); err != nil {
		return err
	}
	if err := controlplane.EnsureAdmissionConfig(l); err != nil {
		return err
	}
	if err := controlplane.EnsureAuditWebhook(l, u.st.Ports.AuditWebhook); err != nil {
		return err
	}
	return controlplane.EnsureAuditPolicy(l)
}

// startProcesses starts etcd, kube-apiserver, kube-controller-manager and
// the platform process under the supervisor, and waits until all are ready.
func (u *upRun) startProcesses(ctx context.Context) error {
	o, l := u.o, u.l
	procs := controlplane.Processes(controlplane.Options{Binary: o.Binary, Layout: l, Ports: u.st.Ports, EncryptSecrets: true, Webhooks: true, AuditWebhook: true})
	probeHost := u.host
	if probeHost == "" || net.ParseIP(probeHost).IsUnspecified() {
		probeHost = "127.0.0.1"
	}
	recv := u.auditReceiver()
	plat := supervisor.Process{
		Name: "platform", Path: o.Binary, LogFile: l.Log("platform"),
		Args: []string{"platform", "run",
			"--kubeconfig", l.Kubeconfig(controlplane.PlatformIdentity.File),
			"--listen", o.Listen, "--tls-cert-file", u.certFile, "--tls-key-file", u.keyFile,
			"--client-ca-file", l.PKI("ca.crt"), "--admin-token-file", adminTokenPath(l),
			"--webhook-client-ca-file", l.PKI("ca.crt"),
			"--external-url", u.consoleURL,
			"--record-store", u.recordStore(), "--record-queue-dir", defaultRecordQueueDir(l),
			"--metrics-dir", filepath.Join(l.Dir, "metrics"),
			"--registry-dir", filepath.Join(l.Dir, "registry"),
			"--audit-webhook-listen", recv.Listen, "--audit-webhook-cert-file", recv.CertFile, "--audit-webhook-key-file", recv.KeyFile},
		Ready: supervisor.HTTPProbe("https://"+net.JoinHostPort(probeHost, u.port)+"/readyz", func() (*tls.Config, error) {
			return &tls.Config{InsecureSkipVerify: true}, nil //nolint:gosec // loopback probe of our own gateway
		}),
	}
	plat.Args = append(plat.Args, o.PlatformArgs...)
	plat.Stopped = u.auditStandIn
	procs = append(procs, plat)
	o.progress("Starting etcd, kube-apiserver, kube-controller-manager and the platform (logs in %s)", l.LogDir())
	u.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	if f, err := os.OpenFile(l.Log("up"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err == nil {
		u.onExit(func() { f.Close() })
		u.log = slog.New(slog.NewTextHandler(f, nil))
	}
	sup := &supervisor.Supervisor{Processes: procs, StateFile: l.StateFile(), Log: u.log}
	runCtx, cancel := context.WithCancel(context.Background())
	u.cancel = cancel
	go func() { <-ctx.Done(); cancel() }()
	wait, err := sup.Start(runCtx)
	if err != nil {
		if ctx.Err() != nil {
			return errInterrupted
		}
		return fmt.Errorf("starting the platform: %w", err)
	}
	u.onExit(wait)
	o.progress("Platform ready in %s", time.Since(u.start).Round(100*time.Millisecond))
	return nil
}

// administrator creates the first administrator, once.
func (u *upRun) administrator(ctx context.Context) error {
	ac, err := adminClient(u.l.AdminKubeconfig())
	if err != nil {
		return err
	}
	generated, err := ensureAdmin(ctx, ac, u.o.AdminPassword)
	if errors.Is(err, errAdminExists) {
		u.o.progress("Note: %v", err)
	} else if err != nil {
		return err
	}
	if generated != "" {
		// Shown once, on the terminal only: never logged.
		u.o.progress("Created the administrator. Log in as %q with the password %s (shown only now; change it with `kstack passwd`, or reset it with `kstack admin reset-password`)", AdminUsername, generated)
	}
	return nil
}

// demoClusters creates or starts the demo's local clusters (--demo) and
// imports them; they are stopped again on the way out.
func (u *upRun) demoClusters(ctx context.Context) error {
	o := u.o
	if !o.Demo {
		return nil
	}
	m := &localcluster.Manager{Data: o.Data, Binary: o.Binary, Progress: o.Progress}
	interrupted := func() error {
		o.progress("Stopping kstack")
		return errInterrupted
	}
	for _, name := range DemoClusters {
		if _, err := m.Get(name); errors.Is(err, localcluster.ErrNotFound) {
			if err := m.Create(ctx, name, 3); err != nil {
				if ctx.Err() != nil {
					return interrupted() // Ctrl-C while the demo was being made
				}
				return fmt.Errorf("creating demo cluster %s: %w", name, err)
			}
		} else if err != nil {
			return err
		} else if err := m.Start(ctx, name); err != nil {
			if ctx.Err() != nil {
				return interrupted()
			}
			return fmt.Errorf("starting demo cluster %s: %w", name, err)
		}
		u.onExit(func() {
			if err := m.Stop(context.Background(), name); err != nil {
				o.progress("stopping %s: %v", name, err)
			}
		})
	}
	return importDemo(ctx, o, u.l)
}

func mustAtoi(s string) int { n, _ := strconv.Atoi(s); return n }

func writeState(l controlplane.Layout, st *State) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return pki.WriteFile(statePath(l), data)
}

// consoleURL is what `up` prints: --external-url, or the listen address.
func consoleURL(external, host, port string) (string, error) {
	if external != "" {
		u, err := url.Parse(external)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return "", fmt.Errorf("invalid --external-url %q: want an https URL such as https://kstack.example.com:8443", external)
		}
		return u.String(), nil
	}
	if host == "" || net.ParseIP(host) != nil && net.ParseIP(host).IsUnspecified() {
		host = "127.0.0.1"
	}
	return "https://" + net.JoinHostPort(host, port), nil
}

// ensureGatewayCert issues the gateway's serving certificate from the
// platform CA, again whenever the advertised host is not among its names.
func ensureGatewayCert(l controlplane.Layout, advertised string) error {
	if c, err := pki.LoadCert(l.PKI("gateway.crt")); err == nil {
		if c.VerifyHostname(advertised) == nil {
			if _, _, err := pki.LoadPair(l.PKIDir(), "gateway"); err != nil {
				return err
			}
			return nil
		}
	}
	caCert, caKey, err := pki.LoadPair(l.PKIDir(), "ca")
	if err != nil {
		return err
	}
	spec := pki.CertSpec{CommonName: "kstack-gateway", Server: true,
		DNSNames: []string{"localhost"}, IPs: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")}}
	if h, err := os.Hostname(); err == nil && h != "" {
		spec.DNSNames = append(spec.DNSNames, h)
	}
	if ip := net.ParseIP(advertised); ip != nil {
		spec.IPs = append(spec.IPs, ip)
	} else if advertised != "" {
		spec.DNSNames = append(spec.DNSNames, advertised)
	}
	ca := &pki.CA{Cert: caCert, Key: caKey}
	cert, key, err := ca.Issue(spec)
	if err != nil {
		return err
	}
	return pki.WritePair(l.PKIDir(), "gateway", cert, key)
}

// lockPlatform makes sure one `kstack up` runs per data dir.
func lockPlatform(l controlplane.Layout) (func(), error) {
	f, err := os.OpenFile(filepath.Join(l.Dir, "up.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("kstack is already running on data dir %s: stop it first (Ctrl-C where it runs), or pass another --data-dir", filepath.Dir(l.Dir))
	}
	return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}

// ClientInfo tells the CLI on the platform's host how to reach the gateway
// as the administrator (platform/gateway.json).
type ClientInfo struct {
	// Server is the gateway's URL on this host.
	Server string `json:"server"`
	// Advertised is the URL the platform advertises (--external-url).
	Advertised string `json:"advertised"`
	// CAFile verifies the gateway; empty when it serves a user's certificate.
	CAFile    string `json:"caFile,omitempty"`
	TokenFile string `json:"tokenFile"`
}

func clientInfoPath(l controlplane.Layout) string { return filepath.Join(l.Dir, "gateway.json") }
func adminTokenPath(l controlplane.Layout) string { return l.PKI("admin-token") }

func writeClientInfo(l controlplane.Layout, ci ClientInfo) error {
	data, err := json.MarshalIndent(ci, "", "  ")
	if err != nil {
		return err
	}
	return pki.WriteFile(clientInfoPath(l), data)
}

// ReadClientInfo reads how to reach the platform of a data dir.
func ReadClientInfo(dataDir string) (*ClientInfo, error) {
	data, err := os.ReadFile(clientInfoPath(layout(dataDir)))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no platform in data dir %s: start one with `kstack up` (or pass the right --data-dir)", dataDir)
	}
	if err != nil {
		return nil, err
	}
	var ci ClientInfo
	if err := json.Unmarshal(data, &ci); err != nil {
		return nil, fmt.Errorf("%s is damaged: %w", clientInfoPath(layout(dataDir)), err)
	}
	return &ci, nil
}

// ensureAdminToken makes the administrator's bearer token on first start.
func ensureAdminToken(l controlplane.Layout) error {
	if _, err := os.Stat(adminTokenPath(l)); err == nil {
		return nil
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	return pki.WriteFile(adminTokenPath(l), []byte(hex.EncodeToString(b)+"\n"))
}

// localURL is the gateway's URL for clients on this host.
func localURL(host, port string) string {
	if host == "" || net.ParseIP(host) != nil && net.ParseIP(host).IsUnspecified() {
		host = "127.0.0.1"
	}
	return "https://" + net.JoinHostPort(host, port)
}

// importDemo imports the demo clusters that are not on the platform yet.
func importDemo(ctx context.Context, o UpOptions, l controlplane.Layout) error {
	ci, err := ReadClientInfo(o.Data.Path)
	if err != nil {
		return err
	}
	api, err := apiclient.New(apiclient.ClientInfo{Server: ci.Server, CAFile: ci.CAFile, TokenFile: ci.TokenFile})
	if err != nil {
		return err
	}
	for _, name := range DemoClusters {
		kc := filepath.Join(o.Data.ClustersDir(), name, "kubeconfig", "admin.kubeconfig")
		data, err := os.ReadFile(kc)
		if err != nil {
			return err
		}
		req := platformv1.ImportRequest{Kubeconfig: string(data), Type: platformv1.ClusterLocal}
		req.DisplayName = name
		cls, err := api.Import(ctx, req)
		switch {
		case err != nil && strings.Contains(err.Error(), "already on the platform"):
		case err != nil:
			return fmt.Errorf("importing demo cluster %s: %w", name, err)
		default:
			o.progress("Imported demo cluster %s as %s", name, cls.Name)
		}
	}
	return nil
}

// recordStore is the record store's DSN: --record-store, or SQLite in the
// data dir.
func (u *upRun) recordStore() string {
	if u.o.RecordStore != "" {
		return u.o.RecordStore
	}
	return "sqlite:" + filepath.Join(u.l.Dir, "records", "records.db")
}

// registryHost is the registry's address as clients name it: the console
// URL's host and port (the registry is served at its /v2/).
func (u *upRun) registryHost() string {
	cu, err := url.Parse(u.consoleURL)
	if err != nil {
		return u.consoleURL
	}
	return cu.Host
}
