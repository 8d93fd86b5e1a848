package authn

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8sfake "k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	authv1 "github.com/kstack/kstack/api/auth/v1"
	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/auth/signing"
)

const issuer = "https://kstack.test:8443/oidc"

type env struct {
	a    *Authenticator
	keys *signing.Keys
	now  time.Time
}

func setup(t *testing.T) *env {
	t.Helper()
	s := runtime.NewScheme()
	if err := authv1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	user := &authv1.User{ObjectMeta: metav1.ObjectMeta{Name: "default.alice", Labels: map[string]string{authv1.LabelTenant: "default"}},
		Spec: authv1.UserSpec{TenantID: "default", Username: "alice"}}
	off := &authv1.User{ObjectMeta: metav1.ObjectMeta{Name: "default.off", Labels: map[string]string{authv1.LabelTenant: "default"}},
		Spec: authv1.UserSpec{TenantID: "default", Username: "off", Disabled: true}}
	sess := &authv1.Session{ObjectMeta: metav1.ObjectMeta{Name: "ses-1"},
		Spec: authv1.SessionSpec{TenantID: "default", Username: "alice", ClientID: "kstack-cli", ExpiresAt: metav1.NewTime(now.Add(time.Hour))}}
	offSess := &authv1.Session{ObjectMeta: metav1.ObjectMeta{Name: "ses-off"},
		Spec: authv1.SessionSpec{TenantID: "default", Username: "off", ClientID: "kstack-cli", ExpiresAt: metav1.NewTime(now.Add(time.Hour))}}
	good := &authv1.APIKey{ObjectMeta: metav1.ObjectMeta{Name: "ak-good"}, Spec: authv1.APIKeySpec{TenantID: "default", Username: "alice",
		ExpiresAt: metav1.NewTime(now.Add(time.Hour)), SecretHash: HashSecret(strings.Repeat("s", 40))}}
	disabled := good.DeepCopy()
	disabled.Name, disabled.Spec.Disabled = "ak-disabled", true
	expired := good.DeepCopy()
	expired.Name, expired.Spec.ExpiresAt = "ak-expired", metav1.NewTime(now.Add(-time.Minute))
	c := fake.NewClientBuilder().WithScheme(s).WithObjects(user, off, sess, offSess, good, disabled, expired).Build()
	keys := &signing.Keys{Client: k8sfake.NewClientset(), Namespace: "kstack-system", RotateAfter: time.Hour, Retain: time.Hour}
	if err := keys.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	a := &Authenticator{Dir: &directory.Directory{Client: c}, Keys: keys, Issuer: issuer, Audiences: []string{"kstack-cli", "kstack-console"}}
	return &env{a: a, keys: keys, now: now}
}

func sign(t *testing.T, key *rsa.PrivateKey, kid string, alg jose.SignatureAlgorithm, c jwt.Claims) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(signer).Claims(c).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func claims(now time.Time) jwt.Claims {
	return jwt.Claims{Issuer: issuer, Subject: "default.alice", Audience: jwt.Audience{"kstack-cli"}, ID: "ses-1",
		Expiry: jwt.NewNumericDate(now.Add(10 * time.Minute)), IssuedAt: jwt.NewNumericDate(now)}
}

func TestTokens(t *testing.T) {
	e := setup(t)
	cur, err := e.keys.Current()
	if err != nil {
		t.Fatal(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ok := sign(t, cur.Private, cur.ID, jose.RS256, claims(e.now))
	mod := func(f func(*jwt.Claims)) string {
		c := claims(e.now)
		f(&c)
		return sign(t, cur.Private, cur.ID, jose.RS256, c)
	}
	parts := strings.Split(ok, ".")
	noneTok := "eyJhbGciOiJub25lIiwia2lkIjoiIn0." + parts[1] + "."
	hsSigner, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte("a-shared-secret-of-32-bytes-long")}, (&jose.SignerOptions{}).WithHeader("kid", cur.ID))
	if err != nil {
		t.Fatal(err)
	}
	hsTok, err := jwt.Signed(hsSigner).Claims(claims(e.now)).Serialize()
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name, token, wantErr string
	}{
		{"valid", ok, ""},
		{"wrong key", sign(t, other, cur.ID, jose.RS256, claims(e.now)), "signature does not verify"},
		{"unknown key id", sign(t, other, "nope", jose.RS256, claims(e.now)), "key the platform does not know"},
		{"alg none", noneTok, "RS256"},
		{"alg HS256", hsTok, "RS256"},
		{"other issuer", mod(func(c *jwt.Claims) { c.Issuer = "https://evil.example/oidc" }), "issued by"},
		{"other audience", mod(func(c *jwt.Claims) { c.Audience = jwt.Audience{"grafana"} }), "another audience"},
		{"expired", mod(func(c *jwt.Claims) { c.Expiry = jwt.NewNumericDate(e.now.Add(-time.Hour)) }), "expired"},
		{"no expiry", mod(func(c *jwt.Claims) { c.Expiry = nil }), "no expiry"},
		{"ended session", mod(func(c *jwt.Claims) { c.ID = "ses-gone" }), "session has ended"},
		{"session of another user", mod(func(c *jwt.Claims) { c.Subject = "default.bob" }), "session has ended"},
		{"disabled user", mod(func(c *jwt.Claims) { c.Subject, c.ID = "default.off", "ses-off" }), "disabled"},
		{"api key", "ksk_ak-good_" + strings.Repeat("s", 40), ""},
		{"api key wrong secret", "ksk_ak-good_" + strings.Repeat("x", 40), "not known"},
		{"api key disabled", "ksk_ak-disabled_" + strings.Repeat("s", 40), "disabled"},
		{"api key expired", "ksk_ak-expired_" + strings.Repeat("s", 40), "expired"},
		{"api key unknown", "ksk_ak-nope_" + strings.Repeat("s", 40), "not known"},
		{"api key malformed", "ksk_short", "malformed"},
		{"garbage", "hello", "not one the platform issued"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/platform/apis", nil)
			req.Header.Set("Authorization", "Bearer "+tc.token)
			p, err := e.a.Authenticate(req)
			if tc.wantErr == "" {
				if err != nil || p == nil || p.Username != "alice" || p.Tenant != "default" {
					t.Fatalf("want alice, got %+v, %v", p, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("want an error with %q, got %+v, %v", tc.wantErr, p, err)
			}
			if _, isAuth := err.(*Error); !isAuth {
				t.Fatalf("the error %v is not an authentication refusal (it would answer 503, not 401)", err)
			}
		})
	}
}

func TestAdminToken(t *testing.T) {
	e := setup(t)
	e.a.AdminTokenHash = [32]byte{}
	copy(e.a.AdminTokenHash[:], mustHash("admin-secret"))
	req := httptest.NewRequest("GET", "/platform/apis", nil)
	req.Header.Set("Authorization", "Bearer admin-secret")
	p, err := e.a.Authenticate(req)
	if err != nil || p == nil || !p.SuperAdmin {
		t.Fatalf("admin token: %+v %v", p, err)
	}
	req.Header.Set("Authorization", "Basic YWRtaW46YWRtaW4=")
	if _, err := e.a.Authenticate(req); err == nil {
		t.Fatal("a Basic header was taken")
	}
	req.Header.Del("Authorization")
	if p, err := e.a.Authenticate(req); p != nil || err != nil {
		t.Fatalf("no credentials: %+v %v", p, err)
	}
}

func mustHash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}
