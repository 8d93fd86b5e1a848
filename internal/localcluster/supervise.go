package localcluster

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"

	"github.com/kstack/kstack/internal/controlplane"
	"github.com/kstack/kstack/internal/supervisor"
	"github.com/kstack/kstack/internal/version"
)

// Supervise is the body of the detached `kstack local supervise NAME` process:
// it runs the cluster's components until it receives SIGTERM.
func (m *Manager) Supervise(ctx context.Context, name string) error {
	c, p, err := m.lookup(name)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("cluster", name)
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := os.WriteFile(p.supervisorPID(), []byte(fmt.Sprint(os.Getpid())), 0o600); err != nil {
		return err
	}
	st := &Status{Phase: PhaseStarting}
	setStatus := func(phase, msg string) {
		st.Phase, st.Message, st.Updated = phase, msg, time.Now().UTC()
		if err := writeJSON(p.status(), st); err != nil {
			log.Error("writing status", "err", err)
		}
	}
	fail := func(err error) error {
		log.Error("cluster failed", "err", err)
		setStatus(PhaseFailed, err.Error())
		return err
	}

	scratch, err := makeScratchDir(name)
	if err != nil {
		return fail(err)
	}
	st.ScratchDir = scratch
	if err := writeKwokConfig(p.Layout, c.Ports, scratch); err != nil {
		return fail(fmt.Errorf("writing kwok config: %w", err))
	}
	// The log agent starts with the components and watches these from its start.
	for _, d := range []string{p.PodLogsDir(), p.ContainerRoot()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fail(err)
		}
	}
	podSrv, err := startPodServer(c.Ports.PodServer)
	if err != nil {
		return fail(err)
	}
	defer podSrv.Close()

	if err := controlplane.EnsureAuditPolicy(p.Layout); err != nil {
		return fail(err)
	}
	if c.Ports.Kubelet == 0 || c.Ports.MetricsServer == 0 {
		return fail(fmt.Errorf("cluster.json has no kubelet or metrics-server port; start the cluster with `kstack local start %s`, which adds them", c.Name))
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", p.AdminKubeconfig())
	if err != nil {
		return fail(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fail(err)
	}
	nodeIP := nodeAddress()
	front, err := startKubeletFront(p.Layout, nodeIP, c.Ports.Kubelet, c.Ports.Kwok, cs, log)
	if err != nil {
		return fail(err)
	}
	defer front.Close()
	log.Info("simulated nodes' kubelet endpoint", "address", front.Addr().String())

	procs := processes(m.Binary, p.Layout, c, nodeIP)
	sup := &supervisor.Supervisor{Processes: procs, StateFile: p.StateFile(), Log: log}
	runCtx, cancelRun := context.WithCancel(context.Background())
	defer cancelRun()
	// Progress for `create`/`start`, written before each component starts.
	setStatus(PhaseStarting, "starting etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok, metrics-server")
	startDone := make(chan error, 1)
	var wait func()
	go func() {
		var err error
		wait, err = sup.Start(runCtx)
		startDone <- err
	}()
	select {
	case err := <-startDone:
		if err != nil {
			return fail(err)
		}
	case <-ctx.Done():
		cancelRun()
		if err := <-startDone; err == nil {
			wait()
		}
		return nil
	}
	defer func() {
		cancelRun()
		wait()
		log.Info("all components stopped")
	}()

	setStatus(PhaseStarting, fmt.Sprintf("control plane ready; registering %d simulated nodes", c.Nodes))
	if err := startPodLogs(ctx, p.Layout, cfg, log); err != nil {
		return fail(fmt.Errorf("simulated container logs: %w", err))
	}
	if err := ensureDefaultUsage(ctx, cfg); err != nil {
		return fail(err)
	}
	if err := ensureMetricsAPI(ctx, cfg, p.Layout, c.Ports.MetricsServer); err != nil {
		return fail(err)
	}
	if err := ensureNodes(ctx, cs, c, nodeIP); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fail(err)
	}
	setStatus(PhaseStarting, "waiting for nodes to be Ready")
	if err := waitNodesReady(ctx, cs, c); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fail(err)
	}
	// Pods need their namespace's default ServiceAccount: wait for it, so
	// that the first `kubectl run` after create does not race the controller.
	setStatus(PhaseStarting, "waiting for the default service account")
	if err := waitDefaultServiceAccount(ctx, cs); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fail(err)
	}
	setStatus(PhaseStarting, "waiting for the metrics API")
	if err := waitMetricsAPI(ctx, cfg); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fail(err)
	}
	setStatus(PhaseRunning, "running")
	log.Info("cluster running", "apiserver", c.Ports.APIServerURL())
	<-ctx.Done()
	log.Info("stopping")
	return nil
}

// LogAgentEnabled adds the log agent (`kstack logagent`) to every local
// cluster's processes. A variable, so that a build or test without the
// command can leave it out.
var LogAgentEnabled = true

// processes are the cluster's supervised processes, in start order: the
// control plane with kwok, where the apiserver counts as ready only once
// the CRDs kwok watches are served (so that kwok watches them from its
// start), then metrics-server and the log agent right after kwok. The nodes
// advertise nodeIP.
func processes(binary string, l controlplane.Layout, c *Cluster, nodeIP string) []supervisor.Process {
	var out []supervisor.Process
	o := controlplane.Options{Binary: binary, Layout: l, Ports: c.Ports, Kubelets: true, Aggregation: true, NodeIP: nodeIP}
	for _, proc := range controlplane.Processes(o) {
		if proc.Name == "kube-apiserver" {
			ready := proc.Ready
			proc.Ready = func(ctx context.Context) error {
				if err := ready(ctx); err != nil {
					return err
				}
				return installKwokCRDs(ctx, l)
			}
		}
		out = append(out, proc)
		if proc.Name == "kwok" {
			out = append(out, controlplane.MetricsServer(o))
		}
		if proc.Name == "kwok" && LogAgentEnabled {
			out = append(out, supervisor.Process{
				Name: "logagent", Path: binary,
				Args: []string{"logagent",
					"--kubeconfig=" + l.AdminKubeconfig(),
					"--cluster=" + c.Name,
					"--name=" + c.Name,
					"--pods-dir=" + l.PodLogsDir(),
					"--container-root=" + filepath.Join(l.ContainerRoot(), "{namespace}_{pod}_{uid}", "{container}"),
					"--state-dir=" + l.LogAgentStateDir(),
				},
				LogFile: l.Log("logagent"),
			})
		}
	}
	return out
}

// NodeName is the name of the i-th (1-based) simulated node of a cluster.
func NodeName(cluster string, i int) string { return fmt.Sprintf("%s-node-%d", cluster, i) }

// ensureNodes registers the cluster's simulated nodes; kwok only manages
// nodes with kstack's annotation, so nodes added by others stay alone. Nodes
// registered by an earlier start are brought up to date (reconcileNode).
func ensureNodes(ctx context.Context, cs kubernetes.Interface, c *Cluster, nodeIP string) error {
	for i := 1; i <= c.Nodes; i++ {
		want := simulatedNode(c, i, nodeIP)
		_, err := cs.CoreV1().Nodes().Create(ctx, want, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			err = reconcileNode(ctx, cs, want)
		}
		if err != nil {
			return fmt.Errorf("registering node %s: %w", want.Name, err)
		}
	}
	return nil
}

// simulatedNode is the i-th node of c as registered, advertising nodeIP and
// the cluster's kubelet endpoint, where its resource metrics are at the path
// its annotation names.
func simulatedNode(c *Cluster, i int, nodeIP string) *corev1.Node {
	name := NodeName(c.Name, i)
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: name,
			Labels: map[string]string{
				"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
				"type": "kwok", "kstack.io/local-cluster": c.Name,
			},
			Annotations: map[string]string{
				controlplane.KwokNodeAnnotation: "fake",
				"node.alpha.kubernetes.io/ttl":  "0",
				ResourceMetricsPathAnnotation:   nodeMetricsPath(name),
			},
		},
		Status: corev1.NodeStatus{
			Capacity:    nodeResources(),
			Allocatable: nodeResources(),
			Addresses: []corev1.NodeAddress{
				{Type: corev1.NodeInternalIP, Address: nodeIP},
				{Type: corev1.NodeHostName, Address: name},
			},
			DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: int32(c.Ports.Kubelet)}},
			NodeInfo: corev1.NodeSystemInfo{
				KubeletVersion:          version.Kubernetes,
				OSImage:                 "kstack simulated node (kwok)",
				ContainerRuntimeVersion: "kwok://simulated",
				OperatingSystem:         "linux",
				Architecture:            "amd64",
			},
		},
	}
}

// reconcileNode brings a node registered by an earlier start to want's
// metrics path annotation (an older kstack set none) and kubelet endpoint
// (the host's address or the cluster's ports may have changed; kwok sets
// them only on a node it initialises).
func reconcileNode(ctx context.Context, cs kubernetes.Interface, want *corev1.Node) error {
	nodes := cs.CoreV1().Nodes()
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := nodes.Get(ctx, want.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if setNodeAnnotations(cur, want) {
			if cur, err = nodes.Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
				return err
			}
		}
		if setKubeletEndpoint(cur, want) {
			_, err = nodes.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		}
		return err
	})
}

// setNodeAnnotations gives cur want's metrics path annotation; true if it changed.
func setNodeAnnotations(cur, want *corev1.Node) bool {
	v := want.Annotations[ResourceMetricsPathAnnotation]
	if cur.Annotations[ResourceMetricsPathAnnotation] == v {
		return false
	}
	if cur.Annotations == nil {
		cur.Annotations = map[string]string{}
	}
	cur.Annotations[ResourceMetricsPathAnnotation] = v
	return true
}

// setKubeletEndpoint gives cur want's InternalIP (in place of any other)
// and kubelet port; true if either changed.
func setKubeletEndpoint(cur, want *corev1.Node) bool {
	internalIPs := func(n *corev1.Node) (ips []string) {
		for _, a := range n.Status.Addresses {
			if a.Type == corev1.NodeInternalIP {
				ips = append(ips, a.Address)
			}
		}
		return ips
	}
	ip := internalIPs(want)[0]
	port := want.Status.DaemonEndpoints.KubeletEndpoint.Port
	if have := internalIPs(cur); len(have) == 1 && have[0] == ip && cur.Status.DaemonEndpoints.KubeletEndpoint.Port == port {
		return false
	}
	addrs := []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip}}
	for _, a := range cur.Status.Addresses {
		if a.Type != corev1.NodeInternalIP {
			addrs = append(addrs, a)
		}
	}
	cur.Status.Addresses = addrs
	cur.Status.DaemonEndpoints.KubeletEndpoint.Port = port
	return true
}

// nodeResources is the size of one simulated node: a modest real server, so
// that quotas, scheduling and capacity figures behave as on real hardware.
func nodeResources() corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceCPU:              resource.MustParse("16"),
		corev1.ResourceMemory:           resource.MustParse("64Gi"),
		corev1.ResourcePods:             resource.MustParse("110"),
		corev1.ResourceEphemeralStorage: resource.MustParse("200Gi"),
	}
}

func waitNodesReady(ctx context.Context, cs kubernetes.Interface, c *Cluster) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		ready := 0
		nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: "kstack.io/local-cluster=" + c.Name})
		if err == nil {
			for _, n := range nodes.Items {
				for _, cond := range n.Status.Conditions {
					if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
						ready++
					}
				}
			}
			if ready >= c.Nodes {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d nodes became Ready within 2 minutes (see the kwok log)", ready, c.Nodes)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func waitDefaultServiceAccount(ctx context.Context, cs kubernetes.Interface) error {
	deadline := time.Now().Add(time.Minute)
	for {
		_, err := cs.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the default service account did not appear within a minute (see the kube-controller-manager log): %w", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// makeScratchDir makes the directory where `kubectl exec` into a simulated
// pod runs its command, owned by the unprivileged user the command runs as.
func makeScratchDir(cluster string) (string, error) {
	dir, err := os.MkdirTemp("", "kstack-exec-"+cluster+"-")
	if err != nil {
		return "", fmt.Errorf("making the exec scratch dir: %w", err)
	}
	if os.Geteuid() == 0 {
		if err := os.Chown(dir, execUID, execUID); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// execUID is the user (nobody) that simulated exec commands run as when
// kstack runs as root.
const execUID = 65534

// startPodServer serves what `kubectl port-forward` to a simulated pod reaches.
func startPodServer(port int) (*http.Server, error) {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return nil, fmt.Errorf("simulated pod server: %w", err)
	}
	srv := &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			fmt.Fprintln(w, "Hello from a kstack simulated pod")
		}),
	}
	go func() { _ = srv.Serve(l) }()
	return srv, nil
}

// yamlQuote quotes a string for YAML.
func yamlQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
