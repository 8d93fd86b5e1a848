// Package attributes maps an HTTP request to the action and resource that
// the policy engine (internal/auth/policy) decides on, e.g. a GET of
// /api/v1/namespaces/default/pods/web in member cluster cls-1 is "getPod" on
// "cluster:cls-1/namespace:default/pod:web".
package attributes

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apiserver/pkg/endpoints/request"
)

// Attributes of one request.
type Attributes struct {
	// Action is the verb followed by the kind and the subresource, each with
	// its first letter upper-cased: "getPod", "listDeployment",
	// "createPodExec", "watchNode". For non-resource requests it is the verb
	// followed by "NonResource": "getNonResource".
	Action string
	// Resource is what the action is on, e.g.
	// "cluster:cls-1/namespace:default/pod:web", "cluster:cls-1/node:n1",
	// "cluster:cls-1/namespace:default/pod:*" (the collection), or
	// "cluster:cls-1/url:/version" for non-resource requests.
	Resource string
	// NonResource is set for requests outside the resource API: discovery
	// (/api, /apis, /apis/apps/v1), /version, /healthz, /openapi/...
	NonResource bool

	// Verb is the Kubernetes verb: get, list, watch, create, update, patch,
	// delete, deletecollection (or proxy, for the old /proxy/ paths). The
	// exec, attach and portforward subresources, and websocket upgrades to
	// a proxy subresource, are always "create"; log is always "get". For
	// non-resource requests it is the lower-case HTTP method, HEAD as "get".
	Verb string
	// APIGroup is "" for the core group.
	APIGroup string
	// Kind is the singular lower-case resource, e.g. "pod".
	Kind string
	// Plural is the resource as the path names it, e.g. "pods" (audit
	// records name it so, as Kubernetes' own do).
	Plural string
	// Namespace is the namespace in the path, and for the namespace object
	// itself its name. It is empty for requests across all namespaces even
	// though their Resource says "namespace:*".
	Namespace   string
	Name        string
	Subresource string
	// ReadOnly is set for get, list and watch.
	ReadOnly bool
	// Project is the project whose project policies apply to a request on
	// the platform's API; the API group of the kind sets it (see
	// internal/apigroup), since only it knows which kinds belong to projects.
	Project string
}

// infoFactory parses Kubernetes API paths as kube-apiserver does.
var infoFactory = &request.RequestInfoFactory{
	APIPrefixes:          sets.NewString("api", "apis"),
	GrouplessAPIPrefixes: sets.NewString("api"),
}

// Member maps a request proxied into member cluster `cluster`. memberPath is
// the path within the member, e.g. /api/v1/namespaces/default/pods; the
// method and query (?watch=true, fieldSelector) come from r.
//
// Resources are "cluster:<id>/namespace:<ns>/<kind>:<name>" when namespaced
// and "cluster:<id>/<kind>:<name>" when cluster-scoped, with "*" for the name
// of a collection. A namespaced kind listed across all namespaces
// (/api/v1/pods) is "cluster:<id>/namespace:*/pod:*": the literal '*' is
// matched only by a policy whose namespace part is a wildcard, so a right in
// one namespace never reaches it. Which kinds are cluster-scoped is known for
// Kubernetes' own kinds only; any other kind outside a namespace path, such
// as a cluster-scoped custom resource, is taken as "namespace:*" too.
func Member(cluster string, r *http.Request, memberPath string) (Attributes, error) {
	if err := checkName("cluster", cluster); err != nil {
		return Attributes{}, err
	}
	return parse(r, memberPath, "cluster:"+cluster+"/", true)
}

// Platform maps a request on the platform's own API, e.g.
// /apis/platform.tkestack.io/v1/clusters/cls-1 or /apis/auth.tkestack.io/v1/users.
// Resource is "<kind>:<name>" ("cluster:cls-1", "user:default.alice") or
// "<kind>:*" for a collection, "namespace:<ns>/<kind>:<name>" for a
// namespaced kind, and "url:<path>" for non-resource requests.
func Platform(r *http.Request, apiPath string) (Attributes, error) {
	return parse(r, apiPath, "", false)
}

func parse(r *http.Request, path, prefix string, member bool) (Attributes, error) {
	if r == nil || r.URL == nil {
		return Attributes{}, errors.New("no request to authorise: the HTTP request or its URL is nil")
	}
	if err := checkPath(path); err != nil {
		return Attributes{}, err
	}
	// RequestInfoFactory reads the path from the request, and the path that
	// counts here is the one given, not the one the caller was reached on.
	req := &http.Request{Method: r.Method, URL: &url.URL{Path: path, RawQuery: r.URL.RawQuery}}
	info, err := infoFactory.NewRequestInfo(req)
	if err != nil {
		return Attributes{}, fmt.Errorf("cannot tell which resource %s %s is for: %v", r.Method, path, err)
	}
	if !info.IsResourceRequest {
		return nonResource(info.Verb, path, prefix)
	}

	a := Attributes{
		Verb:        verb(info.Verb, info.Subresource, httpstream.IsUpgradeRequest(r)),
		APIGroup:    info.APIGroup,
		Kind:        Singular(info.Resource),
		Plural:      info.Resource,
		Namespace:   info.Namespace,
		Name:        info.Name,
		Subresource: info.Subresource,
	}
	if a.Verb == "" {
		return Attributes{}, fmt.Errorf("HTTP method %q is not supported on API resources: use GET, POST, PUT, PATCH or DELETE", r.Method)
	}
	if err := checkParts(info); err != nil {
		return Attributes{}, err
	}
	a.Action = a.Verb + upperFirst(a.Kind) + upperFirst(a.Subresource)
	a.ReadOnly = a.Verb == "get" || a.Verb == "list" || a.Verb == "watch"

	name := a.Name
	if name == "" {
		name = "*"
	}
	switch {
	case a.APIGroup == "" && info.Resource == "namespaces":
		// The namespace object is the namespace itself, so that rights on
		// "cluster:c/namespace:n/*" and on "cluster:c/namespace:n" line up.
		a.Namespace = a.Name
		a.Resource = prefix + "namespace:" + name
	case a.Namespace != "":
		a.Resource = prefix + "namespace:" + a.Namespace + "/" + a.Kind + ":" + name
	case member && !clusterScoped(a.APIGroup, info.Resource):
		a.Resource = prefix + "namespace:*/" + a.Kind + ":" + name
	default:
		a.Resource = prefix + a.Kind + ":" + name
	}
	if a.Subresource != "" {
		a.Resource += "/" + a.Subresource
	}
	return a, nil
}

func nonResource(method, path, prefix string) (Attributes, error) {
	v := method
	if v == "head" {
		v = "get" // HEAD reads what GET reads
	}
	if v == "" {
		return Attributes{}, fmt.Errorf("request for %s has no HTTP method", path)
	}
	for i := 0; i < len(v); i++ {
		// The verb becomes part of the action, which policies allow to
		// hold only letters and digits.
		if c := v[i]; !('a' <= c && c <= 'z') && !('0' <= c && c <= '9') {
			return Attributes{}, fmt.Errorf("HTTP method %q is not supported", strings.ToUpper(method))
		}
	}
	return Attributes{
		Action:      v + "NonResource",
		Resource:    prefix + "url:" + path,
		NonResource: true,
		Verb:        v,
		ReadOnly:    v == "get",
	}, nil
}

// verb adjusts RequestInfo's verb for subresources whose verb does not
// follow from the HTTP method.
func verb(v, subresource string, upgrade bool) string {
	switch subresource {
	case "exec", "attach", "portforward":
		// These open a stream into the pod, and over websockets they are
		// GETs: reading them as "get" would let read-only users run
		// commands. Kubernetes' RBAC checks them as "create" too.
		return "create"
	case "log":
		return "get"
	case "proxy":
		// A websocket through nodes/proxy reaches the kubelet's own exec
		// and attach, which take GET upgrades: a stream is never a read.
		if upgrade {
			return "create"
		}
	}
	return v
}

// checkPath refuses paths that the member might read differently from
// RequestInfoFactory: empty, "." or ".." segments, and bytes that do not
// belong in a resource string.
func checkPath(path string) error {
	if !strings.HasPrefix(path, "/") {
		return fmt.Errorf("path %q must start with '/'", path)
	}
	for i := 0; i < len(path); i++ {
		if c := path[i]; c <= ' ' || c > '~' {
			return fmt.Errorf("path %q has a space, a non-ASCII or a control character at byte %d: request a path of printable ASCII", path, i+1)
		}
	}
	segs := strings.Split(strings.TrimSuffix(path[1:], "/"), "/")
	if len(segs) == 1 && segs[0] == "" {
		return nil // "/" alone
	}
	for _, s := range segs {
		switch s {
		case "":
			return fmt.Errorf("path %q has an empty segment (\"//\"): remove the extra '/'", path)
		case ".", "..":
			return fmt.Errorf("path %q has a %q segment: request the path it stands for instead", path, s)
		}
	}
	return nil
}

// checkParts refuses names that could forge another resource string: a ':',
// '*' or '/' in them would let "pod:a/exec" or "pod:*" be written as a name.
// Kubernetes itself validates most kinds' names the same way.
func checkParts(info *request.RequestInfo) error {
	if info.APIGroup != "" {
		if errs := validation.IsDNS1123Subdomain(info.APIGroup); len(errs) > 0 {
			return fmt.Errorf("API group %q is not valid: %s", info.APIGroup, errs[0])
		}
	}
	for _, p := range []struct{ what, v string }{{"resource", info.Resource}, {"subresource", info.Subresource}} {
		if p.v == "" && p.what == "subresource" {
			continue
		}
		if errs := validation.IsDNS1123Label(p.v); len(errs) > 0 {
			return fmt.Errorf("%s %q is not valid: %s", p.what, p.v, errs[0])
		}
	}
	if info.Namespace != "" {
		if errs := validation.IsDNS1123Label(info.Namespace); len(errs) > 0 {
			return fmt.Errorf("namespace %q is not valid: %s", info.Namespace, errs[0])
		}
	}
	if info.Name != "" {
		if err := checkName("name", info.Name); err != nil {
			return err
		}
	}
	return nil
}

func checkName(what, name string) error {
	if name == "" {
		return fmt.Errorf("%s is empty", what)
	}
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return fmt.Errorf("%s %q cannot be used here: a name must be lower-case letters, digits, '-' and '.' (%s)", what, name, errs[0])
	}
	return nil
}

// Singular returns the singular of a Kubernetes resource's plural name:
// "policies" is "policy", "ingresses" "ingress", "classes" "class",
// "endpoints" "endpoint", "pods" "pod". A name already singular, such as
// "ingress", is returned as it is.
func Singular(plural string) string {
	switch {
	case plural == "endpoints":
		return "endpoint"
	case strings.HasSuffix(plural, "ies"):
		return strings.TrimSuffix(plural, "ies") + "y"
	case strings.HasSuffix(plural, "sses"), strings.HasSuffix(plural, "xes"),
		strings.HasSuffix(plural, "ches"), strings.HasSuffix(plural, "shes"):
		return strings.TrimSuffix(plural, "es")
	case strings.HasSuffix(plural, "ss"):
		return plural // "ingress", "class": singular already
	case strings.HasSuffix(plural, "s"):
		return strings.TrimSuffix(plural, "s")
	}
	return plural
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
