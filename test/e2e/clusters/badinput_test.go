package clusters

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kstack/kstack/test/e2e/framework"
)

// TestImportBadInput: each bad import gets a clear error and stores nothing.
func TestImportBadInput(t *testing.T) {
	k := framework.New(t)
	p := k.Up(3*time.Minute, "--listen", framework.FreeAddr(t))
	kc := k.CreateCluster("target", 1)
	server := k.MustKubectl(kc, "config", "view", "-o", "jsonpath={.clusters[0].cluster.server}")
	ca := filepath.Join(k.DataDir, "clusters", "target", "pki", "ca.crt")
	goodToken := serviceAccountToken(t, k, kc, "importer", true)
	weakToken := serviceAccountToken(t, k, kc, "weak", false)
	dir := t.TempDir()
	write := func(name, data string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}

	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("hello")) }))
	defer plain.Close()
	notKube := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<html>a web site</html>"))
	}))
	defer notKube.Close()
	notKubeCA := write("notkube-ca.crt", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: notKube.Certificate().Raw})))
	if _, err := x509.ParseCertificate(notKube.Certificate().Raw); err != nil {
		t.Fatal(err)
	}
	wrongCA := filepath.Join(k.DataDir, "platform", "pki", "ca.crt")
	closed := "https://" + framework.FreeAddr(t)

	execKubeconfig := write("exec.kubeconfig", `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: `+server+`, certificate-authority: `+ca+`}}]
users: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1, command: aws, args: [eks, get-token]}}}]
contexts: [{name: ctx, context: {cluster: c, user: u}}]
current-context: ctx
`)
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"unreachable address", []string{"--server", closed, "--ca", ca, "--token", goodToken}, []string{"cannot reach", "check the address"}},
		{"plain HTTP endpoint", []string{"--server", strings.Replace(plain.URL, "http://", "https://", 1), "--ca", ca, "--token", goodToken}, []string{"does not speak TLS"}},
		{"http scheme", []string{"--server", plain.URL, "--ca", ca, "--token", goodToken}, []string{"is not https"}},
		{"not Kubernetes", []string{"--server", notKube.URL, "--ca", notKubeCA, "--token", goodToken}, []string{"does not look like a Kubernetes API server"}},
		{"wrong CA", []string{"--server", server, "--ca", wrongCA, "--token", goodToken}, []string{"not signed by the CA given"}},
		{"bad token", []string{"--server", server, "--ca", ca, "--token", "not-a-token"}, []string{"refused the credential (401"}},
		{"expired token", []string{"--server", server, "--ca", ca, "--token", expiredToken(t, filepath.Join(k.DataDir, "clusters", "target", "pki", "sa.key"))}, []string{"refused the credential (401", "expired"}},
		{"too few rights", []string{"--server", server, "--ca", ca, "--token", weakToken}, []string{"lacks permissions", "list nodes", "impersonate users"}},
		{"no CA", []string{"--server", server, "--token", goodToken}, []string{"needs --ca"}},
		{"exec plugin", []string{"--kubeconfig", execKubeconfig}, []string{"plugin", "token or a client certificate"}},
		{"missing context", []string{"--kubeconfig", kc, "--context", "nope"}, []string{`no context "nope"`}},
		{"no cluster given", nil, []string{"--kubeconfig FILE, or --server"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stderr := k.MustFail(append([]string{"cluster", "import"}, c.args...)...)
			for _, w := range c.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("error %q does not say %q", strings.TrimSpace(stderr), w)
				}
			}
		})
	}

	// Nothing was stored by any of them.
	if list := clusters(t, k); len(list) != 1 {
		t.Fatalf("clusters after bad imports: %v", list)
	}
	if out := k.MustKubectl(p.Kubeconfig, "get", "clustercredentials", "-o", "name"); strings.TrimSpace(out) != "" {
		t.Fatalf("credentials stored: %q", out)
	}
	if out := k.MustKubectl(p.Kubeconfig, "-n", "kstack-system", "get", "secrets", "-o", "name"); strings.Contains(out, "cc-") {
		t.Fatalf("credential secrets stored: %q", out)
	}
	// ... nor written into the target.
	if out := k.MustKubectl(kc, "get", "clusterrolebindings", "-l", "app.kubernetes.io/managed-by=kstack", "-o", "name"); strings.TrimSpace(out) != "" {
		t.Fatalf("objects written into the target: %q", out)
	}

	// The good credential works, and proves the cases above failed for their reason.
	k.MustRun("cluster", "import", "--server", server, "--ca", ca, "--token", goodToken, "--name", "target")
	waitPhase(t, k, "target", "Running", time.Minute)
}

// expiredToken mints a ServiceAccount token for kube-system/importer with the
// cluster's own signing key, expired an hour ago.
func expiredToken(t *testing.T, keyFile string) string {
	data, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s is not PEM", keyFile)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	now := time.Now()
	iss := "https://kubernetes.default.svc.cluster.local"
	unsigned := enc(map[string]string{"alg": "RS256", "typ": "JWT"}) + "." + enc(map[string]any{
		"iss": iss, "aud": []string{iss}, "sub": "system:serviceaccount:kube-system:importer",
		"iat": now.Add(-2 * time.Hour).Unix(), "nbf": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-time.Hour).Unix(),
		"kubernetes.io": map[string]any{"namespace": "kube-system", "serviceaccount": map[string]string{"name": "importer"}},
	})
	sum := sha256.Sum256([]byte(unsigned))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key.(*rsa.PrivateKey), crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return unsigned + "." + base64.RawURLEncoding.EncodeToString(sig)
}
