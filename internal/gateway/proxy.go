package gateway

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path"
	"strings"

	"k8s.io/client-go/rest"

	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/auth/attributes"
	"github.com/kstack/kstack/internal/auth/decision"
	"github.com/kstack/kstack/internal/auth/directory"
)

// Target is where the proxy sends a request for one cluster.
type Target struct {
	// Name is the cluster's ID.
	Name      string
	Server    *url.URL
	Transport http.RoundTripper
	// Global is the platform's own control plane.
	Global bool
	// Locked clusters take no new workloads through the platform.
	Locked bool
	// Tenant owns the cluster.
	Tenant string
}

// workloadResources are what a locked cluster refuses to create.
var workloadResources = map[string]bool{
	"pods": true, "deployments": true, "statefulsets": true, "daemonsets": true, "replicasets": true,
	"replicationcontrollers": true, "jobs": true, "cronjobs": true, "tapps": true,
}

// createsWorkload reports whether a request creates a workload.
func createsWorkload(method, p string) bool {
	if method != http.MethodPost {
		return false
	}
	segs := strings.Split(strings.Trim(p, "/"), "/")
	return len(segs) >= 3 && workloadResources[segs[len(segs)-1]]
}

// Targets finds the connection to a cluster.
type Targets interface {
	Target(cluster string) (*Target, error)
	// Global is the platform's own control plane, which serves its API.
	Global() *Target
}

// AdminsGroup is carried by administrators' proxied requests; the global
// cluster grants it cluster-admin (members grant ProxyGroup).
const AdminsGroup = apigroup.AdminsGroup

// ClusterHeader routes a native Kubernetes call under /platform to a member.
const ClusterHeader = "X-TKE-ClusterName"

// cleanMemberPath checks the path a caller wants in a member cluster. It
// refuses what could climb out of the member's API or smuggle a path past
// the checks (dot segments, encoded slashes or backslashes, empty segments).
func cleanMemberPath(escaped string) (string, error) {
	lower := strings.ToLower(escaped)
	for _, bad := range []string{"%2f", "%5c", "%2e", "\\"} {
		if strings.Contains(lower, bad) {
			return "", fmt.Errorf("the path %q contains an encoded slash, backslash or dot, which the proxy refuses", escaped)
		}
	}
	if escaped == "" {
		escaped = "/"
	}
	if !strings.HasPrefix(escaped, "/") {
		escaped = "/" + escaped
	}
	for _, seg := range strings.Split(escaped, "/")[1:] {
		if seg == "." || seg == ".." {
			return "", fmt.Errorf("the path %q contains a dot segment, which the proxy refuses", escaped)
		}
	}
	clean := path.Clean(escaped)
	if strings.HasSuffix(escaped, "/") && clean != "/" {
		clean += "/"
	}
	return clean, nil
}

// Proxy decides on r and forwards it to member cluster `cluster` at
// memberPath, as the caller (the header branch, and the groups' proxy
// routes).
func (s *Server) Proxy(w http.ResponseWriter, r *http.Request, p *directory.Principal, cluster, memberPath string) {
	clean, err := cleanMemberPath(memberPath)
	if err != nil {
		writeStatus(w, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	if cluster == "" {
		writeStatus(w, http.StatusBadRequest, "BadRequest", "no cluster named: use the proxy path of the cluster or the "+ClusterHeader+" header")
		return
	}
	t, err := s.Targets.Target(cluster)
	if err != nil {
		writeStatus(w, http.StatusNotFound, "NotFound", err.Error())
		return
	}
	if t.Global {
		if !decision.Admin(p) {
			forbidden(w, "the global cluster is the platform's own: use the /platform, /auth and /business APIs")
			return
		}
		// Administrators too go through the decision point here, which
		// never serves password hashes.
		a, err := attributes.Platform(r, clean)
		if err != nil {
			writeStatus(w, http.StatusBadRequest, "BadRequest", err.Error())
			return
		}
		noteAudit(r.Context(), cluster, a)
		if dec := s.Decider.Platform(r.Context(), p, a, ""); !dec.Allowed {
			forbidden(w, dec.Reason)
			return
		}
	}
	if !t.Global {
		a, err := attributes.Member(cluster, r, clean)
		if err != nil {
			writeStatus(w, http.StatusBadRequest, "BadRequest", err.Error())
			return
		}
		noteAudit(r.Context(), cluster, a)
		dec := s.Decider.Member(r.Context(), p, cluster, t.Tenant, a)
		if dec.NotFound {
			writeStatus(w, http.StatusNotFound, "NotFound", dec.Reason)
			return
		}
		if !dec.Allowed {
			forbidden(w, fmt.Sprintf("%s may not %s: %s", p.Name(), a.Action, dec.Reason))
			return
		}
	}
	if t.Locked && createsWorkload(r.Method, clean) {
		forbidden(w, fmt.Sprintf("cluster %s is locked: it takes no new workloads through the platform until an administrator unlocks it", cluster))
		return
	}
	s.forward(w, r, p, t, cluster, clean)
}

// forward sends r to t at clean, impersonating the caller.
func (s *Server) forward(w http.ResponseWriter, r *http.Request, p *directory.Principal, t *Target, cluster, clean string) {
	rp := &httputil.ReverseProxy{
		Transport:     t.Transport,
		FlushInterval: -1, // watches and logs -f stream
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = t.Server.Scheme
			pr.Out.URL.Host = t.Server.Host
			pr.Out.URL.Path = strings.TrimSuffix(t.Server.Path, "/") + clean
			pr.Out.URL.RawPath = ""
			pr.Out.URL.RawQuery = pr.In.URL.RawQuery
			pr.Out.Host = t.Server.Host
			impersonate(pr.Out.Header, p)
			if t.Global {
				s.callerExtras(pr.Out.Header, p)
			}
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			writeStatus(w, http.StatusBadGateway, "ServiceUnavailable", fmt.Sprintf("cluster %s cannot be reached: %v", cluster, err))
		},
	}
	rp.ServeHTTP(w, r)
}

// impersonate replaces the caller's credentials with impersonation
// headers: the member's audit log names the real user.
func impersonate(h http.Header, p *directory.Principal) {
	for k := range h {
		if strings.HasPrefix(k, "Impersonate-") || k == "Authorization" || k == ClusterHeader || k == "Cookie" {
			h.Del(k)
		}
	}
	h.Set("Impersonate-User", p.Name())
	for _, g := range memberGroups(p) {
		h.Add("Impersonate-Group", g)
	}
}

// callerExtras tell the global cluster's admission webhook who the caller
// is and which replica's gateway (and locks) the write came through.
// Members do not get them: a member's credential may not impersonate
// extras.
func (s *Server) callerExtras(h http.Header, p *directory.Principal) {
	tenant := p.Tenant
	if tenant == "" {
		tenant = apigroup.DefaultTenant
	}
	for k, v := range map[string]string{apigroup.ExtraTenant: tenant, apigroup.ExtraUsername: p.Username, apigroup.ExtraReplica: s.Replica} {
		h.Set("Impersonate-Extra-"+url.PathEscape(k), v)
	}
}

// memberGroups are the groups a proxied request carries: the user's own
// (never system: groups, which would be privileges of the member's own
// making) and the one group the member's kstack binding grants.
func memberGroups(u *directory.Principal) []string {
	out := []string{apigroup.ProxyGroup}
	if decision.Admin(u) {
		out = append(out, AdminsGroup)
	}
	for _, g := range u.Groups {
		if !strings.HasPrefix(g, "system:") {
			out = append(out, g)
		}
	}
	return out
}

// TransportTarget builds a Target from a client configuration.
func TransportTarget(cfg *rest.Config, global bool) (*Target, error) {
	u, err := url.Parse(cfg.Host)
	if err != nil {
		return nil, err
	}
	tr, err := rest.TransportFor(cfg)
	if err != nil {
		return nil, err
	}
	return &Target{Name: apigroup.GlobalCluster, Server: u, Transport: tr, Global: global}, nil
}

// PodNames are the names of the pods in a namespace of a member cluster,
// from the platform's cache, for a caller the proxy would let list them:
// the console searches 10,000 pods by name without listing them through
// the API. false means there is no cache to ask (use the API).
func (s *Server) PodNames(ctx context.Context, p *directory.Principal, cluster, namespace string) ([]string, bool, error) {
	if s.CachedPodNames == nil {
		return nil, false, nil
	}
	t, err := s.Targets.Target(cluster)
	if err != nil || t.Global {
		return nil, false, nil
	}
	path := "/api/v1/namespaces/" + namespace + "/pods"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, path, nil)
	if err != nil {
		return nil, false, err
	}
	a, err := attributes.Member(cluster, req, path)
	if err != nil {
		return nil, false, err
	}
	if dec := s.Decider.Member(ctx, p, cluster, t.Tenant, a); !dec.Allowed {
		return nil, false, fmt.Errorf("%s may not %s: %s", p.Name(), a.Action, dec.Reason)
	}
	names, ok := s.CachedPodNames(cluster, namespace)
	return names, ok, nil
}
