package framework

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// PlatformCA is the PEM CA of the platform's gateway certificate.
func (k *Kstack) PlatformCA() []byte {
	k.T.Helper()
	ca, err := os.ReadFile(filepath.Join(k.DataDir, "platform", "pki", "ca.crt"))
	if err != nil {
		k.T.Fatal(err)
	}
	return ca
}

// PlatformHTTP returns a client that trusts the platform's CA, and the data
// dir's admin token.
func (k *Kstack) PlatformHTTP() (*http.Client, string) {
	k.T.Helper()
	tok, err := os.ReadFile(filepath.Join(k.DataDir, "platform", "pki", "admin-token"))
	if err != nil {
		k.T.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(k.PlatformCA())
	return &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}, strings.TrimSpace(string(tok))
}

// Do sends one request (with a bearer token, the cluster header and a body
// when not empty) and returns the status and body.
func Do(t testing.TB, c *http.Client, method, url, token, cluster, contentType, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if cluster != "" {
		req.Header.Set("X-TKE-ClusterName", cluster)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}
