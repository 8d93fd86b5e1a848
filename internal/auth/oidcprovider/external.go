package oidcprovider

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1 "github.com/kstack/kstack/api/auth/v1"
	"github.com/kstack/kstack/internal/auth/account"
)

// ExternalConfig configures an external OpenID Connect issuer
// (IdentityProvider type oidc). The client secret lives in the provider's
// Secret under "clientSecret".
type ExternalConfig struct {
	Issuer   string `json:"issuer"`
	ClientID string `json:"clientID"`
	// ClientSecret is accepted on creation and moved into the Secret.
	ClientSecret string `json:"clientSecret,omitempty"`
	// UsernameClaim names the account (default preferred_username).
	UsernameClaim string `json:"usernameClaim,omitempty"`
	// GroupsClaim names the groups (default groups).
	GroupsClaim string   `json:"groupsClaim,omitempty"`
	Scopes      []string `json:"scopes,omitempty"`
	// RootCA is a PEM bundle for an issuer with a private CA.
	RootCA string `json:"rootCA,omitempty"`
}

// ParseExternalConfig reads and checks an external issuer's configuration.
func ParseExternalConfig(data []byte) (*ExternalConfig, error) {
	var c ExternalConfig
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("the OIDC configuration is not valid JSON with fields issuer, clientID, clientSecret, usernameClaim, groupsClaim, scopes, rootCA: %w", err)
	}
	if !strings.HasPrefix(c.Issuer, "https://") {
		return nil, fmt.Errorf("the OIDC configuration needs an https issuer URL (got %q)", c.Issuer)
	}
	if c.ClientID == "" {
		return nil, fmt.Errorf("the OIDC configuration needs a clientID")
	}
	if c.RootCA != "" && !x509.NewCertPool().AppendCertsFromPEM([]byte(c.RootCA)) {
		return nil, fmt.Errorf("the OIDC configuration's rootCA holds no PEM certificate")
	}
	if c.UsernameClaim == "" {
		c.UsernameClaim = "preferred_username"
	}
	if c.GroupsClaim == "" {
		c.GroupsClaim = "groups"
	}
	return &c, nil
}

func readSecret(ctx context.Context, r client.Reader, ns, name, key string) (string, error) {
	var s corev1.Secret
	if err := r.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &s); err != nil {
		return "", fmt.Errorf("reading the identity provider's secret %s: %w", name, err)
	}
	return string(s.Data[key]), nil
}

// external prepares the OAuth client for an external issuer.
func (p *Provider) external(ctx context.Context, name string) (*ExternalConfig, *oauth2.Config, *gooidc.Provider, context.Context, error) {
	var idp authv1.IdentityProvider
	if err := p.Client.Get(ctx, client.ObjectKey{Name: name}, &idp); err != nil || idp.Spec.Type != authv1.IdentityProviderOIDC {
		return nil, nil, nil, nil, fmt.Errorf("tenant %q has no OpenID Connect identity provider", name)
	}
	c, err := ParseExternalConfig([]byte(idp.Spec.Config))
	if err != nil {
		return nil, nil, nil, nil, err
	}
	secret, err := p.idpSecret(ctx, &idp, "clientSecret")
	if err != nil {
		return nil, nil, nil, nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if c.RootCA != "" {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM([]byte(c.RootCA))
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	hctx := gooidc.ClientContext(ctx, &http.Client{Transport: tr, Timeout: 10 * time.Second})
	prov, err := gooidc.NewProvider(hctx, c.Issuer)
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("the OpenID Connect issuer %s of tenant %s cannot be reached: %w", c.Issuer, name, err)
	}
	scopes := append([]string{gooidc.ScopeOpenID, "profile", "email"}, c.Scopes...)
	oc := &oauth2.Config{ClientID: c.ClientID, ClientSecret: secret, Endpoint: prov.Endpoint(),
		RedirectURL: p.Issuer + "/login/external/callback", Scopes: scopes}
	return c, oc, prov, hctx, nil
}

// externalStart sends the browser to the tenant's issuer.
func (p *Provider) externalStart(w http.ResponseWriter, r *http.Request) {
	id, name := r.URL.Query().Get("authRequestID"), r.URL.Query().Get("idp")
	a, err := p.request(id)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	_, oc, _, _, err := p.external(r.Context(), name)
	if err != nil {
		p.renderLogin(w, r, http.StatusBadGateway, loginView{ID: id, Tenant: name, Error: err.Error()})
		return
	}
	state, verifier := randomString(24), oauth2.GenerateVerifier()
	p.mu.Lock()
	a.extState, a.extVerif, a.extTenant = state, verifier, name
	p.mu.Unlock()
	http.Redirect(w, r, oc.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)), http.StatusFound)
}

// externalCallback finishes a login at an external issuer.
func (p *Provider) externalCallback(w http.ResponseWriter, r *http.Request) {
	state := r.URL.Query().Get("state")
	var a *authRequest
	p.mu.Lock()
	for _, x := range p.requests {
		if state != "" && x.extState == state {
			a = x
		}
	}
	p.mu.Unlock()
	if a == nil {
		http.Error(w, "the login at the external issuer does not match a login in progress: start again", http.StatusBadRequest)
		return
	}
	fail := func(code int, msg string) {
		w.Header().Set(LoginErrorHeader, headerSafe(msg))
		p.renderLogin(w, r, code, loginView{ID: a.id, Tenant: a.extTenant, Error: msg})
	}
	if e := r.URL.Query().Get("error"); e != "" {
		fail(http.StatusUnauthorized, "the external issuer refused the login: "+e+" "+r.URL.Query().Get("error_description"))
		return
	}
	c, oc, prov, hctx, err := p.external(r.Context(), a.extTenant)
	if err != nil {
		fail(http.StatusBadGateway, err.Error())
		return
	}
	tok, err := oc.Exchange(hctx, r.URL.Query().Get("code"), oauth2.VerifierOption(a.extVerif))
	if err != nil {
		fail(http.StatusBadGateway, "exchanging the code at the external issuer failed: "+err.Error())
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := prov.Verifier(&gooidc.Config{ClientID: c.ClientID}).Verify(hctx, raw)
	if err != nil {
		fail(http.StatusUnauthorized, "the external issuer's ID token does not verify: "+err.Error())
		return
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		fail(http.StatusUnauthorized, "the external issuer's ID token is malformed")
		return
	}
	username, _ := claims[c.UsernameClaim].(string)
	if err := account.ValidateUsername(username); err != nil {
		fail(http.StatusUnauthorized, fmt.Sprintf("the external issuer's claim %s is not a valid account: %v", c.UsernameClaim, err))
		return
	}
	groups := []string{}
	if gs, ok := claims[c.GroupsClaim].([]any); ok {
		for _, g := range gs {
			if s, ok := g.(string); ok {
				groups = append(groups, s)
			}
		}
	}
	display, _ := claims["name"].(string)
	email, _ := claims["email"].(string)
	u, err := p.upsertExternal(r.Context(), a.extTenant, username, display, email)
	if err != nil {
		fail(http.StatusInternalServerError, err.Error())
		return
	}
	if u.Spec.Disabled {
		fail(http.StatusForbidden, "this account is disabled: ask an administrator")
		return
	}
	u = p.succeeded(r.Context(), u, groups)
	p.complete(a, u, []string{"oidc"})
	p.Log.Info("login", "tenant", u.Spec.TenantID, "user", u.Spec.Username, "client", a.oidc.ClientID, "amr", "oidc")
	http.Redirect(w, r, p.callbackURL(a.id), http.StatusFound)
}
