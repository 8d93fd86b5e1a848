package oidcprovider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1 "github.com/kstack/kstack/api/auth/v1"
	"github.com/kstack/kstack/internal/auth/authn"
	"github.com/kstack/kstack/internal/auth/signing"
)

// storage is zitadel's op.Storage over kstack's objects: sessions (with
// the hash of their refresh token) are Session objects, so that every
// replica sees them and deleting one ends its tokens; authorization
// requests are short-lived and stay in this replica's memory.

var errNotFound = errors.New("not found")

func (p *Provider) CreateAuthRequest(_ context.Context, req *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	if req.CodeChallenge == "" {
		return nil, oidc.ErrInvalidRequest().WithDescription("PKCE is required: send code_challenge with method S256")
	}
	if req.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
		return nil, oidc.ErrInvalidRequest().WithDescription("code_challenge_method must be S256")
	}
	a := &authRequest{id: randomString(24), created: time.Now(), oidc: *req}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.gcLocked()
	if len(p.requests) >= maxPendingRequests {
		return nil, oidc.ErrServerError().WithDescription("too many logins in progress; try again in a minute")
	}
	p.requests[a.id] = a
	return a, nil
}

// maxPendingRequests bounds the memory that unauthenticated /authorize
// calls can take.
const maxPendingRequests = 10000

func (p *Provider) gcLocked() {
	now := time.Now()
	for id, a := range p.requests {
		if now.Sub(a.created) > requestTTL {
			delete(p.requests, id)
		}
	}
}

func (p *Provider) request(id string) (*authRequest, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	a, ok := p.requests[id]
	if !ok || time.Since(a.created) > requestTTL {
		return nil, fmt.Errorf("the login request has expired or is unknown: start again")
	}
	return a, nil
}

func (p *Provider) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	return p.request(id)
}

func (p *Provider) AuthRequestByCode(_ context.Context, code string) (op.AuthRequest, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, a := range p.requests {
		if a.code != "" && a.code == code && time.Since(a.created) <= requestTTL {
			return a, nil
		}
	}
	return nil, errNotFound
}

func (p *Provider) SaveAuthCode(_ context.Context, id, code string) error {
	a, err := p.request(id)
	if err != nil {
		return err
	}
	p.mu.Lock()
	a.code = code
	p.mu.Unlock()
	return nil
}

func (p *Provider) DeleteAuthRequest(_ context.Context, id string) error {
	p.mu.Lock()
	delete(p.requests, id)
	p.mu.Unlock()
	return nil
}

// CreateAccessToken starts a session without a refresh token.
func (p *Provider) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	switch r := req.(type) {
	case *authRequest:
		s, err := p.newSession(ctx, r, "")
		if err != nil {
			return "", time.Time{}, err
		}
		return s.Name, p.accessExpiry(s), nil
	case *refreshRequest:
		s, err := p.sessionFor(ctx, r.session)
		if err != nil {
			return "", time.Time{}, err
		}
		return s.Name, p.accessExpiry(s), nil
	}
	return "", time.Time{}, fmt.Errorf("unsupported token request %T", req)
}

// accessExpiry: an access token never outlives its session.
func (p *Provider) accessExpiry(s *authv1.Session) time.Time {
	exp := time.Now().Add(p.AccessTokenLifetime)
	if s.Spec.ExpiresAt.Time.Before(exp) {
		return s.Spec.ExpiresAt.Time
	}
	return exp
}

// CreateAccessAndRefreshTokens starts a session with a refresh token, or
// rotates the refresh token of the session a refresh grant names.
func (p *Provider) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	secret := randomString(32)
	switch r := req.(type) {
	case *authRequest:
		s, err := p.newSession(ctx, r, authn.HashSecret(secret))
		if err != nil {
			return "", "", time.Time{}, err
		}
		return s.Name, s.Name + "." + secret, p.accessExpiry(s), nil
	case *refreshRequest:
		s, err := p.sessionFor(ctx, r.session)
		if err != nil {
			return "", "", time.Time{}, err
		}
		if err := p.checkUser(ctx, s.Spec.TenantID, s.Spec.Username); err != nil {
			return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("%s", err.Error())
		}
		s.Spec.RefreshTokenHash = authn.HashSecret(secret)
		if err := p.Client.Update(ctx, s); err != nil {
			// A conflict means another refresh of the same token won.
			return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("the refresh token was used concurrently; log in again")
		}
		return s.Name, s.Name + "." + secret, p.accessExpiry(s), nil
	}
	return "", "", time.Time{}, fmt.Errorf("unsupported token request %T", req)
}

func (p *Provider) checkUser(ctx context.Context, tenant, username string) error {
	u, err := p.Dir.User(ctx, tenant, username)
	if err != nil {
		return fmt.Errorf("the user no longer exists")
	}
	if u.Spec.Disabled {
		return fmt.Errorf("the user is disabled")
	}
	return nil
}

func (p *Provider) newSession(ctx context.Context, r *authRequest, refreshHash string) (*authv1.Session, error) {
	now := time.Now()
	u, err := p.Dir.User(ctx, r.tenant, r.username)
	if err != nil {
		return nil, fmt.Errorf("the user no longer exists")
	}
	s := &authv1.Session{
		ObjectMeta: metav1.ObjectMeta{
			Name:            "ses-" + strings.ToLower(randomHex(10)),
			Labels:          map[string]string{authv1.LabelTenant: r.tenant, authv1.LabelOwner: r.username},
			OwnerReferences: authv1.OwnedBy(u),
		},
		Spec: authv1.SessionSpec{
			TenantID: r.tenant, Username: r.username, ClientID: r.oidc.ClientID, Scopes: r.oidc.Scopes,
			AMR: r.amr, AuthTime: metav1.NewTime(r.authTime), ExpiresAt: metav1.NewTime(now.Add(p.SessionLifetime)),
			RefreshTokenHash: refreshHash,
		},
	}
	if err := p.Client.Create(ctx, s); err != nil {
		return nil, fmt.Errorf("storing the session: %w", err)
	}
	return s, nil
}

func (p *Provider) sessionFor(ctx context.Context, name string) (*authv1.Session, error) {
	s, err := p.Dir.Session(ctx, name)
	if err != nil {
		return nil, oidc.ErrInvalidGrant().WithDescription("the session has ended; log in again")
	}
	if !time.Now().Before(s.Spec.ExpiresAt.Time) {
		return nil, oidc.ErrInvalidGrant().WithDescription("the session has expired; log in again")
	}
	return s, nil
}

// parseRefresh checks a refresh token "<session>.<secret>" against its
// session, read from the API server (not the cache) so that a token just
// rotated is not taken twice.
func (p *Provider) parseRefresh(ctx context.Context, token string) (*authv1.Session, error) {
	name, secret, ok := strings.Cut(token, ".")
	if !ok || !strings.HasPrefix(name, "ses-") {
		return nil, op.ErrInvalidRefreshToken
	}
	var s authv1.Session
	if err := p.Reader.Get(ctx, client.ObjectKey{Name: name}, &s); err != nil {
		return nil, op.ErrInvalidRefreshToken
	}
	if s.Spec.RefreshTokenHash == "" || !hashEqual(s.Spec.RefreshTokenHash, authn.HashSecret(secret)) {
		return nil, op.ErrInvalidRefreshToken
	}
	return &s, nil
}

func (p *Provider) TokenRequestByRefreshToken(ctx context.Context, token string) (op.RefreshTokenRequest, error) {
	s, err := p.parseRefresh(ctx, token)
	if err != nil {
		return nil, oidc.ErrInvalidGrant().WithDescription("the refresh token is not valid (expired, revoked or already used); log in again")
	}
	if !time.Now().Before(s.Spec.ExpiresAt.Time) {
		return nil, oidc.ErrInvalidGrant().WithDescription("the session has expired; log in again")
	}
	return &refreshRequest{session: s.Name, tenant: s.Spec.TenantID, username: s.Spec.Username, clientID: s.Spec.ClientID,
		scopes: s.Spec.Scopes, amr: s.Spec.AMR, authTime: s.Spec.AuthTime.Time}, nil
}

// TerminateSession (end_session) ends every session of the user with the client.
func (p *Provider) TerminateSession(ctx context.Context, userID, clientID string) error {
	tenant, username, ok := strings.Cut(userID, ".")
	if !ok {
		return nil
	}
	var list authv1.SessionList
	if err := p.Reader.List(ctx, &list, client.MatchingLabels{authv1.LabelTenant: tenant, authv1.LabelOwner: username}); err != nil {
		return err
	}
	for i := range list.Items {
		if list.Items[i].Spec.ClientID == clientID {
			if err := client.IgnoreNotFound(p.Client.Delete(ctx, &list.Items[i])); err != nil {
				return err
			}
		}
	}
	return nil
}

// RevokeToken ends the session of an access token (its ID is the session)
// or of a refresh token.
func (p *Provider) RevokeToken(ctx context.Context, tokenOrID, userID, clientID string) *oidc.Error {
	name := tokenOrID
	if userID == "" {
		s, err := p.parseRefresh(ctx, tokenOrID)
		if err != nil {
			return nil // RFC 7009: an unknown token is not an error
		}
		if s.Spec.ClientID != clientID {
			return oidc.ErrInvalidClient().WithDescription("the token belongs to another client")
		}
		name = s.Name
	}
	err := p.Client.Delete(ctx, &authv1.Session{ObjectMeta: metav1.ObjectMeta{Name: name}})
	if err != nil && !apierrors.IsNotFound(err) {
		return oidc.ErrServerError().WithDescription("revoking the session failed")
	}
	return nil
}

func (p *Provider) GetRefreshTokenInfo(ctx context.Context, _ string, token string) (string, string, error) {
	s, err := p.parseRefresh(ctx, token)
	if err != nil {
		return "", "", op.ErrInvalidRefreshToken
	}
	return subject(s.Spec.TenantID, s.Spec.Username), s.Name, nil
}

type signingKey struct{ k signing.Key }

func (s signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (s signingKey) Key() any                                    { return s.k.Private }
func (s signingKey) ID() string                                  { return s.k.ID }

type publicKey struct{ k signing.Key }

func (s publicKey) ID() string                         { return s.k.ID }
func (s publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (s publicKey) Use() string                        { return "sig" }
func (s publicKey) Key() any                           { return &s.k.Private.PublicKey }

func (p *Provider) SigningKey(context.Context) (op.SigningKey, error) {
	k, err := p.Keys.Current()
	if err != nil {
		return nil, err
	}
	return signingKey{k}, nil
}

func (p *Provider) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (p *Provider) KeySet(context.Context) ([]op.Key, error) {
	var out []op.Key
	for _, k := range p.Keys.All() {
		out = append(out, publicKey{k})
	}
	return out, nil
}

func (p *Provider) client(id string) (*Client, bool) {
	for i := range p.clients {
		if p.clients[i].ID == id {
			return &p.clients[i], true
		}
	}
	return nil, false
}

func (p *Provider) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	c, ok := p.client(id)
	if !ok {
		return nil, fmt.Errorf("unknown client %q", id)
	}
	return c, nil
}

func (p *Provider) AuthorizeClientIDSecret(_ context.Context, id, secret string) error {
	c, ok := p.client(id)
	if !ok || !c.checkSecret(secret) {
		return fmt.Errorf("unknown client or wrong secret")
	}
	return nil
}

func (p *Provider) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

func (p *Provider) SetUserinfoFromRequest(ctx context.Context, ui *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	return p.fillUserinfo(ctx, ui, req.GetSubject(), scopes)
}

func (p *Provider) SetUserinfoFromToken(ctx context.Context, ui *oidc.UserInfo, tokenID, sub, _ string) error {
	s, err := p.Dir.Session(ctx, tokenID)
	if err != nil || subject(s.Spec.TenantID, s.Spec.Username) != sub {
		return fmt.Errorf("the session has ended")
	}
	return p.fillUserinfo(ctx, ui, sub, s.Spec.Scopes)
}

func (p *Provider) SetIntrospectionFromToken(ctx context.Context, ir *oidc.IntrospectionResponse, tokenID, sub, clientID string) error {
	s, err := p.Dir.Session(ctx, tokenID)
	if err != nil || subject(s.Spec.TenantID, s.Spec.Username) != sub {
		return fmt.Errorf("the session has ended")
	}
	var ui oidc.UserInfo
	if err := p.fillUserinfo(ctx, &ui, sub, s.Spec.Scopes); err != nil {
		return err
	}
	ir.SetUserInfo(&ui)
	ir.Scope = s.Spec.Scopes
	ir.ClientID = s.Spec.ClientID
	return nil
}

// fillUserinfo names the user, their tenant and their groups.
func (p *Provider) fillUserinfo(ctx context.Context, ui *oidc.UserInfo, sub string, scopes []string) error {
	tenant, username, ok := strings.Cut(sub, ".")
	if !ok {
		return fmt.Errorf("malformed subject")
	}
	u, err := p.Dir.User(ctx, tenant, username)
	if err != nil {
		return fmt.Errorf("the user no longer exists")
	}
	ui.Subject = sub
	for _, s := range scopes {
		switch s {
		case oidc.ScopeProfile:
			ui.PreferredUsername = u.Spec.Username
			ui.Name = u.Spec.DisplayName
		case oidc.ScopeEmail:
			ui.Email = u.Spec.Email
		}
	}
	pr, err := p.Dir.Principal(ctx, u, "token", "")
	if err != nil {
		return err
	}
	ui.AppendClaims("tenant", tenant)
	ui.AppendClaims("groups", pr.Groups)
	return nil
}

func (p *Provider) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

func (p *Provider) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, fmt.Errorf("JWT profile grants are not supported")
}

func (p *Provider) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, fmt.Errorf("JWT profile grants are not supported")
}

func (p *Provider) Health(context.Context) error { return nil }
