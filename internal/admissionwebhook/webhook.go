// Package admissionwebhook decides on the platform's writes as they would
// be stored. The platform's kube-apiserver calls it (a validating admission
// webhook) for every create and update of the platform's API groups that
// came through this replica's gateway, after it has applied the request:
// a merge patch, a JSON patch or a server-side apply arrives here as the
// object it would store, next to the stored one. It hands both to the
// kind's group (apigroup.Module.Validate). See ADR 0012.
package admissionwebhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/auth/attributes"
	"github.com/kstack/kstack/internal/auth/decision"
	"github.com/kstack/kstack/internal/auth/directory"
)

// Path is where the webhook is served.
const Path = "/validate"

// maxReview bounds a review: an object and its old version (the API
// server stores objects of up to 3 MiB).
const maxReview = 8 << 20

// slowReview is how long a review may take before it is logged: every
// write through the gateway waits for it.
const slowReview = 500 * time.Millisecond

// Handler serves AdmissionReviews.
type Handler struct {
	Groups *apigroup.Registry
	Log    *slog.Logger
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != Path {
		http.Error(w, "POST an AdmissionReview to "+Path, http.StatusNotFound)
		return
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, maxReview+1))
	if err != nil || len(data) > maxReview {
		http.Error(w, "the review cannot be read or is too large", http.StatusBadRequest)
		return
	}
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(data, &review); err != nil || review.Request == nil {
		http.Error(w, "the body is not an AdmissionReview with a request", http.StatusBadRequest)
		return
	}
	start := time.Now()
	resp := h.Review(r.Context(), review.Request)
	resp.UID = review.Request.UID
	if took := time.Since(start); took > slowReview {
		h.Log.Warn("slow admission review", "took", took, "resource", review.Request.Resource.Resource, "name", review.Request.Name)
	}
	if !resp.Allowed {
		h.Log.Info("write refused", "user", review.Request.UserInfo.Username, "operation", review.Request.Operation,
			"resource", review.Request.Resource.Resource, "namespace", review.Request.Namespace, "name", review.Request.Name,
			"reason", resp.Result.Message)
	}
	out, err := json.Marshal(admissionv1.AdmissionReview{TypeMeta: review.TypeMeta, Response: resp})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}

// Review decides on one request.
func (h *Handler) Review(ctx context.Context, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	verb := map[admissionv1.Operation]string{admissionv1.Create: "create", admissionv1.Update: "update"}[req.Operation]
	res, mod, served := h.Groups.Resource(req.Resource.Group, attributes.Singular(req.Resource.Resource))
	// Status is written by the platform's controllers (and administrators);
	// a subresource holds none of the references checked here.
	if verb == "" || !served || req.SubResource != "" {
		return allow()
	}
	p, err := Principal(req.UserInfo)
	if err != nil {
		return deny(apigroup.Refuse(http.StatusForbidden, "%v", err))
	}
	obj, err := decode(req.Object.Raw)
	if err != nil {
		return deny(apigroup.Refuse(http.StatusBadRequest, "the object cannot be read: %v", err))
	}
	a := Attributes(req, verb, obj.GetName())
	if res.Project != nil {
		a.Project = res.Project(a)
	}
	r := &apigroup.Request{Principal: p, Attributes: a, Object: obj, DryRun: req.DryRun != nil && *req.DryRun}
	if req.Operation == admissionv1.Update {
		if r.Old, err = decode(req.OldObject.Raw); err != nil {
			return deny(apigroup.Refuse(http.StatusBadRequest, "the stored object cannot be read: %v", err))
		}
	}
	// What a caller creates is in their tenant (the gateway puts it there;
	// a server-side apply that creates must say so itself). The tenant of a
	// stored object never changes (a ValidatingAdmissionPolicy).
	if res.TenantScoped && r.Old == nil && !decision.Admin(p) {
		if t := obj.GetLabels()[apigroup.LabelTenant]; t != p.Tenant {
			return deny(apigroup.Refuse(http.StatusForbidden, "%s may create objects in tenant %q only, not %q (label %s)", p.Name(), p.Tenant, t, apigroup.LabelTenant))
		}
	}
	if err := mod.Validate(ctx, r); err != nil {
		return deny(err)
	}
	return allow()
}

// Attributes are those of the request as the decision point knows them,
// for the object named name.
func Attributes(req *admissionv1.AdmissionRequest, verb, name string) attributes.Attributes {
	a := attributes.Attributes{
		Verb: verb, APIGroup: req.Resource.Group, Kind: attributes.Singular(req.Resource.Resource),
		Namespace: req.Namespace, Name: name,
	}
	a.Action = verb + upperFirst(a.Kind)
	a.Resource = a.Kind + ":" + name
	if a.Namespace != "" {
		a.Resource = "namespace:" + a.Namespace + "/" + a.Resource
	}
	return a
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// Principal is the caller the gateway impersonated: its tenant and
// username come from the user extras the gateway sets (never from the
// username's spelling), its groups from the impersonated groups, less the
// two the gateway adds.
func Principal(u authenticationv1.UserInfo) (*directory.Principal, error) {
	one := func(key string) string {
		if v := u.Extra[key]; len(v) == 1 {
			return v[0]
		}
		return ""
	}
	p := &directory.Principal{Tenant: one(apigroup.ExtraTenant), Username: one(apigroup.ExtraUsername)}
	if p.Tenant == "" || p.Username == "" || !slices.Contains(u.Groups, apigroup.ProxyGroup) {
		return nil, errors.New("the write did not come through the platform's gateway: it carries no caller")
	}
	if p.Name() != u.Username {
		return nil, fmt.Errorf("the caller's extras (%s) do not match the impersonated user %q", p.Name(), u.Username)
	}
	for _, g := range u.Groups {
		switch g {
		case apigroup.ProxyGroup:
		case apigroup.AdminsGroup:
			p.SuperAdmin = true
		default:
			p.Groups = append(p.Groups, g)
		}
	}
	return p, nil
}

func decode(raw []byte) (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(raw); err != nil {
		return nil, err
	}
	return u, nil
}

func allow() *admissionv1.AdmissionResponse { return &admissionv1.AdmissionResponse{Allowed: true} }

// deny answers with err's code and message, which the API server passes
// on to the caller.
func deny(err error) *admissionv1.AdmissionResponse {
	code := int32(http.StatusInternalServerError)
	var e *apigroup.Error
	if errors.As(err, &e) {
		code = int32(e.Code)
	}
	return &admissionv1.AdmissionResponse{Result: &metav1.Status{
		Status: metav1.StatusFailure, Code: code, Message: err.Error(),
		Reason: metav1.StatusReason(apigroup.StatusReason(int(code))),
	}}
}
