package auth

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/kstack/kstack/internal/auth/ldap/ldaptest"
	"github.com/kstack/kstack/test/e2e/framework"
)

// TestLDAPLogin logs in against a real OpenLDAP server (Debian's slapd).
func TestLDAPLogin(t *testing.T) {
	dir := ldaptest.Start(t, ldaptest.SampleLDIF)
	k, p := up(t)
	hc, adminToken := k.PlatformHTTP()
	cfg := map[string]any{
		"host": dir.Addr, "insecureNoSSL": true, "bindDN": dir.AdminDN, "bindPW": dir.AdminPW,
		"userSearch": map[string]string{"baseDN": "ou=people," + dir.BaseDN, "filter": "(objectClass=inetOrgPerson)",
			"username": "uid", "idAttr": "uid", "emailAttr": "mail", "nameAttr": "cn"},
		"groupSearch": map[string]string{"baseDN": "ou=groups," + dir.BaseDN, "filter": "(objectClass=groupOfNames)",
			"userAttr": "DN", "groupAttr": "member", "nameAttr": "cn"},
	}
	idp := func(name string, cfg map[string]any) string {
		c, _ := json.Marshal(cfg)
		b, _ := json.Marshal(map[string]any{"metadata": map[string]string{"name": name},
			"spec": map[string]any{"type": "ldap", "administrators": []string{"jane"}, "config": string(c)}})
		return string(b)
	}
	idps := p.ConsoleURL + "/auth/apis/auth.tkestack.io/v1/identityproviders"

	// A configuration without a host is refused with the field named.
	bad := map[string]any{}
	for k, v := range cfg {
		bad[k] = v
	}
	delete(bad, "host")
	if code, body := status(t, hc, "POST", idps, adminToken, idp("ldap-bad", bad)); code != 422 || !strings.Contains(body, "host") {
		t.Fatalf("LDAP config without host: %d %s", code, body)
	}
	if code, body := status(t, hc, "POST", idps, adminToken, idp("ldap-test", cfg)); code != 201 {
		t.Fatalf("creating the LDAP provider: %d %s", code, body)
	}
	// The bind password is kept apart, never in the provider's object.
	got := k.MustKubectl(p.Kubeconfig, "get", "identityprovider", "ldap-test", "-o", "json")
	if strings.Contains(got, dir.AdminPW) {
		t.Fatalf("the bind password is stored in the IdentityProvider:\n%s", got)
	}

	jane := login(t, k, "ldap-test", "jane", ldaptest.JanePassword)
	who := jane.MustRun("whoami", "-o", "json")
	mustContain(t, "jane whoami", who, `"username": "jane"`, `"tenant": "ldap-test"`, "admins", "developers", "administrator")
	john := login(t, k, "ldap-test", "john", ldaptest.JohnPassword)
	if w := john.MustRun("whoami", "-o", "json"); strings.Contains(w, "administrator") || !strings.Contains(w, "developers") {
		t.Fatalf("john whoami: %s", w)
	}
	// Users of the LDAP tenant are recorded in it, and only there.
	if out := jane.MustRun("user", "list"); !strings.Contains(out, "ldap-test.john") || strings.Contains(out, "default.admin") {
		t.Fatalf("jane's user list:\n%s", out)
	}
	r := k.As("j2").RunStdin("Wrong-Passw0rd\n", "login", "--tenant", "ldap-test", "--username", "jane", "--password-stdin")
	if r.Err == nil || !strings.Contains(r.Stderr, "wrong username or password") {
		t.Fatalf("wrong LDAP password: %v %s", r.Err, r.Stderr)
	}
	r = k.As("j3").RunStdin("*\n", "login", "--tenant", "ldap-test", "--username", "*", "--password-stdin")
	if r.Err == nil || !strings.Contains(r.Stderr, "wrong username or password") {
		t.Fatalf("LDAP injection: %v %s", r.Err, r.Stderr)
	}

	// The directory goes down: a clear error; local users still log in.
	dir.Stop()
	start := time.Now()
	r = k.As("j4").RunStdin(ldaptest.JanePassword+"\n", "login", "--tenant", "ldap-test", "--username", "jane", "--password-stdin")
	if r.Err == nil || !strings.Contains(r.Stderr, "cannot be used now") || !strings.Contains(r.Stderr, "local accounts still work") {
		t.Fatalf("login with the directory down: %v %s", r.Err, r.Stderr)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("the login with the directory down took %s", d)
	}
	login(t, k, "default", "admin", adminPassword)
}

// TestExternalOIDC logs in to platform B through platform A as B's
// external OpenID Connect issuer, driving the browser's redirects over HTTP.
func TestExternalOIDC(t *testing.T) {
	bAddr := framework.FreeAddr(t)
	bURL := "https://" + bAddr
	clients := filepath.Join(t.TempDir(), "clients.json")
	secret := "b-client-secret-0123456789"
	writeFile(t, clients, `[{"id":"kstack-b","secret":"`+secret+`","redirectURIs":["`+bURL+`/oidc/login/external/callback"]}]`)
	a, pa := up(t, "--platform-arg=--oidc-clients="+clients)
	createUser(t, a, "erin", "Passw0rd-Erin1")

	b := framework.New(t)
	b.Env = append(b.Env, "KSTACK_ADMIN_PASSWORD="+adminPassword)
	pb := b.Up(3*time.Minute, "--listen", bAddr)
	hcB, adminB := b.PlatformHTTP()
	cfg, _ := json.Marshal(map[string]any{"issuer": pa.ConsoleURL + "/oidc", "clientID": "kstack-b", "clientSecret": secret, "rootCA": string(a.PlatformCA())})
	body, _ := json.Marshal(map[string]any{"metadata": map[string]string{"name": "ext"},
		"spec": map[string]any{"type": "oidc", "displayName": "Platform A", "config": string(cfg)}})
	if code, out := status(t, hcB, "POST", pb.ConsoleURL+"/auth/apis/auth.tkestack.io/v1/identityproviders", adminB, string(body)); code != 201 {
		t.Fatalf("creating the OIDC provider: %d %s", code, out)
	}
	if strings.Contains(b.MustKubectl(pb.Kubeconfig, "get", "identityprovider", "ext", "-o", "json"), secret) {
		t.Fatal("the client secret is stored in the IdentityProvider")
	}

	// A browser: both platforms' CAs, cookies, and a stop at the console's callback.
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(a.PlatformCA())
	pool.AppendCertsFromPEM(b.PlatformCA())
	jar, _ := cookiejar.New(nil)
	callback := pb.ConsoleURL + "/console/callback"
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		CheckRedirect: func(req *http.Request, _ []*http.Request) error {
			if strings.HasPrefix(req.URL.String(), callback) {
				return http.ErrUseLastResponse
			}
			return nil
		}}
	ctx := gooidc.ClientContext(context.Background(), browser)
	provider, err := gooidc.NewProvider(ctx, pb.ConsoleURL+"/oidc")
	if err != nil {
		t.Fatalf("discovery at B: %v", err)
	}
	conf := &oauth2.Config{ClientID: "kstack-console", RedirectURL: callback, Endpoint: provider.Endpoint(), Scopes: []string{"openid", "profile", "email"}}
	verifier := oauth2.GenerateVerifier()

	get := func(u string) (*http.Response, string) {
		t.Helper()
		resp, err := browser.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp, string(data)
	}
	resp, page := get(conf.AuthCodeURL("st-1", oauth2.S256ChallengeOption(verifier)))
	mustContain(t, "B's login page", page, "Log in with Platform A")
	idB := resp.Request.URL.Query().Get("authRequestID")
	resp, page = get(pb.ConsoleURL + "/oidc/login/external?authRequestID=" + idB + "&idp=ext")
	if !strings.HasPrefix(resp.Request.URL.String(), pa.ConsoleURL+"/oidc/login") {
		t.Fatalf("not sent to A's login page: %s\n%s", resp.Request.URL, page)
	}
	idA := resp.Request.URL.Query().Get("authRequestID")
	form := url.Values{"authRequestID": {idA}, "tenant": {"default"}, "username": {"erin"}, "password": {"Passw0rd-Erin1"}}
	resp, err = browser.PostForm(pa.ConsoleURL+"/oidc/login", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, callback) {
		t.Fatalf("the flow did not end at B's console callback: %s %q (last URL %s)", resp.Status, loc, resp.Request.URL)
	}
	cb, _ := url.Parse(loc)
	if cb.Query().Get("state") != "st-1" {
		t.Fatalf("state lost: %s", loc)
	}
	tok, err := conf.Exchange(ctx, cb.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("code exchange at B: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&gooidc.Config{ClientID: "kstack-console"}).Verify(ctx, raw)
	if err != nil {
		t.Fatalf("B's ID token does not verify against its JWKS: %v", err)
	}
	var claims struct {
		PreferredUsername string `json:"preferred_username"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if idt.Subject != "ext.erin" || claims.PreferredUsername != "erin" {
		t.Fatalf("ID token: sub %q, preferred_username %q", idt.Subject, claims.PreferredUsername)
	}
	code, who := status(t, hcB, "GET", pb.ConsoleURL+"/auth/whoami", tok.AccessToken, "")
	if code != 200 || !strings.Contains(who, `"username":"erin"`) || !strings.Contains(who, `"tenant":"ext"`) {
		t.Fatalf("whoami at B with the token: %d %s", code, who)
	}
	// B's tokens are worthless at A, and the other way round.
	if code, _ := status(t, browser, "GET", pa.ConsoleURL+"/auth/whoami", tok.AccessToken, ""); code != 401 {
		t.Fatal("a token of platform B was taken by platform A")
	}
	// A wrong PKCE verifier, or a code used twice, is refused.
	if _, err := conf.Exchange(ctx, cb.Query().Get("code"), oauth2.VerifierOption(verifier)); err == nil {
		t.Fatal("a code was exchanged twice")
	}
	fmt.Fprintln(io.Discard, idB)
}
