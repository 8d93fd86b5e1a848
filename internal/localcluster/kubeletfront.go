package localcluster

// The simulated nodes' kubelet endpoint. The apiserver's node proxy
// (`kubectl get --raw /api/v1/nodes/N/proxy/...`, how a collector reads a
// node's metrics through a member's apiserver) refuses nodes whose address
// is loopback or link-local, so the nodes advertise one of the host's own
// addresses. kwok's server authenticates nobody, so it stays on loopback, and
// this front, on the node address, lets through only callers with a client
// certificate of the cluster's CA whom the cluster lets proxy to nodes (as a
// kubelet asks its apiserver): the apiserver itself and metrics-server.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kstack/kstack/internal/controlplane"
	"github.com/kstack/kstack/internal/pki"
)

// nodeAddress is the address the simulated nodes advertise: the host's
// first IPv4 address that is neither loopback nor link-local (else such an
// IPv6 address), so that the apiserver's node proxy accepts it; loopback
// when the host has none, and then the node proxy refuses the nodes.
func nodeAddress() string {
	ifaces, err := net.Interfaces()
	if err != nil {
		return "127.0.0.1"
	}
	v6 := ""
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			n, ok := a.(*net.IPNet)
			if !ok || !n.IP.IsGlobalUnicast() {
				continue
			}
			if n.IP.To4() != nil {
				return n.IP.String()
			}
			if v6 == "" {
				v6 = n.IP.String()
			}
		}
	}
	if v6 != "" {
		return v6
	}
	return "127.0.0.1"
}

// kubeletFront accepts TLS connections on the node address and pipes each
// allowed one, decrypted, to kwok's server on loopback (which also serves
// plain HTTP), so that streams (exec, attach, port-forward, logs -f) pass
// as they are.
type kubeletFront struct {
	ln      net.Listener
	backend string
	allow   func(ctx context.Context, user string, groups []string) (bool, error)
	log     *slog.Logger

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	cache map[string]frontDecision
	done  bool
}

type frontDecision struct {
	allowed bool
	at      time.Time
}

// startKubeletFront serves the kubelet endpoint at ip:port in front of kwok
// at 127.0.0.1:kwokPort, with a serving certificate for ip issued now from
// the cluster's CA (the host's address may change between starts).
func startKubeletFront(l controlplane.Layout, ip string, port, kwokPort int, cs kubernetes.Interface, log *slog.Logger) (*kubeletFront, error) {
	caCert, caKey, err := pki.LoadPair(l.PKIDir(), "ca")
	if err != nil {
		return nil, err
	}
	ips := []net.IP{net.ParseIP("127.0.0.1")}
	if p := net.ParseIP(ip); p != nil && !p.IsLoopback() {
		ips = append(ips, p)
	}
	cert, key, err := (&pki.CA{Cert: caCert, Key: caKey}).Issue(pki.CertSpec{
		CommonName: "kstack-kwok-kubelet", Server: true, DNSNames: []string{"localhost"}, IPs: ips,
	})
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		// The bytes go on to kwok's plain HTTP/1 server as they are.
		NextProtos: []string{"http/1.1"},
	}
	ln, err := tls.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)), cfg)
	if err != nil {
		return nil, fmt.Errorf("the simulated nodes' kubelet endpoint: %w", err)
	}
	f := &kubeletFront{
		ln: ln, backend: net.JoinHostPort("127.0.0.1", strconv.Itoa(kwokPort)), log: log,
		allow: func(ctx context.Context, user string, groups []string) (bool, error) {
			return mayProxyNodes(ctx, cs, user, groups)
		},
		conns: map[net.Conn]struct{}{}, cache: map[string]frontDecision{},
	}
	go f.serve()
	return f, nil
}

// mayProxyNodes asks the cluster whether user may create nodes/proxy: what
// exec into a pod takes, the most a kubelet endpoint does.
func mayProxyNodes(ctx context.Context, cs kubernetes.Interface, user string, groups []string) (bool, error) {
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: user, Groups: groups,
		ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "create", Resource: "nodes", Subresource: "proxy"},
	}}
	res, err := cs.AuthorizationV1().SubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{})
	if err != nil {
		return false, err
	}
	return res.Status.Allowed, nil
}

func (f *kubeletFront) serve() {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				f.log.Error("kubelet endpoint", "err", err)
			}
			return
		}
		if !f.track(c) {
			c.Close()
			return
		}
		go f.handle(c.(*tls.Conn))
	}
}

// track remembers an open connection so that Close ends it; false once closed.
func (f *kubeletFront) track(c net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.done {
		return false
	}
	f.conns[c] = struct{}{}
	return true
}

func (f *kubeletFront) untrack(cs ...net.Conn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range cs {
		delete(f.conns, c)
		c.Close()
	}
}

func (f *kubeletFront) handle(c *tls.Conn) {
	defer f.untrack(c)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.HandshakeContext(ctx); err != nil {
		return // no or a foreign client certificate: refused by TLS
	}
	leaf := c.ConnectionState().PeerCertificates[0]
	user, groups := leaf.Subject.CommonName, leaf.Subject.Organization
	allowed, err := f.decide(ctx, user, groups)
	if err != nil {
		refuse(c, "503 Service Unavailable", "cannot check authorisation: "+err.Error())
		return
	}
	if !allowed {
		refuse(c, "403 Forbidden", fmt.Sprintf("%s may not create nodes/proxy", user))
		return
	}
	var d net.Dialer
	b, err := d.DialContext(ctx, "tcp", f.backend)
	if err != nil {
		refuse(c, "502 Bad Gateway", "kwok does not answer: "+err.Error())
		return
	}
	if !f.track(b) {
		b.Close()
		return
	}
	defer f.untrack(b)
	// Either side ending ends both: the clients (the apiserver,
	// metrics-server) never half-close, and a stream ends as a whole.
	ended := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(b, c); ended <- struct{}{} }()
	go func() { _, _ = io.Copy(c, b); ended <- struct{}{} }()
	<-ended
}

// decide answers from a decision up to a minute old, else asks the cluster.
func (f *kubeletFront) decide(ctx context.Context, user string, groups []string) (bool, error) {
	key := user + "|" + strings.Join(groups, ",")
	f.mu.Lock()
	d, ok := f.cache[key]
	f.mu.Unlock()
	if ok && time.Since(d.at) < time.Minute {
		return d.allowed, nil
	}
	allowed, err := f.allow(ctx, user, groups)
	if err != nil {
		return false, err
	}
	f.mu.Lock()
	f.cache[key] = frontDecision{allowed: allowed, at: time.Now()}
	f.mu.Unlock()
	return allowed, nil
}

// refuse answers the connection's first request with status and msg.
func refuse(c net.Conn, status, msg string) {
	_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "HTTP/1.1 %s\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s\n", status, len(msg)+1, msg)
}

// Addr is where the front listens.
func (f *kubeletFront) Addr() net.Addr { return f.ln.Addr() }

// Close stops accepting and ends every open connection.
func (f *kubeletFront) Close() error {
	err := f.ln.Close()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.done = true
	for c := range f.conns {
		c.Close()
	}
	return err
}
