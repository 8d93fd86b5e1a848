package controlplane

import (
	"errors"
	"os"
	"testing"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/kstack/kstack/internal/pki"
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
