// Package console is the web console: server-rendered pages (html/template)
// with htmx and a few vendored, embedded scripts, served by the gateway
// under /console/. Every read and write goes through the gateway's own API
// in-process as the logged-in user, so the console shows and does exactly
// what the API allows that user, and the server refuses the rest anyway.
package console

import (
	"context"
	"embed"
	"fmt"
	"github.com/kstack/kstack/internal/audit"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"

	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/auth/attributes"
	"github.com/kstack/kstack/internal/auth/decision"
	"github.com/kstack/kstack/internal/auth/directory"
)

//go:embed templates static
var assets embed.FS

// Prefix is where the gateway mounts the console.
const Prefix = "/console"

// Server is the console.
type Server struct {
	// ExternalURL is the platform's URL as browsers reach it.
	ExternalURL string
	// Issuer is the platform's OpenID issuer; OIDC serves it (with the
	// issuer's path stripped) for the in-process token exchange.
	Issuer string
	OIDC   http.Handler
	// Authenticate checks an access token.
	Authenticate func(ctx context.Context, token string) (*directory.Principal, error)
	// Serve serves an API request as p (the gateway's routing).
	Serve func(w http.ResponseWriter, r *http.Request, p *directory.Principal)
	// PlatformConfig and MemberConfig are client configurations through
	// Serve, as p.
	PlatformConfig func(p *directory.Principal) *rest.Config
	MemberConfig   func(p *directory.Principal, cluster string) *rest.Config
	// Clusters lists the clusters p may see, from the platform's cache,
	// with the API's own rules (a fast path for the cluster pages).
	Clusters func(ctx context.Context, p *directory.Principal) ([]platformv1.Cluster, error)
	// PodNames lists a namespace's pod names from the platform's cache when
	// p may list them (false: no cache; search through the API).
	PodNames func(ctx context.Context, p *directory.Principal, cluster, namespace string) ([]string, bool, error)
	Decider  *decision.Decider
	Scheme   *runtime.Scheme
	Mapper   meta.RESTMapper
	Log      *slog.Logger
	Version  string

	pages map[string]*template.Template
	mux   *http.ServeMux
}

// Init parses the templates and builds the routes; call it once.
func (s *Server) Init() error {
	if err := s.parseTemplates(); err != nil {
		return err
	}
	static, _ := fs.Sub(assets, "static")
	mux := http.NewServeMux()
	mux.Handle("GET /console/static/", http.StripPrefix("/console/static/", cacheForever(http.FileServerFS(static))))
	mux.HandleFunc("GET /console/login", s.login)
	mux.HandleFunc("GET /console/callback", s.callback)
	mux.HandleFunc("GET /console/logged-out", s.loggedOut)
	mux.Handle("POST /console/logout", s.authed(s.logout))
	mux.Handle("GET /console/{$}", s.authed(s.home))
	s.platformRoutes(mux)
	s.businessRoutes(mux)
	s.logRuleRoutes(mux)
	s.monitorRoutes(mux)
	s.alarmRoutes(mux)
	s.registryRoutes(mux)
	s.helmRoutes(mux)
	s.addonRoutes(mux)
	s.autoscalingRoutes(mux)
	s.tappRoutes(mux)
	s.mux = mux
	return nil
}

// ServeHTTP serves /console and everything under it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == Prefix {
		http.Redirect(w, r, Prefix+"/", http.StatusFound)
		return
	}
	h := w.Header()
	// Scripts only from the console's own files: no inline script, no eval.
	// xterm.js writes its own <style> elements, so styles may be inline.
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	// The console's calls through the gateway are recorded as the console's,
	// from the browser's address.
	r = r.WithContext(audit.WithOrigin(r.Context(), audit.Origin{Via: audit.ViaConsole, SourceIP: audit.SourceIP(r), UserAgent: r.UserAgent()}))
	s.mux.ServeHTTP(w, r)
}

func cacheForever(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		h.ServeHTTP(w, r)
	})
}

// request is one authenticated console request.
type request struct {
	*http.Request
	s    *Server
	user *directory.Principal
	csrf string

	portalCache *portalData
}

type handlerFunc func(w http.ResponseWriter, r *request)

// authed checks the session (refreshing it when the access token has
// expired) and, for anything but GET, the CSRF token and the origin.
func (s *Server) authed(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, sid, ok := s.session(w, r)
		if !ok {
			return
		}
		req := &request{Request: r, s: s, user: user, csrf: csrfToken(sid)}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if err := req.checkCSRF(); err != nil {
				s.fail(w, r, http.StatusForbidden, err.Error())
				return
			}
		}
		h(w, req)
	})
}

// isHTMX reports a request htmx made (it wants a fragment).
func isHTMX(r *http.Request) bool { return r.Header.Get("HX-Request") == "true" }

// redirect sends the browser to u, also from an htmx request.
func redirect(w http.ResponseWriter, r *http.Request, u string) {
	if isHTMX(r) {
		w.Header().Set("HX-Redirect", u)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	http.Redirect(w, r, u, http.StatusSeeOther)
}

// view is what every page template gets.
type view struct {
	User        *directory.Principal
	CSRF        string
	Section     string
	Title       string
	Crumbs      []crumb
	CanPlatform bool
	CanBusiness bool
	// CanLogRules: the platform console's side links to every log rule.
	CanLogRules bool
	// CanAlarms: the platform console's side links to the shared
	// Monitoring & Alarms pages.
	CanAlarms bool
	Error     string
	Notice    string
	Version   string
	Data      any
}

type crumb struct{ Name, URL string }

// page renders a full page, or only its "main" block for htmx.
func (r *request) page(w http.ResponseWriter, name, section, title string, data any, crumbs ...crumb) {
	v := r.view(section, title, data, crumbs...)
	block := "layout"
	if isHTMX(r.Request) && r.Header.Get("HX-Target") != "" && r.Header.Get("HX-Boosted") == "" {
		block = "main"
	}
	r.s.execute(w, http.StatusOK, name, block, v)
}

// fragment renders one named block of a page.
func (r *request) fragment(w http.ResponseWriter, code int, name, block string, data any) {
	r.s.execute(w, code, name, block, r.view("", "", data))
}

func (r *request) view(section, title string, data any, crumbs ...crumb) view {
	v := view{User: r.user, CSRF: r.csrf, Section: section, Title: title, Crumbs: crumbs, Data: data, Version: r.s.Version}
	v.CanPlatform = r.can("", "listCluster", "cluster:*")
	v.CanBusiness = r.inAnyProject()
	if section == "platform" {
		v.CanLogRules = r.can("", "listLogcollector", "namespace:*/logcollector:*")
		v.CanAlarms = r.sharedAlarms()
	}
	v.Notice = r.URL.Query().Get("notice")
	return v
}

func (s *Server) execute(w http.ResponseWriter, code int, name, block string, v any) {
	t := s.pages[name]
	if t == nil {
		s.Log.Error("console page template missing", "page", name)
		http.Error(w, "page not found", http.StatusInternalServerError)
		return
	}
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, block, v); err != nil {
		s.Log.Error("rendering console page", "page", name, "block", block, "err", err)
		http.Error(w, "the page could not be rendered; the platform's log has the details", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(b.String()))
}

// fail shows an error: a page, or a fragment for htmx.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, code int, msg string) {
	if isHTMX(r) {
		// htmx swaps only 2xx answers by default; errors go to the alert box.
		w.Header().Set("HX-Retarget", "#alert")
		w.Header().Set("HX-Reswap", "innerHTML")
		s.execute(w, http.StatusOK, "error", "alert", view{Error: msg})
		return
	}
	s.execute(w, code, "error", "layout", view{Error: msg, Title: http.StatusText(code)})
}

// fail shows err readably.
func (r *request) fail(w http.ResponseWriter, err error) {
	code, msg := explain(err)
	if code == http.StatusUnauthorized {
		redirect(w, r.Request, Prefix+"/login?next="+url.QueryEscape(r.URL.RequestURI()))
		return
	}
	if isHTMX(r.Request) {
		r.s.fail(w, r.Request, code, msg)
		return
	}
	v := r.view("", http.StatusText(code), nil)
	v.Error = msg
	r.s.execute(w, code, "error", "layout", v)
}

// can asks the decision point about one action, as the API would.
func (r *request) can(project, action, resource string) bool {
	return r.s.Decider.Can(r.Context(), r.user, project, action, resource).Allowed
}

// canMember asks whether the user may send method to path in a member
// cluster, with the attributes the proxy would compute.
func (r *request) canMember(cluster, method, path string) bool {
	req, err := http.NewRequestWithContext(r.Context(), method, path, nil)
	if err != nil {
		return false
	}
	a, err := attributes.Member(cluster, req, path)
	if err != nil {
		return false
	}
	return r.s.Decider.Member(r.Context(), r.user, cluster, r.user.Tenant, a).Allowed
}

func (s *Server) home(w http.ResponseWriter, r *request) {
	if r.can("", "listCluster", "cluster:*") {
		http.Redirect(w, r.Request, Prefix+"/platform", http.StatusFound)
		return
	}
	http.Redirect(w, r.Request, Prefix+"/business", http.StatusFound)
}

// timeout bounds one page's API calls.
func (r *request) timeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), 30*time.Second)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
