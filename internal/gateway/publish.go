package gateway

import (
	"context"

	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	businessv1 "github.com/kstack/kstack/api/business/v1"
	"github.com/kstack/kstack/internal/auth/directory"
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

// inProcess sends client-go's requests through the gateway's own routing
// as an already authenticated caller: the same decision point and proxy as
// the caller's own requests, without a network hop or a token.
type inProcess struct {
	s *Server
	p *directory.Principal
}

func (t inProcess) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.s.route(rec, r, t.p)
	return rec.Result(), nil
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
		cfg := &rest.Config{Host: "http://kstack.in-process" + proxyPrefix + cl + "/proxy", Transport: inProcess{s, p}, QPS: 100, Burst: 200}
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
