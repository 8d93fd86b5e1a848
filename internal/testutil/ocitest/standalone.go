package ocitest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem" // the standalone registry's storage
	"github.com/sirupsen/logrus"
)

// Standalone is a distribution v3.1.2 registry run in this process as its
// own binary would run it with the example configuration: filesystem
// storage, the in-memory blob descriptor cache, deletes enabled, no
// authentication. It serves HTTPS on 127.0.0.1 with a certificate of its
// own CA (TLS, as kstack's gateway does, so that comparisons are fair).
type Standalone struct {
	// Host is "127.0.0.1:port"; URL is "https://" + Host.
	Host, URL string
	// RootDir is the filesystem driver's root directory.
	RootDir string
	// CAPEM is the CA of the server's certificate; CAFile holds it, and
	// CertDir holds it as ca.crt (skopeo's --*-cert-dir).
	CAPEM           []byte
	CAFile, CertDir string
	Remote          Remote

	app *handlers.App
	srv *http.Server
}

var quietOnce sync.Once

// StartStandalone starts a standalone registry storing under rootDir
// (t.TempDir() when ""); it stops when t ends.
func StartStandalone(t testing.TB, rootDir string) *Standalone {
	t.Helper()
	// distribution logs through logrus's standard logger: one line per
	// request at info level, each 404 at error level.
	quietOnce.Do(func() { logrus.SetLevel(logrus.FatalLevel) })
	if rootDir == "" {
		rootDir = t.TempDir()
	}
	cfg, err := configuration.Parse(strings.NewReader(fmt.Sprintf(`version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %q
  cache:
    blobdescriptor: inmemory
  delete:
    enabled: true
  tag:
    concurrencylimit: 8
http:
  addr: 127.0.0.1:0
  secret: %q
  headers:
    X-Content-Type-Options: [nosniff]
`, rootDir, randomHex(16))))
	if err != nil {
		t.Fatalf("ocitest: distribution configuration: %v", err)
	}
	ca, err := NewCA()
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.ServingCert("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	app := handlers.NewApp(context.Background(), cfg)
	s := &Standalone{Host: l.Addr().String(), RootDir: rootDir, CAPEM: ca.PEM, app: app}
	s.URL = "https://" + s.Host
	s.CertDir = t.TempDir()
	s.CAFile = filepath.Join(s.CertDir, "ca.crt")
	if err := os.WriteFile(s.CAFile, ca.PEM, 0o644); err != nil {
		t.Fatal(err)
	}
	s.Remote = Remote{RootCAs: ca.Pool()}
	s.srv = &http.Server{Handler: app, ReadHeaderTimeout: 30 * time.Second, ErrorLog: log.New(io.Discard, "", 0),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}}
	go s.srv.ServeTLS(l, "", "") //nolint:errcheck // ends with Close
	t.Cleanup(func() {
		_ = s.srv.Close()
		_ = app.Shutdown()
	})
	return s
}

// CA is a throw-away certificate authority.
type CA struct {
	PEM  []byte
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// NewCA makes a CA valid for a day.
func NewCA() (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ocitest CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{PEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), cert: cert, key: key}, nil
}

// Pool is a pool holding only the CA.
func (c *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c.cert)
	return p
}

// ServingCert is a server certificate for the IP address or DNS name host.
func (c *CA) ServingCert(host string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	if ip := net.ParseIP(host); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = []string{host}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}
