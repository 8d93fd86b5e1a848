// Package login is the CLI's side of kstack's OpenID provider: `kstack
// login` runs the authorization code flow with PKCE over plain HTTP (the
// CLI posts the login form itself, so no browser is needed), keeps the
// tokens in a file only its user can read, and refreshes them.
package login

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// ConfigEnv names the login file instead of ~/.config/kstack/login.json
// (kept apart from the data dir, ~/.kstack, which must hold only its own).
const ConfigEnv = "KSTACK_CONFIG"

const (
	clientID    = "kstack-cli"
	redirectURI = "http://127.0.0.1/callback"
	errorHeader = "X-Kstack-Login-Error"
)

// Config is a login: where the platform is and the tokens it issued.
type Config struct {
	Server       string    `json:"server"`
	CAData       []byte    `json:"caData,omitempty"`
	Tenant       string    `json:"tenant"`
	Username     string    `json:"username"`
	AccessToken  string    `json:"accessToken"`
	Expiry       time.Time `json:"expiry"`
	RefreshToken string    `json:"refreshToken,omitempty"`
	IDToken      string    `json:"idToken,omitempty"`
	TokenURL     string    `json:"tokenURL"`
	RevokeURL    string    `json:"revokeURL,omitempty"`
}

// Path is the login file.
func Path() string {
	if p := os.Getenv(ConfigEnv); p != "" {
		return p
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return ".kstack-login.json"
	}
	return filepath.Join(dir, "kstack", "login.json")
}

// ErrNotLoggedIn means there is no login file.
var ErrNotLoggedIn = errors.New("not logged in: run `kstack login --server URL --username NAME`")

// Load reads a login file.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotLoggedIn
	}
	if err != nil {
		return nil, err
	}
	var c Config
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("the login file %s is corrupt (%v): log in again", path, err)
	}
	return &c, nil
}

// Save writes a login file that only its owner can read.
func (c *Config) Save(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// HTTPClient trusts the platform's CA (or the system's when caPEM is empty).
func HTTPClient(caPEM []byte) *http.Client {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(caPEM) > 0 {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(caPEM)
		cfg.RootCAs = pool
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg, Proxy: http.ProxyFromEnvironment}}
}

type discovery struct {
	Issuer     string `json:"issuer"`
	Authorize  string `json:"authorization_endpoint"`
	Token      string `json:"token_endpoint"`
	Revocation string `json:"revocation_endpoint"`
}

func discover(ctx context.Context, hc *http.Client, server string) (*discovery, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(server, "/")+"/oidc/.well-known/openid-configuration", nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the platform at %s: %w", server, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s is not a kstack platform (discovery answered %s)", server, resp.Status)
	}
	var d discovery
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&d); err != nil {
		return nil, fmt.Errorf("reading the platform's OpenID configuration: %w", err)
	}
	return &d, nil
}

// PasswordLogin logs in with a password through the authorization code
// flow with PKCE, posting the login form as a browser would.
func PasswordLogin(ctx context.Context, server string, caPEM []byte, tenant, username, password string) (*Config, error) {
	hc := HTTPClient(caPEM)
	d, err := discover(ctx, hc, server)
	if err != nil {
		return nil, err
	}
	conf := &oauth2.Config{ClientID: clientID, RedirectURL: redirectURI,
		Endpoint: oauth2.Endpoint{AuthURL: d.Authorize, TokenURL: d.Token, AuthStyle: oauth2.AuthStyleInParams},
		Scopes:   []string{"openid", "profile", "email", "offline_access"}}
	verifier, state := oauth2.GenerateVerifier(), oauth2.GenerateVerifier()
	jar, _ := cookiejar.New(nil)
	var code string
	flow := *hc
	flow.Jar = jar
	flow.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), redirectURI) {
			q := req.URL.Query()
			if q.Get("state") != state {
				return fmt.Errorf("the platform returned a login for another request (state mismatch)")
			}
			if e := q.Get("error"); e != "" {
				return fmt.Errorf("the platform refused the login: %s %s", e, q.Get("error_description"))
			}
			code = q.Get("code")
			return http.ErrUseLastResponse
		}
		if len(via) > 10 {
			return errors.New("too many redirects")
		}
		return nil
	}
	get, err := http.NewRequestWithContext(ctx, http.MethodGet, conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)), nil)
	if err != nil {
		return nil, err
	}
	resp, err := flow.Do(get)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	loginURL := resp.Request.URL
	id := loginURL.Query().Get("authRequestID")
	if resp.StatusCode != http.StatusOK || id == "" {
		return nil, fmt.Errorf("the platform did not show its login page (%s at %s)", resp.Status, loginURL.Redacted())
	}
	form := url.Values{"authRequestID": {id}, "tenant": {tenant}, "username": {username}, "password": {password}}
	post, err := http.NewRequestWithContext(ctx, http.MethodPost, loginURL.Scheme+"://"+loginURL.Host+loginURL.Path, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = flow.Do(post)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if msg := resp.Header.Get(errorHeader); msg != "" {
		return nil, fmt.Errorf("login refused: %s", msg)
	}
	if code == "" {
		return nil, fmt.Errorf("the login did not complete (%s)", resp.Status)
	}
	tok, err := conf.Exchange(context.WithValue(ctx, oauth2.HTTPClient, hc), code, oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, fmt.Errorf("exchanging the login code for tokens: %w", err)
	}
	idt, _ := tok.Extra("id_token").(string)
	if tenant == "" {
		tenant = "default"
	}
	return &Config{Server: strings.TrimSuffix(server, "/"), CAData: caPEM, Tenant: tenant, Username: username,
		AccessToken: tok.AccessToken, Expiry: tok.Expiry, RefreshToken: tok.RefreshToken, IDToken: idt,
		TokenURL: d.Token, RevokeURL: d.Revocation}, nil
}

// Token returns a valid access token, refreshing it (and saving the file)
// when it is about to expire.
func (c *Config) Token(ctx context.Context, path string) (string, error) {
	if c.AccessToken != "" && time.Until(c.Expiry) > time.Minute {
		return c.AccessToken, nil
	}
	if c.RefreshToken == "" {
		return "", fmt.Errorf("the login has expired: run `kstack login` again")
	}
	conf := &oauth2.Config{ClientID: clientID, Endpoint: oauth2.Endpoint{TokenURL: c.TokenURL, AuthStyle: oauth2.AuthStyleInParams}}
	ts := conf.TokenSource(context.WithValue(ctx, oauth2.HTTPClient, HTTPClient(c.CAData)), &oauth2.Token{RefreshToken: c.RefreshToken, Expiry: time.Unix(1, 0)})
	tok, err := ts.Token()
	if err != nil {
		return "", fmt.Errorf("the login has expired or was revoked (%v): run `kstack login` again", err)
	}
	c.AccessToken, c.Expiry = tok.AccessToken, tok.Expiry
	if tok.RefreshToken != "" {
		c.RefreshToken = tok.RefreshToken
	}
	if path != "" {
		if err := c.Save(path); err != nil {
			return "", err
		}
	}
	return c.AccessToken, nil
}

// Logout revokes the login's session at the platform.
func (c *Config) Logout(ctx context.Context) error {
	if c.RevokeURL == "" || c.RefreshToken == "" {
		return nil
	}
	form := url.Values{"token": {c.RefreshToken}, "token_type_hint": {"refresh_token"}, "client_id": {clientID}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.RevokeURL, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := HTTPClient(c.CAData).Do(req)
	if err != nil {
		return fmt.Errorf("revoking the session at %s: %w", c.Server, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("the platform refused the logout: %s %s", resp.Status, strings.TrimSpace(string(b)))
	}
	return nil
}
