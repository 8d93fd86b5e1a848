package localcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/kstack/kstack/internal/controlplane"
	"github.com/kstack/kstack/internal/datadir"
	"github.com/kstack/kstack/internal/netutil"
	"github.com/kstack/kstack/internal/supervisor"
)

// DefaultReadyTimeout bounds create and start when no timeout is given.
const DefaultReadyTimeout = 4 * time.Minute

// ErrNotFound is returned for a cluster name that does not exist.
var ErrNotFound = errors.New("no such local cluster")

// Manager creates and controls the local clusters of one data dir.
type Manager struct {
	Data *datadir.Dir
	// Binary is the kstack executable that supervisors and components run as.
	Binary string
	// Progress receives one line per step of long operations (nil: discard).
	Progress io.Writer
	// ReadyTimeout bounds create and start.
	ReadyTimeout time.Duration
}

func (m *Manager) progress(format string, args ...any) {
	if m.Progress != nil {
		fmt.Fprintf(m.Progress, format+"\n", args...)
	}
}

func (m *Manager) paths(name string) paths {
	return paths{controlplane.Layout{Dir: filepath.Join(m.Data.ClustersDir(), name)}}
}

// pkiOptions are those of every local cluster.
var pkiOptions = controlplane.PKIOptions{
	Clients: []controlplane.Identity{
		controlplane.AdminIdentity, controlplane.ControllerManager,
		controlplane.Scheduler, controlplane.KwokIdentity,
	},
	KubeletServing: true,
	Aggregation:    true,
}

// lockAndLookup takes the data dir lock and finds the cluster; on error the
// lock is already released.
func (m *Manager) lockAndLookup(name string) (func(), *Cluster, paths, error) {
	unlock, err := m.Data.Lock()
	if err != nil {
		return nil, nil, paths{}, err
	}
	c, p, err := m.lookup(name)
	if err != nil {
		unlock()
		return nil, nil, paths{}, err
	}
	return unlock, c, p, nil
}

// lookup returns the cluster's metadata, or an error that names the known clusters.
func (m *Manager) lookup(name string) (*Cluster, paths, error) {
	if err := ValidateName(name); err != nil {
		return nil, paths{}, err
	}
	p := m.paths(name)
	c, err := readCluster(p)
	if errors.Is(err, os.ErrNotExist) {
		names, _ := m.names()
		hint := "create it with `kstack local create " + name + "`"
		if len(names) > 0 {
			hint = "known clusters: " + strings.Join(names, ", ") + "; or " + hint
		}
		return nil, p, fmt.Errorf("%w %q in %s (%s)", ErrNotFound, name, m.Data.Path, hint)
	}
	return c, p, err
}

func (m *Manager) names() ([]string, error) {
	entries, err := os.ReadDir(m.Data.ClustersDir())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if ok, _ := exists(filepath.Join(m.Data.ClustersDir(), e.Name(), "cluster.json")); ok && e.IsDir() {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

// KeptPorts returns the ports kept by every local cluster of the data dir,
// running or not.
func (m *Manager) KeptPorts() []int {
	var out []int
	names, _ := m.names()
	for _, n := range names {
		if c, err := readCluster(m.paths(n)); err == nil {
			for _, p := range c.Ports.All() {
				out = append(out, p)
			}
		}
	}
	return out
}

// usedPorts are the ports kept by every cluster of the data dir and by the
// platform, so that a new cluster never takes one of them.
func (m *Manager) usedPorts() map[int]bool {
	used := map[int]bool{}
	for _, p := range m.KeptPorts() {
		used[p] = true
	}
	for _, p := range ReservedPorts(m.Data) {
		used[p] = true
	}
	return used
}

// ReservedPorts returns ports that other parts of kstack keep in this data dir
// (the platform's control plane). Set by the platform package.
var ReservedPorts = func(*datadir.Dir) []int { return nil }

// Create makes a new cluster with n simulated nodes, starts it and waits until
// it is ready. A failed create leaves no process or directory behind.
func (m *Manager) Create(ctx context.Context, name string, nodes int) (err error) {
	if err := ValidateName(name); err != nil {
		return err
	}
	if nodes < 0 || nodes > 100 {
		return fmt.Errorf("invalid --nodes %d: a local cluster has 0 to 100 simulated nodes (0: a control plane only, e.g. the upper cluster of virtual nodes)", nodes)
	}
	unlock, err := m.Data.Lock()
	if err != nil {
		return err
	}
	defer unlock()
	p := m.paths(name)
	if ok, err := exists(p.Dir); err != nil {
		return err
	} else if ok {
		return fmt.Errorf("local cluster %q already exists; use it, start it with `kstack local start %s`, or delete it first with `kstack local delete %s`", name, name, name)
	}
	start := time.Now()
	m.progress("Creating local cluster %q with %d simulated nodes", name, nodes)
	if err := os.MkdirAll(p.Dir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", p.Dir, err)
	}
	defer func() {
		if err != nil {
			m.stopProcesses(p)
			if os.Getenv("KSTACK_KEEP_FAILED") == "" {
				_ = os.RemoveAll(p.Dir)
			}
		}
	}()
	ports, err := netutil.FreePorts(9, m.usedPorts())
	if err != nil {
		return err
	}
	c := &Cluster{
		Name: name, Nodes: nodes, KubernetesVersion: defaultVersion(), Created: time.Now().UTC(),
		Ports: controlplane.Ports{
			EtcdClient: ports[0], EtcdPeer: ports[1], APIServer: ports[2], ControllerManager: ports[3],
			Scheduler: ports[4], Kwok: ports[5], PodServer: ports[6], Kubelet: ports[7], MetricsServer: ports[8],
		},
	}
	m.progress("  generating certificates and keys")
	if err := controlplane.EnsurePKI(p.Layout, c.Ports, pkiOptions); err != nil {
		return err
	}
	if err := writeJSON(p.meta(), c); err != nil {
		return err
	}
	if err := m.startSupervisor(ctx, c, p); err != nil {
		return err
	}
	m.progress("Local cluster %q is ready (%s). Use it with:\n  kstack kubectl --kubeconfig %s get nodes", name, time.Since(start).Round(100*time.Millisecond), p.AdminKubeconfig())
	return nil
}

// Start starts a stopped cluster and waits until it is ready.
func (m *Manager) Start(ctx context.Context, name string) error {
	unlock, c, p, err := m.lockAndLookup(name)
	if err != nil {
		return err
	}
	defer unlock()
	if pid := supervisorAlive(p); pid != 0 {
		st, _ := readStatus(p)
		if st != nil && st.Phase == PhaseRunning {
			m.progress("Local cluster %q is already running", name)
			return nil
		}
		return m.waitReady(ctx, p, pid)
	}
	// A cluster made by an older kstack lacks what newer components need.
	if err := m.addMissingPorts(c, p); err != nil {
		return err
	}
	if err := controlplane.UpgradePKI(p.Layout, pkiOptions); err != nil {
		return err
	}
	start := time.Now()
	m.progress("Starting local cluster %q", name)
	if err := m.startSupervisor(ctx, c, p); err != nil {
		m.stopProcesses(p)
		return err
	}
	m.progress("Local cluster %q is ready (%s)", name, time.Since(start).Round(100*time.Millisecond))
	return nil
}

// addMissingPorts gives a cluster the ports that its cluster.json lacks
// (made by a kstack without the component) and keeps them there.
func (m *Manager) addMissingPorts(c *Cluster, p paths) error {
	var missing []*int
	for _, port := range []*int{&c.Ports.Kubelet, &c.Ports.MetricsServer} {
		if *port == 0 {
			missing = append(missing, port)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	free, err := netutil.FreePorts(len(missing), m.usedPorts())
	if err != nil {
		return err
	}
	for i, port := range missing {
		*port = free[i]
	}
	return writeJSON(p.meta(), c)
}

func (m *Manager) startSupervisor(ctx context.Context, c *Cluster, p paths) error {
	for use, port := range c.Ports.All() {
		if err := netutil.CheckFree("127.0.0.1", port, use+" of local cluster "+c.Name); err != nil {
			return err
		}
	}
	for _, d := range []string{p.LogDir(), p.RunDir()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	_ = os.Remove(p.status())
	logf, err := os.OpenFile(p.supervisorLog(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(m.Binary, "--data-dir", m.Data.Path, "local", "supervise", c.Name)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.Dir = p.Dir
	// Its own session: the supervisor outlives this command and its terminal.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the supervisor of %q: %w", c.Name, err)
	}
	pid := cmd.Process.Pid
	if err := os.WriteFile(p.supervisorPID(), []byte(fmt.Sprint(pid)), 0o600); err != nil {
		_ = cmd.Process.Kill()
		return err
	}
	// Reap it if it dies while we wait; once we return it is init's child.
	go func() { _ = cmd.Wait() }()
	return m.waitReady(ctx, p, pid)
}

func (m *Manager) waitReady(ctx context.Context, p paths, pid int) error {
	timeout := m.ReadyTimeout
	if timeout == 0 {
		timeout = DefaultReadyTimeout
	}
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		st, _ := readStatus(p)
		if st != nil && st.Message != last {
			last = st.Message
			m.progress("  %s", st.Message)
		}
		if st != nil && st.Phase == PhaseRunning {
			return nil
		}
		if st != nil && st.Phase == PhaseFailed {
			return fmt.Errorf("local cluster failed to start: %s (logs in %s)", st.Message, p.LogDir())
		}
		if !supervisor.Alive(pid) {
			return fmt.Errorf("the supervisor of the local cluster exited before the cluster was ready; its log ends with:\n%s", supervisor.Tail(p.supervisorLog(), 15))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("local cluster not ready after %s; see the logs in %s", timeout, p.LogDir())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Stop stops a cluster and returns once all its processes have exited.
func (m *Manager) Stop(ctx context.Context, name string) error {
	unlock, _, p, err := m.lockAndLookup(name)
	if err != nil {
		return err
	}
	defer unlock()
	if supervisorAlive(p) == 0 && len(livePIDs(p)) == 0 {
		m.progress("Local cluster %q is not running", name)
		return nil
	}
	m.progress("Stopping local cluster %q", name)
	m.stopProcesses(p)
	if pids := livePIDs(p); len(pids) > 0 {
		return fmt.Errorf("processes of local cluster %q are still running: %v", name, pids)
	}
	m.progress("Local cluster %q stopped", name)
	return nil
}

// stopProcesses stops the supervisor (which stops its components in order)
// and, if anything outlives the grace period, kills it.
func (m *Manager) stopProcesses(p paths) {
	if pid := supervisorAlive(p); pid != 0 {
		_ = syscall.Kill(pid, syscall.SIGTERM)
		deadline := time.Now().Add(60 * time.Second)
		for supervisor.Alive(pid) && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		if supervisor.Alive(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	// Components die with their supervisor (Pdeathsig); make sure.
	deadline := time.Now().Add(20 * time.Second)
	for len(livePIDs(p)) > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	for _, pid := range livePIDs(p) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	for i := 0; i < 50 && len(livePIDs(p)) > 0; i++ {
		time.Sleep(100 * time.Millisecond)
	}
	_ = os.Remove(p.supervisorPID())
	_ = os.Remove(p.StateFile())
	if st, err := readStatus(p); err == nil {
		if st.ScratchDir != "" {
			_ = os.RemoveAll(st.ScratchDir)
		}
		st.Phase, st.Message, st.Updated = PhaseStopped, "stopped", time.Now().UTC()
		_ = writeJSON(p.status(), st)
	}
}

// livePIDs returns the component processes of the cluster that still run.
func livePIDs(p paths) []int {
	state, err := supervisor.ReadState(p.StateFile())
	if err != nil {
		return nil
	}
	var out []int
	for _, pid := range state {
		if supervisor.Alive(pid) {
			out = append(out, pid)
		}
	}
	return out
}

// Delete stops a cluster and removes all its files.
func (m *Manager) Delete(ctx context.Context, name string) error {
	unlock, _, p, err := m.lockAndLookup(name)
	if err != nil {
		return err
	}
	defer unlock()
	m.progress("Deleting local cluster %q", name)
	m.stopProcesses(p)
	if pids := livePIDs(p); len(pids) > 0 {
		return fmt.Errorf("processes of local cluster %q are still running: %v; nothing was deleted", name, pids)
	}
	if err := os.RemoveAll(p.Dir); err != nil {
		return fmt.Errorf("removing %s: %w", p.Dir, err)
	}
	m.progress("Local cluster %q deleted", name)
	return nil
}

// Kubeconfig returns the path of the cluster's admin kubeconfig.
func (m *Manager) Kubeconfig(name string) (string, error) {
	_, p, err := m.lookup(name)
	if err != nil {
		return "", err
	}
	return p.AdminKubeconfig(), nil
}

// Get returns one cluster's row.
func (m *Manager) Get(name string) (*Info, error) {
	c, p, err := m.lookup(name)
	if err != nil {
		return nil, err
	}
	return m.info(c, p), nil
}

// List returns every local cluster of the data dir.
func (m *Manager) List() ([]Info, error) {
	names, err := m.names()
	if err != nil {
		return nil, err
	}
	out := []Info{}
	for _, n := range names {
		p := m.paths(n)
		c, err := readCluster(p)
		if err != nil {
			out = append(out, Info{Name: n, Phase: PhaseFailed, Message: err.Error()})
			continue
		}
		out = append(out, *m.info(c, p))
	}
	return out, nil
}

func (m *Manager) info(c *Cluster, p paths) *Info {
	in := &Info{
		Name: c.Name, Nodes: c.Nodes, Version: c.KubernetesVersion, Server: c.Ports.APIServerURL(),
		Kubeconfig: p.AdminKubeconfig(), Created: c.Created.Format(time.RFC3339), Phase: PhaseStopped,
	}
	if supervisorAlive(p) != 0 {
		in.Phase = PhaseStarting
		if st, err := readStatus(p); err == nil {
			in.Phase, in.Message = st.Phase, st.Message
		}
	}
	return in
}
