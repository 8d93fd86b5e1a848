// Package gateway is the platform's one HTTPS listener: health endpoints now,
// and the platform API, the proxy into member clusters and the console as
// they arrive. It is the only listener that people and programs reach.
package gateway

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/audit"
	"github.com/kstack/kstack/internal/auth/decision"
	"github.com/kstack/kstack/internal/auth/directory"
)

// Check is one readiness check; nil means ready.
type Check struct {
	Name string
	Func func(ctx context.Context) error
}

// Server is the gateway.
type Server struct {
	Listen  string
	TLS     *tls.Config
	Checks  []Check
	Log     *slog.Logger
	Auth    Authenticator
	Targets Targets
	// Decider is the decision point.
	Decider *decision.Decider
	// Groups are the platform's API groups: their resources, admission
	// and routes.
	Groups *apigroup.Registry
	// Client reads the tenant of the object a request names (from the
	// informer cache); Reader reads past the cache; Mapper maps kinds.
	Client client.Client
	Reader client.Reader
	Mapper meta.RESTMapper
	// OIDC is the OpenID provider, served at /oidc/.
	OIDC http.Handler
	// Console serves /console/ (it checks its own session cookies).
	Console http.Handler
	// Registry serves the image registry's /v2/ and its token endpoint
	// /registry/token: docker, skopeo and helm need /v2/ at the root of a
	// host, and they authenticate with the registry's own tokens.
	Registry http.Handler
	// RegistryUser says whom a registry request is from, for its audit
	// record: the holder of its verified token, or the user a token
	// request names (nil: unknown).
	RegistryUser func(r *http.Request) *directory.Principal
	// Replica names this replica: the admission webhook that validates
	// this gateway's writes to the platform's API is the one registered
	// for it (apigroup.ExtraReplica).
	Replica string
	// CachedPodNames reads a member's pod names from the platform's cache
	// (false when it has none yet).
	CachedPodNames func(cluster, namespace string) ([]string, bool)
	// Audit records every request served (nil: none are).
	Audit func(audit.Entry)

	mu sync.Mutex
	ln net.Listener
	// locks serialise admission checks with their writes, per key.
	locks sync.Map
}

// Handler returns the gateway's routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.HandleFunc("GET /{$}", s.home)
	return securityHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Health and the home page are open; everything else is authenticated
		// and routed on the raw path, before any cleaning, so that the proxy
		// sees (and can refuse) exactly what was asked.
		if p := r.URL.Path; r.Method == http.MethodGet && (p == "/healthz" || p == "/readyz" || p == "/") {
			mux.ServeHTTP(w, r)
			return
		}
		if s.Console != nil && (r.URL.Path == "/console" || strings.HasPrefix(r.URL.Path, "/console/")) {
			s.Console.ServeHTTP(w, r)
			return
		}
		if s.OIDC != nil && strings.HasPrefix(r.URL.Path, "/oidc/") {
			http.StripPrefix("/oidc", s.OIDC).ServeHTTP(w, r)
			return
		}
		if s.Registry != nil && IsRegistryPath(r.URL.Path) {
			if (r.Method == http.MethodGet || r.Method == http.MethodHead) && r.URL.Path != RegistryTokenPath {
				// Pulls are not recorded (an image is dozens of reads); the
				// token request before each pull, and every write, are.
				s.Registry.ServeHTTP(w, r)
				return
			}
			s.audited(w, r, func() *directory.Principal {
				if s.RegistryUser == nil {
					return nil
				}
				return s.RegistryUser(r)
			}, s.Registry.ServeHTTP)
			return
		}
		if s.Auth == nil {
			writeStatus(w, http.StatusNotFound, "NotFound", "no such path")
			return
		}
		s.authenticated(w, r)
	}))
}

// RegistryTokenPath is the registry's token endpoint (its realm).
const RegistryTokenPath = "/registry/token"

// IsRegistryPath: paths the registry serves itself, authentication
// included. /registry/apis/... stays the registry group's API.
func IsRegistryPath(p string) bool {
	return p == "/v2" || strings.HasPrefix(p, "/v2/") || p == RegistryTokenPath
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	failed := false
	var out []string
	for _, c := range s.Checks {
		if err := c.Func(ctx); err != nil {
			failed = true
			out = append(out, fmt.Sprintf("[-]%s failed: %v", c.Name, err))
		} else {
			out = append(out, fmt.Sprintf("[+]%s ok", c.Name))
		}
	}
	if failed {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	for _, l := range out {
		fmt.Fprintln(w, l)
	}
	if failed {
		fmt.Fprintln(w, "readyz check failed")
	} else {
		fmt.Fprintln(w, "ok")
	}
}

// home is the root page. A browser goes to the console (the address `kstack
// up` prints is the console's own); other clients get the entry points, as
// the kube-apiserver lists its paths at /.
func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	if s.Console != nil && strings.Contains(r.Header.Get("Accept"), "text/html") {
		http.Redirect(w, r, "/console/", http.StatusFound)
		return
	}
	paths := []string{"/api", "/apis", "/healthz", "/readyz", "/version"}
	if s.Console != nil {
		paths = append(paths, "/console/")
	}
	if s.OIDC != nil {
		paths = append(paths, "/oidc/.well-known/openid-configuration")
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string][]string{"paths": paths})
}

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Strict-Transport-Security", "max-age=31536000")
		h.ServeHTTP(w, r)
	})
}

// Bind opens the listener, so that a port already in use is reported before
// anything else starts.
func (s *Server) Bind() error {
	ln, err := net.Listen("tcp", s.Listen)
	if err != nil {
		return fmt.Errorf("the gateway cannot listen on %s (%v): stop the program using that port or choose another with --listen", s.Listen, err)
	}
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	return nil
}

// Addr is the address the gateway listens on (after Bind).
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return s.Listen
	}
	return s.ln.Addr().String()
}

// Start serves until ctx is done (a controller-runtime Runnable).
func (s *Server) Start(ctx context.Context) error {
	if s.ln == nil {
		if err := s.Bind(); err != nil {
			return err
		}
	}
	srv := &http.Server{
		Handler:           s.Handler(),
		TLSConfig:         s.TLS,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.Log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(tls.NewListener(s.ln, s.TLS)) }()
	s.Log.Info("gateway serving", "address", s.ln.Addr().String())
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	}
}

// NeedLeaderElection is false: every replica serves.
func (s *Server) NeedLeaderElection() bool { return false }
