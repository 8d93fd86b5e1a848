// Package registry holds the end-to-end tests of the image registry, on one
// kstack platform shared by all of them (and one member cluster, for the
// pull secrets): skopeo copies an image in and out with an access key;
// another project's private image is invisible beside a positive twin who
// sees it; a business namespace's pull secret pulls its project's images
// and nothing else, and is rotated; the garbage collection's race (a blob
// HEADed and referenced by a new manifest between mark and sweep) is
// reproduced through the gateway; every bad input gets its clear error;
// registry tokens and platform tokens are not interchangeable; and the OCI
// conformance suite passes against kstack wherever it passes against a
// standalone distribution.
package registry

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kstack/kstack/internal/testutil/ocitest"
	"github.com/kstack/kstack/test/e2e/framework"
)

const (
	adminPassword = "Adm1n-Passw0rd"
	alicePassword = "Passw0rd-Alice1"
	bobPassword   = "Passw0rd-Bob001"
	carolPassword = "Passw0rd-Carol1"

	// Limits of the test platform: small, so that refusals are cheap to
	// provoke. The manifest limit is above the conformance suite's large
	// manifest (3,910,601 bytes) and below distribution's own 4 MiB, so
	// that a refusal of a manifest between the two is kstack's flag's.
	maxManifest = 4_000_000
	maxBlob     = 1 << 20
	// pullGrace is how long a replaced pull credential still works.
	pullGrace = 10 * time.Second
	// gcGrace keeps blobs touched that recently; the GC race test ages
	// its blobs past it first.
	gcGrace = 2 * time.Second
)

// env is the shared platform and the actors of every test.
type env struct {
	k      *framework.Kstack // the data dir's administrator
	p      *framework.Platform
	host   string // the registry: the gateway's host:port
	base   string // https://host:port
	caDir  string // holds ca.crt (skopeo's --*-cert-dir)
	caFile string
	pool   *x509.CertPool
	hc     *http.Client // trusts the platform's CA
	admTok string       // the data dir's admin token

	cluster, memberKC string
	prjA, prjB        string

	// alice and carol are members of project A, bob of project B; alice
	// and bob use access keys with the registry, carol her password.
	alice, bob, carol *framework.Kstack
	aliceKey, bobKey  string

	// gcPause is the file that holds the registry's GC between mark and
	// sweep while it exists (KSTACK_REGISTRY_GC_PAUSE_FILE).
	gcPause string
}

// TestRegistry runs every registry test on one platform.
func TestRegistry(t *testing.T) {
	e := setUp(t)
	t.Run("skopeo in and out with an access key", func(t *testing.T) { skopeoInOut(t, e) })
	t.Run("another project's private image is invisible", func(t *testing.T) { invisible(t, e) })
	t.Run("helm registry login, push and pull", func(t *testing.T) { helmLoginPushPull(t, e) })
	t.Run("registry and platform tokens are not interchangeable", func(t *testing.T) { tokens(t, e) })
	t.Run("bad input", func(t *testing.T) { badInput(t, e) })
	t.Run("pull secret and its rotation", func(t *testing.T) { pullSecret(t, e) })
	t.Run("garbage collection race", func(t *testing.T) { gcRace(t, e) })
	t.Run("conformance", func(t *testing.T) { conformance(t, e) })
}

func setUp(t *testing.T) *env {
	k := framework.New(t)
	pause := filepath.Join(t.TempDir(), "gc-pause")
	k.Env = append(k.Env, "KSTACK_ADMIN_PASSWORD="+adminPassword, "KSTACK_REGISTRY_GC_PAUSE_FILE="+pause)
	args := []string{"--listen", framework.FreeAddr(t)}
	for _, f := range []string{"--registry-gc-interval=0", "--registry-gc-grace=" + gcGrace.String(),
		"--registry-pull-grace=" + pullGrace.String(),
		fmt.Sprintf("--registry-max-manifest-size=%d", maxManifest), fmt.Sprintf("--registry-max-blob-size=%d", maxBlob)} {
		args = append(args, "--platform-arg="+f)
	}
	p := k.Up(3*time.Minute, args...)
	e := &env{k: k, p: p, base: p.ConsoleURL, host: strings.TrimPrefix(p.ConsoleURL, "https://"), gcPause: pause}
	if !strings.Contains(p.Stdout.String(), "Registry: "+e.host) {
		t.Fatalf("kstack up does not print the registry's address %s:\n%s", e.host, p.Stdout.String())
	}
	e.hc, e.admTok = k.PlatformHTTP()
	e.pool = x509.NewCertPool()
	e.pool.AppendCertsFromPEM(k.PlatformCA())
	e.caDir = t.TempDir()
	e.caFile = filepath.Join(e.caDir, "ca.crt")
	if err := os.WriteFile(e.caFile, k.PlatformCA(), 0o644); err != nil {
		t.Fatal(err)
	}
	e.cluster, e.memberKC = k.ImportedCluster("m1", 1)

	framework.CreateUser(t, k, "alice", alicePassword)
	framework.CreateUser(t, k, "bob", bobPassword)
	framework.CreateUser(t, k, "carol", carolPassword)
	project := func(name string) string {
		return strings.TrimSpace(k.MustRun("project", "create", name, "--cluster", e.cluster, "--cpu", "4", "--memory", "8Gi", "--pods", "20", "-o", "name"))
	}
	e.prjA, e.prjB = project("team-a"), project("team-b")
	k.MustRun("project", "add-member", e.prjA, "alice")
	k.MustRun("project", "add-member", e.prjA, "carol")
	k.MustRun("project", "add-member", e.prjB, "bob")
	// Registry namespaces, private, each shared with one project.
	k.MustRun("registry", "namespace", "create", "team-a", "--project", e.prjA)
	k.MustRun("registry", "namespace", "create", "team-b", "--project", e.prjB)
	k.MustRun("registry", "namespace", "create", "conformance", "--project", e.prjA)

	e.alice = framework.Login(t, k, "default", "alice", alicePassword)
	e.bob = framework.Login(t, k, "default", "bob", bobPassword)
	e.carol = framework.Login(t, k, "default", "carol", carolPassword)
	e.aliceKey = strings.TrimSpace(e.alice.MustRun("apikey", "create", "--expires", "2h", "--description", "registry e2e"))
	e.bobKey = strings.TrimSpace(e.bob.MustRun("apikey", "create", "--expires", "2h", "--description", "registry e2e"))
	for _, key := range []string{e.aliceKey, e.bobKey} {
		if !strings.HasPrefix(key, "ksk_") {
			t.Fatalf("apikey create printed %q, want a ksk_ key", key)
		}
	}
	return e
}

// remote is a go-containerregistry client of the registry with these
// credentials (none: anonymous).
func (e *env) remote(username, password string) ocitest.Remote {
	return ocitest.Remote{RootCAs: e.pool, Username: username, Password: password}
}

func (e *env) asAlice() ocitest.Remote { return e.remote("alice", e.aliceKey) }
func (e *env) asBob() ocitest.Remote   { return e.remote("bob", e.bobKey) }
func (e *env) asCarol() ocitest.Remote { return e.remote("carol", carolPassword) }

// client is a raw registry client.
func (e *env) client() *ocitest.Client {
	return ocitest.NewClient(e.base, ocitest.Remote{RootCAs: e.pool})
}

// token gets a registry token for scopes (failing the test if the token
// endpoint refuses).
func (e *env) token(t *testing.T, username, password string, scopes ...string) string {
	t.Helper()
	a, err := e.client().Token(ctx(t), username, password, scopes...)
	if err != nil || a.Status != http.StatusOK || a.Token == "" {
		t.Fatalf("token for %s %v: %v %v", username, scopes, a.Response, err)
	}
	return a.Token
}

// ref is the image reference of ns/repo:tag in the registry.
func (e *env) ref(repoTag string) string { return e.host + "/" + repoTag }

// push pushes a fresh random image (layers of 2 KiB) to ref as r and
// returns its digest.
func (e *env) push(t *testing.T, r ocitest.Remote, repoTag string, layers int) string {
	t.Helper()
	img := ocitest.RandomImage(t, layers, 2048)
	if err := r.Push(ctx(t), e.ref(repoTag), img); err != nil {
		t.Fatalf("pushing %s: %v", repoTag, err)
	}
	return ocitest.Digest(t, img)
}

// ctx is a context bounded for one step of a test.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return c
}

// jwtClaims decodes a JWT's claims without checking it.
func jwtClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("%q is not a JWT", tok)
	}
	data, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func withPrefix(list []string, prefix string) []string {
	var out []string
	for _, v := range list {
		if strings.HasPrefix(v, prefix) {
			out = append(out, v)
		}
	}
	return out
}
