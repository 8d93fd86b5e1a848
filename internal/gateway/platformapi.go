package gateway

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1 "github.com/kstack/kstack/api/auth/v1"
	businessv1 "github.com/kstack/kstack/api/business/v1"
	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/auth/account"
	"github.com/kstack/kstack/internal/auth/attributes"
	"github.com/kstack/kstack/internal/auth/decision"
	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/auth/policy"
	"github.com/kstack/kstack/internal/business/admission"
)

// platformGroups are the API groups platform users reach in the global
// cluster; the rest of it (Secrets, the system namespace) is the
// platform's own.
var platformGroups = map[string]bool{
	platformv1.GroupVersion.Group: true,
	authv1.GroupVersion.Group:     true,
	"business.tkestack.io":        true,
}

// restricted are kinds that only platform administrators reach through
// the generic API; users manage their own access keys through /auth.
var restricted = map[string]string{
	"session":           "sessions are managed by logging in and out",
	"apikey":            "manage your access keys with /auth/apis/auth.tkestack.io/v1/apikeys (kstack apikey)",
	"clustercredential": "cluster credentials are readable by platform administrators only",
	"identityprovider":  "identity providers are managed by platform administrators",
}

// tenantScoped kinds carry spec.tenantID and the tenant label.
var tenantScoped = map[string]bool{
	"cluster": true, "clustercredential": true, "user": true, "group": true, "policy": true,
	"policybinding": true, "apikey": true, "session": true, "project": true, "namespace": true,
}

// maxBody bounds the platform API bodies the gateway reads.
const maxBody = 4 << 20

// platformAPI serves the platform's own API (in the global cluster)
// through the decision point.
func (s *Server) platformAPI(w http.ResponseWriter, r *http.Request, p *directory.Principal, apiPath string) {
	clean, err := cleanMemberPath(apiPath)
	if err != nil {
		writeStatus(w, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	global, err := s.Targets.Target(platformv1.GlobalClusterName)
	if err != nil {
		writeStatus(w, http.StatusServiceUnavailable, "ServiceUnavailable", err.Error())
		return
	}
	a, err := attributes.Platform(r, clean)
	if err != nil {
		writeStatus(w, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	ctx := r.Context()
	if msg, ok := decision.Hidden(a.Kind); ok {
		forbidden(w, msg)
		return
	}
	if !p.SuperAdmin {
		if a.NonResource {
			if !a.ReadOnly || !isDiscovery(clean) {
				forbidden(w, "platform users reach only the platform's API (/apis/platform.tkestack.io, auth.tkestack.io, business.tkestack.io)")
				return
			}
			s.forward(w, r, p, global, platformv1.GlobalClusterName, clean)
			return
		}
		if !platformGroups[a.APIGroup] {
			forbidden(w, fmt.Sprintf("platform users reach only the platform's API groups, not %q", a.APIGroup))
			return
		}
		if msg, ok := restricted[a.Kind]; ok {
			forbidden(w, msg)
			return
		}
		if a.Subresource == "status" && !a.ReadOnly {
			forbidden(w, "status is written by the platform's controllers only")
			return
		}
	}
	objTenant := ""
	if a.Name != "" && a.Verb != "create" && !p.SuperAdmin {
		t, found, err := s.tenantOf(ctx, a)
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
		if a.Verb == "list" && a.Name == "" && !p.SuperAdmin {
			// A right on some objects by name: list those only.
			s.filteredList(w, r, p, global, clean, a)
			return
		}
		forbidden(w, fmt.Sprintf("%s may not %s on %s: %s", p.Name(), a.Action, a.Resource, dec.Reason))
		return
	}
	if key := quotaKey(a); key != "" && (a.Verb == "create" || a.Verb == "update") {
		// Quota checks and the write that follows are one step per project:
		// two namespaces cannot both take the last of a quota.
		unlock := s.lockProject(key)
		defer unlock()
	}
	switch a.Verb {
	case "create", "update":
		body, err := s.admit(ctx, r, p, a)
		if err != nil {
			writeAdmission(w, err)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.Header.Set("Content-Type", "application/json")
	case "patch":
		if err := s.admitPatch(ctx, r, p, a); err != nil {
			writeAdmission(w, err)
			return
		}
	case "delete", "deletecollection":
		if a.Kind == "policy" && isPredefined(a.Name) {
			forbidden(w, fmt.Sprintf("policy %s is predefined and cannot be deleted", a.Name))
			return
		}
		if a.Kind == "cluster" && a.APIGroup == platformv1.GroupVersion.Group && a.Name != "" {
			if err := s.checkClusterDelete(ctx, a.Name); err != nil {
				writeAdmission(w, err)
				return
			}
		}
		if a.Kind == "project" && a.APIGroup == businessv1.GroupVersion.Group {
			if err := s.checkProjectDelete(ctx, a.Name, r.URL.Query().Get("cascade") == "true"); err != nil {
				writeAdmission(w, err)
				return
			}
		}
	case "list", "watch":
		if !p.SuperAdmin && tenantScoped[a.Kind] && platformGroups[a.APIGroup] {
			r = withTenantSelector(r, p.Tenant, a.Kind == "policy")
		}
	}
	s.forward(w, r, p, global, platformv1.GlobalClusterName, clean)
}

// isDiscovery matches the discovery paths clients read first.
func isDiscovery(p string) bool {
	p = strings.TrimSuffix(p, "/")
	if p == "/api" || p == "/apis" || p == "/version" || strings.HasPrefix(p, "/api/v1") && strings.Count(p, "/") == 2 {
		return true
	}
	if rest, ok := strings.CutPrefix(p, "/apis/"); ok {
		group, _, _ := strings.Cut(rest, "/")
		return platformGroups[group] && strings.Count(rest, "/") <= 1
	}
	return false
}

// withTenantSelector narrows a list or watch to the caller's tenant (and,
// for policies, the predefined ones every tenant shares), so that the API
// server filters rather than the gateway.
func withTenantSelector(r *http.Request, tenant string, shared bool) *http.Request {
	q := r.URL.Query()
	sel := authv1.LabelTenant + "=" + tenant
	if shared {
		sel = authv1.LabelTenant + " in (" + tenant + "," + directory.SharedTenantLabel + ")"
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
func (s *Server) tenantOf(ctx context.Context, a attributes.Attributes) (string, bool, error) {
	gvk, err := s.Mapper.KindFor(schema.GroupVersionResource{Group: a.APIGroup, Version: "v1", Resource: a.Kind})
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
	if t := obj.GetLabels()[authv1.LabelTenant]; t != "" {
		return t, true, nil
	}
	if m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj); err == nil {
		if t, ok, _ := unstructured.NestedString(m, "spec", "tenantID"); ok && t != "" {
			return t, true, nil
		}
	}
	if a.Kind == "identityprovider" {
		return a.Name, true, nil
	}
	return authv1.DefaultTenant, true, nil
}

// admissionError is a refused write: code and message for the caller.
type admissionError struct {
	code int
	msg  string
}

func (e *admissionError) Error() string { return e.msg }

func refuse(code int, format string, a ...any) error {
	return &admissionError{code: code, msg: fmt.Sprintf(format, a...)}
}

func writeAdmission(w http.ResponseWriter, err error) {
	if ae, ok := err.(*admissionError); ok {
		reason := map[int]string{400: "BadRequest", 403: "Forbidden", 404: "NotFound", 409: "Conflict", 422: "Invalid"}[ae.code]
		writeStatus(w, ae.code, reason, ae.msg)
		return
	}
	writeStatus(w, http.StatusInternalServerError, "InternalError", err.Error())
}

// admit checks and normalises a create or update body: the object lands
// in the caller's tenant (platform administrators may name another),
// policies are valid, and no one grants more than they hold.
func (s *Server) admit(ctx context.Context, r *http.Request, p *directory.Principal, a attributes.Attributes) ([]byte, error) {
	ct := r.Header.Get("Content-Type")
	if ct != "" && !strings.HasPrefix(ct, "application/json") {
		return nil, refuse(http.StatusUnsupportedMediaType, "send the platform API JSON (Content-Type application/json), not %s", ct)
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, refuse(http.StatusBadRequest, "reading the body: %v", err)
	}
	if len(data) > maxBody {
		return nil, refuse(http.StatusRequestEntityTooLarge, "the body is larger than %d bytes", maxBody)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(data); err != nil {
		return nil, refuse(http.StatusBadRequest, "the body is not a valid object: %v", err)
	}
	if tenantScoped[a.Kind] && platformGroups[a.APIGroup] {
		tenant := p.Tenant
		if p.SuperAdmin {
			if t, ok, _ := unstructured.NestedString(u.Object, "spec", "tenantID"); ok && t != "" {
				tenant = t
			}
		} else if t, ok, _ := unstructured.NestedString(u.Object, "spec", "tenantID"); ok && t != "" && t != p.Tenant {
			return nil, refuse(http.StatusForbidden, "you may not create or move objects into tenant %q", t)
		}
		if err := account.ValidateTenant(tenant); err != nil && tenant != authv1.DefaultTenant {
			return nil, refuse(http.StatusUnprocessableEntity, "spec.tenantID: %v", err)
		}
		if a.Kind == "policy" && isPredefined(u.GetName()) {
			return nil, refuse(http.StatusForbidden, "policy %s is predefined and cannot be changed: create a custom policy instead", u.GetName())
		}
		labels := u.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		labels[authv1.LabelTenant] = tenant
		u.SetLabels(labels)
		if _, ok := u.Object["spec"].(map[string]any); ok || a.Kind != "namespace" {
			_ = unstructured.SetNestedField(u.Object, tenant, "spec", "tenantID")
		}
	}
	if a.APIGroup == businessv1.GroupVersion.Group {
		if err := s.admitBusiness(ctx, p, a, u); err != nil {
			return nil, err
		}
		return u.MarshalJSON()
	}
	switch a.Kind {
	case "policy":
		if err := validatePolicy(u, p); err != nil {
			return nil, err
		}
	case "policybinding":
		if err := s.checkGrant(ctx, p, u); err != nil {
			return nil, err
		}
	case "group":
		if err := s.checkGroupGrant(ctx, p, u); err != nil {
			return nil, err
		}
	case "user":
		if err := validateUser(u); err != nil {
			return nil, err
		}
	}
	return u.MarshalJSON()
}

// admitPatch refuses patches that would move an object between tenants or
// change what it grants without the checks of admit.
func (s *Server) admitPatch(_ context.Context, r *http.Request, p *directory.Principal, a attributes.Attributes) error {
	if a.Kind == "policy" && isPredefined(a.Name) {
		return refuse(http.StatusForbidden, "policy %s is predefined and cannot be changed: create a custom policy instead", a.Name)
	}
	if a.APIGroup == businessv1.GroupVersion.Group && (a.Kind == "project" || a.Kind == "namespace") && a.Subresource == "" {
		return refuse(http.StatusUnprocessableEntity, "%ss cannot be patched, so that quotas are always checked whole: replace it (kubectl replace, or PUT)", a.Kind)
	}
	if p.SuperAdmin && a.Kind != "policy" {
		return nil
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		return refuse(http.StatusBadRequest, "reading the body: %v", err)
	}
	r.Body = io.NopCloser(bytes.NewReader(data))
	if bytes.Contains(data, []byte("tenantID")) || bytes.Contains(data, []byte(authv1.LabelTenant)) {
		return refuse(http.StatusForbidden, "a patch may not change an object's tenant")
	}
	switch a.Kind {
	case "policy", "policybinding", "group":
		return refuse(http.StatusUnprocessableEntity, "%ss cannot be patched, so that every change is checked whole: replace it (kubectl replace, or PUT)", a.Kind)
	}
	return nil
}

func isPredefined(name string) bool {
	for _, p := range directory.Predefined() {
		if p.Name == name {
			return true
		}
	}
	return false
}

// statementsOf reads a policy object's statements.
func statementsOf(u *unstructured.Unstructured) ([]policy.Statement, error) {
	raw, _, _ := unstructured.NestedSlice(u.Object, "spec", "statements")
	data, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	var st []policy.Statement
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("spec.statements must be a list of {actions, resources, effect}: %w", err)
	}
	return st, nil
}

func validatePolicy(u *unstructured.Unstructured, p *directory.Principal) error {
	st, err := statementsOf(u)
	if err == nil {
		err = policy.ValidateStatements(st)
	}
	if err != nil {
		return refuse(http.StatusUnprocessableEntity, "policy %s is malformed: %v", u.GetName(), err)
	}
	if pre, _, _ := unstructured.NestedBool(u.Object, "spec", "predefined"); pre {
		return refuse(http.StatusForbidden, "only the platform makes predefined policies")
	}
	return nil
}

func validateUser(u *unstructured.Unstructured) error {
	tenant, _, _ := unstructured.NestedString(u.Object, "spec", "tenantID")
	name, _, _ := unstructured.NestedString(u.Object, "spec", "username")
	if want := authv1.ObjectName(tenant, name); u.GetName() != want {
		return refuse(http.StatusUnprocessableEntity, "a user's name must be <tenantID>.<username>: %q, not %q", want, u.GetName())
	}
	return nil
}

// checkGrant refuses a binding that grants more than the caller holds.
func (s *Server) checkGrant(ctx context.Context, p *directory.Principal, u *unstructured.Unstructured) error {
	var b authv1.PolicyBinding
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &b); err != nil {
		return refuse(http.StatusBadRequest, "the body is not a PolicyBinding: %v", err)
	}
	return s.checkGrantTyped(ctx, p, &b)
}

// checkGroupGrant refuses a group change by someone who does not hold
// every policy bound to the group (adding yourself to it would grant them).
func (s *Server) checkGroupGrant(ctx context.Context, p *directory.Principal, u *unstructured.Unstructured) error {
	if p.SuperAdmin {
		return nil
	}
	gname, _, _ := unstructured.NestedString(u.Object, "spec", "name")
	var bindings authv1.PolicyBindingList
	if err := s.Reader.List(ctx, &bindings, client.MatchingLabels{authv1.LabelTenant: p.Tenant}); err != nil {
		return err
	}
	for _, b := range bindings.Items {
		for _, g := range b.Spec.Groups {
			if g != gname {
				continue
			}
			var pol authv1.Policy
			if err := s.Reader.Get(ctx, client.ObjectKey{Name: b.Spec.PolicyName}, &pol); err != nil {
				continue
			}
			if err := s.covers(ctx, p, b.Spec.ProjectID, []authv1.Policy{pol}); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *Server) covers(ctx context.Context, p *directory.Principal, project string, pols []authv1.Policy) error {
	held, err := s.Decider.Dir.Policies(ctx, p, project)
	if err != nil {
		return err
	}
	for i := range pols {
		if err := policy.Covers(held, directory.Named(&pols[i]).Statements); err != nil {
			return refuse(http.StatusForbidden, "%v (granting policy %s)", err, pols[i].Name)
		}
	}
	return nil
}

// itemAllowed decides on one item of a list as if it were read by name:
// the same decision as a get.
func (s *Server) itemAllowed(ctx context.Context, p *directory.Principal, list attributes.Attributes, name, tenant string) bool {
	get := list
	get.Verb, get.Name = "get", name
	get.Action = "get" + strings.TrimPrefix(list.Action, "list")
	get.Resource = list.Kind + ":" + name
	return s.Decider.Platform(ctx, p, get, tenant).Allowed
}

// VisibleClusters are the clusters p may see, read from the platform's
// cache: the answer GET .../clusters gives through the API (all for
// administrators, the tenant's for those who may list clusters, else those
// they may get by name), without serialising every cluster twice. The
// console's cluster pages use it.
func (s *Server) VisibleClusters(ctx context.Context, p *directory.Principal) ([]platformv1.Cluster, error) {
	var l platformv1.ClusterList
	if p.SuperAdmin {
		err := s.Client.List(ctx, &l)
		return l.Items, err
	}
	if err := s.Client.List(ctx, &l, client.MatchingLabels{authv1.LabelTenant: p.Tenant}); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "/apis/platform.tkestack.io/v1/clusters", nil)
	if err != nil {
		return nil, err
	}
	a, err := attributes.Platform(req, req.URL.Path)
	if err != nil {
		return nil, err
	}
	if s.Decider.Platform(ctx, p, a, "").Allowed {
		return l.Items, nil
	}
	kept := l.Items[:0]
	for _, c := range l.Items {
		if s.itemAllowed(ctx, p, a, c.Name, c.Labels[authv1.LabelTenant]) {
			kept = append(kept, c)
		}
	}
	return kept, nil
}

// filteredList answers a list by someone who may read some objects of the
// kind by name: the list holds those only.
func (s *Server) filteredList(w http.ResponseWriter, r *http.Request, p *directory.Principal, global *Target, clean string, a attributes.Attributes) {
	if r.URL.Query().Get("watch") != "" {
		forbidden(w, fmt.Sprintf("%s may not watch every %s", p.Name(), a.Kind))
		return
	}
	q := r.URL.Query()
	if tenantScoped[a.Kind] {
		q.Set("labelSelector", authv1.LabelTenant+"="+p.Tenant)
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
		if s.itemAllowed(r.Context(), p, a, it.GetName(), it.GetLabels()[authv1.LabelTenant]) {
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

var projectIDRE = regexp.MustCompile(`^prj-[a-z0-9]{8}$`)

// admitBusiness checks projects and namespaces (quotas, clusters, members,
// parents) and names new ones.
func (s *Server) admitBusiness(ctx context.Context, pr *directory.Principal, a attributes.Attributes, u *unstructured.Unstructured) error {
	chk := &admission.Checker{Reader: s.Client, Live: s.Reader}
	asBusiness := func(err error) error {
		if ae, ok := err.(*admission.Error); ok {
			return refuse(ae.Code, "%s", ae.Msg)
		}
		return err
	}
	switch a.Kind {
	case "project":
		if a.Verb == "create" && u.GetName() == "" && u.GetGenerateName() == "" {
			u.SetName("prj-" + randomID(8))
		}
		if a.Verb == "create" && !projectIDRE.MatchString(u.GetName()) {
			return refuse(http.StatusUnprocessableEntity, "a project's name is prj- and 8 lowercase letters or digits, not %q (leave it out to have one made)", u.GetName())
		}
		var p businessv1.Project
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &p); err != nil {
			return refuse(http.StatusBadRequest, "the body is not a Project: %v", err)
		}
		var old *businessv1.Project
		if a.Verb == "update" {
			old = &businessv1.Project{}
			if err := s.Reader.Get(ctx, client.ObjectKey{Name: a.Name}, old); err != nil {
				return refuse(http.StatusNotFound, "project %q not found", a.Name)
			}
			// Project admins manage members; quotas and parents are the
			// platform's to change.
			if !equality.Semantic.DeepEqual(old.Spec.Clusters, p.Spec.Clusters) || old.Spec.ParentProjectName != p.Spec.ParentProjectName {
				if d := s.Decider.Can(ctx, pr, "", "updateProject", "project:"+a.Name); !d.Allowed {
					return refuse(http.StatusForbidden, "%s may not change the quotas or parent of project %s: %s", pr.Name(), a.Name, d.Reason)
				}
			}
		}
		return asBusiness(chk.Project(ctx, &p, old))
	case "namespace":
		var ns businessv1.Namespace
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &ns); err != nil {
			return refuse(http.StatusBadRequest, "the body is not a Namespace: %v", err)
		}
		if ns.Spec.ProjectName == "" {
			ns.Spec.ProjectName = a.Namespace
		}
		if ns.Spec.ProjectName != a.Namespace {
			return refuse(http.StatusUnprocessableEntity, "a project's namespaces live in the namespace named after it: %s, not %s", ns.Spec.ProjectName, a.Namespace)
		}
		if errs := validation.IsDNS1123Label(ns.Spec.Namespace); len(errs) > 0 {
			return refuse(http.StatusUnprocessableEntity, "namespace %q: %s", ns.Spec.Namespace, strings.Join(errs, "; "))
		}
		want := businessv1.ObjectName(ns.Spec.ClusterName, ns.Spec.Namespace)
		if a.Verb == "create" {
			u.SetName(want)
		} else if u.GetName() != want {
			return refuse(http.StatusUnprocessableEntity, "a namespace's cluster and name cannot change (move it with kstack namespace move)")
		}
		_ = unstructured.SetNestedField(u.Object, ns.Spec.ProjectName, "spec", "projectName")
		labels := u.GetLabels()
		labels[admission.LabelCluster], labels[admission.LabelNamespace] = ns.Spec.ClusterName, ns.Spec.Namespace
		u.SetLabels(labels)
		ns.Name, ns.Namespace = u.GetName(), a.Namespace
		if adopt, ok := ns.Annotations[businessv1.AnnotationAdopt]; ok {
			// Import takes over a namespace that exists in the member: a
			// right over that namespace on the platform, never a system one.
			if adopt != "true" {
				return refuse(http.StatusUnprocessableEntity, "%s is set by moves only; to import a namespace set it to \"true\"", businessv1.AnnotationAdopt)
			}
			if strings.HasPrefix(ns.Spec.Namespace, "kube-") || ns.Spec.Namespace == "default" {
				return refuse(http.StatusUnprocessableEntity, "namespace %s is the cluster's own and cannot be imported into a project", ns.Spec.Namespace)
			}
			res := fmt.Sprintf("cluster:%s/namespace:%s", ns.Spec.ClusterName, ns.Spec.Namespace)
			if d := s.Decider.Can(ctx, pr, "", "updateNamespace", res); !d.Allowed {
				return refuse(http.StatusForbidden, "%s may not import %s: %s", pr.Name(), res, d.Reason)
			}
		}
		return asBusiness(chk.Namespace(ctx, &ns))
	}
	return nil
}

// randomID is n characters of [a-z0-9].
func randomID(n int) string {
	const chars = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	for i := range b {
		b[i] = chars[int(b[i])%len(chars)]
	}
	return string(b)
}

// checkProjectDelete refuses to delete a project that still has namespaces
// or sub-projects, unless asked to cascade (then its namespaces go first,
// each cleaning its member cluster).
func (s *Server) checkProjectDelete(ctx context.Context, name string, cascade bool) error {
	var nss businessv1.NamespaceList
	if err := s.Client.List(ctx, &nss, client.InNamespace(name)); err != nil {
		return err
	}
	var prjs businessv1.ProjectList
	if err := s.Client.List(ctx, &prjs, client.MatchingFields{admission.IndexParent: name}); err != nil {
		return err
	}
	for _, p := range prjs.Items {
		if p.Spec.ParentProjectName == name {
			return refuse(http.StatusConflict, "project %s has sub-project %s: delete it first", name, p.Name)
		}
	}
	if len(nss.Items) == 0 {
		return nil
	}
	if !cascade {
		return refuse(http.StatusConflict, "project %s still has %d namespaces (e.g. %s in %s): delete them, or delete the project with ?cascade=true (kstack project delete --cascade)",
			name, len(nss.Items), nss.Items[0].Spec.Namespace, nss.Items[0].Spec.ClusterName)
	}
	for i := range nss.Items {
		if err := client.IgnoreNotFound(s.Client.Delete(ctx, &nss.Items[i])); err != nil {
			return err
		}
	}
	return nil
}

// checkClusterDelete refuses to remove a cluster that projects still hold
// quota in, unless the cluster is marked for a forced delete (kstack cluster
// delete --force): projects would be left with namespaces nowhere.
func (s *Server) checkClusterDelete(ctx context.Context, cluster string) error {
	var cls platformv1.Cluster
	if err := s.Client.Get(ctx, client.ObjectKey{Name: cluster}, &cls); err != nil {
		return nil // the API server answers for a missing cluster
	}
	if cls.Annotations["platform.kstack.io/force-delete"] == "true" {
		return nil
	}
	var prjs businessv1.ProjectList
	if err := s.Client.List(ctx, &prjs); err != nil {
		return err
	}
	var users []string
	for _, p := range prjs.Items {
		if _, ok := p.Quota(cluster); ok {
			users = append(users, p.Name)
		}
	}
	if len(users) == 0 {
		return nil
	}
	if len(users) > 5 {
		users = append(users[:5], fmt.Sprintf("and %d more", len(users)-5))
	}
	return refuse(http.StatusConflict, "cluster %s holds quota of projects %s: remove it from them (kstack project set-quota / namespace delete) first, or delete with --force", cluster, strings.Join(users, ", "))
}

// quotaKey is the project whose quota a business write draws on: the
// namespace's project, or a sub-project's parent (read from the body is
// too late here, so sub-projects serialise on one key).
func quotaKey(a attributes.Attributes) string {
	if a.APIGroup != businessv1.GroupVersion.Group {
		return ""
	}
	switch a.Kind {
	case "namespace":
		return "ns/" + a.Namespace
	case "project":
		return "projects"
	}
	return ""
}

// lockProject serialises quota-drawing writes of one key in this replica.
func (s *Server) lockProject(key string) func() {
	v, _ := s.projectLocks.LoadOrStore(key, &sync.Mutex{})
	mu := v.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}
