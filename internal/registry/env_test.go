package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// testAuth is a token service for tests: users "alice" (owns alice-ns)
// and "bob" (owns bob-ns), password "pw-<user>"; namespace "pub" is
// public and owned by alice. Tokens are random strings it remembers.
type testAuth struct {
	mu     sync.Mutex
	tokens map[string]*Caller
	public map[string]bool
	owner  map[string]string
	// calls of Allowed and Namespaces
	allowedCalls, namespacesCalls int
}

func newTestAuth() *testAuth {
	return &testAuth{tokens: map[string]*Caller{},
		public: map[string]bool{"pub": true},
		owner:  map[string]string{"alice-ns": "alice", "pub": "alice", "bob-ns": "bob"}}
}

func (a *testAuth) Verify(_ context.Context, tok string) (*Caller, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c, ok := a.tokens[tok]
	if !ok {
		return nil, fmt.Errorf("token not issued by the test token service")
	}
	return c, nil
}

func (a *testAuth) Allowed(_ context.Context, c *Caller, ns, action string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.allowedCalls++
	if action == "pull" && a.public[ns] {
		return true
	}
	return c != nil && c.Subject != "" && a.owner[ns] == c.Subject
}

func (a *testAuth) Namespaces(_ context.Context, c *Caller) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.namespacesCalls++
	out := []string{}
	for ns, owner := range a.owner {
		if a.public[ns] || (c != nil && c.Subject != "" && owner == c.Subject) {
			out = append(out, ns)
		}
	}
	sort.Strings(out)
	return out
}

func (a *testAuth) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	subject := ""
	if user, pw, ok := r.BasicAuth(); ok {
		if pw != "pw-"+user {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		subject = user
	}
	c := &Caller{Subject: subject}
	for _, s := range r.URL.Query()["scope"] {
		for _, sc := range strings.Fields(s) {
			parts := strings.SplitN(sc, ":", 3)
			if len(parts) != 3 {
				continue
			}
			if parts[0] == "registry" && parts[1] == "catalog" {
				c.Access = append(c.Access, Access{Type: "registry", Name: "catalog", Actions: []string{"*"}})
				continue
			}
			ns, _, _ := strings.Cut(parts[1], "/")
			var granted []string
			for _, act := range strings.Split(parts[2], ",") {
				if a.may(subject, ns, act) {
					granted = append(granted, act)
				}
			}
			if len(granted) > 0 {
				c.Access = append(c.Access, Access{Type: parts[0], Name: parts[1], Actions: granted})
			}
		}
	}
	tok := randomHex(16)
	a.mu.Lock()
	a.tokens[tok] = c
	a.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"token": tok, "access_token": tok, "expires_in": 300})
}

func (a *testAuth) may(subject, ns, action string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if action == "pull" && a.public[ns] {
		return true
	}
	return subject != "" && a.owner[ns] == subject
}

type env struct {
	t    *testing.T
	reg  *Registry
	srv  *httptest.Server
	auth *testAuth
	host string
	root string // filesystem storage root ("" on S3)
}

type storageKind string

const (
	onFilesystem storageKind = "filesystem"
	onS3         storageKind = "s3"
)

func newEnv(t *testing.T, kind storageKind, tweak func(*Config)) *env {
	t.Helper()
	e := &env{t: t, auth: newTestAuth()}
	mux := http.NewServeMux()
	e.srv = httptest.NewUnstartedServer(mux)
	e.srv.StartTLS()
	t.Cleanup(e.srv.Close)
	e.host = strings.TrimPrefix(e.srv.URL, "https://")

	cfg := Config{Realm: e.srv.URL + "/token", Service: "kstack-registry", Auth: e.auth, GCGrace: time.Hour, Log: testLogger()}
	switch kind {
	case onFilesystem:
		e.root = t.TempDir()
		cfg.RootDir = e.root
	case onS3:
		backend := s3mem.New()
		if err := backend.CreateBucket("registry"); err != nil {
			t.Fatal(err)
		}
		s3srv := httptest.NewServer(gofakes3.New(backend).Server())
		t.Cleanup(s3srv.Close)
		cfg.S3 = &S3{Endpoint: s3srv.URL, Bucket: "registry", AccessKey: "AK", SecretKey: "SK", ForcePathStyle: true, RootDirectory: "/kstack"}
	}
	if tweak != nil {
		tweak(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	reg, err := New(ctx, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.reg = reg
	mux.Handle("/v2/", reg.Handler())
	mux.Handle("/token", e.auth)
	return e
}

func testLogger() *slog.Logger {
	if os.Getenv("REGISTRY_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return nil
}

func (e *env) ref(s string) name.Reference {
	e.t.Helper()
	ref, err := name.ParseReference(e.host + "/" + s)
	if err != nil {
		e.t.Fatal(err)
	}
	return ref
}

func (e *env) opts(user string) []remote.Option {
	var a authn.Authenticator = authn.Anonymous
	if user != "" {
		a = &authn.Basic{Username: user, Password: "pw-" + user}
	}
	return []remote.Option{remote.WithAuth(a), remote.WithTransport(e.srv.Client().Transport)}
}

func (e *env) push(user, ref string, img v1.Image) error {
	return remote.Write(e.ref(ref), img, e.opts(user)...)
}

func (e *env) mustPush(user, ref string, img v1.Image) {
	e.t.Helper()
	if err := e.push(user, ref, img); err != nil {
		e.t.Fatalf("push %s as %q: %v", ref, user, err)
	}
}

// pull fetches an image and every blob, checking digests and sizes.
func (e *env) pull(user, ref string) error {
	img, err := remote.Image(e.ref(ref), e.opts(user)...)
	if err != nil {
		return err
	}
	return validate.Image(img)
}

func (e *env) mustPull(user, ref string) {
	e.t.Helper()
	if err := e.pull(user, ref); err != nil {
		e.t.Fatalf("pull %s as %q: %v", ref, user, err)
	}
}

func randomImage(t *testing.T, layers int64) v1.Image {
	t.Helper()
	img, err := random.Image(1024, layers)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// token asks the test token service for a token (user "" anonymous).
func (e *env) token(user string, scopes ...string) string {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/token?service=kstack-registry", nil)
	q := req.URL.Query()
	for _, s := range scopes {
		q.Add("scope", s)
	}
	req.URL.RawQuery = q.Encode()
	if user != "" {
		req.SetBasicAuth(user, "pw-"+user)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Token string }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		e.t.Fatal(err)
	}
	return body.Token
}

type answer struct {
	status int
	header http.Header
	body   string
}

// do sends a raw request to the registry, with a Bearer token when tok is set.
func (e *env) do(method, path, tok string, body io.Reader, header map[string]string) answer {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// errorCode returns the first error's code and message of a registry answer.
func (a answer) errorCode() (string, string) {
	var env struct {
		Errors []struct{ Code, Message string }
	}
	if json.Unmarshal([]byte(a.body), &env) != nil || len(env.Errors) == 0 {
		return "", ""
	}
	return env.Errors[0].Code, env.Errors[0].Message
}
