package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/auth/authn"
	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/clusterimport"
)

// ImportRequest is the body of POST /platform/apis/platform.tkestack.io/v1/clusterimports:
// a kubeconfig (and optional context), or an address with a CA and a token
// or client certificate.
type ImportRequest struct {
	clusterimport.Request `json:",inline"`
	Kubeconfig            string `json:"kubeconfig,omitempty"`
	Context               string `json:"context,omitempty"`
	// Type is Imported (default) or Local, for clusters that `kstack local` runs.
	Type platformv1.ClusterType `json:"type,omitempty"`
}

// Importer validates and stores a cluster import.
type Importer func(ctx context.Context, r *clusterimport.Request, t platformv1.ClusterType) (*platformv1.Cluster, error)

// CredentialUpdater validates and stores a cluster's new address and credential.
type CredentialUpdater func(ctx context.Context, id string, r *clusterimport.Request) (*platformv1.Cluster, error)

const importPath = "/platform/apis/platform.tkestack.io/v1/clusterimports"

// authenticated serves everything but the health endpoints, the home page
// and the OpenID provider: authentication comes first, then routing, so
// that a request without valid credentials gets 401 whatever it asks for.
func (s *Server) authenticated(w http.ResponseWriter, r *http.Request) {
	user, err := s.Auth.Authenticate(r)
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
}

// ServeAs serves a request as an already authenticated caller: the
// console's requests, which carry its session rather than credentials.
func (s *Server) ServeAs(w http.ResponseWriter, r *http.Request, user *directory.Principal) {
	s.route(w, r, user)
}

// route serves an authenticated request (also in-process, for publishing).
func (s *Server) route(w http.ResponseWriter, r *http.Request, user *directory.Principal) {
	p := r.URL.EscapedPath()
	switch {
	case strings.HasPrefix(p, proxyPrefix):
		rest := strings.TrimPrefix(p, proxyPrefix)
		id, after, ok := strings.Cut(rest, "/")
		if !ok || !(after == "proxy" || strings.HasPrefix(after, "proxy/")) {
			writeStatus(w, http.StatusNotFound, "NotFound", "no such path: the proxy is "+proxyPrefix+"{id}/proxy/{path}")
			return
		}
		s.proxyTo(w, r, user, id, strings.TrimPrefix(after, "proxy"))
	case p == "/platform" || strings.HasPrefix(p, "/platform/"):
		rest := strings.TrimPrefix(p, "/platform")
		if cluster := r.Header.Get(ClusterHeader); cluster != "" {
			s.proxyTo(w, r, user, cluster, rest)
			return
		}
		if p == importPath {
			s.importCluster(w, r, user, "")
			return
		}
		if id, ok := credentialPath(p); ok {
			s.importCluster(w, r, user, id)
			return
		}
		s.platformAPI(w, r, user, rest)
	case p == "/auth" || strings.HasPrefix(p, "/auth/"):
		rest := strings.TrimPrefix(p, "/auth")
		if s.authAPI(w, r, user, rest) {
			return
		}
		s.platformAPI(w, r, user, rest)
	case p == portalPath:
		s.portal(w, r, user)
	case strings.HasSuffix(p, "/publish") && strings.HasPrefix(p, "/business/"):
		project, ok := publishPath(p)
		if !ok {
			writeStatus(w, http.StatusNotFound, "NotFound", "no such path: publishing is POST /business/apis/business.tkestack.io/v1/namespaces/{project}/publish")
			return
		}
		s.publish(w, r, user, project)
	case strings.HasSuffix(p, "/move") && strings.HasPrefix(p, "/business/"):
		from, name, ok := movePath(p)
		if !ok {
			writeStatus(w, http.StatusNotFound, "NotFound", "no such path: a move is POST /business/apis/business.tkestack.io/v1/namespaces/{project}/namespaces/{name}/move")
			return
		}
		s.moveNamespace(w, r, user, from, name)
	case p == "/business" || strings.HasPrefix(p, "/business/"):
		s.platformAPI(w, r, user, strings.TrimPrefix(p, "/business"))
	default:
		writeStatus(w, http.StatusNotFound, "NotFound", "no such path")
	}
}

// credentialPath matches /platform/apis/platform.tkestack.io/v1/clusters/{id}/credential.
func credentialPath(p string) (string, bool) {
	rest, ok := strings.CutPrefix(p, "/platform"+proxyPrefix)
	if !ok {
		return "", false
	}
	id, ok := strings.CutSuffix(rest, "/credential")
	return id, ok && id != "" && !strings.Contains(id, "/")
}

// importCluster imports a cluster (update == ""), or replaces the address
// and credential of cluster update (PUT .../clusters/{id}/credential).
func (s *Server) importCluster(w http.ResponseWriter, r *http.Request, user *directory.Principal, update string) {
	if update == "" && r.Method != http.MethodPost {
		writeStatus(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "use POST to import a cluster")
		return
	}
	if update != "" && r.Method != http.MethodPut {
		writeStatus(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "use PUT to replace a cluster's credential")
		return
	}
	action, resource := "createCluster", "cluster:*"
	if update != "" {
		action, resource = "updateClusterCredential", "cluster:"+update
	}
	if dec := s.Decider.Can(r.Context(), user, "", action, resource); !dec.Allowed {
		forbidden(w, fmt.Sprintf("%s may not %s: %s", user.Name(), action, dec.Reason))
		return
	}
	if update != "" && !user.SuperAdmin {
		if t, err := s.Targets.Target(update); err != nil || t.Tenant != user.Tenant {
			writeStatus(w, http.StatusNotFound, "NotFound", fmt.Sprintf("no cluster %q on the platform", update))
			return
		}
	}
	var in ImportRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		writeStatus(w, http.StatusBadRequest, "BadRequest", "the import request is not valid JSON: "+err.Error())
		return
	}
	req := &in.Request
	if in.Kubeconfig != "" {
		kr, err := clusterimport.FromKubeconfig([]byte(in.Kubeconfig), in.Context)
		if err != nil {
			writeStatus(w, http.StatusBadRequest, "BadRequest", err.Error())
			return
		}
		if in.DisplayName != "" {
			kr.DisplayName = in.DisplayName
		}
		req = kr
	}
	if err := req.Check(); err != nil {
		writeStatus(w, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	t := in.Type
	if t == "" {
		t = platformv1.ClusterImported
	}
	if t != platformv1.ClusterImported && t != platformv1.ClusterLocal {
		writeStatus(w, http.StatusBadRequest, "BadRequest", "type must be Imported or Local")
		return
	}
	var cls *platformv1.Cluster
	var err error
	if update != "" {
		cls, err = s.UpdateCredential(r.Context(), update, req)
	} else {
		req.TenantID = user.Tenant
		cls, err = s.Import(r.Context(), req, t)
	}
	if err != nil {
		code, reason := http.StatusUnprocessableEntity, "Invalid"
		var dup *clusterimport.DuplicateError
		if errors.As(err, &dup) {
			code, reason = http.StatusConflict, "AlreadyExists"
		}
		writeStatus(w, code, reason, err.Error())
		return
	}
	code := http.StatusCreated
	if update != "" {
		code = http.StatusOK
		s.Log.Info("cluster credential replaced", "cluster", cls.Name, "by", user.Name())
	} else {
		s.Log.Info("cluster imported", "cluster", cls.Name, "displayName", cls.Spec.DisplayName, "by", user.Name())
	}
	cls.APIVersion, cls.Kind = platformv1.GroupVersion.String(), "Cluster"
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(cls)
}
