package gateway

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/auth/account"
	"github.com/kstack/kstack/internal/auth/attributes"
	"github.com/kstack/kstack/internal/auth/decision"
	"github.com/kstack/kstack/internal/auth/directory"
)

// maxBody bounds the platform API bodies the gateway reads.
const maxBody = 4 << 20

// platformAPI serves the platform's own API (in the global cluster)
// through the decision point: attributes, decide, admit (by the kind's
// API group), forward.
func (s *Server) platformAPI(w http.ResponseWriter, r *http.Request, p *directory.Principal, apiPath string) {
	clean, err := cleanMemberPath(apiPath)
	if err != nil {
		writeStatus(w, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	global := s.Targets.Global()
	a, err := attributes.Platform(r, clean)
	if err != nil {
		writeStatus(w, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	ctx := r.Context()
	res, mod, served := s.Groups.Resource(a.APIGroup, a.Kind)
	if res.Hidden != "" {
		forbidden(w, res.Hidden)
		return
	}
	a.Project = projectOf(res, a)
	noteAudit(ctx, "", a)
	admin := decision.Admin(p)
	if !admin {
		if a.NonResource {
			if !a.ReadOnly || !s.isDiscovery(clean) {
				forbidden(w, "platform users reach only the platform's API groups (/apis/"+strings.Join(s.Groups.Names(), ", ")+")")
				return
			}
			s.forward(w, r, p, global, global.Name, clean)
			return
		}
		if !served {
			forbidden(w, fmt.Sprintf("platform users reach only the platform's API groups, not %q", a.APIGroup))
			return
		}
		if res.AdminOnly != "" {
			forbidden(w, res.AdminOnly)
			return
		}
		if a.Subresource == "status" && !a.ReadOnly {
			forbidden(w, "status is written by the platform's controllers only")
			return
		}
	}
	objTenant := ""
	if a.Name != "" && a.Verb != "create" && !admin {
		t, found, err := s.tenantOf(ctx, res, a)
		if err != nil {
			writeStatus(w, http.StatusServiceUnavailable, "ServiceUnavailable", err.Error())
			return
		}
		if !found {
			writeStatus(w, http.StatusNotFound, "NotFound", fmt.Sprintf("%s %q not found", a.Kind, a.Name))
			return
		}
		objTenant = t
	}
	dec := s.Decider.Platform(ctx, p, a, objTenant)
	if dec.NotFound {
		writeStatus(w, http.StatusNotFound, "NotFound", dec.Reason)
		return
	}
	if !dec.Allowed {
		if a.Verb == "list" && a.Name == "" && !admin {
			// A right on some objects by name: list those only.
			s.filteredList(w, r, p, global, clean, res, a)
			return
		}
		forbidden(w, fmt.Sprintf("%s may not %s on %s: %s", p.Name(), a.Action, a.Resource, dec.Reason))
		return
	}
	if res.Lock != nil && (a.Verb == "create" || a.Verb == "update" || a.Verb == "patch") {
		if key := res.Lock(a); key != "" {
			// The checks and the write that follows are one step per key
			// (the admission webhook checks while the write is under way):
			// two namespaces cannot both take the last of a quota.
			defer s.Lock(key)()
		}
	}
	req := &apigroup.Request{Principal: p, Attributes: a, Query: r.URL.Query()}
	switch a.Verb {
	case "create", "update":
		body, err := s.admit(ctx, r, mod, res, req)
		if err != nil {
			apigroup.WriteError(w, err)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.Header.Set("Content-Type", "application/json")
	case "patch":
		if err := s.admitPatch(ctx, mod, res, req); err != nil {
			apigroup.WriteError(w, err)
			return
		}
	case "delete", "deletecollection":
		if mod != nil {
			if err := mod.Admit(ctx, req); err != nil {
				apigroup.WriteError(w, err)
				return
			}
		}
		if a.Verb == "deletecollection" && !admin && res.TenantScoped {
			// A collection is the caller's tenant's only, as for a list;
			// objects every tenant shares are never deleted this way.
			r = withTenantSelector(r, p.Tenant, false)
		}
	case "list", "watch":
		if !admin && res.TenantScoped {
			r = withTenantSelector(r, p.Tenant, res.SharedTenant)
		}
	}
	s.forward(w, r, p, global, global.Name, clean)
}

func projectOf(res apigroup.Resource, a attributes.Attributes) string {
	if res.Project == nil {
		return ""
	}
	return res.Project(a)
}

// isDiscovery matches the discovery paths clients read first, and the
// OpenAPI schemas kubectl validates manifests with: the platform's groups
// only (the OpenAPI index lists every group's path, no object).
func (s *Server) isDiscovery(p string) bool {
	p = strings.TrimSuffix(p, "/")
	if p == "/api" || p == "/apis" || p == "/version" || p == "/openapi/v3" || strings.HasPrefix(p, "/api/v1") && strings.Count(p, "/") == 2 {
		return true
	}
	if rest, ok := strings.CutPrefix(p, "/openapi/v3/apis/"); ok {
		group, _, _ := strings.Cut(rest, "/")
		return s.Groups.Served(group) && strings.Count(rest, "/") == 1
	}
	if rest, ok := strings.CutPrefix(p, "/apis/"); ok {
		group, _, _ := strings.Cut(rest, "/")
		return s.Groups.Served(group) && strings.Count(rest, "/") <= 1
	}
	return false
}

// withTenantSelector narrows a list or watch to the caller's tenant (and,
// with shared, the objects every tenant shares), so that the API server
// filters rather than the gateway.
func withTenantSelector(r *http.Request, tenant string, shared bool) *http.Request {
	q := r.URL.Query()
	sel := apigroup.LabelTenant + "=" + tenant
	if shared {
		sel = apigroup.LabelTenant + " in (" + tenant + "," + directory.SharedTenantLabel + ")"
	}
	if old := q.Get("labelSelector"); old != "" {
		sel = old + "," + sel
	}
	q.Set("labelSelector", sel)
	r2 := r.Clone(r.Context())
	r2.URL.RawQuery = q.Encode()
	return r2
}

// tenantOf reads the tenant of the object a request names.
func (s *Server) tenantOf(ctx context.Context, res apigroup.Resource, a attributes.Attributes) (string, bool, error) {
	gvk, err := s.Mapper.KindFor(schema.GroupVersionResource{Group: a.APIGroup, Version: res.Version, Resource: a.Kind})
	if err != nil {
		return "", false, nil
	}
	// Typed, so that the informer cache answers (the API server only for
	// an object the cache has not seen yet): this runs on every request
	// that names an object.
	ro, err := s.Client.Scheme().New(gvk)
	if err != nil {
		return "", false, nil
	}
	obj, ok := ro.(client.Object)
	if !ok {
		return "", false, nil
	}
	key := client.ObjectKey{Namespace: a.Namespace, Name: a.Name}
	err = s.Client.Get(ctx, key, obj)
	if apierrors.IsNotFound(err) {
		err = s.Reader.Get(ctx, key, obj)
	}
	if err != nil {
		if apierrors.IsNotFound(err) {
			return "", false, nil
		}
		return "", false, fmt.Errorf("reading %s %s: %w", a.Kind, a.Name, err)
	}
	if t := obj.GetLabels()[apigroup.LabelTenant]; t != "" {
		return t, true, nil
	}
	if m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj); err == nil {
		if t, ok, _ := unstructured.NestedString(m, "spec", "tenantID"); ok && t != "" {
			return t, true, nil
		}
	}
	if res.TenantIsName {
		return a.Name, true, nil
	}
	return apigroup.DefaultTenant, true, nil
}

// admit reads a create or update body, puts a tenant-scoped object in the
// caller's tenant (platform administrators may name another), and has the
// kind's group admit it.
func (s *Server) admit(ctx context.Context, r *http.Request, mod apigroup.Module, res apigroup.Resource, req *apigroup.Request) ([]byte, error) {
	p := req.Principal
	ct := r.Header.Get("Content-Type")
	if ct != "" && !strings.HasPrefix(ct, "application/json") {
		return nil, apigroup.Refuse(http.StatusUnsupportedMediaType, "send the platform API JSON (Content-Type application/json), not %s", ct)
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, apigroup.Refuse(http.StatusBadRequest, "reading the body: %v", err)
	}
	if len(data) > maxBody {
		return nil, apigroup.Refuse(http.StatusRequestEntityTooLarge, "the body is larger than %d bytes", maxBody)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(data); err != nil {
		return nil, apigroup.Refuse(http.StatusBadRequest, "the body is not a valid object: %v", err)
	}
	if res.TenantScoped {
		tenant := p.Tenant
		if decision.Admin(p) {
			if t, ok, _ := unstructured.NestedString(u.Object, "spec", "tenantID"); ok && t != "" {
				tenant = t
			}
		} else if t, ok, _ := unstructured.NestedString(u.Object, "spec", "tenantID"); ok && t != "" && t != p.Tenant {
			return nil, apigroup.Refuse(http.StatusForbidden, "you may not create or move objects into tenant %q", t)
		}
		if err := account.ValidateTenant(tenant); err != nil && tenant != apigroup.DefaultTenant {
			return nil, apigroup.Invalid("spec.tenantID: %v", err)
		}
		labels := u.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		labels[apigroup.LabelTenant] = tenant
		u.SetLabels(labels)
		// An object with a spec carries its tenant there too; one without
		// gets a spec only when its group's kinds all have one.
		if _, ok := u.Object["spec"].(map[string]any); ok || !res.SpecOptional {
			_ = unstructured.SetNestedField(u.Object, tenant, "spec", "tenantID")
		}
	}
	req.Object = u
	if mod != nil {
		if err := mod.Admit(ctx, req); err != nil {
			return nil, err
		}
	}
	return u.MarshalJSON()
}

// admitPatch has the kind's group admit a patch and applies the kind's
// patch rule. What the patch makes of the object is decided on the object
// as it would be stored (the invariants and the admission webhook), never
// on the patch's bytes, which JSON spells in many ways.
func (s *Server) admitPatch(ctx context.Context, mod apigroup.Module, res apigroup.Resource, req *apigroup.Request) error {
	if mod != nil {
		if err := mod.Admit(ctx, req); err != nil {
			return err
		}
	}
	a, admin := req.Attributes, decision.Admin(req.Principal)
	if a.Subresource == "" && (res.Patch == apigroup.PatchNoOne || res.Patch == apigroup.PatchAdmins && !admin) {
		return apigroup.Invalid("%ss cannot be patched, %s: replace it (kubectl replace, or PUT)", a.Kind, res.NoPatch)
	}
	return nil
}

// ItemAllowed decides on one item of a list as if it were read by name:
// the same decision as a get.
func (s *Server) ItemAllowed(ctx context.Context, p *directory.Principal, list attributes.Attributes, namespace, name, tenant string) bool {
	get := list
	get.Verb, get.Name, get.Namespace = "get", name, namespace
	get.Action = "get" + strings.TrimPrefix(list.Action, "list")
	// The resource a get by name is decided on (attributes.Platform).
	get.Resource = list.Kind + ":" + name
	if namespace != "" {
		get.Resource = "namespace:" + namespace + "/" + get.Resource
	}
	res, _, _ := s.Groups.Resource(list.APIGroup, list.Kind)
	get.Project = projectOf(res, get)
	return s.Decider.Platform(ctx, p, get, tenant).Allowed
}

// filteredList answers a list by someone who may read some objects of the
// kind by name: the list holds those only.
func (s *Server) filteredList(w http.ResponseWriter, r *http.Request, p *directory.Principal, global *Target, clean string, res apigroup.Resource, a attributes.Attributes) {
	if r.URL.Query().Get("watch") != "" {
		forbidden(w, fmt.Sprintf("%s may not watch every %s", p.Name(), a.Kind))
		return
	}
	q := r.URL.Query()
	if res.TenantScoped {
		q = withTenantSelector(r, p.Tenant, res.SharedTenant).URL.Query()
	}
	u := *global.Server
	u.Path = strings.TrimSuffix(u.Path, "/") + clean
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, u.String(), nil)
	if err != nil {
		writeStatus(w, http.StatusInternalServerError, "InternalError", err.Error())
		return
	}
	req.Header.Set("Accept", "application/json")
	impersonate(req.Header, p)
	resp, err := global.Transport.RoundTrip(req)
	if err != nil {
		writeStatus(w, http.StatusBadGateway, "ServiceUnavailable", err.Error())
		return
	}
	defer resp.Body.Close()
	var list unstructured.UnstructuredList
	data, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil || resp.StatusCode != http.StatusOK || list.UnmarshalJSON(data) != nil {
		forbidden(w, fmt.Sprintf("%s may not list %s", p.Name(), a.Kind))
		return
	}
	kept := list.Items[:0]
	for _, it := range list.Items {
		if s.ItemAllowed(r.Context(), p, a, it.GetNamespace(), it.GetName(), it.GetLabels()[apigroup.LabelTenant]) {
			kept = append(kept, it)
		}
	}
	if len(kept) == 0 {
		forbidden(w, fmt.Sprintf("%s may not list %s: no policy allows %s", p.Name(), a.Kind, a.Action))
		return
	}
	list.Items = kept
	out, err := list.MarshalJSON()
	if err != nil {
		writeStatus(w, http.StatusInternalServerError, "InternalError", err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}

// Lock serialises the writes of one key (a project's quota) in this replica.
func (s *Server) Lock(key string) func() {
	v, _ := s.locks.LoadOrStore(key, &sync.Mutex{})
	mu := v.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}
