package authapi

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1 "github.com/kstack/kstack/api/auth/v1"
	businessv1 "github.com/kstack/kstack/api/business/v1"
	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/auth/account"
	"github.com/kstack/kstack/internal/auth/attributes"
	"github.com/kstack/kstack/internal/auth/authn"
	"github.com/kstack/kstack/internal/auth/decision"
	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/auth/ldap"
	"github.com/kstack/kstack/internal/auth/oidcprovider"
)

// decide asks the decision point about one platform action.
func (m *Module) decide(ctx context.Context, p *directory.Principal, action, kind, name, objTenant string) error {
	res := kind + ":" + name
	if name == "" {
		res = kind + ":*"
	}
	d := m.Decider.Platform(ctx, p, attributes.Attributes{Action: action, Resource: res, Kind: kind, Name: name}, objTenant)
	if d.NotFound {
		return apigroup.Refuse(http.StatusNotFound, "%s %q not found", kind, name)
	}
	if !d.Allowed {
		return apigroup.Refuse(http.StatusForbidden, "%s may not %s on %s: %s", p.Name(), action, res, d.Reason)
	}
	return nil
}

func (m *Module) whoami(w http.ResponseWriter, r *http.Request, p *directory.Principal) {
	out := authv1.Whoami{Username: p.Username, Tenant: p.Tenant, Groups: p.Groups, SuperAdmin: decision.Admin(p), Method: p.Method}
	if pols, err := m.Decider.Dir.Policies(r.Context(), p, ""); err == nil {
		for _, pol := range pols {
			out.Policies = append(out.Policies, pol.Name)
		}
	}
	apigroup.WriteJSON(w, http.StatusOK, out)
}

func (m *Module) createUser(w http.ResponseWriter, r *http.Request, p *directory.Principal) {
	ctx := r.Context()
	var in authv1.CreateUserRequest
	if err := apigroup.DecodeBody(r, &in); err != nil {
		apigroup.WriteError(w, err)
		return
	}
	if err := m.decide(ctx, p, "createUser", "user", "", ""); err != nil {
		apigroup.WriteError(w, err)
		return
	}
	spec := in.Spec
	if spec.TenantID == "" || !decision.Admin(p) {
		if spec.TenantID != "" && spec.TenantID != p.Tenant {
			apigroup.WriteError(w, apigroup.Refuse(http.StatusForbidden, "you may not create users in tenant %q", spec.TenantID))
			return
		}
		spec.TenantID = p.Tenant
	}
	if spec.IdentityProvider == "" {
		spec.IdentityProvider = authv1.LocalProvider
	}
	if spec.TenantID != authv1.DefaultTenant {
		if err := account.ValidateTenant(spec.TenantID); err != nil {
			apigroup.WriteError(w, apigroup.Refuse(http.StatusUnprocessableEntity, "%v", err))
			return
		}
	}
	if err := account.ValidateUsername(spec.Username); err != nil {
		apigroup.WriteError(w, apigroup.Refuse(http.StatusUnprocessableEntity, "%v", err))
		return
	}
	var hash []byte
	if in.Password != "" {
		if err := account.ValidatePassword(in.Password); err != nil {
			apigroup.WriteError(w, apigroup.Refuse(http.StatusUnprocessableEntity, "%v", err))
			return
		}
		var err error
		if hash, err = account.Hash(in.Password); err != nil {
			apigroup.WriteError(w, err)
			return
		}
	}
	var bindings []*authv1.PolicyBinding
	for _, pol := range in.Policies {
		b := &authv1.PolicyBinding{
			ObjectMeta: metav1.ObjectMeta{Name: authv1.ObjectName(spec.TenantID, spec.Username) + "." + pol, Labels: map[string]string{authv1.LabelTenant: spec.TenantID}},
			Spec:       authv1.PolicyBindingSpec{TenantID: spec.TenantID, PolicyName: pol, Users: []string{spec.Username}},
		}
		if err := m.checkGrantTyped(ctx, p, b); err != nil {
			apigroup.WriteError(w, err)
			return
		}
		bindings = append(bindings, b)
	}
	u := &authv1.User{
		ObjectMeta: metav1.ObjectMeta{Name: authv1.ObjectName(spec.TenantID, spec.Username), Labels: map[string]string{authv1.LabelTenant: spec.TenantID}},
		Spec:       spec,
	}
	if err := m.Client.Create(ctx, u); err != nil {
		if apierrors.IsAlreadyExists(err) {
			apigroup.WriteError(w, apigroup.Refuse(http.StatusConflict, "user %s already exists in tenant %s", spec.Username, spec.TenantID))
			return
		}
		if apierrors.IsInvalid(err) {
			apigroup.WriteError(w, apigroup.Refuse(http.StatusUnprocessableEntity, "%v", err))
			return
		}
		apigroup.WriteError(w, err)
		return
	}
	// Nothing half-made: a failure below removes what was created.
	made := []client.Object{u}
	undo := func(err error) {
		for i := len(made) - 1; i >= 0; i-- {
			_ = m.Client.Delete(context.Background(), made[i])
		}
		apigroup.WriteError(w, err)
	}
	if hash != nil {
		now := metav1.Now()
		li := &authv1.LocalIdentity{
			ObjectMeta: metav1.ObjectMeta{Name: u.Name, Labels: map[string]string{authv1.LabelTenant: spec.TenantID}, OwnerReferences: authv1.OwnedBy(u)},
			Spec:       authv1.LocalIdentitySpec{TenantID: spec.TenantID, Username: spec.Username, PasswordHash: hash, PasswordChangedAt: &now},
		}
		if err := m.Client.Create(ctx, li); err != nil {
			undo(fmt.Errorf("storing the password: %w", err))
			return
		}
		made = append(made, li)
	}
	for _, b := range bindings {
		b.OwnerReferences = authv1.OwnedBy(u)
		if err := m.Client.Create(ctx, b); err != nil && !apierrors.IsAlreadyExists(err) {
			undo(fmt.Errorf("binding policy %s: %w", b.Spec.PolicyName, err))
			return
		}
		made = append(made, b)
	}
	m.Log.Info("user created", "tenant", spec.TenantID, "user", spec.Username, "by", p.Name(), "policies", in.Policies)
	u.APIVersion, u.Kind = authv1.GroupVersion.String(), "User"
	apigroup.WriteJSON(w, http.StatusCreated, u)
}

func (m *Module) checkGrantTyped(ctx context.Context, p *directory.Principal, b *authv1.PolicyBinding) error {
	var pol authv1.Policy
	if err := m.Reader.Get(ctx, client.ObjectKey{Name: b.Spec.PolicyName}, &pol); err != nil {
		return apigroup.Refuse(http.StatusUnprocessableEntity, "the binding names policy %q, which does not exist", b.Spec.PolicyName)
	}
	if pol.Spec.TenantID != "" && pol.Spec.TenantID != b.Spec.TenantID {
		// Another tenant's policy is told apart from a missing one by no one.
		return apigroup.Refuse(http.StatusUnprocessableEntity, "the binding names policy %q, which does not exist", b.Spec.PolicyName)
	}
	if id := b.Spec.ProjectID; id != "" {
		var prj businessv1.Project
		if err := m.Reader.Get(ctx, client.ObjectKey{Name: id}, &prj); err != nil || prj.Spec.TenantID != b.Spec.TenantID {
			return apigroup.Invalid("spec.projectID: there is no project %q in tenant %s", id, b.Spec.TenantID)
		}
	}
	if decision.Admin(p) {
		return nil
	}
	return m.covers(ctx, p, b.Spec.ProjectID, []authv1.Policy{pol})
}

func (m *Module) setPassword(w http.ResponseWriter, r *http.Request, p *directory.Principal, name string) {
	ctx := r.Context()
	if r.Method != http.MethodPut {
		apigroup.MethodNotAllowed(w, "use PUT to set a password")
		return
	}
	var in authv1.PasswordRequest
	if err := apigroup.DecodeBody(r, &in); err != nil {
		apigroup.WriteError(w, err)
		return
	}
	var u authv1.User
	if err := m.Reader.Get(ctx, client.ObjectKey{Name: name}, &u); err != nil {
		apigroup.WriteError(w, apigroup.Refuse(http.StatusNotFound, "user %q not found", name))
		return
	}
	self := u.Spec.TenantID == p.Tenant && u.Spec.Username == p.Username
	if self && !decision.Admin(p) {
		var li authv1.LocalIdentity
		if err := m.Reader.Get(ctx, client.ObjectKey{Name: name}, &li); err != nil || !account.Check(li.Spec.PasswordHash, in.OldPassword) {
			apigroup.WriteError(w, apigroup.Refuse(http.StatusForbidden, "the old password is wrong"))
			return
		}
	} else if err := m.decide(ctx, p, "updateUser", "user", name, u.Spec.TenantID); err != nil {
		apigroup.WriteError(w, err)
		return
	}
	if u.Spec.IdentityProvider != "" && u.Spec.IdentityProvider != authv1.LocalProvider {
		apigroup.WriteError(w, apigroup.Refuse(http.StatusUnprocessableEntity, "user %s logs in through identity provider %s: change the password there", name, u.Spec.IdentityProvider))
		return
	}
	if err := account.ValidatePassword(in.Password); err != nil {
		apigroup.WriteError(w, apigroup.Refuse(http.StatusUnprocessableEntity, "%v", err))
		return
	}
	if err := SetPassword(ctx, m.Client, &u, in.Password, p.Session); err != nil {
		apigroup.WriteError(w, err)
		return
	}
	m.Log.Info("password set", "user", name, "by", p.Name())
	apigroup.WriteJSON(w, http.StatusOK, map[string]string{"status": "password changed; other sessions of the user were ended"})
}

// SetPassword stores a new password hash, unlocks the account and ends the
// user's sessions (all but keep), so that a stolen session dies with the
// old password. kstack admin reset-password uses it too.
func SetPassword(ctx context.Context, c client.Client, u *authv1.User, password, keep string) error {
	hash, err := account.Hash(password)
	if err != nil {
		return err
	}
	now := metav1.Now()
	var li authv1.LocalIdentity
	err = c.Get(ctx, client.ObjectKey{Name: u.Name}, &li)
	switch {
	case apierrors.IsNotFound(err):
		li = authv1.LocalIdentity{
			ObjectMeta: metav1.ObjectMeta{Name: u.Name, Labels: map[string]string{authv1.LabelTenant: u.Spec.TenantID}, OwnerReferences: authv1.OwnedBy(u)},
			Spec:       authv1.LocalIdentitySpec{TenantID: u.Spec.TenantID, Username: u.Spec.Username, PasswordHash: hash, PasswordChangedAt: &now},
		}
		err = c.Create(ctx, &li)
	case err == nil:
		li.Spec.PasswordHash, li.Spec.PasswordChangedAt = hash, &now
		err = c.Update(ctx, &li)
	}
	if err != nil {
		return fmt.Errorf("storing the password: %w", err)
	}
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var cur authv1.User
		if err := c.Get(ctx, client.ObjectKey{Name: u.Name}, &cur); err != nil {
			return err
		}
		cur.Status.FailedLogins, cur.Status.LockedUntil = 0, nil
		return c.Status().Update(ctx, &cur)
	})
	if err != nil {
		return fmt.Errorf("unlocking the account: %w", err)
	}
	var sessions authv1.SessionList
	if err := c.List(ctx, &sessions, client.MatchingLabels{authv1.LabelTenant: u.Spec.TenantID, authv1.LabelOwner: u.Spec.Username}); err != nil {
		return err
	}
	for i := range sessions.Items {
		if sessions.Items[i].Name != keep {
			if err := client.IgnoreNotFound(c.Delete(ctx, &sessions.Items[i])); err != nil {
				return err
			}
		}
	}
	return nil
}

func keyView(k *authv1.APIKey) authv1.APIKeyView {
	return authv1.APIKeyView{Name: k.Name, Username: k.Spec.Username, Description: k.Spec.Description, ExpiresAt: k.Spec.ExpiresAt,
		Disabled: k.Spec.Disabled, Expired: !time.Now().Before(k.Spec.ExpiresAt.Time), Created: k.CreationTimestamp}
}

// ParseExpiry reads an access key's lifetime: a whole number of hours or
// minutes ("24h", "30m"), at most a year.
func ParseExpiry(s string) (time.Duration, error) {
	if len(s) < 2 || (s[len(s)-1] != 'h' && s[len(s)-1] != 'm') {
		return 0, fmt.Errorf("expiresIn %q must be a number of hours or minutes, e.g. 24h or 30m", s)
	}
	var n int
	if _, err := fmt.Sscanf(s[:len(s)-1], "%d", &n); err != nil || fmt.Sprint(n) != s[:len(s)-1] || n <= 0 {
		return 0, fmt.Errorf("expiresIn %q must be a positive whole number of hours or minutes, e.g. 24h or 30m", s)
	}
	d := time.Duration(n) * time.Hour
	if s[len(s)-1] == 'm' {
		d = time.Duration(n) * time.Minute
	}
	if d > 366*24*time.Hour {
		return 0, fmt.Errorf("expiresIn %q is longer than a year", s)
	}
	return d, nil
}

func (m *Module) apiKeys(w http.ResponseWriter, r *http.Request, p *directory.Principal, name string) {
	ctx := r.Context()
	if p.Method == "cert" || p.Method == "admin-token" {
		apigroup.WriteError(w, apigroup.Refuse(http.StatusForbidden, "access keys belong to users: log in as one (kstack login) to manage yours"))
		return
	}
	owned := func() (*authv1.APIKey, error) {
		var k authv1.APIKey
		if err := m.Reader.Get(ctx, client.ObjectKey{Name: name}, &k); err != nil || k.Spec.TenantID != p.Tenant || k.Spec.Username != p.Username {
			return nil, apigroup.Refuse(http.StatusNotFound, "you have no access key %q", name)
		}
		return &k, nil
	}
	switch {
	case name == "" && r.Method == http.MethodGet:
		var list authv1.APIKeyList
		if err := m.Reader.List(ctx, &list, client.MatchingLabels{authv1.LabelTenant: p.Tenant, authv1.LabelOwner: p.Username}); err != nil {
			apigroup.WriteError(w, err)
			return
		}
		out := []authv1.APIKeyView{}
		for i := range list.Items {
			out = append(out, keyView(&list.Items[i]))
		}
		apigroup.WriteJSON(w, http.StatusOK, map[string]any{"items": out})
	case name == "" && r.Method == http.MethodPost:
		var in authv1.APIKeyRequest
		if err := apigroup.DecodeBody(r, &in); err != nil {
			apigroup.WriteError(w, err)
			return
		}
		d, err := ParseExpiry(in.ExpiresIn)
		if err != nil {
			apigroup.WriteError(w, apigroup.Refuse(http.StatusUnprocessableEntity, "%v", err))
			return
		}
		if len(in.Description) > 255 {
			apigroup.WriteError(w, apigroup.Refuse(http.StatusUnprocessableEntity, "the description is longer than 255 characters"))
			return
		}
		secret := make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			apigroup.WriteError(w, err)
			return
		}
		sec := base64.RawURLEncoding.EncodeToString(secret)
		var owner authv1.User
		if err := m.Reader.Get(ctx, client.ObjectKey{Name: authv1.ObjectName(p.Tenant, p.Username)}, &owner); err != nil {
			apigroup.WriteError(w, apigroup.Refuse(http.StatusForbidden, "access keys belong to users, and %s is not one", p.Name()))
			return
		}
		k := &authv1.APIKey{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "ak-", Labels: map[string]string{authv1.LabelTenant: p.Tenant, authv1.LabelOwner: p.Username},
				OwnerReferences: authv1.OwnedBy(&owner)},
			Spec: authv1.APIKeySpec{TenantID: p.Tenant, Username: p.Username, Description: in.Description,
				ExpiresAt: metav1.NewTime(time.Now().Add(d).Truncate(time.Second)), SecretHash: authn.HashSecret(sec)},
		}
		if err := m.Client.Create(ctx, k); err != nil {
			apigroup.WriteError(w, err)
			return
		}
		v := keyView(k)
		v.Key = authn.APIKeyPrefix + k.Name + "_" + sec
		m.Log.Info("access key created", "key", k.Name, "user", p.Name(), "expires", k.Spec.ExpiresAt.Time)
		apigroup.WriteJSON(w, http.StatusCreated, v)
	case name != "" && r.Method == http.MethodGet:
		k, err := owned()
		if err != nil {
			apigroup.WriteError(w, err)
			return
		}
		apigroup.WriteJSON(w, http.StatusOK, keyView(k))
	case name != "" && (r.Method == http.MethodPatch || r.Method == http.MethodPut):
		var in struct {
			Disabled *bool `json:"disabled"`
		}
		if err := apigroup.DecodeBody(r, &in); err != nil {
			apigroup.WriteError(w, err)
			return
		}
		if in.Disabled == nil {
			apigroup.WriteError(w, apigroup.Refuse(http.StatusUnprocessableEntity, `send {"disabled": true} or {"disabled": false}`))
			return
		}
		k, err := owned()
		if err != nil {
			apigroup.WriteError(w, err)
			return
		}
		k.Spec.Disabled = *in.Disabled
		if err := m.Client.Update(ctx, k); err != nil {
			apigroup.WriteError(w, err)
			return
		}
		apigroup.WriteJSON(w, http.StatusOK, keyView(k))
	case name != "" && r.Method == http.MethodDelete:
		k, err := owned()
		if err != nil {
			apigroup.WriteError(w, err)
			return
		}
		if err := m.Client.Delete(ctx, k); client.IgnoreNotFound(err) != nil {
			apigroup.WriteError(w, err)
			return
		}
		apigroup.WriteJSON(w, http.StatusOK, map[string]string{"status": "deleted"})
	default:
		apigroup.MethodNotAllowed(w, "access keys: GET and POST the collection; GET, PATCH {\"disabled\":bool} and DELETE one")
	}
}

// createIdentityProvider stores an identity provider with its secrets
// moved out of the configuration into a Secret, and binds its
// administrators.
func (m *Module) createIdentityProvider(w http.ResponseWriter, r *http.Request, p *directory.Principal) {
	ctx := r.Context()
	if !decision.Admin(p) {
		apigroup.WriteError(w, apigroup.Refuse(http.StatusForbidden, "identity providers are managed by platform administrators"))
		return
	}
	var idp authv1.IdentityProvider
	if err := apigroup.DecodeBody(r, &idp); err != nil {
		apigroup.WriteError(w, err)
		return
	}
	// TKEStack's body names the tenant twice (seed 004 §8.3.1).
	if idp.Name == "" {
		idp.Name = idp.Spec.Name
	}
	if idp.Spec.Name != "" && idp.Spec.Name != idp.Name {
		apigroup.WriteError(w, apigroup.Refuse(http.StatusUnprocessableEntity, "spec.name %q and metadata.name %q differ: both are the tenant ID of the identity provider", idp.Spec.Name, idp.Name))
		return
	}
	idp.Spec.Name = idp.Name
	if err := account.ValidateTenant(idp.Name); err != nil {
		apigroup.WriteError(w, apigroup.Refuse(http.StatusUnprocessableEntity, "an identity provider's name is its tenant ID: %v", err))
		return
	}
	for _, a := range idp.Spec.Administrators {
		if err := account.ValidateUsername(a); err != nil {
			apigroup.WriteError(w, apigroup.Refuse(http.StatusUnprocessableEntity, "administrators: %v", err))
			return
		}
	}
	secrets := map[string][]byte{}
	switch idp.Spec.Type {
	case authv1.IdentityProviderLDAP:
		cfg, err := ldap.ParseConfig([]byte(idp.Spec.Config))
		if err != nil {
			apigroup.WriteError(w, apigroup.Refuse(http.StatusUnprocessableEntity, "the LDAP configuration is not valid: %v", err))
			return
		}
		if cfg.BindPW != "" {
			secrets["bindPW"] = []byte(cfg.BindPW)
		}
		idp.Spec.Config = stripJSONField(idp.Spec.Config, "bindPW")
	case authv1.IdentityProviderOIDC:
		cfg, err := oidcprovider.ParseExternalConfig([]byte(idp.Spec.Config))
		if err != nil {
			apigroup.WriteError(w, apigroup.Refuse(http.StatusUnprocessableEntity, "%v", err))
			return
		}
		if cfg.ClientSecret != "" {
			secrets["clientSecret"] = []byte(cfg.ClientSecret)
		}
		idp.Spec.Config = stripJSONField(idp.Spec.Config, "clientSecret")
	default:
		apigroup.WriteError(w, apigroup.Refuse(http.StatusUnprocessableEntity, "spec.type must be ldap or oidc, not %q", idp.Spec.Type))
		return
	}
	// The provider first, then what it owns: its Secret and its
	// administrators' binding name it as their owner, so that deleting the
	// provider (DELETE .../identityproviders/NAME, as TKEStack's guide does)
	// takes them with it.
	if len(secrets) > 0 {
		idp.Spec.SecretRef = &authv1.SecretReference{Name: "idp-" + idp.Name}
	}
	idp.ResourceVersion = ""
	if err := m.Client.Create(ctx, &idp); err != nil {
		if apierrors.IsAlreadyExists(err) {
			err = apigroup.Refuse(http.StatusConflict, "tenant %s already has an identity provider", idp.Name)
		}
		apigroup.WriteError(w, err)
		return
	}
	undo := func(err error) {
		// The owner's delete takes whatever was made with it.
		_ = m.Client.Delete(context.Background(), &idp, client.PropagationPolicy(metav1.DeletePropagationBackground))
		apigroup.WriteError(w, err)
	}
	owner := []metav1.OwnerReference{{APIVersion: authv1.GroupVersion.String(), Kind: "IdentityProvider", Name: idp.Name, UID: idp.UID}}
	if len(secrets) > 0 {
		sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: m.SystemNamespace, Name: idp.Spec.SecretRef.Name, OwnerReferences: owner}, Data: secrets}
		if err := m.Client.Create(ctx, sec); err != nil {
			undo(fmt.Errorf("storing the identity provider's secret: %w", err))
			return
		}
	}
	if len(idp.Spec.Administrators) > 0 {
		b := &authv1.PolicyBinding{
			ObjectMeta: metav1.ObjectMeta{Name: idp.Name + ".idp-administrators", Labels: map[string]string{authv1.LabelTenant: idp.Name}, OwnerReferences: owner},
			Spec:       authv1.PolicyBindingSpec{TenantID: idp.Name, PolicyName: directory.PolicyAdministrator, Users: idp.Spec.Administrators},
		}
		if err := m.Client.Create(ctx, b); err != nil && !apierrors.IsAlreadyExists(err) {
			undo(fmt.Errorf("binding the administrators: %w", err))
			return
		}
	}
	m.Log.Info("identity provider created", "tenant", idp.Name, "type", idp.Spec.Type, "by", p.Name())
	idp.APIVersion, idp.Kind = authv1.GroupVersion.String(), "IdentityProvider"
	apigroup.WriteJSON(w, http.StatusCreated, idp)
}

// stripJSONField removes a top-level field from a JSON object.
func stripJSONField(config, field string) string {
	var m map[string]json.RawMessage
	if json.Unmarshal([]byte(config), &m) != nil {
		return config
	}
	for k := range m {
		if strings.EqualFold(k, field) {
			delete(m, k)
		}
	}
	out, _ := json.Marshal(m)
	return string(out)
}
