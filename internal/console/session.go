package console

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"github.com/kstack/kstack/internal/auth/directory"
)

// Cookies. The __Host- prefix makes the browser insist on Secure, Path=/
// and no Domain, so no other site (or subdomain) can set them.
const (
	cookieAccess  = "__Host-kstack-at"
	cookieRefresh = "__Host-kstack-rt"
	cookieSID     = "__Host-kstack-sid"
	cookieLogin   = "__Host-kstack-login"
	clientID      = "kstack-console"
)

func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func setCookie(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, MaxAge: int(maxAge.Seconds()),
	})
}

func clearCookie(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: -1})
}

// csrfToken is derived from the session's random ID, which only the
// browser's HttpOnly cookie holds: a page of another site can neither read
// it nor compute the token.
func csrfToken(sid string) string {
	sum := sha256.Sum256([]byte("kstack-console-csrf\x00" + sid))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func (r *request) checkCSRF() error {
	if o := r.Header.Get("Origin"); o != "" && o != "https://"+r.Host {
		return fmt.Errorf("the request came from %s, not from the console's own pages", o)
	}
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		got = r.PostFormValue("csrf")
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(r.csrf)) != 1 {
		return errors.New("the form's security token is missing or out of date: reload the page and try again")
	}
	return nil
}

// loginState is kept in a short-lived cookie between the redirect to the
// OpenID provider and the callback.
type loginState struct {
	State    string `json:"s"`
	Verifier string `json:"v"`
	Next     string `json:"n"`
}

// safeNext keeps a post-login redirect inside the console.
func safeNext(next string) string {
	if !strings.HasPrefix(next, Prefix+"/") || strings.HasPrefix(next, "//") || strings.Contains(next, "\\") {
		return Prefix + "/"
	}
	if u, err := url.Parse(next); err != nil || u.Host != "" || u.Scheme != "" {
		return Prefix + "/"
	}
	return next
}

// login starts the authorization code flow with PKCE at the platform's
// own OpenID provider.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	st := loginState{State: randomString(24), Verifier: randomString(32), Next: safeNext(r.URL.Query().Get("next"))}
	data, _ := json.Marshal(st)
	setCookie(w, cookieLogin, base64.RawURLEncoding.EncodeToString(data), 15*time.Minute)
	challenge := sha256.Sum256([]byte(st.Verifier))
	q := url.Values{
		"client_id":             {clientID},
		"response_type":         {"code"},
		"scope":                 {"openid profile offline_access"},
		"redirect_uri":          {s.redirectURI()},
		"state":                 {st.State},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(challenge[:])},
		"code_challenge_method": {"S256"},
	}
	http.Redirect(w, r, s.Issuer+"/authorize?"+q.Encode(), http.StatusFound)
}

func (s *Server) redirectURI() string {
	return strings.TrimSuffix(s.ExternalURL, "/") + Prefix + "/callback"
}

// tokens is the token endpoint's answer.
type tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int    `json:"expires_in"`
	Error        string `json:"error"`
	Description  string `json:"error_description"`
}

// oidcPost posts a form to the provider in-process.
func (s *Server) oidcPost(r *http.Request, path string, form url.Values) (int, []byte) {
	req := httptest.NewRequestWithContext(r.Context(), http.MethodPost, s.Issuer+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	u, _ := url.Parse(s.Issuer)
	req.URL.Path = strings.TrimPrefix(req.URL.Path, u.Path)
	req.Host = u.Host
	rec := httptest.NewRecorder()
	s.OIDC.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

func (s *Server) tokenRequest(r *http.Request, form url.Values) (*tokens, error) {
	form.Set("client_id", clientID)
	code, body := s.oidcPost(r, "/oauth/token", form)
	var t tokens
	if err := json.Unmarshal(body, &t); err != nil {
		return nil, fmt.Errorf("the OpenID provider answered %d: %s", code, strings.TrimSpace(string(body)))
	}
	if code != http.StatusOK || t.AccessToken == "" {
		msg := t.Description
		if msg == "" {
			msg = t.Error
		}
		return nil, fmt.Errorf("the login could not be completed: %s", msg)
	}
	return &t, nil
}

func (s *Server) startSession(w http.ResponseWriter, t *tokens) string {
	sid := randomString(32)
	s.setTokens(w, t)
	setCookie(w, cookieSID, sid, 0)
	return sid
}

func (s *Server) setTokens(w http.ResponseWriter, t *tokens) {
	// Browser-session cookies: they go when the browser closes; the
	// refresh token's own lifetime bounds the session on the server.
	setCookie(w, cookieAccess, t.AccessToken, 0)
	if t.RefreshToken != "" {
		setCookie(w, cookieRefresh, t.RefreshToken, 0)
	}
}

func (s *Server) callback(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie(cookieLogin)
	var st loginState
	if err == nil {
		data, derr := base64.RawURLEncoding.DecodeString(c.Value)
		err = errors.Join(derr, json.Unmarshal(data, &st))
	}
	q := r.URL.Query()
	switch {
	case err != nil || st.State == "":
		s.fail(w, r, http.StatusBadRequest, "this login has no pending request in this browser (it may have taken over 15 minutes): log in again")
		return
	case subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(st.State)) != 1:
		s.fail(w, r, http.StatusBadRequest, "the login's state does not match this browser's: log in again")
		return
	case q.Get("error") != "":
		s.fail(w, r, http.StatusUnauthorized, "the login was refused: "+q.Get("error")+" "+q.Get("error_description"))
		return
	}
	clearCookie(w, cookieLogin)
	t, err := s.tokenRequest(r, url.Values{
		"grant_type": {"authorization_code"}, "code": {q.Get("code")},
		"redirect_uri": {s.redirectURI()}, "code_verifier": {st.Verifier},
	})
	if err != nil {
		s.fail(w, r, http.StatusUnauthorized, err.Error())
		return
	}
	s.startSession(w, t)
	http.Redirect(w, r, safeNext(st.Next), http.StatusFound)
}

// session finds the logged-in user, refreshing an expired access token.
// When there is none it sends the browser to log in and reports false.
func (s *Server) session(w http.ResponseWriter, r *http.Request) (*directory.Principal, string, bool) {
	toLogin := func(reason string) (*directory.Principal, string, bool) {
		u := Prefix + "/login?next=" + url.QueryEscape(r.URL.RequestURI())
		if reason != "" {
			u = Prefix + "/logged-out?reason=" + url.QueryEscape(reason) + "&next=" + url.QueryEscape(r.URL.RequestURI())
		}
		if r.Method != http.MethodGet {
			u = Prefix + "/logged-out?reason=" + url.QueryEscape(reason)
		}
		redirect(w, r, u)
		return nil, "", false
	}
	sid, err := r.Cookie(cookieSID)
	if err != nil || sid.Value == "" {
		return toLogin("")
	}
	at, err := r.Cookie(cookieAccess)
	if err == nil {
		if p, err := s.Authenticate(r.Context(), at.Value); err == nil && p != nil {
			return p, sid.Value, true
		}
	}
	rt, err := r.Cookie(cookieRefresh)
	if err != nil || rt.Value == "" {
		return toLogin("ended")
	}
	t, err := s.tokenRequest(r, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt.Value}})
	if err != nil {
		for _, c := range []string{cookieAccess, cookieRefresh, cookieSID} {
			clearCookie(w, c)
		}
		return toLogin("expired")
	}
	p, err := s.Authenticate(r.Context(), t.AccessToken)
	if err != nil || p == nil {
		return toLogin("renewal")
	}
	s.setTokens(w, t)
	return p, sid.Value, true
}

// logout revokes the session's refresh token (which ends the session on
// the server) and forgets the cookies.
func (s *Server) logout(w http.ResponseWriter, r *request) {
	if rt, err := r.Cookie(cookieRefresh); err == nil && rt.Value != "" {
		code, body := s.oidcPost(r.Request, "/revoke", url.Values{"token": {rt.Value}, "token_type_hint": {"refresh_token"}, "client_id": {clientID}})
		if code != http.StatusOK {
			s.Log.Warn("revoking a console session", "code", code, "body", strings.TrimSpace(string(body)))
		}
	}
	for _, c := range []string{cookieAccess, cookieRefresh, cookieSID} {
		clearCookie(w, c)
	}
	s.Log.Info("console logout", "user", r.user.Name())
	redirect(w, r.Request, Prefix+"/logged-out?reason=logout")
}

var loggedOutReasons = map[string]string{
	"logout":  "You have logged out.",
	"ended":   "Your session has ended. Log in again.",
	"expired": "Your session has expired or was revoked. Log in again.",
	"renewal": "Your session could not be renewed. Log in again.",
}

func (s *Server) loggedOut(w http.ResponseWriter, r *http.Request) {
	// Fixed texts: a link cannot make the console say something of its own.
	reason, ok := loggedOutReasons[r.URL.Query().Get("reason")]
	if !ok {
		reason = "You are not logged in."
	}
	s.execute(w, http.StatusOK, "loggedout", "layout", view{Notice: reason, Title: "Log in", Data: safeNext(r.URL.Query().Get("next"))})
}
