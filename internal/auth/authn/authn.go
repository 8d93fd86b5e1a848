// Package authn finds who made a request: the platform's admin client
// certificate, the data dir's admin token, an access key (API key), or an
// access token that kstack's OpenID provider issued.
package authn

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	authv1 "github.com/kstack/kstack/api/auth/v1"
	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/auth/signing"
)

// AdminGroup marks platform administrators in client certificates (the
// organisation of the admin certificate, as Kubernetes' own break-glass group).
const AdminGroup = "system:masters"

// APIKeyPrefix starts every access key: "ksk_<name>_<secret>".
const APIKeyPrefix = "ksk_"

// Error is a credential that was presented and refused; its message says
// why, for the 401 answer.
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

func refuse(format string, a ...any) error { return &Error{Msg: fmt.Sprintf(format, a...)} }

// Authenticator checks credentials.
type Authenticator struct {
	// AdminTokenHash is the SHA-256 of the data dir's admin token.
	AdminTokenHash [32]byte
	Dir            *directory.Directory
	Keys           *signing.Keys
	// Issuer is the OpenID provider's issuer URL; tokens must name it.
	Issuer string
	// Audiences are the client IDs whose access tokens the gateway takes.
	Audiences []string
	Now       func() time.Time
}

func (a *Authenticator) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// Authenticate returns the caller; (nil, nil) when the request carries no
// credentials, an *Error when it carries bad ones.
func (a *Authenticator) Authenticate(r *http.Request) (*directory.Principal, error) {
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
		c := r.TLS.VerifiedChains[0][0]
		p := &directory.Principal{Username: c.Subject.CommonName, Tenant: authv1.DefaultTenant, Groups: c.Subject.Organization, Method: "cert"}
		p.SuperAdmin = slices.Contains(p.Groups, AdminGroup)
		return p, nil
	}
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, nil
	}
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" {
		return nil, refuse("the Authorization header must be \"Bearer <token>\"")
	}
	return a.Token(r.Context(), strings.TrimSpace(tok))
}

// Token checks a bearer token.
func (a *Authenticator) Token(ctx context.Context, tok string) (*directory.Principal, error) {
	sum := sha256.Sum256([]byte(tok))
	if subtle.ConstantTimeCompare(sum[:], a.AdminTokenHash[:]) == 1 {
		return &directory.Principal{Username: "admin", Tenant: authv1.DefaultTenant, SuperAdmin: true, Method: "admin-token"}, nil
	}
	if strings.HasPrefix(tok, APIKeyPrefix) {
		return a.apiKey(ctx, tok)
	}
	if strings.Count(tok, ".") == 2 {
		return a.jwt(ctx, tok)
	}
	return nil, refuse("the bearer token is not one the platform issued: use an access token from `kstack login` or an access key")
}

// ParseAPIKey splits an access key into its object name and secret.
func ParseAPIKey(tok string) (name, secret string, ok bool) {
	rest, ok := strings.CutPrefix(tok, APIKeyPrefix)
	if !ok {
		return "", "", false
	}
	name, secret, ok = strings.Cut(rest, "_")
	return name, secret, ok && name != "" && len(secret) >= 32
}

// HashSecret is how access keys' and refresh tokens' secrets are kept.
func HashSecret(secret string) string {
	s := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(s[:])
}

func (a *Authenticator) apiKey(ctx context.Context, tok string) (*directory.Principal, error) {
	name, secret, ok := ParseAPIKey(tok)
	if !ok {
		return nil, refuse("the access key is malformed")
	}
	k, err := a.Dir.APIKey(ctx, name)
	if apierrors.IsNotFound(err) {
		return nil, refuse("the access key is not known (it may have been deleted)")
	}
	if err != nil {
		return nil, err
	}
	got := HashSecret(secret)
	if subtle.ConstantTimeCompare([]byte(got), []byte(k.Spec.SecretHash)) != 1 {
		return nil, refuse("the access key is not known (it may have been deleted)")
	}
	if k.Spec.Disabled {
		return nil, refuse("the access key %s is disabled: its owner can enable it again", name)
	}
	if !a.now().Before(k.Spec.ExpiresAt.Time) {
		return nil, refuse("the access key %s expired at %s: create a new one", name, k.Spec.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return a.userPrincipal(ctx, k.Spec.TenantID, k.Spec.Username, "apikey", "")
}

// Claims are the access token claims the gateway reads.
type Claims struct {
	jwt.Claims
	ClientID string `json:"client_id,omitempty"`
}

func (a *Authenticator) jwt(ctx context.Context, tok string) (*directory.Principal, error) {
	// Only RS256: "none" and HMAC (which a public key could be abused as)
	// are refused while parsing.
	parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return nil, refuse("the access token cannot be parsed or uses an algorithm other than RS256")
	}
	if len(parsed.Headers) != 1 {
		return nil, refuse("the access token must have exactly one signature")
	}
	pub, ok := a.Keys.Public(parsed.Headers[0].KeyID)
	if !ok {
		return nil, refuse("the access token is signed by a key the platform does not know")
	}
	var c Claims
	if err := parsed.Claims(pub, &c); err != nil {
		return nil, refuse("the access token's signature does not verify")
	}
	err = c.Claims.ValidateWithLeeway(jwt.Expected{Issuer: a.Issuer, Time: a.now()}, 30*time.Second)
	switch {
	case errors.Is(err, jwt.ErrExpired):
		return nil, refuse("the access token has expired: log in again (kstack login) or refresh it")
	case errors.Is(err, jwt.ErrInvalidIssuer):
		return nil, refuse("the access token was issued by %q, not by this platform", c.Issuer)
	case err != nil:
		return nil, refuse("the access token is not valid: %v", err)
	}
	if c.Expiry == nil {
		return nil, refuse("the access token has no expiry")
	}
	aud := false
	for _, want := range a.Audiences {
		aud = aud || c.Audience.Contains(want)
	}
	if !aud {
		return nil, refuse("the access token is for another audience (%v)", []string(c.Audience))
	}
	tenant, username, ok := strings.Cut(c.Subject, ".")
	if !ok {
		return nil, refuse("the access token's subject is malformed")
	}
	// The token ID names the session: logout and revocation delete it.
	s, err := a.Dir.Session(ctx, c.ID)
	if apierrors.IsNotFound(err) {
		return nil, refuse("the access token's session has ended (logged out or revoked): log in again")
	}
	if err != nil {
		return nil, err
	}
	if s.Spec.TenantID != tenant || s.Spec.Username != username || !a.now().Before(s.Spec.ExpiresAt.Time) {
		return nil, refuse("the access token's session has ended: log in again")
	}
	return a.userPrincipal(ctx, tenant, username, "token", s.Name)
}

func (a *Authenticator) userPrincipal(ctx context.Context, tenant, username, method, session string) (*directory.Principal, error) {
	u, err := a.Dir.User(ctx, tenant, username)
	if apierrors.IsNotFound(err) {
		return nil, refuse("user %s of tenant %s no longer exists", username, tenant)
	}
	if err != nil {
		return nil, err
	}
	if u.Spec.Disabled {
		return nil, refuse("user %s is disabled", username)
	}
	return a.Dir.Principal(ctx, u, method, session)
}
