package registry

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"

	"github.com/distribution/distribution/v3/registry/auth"
)

// Access is one grant of a registry token (Docker token spec).
type Access struct {
	Type    string   `json:"type"`    // "repository" or "registry"
	Name    string   `json:"name"`    // "ns/repo" or "catalog"
	Actions []string `json:"actions"` // "pull", "push", "delete", "*"
}

// Caller is whom a verified registry token was issued to.
type Caller struct {
	Subject string // "<tenant>.<user>", "pull.<project>", "" anonymous
	Tenant  string
	Project string // pull credentials only
	Access  []Access
}

// Auth is what the registry asks of the token service
// (registryauth.Service implements it).
type Auth interface {
	// Verify checks a registry token: RS256, a key the platform knows,
	// audience exactly "kstack-registry", issuer, expiry. An error's
	// message says what is wrong.
	Verify(ctx context.Context, token string) (*Caller, error)
	// Allowed: may c (nil: anonymous) do action ("pull") in namespace ns?
	Allowed(ctx context.Context, c *Caller, ns, action string) bool
	// Namespaces lists, sorted, the namespaces c (nil: anonymous) may
	// pull from: the catalogue walks those alone.
	Namespaces(ctx context.Context, c *Caller) []string
}

// grants reports whether the token grants action on the resource.
func (c *Caller) grants(typ, name, action string) bool {
	if c == nil {
		return false
	}
	for _, a := range c.Access {
		if a.Type == typ && (a.Name == name || c == internalCaller) && (slices.Contains(a.Actions, action) || slices.Contains(a.Actions, "*")) {
			return true
		}
	}
	return false
}

// accessController is distribution's auth.AccessController for registry
// tokens: it never looks at storage, so its answer cannot tell a missing
// repository from one the caller may not see.
type accessController struct{ r *Registry }

func (ac *accessController) Authorized(req *http.Request, accesses ...auth.Access) (*auth.Grant, error) {
	c, ch := ac.r.authenticate(req, accesses)
	if ch != nil {
		return nil, ch
	}
	if st := stateFrom(req.Context()); st != nil {
		st.setAuthorized()
	}
	g := &auth.Grant{User: auth.UserInfo{Name: c.Subject}}
	for _, a := range accesses {
		g.Resources = append(g.Resources, a.Resource)
	}
	return g, nil
}

// authenticate verifies the request's Bearer token and checks it grants
// every access; the challenge says what is missing.
func (r *Registry) authenticate(req *http.Request, accesses []auth.Access) (*Caller, *challenge) {
	if internal, _ := req.Context().Value(internalKey{}).(bool); internal {
		return internalCaller, nil
	}
	ch := &challenge{realm: r.cfg.Realm, service: r.cfg.Service, accesses: accesses}
	tok, ok := bearerToken(req)
	if !ok {
		ch.message = fmt.Sprintf("authentication required: log in (docker login %s) or get a token from %s", req.Host, r.cfg.Realm)
		if s := ch.scope(); s != "" {
			ch.message += " for scope " + s
		}
		return nil, ch.with(req)
	}
	c, err := r.cfg.Auth.Verify(req.Context(), tok)
	if err != nil || c == nil {
		msg := "the token was refused"
		if err != nil {
			msg = err.Error()
		}
		ch.errorParam = "invalid_token"
		ch.message = fmt.Sprintf("invalid token: %s; get a new one from %s", msg, r.cfg.Realm)
		return nil, ch.with(req)
	}
	var missing []string
	for _, a := range accesses {
		if !c.grants(a.Type, a.Name, a.Action) {
			missing = append(missing, fmt.Sprintf("%s on %s %s (scope %s:%s:%s)", a.Action, a.Type, a.Name, a.Type, a.Name, a.Action))
			ch.missing = append(ch.missing, a)
		}
	}
	if len(missing) > 0 {
		ch.errorParam = "insufficient_scope"
		// The same words whether the repository exists, is missing, or is
		// another tenant's private one.
		ch.message = "insufficient scope: the token does not grant " + strings.Join(missing, "; ") +
			"; the repository may not exist, or this login may not do that there"
		return nil, ch.with(req)
	}
	return c, nil
}

func bearerToken(req *http.Request) (string, bool) {
	h := req.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "bearer") || strings.TrimSpace(tok) == "" {
		return "", false
	}
	return strings.TrimSpace(tok), true
}

// challenge is distribution's auth.Challenge: a 401 with a Bearer
// WWW-Authenticate header. Its body (distribution writes a generic one) is
// replaced with the message through the request's response override.
type challenge struct {
	realm, service string
	accesses       []auth.Access
	missing        []auth.Access
	errorParam     string // "", "invalid_token", "insufficient_scope"
	message        string
}

func (ch *challenge) with(req *http.Request) *challenge {
	if st := stateFrom(req.Context()); st != nil {
		st.refuse(ch.message, ch.detail())
	}
	return ch
}

func (ch *challenge) Error() string { return ch.message }

// scope lists the requested accesses as the token endpoint's scope
// parameter: "repository:ns/app:pull,push registry:catalog:*".
func (ch *challenge) scope() string {
	var order []string
	actions := map[string][]string{}
	for _, a := range ch.accesses {
		k := a.Type + ":" + a.Name
		if _, ok := actions[k]; !ok {
			order = append(order, k)
		}
		if !slices.Contains(actions[k], a.Action) {
			actions[k] = append(actions[k], a.Action)
		}
	}
	parts := make([]string, 0, len(order))
	for _, k := range order {
		parts = append(parts, k+":"+strings.Join(actions[k], ","))
	}
	return strings.Join(parts, " ")
}

func (ch *challenge) detail() any {
	list := ch.missing
	if len(list) == 0 {
		list = ch.accesses
	}
	if len(list) == 0 {
		return nil
	}
	out := make([]map[string]string, 0, len(list))
	for _, a := range list {
		out = append(out, map[string]string{"type": a.Type, "name": a.Name, "action": a.Action})
	}
	return out
}

func (ch *challenge) SetHeaders(_ *http.Request, w http.ResponseWriter) {
	v := fmt.Sprintf("Bearer realm=%q,service=%q", ch.realm, ch.service)
	if s := ch.scope(); s != "" {
		v += fmt.Sprintf(",scope=%q", s)
	}
	if ch.errorParam != "" {
		v += fmt.Sprintf(",error=%q", ch.errorParam)
	}
	w.Header().Set("WWW-Authenticate", v)
}

// internalKey marks a request the platform itself serves in this process
// (Internal): a context value, which no request from the network carries.
type internalKey struct{}

// internalCaller is the platform itself: chart imports copy into chart
// groups, and the chart API reads chart contents.
var internalCaller = &Caller{Subject: "kstack-system", Access: []Access{{Type: "repository", Name: "*", Actions: []string{"*"}}}}

// Internal is a transport that serves requests in this process, as the
// platform itself, with every right on every repository. Its responses are
// buffered: it is for charts and manifests, not for large layers.
func (r *Registry) Internal() http.RoundTripper { return internalTransport{r} }

type internalTransport struct{ r *Registry }

func (t internalTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(context.WithValue(req.Context(), internalKey{}, true))
	if req.Body == nil {
		req.Body = http.NoBody
	}
	rec := httptest.NewRecorder()
	t.r.handler.ServeHTTP(rec, req)
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}
