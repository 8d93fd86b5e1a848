// Package oidcprovider makes kstack an OpenID Connect provider (on
// github.com/zitadel/oidc/v3): discovery, JWKS with rotating keys,
// authorization code with PKCE, refresh tokens, revocation and logout; and
// its login page, which checks local passwords, LDAP directories and
// external OIDC issuers, per tenant.
package oidcprovider

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/auth/signing"
)

// Provider is the OpenID provider and its login page.
type Provider struct {
	// Issuer is the external URL of the provider, e.g. https://kstack.example:8443/oidc.
	Issuer string
	// Client writes sessions and users; Reader reads past the cache.
	Client client.Client
	Reader client.Reader
	Dir    *directory.Directory
	Keys   *signing.Keys
	// Namespace holds identity providers' secrets.
	Namespace string
	Log       *slog.Logger
	// AccessTokenLifetime bounds access tokens; SessionLifetime bounds
	// refresh tokens (the session).
	AccessTokenLifetime time.Duration
	SessionLifetime     time.Duration
	// MaxFailedLogins in a row lock an account for LockDuration.
	MaxFailedLogins int32
	LockDuration    time.Duration
	// ConsoleRedirectURIs are where the console's logins may return.
	ConsoleRedirectURIs []string
	// ExtraClients are registered with --oidc-clients.
	ExtraClients []Client

	mu       sync.Mutex
	requests map[string]*authRequest
	clients  []Client
	op       *op.Provider
	handler  http.Handler
}

// Start builds the provider; call it once before Handler.
func (p *Provider) Start() error {
	p.requests = map[string]*authRequest{}
	login := p.Issuer + "/login"
	p.clients = []Client{
		{ID: CLIClientID, Redirects: []string{CLIRedirectURI}, Native: true, loginURL: login},
		{ID: ConsoleClientID, Redirects: p.ConsoleRedirectURIs, loginURL: login},
	}
	for _, c := range p.ExtraClients {
		c.loginURL = login
		p.clients = append(p.clients, c)
	}
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		return err
	}
	cfg := &op.Config{
		// Only for zitadel's opaque tokens, which kstack does not use.
		CryptoKey:                key,
		DefaultLogoutRedirectURI: "/oidc/logged-out",
		CodeMethodS256:           true,
		AuthMethodPost:           true,
		GrantTypeRefreshToken:    true,
		SupportedUILocales:       []language.Tag{language.English},
	}
	o, err := op.NewProvider(cfg, p, op.StaticIssuer(p.Issuer))
	if err != nil {
		return fmt.Errorf("starting the OpenID provider: %w", err)
	}
	p.op = o
	mux := http.NewServeMux()
	mux.HandleFunc("/login", p.loginPage)
	mux.HandleFunc("/login/external", p.externalStart)
	mux.HandleFunc("/login/external/callback", p.externalCallback)
	mux.HandleFunc("/logged-out", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "You have logged out of kstack.")
	})
	mux.Handle("/", o)
	p.handler = mux
	return nil
}

// Handler serves the provider; mount it at the issuer's path with the
// path prefix stripped.
func (p *Provider) Handler() http.Handler { return p.handler }

// callbackURL is where a finished login returns to the authorization flow.
func (p *Provider) callbackURL(id string) string {
	return p.Issuer + "/authorize/callback?id=" + id
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func hashEqual(a, b string) bool {
	x, y := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(x[:], y[:]) == 1
}

// sameOrigin guards the login form against cross-site posts: a browser
// sends Origin on a POST, and it must be the platform's own. Programs
// (kstack login) send none.
func (p *Provider) sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return r.Header.Get("Sec-Fetch-Site") == "" || r.Header.Get("Sec-Fetch-Site") == "same-origin"
	}
	return strings.HasPrefix(p.Issuer, o+"/") || p.Issuer == o
}

// Run keeps the provider's memory tidy until ctx is done.
func (p *Provider) Run(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			p.mu.Lock()
			p.gcLocked()
			p.mu.Unlock()
		}
	}
}
