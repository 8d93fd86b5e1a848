package oidcprovider

import (
	"crypto/rand"
	"encoding/base64"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// authRequest is one authorization request, from /authorize to the code
// exchange. It lives in memory for at most requestTTL: a login that takes
// longer starts again.
type authRequest struct {
	id        string
	created   time.Time
	oidc      oidc.AuthRequest
	code      string
	tenant    string
	username  string
	authTime  time.Time
	amr       []string
	done      bool
	extState  string // state sent to an external issuer
	extVerif  string // its PKCE verifier
	extTenant string
}

const requestTTL = 10 * time.Minute

func (a *authRequest) GetID() string                      { return a.id }
func (a *authRequest) GetACR() string                     { return "" }
func (a *authRequest) GetAMR() []string                   { return a.amr }
func (a *authRequest) GetAudience() []string              { return []string{a.oidc.ClientID} }
func (a *authRequest) GetAuthTime() time.Time             { return a.authTime }
func (a *authRequest) GetClientID() string                { return a.oidc.ClientID }
func (a *authRequest) GetNonce() string                   { return a.oidc.Nonce }
func (a *authRequest) GetRedirectURI() string             { return a.oidc.RedirectURI }
func (a *authRequest) GetResponseType() oidc.ResponseType { return a.oidc.ResponseType }
func (a *authRequest) GetResponseMode() oidc.ResponseMode { return a.oidc.ResponseMode }
func (a *authRequest) GetScopes() []string                { return a.oidc.Scopes }
func (a *authRequest) GetState() string                   { return a.oidc.State }
func (a *authRequest) GetSubject() string                 { return subject(a.tenant, a.username) }
func (a *authRequest) Done() bool                         { return a.done }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge {
	if a.oidc.CodeChallenge == "" {
		return nil
	}
	return &oidc.CodeChallenge{Challenge: a.oidc.CodeChallenge, Method: a.oidc.CodeChallengeMethod}
}

// refreshRequest is a refresh-token grant on a session.
type refreshRequest struct {
	session  string
	tenant   string
	username string
	clientID string
	scopes   []string
	amr      []string
	authTime time.Time
}

func (r *refreshRequest) GetAMR() []string            { return r.amr }
func (r *refreshRequest) GetAudience() []string       { return []string{r.clientID} }
func (r *refreshRequest) GetAuthTime() time.Time      { return r.authTime }
func (r *refreshRequest) GetClientID() string         { return r.clientID }
func (r *refreshRequest) GetScopes() []string         { return r.scopes }
func (r *refreshRequest) GetSubject() string          { return subject(r.tenant, r.username) }
func (r *refreshRequest) SetCurrentScopes(s []string) { r.scopes = s }

// subject is a token's sub: the User object's name.
func subject(tenant, username string) string { return tenant + "." + username }

// randomString is a URL-safe random string of n bytes of entropy.
func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // the system's randomness failed: nothing is safe
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
