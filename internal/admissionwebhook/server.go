package admissionwebhook

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"time"

	admissionregv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/pki"
)

// Name is the webhook's name, which the API server puts before a refusal's
// message.
const Name = "validate.kstack.io"

// ClientName is the common name of the certificate the API server shows
// (controlplane.WebhookClient).
const ClientName = "kube-apiserver-webhook-client"

// Server is one replica's webhook: its listener, its certificate and its
// registration.
type Server struct {
	// Replica names this replica; the gateway sends it as the
	// apigroup.ExtraReplica user extra.
	Replica string
	Handler *Handler
	Log     *slog.Logger
	// Client removes the registration when the replica stops.
	Client kubernetes.Interface

	ln       net.Listener
	tls      *tls.Config
	caBundle []byte
}

// Bind listens on addr (HOST:PORT, port 0 for any), which the API server
// must reach, with a certificate of its own made for this start. With a
// clientCAFile, only the API server's webhook client certificate is
// answered.
func (s *Server) Bind(addr, clientCAFile string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" || net.ParseIP(host) != nil && net.ParseIP(host).IsUnspecified() {
		return fmt.Errorf("invalid --webhook-listen %q: give HOST:PORT with the address the kube-apiserver dials, e.g. 127.0.0.1:0", addr)
	}
	ca, err := pki.NewCA("kstack-webhook-ca")
	if err != nil {
		return err
	}
	spec := pki.CertSpec{CommonName: "kstack-webhook", Server: true}
	if ip := net.ParseIP(host); ip != nil {
		spec.IPs = []net.IP{ip}
	} else {
		spec.DNSNames = []string{host}
	}
	cert, key, err := ca.Issue(spec)
	if err != nil {
		return err
	}
	s.tls = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}}}
	if clientCAFile != "" {
		pem, err := os.ReadFile(clientCAFile)
		if err != nil {
			return fmt.Errorf("reading --webhook-client-ca-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("--webhook-client-ca-file %s holds no PEM certificate", clientCAFile)
		}
		s.tls.ClientCAs, s.tls.ClientAuth = pool, tls.RequireAndVerifyClientCert
		s.tls.VerifyPeerCertificate = func(_ [][]byte, chains [][]*x509.Certificate) error {
			if len(chains) == 0 || chains[0][0].Subject.CommonName != ClientName {
				return errors.New("only the kube-apiserver calls the admission webhook")
			}
			return nil
		}
	}
	s.caBundle = pki.CertPEM(ca.Cert)
	if s.ln, err = net.Listen("tcp", addr); err != nil {
		return fmt.Errorf("the admission webhook cannot listen on %s: %w", addr, err)
	}
	return nil
}

// NeedLeaderElection: every replica validates its own gateway's writes.
func (s *Server) NeedLeaderElection() bool { return false }

// URL is where the API server calls the webhook.
func (s *Server) URL() string { return "https://" + s.ln.Addr().String() + Path }

// Start serves until ctx is done, then removes the registration (a
// replica that is gone validates nothing; its extras are sent by no one).
func (s *Server) Start(ctx context.Context) error {
	cs := s.Client
	srv := &http.Server{Handler: s.Handler, TLSConfig: s.tls, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(s.Log.Handler(), slog.LevelDebug)}
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(s.ln, "", "") }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Delete(sctx, s.configName(), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		s.Log.Info("removing the admission webhook's registration", "error", err)
	}
	return srv.Shutdown(sctx)
}

var notName = regexp.MustCompile(`[^a-z0-9-]+`)

func (s *Server) configName() string {
	return "kstack-validate-" + strings.Trim(notName.ReplaceAllString(strings.ToLower(s.Replica), "-"), "-")
}

// Register (re)writes this replica's ValidatingWebhookConfiguration: the
// platform's groups, create and update, for the writes this replica's
// gateway made. Writes by anyone else (the platform's controllers, the
// break-glass kubeconfig, other replicas) never wait for this replica, so
// a platform that is down locks no one out.
func (s *Server) Register(ctx context.Context, cs kubernetes.Interface, groups []string) error {
	vwc := s.Config(groups)
	api := cs.AdmissionregistrationV1().ValidatingWebhookConfigurations()
	old, err := api.Get(ctx, vwc.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = api.Create(ctx, vwc, metav1.CreateOptions{})
	} else if err == nil {
		vwc.ResourceVersion = old.ResourceVersion
		_, err = api.Update(ctx, vwc, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("registering the admission webhook %s: %w", vwc.Name, err)
	}
	return nil
}

// Config is the registration.
func (s *Server) Config(groups []string) *admissionregv1.ValidatingWebhookConfiguration {
	url := s.URL()
	fail, none, equiv := admissionregv1.Fail, admissionregv1.SideEffectClassNone, admissionregv1.Equivalent
	timeout := int32(10)
	// Skipped only for a write that names exactly one other replica: one
	// with no replica, or several, is every replica's to check (and Review
	// refuses it unless it names its caller).
	match := fmt.Sprintf("%[1]q in request.userInfo.groups && !(has(request.userInfo.extra) && %[2]q in request.userInfo.extra && size(request.userInfo.extra[%[2]q]) == 1 && request.userInfo.extra[%[2]q][0] != %[3]q)",
		apigroup.ProxyGroup, apigroup.ExtraReplica, s.Replica)
	return &admissionregv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: s.configName(), Labels: map[string]string{platformv1.LabelManagedBy: platformv1.ManagedByValue}},
		Webhooks: []admissionregv1.ValidatingWebhook{{
			Name:         Name,
			ClientConfig: admissionregv1.WebhookClientConfig{URL: &url, CABundle: s.caBundle},
			Rules: []admissionregv1.RuleWithOperations{{
				Operations: []admissionregv1.OperationType{admissionregv1.Create, admissionregv1.Update},
				Rule:       admissionregv1.Rule{APIGroups: groups, APIVersions: []string{"*"}, Resources: []string{"*"}},
			}},
			FailurePolicy: &fail, SideEffects: &none, MatchPolicy: &equiv, TimeoutSeconds: &timeout,
			AdmissionReviewVersions: []string{"v1"},
			MatchConditions:         []admissionregv1.MatchCondition{{Name: "through-this-replicas-gateway", Expression: match}},
		}},
	}
}
