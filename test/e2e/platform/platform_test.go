package platform_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/kstack/kstack/test/e2e/framework"
)

func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	return framework.Do(t, c, http.MethodGet, url, "", "", "", "")
}

func TestUp(t *testing.T) {
	k := framework.New(t)
	listen := framework.FreeAddr(t)
	p := k.Up(3*time.Minute, "--listen", listen)

	if want := "Console: https://" + listen + "/console/\nRegistry: " + listen + " (docker login " + listen + "; images are " + listen + "/NAMESPACE/REPOSITORY:TAG)\nAdmin kubeconfig: " + p.Kubeconfig + "\n"; p.Stdout.String() != want {
		t.Fatalf("stdout is %q, want exactly %q", p.Stdout.String(), want)
	}
	c, _ := k.PlatformHTTP()
	if code, body := get(t, c, p.ConsoleURL+"/readyz"); code != 200 || !strings.Contains(body, "ok") {
		t.Fatalf("/readyz: %d %s", code, body)
	}
	if code, _ := get(t, c, p.ConsoleURL+"/healthz"); code != 200 {
		t.Fatalf("/healthz: %d", code)
	}

	// The embedded apiserver and etcd listen on loopback only.
	state, err := os.ReadFile(filepath.Join(k.DataDir, "platform", "platform.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st struct{ Ports map[string]int }
	if err := json.Unmarshal(state, &st); err != nil {
		t.Fatal(err)
	}
	// Without the ports the loopback check below would check nothing.
	for _, name := range []string{"etcdClient", "apiServer"} {
		if st.Ports[name] == 0 {
			t.Fatalf("platform.json has no %s port: %s", name, state)
		}
	}
	for name, port := range st.Ports {
		addrs := listenAddrs(t, port)
		if len(addrs) == 0 {
			t.Errorf("nothing listens on the %s port %d", name, port)
		}
		for _, a := range addrs {
			if a != "127.0.0.1" {
				t.Errorf("%s port %d listens on %s, want loopback only", name, port, a)
			}
		}
	}

	t.Run("the global cluster is listed and healthy", func(t *testing.T) {
		framework.Eventually(t, time.Minute, "global cluster Running", func() error {
			out, err := k.Kubectl(p.Kubeconfig, "get", "clusters.platform.tkestack.io", "global", "-o", "jsonpath={.status.phase} {.status.version}")
			if err != nil {
				return err
			}
			if out != "Running v1.37.2" {
				return fmt.Errorf("status %q", out)
			}
			return nil
		})
	})

	t.Run("kstack kubectl finds the admin kubeconfig in the data dir", func(t *testing.T) {
		out := k.MustRun("kubectl", "get", "namespace", "kstack-system", "-o", "name")
		if strings.TrimSpace(out) != "namespace/kstack-system" {
			t.Fatalf("got %q", out)
		}
	})

	t.Run("secrets are encrypted at rest", func(t *testing.T) {
		k.MustKubectl(p.Kubeconfig, "create", "secret", "generic", "probe", "--from-literal=password=plain-text-sentinel")
		raw := etcdGet(t, k.DataDir, st.Ports["etcdClient"], "/registry/secrets/default/probe")
		if !bytes.HasPrefix(raw, []byte("k8s:enc:secretbox:v1:key1:")) {
			t.Fatalf("secret stored as %q..., want the secretbox prefix", raw[:min(40, len(raw))])
		}
		if bytes.Contains(raw, []byte("plain-text-sentinel")) {
			t.Fatal("the secret's value is in etcd in plain text")
		}
	})

	caBefore, err := os.ReadFile(filepath.Join(k.DataDir, "platform", "pki", "ca.crt"))
	if err != nil || len(caBefore) == 0 {
		t.Fatalf("the platform's CA: %d bytes, %v", len(caBefore), err)
	}

	t.Run("a second up on the same data dir is refused while one runs", func(t *testing.T) {
		stderr := k.MustFail("up", "--listen", framework.FreeAddr(t))
		if !strings.Contains(stderr, "already running on data dir") {
			t.Fatalf("got %q", stderr)
		}
	})

	t.Run("Ctrl-C stops everything", func(t *testing.T) {
		if err := p.Stop(); err != nil {
			t.Fatalf("up exited with %v\n%s", err, p.Stderr.String())
		}
		if pids := k.Processes(); len(pids) > 0 {
			t.Fatalf("processes left after Ctrl-C: %v", pids)
		}
	})

	t.Run("up again reuses the PKI and the data", func(t *testing.T) {
		p2 := k.Up(3*time.Minute, "--listen", listen)
		caAfter, err := os.ReadFile(filepath.Join(k.DataDir, "platform", "pki", "ca.crt"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(caBefore, caAfter) {
			t.Fatal("the CA changed across restarts")
		}
		out := k.MustKubectl(p2.Kubeconfig, "get", "secret", "probe", "-o", "jsonpath={.data.password}")
		if out != "cGxhaW4tdGV4dC1zZW50aW5lbA==" {
			t.Fatalf("secret after restart: %q", out)
		}
		// The platform's last write on its way out (removing its admission
		// webhook's registration) reached the apiserver after the platform
		// had stopped: up kept its audit event for the next start.
		c, tok := k.PlatformHTTP()
		url := p2.ConsoleURL + "/audit/apis/audit.tkestack.io/v1/events?resource=validatingwebhookconfigurations&verb=delete"
		framework.Eventually(t, time.Minute, "the audit record of the platform's last write before Ctrl-C", func() error {
			code, body := framework.Do(t, c, http.MethodGet, url, tok, "", "", "")
			if code != 200 || !strings.Contains(body, `"username":"kstack-platform"`) || !strings.Contains(body, "kstack-validate-") {
				return fmt.Errorf("%d %.300s", code, body)
			}
			return nil
		})
		if err := p2.Stop(); err != nil {
			t.Fatal(err)
		}
	})
}

func etcdGet(t *testing.T, dataDir string, port int, key string) []byte {
	t.Helper()
	pkiDir := filepath.Join(dataDir, "platform", "pki")
	pair, err := tls.LoadX509KeyPair(filepath.Join(pkiDir, "apiserver-etcd-client.crt"), filepath.Join(pkiDir, "apiserver-etcd-client.key"))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := os.ReadFile(filepath.Join(pkiDir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		t.Fatalf("no certificate in %s", filepath.Join(pkiDir, "ca.crt"))
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{fmt.Sprintf("https://127.0.0.1:%d", port)},
		DialTimeout: 5 * time.Second,
		TLS:         &tls.Config{Certificates: []tls.Certificate{pair}, RootCAs: pool},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := cli.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) != 1 {
		t.Fatalf("etcd has no key %s", key)
	}
	return resp.Kvs[0].Value
}

func TestUpDemo(t *testing.T) {
	k := framework.New(t)
	p := k.Up(5*time.Minute, "--listen", framework.FreeAddr(t), "--demo")
	var infos []struct {
		Name, Phase string
		Nodes       int
	}
	if err := json.Unmarshal([]byte(k.MustRun("local", "list", "-o", "json")), &infos); err != nil {
		t.Fatal(err)
	}
	if len(infos) != 2 || infos[0].Name != "demo-1" || infos[1].Name != "demo-2" {
		t.Fatalf("demo clusters: %+v", infos)
	}
	for _, in := range infos {
		if in.Phase != "Running" || in.Nodes != 3 {
			t.Errorf("%s: %+v", in.Name, in)
		}
		kc := strings.TrimSpace(k.MustRun("local", "kubeconfig", in.Name))
		nodes := k.MustKubectl(kc, "get", "nodes", "-o", "name")
		if strings.Count(nodes, "node/") != 3 {
			t.Errorf("%s nodes: %s", in.Name, nodes)
		}
	}
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	if pids := k.Processes(); len(pids) > 0 {
		t.Fatalf("processes left after Ctrl-C: %v", pids)
	}
}

// listenAddrs returns the local addresses of the TCP sockets listening on
// port, read from /proc/net/tcp and tcp6.
func listenAddrs(t *testing.T, port int) []string {
	var out []string
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			fields := strings.Fields(line)
			if len(fields) < 4 || fields[3] != "0A" { // 0A: LISTEN
				continue
			}
			hostHex, portHex, _ := strings.Cut(fields[1], ":")
			var p int
			fmt.Sscanf(portHex, "%X", &p)
			if p != port {
				continue
			}
			out = append(out, hexAddr(hostHex))
		}
	}
	return out
}

func hexAddr(h string) string {
	if len(h) == 8 { // IPv4, little-endian
		var b [4]byte
		for i := 0; i < 4; i++ {
			fmt.Sscanf(h[2*i:2*i+2], "%02X", &b[3-i])
		}
		return net.IP(b[:]).String()
	}
	return "ipv6:" + h
}

// TestUpUserCertificate: a user-supplied certificate replaces the generated
// one, and --external-url is what up advertises.
func TestUpUserCertificate(t *testing.T) {
	k := framework.New(t)
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "user-ca"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	must(err)
	caCert, err := x509.ParseCertificate(caDER)
	must(err)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "kstack.test"}, DNSNames: []string{"kstack.test"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, key.Public(), caKey)
	must(err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	must(err)
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	must(os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	must(os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600))

	listen := framework.FreeAddr(t)
	_, port, _ := net.SplitHostPort(listen)
	external := "https://kstack.test:" + port
	p := k.Up(3*time.Minute, "--listen", listen, "--tls-cert-file", certFile, "--tls-key-file", keyFile, "--external-url", external)
	if p.ConsoleURL != external {
		t.Fatalf("console URL %q, want %q", p.ConsoleURL, external)
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "kstack.test"},
	}}
	if code, _ := get(t, c, "https://"+listen+"/readyz"); code != 200 {
		t.Fatalf("/readyz with the user's certificate: %d", code)
	}
}
