package audit

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"sync/atomic"
	"time"

	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"

	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/recordstore"
)

// GlobalCluster names the platform's own cluster in audit records, as
// TKEStack names it.
const GlobalCluster = "global"

// writeVerbs are what the receiver keeps of the apiserver's events: the
// platform's informers read all day, and their reads say nothing of who
// changed what.
var writeVerbs = []string{"create", "update", "patch", "delete", "deletecollection"}

// Receiver takes the platform kube-apiserver's audit webhook batches
// (audit.k8s.io/v1 EventList) and records the writes that did not come
// through the gateway: the gateway has recorded those already, under the
// real user, and they reach the apiserver impersonating ProxyGroup.
type Receiver struct {
	Sink Sink
	Log  *slog.Logger
	// Received counts the events kept; Refused those the queue had no room for.
	Received, Refused atomic.Int64
}

// maxBatch bounds a batch's body: the apiserver's default batch is 400
// Metadata-level events, well under this.
const maxBatch = 32 << 20

func (rc *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST an audit.k8s.io/v1 EventList", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBatch+1))
	if err != nil || len(body) > maxBatch {
		http.Error(w, "the batch is unreadable or over 32 MiB", http.StatusBadRequest)
		return
	}
	var list auditv1.EventList
	if err := json.Unmarshal(body, &list); err != nil {
		http.Error(w, "not an audit.k8s.io/v1 EventList: "+err.Error(), http.StatusBadRequest)
		return
	}
	for i := range list.Items {
		rec, ok := fromAPIServer(&list.Items[i])
		if !ok {
			continue
		}
		if err := rc.Sink.Add(rec); err != nil {
			rc.Refused.Add(1)
			continue
		}
		rc.Received.Add(1)
	}
	w.WriteHeader(http.StatusOK)
}

// fromAPIServer is the record of one apiserver event, if it is kept.
func fromAPIServer(ev *auditv1.Event) (recordstore.Record, bool) {
	if ev.Stage != auditv1.StageResponseComplete && ev.Stage != auditv1.StagePanic {
		return recordstore.Record{}, false
	}
	if !slices.Contains(writeVerbs, ev.Verb) {
		return recordstore.Record{}, false
	}
	if iu := ev.ImpersonatedUser; iu != nil && slices.Contains(iu.Groups, apigroup.ProxyGroup) {
		return recordstore.Record{}, false
	}
	// Bodies are never kept, whatever the apiserver's policy says.
	ev.RequestObject, ev.ResponseObject = nil, nil
	if ev.Annotations == nil {
		ev.Annotations = map[string]string{}
	}
	ev.Annotations[AnnotationVia] = ViaAPIServer
	ev.Annotations[AnnotationCluster] = GlobalCluster
	if !ev.StageTimestamp.IsZero() && !ev.RequestReceivedTimestamp.IsZero() {
		ev.Annotations[AnnotationLatency] = ev.StageTimestamp.Sub(ev.RequestReceivedTimestamp.Time).Round(time.Microsecond).String()
	}
	data, err := json.Marshal(ev)
	if err != nil {
		return recordstore.Record{}, false
	}
	rec := recordstore.Record{
		Kind: Kind, Time: ev.RequestReceivedTimestamp.Time, User: ev.User.Username, Cluster: GlobalCluster,
		Verb: ev.Verb, Data: data,
	}
	if ev.ResponseStatus != nil {
		rec.Code = int(ev.ResponseStatus.Code)
	}
	if o := ev.ObjectRef; o != nil {
		rec.Namespace, rec.Resource, rec.Name = o.Namespace, o.Resource, o.Name
	}
	return rec, true
}

// ReceiverServer serves a Receiver over TLS to the apiserver alone: the
// client must present a certificate of ClientCA with common name
// ClientName (the apiserver's webhook client identity).
type ReceiverServer struct {
	Listen, CertFile, KeyFile, ClientCAFile, ClientName string
	Handler                                             http.Handler
	Log                                                 *slog.Logger
	ln                                                  net.Listener
}

// Bind checks the files and opens the listener, so that errors show before
// the platform starts.
func (s *ReceiverServer) Bind() error {
	cert, err := tls.LoadX509KeyPair(s.CertFile, s.KeyFile)
	if err != nil {
		return fmt.Errorf("loading the audit receiver's certificate (--audit-webhook-cert-file, --audit-webhook-key-file): %w", err)
	}
	pem, err := os.ReadFile(s.ClientCAFile)
	if err != nil {
		return fmt.Errorf("the audit receiver needs --webhook-client-ca-file to check the apiserver's certificate: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return fmt.Errorf("--webhook-client-ca-file %s holds no PEM certificate", s.ClientCAFile)
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12,
		VerifyPeerCertificate: func(_ [][]byte, chains [][]*x509.Certificate) error {
			if len(chains) == 0 || chains[0][0].Subject.CommonName != s.ClientName {
				return errors.New("only the kube-apiserver's webhook client may send audit events")
			}
			return nil
		},
	}
	ln, err := net.Listen("tcp", s.Listen)
	if err != nil {
		return fmt.Errorf("the audit receiver cannot listen on %s (--audit-webhook-listen): %w", s.Listen, err)
	}
	s.ln = tls.NewListener(ln, cfg)
	return nil
}

// Start serves until ctx is done (a controller-runtime Runnable).
func (s *ReceiverServer) Start(ctx context.Context) error {
	if s.ln == nil {
		if err := s.Bind(); err != nil {
			return err
		}
	}
	mux := http.NewServeMux()
	mux.Handle("/apiserver-audit", s.Handler)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(s.Log.Handler(), slog.LevelWarn)}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	s.Log.Info("audit receiver serving", "address", s.ln.Addr().String())
	if err := srv.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// NeedLeaderElection is false: the apiserver sends to whichever replica
// its webhook configuration names.
func (s *ReceiverServer) NeedLeaderElection() bool { return false }
