// Package registryauth is the token service of the platform's image
// registry (the Docker registry token protocol): it checks registry
// logins (passwords through the login page's check, access keys, and the
// projects' pull credentials), grants what the one decision point allows,
// and signs short-lived tokens whose audience is the registry alone. It
// also keeps the projects' pull credentials.
package registryauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1 "github.com/kstack/kstack/api/auth/v1"
	businessv1 "github.com/kstack/kstack/api/business/v1"
	"github.com/kstack/kstack/internal/auth/account"
	"github.com/kstack/kstack/internal/auth/authn"
	"github.com/kstack/kstack/internal/auth/decision"
	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/auth/oidcprovider"
	"github.com/kstack/kstack/internal/auth/signing"
	"github.com/kstack/kstack/internal/randomid"
	"github.com/kstack/kstack/internal/registry"
)

// Audience is the audience of registry tokens, and the service name that
// the registry's challenge names.
const Audience = "kstack-registry"

// TokenTTL is how long a registry token lives; clients fetch a new one
// per operation and on expiry.
const TokenTTL = 5 * time.Minute

// leeway allows for clocks a little apart between replicas.
const leeway = 30 * time.Second

// Service is the token service.
type Service struct {
	Keys *signing.Keys
	// Issuer is the platform's issuer URL: registry tokens name it.
	Issuer string
	// Client reads RegistryNamespaces, Projects and the pull credentials'
	// Secrets (in SystemNamespace) from the cache; Reader past it.
	Client  client.Client
	Reader  client.Reader
	Decider *decision.Decider
	Dir     *directory.Directory
	// Authn checks access keys.
	Authn *authn.Authenticator
	// Passwords checks a password as the login page does (LDAP, local
	// users, the lockout): nil error when good; an *oidcprovider.LoginError's
	// message is shown to the client.
	Passwords       func(ctx context.Context, tenant, username, password string) error
	SystemNamespace string
	Now             func() time.Time
	Log             *slog.Logger
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// refusal is a token request refused, with the message the client shows.
type refusal struct {
	status int    // 401 unless set
	code   string // UNAUTHORIZED unless set
	msg    string
}

func (r *refusal) Error() string { return r.msg }

// errBadCredentials says the same as the login page, whichever part was wrong.
var errBadCredentials = &refusal{msg: "wrong username or password"}

func badRequest(code, format string, a ...any) *refusal {
	return &refusal{status: http.StatusBadRequest, code: code, msg: fmt.Sprintf(format, a...)}
}

// identity is whom a token is being issued to.
type identity struct {
	principal *directory.Principal // users
	project   string               // pull credentials
	tenant    string
}

func (id *identity) subject() string {
	switch {
	case id == nil:
		return ""
	case id.principal != nil:
		return authv1.ObjectName(id.principal.Tenant, id.principal.Username)
	case id.project != "":
		return "pull." + id.project
	}
	return ""
}

// tokenResponse is the Docker token spec's answer (token and access_token
// are the same, for both kinds of clients).
type tokenResponse struct {
	Token       string `json:"token"`
	AccessToken string `json:"access_token"`
	ExpiresIn   int    `json:"expires_in"`
	IssuedAt    string `json:"issued_at"`
}

// ServeToken answers GET /registry/token (docker, skopeo, containerd,
// oras without OAuth2: HTTP Basic or anonymous) and POST /registry/token
// (the OAuth2 password grant that helm registry login and oras use).
func (s *Service) ServeToken(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	var err error
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		err = s.serveGet(w, r)
	case http.MethodPost:
		err = s.servePost(w, r)
	default:
		w.Header().Set("Allow", "GET, POST")
		err = &refusal{status: http.StatusMethodNotAllowed, code: "UNSUPPORTED", msg: "the token endpoint takes GET (HTTP Basic or anonymous) or POST (OAuth2 form, grant_type=password)"}
	}
	if err != nil {
		s.fail(w, r, err)
	}
}

func (s *Service) serveGet(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	user, pass, basic := r.BasicAuth()
	if !basic && r.Header.Get("Authorization") != "" {
		return &refusal{msg: "the token endpoint takes HTTP Basic credentials (a username with a password or an access key), or none for anonymous pulls"}
	}
	if basic && user == "" {
		return &refusal{msg: "the username is empty: log in with your username (or <tenant>.<username>) and a password or access key"}
	}
	if a := q.Get("account"); basic && a != "" && a != user {
		return badRequest("UNSUPPORTED", "the account parameter %q is not the username %q of the credentials", clip(a), clip(user))
	}
	return s.issue(w, r, q.Get("service"), q["scope"], basic, user, pass)
}

func (s *Service) servePost(w http.ResponseWriter, r *http.Request) error {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/x-www-form-urlencoded" {
		return badRequest("UNSUPPORTED", "POST the token request as application/x-www-form-urlencoded (grant_type=password with username and password), or use GET with HTTP Basic")
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		return badRequest("UNSUPPORTED", "the token request's form cannot be read (%v)", err)
	}
	f := r.PostForm
	switch gt := f.Get("grant_type"); gt {
	case "password":
		user, pass := f.Get("username"), f.Get("password")
		if user == "" || pass == "" {
			return &refusal{msg: "grant_type=password needs both username and password"}
		}
		return s.issue(w, r, f.Get("service"), f["scope"], true, user, pass)
	case "refresh_token":
		// No refresh token is ever issued, so a client holding one got it
		// elsewhere; clients log in with the password or access key again.
		return badRequest("UNSUPPORTED", "this registry issues no refresh tokens: log in again with a username and a password or access key (grant_type=password)")
	case "":
		return badRequest("UNSUPPORTED", "grant_type is missing: use grant_type=password with username and password")
	default:
		return badRequest("UNSUPPORTED", "grant_type %q is not supported: use grant_type=password", clip(gt))
	}
}

// issue authenticates (when credentials came), grants and signs.
func (s *Service) issue(w http.ResponseWriter, r *http.Request, service string, rawScopes []string, credentials bool, user, pass string) error {
	ctx := r.Context()
	if service != "" && service != Audience {
		return badRequest("UNSUPPORTED", "this token service serves %q, not %q", Audience, clip(service))
	}
	scopes, err := parseScopes(rawScopes)
	if err != nil {
		return badRequest("UNSUPPORTED", "%s", err.Error())
	}
	var id *identity
	if credentials {
		if id, err = s.authenticate(ctx, user, pass); err != nil {
			return err
		}
	}
	access := s.grant(ctx, id, scopes)
	now := s.now()
	tok, err := s.sign(id, access, now)
	if err != nil {
		return err
	}
	s.log().Debug("registry token issued", "subject", id.subject(), "requested", len(scopes), "granted", len(access))
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(tokenResponse{Token: tok, AccessToken: tok, ExpiresIn: int(TokenTTL / time.Second), IssuedAt: now.UTC().Format(time.RFC3339)})
}

// fail answers a refused or failed request; credentials never reach the log.
func (s *Service) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ref *refusal
	if !errors.As(err, &ref) {
		s.log().Error("registry token request failed", "err", err)
		ref = &refusal{status: http.StatusServiceUnavailable, code: "UNAVAILABLE", msg: "the platform cannot check registry credentials now; try again shortly"}
	}
	status, code := ref.status, ref.code
	if status == 0 {
		status = http.StatusUnauthorized
	}
	if code == "" {
		code = "UNAUTHORIZED"
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="`+Audience+`"`)
		user, _, _ := r.BasicAuth()
		if user == "" && r.Method == http.MethodPost {
			user = r.PostForm.Get("username")
		}
		s.log().Info("registry login refused", "username", clip(user), "reason", ref.msg)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	type entry struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // messages quote <tenant>.<username> and are read by people
	_ = enc.Encode(struct {
		Errors []entry `json:"errors"`
	}{[]entry{{Code: code, Message: ref.msg}}})
}

// authenticate finds who the credentials are: a pull credential (its
// password says so), a user with an access key, or a user with a password.
func (s *Service) authenticate(ctx context.Context, username, password string) (*identity, error) {
	if len(username) > 300 || len(password) > 1024 || password == "" {
		return nil, errBadCredentials
	}
	if strings.HasPrefix(password, PullPasswordPrefix) {
		return s.pullLogin(ctx, username, password)
	}
	tenant, user, ok := strings.Cut(username, ".")
	if !ok {
		tenant, user = authv1.DefaultTenant, username
	}
	if user == "" || tenant == "" || strings.Contains(user, ".") {
		return nil, errBadCredentials
	}
	if strings.HasPrefix(password, authn.APIKeyPrefix) {
		if s.Authn == nil {
			return nil, errors.New("registryauth: Service.Authn is not set")
		}
		p, err := s.Authn.Token(ctx, password)
		var ae *authn.Error
		switch {
		case errors.As(err, &ae):
			return nil, &refusal{msg: ae.Msg}
		case err != nil:
			return nil, err
		case p.Method != "apikey":
			// Token takes other bearer credentials too; only access keys are passwords here.
			return nil, errBadCredentials
		case p.Tenant != tenant || p.Username != user:
			return nil, &refusal{msg: fmt.Sprintf("this access key is not %s's: log in with the username of the key's owner (<tenant>.<username> outside the default tenant)", clip(username))}
		}
		return &identity{principal: p, tenant: p.Tenant}, nil
	}
	if account.ValidateTenant(tenant) != nil && tenant != authv1.DefaultTenant {
		return nil, errBadCredentials
	}
	var idp authv1.IdentityProvider
	err := s.Client.Get(ctx, client.ObjectKey{Name: tenant}, &idp)
	switch {
	case err == nil && idp.Spec.Type == authv1.IdentityProviderOIDC:
		return nil, &refusal{msg: fmt.Sprintf("tenant %s logs in through an external OpenID provider, which gives the registry no password to check: use an access key as the password (kstack apikey create)", tenant)}
	case err != nil && !apierrors.IsNotFound(err):
		return nil, err
	}
	if s.Passwords == nil {
		return nil, errors.New("registryauth: Service.Passwords is not set")
	}
	if err := s.Passwords(ctx, tenant, user, password); err != nil {
		var le *oidcprovider.LoginError
		if errors.As(err, &le) {
			return nil, &refusal{msg: le.Msg}
		}
		return nil, err
	}
	u, err := s.Dir.User(ctx, tenant, user)
	if err != nil {
		return nil, fmt.Errorf("reading user %s of tenant %s after their login: %w", user, tenant, err)
	}
	if u.Spec.Disabled {
		return nil, &refusal{msg: "this account is disabled: ask an administrator"}
	}
	p, err := s.Dir.Principal(ctx, u, "password", "")
	if err != nil {
		return nil, err
	}
	return &identity{principal: p, tenant: p.Tenant}, nil
}

func (s *Service) pullLogin(ctx context.Context, username, password string) (*identity, error) {
	project, ok := parsePullPassword(password)
	if !ok {
		return nil, errBadCredentials
	}
	if username != PullUsername(project) {
		return nil, &refusal{msg: fmt.Sprintf("a pull credential's username is %s%s, as in the pull secret", PullUsernamePrefix, project)}
	}
	if err := checkPull(ctx, s.Client, s.Reader, s.SystemNamespace, project, password, s.now()); err != nil {
		return nil, err
	}
	var prj businessv1.Project
	if err := s.Client.Get(ctx, client.ObjectKey{Name: project}, &prj); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, errBadCredentials // the project went; its Secret goes with it
		}
		return nil, err
	}
	if prj.DeletionTimestamp != nil {
		return nil, errBadCredentials
	}
	return &identity{project: project, tenant: tenantOr(prj.Spec.TenantID, prj.Labels)}, nil
}

func tenantOr(spec string, labels map[string]string) string {
	if spec != "" {
		return spec
	}
	if t := labels[authv1.LabelTenant]; t != "" {
		return t
	}
	return authv1.DefaultTenant
}

// tokenClaims are a registry token's claims: the Docker token spec's
// access list, and who it was issued to.
type tokenClaims struct {
	jwt.Claims
	Access  []registry.Access `json:"access"`
	Tenant  string            `json:"tenant,omitempty"`
	Project string            `json:"project,omitempty"`
}

func (s *Service) sign(id *identity, access []registry.Access, now time.Time) (string, error) {
	key, err := s.Keys.Current()
	if err != nil {
		return "", err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key.Private},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", key.ID))
	if err != nil {
		return "", err
	}
	if access == nil {
		access = []registry.Access{}
	}
	c := tokenClaims{
		Claims: jwt.Claims{Issuer: s.Issuer, Subject: id.subject(), Audience: jwt.Audience{Audience},
			Expiry: jwt.NewNumericDate(now.Add(TokenTTL)), NotBefore: jwt.NewNumericDate(now), IssuedAt: jwt.NewNumericDate(now),
			ID: randomid.New("rt-", 16)},
		Access: access,
	}
	if id != nil {
		c.Tenant, c.Project = id.tenant, id.project
	}
	return jwt.Signed(signer).Claims(c).Serialize()
}

// Verify checks a registry token: RS256 with one signature by a key the
// platform knows, audience exactly kstack-registry, this platform's
// issuer, not expired. Errors say what is wrong.
func (s *Service) Verify(_ context.Context, tok string) (*registry.Caller, error) {
	parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return nil, errors.New("the registry token cannot be parsed or uses an algorithm other than RS256: fetch a new one from the token endpoint")
	}
	if len(parsed.Headers) != 1 {
		return nil, errors.New("the registry token must have exactly one signature")
	}
	pub, ok := s.Keys.Public(parsed.Headers[0].KeyID)
	if !ok {
		return nil, errors.New("the registry token is signed by a key the platform does not know")
	}
	var c tokenClaims
	if err := parsed.Claims(pub, &c); err != nil {
		return nil, errors.New("the registry token's signature does not verify")
	}
	if len(c.Audience) != 1 || c.Audience[0] != Audience {
		return nil, fmt.Errorf("the token is for audience %v, not the registry's (%s): platform tokens are not registry tokens; log in to the registry (docker login)", []string(c.Audience), Audience)
	}
	if c.Expiry == nil {
		return nil, errors.New("the registry token has no expiry")
	}
	err = c.Claims.ValidateWithLeeway(jwt.Expected{Issuer: s.Issuer, Time: s.now()}, leeway)
	switch {
	case errors.Is(err, jwt.ErrExpired):
		return nil, errors.New("the registry token has expired: fetch a new one from the token endpoint")
	case errors.Is(err, jwt.ErrInvalidIssuer):
		return nil, fmt.Errorf("the registry token was issued by %q, not by this platform", c.Issuer)
	case err != nil:
		return nil, fmt.Errorf("the registry token is not valid: %v", err)
	}
	caller := &registry.Caller{Subject: c.Subject, Tenant: c.Tenant, Project: c.Project, Access: c.Access}
	// The project claim, not the subject's spelling, marks a pull
	// credential: "pull" is also a valid tenant ID.
	switch {
	case c.Subject == "":
		caller.Tenant, caller.Project = "", ""
	case c.Project != "":
		if c.Subject != "pull."+c.Project || c.Tenant == "" {
			return nil, errors.New("the registry token's subject and project disagree")
		}
	default:
		t, _, ok := strings.Cut(c.Subject, ".")
		if !ok || t != c.Tenant {
			return nil, errors.New("the registry token's subject and tenant disagree")
		}
	}
	return caller, nil
}
