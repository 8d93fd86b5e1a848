package localcluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	kwokv1alpha1 "sigs.k8s.io/kwok/pkg/apis/v1alpha1"
	kwokmetrics "sigs.k8s.io/kwok/pkg/kwok/metrics"
	"sigs.k8s.io/yaml"

	"github.com/kstack/kstack/internal/controlplane"
	"github.com/kstack/kstack/internal/datadir"
	"github.com/kstack/kstack/internal/pki"
)

func TestOlderClusterGetsMissingPorts(t *testing.T) {
	m := &Manager{Data: &datadir.Dir{Path: t.TempDir()}}
	p := m.paths("old")
	// cluster.json as a kstack without the kubelet endpoint and metrics-server wrote it.
	old := `{"name":"old","nodes":1,"ports":{"etcdClient":41001,"etcdPeer":41002,"apiServer":41003,"controllerManager":41004,"scheduler":41005,"kwok":41006,"podServer":41007},"kubernetesVersion":"v1.37.2","created":"2025-01-01T00:00:00Z"}`
	if err := os.MkdirAll(p.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.meta(), []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := readCluster(p)
	if err != nil {
		t.Fatal(err)
	}
	if c.Ports.Kubelet != 0 || c.Ports.MetricsServer != 0 || c.Ports.APIServer != 41003 {
		t.Fatalf("loaded ports %+v", c.Ports)
	}
	if err := m.addMissingPorts(c, p); err != nil {
		t.Fatal(err)
	}
	if c.Ports.Kubelet == 0 || c.Ports.MetricsServer == 0 || c.Ports.Kubelet == c.Ports.MetricsServer {
		t.Fatalf("ports after: %+v", c.Ports)
	}
	seen := map[int]string{}
	for use, port := range c.Ports.All() {
		if other, dup := seen[port]; dup {
			t.Fatalf("port %d is both %s and %s", port, use, other)
		}
		seen[port] = use
	}
	kept, err := readCluster(p)
	if err != nil {
		t.Fatal(err)
	}
	if kept.Ports != c.Ports {
		t.Fatalf("cluster.json keeps %+v, want %+v", kept.Ports, c.Ports)
	}
	// A second start keeps them.
	before := kept.Ports
	if err := m.addMissingPorts(kept, p); err != nil {
		t.Fatal(err)
	}
	if kept.Ports != before {
		t.Fatalf("ports changed on the second start: %+v, were %+v", kept.Ports, before)
	}
}

func TestMetricsAPIObjects(t *testing.T) {
	svc, api, role := metricsAPIObjects(43210, []byte("CA PEM"))
	if svc.Namespace != "kube-system" || svc.Spec.Type != corev1.ServiceTypeExternalName || net.ParseIP(svc.Spec.ExternalName) == nil || !net.ParseIP(svc.Spec.ExternalName).IsLoopback() {
		t.Errorf("service %+v", svc.Spec)
	}
	if api.Name != "v1beta1.metrics.k8s.io" || api.Spec.Group != "metrics.k8s.io" || api.Spec.Version != "v1beta1" {
		t.Errorf("APIService %s %+v", api.Name, api.Spec)
	}
	if s := api.Spec.Service; s == nil || s.Name != svc.Name || s.Namespace != svc.Namespace || s.Port == nil || *s.Port != 43210 {
		t.Errorf("APIService service reference %+v", api.Spec.Service)
	}
	// The aggregator verifies metrics-server against the CA, for the Service's DNS name.
	if api.Spec.InsecureSkipTLSVerify || string(api.Spec.CABundle) != "CA PEM" {
		t.Errorf("APIService TLS: insecure %v, CA %q", api.Spec.InsecureSkipTLSVerify, api.Spec.CABundle)
	}
	if svc.Name+"."+svc.Namespace+".svc" != controlplane.MetricsServerDNSName {
		t.Errorf("the serving certificate's name %s is not the Service's %s.%s.svc", controlplane.MetricsServerDNSName, svc.Name, svc.Namespace)
	}
	if role.Labels["rbac.authorization.k8s.io/aggregate-to-view"] != "true" || len(role.Rules) != 1 || role.Rules[0].APIGroups[0] != "metrics.k8s.io" {
		t.Errorf("ClusterRole %+v", role)
	}
}

func TestSimulatedNode(t *testing.T) {
	c := &Cluster{Name: "dev", Ports: controlplane.Ports{Kwok: 4000, Kubelet: 4001}}
	n := simulatedNode(c, 2, "192.0.2.7")
	if got := n.Annotations[ResourceMetricsPathAnnotation]; got != "/metrics/nodes/dev-node-2/metrics/resource" {
		t.Errorf("metrics path annotation %q", got)
	}
	if n.Status.DaemonEndpoints.KubeletEndpoint.Port != 4001 || n.Status.Addresses[0] != (corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "192.0.2.7"}) {
		t.Errorf("kubelet endpoint %v %+v", n.Status.DaemonEndpoints, n.Status.Addresses)
	}
	if n.Annotations[controlplane.KwokNodeAnnotation] != "fake" {
		t.Error("kwok would not manage the node")
	}
}

func TestReconcileNodeFromAnEarlierStart(t *testing.T) {
	c := &Cluster{Name: "dev", Ports: controlplane.Ports{Kwok: 4000, Kubelet: 4001}}
	want := simulatedNode(c, 1, "192.0.2.7")
	// As an older kstack registered it and kwok initialised it.
	old := want.DeepCopy()
	delete(old.Annotations, ResourceMetricsPathAnnotation)
	old.Annotations["other"] = "kept"
	old.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}, {Type: corev1.NodeHostName, Address: "dev-node-1"}}
	old.Status.DaemonEndpoints.KubeletEndpoint.Port = 4000
	cs := fake.NewClientset(old)
	if err := reconcileNode(context.Background(), cs, want); err != nil {
		t.Fatal(err)
	}
	got, err := cs.CoreV1().Nodes().Get(context.Background(), "dev-node-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Annotations[ResourceMetricsPathAnnotation] != nodeMetricsPath("dev-node-1") || got.Annotations["other"] != "kept" {
		t.Errorf("annotations %v", got.Annotations)
	}
	wantAddrs := []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "192.0.2.7"}, {Type: corev1.NodeHostName, Address: "dev-node-1"}}
	if fmt.Sprint(got.Status.Addresses) != fmt.Sprint(wantAddrs) || got.Status.DaemonEndpoints.KubeletEndpoint.Port != 4001 {
		t.Errorf("status %+v %v", got.Status.Addresses, got.Status.DaemonEndpoints)
	}
	// Up to date: nothing to write.
	if setNodeAnnotations(got, want) || setKubeletEndpoint(got, want) {
		t.Error("an up-to-date node would be written again")
	}
}

// TestKwokMetricNodesUseSomething evaluates the Metric's node expressions as
// kwok does: a node without pods still uses CPU and memory, or metrics-server
// would drop it.
func TestKwokMetricNodesUseSomething(t *testing.T) {
	doc, err := kwokMetric()
	if err != nil {
		t.Fatal(err)
	}
	var m kwokv1alpha1.Metric
	if err := yaml.UnmarshalStrict([]byte(doc), &m); err != nil {
		t.Fatal(err)
	}
	if m.Spec.Path != resourceMetricsPath {
		t.Fatalf("path %q", m.Spec.Path)
	}
	env, err := kwokmetrics.NewEnvironment(kwokmetrics.EnvironmentConfig{
		NodeResourceUsage:           func(string, string) float64 { return 0 },
		NodeResourceCumulativeUsage: func(string, string) float64 { return 0 },
		PodResourceUsage:            func(string, string, string) float64 { return 0 },
		PodResourceCumulativeUsage:  func(string, string, string) float64 { return 0 },
		ContainerResourceUsage:      func(string, string, string, string) float64 { return 0 },
		ContainerResourceCumulativeUsage: func(string, string, string, string) float64 {
			return 0
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n", CreationTimestamp: metav1.NewTime(time.Now().Add(-100 * time.Second))}}
	values := map[string]float64{}
	for _, mc := range m.Spec.Metrics {
		if mc.Dimension != kwokv1alpha1.DimensionNode {
			continue
		}
		ev, err := env.Compile(mc.Value)
		if err != nil {
			t.Fatalf("%s: %v", mc.Name, err)
		}
		v, err := ev.EvaluateFloat64(context.Background(), kwokmetrics.Data{Node: node})
		if err != nil {
			t.Fatalf("%s: %v", mc.Name, err)
		}
		values[mc.Name] = v
	}
	// 50m for the 100 s the node has been up, and 256Mi.
	if cpu := values["node_cpu_usage_seconds_total"]; cpu < 4.9 || cpu > 5.5 {
		t.Errorf("node_cpu_usage_seconds_total %v, want about 5", cpu)
	}
	if mem := values["node_memory_working_set_bytes"]; mem != 256<<20 {
		t.Errorf("node_memory_working_set_bytes %v", mem)
	}
}

// frontFixture is a cluster PKI, a stand-in for kwok's plain HTTP server and
// the kubelet front before it, where only the users in allowed may pass.
type frontFixture struct {
	l     controlplane.Layout
	front *kubeletFront
	ca    *pki.CA
	pool  *x509.CertPool
}

func newFrontFixture(t *testing.T, ip string, allowed ...string) *frontFixture {
	t.Helper()
	l := controlplane.Layout{Dir: t.TempDir()}
	if err := controlplane.EnsurePKI(l, controlplane.Ports{APIServer: 1}, controlplane.PKIOptions{Clients: []controlplane.Identity{controlplane.AdminIdentity}}); err != nil {
		t.Fatal(err)
	}
	kwok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "kwok %s", r.URL.Path)
	}))
	t.Cleanup(kwok.Close)
	kwokPort := kwok.Listener.Addr().(*net.TCPAddr).Port
	cs := fake.NewClientset()
	cs.PrependReactor("create", "subjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		sar := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview)
		ra := sar.Spec.ResourceAttributes
		ok := false
		for _, u := range allowed {
			ok = ok || (u == sar.Spec.User && ra.Resource == "nodes" && ra.Subresource == "proxy" && ra.Verb == "create")
		}
		sar.Status.Allowed = ok
		return true, sar, nil
	})
	f, err := startKubeletFront(l, ip, 0, kwokPort, cs, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	cert, key, err := pki.LoadPair(l.PKIDir(), "ca")
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &frontFixture{l: l, front: f, ca: &pki.CA{Cert: cert, Key: key}, pool: pool}
}

// get fetches path through the front as the holder of cert (none if nil).
func (f *frontFixture) get(cert *tls.Certificate, path string) (int, string, error) {
	host, _, _ := net.SplitHostPort(f.front.Addr().String())
	cfg := &tls.Config{RootCAs: f.pool, ServerName: host}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
	defer c.CloseIdleConnections()
	resp, err := c.Get("https://" + f.front.Addr().String() + path)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

func clientCert(t *testing.T, ca *pki.CA, user string, groups ...string) *tls.Certificate {
	t.Helper()
	c, k, err := ca.Issue(pki.CertSpec{CommonName: user, Organization: groups, Client: true})
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{c.Raw}, PrivateKey: k}
}

func TestKubeletFrontLetsOnlyAllowedClientsOfTheCA(t *testing.T) {
	f := newFrontFixture(t, "127.0.0.1", "kstack-admin")
	admin, err := tls.LoadX509KeyPair(f.l.PKI("admin.crt"), f.l.PKI("admin.key"))
	if err != nil {
		t.Fatal(err)
	}
	code, body, err := f.get(&admin, "/metrics/nodes/n1/metrics/resource")
	if err != nil || code != 200 || body != "kwok /metrics/nodes/n1/metrics/resource" {
		t.Fatalf("the admin: %d %q %v", code, body, err)
	}

	// The cluster's CA, but a user the cluster does not let proxy to nodes.
	code, body, err = f.get(clientCert(t, f.ca, "someone"), "/exec/default/p/c")
	if err != nil || code != http.StatusForbidden || !strings.Contains(body, "someone may not") {
		t.Fatalf("an unauthorised user: %d %q %v", code, body, err)
	}
	// No certificate, or one of another CA: refused by TLS, kwok never reached.
	if code, body, err := f.get(nil, "/healthz"); err == nil {
		t.Fatalf("without a certificate: %d %q", code, body)
	}
	other, err := pki.NewCA("intruder")
	if err != nil {
		t.Fatal(err)
	}
	if code, body, err := f.get(clientCert(t, other, "kstack-admin", "system:masters"), "/healthz"); err == nil {
		t.Fatalf("with another CA's certificate: %d %q", code, body)
	}
}

func TestKubeletFrontServesTheNodeAddress(t *testing.T) {
	ip := nodeAddress()
	if net.ParseIP(ip) == nil {
		t.Fatalf("node address %q", ip)
	}
	t.Logf("this host's node address: %s", ip)
	// Its certificate is for the address the nodes advertise, checked
	// against the cluster's CA as the apiserver and metrics-server do.
	f := newFrontFixture(t, ip, "kstack-admin")
	code, body, err := f.get(clientCert(t, f.ca, "kstack-admin"), "/healthz")
	if err != nil || code != 200 || body != "kwok /healthz" {
		t.Fatalf("%d %q %v", code, body, err)
	}
}

func TestKwokConfigHasTheMetric(t *testing.T) {
	l := controlplane.Layout{Dir: t.TempDir()}
	if err := writeKwokConfig(l, controlplane.Ports{PodServer: 1}, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(l.KwokConfig())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "kind: Metric") || !strings.Contains(string(data), resourceMetricsPath) {
		t.Fatalf("kwok config without the Metric:\n%s", data)
	}
	// kwok refuses a kind that is both in its config and watched as a CRD.
	for _, kind := range controlplane.KwokCRDs {
		if strings.Contains(string(data), "kind: "+kind+"\n") {
			t.Errorf("kwok's config has %s, which kwok watches as a CRD", kind)
		}
	}
	if _, err := os.Stat(filepath.Dir(l.KwokConfig())); err != nil {
		t.Fatal(err)
	}
}

func TestProcessesRunMetricsServerAfterKwok(t *testing.T) {
	c := &Cluster{Name: "dev", Ports: controlplane.Ports{Kwok: 1, Kubelet: 2, MetricsServer: 3}}
	var names []string
	for _, p := range processes("kstack", controlplane.Layout{Dir: "/x"}, c, "192.0.2.9") {
		names = append(names, p.Name)
	}
	want := "etcd kube-apiserver kube-controller-manager kube-scheduler kwok metrics-server logagent provisioner"
	if strings.Join(names, " ") != want {
		t.Fatalf("processes %v, want %s", names, want)
	}
}
