package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	platformv1 "github.com/kstack/kstack/api/platform/v1"
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

// authenticated serves everything but the health endpoints and the home page:
// authentication comes first, then routing, so that a request without valid
// credentials gets 401 whatever it asks for.
func (s *Server) authenticated(w http.ResponseWriter, r *http.Request) {
	user := s.Auth.Authenticate(r)
	if user == nil {
		writeStatus(w, http.StatusUnauthorized, "Unauthorized", "authentication required: present the platform's admin client certificate or a bearer token")
		return
	}
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
		// The platform's own API lives in the global cluster.
		s.proxyTo(w, r, user, platformv1.GlobalClusterName, rest)
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
func (s *Server) importCluster(w http.ResponseWriter, r *http.Request, user *User, update string) {
	if update == "" && r.Method != http.MethodPost {
		writeStatus(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "use POST to import a cluster")
		return
	}
	if update != "" && r.Method != http.MethodPut {
		writeStatus(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "use PUT to replace a cluster's credential")
		return
	}
	if !user.Admin {
		writeStatus(w, http.StatusForbidden, "Forbidden", "only platform administrators may import clusters")
		return
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
		s.Log.Info("cluster credential replaced", "cluster", cls.Name, "by", user.Name)
	} else {
		s.Log.Info("cluster imported", "cluster", cls.Name, "displayName", cls.Spec.DisplayName, "by", user.Name)
	}
	cls.APIVersion, cls.Kind = platformv1.GroupVersion.String(), "Cluster"
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(cls)
}
