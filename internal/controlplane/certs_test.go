package controlplane

import (
	"errors"
	"os"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/kstack/kstack/internal/pki"
	"github.com/kstack/kstack/internal/supervisor"
)

func TestEnsurePKI(t *testing.T) {
	l := Layout{Dir: t.TempDir()}
	ports := Ports{APIServer: 6443}
	opts := PKIOptions{Clients: []Identity{AdminIdentity}, KubeletServing: true, EncryptSecrets: true}
	if err := EnsurePKI(l, ports, opts); err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.LoadFromFile(l.AdminKubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Clusters["kstack"].Server != "https://127.0.0.1:6443" {
		t.Fatalf("kubeconfig server %q", cfg.Clusters["kstack"].Server)
	}
	ca1, err := os.ReadFile(l.PKI("ca.crt"))
	if err != nil || len(ca1) == 0 {
		t.Fatalf("the CA after EnsurePKI: %d bytes, %v", len(ca1), err)
	}
	// A second call keeps the PKI.
	if err := EnsurePKI(l, ports, opts); err != nil {
		t.Fatal(err)
	}
	ca2, err := os.ReadFile(l.PKI("ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	if string(ca1) != string(ca2) {
		t.Fatal("EnsurePKI replaced an existing CA")
	}

	// A certificate from another CA is reported as damaged.
	other, err := pki.NewCA("intruder")
	if err != nil {
		t.Fatal(err)
	}
	c, k, err := other.Issue(pki.CertSpec{CommonName: "kube-apiserver", Server: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := pki.WritePair(l.PKIDir(), "apiserver", c, k); err != nil {
		t.Fatal(err)
	}
	var ce *pki.CorruptError
	if err := CheckPKI(l, opts); !errors.As(err, &ce) || ce.Path != l.PKI("apiserver.crt") {
		t.Fatalf("want the apiserver certificate reported, got %v", err)
	}

	// A missing encryption config is reported too.
	l2 := Layout{Dir: t.TempDir()}
	if err := EnsurePKI(l2, ports, opts); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(l2.EncryptionConfig()); err != nil {
		t.Fatal(err)
	}
	if err := CheckPKI(l2, opts); !errors.As(err, &ce) {
		t.Fatalf("missing encryption config: %v", err)
	}
}

func TestProcessesOrder(t *testing.T) {
	l := Layout{Dir: "/x"}
	names := func(o Options) (out []string) {
		for _, p := range Processes(o) {
			out = append(out, p.Name)
		}
		return out
	}
	got := names(Options{Binary: "kstack", Layout: l, Kubelets: true})
	want := []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "provisioner"}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	plat := Processes(Options{Binary: "kstack", Layout: l, EncryptSecrets: true})
	if len(plat) != 3 {
		t.Fatalf("platform control plane: %d processes", len(plat))
	}
	found := false
	for _, a := range plat[1].Args {
		if a == "--encryption-provider-config="+l.EncryptionConfig() {
			found = true
		}
	}
	if !found {
		t.Fatal("the platform's apiserver does not encrypt secrets")
	}
}

func TestUpgradePKIAddsTheAggregationLayer(t *testing.T) {
	l := Layout{Dir: t.TempDir()}
	ports := Ports{APIServer: 6443}
	// A PKI as an older kstack made it, without the aggregation layer.
	older := PKIOptions{Clients: []Identity{AdminIdentity}, KubeletServing: true}
	if err := EnsurePKI(l, ports, older); err != nil {
		t.Fatal(err)
	}
	ca1, err := os.ReadFile(l.PKI("ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	opts := older
	opts.Aggregation = true
	if err := CheckPKI(l, opts); err == nil {
		t.Fatal("CheckPKI accepts a PKI without the aggregation layer's files")
	}
	if err := UpgradePKI(l, opts); err != nil {
		t.Fatal(err)
	}
	if ca2, _ := os.ReadFile(l.PKI("ca.crt")); string(ca2) != string(ca1) {
		t.Fatal("UpgradePKI replaced the CA")
	}
	fpCA, _, err := pki.LoadPair(l.PKIDir(), FrontProxyCA)
	if err != nil {
		t.Fatal(err)
	}
	client, _, err := pki.LoadPair(l.PKIDir(), FrontProxyClient.File)
	if err != nil {
		t.Fatal(err)
	}
	if client.Subject.CommonName != FrontProxyClient.CommonName || client.CheckSignatureFrom(fpCA) != nil {
		t.Errorf("front-proxy client %q is not signed by the front-proxy CA", client.Subject.CommonName)
	}
	ms, _, err := pki.LoadPair(l.PKIDir(), MetricsServerServing)
	if err != nil {
		t.Fatal(err)
	}
	if err := ms.VerifyHostname(MetricsServerDNSName); err != nil {
		t.Error(err)
	}
	if err := ms.VerifyHostname("127.0.0.1"); err != nil {
		t.Error(err)
	}
	// A second upgrade keeps what the first made.
	clientPEM, _ := os.ReadFile(l.PKI(FrontProxyClient.File + ".crt"))
	if err := UpgradePKI(l, opts); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(l.PKI(FrontProxyClient.File + ".crt")); string(again) != string(clientPEM) {
		t.Error("a second UpgradePKI reissued the front-proxy client")
	}

	// A lost front-proxy CA is made again, with a client under it.
	if err := os.Remove(l.PKI(FrontProxyCA + ".key")); err != nil {
		t.Fatal(err)
	}
	if err := UpgradePKI(l, opts); err != nil {
		t.Fatalf("after losing the front-proxy CA's key: %v", err)
	}

	// A front-proxy client signed by the cluster CA is not trusted as one.
	ca, caKey, err := pki.LoadPair(l.PKIDir(), "ca")
	if err != nil {
		t.Fatal(err)
	}
	c, k, err := (&pki.CA{Cert: ca, Key: caKey}).Issue(pki.CertSpec{CommonName: FrontProxyClient.CommonName, Client: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := pki.WritePair(l.PKIDir(), FrontProxyClient.File, c, k); err != nil {
		t.Fatal(err)
	}
	var ce *pki.CorruptError
	if err := CheckPKI(l, opts); !errors.As(err, &ce) || ce.Path != l.PKI(FrontProxyClient.File+".crt") {
		t.Fatalf("want the front-proxy client reported, got %v", err)
	}
}

func TestAggregationAndNodeFlags(t *testing.T) {
	l := Layout{Dir: "/x"}
	args := func(procs []supervisor.Process, name string) string {
		for _, p := range procs {
			if p.Name == name {
				return strings.Join(p.Args, " ")
			}
		}
		t.Fatalf("no process %s", name)
		return ""
	}
	ports := Ports{Kwok: 7001, Kubelet: 7002, MetricsServer: 7003}
	local := Options{Binary: "kstack", Layout: l, Ports: ports, Kubelets: true, Aggregation: true, NodeIP: "192.0.2.9"}
	procs := Processes(local)
	api := args(procs, "kube-apiserver")
	for _, want := range []string{
		"--requestheader-client-ca-file=/x/pki/front-proxy-ca.crt", "--requestheader-allowed-names=front-proxy-client",
		"--proxy-client-cert-file=/x/pki/front-proxy-client.crt", "--proxy-client-key-file=/x/pki/front-proxy-client.key",
		"--requestheader-username-headers=X-Remote-User", "--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
	} {
		if !strings.Contains(api, want) {
			t.Errorf("apiserver lacks %s", want)
		}
	}
	kwok := args(procs, "kwok")
	for _, want := range []string{"--node-ip=192.0.2.9", "--node-port=7002", "--server-address=127.0.0.1:7001", "--enable-crds=Logs,ResourceUsage,ClusterResourceUsage"} {
		if !strings.Contains(kwok, want) {
			t.Errorf("kwok lacks %s: %s", want, kwok)
		}
	}
	ms := strings.Join(MetricsServer(local).Args, " ")
	for _, want := range []string{"component metrics-server", "--secure-port=7003", "--bind-address=127.0.0.1", "--kubelet-use-node-status-port",
		"--kubelet-certificate-authority=/x/pki/ca.crt", "--tls-cert-file=/x/pki/metrics-server.crt"} {
		if !strings.Contains(ms, want) {
			t.Errorf("metrics-server lacks %s", want)
		}
	}
	// The platform's control plane runs without them.
	plat := args(Processes(Options{Binary: "kstack", Layout: l, EncryptSecrets: true}), "kube-apiserver")
	if strings.Contains(plat, "requestheader") || strings.Contains(plat, "proxy-client") {
		t.Errorf("the platform's apiserver has front-proxy flags: %s", plat)
	}
}
