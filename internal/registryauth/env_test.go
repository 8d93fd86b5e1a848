package registryauth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	k8sfake "k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	authv1 "github.com/kstack/kstack/api/auth/v1"
	businessv1 "github.com/kstack/kstack/api/business/v1"
	registryv1 "github.com/kstack/kstack/api/registry/v1"
	"github.com/kstack/kstack/internal/auth/authn"
	"github.com/kstack/kstack/internal/auth/decision"
	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/auth/oidcprovider"
	"github.com/kstack/kstack/internal/auth/signing"
	"github.com/kstack/kstack/internal/registry"
)

const (
	issuer = "https://kstack.test:8443/oidc"
	sysNS  = "kstack-system"
)

var keySecret = strings.Repeat("k", 40)

// env is a small platform: tenants default and t2 (and ext, which logs in
// through an external OpenID provider), projects, registry namespaces,
// users with passwords and access keys.
type env struct {
	t     *testing.T
	c     client.Client
	s     *Service
	pulls *PullCredentials
	keys  *signing.Keys

	mu  sync.Mutex
	now time.Time
}

func (e *env) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *env) advance(d time.Duration) {
	e.mu.Lock()
	e.now = e.now.Add(d)
	e.mu.Unlock()
}

func user(tenant, name string) *authv1.User {
	return &authv1.User{ObjectMeta: metav1.ObjectMeta{Name: authv1.ObjectName(tenant, name), Labels: map[string]string{authv1.LabelTenant: tenant}},
		Spec: authv1.UserSpec{TenantID: tenant, Username: name}}
}

func binding(tenant, name, policy, project string, users ...string) *authv1.PolicyBinding {
	return &authv1.PolicyBinding{ObjectMeta: metav1.ObjectMeta{Name: tenant + "." + name, Labels: map[string]string{authv1.LabelTenant: tenant}},
		Spec: authv1.PolicyBindingSpec{TenantID: tenant, PolicyName: policy, Users: users, ProjectID: project}}
}

func rns(name, tenant string, vis registryv1.Visibility, projects ...string) *registryv1.RegistryNamespace {
	return &registryv1.RegistryNamespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{authv1.LabelTenant: tenant}},
		Spec: registryv1.RegistryNamespaceSpec{TenantID: tenant, Visibility: vis, Projects: projects}}
}

func project(name, tenant string) *businessv1.Project {
	return &businessv1.Project{ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("uid-" + name), Labels: map[string]string{authv1.LabelTenant: tenant}},
		Spec: businessv1.ProjectSpec{TenantID: tenant, DisplayName: name}}
}

func apiKey(name, tenant, username string, expires time.Time, disabled bool) *authv1.APIKey {
	return &authv1.APIKey{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{authv1.LabelTenant: tenant}},
		Spec: authv1.APIKeySpec{TenantID: tenant, Username: username, ExpiresAt: metav1.NewTime(expires), Disabled: disabled, SecretHash: authn.HashSecret(keySecret)}}
}

func scheme(t *testing.T) *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, authv1.AddToScheme, businessv1.AddToScheme, registryv1.AddToScheme} {
		if err := add(s); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func setup(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, now: time.Now().UTC().Truncate(time.Second)}
	objs := []client.Object{
		// The registry's rights as the predefined policies will hold them.
		&authv1.Policy{ObjectMeta: metav1.ObjectMeta{Name: "reg-member", Labels: map[string]string{authv1.LabelTenant: directory.SharedTenantLabel}},
			Spec: authv1.PolicySpec{Scope: authv1.ScopeProject, Statements: []authv1.Statement{{Effect: "allow", Actions: []string{"*"}, Resources: []string{"registrynamespace:*/repository:*"}}}}},
		&authv1.Policy{ObjectMeta: metav1.ObjectMeta{Name: "reg-user", Labels: map[string]string{authv1.LabelTenant: directory.SharedTenantLabel}},
			Spec: authv1.PolicySpec{Scope: authv1.ScopePlatform, Statements: []authv1.Statement{{Effect: "allow", Actions: []string{"*"}, Resources: []string{"registrynamespace:*"}}}}},
		&authv1.Policy{ObjectMeta: metav1.ObjectMeta{Name: "reg-puller", Labels: map[string]string{authv1.LabelTenant: directory.SharedTenantLabel}},
			Spec: authv1.PolicySpec{Scope: authv1.ScopePlatform, Statements: []authv1.Statement{{Effect: "allow", Actions: []string{"pullRepository"}, Resources: []string{"registrynamespace:priv/repository:web"}}}}},
		&authv1.Policy{ObjectMeta: metav1.ObjectMeta{Name: directory.PolicyAdministrator, Labels: map[string]string{authv1.LabelTenant: directory.SharedTenantLabel}},
			Spec: authv1.PolicySpec{Scope: authv1.ScopePlatform, Statements: []authv1.Statement{{Effect: "allow", Actions: []string{"*"}, Resources: []string{"*"}}}}},
		user("default", "alice"), user("default", "bob"), user("default", "dave"), user("default", "erin"), user("default", "root"),
		user("default", "locked"), user("t2", "carol"), user("t2", "frank"), user("ext", "gina"),
		binding("default", "alice", "reg-member", "prj-a", "alice"),
		binding("default", "dave", "reg-user", "", "dave"),
		binding("default", "erin", "reg-puller", "", "erin"),
		binding("default", "root", directory.PolicyAdministrator, "", "root"),
		binding("t2", "carol", directory.PolicyAdministrator, "", "carol"),
		binding("t2", "frank", "reg-member", "prj-t2", "frank"),
		rns("pub", "default", registryv1.Public),
		rns("priv", "default", registryv1.Private, "prj-a"),
		rns("other", "default", registryv1.Private, "prj-b"),
		rns("t2priv", "t2", registryv1.Private, "prj-t2"),
		// A namespace of t2 that names default's project: its pull
		// credential must still get nothing (the tenants differ).
		rns("t2odd", "t2", registryv1.Private, "prj-a"),
		project("prj-a", "default"), project("prj-b", "default"), project("prj-t2", "t2"),
		apiKey("ak-alice", "default", "alice", e.now.Add(time.Hour), false),
		apiKey("ak-carol", "t2", "carol", e.now.Add(time.Hour), false),
		apiKey("ak-gina", "ext", "gina", e.now.Add(time.Hour), false),
		apiKey("ak-old", "default", "alice", e.now.Add(-time.Minute), false),
		apiKey("ak-off", "default", "alice", e.now.Add(time.Hour), true),
		&authv1.IdentityProvider{ObjectMeta: metav1.ObjectMeta{Name: "ext"}, Spec: authv1.IdentityProviderSpec{Type: authv1.IdentityProviderOIDC}},
	}
	e.c = fake.NewClientBuilder().WithScheme(scheme(t)).WithObjects(objs...).Build()
	e.keys = &signing.Keys{Client: k8sfake.NewClientset(), Namespace: sysNS, RotateAfter: time.Hour, Retain: time.Hour}
	if err := e.keys.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	dir := &directory.Directory{Client: e.c}
	passwords := map[string]string{"default.alice": "alice-pw", "default.bob": "bob-pw", "default.dave": "dave-pw",
		"default.erin": "erin-pw", "default.root": "root-pw", "t2.carol": "carol-pw", "t2.frank": "frank-pw"}
	e.s = &Service{
		Keys: e.keys, Issuer: issuer, Client: e.c, Reader: e.c,
		Decider: &decision.Decider{Dir: dir}, Dir: dir,
		Authn: &authn.Authenticator{Dir: dir, Keys: e.keys, Issuer: issuer, Audiences: []string{"kstack-cli", "kstack-console"}, Now: e.clock},
		Passwords: func(_ context.Context, tenant, username, password string) error {
			if tenant+"."+username == "default.locked" {
				return &oidcprovider.LoginError{Msg: "this account is locked after 5 failed logins until 12:00:00 UTC: try again later or ask an administrator"}
			}
			if pw, ok := passwords[tenant+"."+username]; ok && pw == password {
				return nil
			}
			return &oidcprovider.LoginError{Msg: "wrong username or password"}
		},
		SystemNamespace: sysNS, Now: e.clock,
	}
	e.pulls = &PullCredentials{Client: e.c, SystemNamespace: sysNS, Rotation: 24 * time.Hour, Grace: time.Hour, Now: e.clock}
	return e
}

// answer is a token endpoint's response.
type answer struct {
	code   int
	header http.Header
	body   string
	token  tokenResponse
	errs   []struct{ Code, Message string }
}

func (e *env) do(req *http.Request) answer {
	e.t.Helper()
	rec := httptest.NewRecorder()
	e.s.ServeToken(rec, req)
	a := answer{code: rec.Code, header: rec.Header(), body: rec.Body.String()}
	if rec.Code == http.StatusOK {
		if err := json.Unmarshal(rec.Body.Bytes(), &a.token); err != nil {
			e.t.Fatalf("token response %q: %v", a.body, err)
		}
	} else {
		var body struct {
			Errors []struct{ Code, Message string } `json:"errors"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || len(body.Errors) != 1 {
			e.t.Fatalf("error response %d %q is not the registry's error JSON (%v)", rec.Code, a.body, err)
		}
		a.errs = body.Errors
	}
	return a
}

// get asks for a token with HTTP Basic (user "" = anonymous).
func (e *env) get(user, pass string, scopes ...string) answer {
	q := url.Values{"service": {Audience}}
	for _, s := range scopes {
		q.Add("scope", s)
	}
	req := httptest.NewRequest(http.MethodGet, "/registry/token?"+q.Encode(), nil)
	if user != "" || pass != "" {
		req.SetBasicAuth(user, pass)
	}
	return e.do(req)
}

func (e *env) post(form url.Values) answer {
	req := httptest.NewRequest(http.MethodPost, "/registry/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return e.do(req)
}

// access verifies an answer's token and returns its grants.
func (e *env) access(a answer) (*registry.Caller, map[string][]string) {
	e.t.Helper()
	if a.code != http.StatusOK {
		e.t.Fatalf("want a token, got %d %s", a.code, a.body)
	}
	if a.token.Token == "" || a.token.Token != a.token.AccessToken || a.token.ExpiresIn != 300 || a.token.IssuedAt == "" {
		e.t.Fatalf("token response fields: %+v", a.token)
	}
	c, err := e.s.Verify(context.Background(), a.token.Token)
	if err != nil {
		e.t.Fatalf("verifying the issued token: %v", err)
	}
	out := map[string][]string{}
	for _, ac := range c.Access {
		out[ac.Type+":"+ac.Name] = ac.Actions
	}
	return c, out
}

// claimsOf decodes a token's payload without verifying it.
func claimsOf(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
