package gateway

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/auth/authn"
	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/inprocess"
)

// authenticated serves everything but the health endpoints, the home page
// and the OpenID provider: authentication comes first, then routing, so
// that a request without valid credentials gets 401 whatever it asks for.
func (s *Server) authenticated(w http.ResponseWriter, r *http.Request) {
	var user *directory.Principal
	s.audited(w, r, func() *directory.Principal { return user }, func(w http.ResponseWriter, r *http.Request) {
		var err error
		user, err = s.Auth.Authenticate(r)
		if err != nil {
			var ae *authn.Error
			if errors.As(err, &ae) {
				writeStatus(w, http.StatusUnauthorized, "Unauthorized", ae.Msg)
			} else {
				s.Log.Error("authentication failed", "err", err)
				writeStatus(w, http.StatusServiceUnavailable, "ServiceUnavailable", "the platform cannot check credentials now; try again")
			}
			return
		}
		if user == nil {
			writeStatus(w, http.StatusUnauthorized, "Unauthorized", "authentication required: log in with `kstack login`, or present an access key or the platform's admin client certificate")
			return
		}
		s.route(w, r, user)
	})
}

// ServeAs serves a request as an already authenticated caller: the
// console's requests, which carry its session rather than credentials.
func (s *Server) ServeAs(w http.ResponseWriter, r *http.Request, user *directory.Principal) {
	s.serveAs(w, r, user)
}

// serveAs routes and records a request of an authenticated caller.
func (s *Server) serveAs(w http.ResponseWriter, r *http.Request, user *directory.Principal) {
	s.audited(w, r, func() *directory.Principal { return user }, func(w http.ResponseWriter, r *http.Request) { s.route(w, r, user) })
}

// AsUser is a transport that serves requests through the gateway's own
// routing as p.
func (s *Server) AsUser(p *directory.Principal) http.RoundTripper {
	return &inprocess.Transport{Serve: func(w http.ResponseWriter, r *http.Request) { s.serveAs(w, r, p) }, Log: s.Log}
}

// route is the one pipeline of an authenticated request: the path is
// checked and cleaned; then the groups' routes (actions and cluster
// subresources) are matched; a group's path without its prefix
// (/apis/<group>/...) is taken as under it; then a request under a
// group's prefix that names a member cluster in X-TKE-ClusterName goes to
// that member; and anything else under a group's prefix is the platform's
// API.
func (s *Server) route(w http.ResponseWriter, r *http.Request, user *directory.Principal) {
	clean, err := cleanMemberPath(r.URL.EscapedPath())
	if err != nil {
		writeStatus(w, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	if s.Groups == nil {
		writeStatus(w, http.StatusNotFound, "NotFound", "no such path")
		return
	}
	r = withPath(r, clean)
	if s.Groups.ServeRoute(w, r, user) {
		return
	}
	info, rest, ok := s.Groups.Prefix(clean)
	if !ok {
		// A group's path without its prefix is served as under it.
		if info, ok = s.Groups.Unprefixed(clean); !ok {
			writeStatus(w, http.StatusNotFound, "NotFound", "no such path: the platform's APIs are under "+strings.Join(s.Groups.Prefixes(), ", "))
			return
		}
		clean, rest = info.Prefix+clean, clean
		r = withPath(r, clean)
		if s.Groups.ServeRoute(w, r, user) {
			return
		}
	}
	if cluster := r.Header.Get(ClusterHeader); cluster != "" && info.ClusterHeader {
		s.Proxy(w, r, user, cluster, rest)
		return
	}
	s.platformAPI(w, r, user, rest)
}

// withPath is r with its path replaced by the cleaned one, which routes
// match and handlers read.
func withPath(r *http.Request, clean string) *http.Request {
	p, err := url.PathUnescape(clean)
	if r.URL.EscapedPath() == clean || err != nil {
		return r
	}
	r2 := r.Clone(r.Context())
	r2.URL.Path, r2.URL.RawPath = p, clean
	return r2
}

func writeStatus(w http.ResponseWriter, code int, reason, msg string) {
	apigroup.WriteStatus(w, code, reason, msg)
}

func forbidden(w http.ResponseWriter, msg string) {
	writeStatus(w, http.StatusForbidden, "Forbidden", msg)
}
