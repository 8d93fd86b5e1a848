package logagent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
)

// Defaults of Options.
const (
	DefaultPodsDir    = "/var/log/pods"
	DefaultStateDir   = "/var/lib/kstack-logagent"
	DefaultQueueBytes = 256 << 20
	DefaultNamespace  = "kube-system"
)

// Options configure an agent.
type Options struct {
	// Client reaches the cluster the agent collects from.
	Client kubernetes.Interface
	// Cluster is put in every record.
	Cluster string
	// Name names the agent's status ConfigMap; Node (when set) limits the
	// pods watched to the node's.
	Name, Node string
	// PodsDir holds the CRI logs: <ns>_<pod>_<uid>/<container>/<n>.log.
	PodsDir string
	// ContainerRoot is where a container's files are, with {namespace},
	// {pod}, {uid} and {container} filled in. Empty: in the emptyDir volume
	// that covers the path, under HostRoot/var/lib/kubelet/pods.
	ContainerRoot string
	// HostRoot is where the node's / is (in a DaemonSet: a hostPath mount).
	HostRoot string
	// StateDir keeps positions, counters and the sinks' queues.
	StateDir string
	// QueueBytes bounds each sink's queue.
	QueueBytes      int64
	ConfigNamespace string
	Log             *slog.Logger

	// Intervals; zero means the default (tests shorten them).
	PollInterval   time.Duration // read the files (250ms)
	ScanInterval   time.Duration // look for new files (2s)
	FlushInterval  time.Duration // persist positions (1s)
	StatusInterval time.Duration // write the status ConfigMap (10s)
}

// Agent collects logs. Create it with New and run it with Run.
type Agent struct {
	o          Options
	log        *slog.Logger
	st         *state
	statusName string

	// Written by informer handlers, read by the loop.
	mu         sync.Mutex
	cfg        *Config
	cfgVersion string
	cfgErr     string
	cfgSeen    string
	secret     map[string][]byte
	secretSeen bool
	pods       map[string]*podInfo // by UID
	gone       map[string]goneInfo // deleted pods, for their last lines
	wake       chan struct{}       // config or secret changed
	podsDirty  chan struct{}

	// Owned by the loop.
	rules []*ruleState
	sinks map[string]*sinkEntry
	tails map[string]*tailState // by path
	saved []byte                // state last written

	// The status view, written by the loop, read by the status writer.
	viewMu     sync.Mutex
	view       []*ruleState
	viewCfg    string
	viewCfgErr string
	statusKick chan struct{}
}

type goneInfo struct {
	pod *podInfo
	at  time.Time
}

// ruleState is one rule as applied: what was refused, its sinks, its files.
type ruleState struct {
	Rule
	errs     []string
	scanErrs []string
	files    int
	sinks    []*sinkEntry
}

// source is a file to read and what its lines are.
type source struct {
	loc     location
	kind    int
	meta    Record // the fields every line of the file shares
	targets []target
	fromEnd bool // a host file found by its rule's first scan
}

// target is one rule a file's lines go to.
type target struct {
	rule         string
	wkind, wname string // the workload that matched, for the record
	sinks        []*sinkEntry
}

type tailState struct {
	*tail
	src *source
	// wanted is false for a file no rule wants any more whose path is gone
	// (a deleted pod): it is read to its end, then dropped.
	wanted bool
}

// New checks opts and fills in defaults.
func New(o Options) (*Agent, error) {
	if o.Client == nil {
		return nil, errors.New("logagent: no Kubernetes client")
	}
	if o.PodsDir == "" {
		o.PodsDir = DefaultPodsDir
	}
	if o.HostRoot == "" {
		o.HostRoot = "/"
	}
	if o.StateDir == "" {
		o.StateDir = DefaultStateDir
	}
	if o.QueueBytes <= 0 {
		o.QueueBytes = DefaultQueueBytes
	}
	if o.ConfigNamespace == "" {
		o.ConfigNamespace = DefaultNamespace
	}
	if o.Name == "" {
		o.Name = o.Node
	}
	if o.Name == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("logagent: no --name and no hostname: %w", err)
		}
		o.Name = h
	}
	statusName, err := StatusName(o.Name)
	if err != nil {
		return nil, err
	}
	if o.ContainerRoot != "" && !strings.Contains(o.ContainerRoot, "{uid}") && !strings.Contains(o.ContainerRoot, "{pod}") {
		return nil, fmt.Errorf("logagent: --container-root %q must contain {uid} or {pod}: it names one container's files", o.ContainerRoot)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.PollInterval, 250*time.Millisecond)
	def(&o.ScanInterval, 2*time.Second)
	def(&o.FlushInterval, time.Second)
	def(&o.StatusInterval, 10*time.Second)
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return &Agent{
		o: o, log: o.Log, statusName: statusName,
		pods: map[string]*podInfo{}, gone: map[string]goneInfo{},
		wake: make(chan struct{}, 1), podsDirty: make(chan struct{}, 1), statusKick: make(chan struct{}, 1),
		sinks: map[string]*sinkEntry{}, tails: map[string]*tailState{},
	}, nil
}

var dnsUnsafe = regexp.MustCompile(`[^a-z0-9.-]+`)

// StatusName is the name of the status ConfigMap of agent name.
func StatusName(agent string) (string, error) {
	n := strings.Trim(dnsUnsafe.ReplaceAllString(strings.ToLower(agent), "-"), "-.")
	if n == "" {
		return "", fmt.Errorf("logagent: agent name %q gives no ConfigMap name", agent)
	}
	n = StatusPrefix + n
	if len(n) > 253 {
		n = n[:253]
	}
	return n, nil
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Run collects until ctx ends, then stops gracefully: reading stops between
// lines, deliveries in flight get a few seconds to finish, and positions and
// counters are written. A restart then goes on where this run stopped,
// neither losing nor repeating a line.
//
// The crash window (kill -9, OOM, node failure): a line is put in the
// queues before its file's position moves past it, and positions are written
// every FlushInterval, so a crash repeats at most the lines read in the last
// FlushInterval (Kafka and Loki then see them twice; Elasticsearch stores
// them once, the _id being the line's identity), and a delivery in flight is
// repeated because it was not acknowledged. Nothing is lost, except on a
// power loss: the queues fsync once a second, so their last second may be
// gone while the position file (fsynced on every write) is past it.
func (a *Agent) Run(ctx context.Context) error {
	if err := os.MkdirAll(a.o.StateDir, 0o700); err != nil {
		return fmt.Errorf("logagent: state dir: %w", err)
	}
	st, err := loadState(a.o.StateDir)
	if err != nil {
		return fmt.Errorf("logagent: %w", err)
	}
	a.st = st
	a.log.Info("log agent starting", "name", a.o.Name, "node", a.o.Node, "cluster", a.o.Cluster,
		"podsDir", a.o.PodsDir, "containerRoot", a.o.ContainerRoot, "hostRoot", a.o.HostRoot,
		"stateDir", a.o.StateDir, "queueBytes", a.o.QueueBytes, "configNamespace", a.o.ConfigNamespace)
	informerCtx, stopInformers := context.WithCancel(ctx)
	defer stopInformers()
	if err := a.startInformers(informerCtx); err != nil {
		if ctx.Err() != nil {
			return nil // stopped while starting: nothing read, nothing to save
		}
		return err
	}
	statusCtx, stopStatus := context.WithCancel(context.Background())
	statusDone := make(chan struct{})
	go func() {
		defer close(statusDone)
		a.statusLoop(statusCtx)
	}()

	// What the informers signalled so far is applied now.
	select {
	case <-a.wake:
	default:
	}
	a.applyConfig()
	a.loop(ctx)

	a.shutdown()
	stopStatus()
	<-statusDone
	// A last status, so the platform sees the final counters.
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := a.writeStatus(sctx); err != nil {
		a.log.Debug("writing the last status", "error", err)
	}
	a.log.Info("log agent stopped")
	return nil
}

func (a *Agent) loop(ctx context.Context) {
	poll := time.NewTicker(a.o.PollInterval)
	defer poll.Stop()
	scan := time.NewTicker(a.o.ScanInterval)
	defer scan.Stop()
	flush := time.NewTicker(a.o.FlushInterval)
	defer flush.Stop()
	needScan := true
	for {
		if needScan {
			a.scan()
			needScan = false
		}
		more := a.poll(ctx)
		if more {
			// A file has more than one round's budget: read on, but let
			// config changes and stop in between.
			select {
			case <-ctx.Done():
				return
			case <-a.wake:
				a.applyConfig()
			case <-a.podsDirty:
				needScan = true
			case <-scan.C:
				needScan = true
			case <-flush.C:
				a.flush()
			default:
			}
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-a.wake:
			a.applyConfig()
		case <-a.podsDirty:
			needScan = true
		case <-scan.C:
			needScan = true
		case <-flush.C:
			a.flush()
		case <-poll.C:
		}
	}
}

// shutdown runs after the loop stopped reading: every line read is in the
// queues. It stops the senders, closes the queues and writes the state.
func (a *Agent) shutdown() {
	for _, t := range a.tails {
		a.st.Files[t.loc.path] = position{Dev: t.id.Dev, Ino: t.id.Ino, Offset: t.commit}
		t.close()
	}
	var wg sync.WaitGroup
	for _, e := range a.sinks {
		wg.Go(e.stop)
	}
	wg.Wait()
	for _, e := range a.sinks {
		if err := e.q.Close(); err != nil {
			a.log.Warn("closing a queue", "rule", e.rule, "sink", e.sink.Name, "error", err)
		}
	}
	a.flush()
}

// flush persists positions and counters when they changed.
func (a *Agent) flush() {
	for p, t := range a.tails {
		a.st.Files[p] = position{Dev: t.id.Dev, Ino: t.id.Ino, Offset: t.commit}
	}
	for k, e := range a.sinks {
		a.st.Sinks[k] = counters{Delivered: e.delivered.Load(), Dropped: e.dropped.Load()}
	}
	b, err := json.Marshal(a.st)
	if err != nil || string(b) == string(a.saved) {
		return
	}
	if err := writeFileAtomic(filepath.Join(a.o.StateDir, stateFile), b); err != nil {
		a.log.Error("writing positions", "error", err)
		return
	}
	a.saved = b
}

// applyConfig makes the rules and sinks those of the current config.
// Positions are kept: files go on where they were.
func (a *Agent) applyConfig() {
	a.mu.Lock()
	cfg, version, cfgErr := a.cfg, a.cfgVersion, a.cfgErr
	secret := a.secret
	a.mu.Unlock()
	if cfg == nil {
		cfg = &Config{}
	}

	var rules []*ruleState
	want := map[string]bool{}
	seen := map[string]bool{}
	for _, r := range cfg.Rules {
		rs := &ruleState{}
		rs.Rule, rs.errs = sanitize(r)
		if seen[r.Name] {
			rs.errs = append(rs.errs, "the rule name is used twice; only the first applies")
			rs.Rule = Rule{Name: r.Name}
		}
		seen[r.Name] = true
		for _, s := range rs.Sinks {
			e, err := a.ensureSink(rs.Name, s, secret)
			if err != nil {
				rs.errs = append(rs.errs, fmt.Sprintf("sink %q: %v", s.Name, err))
			}
			if e != nil {
				want[e.key] = true
				rs.sinks = append(rs.sinks, e)
			}
		}
		rules = append(rules, rs)
	}
	for k, e := range a.sinks {
		if want[k] {
			continue
		}
		// The sink (or its rule) was removed: what waits in its queue has
		// nowhere to go.
		e.stop()
		e.q.Close()
		if err := os.RemoveAll(e.dir); err != nil {
			a.log.Warn("removing the queue of a removed sink", "dir", e.dir, "error", err)
		}
		delete(a.sinks, k)
		delete(a.st.Sinks, k)
		a.log.Info("sink removed", "rule", e.rule, "sink", e.sink.Name)
	}
	for k := range a.st.Started {
		r, _, _ := strings.Cut(k, "\x00")
		if !seen[r] {
			delete(a.st.Started, k)
		}
	}
	a.rules = rules
	names := make([]string, 0, len(rules))
	for _, r := range rules {
		names = append(names, r.Name)
		for _, e := range r.errs {
			a.log.Warn("rule refused in part", "rule", r.Name, "problem", e)
		}
	}
	if cfgErr != "" {
		a.log.Warn("config not applied", "error", cfgErr)
	}
	a.log.Info("rules loaded", "count", len(rules), "rules", names, "configVersion", version)
	a.scan()
	a.viewMu.Lock()
	a.viewCfg, a.viewCfgErr = version, cfgErr
	a.viewMu.Unlock()
	signal(a.statusKick)
}

// sanitize returns the parts of r that may be applied and what was refused.
func sanitize(r Rule) (Rule, []string) {
	var errs []string
	out := Rule{Name: r.Name}
	if r.Name == "" {
		return out, []string{"no name"}
	}
	for _, ns := range r.Namespaces {
		if ns != "" {
			out.Namespaces = append(out.Namespaces, ns)
		}
	}
	for _, w := range r.Workloads {
		if err := w.validate(); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		out.Workloads = append(out.Workloads, w)
	}
	for _, cf := range r.ContainerFiles {
		if err := cf.validate(); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		out.ContainerFiles = append(out.ContainerFiles, cf)
	}
	for _, h := range r.HostFiles {
		if err := CheckHostFile(h); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		out.HostFiles = append(out.HostFiles, h)
	}
	names := map[string]bool{}
	for _, s := range r.Sinks {
		if names[s.Name] {
			errs = append(errs, fmt.Sprintf("sink %q is named twice", s.Name))
			continue
		}
		names[s.Name] = true
		if err := s.validate(); err != nil {
			errs = append(errs, fmt.Sprintf("sink %q: %v", s.Name, err))
			continue
		}
		out.Sinks = append(out.Sinks, s)
	}
	if len(out.Sinks) == 0 {
		errs = append(errs, "no usable sink: nothing is collected")
	}
	return out, errs
}

// ensureSink opens the sink's queue once and (re)starts its sender when the
// sink or its password changed. A sink that cannot be started (a missing
// password) still queues its lines.
func (a *Agent) ensureSink(rule string, s Sink, secret map[string][]byte) (*sinkEntry, error) {
	key := sinkKey(rule, s.Name)
	e := a.sinks[key]
	if e == nil {
		dir := queueDir(a.o.StateDir, rule, s.Name)
		q, err := openQueue(dir, a.o.QueueBytes)
		if err != nil {
			return nil, fmt.Errorf("opening its queue: %w", err)
		}
		e = &sinkEntry{key: key, rule: rule, sink: s, dir: dir, q: q, log: a.log, kick: func() { signal(a.statusKick) }}
		c := a.st.Sinks[key]
		e.delivered.Store(c.Delivered)
		e.dropped.Store(c.Dropped)
		a.sinks[key] = e
	}
	password, perr := sinkPassword(s, secret)
	b, _ := json.Marshal(s)
	h := sha256.Sum256([]byte(password))
	spec := string(b) + "\x00" + hex.EncodeToString(h[:])
	if spec == e.spec && e.cancel != nil {
		return e, nil
	}
	e.stop()
	e.sink, e.spec = s, spec
	if perr != nil {
		e.setError(perr, true)
		return e, perr
	}
	d, err := newDeliverer(s, password)
	if err != nil {
		e.setError(err, true)
		return e, err
	}
	// A new config is not known to fail yet (a fixed password would else
	// show unhealthy until the next line); lastErr stays for the record.
	e.mu.Lock()
	e.failing, e.failures = false, 0
	e.mu.Unlock()
	e.start(d)
	return e, nil
}

func sinkPassword(s Sink, secret map[string][]byte) (string, error) {
	var key string
	switch {
	case s.Kafka != nil:
		key = s.Kafka.PasswordKey
	case s.Elasticsearch != nil:
		key = s.Elasticsearch.PasswordKey
	case s.Loki != nil:
		key = s.Loki.PasswordKey
	}
	if key == "" {
		return "", nil
	}
	v, ok := secret[key]
	if !ok {
		return "", fmt.Errorf("password key %q is not in the Secret %s", key, SecretName)
	}
	return string(v), nil
}

// scan finds the files the rules want and starts or stops reading them.
func (a *Agent) scan() {
	sources := map[string]*source{}
	files := map[string]int{}
	scanErrs := map[string][]string{}
	add := func(src *source, rs *ruleState, wkind, wname string) {
		if len(rs.sinks) == 0 {
			return
		}
		p := src.loc.path
		if s, ok := sources[p]; ok {
			src = s
		} else {
			sources[p] = src
		}
		for _, t := range src.targets {
			if t.rule == rs.Name {
				return
			}
		}
		src.targets = append(src.targets, target{rule: rs.Name, wkind: wkind, wname: wname, sinks: rs.sinks})
		files[rs.Name]++
	}
	a.mu.Lock()
	for uid, g := range a.gone {
		if time.Since(g.at) > 10*time.Minute {
			delete(a.gone, uid)
		}
	}
	pods := make([]*podInfo, 0, len(a.pods))
	for _, p := range a.pods {
		pods = append(pods, p)
	}
	byUID := func(uid string) *podInfo {
		if p := a.pods[uid]; p != nil {
			return p
		}
		return a.gone[uid].pod
	}
	// Standard output: the pods' directories under PodsDir.
	entries, _ := os.ReadDir(a.o.PodsDir)
	type podDir struct {
		dir string
		pi  *podInfo
	}
	var podDirs []podDir
	for _, e := range entries {
		parts := strings.SplitN(e.Name(), "_", 3)
		if !e.IsDir() || len(parts) != 3 {
			continue
		}
		pi := byUID(parts[2])
		if pi == nil {
			// Not (or no longer) known: namespace rules still apply.
			pi = &podInfo{Namespace: parts[0], Name: parts[1], UID: parts[2]}
		}
		podDirs = append(podDirs, podDir{dir: filepath.Join(a.o.PodsDir, e.Name()), pi: pi})
	}
	a.mu.Unlock()
	sort.Slice(pods, func(i, j int) bool { return pods[i].UID < pods[j].UID })

	for _, pd := range podDirs {
		pi := pd.pi
		var targets []target
		for _, rs := range a.rules {
			if slices.Contains(rs.Namespaces, pi.Namespace) || slices.Contains(rs.Namespaces, AllNamespaces) {
				targets = append(targets, target{rule: rs.Name})
				continue
			}
			for _, w := range rs.Workloads {
				if w.matches(pi) {
					targets = append(targets, target{rule: rs.Name, wkind: w.Kind, wname: w.Name})
					break
				}
			}
		}
		if len(targets) == 0 {
			continue
		}
		kind, name := pi.workload()
		node := pi.Node
		if node == "" {
			node = a.o.Node
		}
		containers, _ := os.ReadDir(pd.dir)
		for _, c := range containers {
			if !c.IsDir() {
				continue
			}
			logs, _ := os.ReadDir(filepath.Join(pd.dir, c.Name()))
			for _, l := range logs {
				if !criLogName.MatchString(l.Name()) || !l.Type().IsRegular() {
					continue
				}
				p := filepath.Join(pd.dir, c.Name(), l.Name())
				for _, t := range targets {
					src := &source{loc: location{path: p}, kind: kindCRI, meta: Record{
						Cluster: a.o.Cluster, Namespace: pi.Namespace, Pod: pi.Name, Container: c.Name(),
						WorkloadKind: kind, WorkloadName: name, Node: node}}
					add(src, a.ruleByName(t.rule), t.wkind, t.wname)
				}
			}
		}
	}

	// Files inside containers.
	for _, rs := range a.rules {
		for _, cf := range rs.ContainerFiles {
			for _, pi := range pods {
				if !cf.Workload.matches(pi) || !pi.hasContainer(cf.Container) {
					continue
				}
				var dir, rel string
				if a.o.ContainerRoot != "" {
					dir, rel = expandRoot(a.o.ContainerRoot, pi, cf.Container), strings.TrimPrefix(cf.Path, "/")
				} else {
					d, r, ok := pi.containerFileDir(cf.Container, cf.Path)
					if !ok {
						scanErrs[rs.Name] = append(scanErrs[rs.Name], fmt.Sprintf(
							"container file %s of %s/%s container %s: no emptyDir volume of the container is mounted over it, so the agent cannot reach it from the node",
							cf.Path, pi.Namespace, pi.Name, cf.Container))
						continue
					}
					dir, rel = filepath.Join(a.o.HostRoot, d), r
				}
				inContainer := strings.TrimSuffix(cf.Path, rel)
				kind, name := pi.workload()
				found, refused := globIn(dir, rel)
				for _, m := range refused {
					scanErrs[rs.Name] = append(scanErrs[rs.Name], fmt.Sprintf("container file %s%s of %s/%s refused: it leads out of the container", inContainer, m, pi.Namespace, pi.Name))
				}
				for _, m := range found {
					src := &source{loc: location{path: filepath.Join(dir, m), root: dir, rel: m}, kind: kindPlain, meta: Record{
						Cluster: a.o.Cluster, Namespace: pi.Namespace, Pod: pi.Name, Container: cf.Container,
						WorkloadKind: kind, WorkloadName: name, Node: pi.Node, File: inContainer + m}}
					add(src, rs, cf.Workload.Kind, cf.Workload.Name)
				}
			}
		}
	}

	// Files on the node, only under /var/log, opened inside it.
	logDir := filepath.Join(a.o.HostRoot, HostLogDir)
	var started []string
	for _, rs := range a.rules {
		for _, g := range rs.HostFiles {
			key := rs.Name + "\x00" + g
			first := !a.st.Started[key]
			rel := strings.TrimPrefix(g, HostLogDir+"/")
			found, refused := globIn(logDir, rel)
			for _, m := range refused {
				scanErrs[rs.Name] = append(scanErrs[rs.Name], fmt.Sprintf("host file %s refused: it leads out of %s", path.Join(HostLogDir, m), HostLogDir))
			}
			for _, m := range found {
				src := &source{loc: location{path: filepath.Join(logDir, m), root: logDir, rel: m}, kind: kindPlain,
					meta: Record{Cluster: a.o.Cluster, Node: a.hostNode(), File: path.Join(HostLogDir, m)}, fromEnd: first}
				add(src, rs, "", "")
			}
			if first && len(rs.sinks) > 0 {
				started = append(started, key)
			}
		}
	}

	a.reconcile(sources)
	for _, k := range started {
		a.st.Started[k] = true
	}
	a.viewMu.Lock()
	for _, rs := range a.rules {
		rs.files, rs.scanErrs = files[rs.Name], scanErrs[rs.Name]
	}
	a.view = a.rules
	a.viewMu.Unlock()
}

// hostNode names the machine of host files: --node, else the agent's name
// (beside a local cluster, the cluster's).
func (a *Agent) hostNode() string {
	if a.o.Node != "" {
		return a.o.Node
	}
	return a.o.Name
}

var criLogName = regexp.MustCompile(`^[0-9]+\.log$`)

func (a *Agent) ruleByName(name string) *ruleState {
	for _, r := range a.rules {
		if r.Name == name {
			return r
		}
	}
	return &ruleState{}
}

// globIn lists the regular files matching pattern inside dir, through
// os.Root so that no symlink leads out of dir: such a file is refused
// (returned apart, for the rule's status).
func globIn(dir, pattern string) (files, refused []string) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, nil
	}
	defer r.Close()
	m, _ := doublestarGlob(r, pattern)
	sort.Strings(m)
	for _, f := range m {
		fi, err := r.Stat(f)
		switch {
		case err != nil && !errors.Is(err, fs.ErrNotExist):
			refused = append(refused, f)
		case err == nil && fi.Mode().IsRegular():
			files = append(files, f)
		}
	}
	return files, refused
}

// reconcile starts reading new sources, updates the rules of the others and
// stops reading files no rule wants.
func (a *Agent) reconcile(sources map[string]*source) {
	for p, t := range a.tails {
		if src, ok := sources[p]; ok {
			t.src, t.wanted = src, true
			continue
		}
		if gone, _ := t.replaced(); gone {
			// Deleted with its pod, or rotated away: read it to the end.
			t.wanted = false
			continue
		}
		// No rule wants it: stop, keeping its position for a rule that
		// wants it again.
		a.st.Files[p] = position{Dev: t.id.Dev, Ino: t.id.Ino, Offset: t.commit}
		t.close()
		delete(a.tails, p)
	}
	for p, src := range sources {
		if _, ok := a.tails[p]; !ok {
			a.open(src)
		}
	}
	// Forget positions of files that are gone.
	for p := range a.st.Files {
		if _, ok := a.tails[p]; ok {
			continue
		}
		if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
			delete(a.st.Files, p)
		}
	}
}

// open starts reading src where its position says.
func (a *Agent) open(src *source) {
	p := src.loc.path
	f, err := src.loc.open()
	if err != nil {
		a.log.Debug("cannot open a log file", "path", p, "error", err)
		return
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return
	}
	id := idOf(fi)
	var offset int64
	pos, known := a.st.Files[p]
	switch {
	case known && pos.id() == id:
		offset = pos.Offset
		if offset > fi.Size() {
			a.log.Info("log file truncated while stopped; reading it from the start", "path", p)
			offset = 0
		}
	case known:
		// Rotated while the agent was not reading it: finish the old file
		// first if it is still next to the new one; the tail switches to the
		// new file (from 0) when the old one is done.
		if old, ok := findRotated(src.loc, pos.id()); ok {
			f.Close()
			f, id, offset = old, pos.id(), pos.Offset
			a.log.Info("log file rotated while stopped; finishing the old file first", "path", p)
		} else {
			a.log.Info("log file rotated while stopped and the old file is gone; reading the new one from the start", "path", p)
		}
	case src.fromEnd:
		offset = fi.Size()
	}
	t := &tailState{tail: newTail(src.loc, src.kind, f, id, offset), src: src, wanted: true}
	a.tails[p] = t
	a.st.Files[p] = position{Dev: id.Dev, Ino: id.Ino, Offset: offset}
}

// readBudget is how much one file may be read in one round, so one busy
// file does not starve the others.
const readBudget = 1 << 20

// poll reads every file once; it reports whether one has more to read.
func (a *Agent) poll(ctx context.Context) bool {
	more := false
	paths := make([]string, 0, len(a.tails))
	for p := range a.tails {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		if ctx.Err() != nil {
			return false
		}
		t := a.tails[p]
		// Whether the path now names another file must be known before
		// reading: a file finished only after a read to its end that
		// started once it was replaced has no lines left behind.
		replaced, err := t.replaced()
		if err != nil {
			a.log.Debug("checking a log file", "path", p, "error", err)
		}
		emit := a.emitter(t)
		res, err := t.read(readBudget, emit)
		if err != nil {
			a.log.Warn("reading a log file", "path", p, "error", err)
			continue
		}
		if res.truncated {
			a.log.Info("log file truncated; reading it from the start", "path", p)
		}
		if !res.eof {
			more = true
			continue
		}
		if !replaced {
			continue
		}
		t.finish(emit)
		t.close()
		delete(a.tails, p)
		delete(a.st.Files, p)
		if t.badLines > 0 {
			a.log.Warn("log file had lines not in the CRI format; skipped", "path", p, "lines", t.badLines)
		}
		if t.wanted {
			// Rotated: the new file at the path is new, read from 0.
			src := *t.src
			src.fromEnd = false
			a.open(&src)
			a.log.Debug("log file rotated", "path", p)
		}
	}
	return more
}

// emitter returns what puts a tail's lines into its rules' sinks' queues.
func (a *Agent) emitter(t *tailState) func(line) {
	identity := t.loc.path + "#" + t.id.String()
	return func(l line) {
		for _, tg := range t.src.targets {
			rec := t.src.meta
			rec.Time, rec.Stream, rec.Message, rec.Rule = l.time, l.stream, string(l.message), tg.rule
			if tg.wkind != "" {
				rec.WorkloadKind, rec.WorkloadName = tg.wkind, tg.wname
			}
			rb, err := json.Marshal(rec)
			if err != nil {
				continue
			}
			b, err := json.Marshal(item{Source: identity, Offset: l.offset, Record: rb})
			if err != nil {
				continue
			}
			for _, s := range tg.sinks {
				s.put(b)
			}
		}
	}
}
