package gateway

import (
	"context"

	"net/http"
	"strings"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	businessv1 "github.com/kstack/kstack/api/business/v1"
	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/inprocess"
	"github.com/kstack/kstack/internal/publish"
)

// PublishRequest is the body of POST
// /business/apis/business.tkestack.io/v1/namespaces/{project}/publish.
type PublishRequest struct {
	// Manifests are YAML or JSON documents.
	Manifests string   `json:"manifests"`
	Clusters  []string `json:"clusters"`
	Namespace string   `json:"namespace"`
	publish.Overrides
	// TimeoutSeconds bounds the wait for workloads (default 60, at most 300).
	TimeoutSeconds int `json:"timeoutSeconds,omitempty"`
}

// PublishResponse lists each object in each cluster.
type PublishResponse struct {
	Results []publish.Result `json:"results"`
}

func publishPath(p string) (string, bool) {
	rest, ok := strings.CutPrefix(p, "/business/apis/business.tkestack.io/v1/namespaces/")
	if !ok {
		return "", false
	}
	project, tail, ok := strings.Cut(rest, "/")
	return project, ok && tail == "publish" && project != ""
}

// publish applies manifests to the project's namespace in several clusters.
func (s *Server) publish(w http.ResponseWriter, r *http.Request, p *directory.Principal, project string) {
	ctx := r.Context()
	if r.Method != http.MethodPost {
		writeStatus(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "use POST to publish")
		return
	}
	var in PublishRequest
	if err := decodeBody(r, &in); err != nil {
		writeAdmission(w, err)
		return
	}
	if len(in.Clusters) == 0 || in.Namespace == "" {
		writeAdmission(w, refuse(http.StatusUnprocessableEntity, "name the clusters and the namespace to publish to"))
		return
	}
	timeout := time.Duration(in.TimeoutSeconds) * time.Second
	if in.TimeoutSeconds == 0 {
		timeout = time.Minute
	}
	if timeout < 0 || timeout > 5*time.Minute {
		writeAdmission(w, refuse(http.StatusUnprocessableEntity, "timeoutSeconds must be between 1 and 300"))
		return
	}
	objs, err := publish.Decode([]byte(in.Manifests))
	if err != nil {
		writeAdmission(w, refuse(http.StatusUnprocessableEntity, "%v", err))
		return
	}
	var nss businessv1.NamespaceList
	if err := s.Client.List(ctx, &nss, client.InNamespace(project)); err != nil {
		writeAdmission(w, err)
		return
	}
	for _, cl := range in.Clusters {
		found := false
		for _, n := range nss.Items {
			found = found || n.Spec.ClusterName == cl && n.Spec.Namespace == in.Namespace && (n.Spec.TenantID == p.Tenant || p.SuperAdmin)
		}
		if !found {
			writeAdmission(w, refuse(http.StatusUnprocessableEntity, "project %s has no namespace %s in cluster %s: create it first", project, in.Namespace, cl))
			return
		}
	}
	out := PublishResponse{Results: []publish.Result{}}
	for _, cl := range in.Clusters {
		cfg := s.MemberConfig(p, cl)
		cctx, cancel := context.WithTimeout(ctx, timeout+30*time.Second)
		res, err := publish.Apply(cctx, cfg, cl, in.Namespace, objs, in.Overrides, timeout)
		cancel()
		if err != nil {
			out.Results = append(out.Results, publish.Result{Cluster: cl, Object: "-", Ready: "-", Status: "Failed: " + err.Error()})
			continue
		}
		out.Results = append(out.Results, res...)
	}
	s.Log.Info("published", "project", project, "namespace", in.Namespace, "clusters", in.Clusters, "objects", len(objs), "by", p.Name())
	writeJSON(w, http.StatusOK, out)
}

// AsUser is a transport that serves requests through the gateway's own
// routing as p.
func (s *Server) AsUser(p *directory.Principal) http.RoundTripper {
	return &inprocess.Transport{Serve: func(w http.ResponseWriter, r *http.Request) { s.route(w, r, p) }, Log: s.Log}
}

// MemberConfig is a client configuration for member cluster `cluster`,
// through the proxy as p.
func (s *Server) MemberConfig(p *directory.Principal, cluster string) *rest.Config {
	return &rest.Config{Host: inprocess.Host + proxyPrefix + cluster + "/proxy", Transport: s.AsUser(p), QPS: 100, Burst: 200}
}

// PlatformConfig is a client configuration for the platform's API as p.
func (s *Server) PlatformConfig(p *directory.Principal) *rest.Config {
	return &rest.Config{Host: inprocess.Host + "/platform", Transport: s.AsUser(p), QPS: 100, Burst: 200}
}
