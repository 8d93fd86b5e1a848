package registryauth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/kstack/kstack/internal/auth/authn"
	"github.com/kstack/kstack/internal/controllers/businessnamespace"
	"github.com/kstack/kstack/internal/registry"
)

func TestParseScopes(t *testing.T) {
	got, err := parseScopes([]string{"repository:team/web:pull,push", "registry:catalog:* repository:a/b/c-d_e.f:delete", "repository(plugin):team/x:pull"})
	if err != nil {
		t.Fatal(err)
	}
	want := []scope{{"repository", "team/web", []string{"pull", "push"}}, {"registry", "catalog", []string{"*"}},
		{"repository", "a/b/c-d_e.f", []string{"delete"}}, {"repository(plugin)", "team/x", []string{"pull"}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v", got)
	}
	for _, bad := range []struct{ scope, want string }{
		{"repository", "two colons"},
		{"repository:team/web", "two colons"},
		{"repository::pull", "name is empty"},
		{"repository:team/web:", "names no action"},
		{"repository:team/web:pull,", "action \"\""},
		{"repository:team/web:Pull", "action \"Pull\""},
		{"Repository:team/web:pull", "the type must be"},
		{"repository:Team/web:pull", "invalid repository"},
		{"repository:team//web:pull", "invalid repository"},
		{"repository:team/web/:pull", "invalid repository"},
		{"repository:host:5000/team/web:pull", "invalid repository"},
		{"repository:" + strings.Repeat("a", 600) + ":pull", "longer than 512"},
	} {
		if _, err := parseScopes([]string{bad.scope}); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("scope %q: want an error with %q, got %v", bad.scope, bad.want, err)
		}
	}
	many := strings.Repeat("registry:catalog:* ", maxScopes+1)
	if _, err := parseScopes([]string{many}); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Errorf("too many scopes: %v", err)
	}
}

func TestBasicLogin(t *testing.T) {
	e := setup(t)
	a := e.get("alice", "alice-pw", "repository:priv/web:pull,push", "repository:priv/tools/cli:*", "registry:catalog:*")
	c, acc := e.access(a)
	if c.Subject != "default.alice" || c.Tenant != "default" || c.Project != "" {
		t.Fatalf("caller %+v", c)
	}
	want := map[string][]string{"repository:priv/web": {"pull", "push"}, "repository:priv/tools/cli": {"pull", "push", "delete"}, "registry:catalog": {"*"}}
	if !reflect.DeepEqual(acc, want) {
		t.Fatalf("access %v, want %v", acc, want)
	}
	cl := claimsOf(t, a.token.Token)
	if cl["aud"] != Audience || cl["iss"] != issuer || cl["sub"] != "default.alice" {
		t.Fatalf("claims %v", cl)
	}
	// docker login names no scope: a token with nothing in it.
	if _, acc := e.access(e.get("alice", "alice-pw")); len(acc) != 0 {
		t.Fatalf("login without scope granted %v", acc)
	}
	// The same with the tenant spelled out, and from another tenant.
	if c, _ := e.access(e.get("default.alice", "alice-pw")); c.Subject != "default.alice" {
		t.Fatalf("default.alice: %+v", c)
	}
	c, acc = e.access(e.get("t2.carol", "carol-pw", "repository:t2priv/web:pull,push,delete"))
	if c.Subject != "t2.carol" || !reflect.DeepEqual(acc["repository:t2priv/web"], []string{"pull", "push", "delete"}) {
		t.Fatalf("carol: %+v %v", c, acc)
	}
	// An access key as the password.
	c, acc = e.access(e.get("alice", "ksk_ak-alice_"+keySecret, "repository:priv/web:push"))
	if c.Subject != "default.alice" || !reflect.DeepEqual(acc["repository:priv/web"], []string{"push"}) {
		t.Fatalf("access key: %+v %v", c, acc)
	}
	// Users of a tenant behind an external OpenID provider use access keys.
	if c, _ := e.access(e.get("ext.gina", "ksk_ak-gina_"+keySecret)); c.Subject != "ext.gina" {
		t.Fatalf("gina: %+v", c)
	}
	// docker sends account=<username>.
	req := httptest.NewRequest(http.MethodGet, "/registry/token?service=kstack-registry&account=alice&offline_token=true&client_id=docker", nil)
	req.SetBasicAuth("alice", "alice-pw")
	e.access(e.do(req))
}

func TestAnonymous(t *testing.T) {
	e := setup(t)
	a := e.get("", "", "repository:pub/web:pull,push", "repository:priv/web:pull", "repository:t2priv/web:pull", "registry:catalog:*")
	c, acc := e.access(a)
	if c.Subject != "" || c.Tenant != "" {
		t.Fatalf("anonymous caller %+v", c)
	}
	want := map[string][]string{"repository:pub/web": {"pull"}, "registry:catalog": {"*"}}
	if !reflect.DeepEqual(acc, want) {
		t.Fatalf("anonymous access %v, want %v", acc, want)
	}
}

func TestOAuth2Form(t *testing.T) {
	e := setup(t)
	// As oras-go and helm send it: scopes joined by spaces in one field.
	a := e.post(url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice-pw"}, "service": {Audience},
		"client_id": {"oras-go"}, "scope": {"repository:priv/chart:pull,push registry:catalog:*"}})
	_, acc := e.access(a)
	if !reflect.DeepEqual(acc, map[string][]string{"repository:priv/chart": {"pull", "push"}, "registry:catalog": {"*"}}) {
		t.Fatalf("form grant %v", acc)
	}
	// A wrong password never turns into an anonymous token (helm would
	// take that as a successful login).
	a = e.post(url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"nope"}, "scope": {"repository:pub/web:pull"}})
	if a.code != http.StatusUnauthorized || a.errs[0].Message != "wrong username or password" {
		t.Fatalf("wrong password in the form: %d %s", a.code, a.body)
	}
	for _, tc := range []struct {
		form url.Values
		code int
		want string
	}{
		{url.Values{"grant_type": {"password"}, "username": {"alice"}}, 401, "needs both username and password"},
		{url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}}, 400, "issues no refresh tokens"},
		{url.Values{"username": {"alice"}, "password": {"alice-pw"}}, 400, "grant_type is missing"},
		{url.Values{"grant_type": {"client_credentials"}}, 400, "grant_type \"client_credentials\" is not supported"},
		{url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice-pw"}, "service": {"other"}}, 400, "serves \"kstack-registry\""},
		{url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice-pw"}, "scope": {"repository:priv:web:pull"}}, 400, "invalid repository"},
	} {
		a := e.post(tc.form)
		if a.code != tc.code || !strings.Contains(a.errs[0].Message, tc.want) {
			t.Errorf("form %v: want %d %q, got %d %s", tc.form, tc.code, tc.want, a.code, a.body)
		}
	}
	req := httptest.NewRequest(http.MethodPost, "/registry/token", strings.NewReader(`{"grant_type":"password"}`))
	req.Header.Set("Content-Type", "application/json")
	if a := e.do(req); a.code != 400 || !strings.Contains(a.errs[0].Message, "x-www-form-urlencoded") {
		t.Errorf("JSON body: %d %s", a.code, a.body)
	}
}

func TestRefusals(t *testing.T) {
	e := setup(t)
	for _, tc := range []struct {
		name, user, pass string
		code             int
		want             string
	}{
		{"wrong password", "alice", "nope", 401, "wrong username or password"},
		{"unknown user", "nobody", "nope", 401, "wrong username or password"},
		{"unknown tenant", "zz.alice", "alice-pw", 401, "wrong username or password"},
		{"two dots", "default.alice.x", "alice-pw", 401, "wrong username or password"},
		{"empty username", "", "alice-pw", 401, "username is empty"},
		{"locked", "locked", "whatever", 401, "locked after 5 failed logins"},
		{"external provider", "ext.gina", "a-password", 401, "use an access key as the password"},
		{"expired key", "alice", "ksk_ak-old_" + keySecret, 401, "expired at"},
		{"disabled key", "alice", "ksk_ak-off_" + keySecret, 401, "disabled"},
		{"unknown key", "alice", "ksk_ak-gone_" + keySecret, 401, "not known"},
		{"wrong key secret", "alice", "ksk_ak-alice_" + strings.Repeat("x", 40), 401, "not known"},
		{"someone else's key", "bob", "ksk_ak-alice_" + keySecret, 401, "this access key is not bob's"},
		{"key of another tenant", "alice", "ksk_ak-carol_" + keySecret, 401, "this access key is not alice's"},
		{"malformed pull password", "kstack-pull-prj-a", "kspull_nonsense", 401, "wrong username or password"},
		{"unknown pull credential", "kstack-pull-prj-z", "kspull_prj-z_" + strings.Repeat("0", 64), 401, "wrong username or password"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := "/registry/token?service=kstack-registry&scope=repository:pub/web:pull"
			req := httptest.NewRequest(http.MethodGet, q, nil)
			req.SetBasicAuth(tc.user, tc.pass)
			a := e.do(req)
			if a.code != tc.code || !strings.Contains(a.errs[0].Message, tc.want) {
				t.Fatalf("want %d %q, got %d %s", tc.code, tc.want, a.code, a.body)
			}
			if a.errs[0].Code != "UNAUTHORIZED" || a.header.Get("WWW-Authenticate") != `Basic realm="kstack-registry"` {
				t.Fatalf("code %q, challenge %q", a.errs[0].Code, a.header.Get("WWW-Authenticate"))
			}
			if strings.Contains(a.body, tc.pass) {
				t.Fatalf("the answer repeats the password: %s", a.body)
			}
		})
	}
	// The login page's words, exactly.
	if a := e.get("alice", "nope"); a.errs[0].Message != "wrong username or password" {
		t.Fatalf("message %q", a.errs[0].Message)
	}
	for _, tc := range []struct {
		name string
		req  func() *http.Request
		code int
		want string
	}{
		{"bearer header", func() *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/registry/token", nil)
			r.Header.Set("Authorization", "Bearer abc")
			return r
		}, 401, "HTTP Basic"},
		{"other service", func() *http.Request {
			return httptest.NewRequest(http.MethodGet, "/registry/token?service=docker.io", nil)
		}, 400, "not \"docker.io\""},
		{"bad scope", func() *http.Request {
			return httptest.NewRequest(http.MethodGet, "/registry/token?scope=repository:UP/web:pull", nil)
		}, 400, "invalid repository"},
		{"account mismatch", func() *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/registry/token?account=bob", nil)
			r.SetBasicAuth("alice", "alice-pw")
			return r
		}, 400, "not the username"},
		{"PUT", func() *http.Request { return httptest.NewRequest(http.MethodPut, "/registry/token", nil) }, 405, "GET"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := e.do(tc.req())
			if a.code != tc.code || !strings.Contains(a.errs[0].Message, tc.want) {
				t.Fatalf("want %d %q, got %d %s", tc.code, tc.want, a.code, a.body)
			}
		})
	}
	// A failure of the platform is not a wrong password.
	e.s.Passwords = func(context.Context, string, string, string) error { return context.DeadlineExceeded }
	if a := e.get("alice", "alice-pw"); a.code != http.StatusServiceUnavailable || !strings.Contains(a.errs[0].Message, "cannot check") {
		t.Fatalf("internal failure: %d %s", a.code, a.body)
	}
}

// TestInvisible: scopes the caller may not have are left out, and the
// answer is the same whether the namespace is missing, another tenant's
// or private.
func TestInvisible(t *testing.T) {
	e := setup(t)
	hidden := []string{"repository:priv/web:pull,push,delete", "repository:missing/web:pull,push", "repository:t2priv/web:pull,*",
		"repository:other/web:pull", "repository:lonely:pull", "registry:other:*", "repository(plugin):priv/web:pull", "repository:priv/web:fly"}
	var first string
	for _, who := range [][2]string{{"bob", "bob-pw"}, {"", ""}, {"t2.carol", "carol-pw"}} {
		scopes := hidden
		if who[0] == "t2.carol" {
			scopes = scopes[:2] // carol administers t2 and so sees t2priv
		}
		a := e.get(who[0], who[1], scopes...)
		if _, acc := e.access(a); len(acc) != 0 {
			t.Fatalf("%q was granted %v", who[0], acc)
		}
		got, err := json.Marshal(claimsOf(t, a.token.Token)["access"])
		if err != nil {
			t.Fatal(err)
		}
		if first == "" {
			first = string(got)
		} else if first != string(got) {
			t.Fatalf("the access lists differ: %s and %s", first, got)
		}
	}
	// frank is a member of prj-t2, which shares t2priv: only that, though
	// priv (default's) is shared with a project too.
	if _, acc := e.access(e.get("t2.frank", "frank-pw", hidden...)); !reflect.DeepEqual(acc, map[string][]string{"repository:t2priv/web": {"pull", "push", "delete"}}) {
		t.Fatalf("frank: %v", acc)
	}
	// Per user: alice (member of prj-a) gets priv but neither other (prj-b)
	// nor t2odd (t2's, though it names prj-a).
	_, acc := e.access(e.get("alice", "alice-pw", "repository:priv/web:pull", "repository:other/web:pull", "repository:t2odd/web:pull", "repository:t2priv/web:pull"))
	if !reflect.DeepEqual(acc, map[string][]string{"repository:priv/web": {"pull"}}) {
		t.Fatalf("alice: %v", acc)
	}
	// dave holds registrynamespace:* in his tenant: every default namespace, not t2's.
	_, acc = e.access(e.get("dave", "dave-pw", "repository:other/web:pull,push", "repository:t2priv/web:pull"))
	if !reflect.DeepEqual(acc, map[string][]string{"repository:other/web": {"pull", "push"}}) {
		t.Fatalf("dave: %v", acc)
	}
	// erin may pull priv/web only.
	_, acc = e.access(e.get("erin", "erin-pw", "repository:priv/web:pull,push", "repository:priv/api:pull"))
	if !reflect.DeepEqual(acc, map[string][]string{"repository:priv/web": {"pull"}}) {
		t.Fatalf("erin: %v", acc)
	}
	// carol administers t2, not default.
	_, acc = e.access(e.get("t2.carol", "carol-pw", "repository:priv/web:pull", "repository:t2priv/web:push"))
	if !reflect.DeepEqual(acc, map[string][]string{"repository:t2priv/web": {"push"}}) {
		t.Fatalf("carol: %v", acc)
	}
	// The platform's administrators administer every tenant.
	_, acc = e.access(e.get("root", "root-pw", "repository:t2priv/web:delete"))
	if !reflect.DeepEqual(acc, map[string][]string{"repository:t2priv/web": {"delete"}}) {
		t.Fatalf("root: %v", acc)
	}
}

func TestAllowed(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	caller := func(user, pass string) *registry.Caller {
		c, _ := e.access(e.get(user, pass))
		return c
	}
	alice, carol := caller("alice", "alice-pw"), caller("t2.carol", "carol-pw")
	for _, tc := range []struct {
		name string
		c    *registry.Caller
		ns   string
		want bool
	}{
		{"anonymous public", nil, "pub", true},
		{"anonymous private", nil, "priv", false},
		{"anonymous missing", nil, "missing", false},
		// alice's token names no namespace: Allowed decides afresh.
		{"alice shared", alice, "priv", true},
		{"alice not shared", alice, "other", false},
		{"alice public", alice, "pub", true},
		{"carol other tenant", carol, "priv", false},
		{"carol own", carol, "t2priv", true},
	} {
		if got := e.s.Allowed(ctx, tc.c, tc.ns, "pull"); got != tc.want {
			t.Errorf("%s: Allowed = %v", tc.name, got)
		}
	}
	if e.s.Allowed(ctx, alice, "priv", "fly") {
		t.Error("an unknown action was allowed")
	}
	// A forged caller of a user gone since gets what anyone gets.
	gone := &registry.Caller{Subject: "default.ghost", Tenant: "default"}
	if e.s.Allowed(ctx, gone, "priv", "pull") || !e.s.Allowed(ctx, gone, "pub", "pull") {
		t.Error("a deleted user's caller")
	}
}

// TestAudiences: a registry token is not a platform token, nor a platform
// token a registry token.
func TestAudiences(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	reg := e.get("alice", "alice-pw", "repository:priv/web:pull").token.Token
	// The gateway's authenticator, configured as the platform configures it.
	gw := &authn.Authenticator{Dir: e.s.Dir, Keys: e.keys, Issuer: issuer, Audiences: []string{"kstack-cli", "kstack-console"}}
	req := httptest.NewRequest(http.MethodGet, "/platform/apis", nil)
	req.Header.Set("Authorization", "Bearer "+reg)
	if p, err := gw.Authenticate(req); err == nil || !strings.Contains(err.Error(), "another audience") {
		t.Fatalf("the gateway took a registry token: %+v %v", p, err)
	}

	cur, err := e.keys.Current()
	if err != nil {
		t.Fatal(err)
	}
	now := e.clock()
	sign := func(key *rsa.PrivateKey, kid string, alg jose.SignatureAlgorithm, mod func(*tokenClaims)) string {
		c := tokenClaims{Claims: jwt.Claims{Issuer: issuer, Subject: "default.alice", Audience: jwt.Audience{Audience},
			Expiry: jwt.NewNumericDate(now.Add(5 * time.Minute)), IssuedAt: jwt.NewNumericDate(now)}, Tenant: "default"}
		if mod != nil {
			mod(&c)
		}
		var k any = key
		if alg == jose.HS256 {
			k = []byte("a-shared-secret-of-32-bytes-long")
		}
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: k}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
		if err != nil {
			t.Fatal(err)
		}
		tok, err := jwt.Signed(s).Claims(c).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	if _, err := e.s.Verify(ctx, sign(cur.Private, cur.ID, jose.RS256, nil)); err != nil {
		t.Fatalf("a good token: %v", err)
	}
	for _, tc := range []struct{ name, tok, want string }{
		{"platform access token", sign(cur.Private, cur.ID, jose.RS256, func(c *tokenClaims) { c.Audience = jwt.Audience{"kstack-cli"}; c.ID = "ses-1" }), "not the registry's"},
		{"two audiences", sign(cur.Private, cur.ID, jose.RS256, func(c *tokenClaims) { c.Audience = jwt.Audience{Audience, "kstack-cli"} }), "not the registry's"},
		{"expired", sign(cur.Private, cur.ID, jose.RS256, func(c *tokenClaims) { c.Expiry = jwt.NewNumericDate(now.Add(-time.Minute)) }), "expired"},
		{"no expiry", sign(cur.Private, cur.ID, jose.RS256, func(c *tokenClaims) { c.Expiry = nil }), "no expiry"},
		{"other issuer", sign(cur.Private, cur.ID, jose.RS256, func(c *tokenClaims) { c.Issuer = "https://evil.example" }), "issued by"},
		{"unknown key", sign(other, "nope", jose.RS256, nil), "does not know"},
		{"wrong key", sign(other, cur.ID, jose.RS256, nil), "does not verify"},
		{"HS256", sign(nil, cur.ID, jose.HS256, nil), "RS256"},
		{"subject of another tenant", sign(cur.Private, cur.ID, jose.RS256, func(c *tokenClaims) { c.Tenant = "t2" }), "disagree"},
		{"pull subject without project", sign(cur.Private, cur.ID, jose.RS256, func(c *tokenClaims) { c.Project = "prj-b" }), "disagree"},
		{"garbage", "not.a.token", "cannot be parsed"},
	} {
		if _, err := e.s.Verify(ctx, tc.tok); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: want an error with %q, got %v", tc.name, tc.want, err)
		}
	}
	// A small leeway for clocks apart.
	if _, err := e.s.Verify(ctx, sign(cur.Private, cur.ID, jose.RS256, func(c *tokenClaims) { c.Expiry = jwt.NewNumericDate(now.Add(-10 * time.Second)) })); err != nil {
		t.Fatalf("within leeway: %v", err)
	}
}

// TestLabelsAgree: the business namespace controller watches the labels
// that the pull credentials' Secrets carry.
func TestLabelsAgree(t *testing.T) {
	if LabelManagedBy != businessnamespace.LabelManagedBy || PullControllerName != businessnamespace.PullCredentialManagedBy {
		t.Fatal("registryauth and businessnamespace disagree on the pull credentials' labels")
	}
}
