package oidcprovider

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Built-in client IDs.
const (
	// CLIClientID is `kstack login`'s client: public, PKCE, loopback redirect.
	CLIClientID = "kstack-cli"
	// ConsoleClientID is the web console's client.
	ConsoleClientID = "kstack-console"
	// CLIRedirectURI is where `kstack login` asks the code to go; the CLI
	// reads it off the redirect and never listens there.
	CLIRedirectURI = "http://127.0.0.1/callback"
)

// Client is an OAuth client of the platform. Besides the built-in ones,
// operators register others (Grafana, another kstack) with --oidc-clients.
type Client struct {
	ID        string   `json:"id"`
	Secret    string   `json:"secret,omitempty"`
	Redirects []string `json:"redirectURIs"`
	// Native clients redirect to a loopback address on any port.
	Native bool `json:"native,omitempty"`

	loginURL string
}

// LoadClients reads a JSON list of clients.
func LoadClients(path string) ([]Client, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading --oidc-clients: %w", err)
	}
	var cs []Client
	if err := json.Unmarshal(data, &cs); err != nil {
		return nil, fmt.Errorf("--oidc-clients %s is not a JSON list of {id, secret, redirectURIs}: %w", path, err)
	}
	for i, c := range cs {
		if c.ID == "" || len(c.Redirects) == 0 {
			return nil, fmt.Errorf("--oidc-clients %s: client %d needs an id and at least one redirect URI", path, i+1)
		}
		if c.ID == CLIClientID || c.ID == ConsoleClientID {
			return nil, fmt.Errorf("--oidc-clients %s: client ID %q is built in", path, c.ID)
		}
	}
	return cs, nil
}

func (c *Client) GetID() string                        { return c.ID }
func (c *Client) RedirectURIs() []string               { return c.Redirects }
func (c *Client) PostLogoutRedirectURIs() []string     { return c.Redirects }
func (c *Client) LoginURL(id string) string            { return c.loginURL + "?authRequestID=" + id }
func (c *Client) AccessTokenType() op.AccessTokenType  { return op.AccessTokenTypeJWT }
func (c *Client) IDTokenLifetime() time.Duration       { return time.Hour }
func (c *Client) DevMode() bool                        { return false }
func (c *Client) ClockSkew() time.Duration             { return 0 }
func (c *Client) IsScopeAllowed(string) bool           { return false }
func (c *Client) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c *Client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *Client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *Client) ApplicationType() op.ApplicationType {
	if c.Native {
		return op.ApplicationTypeNative
	}
	return op.ApplicationTypeWeb
}
func (c *Client) AuthMethod() oidc.AuthMethod {
	if c.Secret == "" {
		return oidc.AuthMethodNone
	}
	return oidc.AuthMethodBasic
}
func (c *Client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *Client) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
}

func (c *Client) checkSecret(s string) bool {
	return c.Secret != "" && subtle.ConstantTimeCompare([]byte(c.Secret), []byte(s)) == 1
}
