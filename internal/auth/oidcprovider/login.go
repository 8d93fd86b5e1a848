package oidcprovider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1 "github.com/kstack/kstack/api/auth/v1"
	"github.com/kstack/kstack/internal/auth/account"
	"github.com/kstack/kstack/internal/auth/ldap"
)

// LoginError is a login refused, with the message to show.
type LoginError struct{ Msg string }

func (e *LoginError) Error() string { return e.Msg }

var errBadCredentials = &LoginError{Msg: "wrong username or password"}

// LoginErrorHeader carries a refused login's message to programs (kstack login).
const LoginErrorHeader = "X-Kstack-Login-Error"

// PasswordLogin checks a password against the tenant's identity provider
// (LDAP) or its local users, and keeps count of failures.
func (p *Provider) PasswordLogin(ctx context.Context, tenant, username, password string) (*authv1.User, []string, error) {
	if tenant == "" {
		tenant = authv1.DefaultTenant
	}
	if account.ValidateTenant(tenant) != nil && tenant != authv1.DefaultTenant || len(username) == 0 || len(username) > 256 || password == "" || len(password) > 1024 {
		account.CheckMissing(password)
		return nil, nil, errBadCredentials
	}
	var idp authv1.IdentityProvider
	err := p.Client.Get(ctx, client.ObjectKey{Name: tenant}, &idp)
	switch {
	case apierrors.IsNotFound(err):
		return p.localLogin(ctx, tenant, username, password)
	case err != nil:
		return nil, nil, fmt.Errorf("reading the identity provider of tenant %s: %w", tenant, err)
	}
	switch idp.Spec.Type {
	case authv1.IdentityProviderLDAP:
		return p.ldapLogin(ctx, &idp, username, password)
	case authv1.IdentityProviderOIDC:
		return nil, nil, &LoginError{Msg: fmt.Sprintf("tenant %s logs in through its OpenID Connect issuer: use the button for it on the login page", tenant)}
	}
	return nil, nil, &LoginError{Msg: fmt.Sprintf("tenant %s has an identity provider of unknown type %q", tenant, idp.Spec.Type)}
}

func (p *Provider) localLogin(ctx context.Context, tenant, username, password string) (*authv1.User, []string, error) {
	u, err := p.Dir.User(ctx, tenant, username)
	if apierrors.IsNotFound(err) {
		account.CheckMissing(password)
		return nil, nil, errBadCredentials
	}
	if err != nil {
		return nil, nil, err
	}
	if err := p.checkLock(u); err != nil {
		return nil, nil, err
	}
	var li authv1.LocalIdentity
	if err := p.Reader.Get(ctx, client.ObjectKey{Name: u.Name}, &li); err != nil {
		account.CheckMissing(password)
		return nil, nil, p.failed(ctx, u)
	}
	if !account.Check(li.Spec.PasswordHash, password) {
		return nil, nil, p.failed(ctx, u)
	}
	if u.Spec.Disabled {
		return nil, nil, &LoginError{Msg: "this account is disabled: ask an administrator"}
	}
	return p.succeeded(ctx, u, nil), []string{"pwd"}, nil
}

func (p *Provider) checkLock(u *authv1.User) error {
	if l := u.Status.LockedUntil; l != nil && time.Now().Before(l.Time) {
		return &LoginError{Msg: fmt.Sprintf("this account is locked after %d failed logins until %s: try again later or ask an administrator", u.Status.FailedLogins, l.UTC().Format("15:04:05 MST"))}
	}
	return nil
}

// failed counts a failed login and locks the account at the limit.
func (p *Provider) failed(ctx context.Context, u *authv1.User) error {
	var locked bool
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var cur authv1.User
		if err := p.Reader.Get(ctx, client.ObjectKey{Name: u.Name}, &cur); err != nil {
			return err
		}
		cur.Status.FailedLogins++
		if cur.Status.FailedLogins >= p.MaxFailedLogins {
			until := metav1.NewTime(time.Now().Add(p.LockDuration))
			cur.Status.LockedUntil = &until
			locked = true
		}
		return p.Client.Status().Update(ctx, &cur)
	})
	if err != nil {
		p.Log.Warn("recording a failed login", "user", u.Name, "err", err)
	}
	if locked {
		p.Log.Warn("account locked after failed logins", "user", u.Name, "for", p.LockDuration.String())
	}
	return errBadCredentials
}

// succeeded resets the failure count and notes the login (and, for
// external identities, the groups the provider named).
func (p *Provider) succeeded(ctx context.Context, u *authv1.User, groups []string) *authv1.User {
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var cur authv1.User
		if err := p.Reader.Get(ctx, client.ObjectKey{Name: u.Name}, &cur); err != nil {
			return err
		}
		now := metav1.Now()
		cur.Status.FailedLogins, cur.Status.LockedUntil, cur.Status.LastLoginTime = 0, nil, &now
		if groups != nil {
			cur.Status.Groups = groups
		}
		if err := p.Client.Status().Update(ctx, &cur); err != nil {
			return err
		}
		u = &cur
		return nil
	})
	if err != nil {
		p.Log.Warn("recording a login", "user", u.Name, "err", err)
	}
	return u
}

// idpSecret reads a secret value of an identity provider.
func (p *Provider) idpSecret(ctx context.Context, idp *authv1.IdentityProvider, key string) (string, error) {
	if idp.Spec.SecretRef == nil {
		return "", nil
	}
	return readSecret(ctx, p.Reader, p.Namespace, idp.Spec.SecretRef.Name, key)
}

func (p *Provider) ldapLogin(ctx context.Context, idp *authv1.IdentityProvider, username, password string) (*authv1.User, []string, error) {
	// The bind password lives in the provider's Secret, not in its config.
	raw := map[string]any{}
	if err := json.Unmarshal([]byte(idp.Spec.Config), &raw); err != nil {
		return nil, nil, fmt.Errorf("the LDAP configuration of tenant %s is not valid JSON: %w", idp.Name, err)
	}
	if pw, err := p.idpSecret(ctx, idp, "bindPW"); err != nil {
		return nil, nil, err
	} else if pw != "" {
		raw["bindPW"] = pw
	}
	merged, _ := json.Marshal(raw)
	cfg, err := ldap.ParseConfig(merged)
	if err != nil {
		return nil, nil, fmt.Errorf("the LDAP configuration of tenant %s is not valid: %w", idp.Name, err)
	}
	if account.ValidateUsername(username) != nil {
		return nil, nil, errBadCredentials
	}
	existing, err := p.Dir.User(ctx, idp.Name, username)
	if err == nil {
		if err := p.checkLock(existing); err != nil {
			return nil, nil, err
		}
	}
	conn, err := ldap.New(cfg)
	if err != nil {
		return nil, nil, err
	}
	id, err := conn.Login(ctx, username, password)
	if errors.Is(err, ldap.ErrInvalidCredentials) {
		if existing != nil {
			return nil, nil, p.failed(ctx, existing)
		}
		return nil, nil, errBadCredentials
	}
	if err != nil {
		p.Log.Warn("LDAP login failed", "tenant", idp.Name, "err", err)
		return nil, nil, &LoginError{Msg: fmt.Sprintf("the directory of tenant %s cannot be used now (%v); local accounts still work", idp.Name, err)}
	}
	u, err := p.upsertExternal(ctx, idp.Name, username, id.DisplayName, id.Email)
	if err != nil {
		return nil, nil, err
	}
	if u.Spec.Disabled {
		return nil, nil, &LoginError{Msg: "this account is disabled: ask an administrator"}
	}
	groups := id.Groups
	if groups == nil {
		groups = []string{}
	}
	return p.succeeded(ctx, u, groups), []string{"pwd", "ldap"}, nil
}

// upsertExternal makes (or refreshes) the User of someone an external
// identity provider vouched for.
func (p *Provider) upsertExternal(ctx context.Context, tenant, username, display, email string) (*authv1.User, error) {
	u, err := p.Dir.User(ctx, tenant, username)
	if apierrors.IsNotFound(err) {
		u = &authv1.User{
			ObjectMeta: metav1.ObjectMeta{Name: authv1.ObjectName(tenant, username), Labels: map[string]string{authv1.LabelTenant: tenant}},
			Spec:       authv1.UserSpec{TenantID: tenant, Username: username, DisplayName: display, Email: email, IdentityProvider: tenant},
		}
		if err := p.Client.Create(ctx, u); err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("recording user %s: %w", username, err)
		}
		return p.Dir.User(ctx, tenant, username)
	}
	if err != nil {
		return nil, err
	}
	if u.Spec.DisplayName != display || u.Spec.Email != email {
		u.Spec.DisplayName, u.Spec.Email = display, email
		if err := p.Client.Update(ctx, u); err != nil {
			p.Log.Warn("refreshing a user's details", "user", u.Name, "err", err)
		}
	}
	return u, nil
}

var loginTmpl = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Log in to kstack</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body>
<main>
<h1>Log in to kstack</h1>
{{if .Error}}<p role="alert" id="login-error">{{.Error}}</p>{{end}}
<form method="post" action="login">
<input type="hidden" name="authRequestID" value="{{.ID}}">
<p><label for="tenant">Tenant</label><br><input id="tenant" name="tenant" value="{{.Tenant}}" autocomplete="organization"></p>
<p><label for="username">Account</label><br><input id="username" name="username" value="{{.Username}}" autocomplete="username" required autofocus></p>
<p><label for="password">Password</label><br><input id="password" name="password" type="password" autocomplete="current-password" required></p>
<p><button type="submit">Log in</button></p>
</form>
{{range .External}}<p><a href="login/external?authRequestID={{$.ID}}&amp;idp={{.Name}}">Log in with {{.Display}}</a></p>{{end}}
</main>
</body></html>
`))

type externalIDP struct{ Name, Display string }

type loginView struct {
	ID, Tenant, Username, Error string
	External                    []externalIDP
}

func (p *Provider) loginPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	switch r.Method {
	case http.MethodGet:
		id := r.URL.Query().Get("authRequestID")
		if _, err := p.request(id); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		p.renderLogin(w, r, http.StatusOK, loginView{ID: id, Tenant: authv1.DefaultTenant})
	case http.MethodPost:
		if !p.sameOrigin(r) {
			http.Error(w, "the login form was posted from another site", http.StatusForbidden)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
		if err := r.ParseForm(); err != nil {
			http.Error(w, "the login form is malformed", http.StatusBadRequest)
			return
		}
		id := r.PostForm.Get("authRequestID")
		a, err := p.request(id)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		tenant, username := r.PostForm.Get("tenant"), r.PostForm.Get("username")
		if tenant == "" {
			tenant = authv1.DefaultTenant
		}
		u, amr, err := p.PasswordLogin(r.Context(), tenant, username, r.PostForm.Get("password"))
		if err != nil {
			msg := "the login failed; try again"
			var le *LoginError
			if errors.As(err, &le) {
				msg = le.Msg
			} else {
				p.Log.Error("login failed", "tenant", tenant, "err", err)
			}
			w.Header().Set(LoginErrorHeader, headerSafe(msg))
			p.renderLogin(w, r, http.StatusUnauthorized, loginView{ID: id, Tenant: tenant, Username: username, Error: msg})
			return
		}
		p.complete(a, u, amr)
		p.Log.Info("login", "tenant", u.Spec.TenantID, "user", u.Spec.Username, "client", a.oidc.ClientID, "amr", amr)
		http.Redirect(w, r, p.callbackURL(id), http.StatusFound)
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "use GET or POST", http.StatusMethodNotAllowed)
	}
}

func (p *Provider) complete(a *authRequest, u *authv1.User, amr []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	a.tenant, a.username, a.amr, a.authTime, a.done = u.Spec.TenantID, u.Spec.Username, amr, time.Now(), true
}

func (p *Provider) renderLogin(w http.ResponseWriter, r *http.Request, code int, v loginView) {
	var idps authv1.IdentityProviderList
	if err := p.Client.List(r.Context(), &idps); err == nil {
		for _, i := range idps.Items {
			if i.Spec.Type == authv1.IdentityProviderOIDC {
				d := i.Spec.DisplayName
				if d == "" {
					d = i.Name
				}
				v.External = append(v.External, externalIDP{Name: i.Name, Display: d})
			}
		}
	}
	slices.SortFunc(v.External, func(a, b externalIDP) int { return compare(a.Name, b.Name) })
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_ = loginTmpl.Execute(w, v)
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// headerSafe keeps a message (which may quote an external issuer's error)
// to one printable line for a response header.
func headerSafe(s string) string {
	b := []rune{}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			r = ' '
		}
		b = append(b, r)
	}
	if len(b) > 300 {
		b = b[:300]
	}
	return string(b)
}
