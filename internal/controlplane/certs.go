package controlplane

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"

	"github.com/kstack/kstack/internal/pki"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Identity is a client certificate that the control plane issues.
type Identity struct {
	File         string // base name under pki/ and kubeconfig/
	CommonName   string
	Organization []string
}

// Identities of every control plane: the admin and the built-in components.
var (
	AdminIdentity     = Identity{"admin", "kstack-admin", []string{"system:masters"}}
	ControllerManager = Identity{"controller-manager", "system:kube-controller-manager", nil}
	Scheduler         = Identity{"scheduler", "system:kube-scheduler", nil}
	// Kwok plays every node's kubelet, so it needs broad rights.
	KwokIdentity  = Identity{"kwok", "kstack-kwok", []string{"system:masters"}}
	KubeletClient = Identity{"apiserver-kubelet-client", "kube-apiserver-kubelet-client", []string{"system:masters"}}
	EtcdClient    = Identity{"apiserver-etcd-client", "kube-apiserver-etcd-client", nil}
	// Platform is the identity of the kstack platform process.
	PlatformIdentity = Identity{"platform", "kstack-platform", []string{"system:masters"}}
	// FrontProxyClient is the apiserver's identity towards aggregated API
	// servers, under its own CA (FrontProxyCA): an aggregated server trusts
	// the user headers only of this certificate.
	FrontProxyClient = Identity{"front-proxy-client", "front-proxy-client", nil}
)

// Files of the aggregation layer (PKIOptions.Aggregation).
const (
	FrontProxyCA = "front-proxy-ca"
	// MetricsServerServing is metrics-server's serving certificate, for the
	// name the aggregator checks (SERVICE.NAMESPACE.svc) and loopback.
	MetricsServerServing = "metrics-server"
	MetricsServerDNSName = "metrics-server.kube-system.svc"
)

// PKIOptions say which certificates a control plane needs.
type PKIOptions struct {
	// Clients lists the client identities to issue and write kubeconfigs for.
	Clients []Identity
	// KubeletServing issues the serving certificate of kwok's kubelet endpoint.
	KubeletServing bool
	// EncryptSecrets writes an encryption configuration for Secrets at rest.
	EncryptSecrets bool
	// Aggregation issues the front-proxy CA and client certificate of the
	// aggregation layer and metrics-server's serving certificate. An older
	// PKI without them gets them from EnsurePKI, the rest left as it is.
	Aggregation bool
}

// EnsurePKI makes the PKI of the control plane unless it exists, and checks
// every file when it does. A first creation writes into a temporary directory
// and renames it into place, so a failure never leaves half a PKI.
func EnsurePKI(l Layout, ports Ports, opts PKIOptions) error {
	if _, err := os.Stat(l.PKIDir()); err == nil {
		return UpgradePKI(l, opts)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	tmp := l.PKIDir() + ".tmp"
	_ = os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return err
	}
	if err := writePKI(tmp, opts); err != nil {
		_ = os.RemoveAll(tmp)
		return err
	}
	if err := os.Rename(tmp, l.PKIDir()); err != nil {
		return err
	}
	return WriteKubeconfigs(l, ports, opts.Clients)
}

func writePKI(dir string, opts PKIOptions) error {
	ca, err := pki.NewCA("kstack-ca")
	if err != nil {
		return err
	}
	if err := pki.WritePair(dir, "ca", ca.Cert, ca.Key); err != nil {
		return err
	}
	loopback := []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")}
	issue := func(name string, spec pki.CertSpec) error {
		c, k, err := ca.Issue(spec)
		if err != nil {
			return err
		}
		return pki.WritePair(dir, name, c, k)
	}
	if err := issue("apiserver", pki.CertSpec{
		CommonName: "kube-apiserver", Server: true,
		DNSNames: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		IPs:      append(loopback, net.ParseIP("10.96.0.1")),
	}); err != nil {
		return err
	}
	if err := issue("etcd-server", pki.CertSpec{CommonName: "etcd", Server: true, Client: true, DNSNames: []string{"localhost"}, IPs: loopback}); err != nil {
		return err
	}
	if err := issue(EtcdClient.File, pki.CertSpec{CommonName: EtcdClient.CommonName, Client: true}); err != nil {
		return err
	}
	if opts.KubeletServing {
		if err := issue("kubelet-serving", pki.CertSpec{CommonName: "kstack-kwok-kubelet", Server: true, DNSNames: []string{"localhost"}, IPs: loopback}); err != nil {
			return err
		}
		if err := issue(KubeletClient.File, pki.CertSpec{CommonName: KubeletClient.CommonName, Organization: KubeletClient.Organization, Client: true}); err != nil {
			return err
		}
	}
	for _, id := range opts.Clients {
		if err := issue(id.File, pki.CertSpec{CommonName: id.CommonName, Organization: id.Organization, Client: true}); err != nil {
			return err
		}
	}
	if opts.Aggregation {
		if err := issueAggregation(dir, ca); err != nil {
			return err
		}
	}
	sa, err := pki.NewServiceAccountKey()
	if err != nil {
		return err
	}
	saKey, err := pki.KeyPEM(sa)
	if err != nil {
		return err
	}
	saPub, err := pki.PublicKeyPEM(sa.Public())
	if err != nil {
		return err
	}
	if err := pki.WriteFile(filepath.Join(dir, "sa.key"), saKey); err != nil {
		return err
	}
	if err := pki.WriteFile(filepath.Join(dir, "sa.pub"), saPub); err != nil {
		return err
	}
	if opts.EncryptSecrets {
		secret := make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			return err
		}
		cfg := fmt.Sprintf(`apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources: ["secrets"]
  providers:
  - secretbox:
      keys:
      - name: key1
        secret: %s
  - identity: {}
`, base64.StdEncoding.EncodeToString(secret))
		if err := pki.WriteFile(filepath.Join(dir, "encryption-config.yaml"), []byte(cfg)); err != nil {
			return err
		}
	}
	return nil
}

// UpgradePKI adds to an existing PKI what opts need and an older kstack did
// not make (the aggregation layer's files), then checks every file.
func UpgradePKI(l Layout, opts PKIOptions) error {
	if opts.Aggregation {
		ca, key, err := pki.LoadPair(l.PKIDir(), "ca")
		if err != nil {
			return err
		}
		if err := issueAggregation(l.PKIDir(), &pki.CA{Cert: ca, Key: key}); err != nil {
			return err
		}
	}
	return CheckPKI(l, opts)
}

// issueAggregation issues the aggregation layer's files that dir lacks (a
// pair with either file missing counts as missing). A new front-proxy CA
// gets a new client certificate.
func issueAggregation(dir string, ca *pki.CA) error {
	missing := func(name string) bool {
		for _, ext := range []string{".crt", ".key"} {
			if _, err := os.Stat(filepath.Join(dir, name+ext)); err != nil {
				return true
			}
		}
		return false
	}
	newCA := missing(FrontProxyCA)
	if newCA {
		fp, err := pki.NewCA("kstack-front-proxy-ca")
		if err != nil {
			return err
		}
		if err := pki.WritePair(dir, FrontProxyCA, fp.Cert, fp.Key); err != nil {
			return err
		}
	}
	if newCA || missing(FrontProxyClient.File) {
		fpCert, fpKey, err := pki.LoadPair(dir, FrontProxyCA)
		if err != nil {
			return err
		}
		c, k, err := (&pki.CA{Cert: fpCert, Key: fpKey}).Issue(pki.CertSpec{CommonName: FrontProxyClient.CommonName, Client: true})
		if err != nil {
			return err
		}
		if err := pki.WritePair(dir, FrontProxyClient.File, c, k); err != nil {
			return err
		}
	}
	if missing(MetricsServerServing) {
		c, k, err := ca.Issue(pki.CertSpec{
			CommonName: "metrics-server", Server: true,
			DNSNames: []string{MetricsServerDNSName, "localhost"},
			IPs:      []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
		})
		if err != nil {
			return err
		}
		if err := pki.WritePair(dir, MetricsServerServing, c, k); err != nil {
			return err
		}
	}
	return nil
}

// CheckPKI loads every file of an existing PKI and reports the first damaged one.
func CheckPKI(l Layout, opts PKIOptions) error {
	dir := l.PKIDir()
	ca, _, err := pki.LoadPair(dir, "ca")
	if err != nil {
		return err
	}
	names := []string{"apiserver", "etcd-server", EtcdClient.File}
	if opts.KubeletServing {
		names = append(names, "kubelet-serving", KubeletClient.File)
	}
	for _, id := range opts.Clients {
		names = append(names, id.File)
	}
	if opts.Aggregation {
		names = append(names, MetricsServerServing)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	verify := func(n string, roots *x509.CertPool, what string) error {
		c, _, err := pki.LoadPair(dir, n)
		if err != nil {
			return err
		}
		if _, err := c.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			return &pki.CorruptError{Path: filepath.Join(dir, n+".crt"), Err: fmt.Errorf("not signed by this control plane's %s: %w", what, err)}
		}
		return nil
	}
	for _, n := range names {
		if err := verify(n, pool, "CA"); err != nil {
			return err
		}
	}
	if opts.Aggregation {
		fp, _, err := pki.LoadPair(dir, FrontProxyCA)
		if err != nil {
			return err
		}
		fpPool := x509.NewCertPool()
		fpPool.AddCert(fp)
		if err := verify(FrontProxyClient.File, fpPool, "front-proxy CA"); err != nil {
			return err
		}
	}
	if _, err := pki.LoadKey(filepath.Join(dir, "sa.key")); err != nil {
		return err
	}
	if opts.EncryptSecrets {
		if _, err := os.Stat(l.EncryptionConfig()); err != nil {
			return &pki.CorruptError{Path: l.EncryptionConfig(), Err: err}
		}
	}
	return nil
}

// WriteKubeconfigs writes a kubeconfig for each identity, pointing at the loopback apiserver.
func WriteKubeconfigs(l Layout, ports Ports, ids []Identity) error {
	if err := os.MkdirAll(l.KubeconfigDir(), 0o700); err != nil {
		return err
	}
	for _, id := range ids {
		if err := WriteKubeconfig(l.Kubeconfig(id.File), "kstack", ports.APIServerURL(), l.PKI("ca.crt"), l.PKI(id.File+".crt"), l.PKI(id.File+".key")); err != nil {
			return err
		}
	}
	return nil
}

// WriteKubeconfig writes a kubeconfig with the certificates embedded, so that it
// can be copied elsewhere.
func WriteKubeconfig(path, name, server, caFile, certFile, keyFile string) error {
	ca, err := os.ReadFile(caFile)
	if err != nil {
		return err
	}
	cert, err := os.ReadFile(certFile)
	if err != nil {
		return err
	}
	key, err := os.ReadFile(keyFile)
	if err != nil {
		return err
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[name] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: ca}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{ClientCertificateData: cert, ClientKeyData: key}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	cfg.CurrentContext = name
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return err
	}
	return pki.WriteFile(path, data)
}
