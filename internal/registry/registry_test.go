package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestPushPull(t *testing.T) {
	for _, kind := range []storageKind{onFilesystem, onS3} {
		t.Run(string(kind), func(t *testing.T) {
			e := newEnv(t, kind, nil)
			img := randomImage(t, 3)
			e.mustPush("alice", "alice-ns/app:v1", img)
			e.mustPull("alice", "alice-ns/app:v1")

			// A multi-platform index, pushed and pulled whole.
			idx, err := random.Index(512, 2, 2)
			if err != nil {
				t.Fatal(err)
			}
			if err := remote.WriteIndex(e.ref("alice-ns/multi:v1"), idx, e.opts("alice")...); err != nil {
				t.Fatalf("push index: %v", err)
			}
			got, err := remote.Index(e.ref("alice-ns/multi:v1"), e.opts("alice")...)
			if err != nil {
				t.Fatalf("pull index: %v", err)
			}
			want, _ := idx.Digest()
			if d, _ := got.Digest(); d != want {
				t.Fatalf("index digest %s, want %s", d, want)
			}

			// Anonymous pulls: a public namespace yes, a private one no.
			e.mustPush("alice", "pub/tool:1", randomImage(t, 1))
			e.mustPull("", "pub/tool:1")
			if err := e.pull("", "alice-ns/app:v1"); err == nil || !strings.Contains(err.Error(), "insufficient scope") {
				t.Fatalf("anonymous pull of a private image: %v, want an insufficient scope refusal", err)
			}
			// Bob may neither pull nor push alice's namespace.
			if err := e.pull("bob", "alice-ns/app:v1"); err == nil {
				t.Fatal("bob pulled alice's private image")
			}
			if err := e.push("bob", "alice-ns/app:evil", randomImage(t, 1)); err == nil || !strings.Contains(err.Error(), "401") {
				t.Fatalf("bob's push into alice-ns: %v, want a 401", err)
			}
		})
	}
}

func TestAuthAnswers(t *testing.T) {
	e := newEnv(t, onFilesystem, nil)
	e.mustPush("bob", "bob-ns/secret:v1", randomImage(t, 1))

	// No token: a challenge naming realm, service and scope.
	a := e.do(http.MethodGet, "/v2/bob-ns/secret/manifests/v1", "", nil, nil)
	wantChallenge := fmt.Sprintf(`Bearer realm=%q,service="kstack-registry",scope="repository:bob-ns/secret:pull"`, e.srv.URL+"/token")
	if a.status != http.StatusUnauthorized || a.header.Get("WWW-Authenticate") != wantChallenge {
		t.Fatalf("no token: %d %q, want 401 %q", a.status, a.header.Get("WWW-Authenticate"), wantChallenge)
	}
	if code, msg := a.errorCode(); code != "UNAUTHORIZED" || !strings.Contains(msg, "authentication required") || !strings.Contains(msg, "/token") {
		t.Fatalf("no token: %s %q", code, msg)
	}
	// GET /v2/ without a token: the challenge docker login starts with.
	if a := e.do(http.MethodGet, "/v2/", "", nil, nil); a.status != http.StatusUnauthorized || !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Bearer realm=") {
		t.Fatalf("GET /v2/ without token: %d %v", a.status, a.header)
	}
	if a := e.do(http.MethodGet, "/v2/", e.token("alice"), nil, nil); a.status != http.StatusOK {
		t.Fatalf("GET /v2/ with a token: %d %s", a.status, a.body)
	}

	// A refused token.
	a = e.do(http.MethodGet, "/v2/bob-ns/secret/manifests/v1", "forged", nil, nil)
	if code, msg := a.errorCode(); a.status != 401 || code != "UNAUTHORIZED" || !strings.Contains(msg, "invalid token: token not issued by the test token service") ||
		!strings.Contains(a.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("forged token: %d %s %v", a.status, a.body, a.header)
	}

	// Invisible (bob's private repository) and missing answer alike:
	// alice's token lacks the scope either way.
	path := "/v2/bob-ns/secret/manifests/v1"
	invisible := e.do(http.MethodGet, path, e.token("alice", "repository:bob-ns/secret:pull"), nil, nil)
	if err := e.reg.DeleteRepository(context.Background(), "bob-ns/secret"); err != nil {
		t.Fatal(err)
	}
	missing := e.do(http.MethodGet, path, e.token("alice", "repository:bob-ns/secret:pull"), nil, nil)
	if invisible.status != 401 || invisible.body != missing.body ||
		invisible.header.Get("WWW-Authenticate") != missing.header.Get("WWW-Authenticate") {
		t.Fatalf("invisible and missing differ:\n%d %s %v\n%d %s %v", invisible.status, invisible.body, invisible.header, missing.status, missing.body, missing.header)
	}
	if code, msg := invisible.errorCode(); code != "UNAUTHORIZED" ||
		!strings.Contains(msg, "insufficient scope: the token does not grant pull on repository bob-ns/secret (scope repository:bob-ns/secret:pull)") {
		t.Fatalf("insufficient scope: %s %q", code, msg)
	}
	if !strings.Contains(invisible.header.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
		t.Fatalf("challenge %q lacks error=insufficient_scope", invisible.header.Get("WWW-Authenticate"))
	}
	// A namespace that never existed answers in the same words.
	never := e.do(http.MethodGet, "/v2/nobody-ns/secret/manifests/v1", e.token("alice", "repository:nobody-ns/secret:pull"), nil, nil)
	if strings.ReplaceAll(never.body, "nobody-ns", "bob-ns") != invisible.body {
		t.Fatalf("never-existing namespace answers differently:\n%s\n%s", never.body, invisible.body)
	}

	// A token for another repository's scope names the scope it lacks.
	e.mustPush("alice", "alice-ns/app:v1", randomImage(t, 1))
	e.mustPush("alice", "alice-ns/other:v1", randomImage(t, 1))
	a = e.do(http.MethodGet, "/v2/alice-ns/other/manifests/v1", e.token("alice", "repository:alice-ns/app:pull"), nil, nil)
	if _, msg := a.errorCode(); a.status != 401 || !strings.Contains(msg, "does not grant pull on repository alice-ns/other (scope repository:alice-ns/other:pull)") {
		t.Fatalf("token for another repository: %d %q", a.status, msg)
	}
	// A pull-only token pushing names the push scope.
	a = e.do(http.MethodPost, "/v2/alice-ns/app/blobs/uploads/", e.token("alice", "repository:alice-ns/app:pull"), nil, nil)
	if _, msg := a.errorCode(); a.status != 401 || !strings.Contains(msg, "push on repository alice-ns/app (scope repository:alice-ns/app:push)") ||
		!strings.Contains(a.header.Get("WWW-Authenticate"), `scope="repository:alice-ns/app:pull,push"`) {
		t.Fatalf("pull token pushing: %d %q %v", a.status, msg, a.header)
	}

	// Cross-repository mounts: from a repository the token may pull, the
	// blob is mounted; from one it may not, the upload just starts (and
	// says nothing of the other repository).
	img := randomImage(t, 1)
	e.mustPush("alice", "alice-ns/src:v1", img)
	layers, _ := img.Layers()
	ld, _ := layers[0].Digest()
	mount := "/blobs/uploads/?mount=" + ld.String() + "&from=alice-ns/src"
	a = e.do(http.MethodPost, "/v2/alice-ns/dst"+mount, e.token("alice", "repository:alice-ns/dst:pull,push", "repository:alice-ns/src:pull"), nil, nil)
	if a.status != http.StatusCreated {
		t.Fatalf("mount within alice's namespace: %d %s", a.status, a.body)
	}
	// A token without the source's scope, from a namespace the caller may
	// pull: the challenge names both scopes, so that the client asks for
	// them (docker and the conformance suite do) and the mount happens.
	a = e.do(http.MethodPost, "/v2/alice-ns/dst2"+mount, e.token("alice", "repository:alice-ns/dst2:pull,push"), nil, nil)
	if ch := a.header.Get("WWW-Authenticate"); a.status != http.StatusUnauthorized || !strings.Contains(ch, "repository:alice-ns/src:pull") {
		t.Fatalf("mount without the source's scope: %d %s %q, want 401 with a challenge for repository:alice-ns/src:pull", a.status, a.body, ch)
	}
	a = e.do(http.MethodPost, "/v2/bob-ns/dst"+mount, e.token("bob", "repository:bob-ns/dst:pull,push"), nil, nil)
	if a.status != http.StatusAccepted {
		t.Fatalf("bob mounting from alice's private repository without its scope: %d %s, want 202 (a plain upload)", a.status, a.body)
	}
	a = e.do(http.MethodPost, "/v2/bob-ns/dst"+mount, e.token("bob", "repository:bob-ns/dst:pull,push", "repository:alice-ns/src:pull"), nil, nil)
	if a.status != http.StatusAccepted {
		t.Fatalf("bob mounting from alice's private repository: %d %s, want 202 (a plain upload)", a.status, a.body)
	}
}

func TestCatalogFiltered(t *testing.T) {
	e := newEnv(t, onFilesystem, nil)
	for _, r := range []struct{ user, ref string }{
		{"alice", "alice-ns/a:1"}, {"alice", "alice-ns/b:1"}, {"alice", "alice-ns/c/d:1"},
		{"bob", "bob-ns/x:1"}, {"bob", "bob-ns/y:1"},
		{"alice", "pub/p:1"}, {"alice", "pub/q:1"},
	} {
		e.mustPush(r.user, r.ref, randomImage(t, 1))
	}
	catalog := func(user, query string) ([]string, string) {
		t.Helper()
		a := e.do(http.MethodGet, "/v2/_catalog"+query, e.token(user, "registry:catalog:*"), nil, nil)
		if a.status != http.StatusOK {
			t.Fatalf("catalog as %q: %d %s", user, a.status, a.body)
		}
		var body struct{ Repositories []string }
		if err := json.Unmarshal([]byte(a.body), &body); err != nil {
			t.Fatal(err)
		}
		return body.Repositories, a.header.Get("Link")
	}
	for _, c := range []struct {
		user string
		want string
	}{
		{"alice", "alice-ns/a alice-ns/b alice-ns/c/d pub/p pub/q"},
		{"bob", "bob-ns/x bob-ns/y pub/p pub/q"},
		{"", "pub/p pub/q"},
	} {
		got, link := catalog(c.user, "")
		if strings.Join(got, " ") != c.want || link != "" {
			t.Errorf("catalog as %q: %v (Link %q), want %s", c.user, got, link, c.want)
		}
	}
	// Pagination over the filtered list: bob, two at a time.
	var all []string
	query := "?n=2"
	for i := 0; i < 5; i++ {
		page, link := catalog("bob", query)
		all = append(all, page...)
		if link == "" {
			break
		}
		if len(page) != 2 {
			t.Fatalf("page %d: %v with a Link", i, page)
		}
		u := strings.TrimSuffix(strings.TrimPrefix(link, "<"), `>; rel="next"`)
		query = u[strings.Index(u, "?"):]
	}
	if strings.Join(all, " ") != "bob-ns/x bob-ns/y pub/p pub/q" {
		t.Fatalf("paginated catalog for bob: %v", all)
	}
	if a := e.do(http.MethodGet, "/v2/_catalog?n=-1", e.token("bob", "registry:catalog:*"), nil, nil); a.status != 400 {
		t.Fatalf("n=-1: %d %s", a.status, a.body)
	}
	if a := e.do(http.MethodGet, "/v2/_catalog", "", nil, nil); a.status != 401 || !strings.Contains(a.header.Get("WWW-Authenticate"), `scope="registry:catalog:*"`) {
		t.Fatalf("catalog without a token: %d %v", a.status, a.header)
	}
}

func TestSizeLimits(t *testing.T) {
	const maxBlob = 64 << 10
	e := newEnv(t, onFilesystem, func(c *Config) { c.MaxBlobBytes = maxBlob; c.MaxManifestBytes = 2048 })
	tok := e.token("alice", "repository:alice-ns/big:pull,push")

	noUploads := func() {
		t.Helper()
		uploads, _ := e.reg.raw.List(context.Background(), repoDir("alice-ns/big")+"/_uploads")
		if len(uploads) != 0 {
			t.Fatalf("uploads left behind: %v", uploads)
		}
	}

	// A whole layer over the limit, as go-containerregistry pushes it.
	big, err := random.Layer(maxBlob*2, types.DockerLayer)
	if err != nil {
		t.Fatal(err)
	}
	repo, _ := name.NewRepository(e.host + "/alice-ns/big")
	err = remote.WriteLayer(repo, big, e.opts("alice")...)
	if err == nil || !strings.Contains(err.Error(), "SIZE_INVALID") || !strings.Contains(err.Error(), "64 KiB (65536 bytes)") {
		t.Fatalf("push of an oversized layer: %v, want SIZE_INVALID naming the limit", err)
	}
	noUploads()
	if e.hasBlob(dig(t, big)) {
		t.Fatal("the oversized layer was stored")
	}

	// Chunks each under the limit that add up to more; the second one is
	// refused and the upload cancelled.
	a := e.do(http.MethodPost, "/v2/alice-ns/big/blobs/uploads/", tok, nil, nil)
	if a.status != http.StatusAccepted {
		t.Fatalf("start upload: %d %s", a.status, a.body)
	}
	loc := a.header.Get("Location")
	chunk := bytes.Repeat([]byte("x"), 40<<10)
	a = e.do(http.MethodPatch, strings.TrimPrefix(loc, e.srv.URL), tok, bytes.NewReader(chunk), map[string]string{"Content-Type": "application/octet-stream"})
	if a.status != http.StatusAccepted {
		t.Fatalf("first chunk: %d %s", a.status, a.body)
	}
	loc = a.header.Get("Location")
	a = e.do(http.MethodPatch, strings.TrimPrefix(loc, e.srv.URL), tok, bytes.NewReader(chunk), map[string]string{"Content-Type": "application/octet-stream"})
	code, msg := a.errorCode()
	if a.status != http.StatusRequestEntityTooLarge || code != "SIZE_INVALID" || !strings.Contains(msg, "64 KiB (65536 bytes) per blob") || !strings.Contains(msg, "cancelled") {
		t.Fatalf("second chunk: %d %s %q", a.status, code, msg)
	}
	noUploads()
	if a := e.do(http.MethodPut, strings.TrimPrefix(loc, e.srv.URL)+"&digest="+digest.FromBytes(append(chunk, chunk...)).String(), tok, nil, nil); a.status < 400 {
		t.Fatalf("completing a cancelled upload: %d %s", a.status, a.body)
	}

	// A manifest over the limit.
	img := randomImage(t, 1)
	for i := 0; i < 20; i++ {
		l, _ := random.Layer(16, types.OCILayer)
		img, _ = mutate.AppendLayers(img, l)
	}
	err = e.push("alice", "alice-ns/big:many", img)
	if err == nil || !strings.Contains(err.Error(), "MANIFEST_INVALID") || !strings.Contains(err.Error(), "limit of 2 KiB (2048 bytes) per manifest") {
		t.Fatalf("push of an oversized manifest: %v", err)
	}
	if tags, err := e.reg.Tags(context.Background(), "alice-ns/big"); err == nil && len(tags) != 0 {
		t.Fatalf("tags after refused pushes: %v", tags)
	}
}

func TestManifestBlobUnknown(t *testing.T) {
	e := newEnv(t, onFilesystem, nil)
	e.mustPush("alice", "alice-ns/app:v1", randomImage(t, 1))
	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	tok := e.token("alice", "repository:alice-ns/app:pull,push")
	a := e.do(http.MethodPost, "/v2/alice-ns/app/blobs/uploads/?digest="+digest.FromBytes(cfg).String(), tok, nil, nil)
	loc := strings.TrimPrefix(a.header.Get("Location"), e.srv.URL)
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	if a := e.do(http.MethodPut, loc+sep+"digest="+digest.FromBytes(cfg).String(), tok, bytes.NewReader(cfg), nil); a.status != http.StatusCreated {
		t.Fatalf("config upload: %d %s", a.status, a.body)
	}
	never := digest.FromString("never uploaded")
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest,
		Config: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.FromBytes(cfg), Size: int64(len(cfg))},
		Layers: []ocispec.Descriptor{{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: never, Size: 10}}}
	m.SchemaVersion = 2
	body, _ := json.Marshal(m)
	a = e.do(http.MethodPut, "/v2/alice-ns/app/manifests/broken", tok, bytes.NewReader(body), map[string]string{"Content-Type": ocispec.MediaTypeImageManifest})
	code, msg := a.errorCode()
	if a.status != 400 || code != "MANIFEST_BLOB_UNKNOWN" || !strings.Contains(msg, never.String()) || !strings.Contains(msg, "alice-ns/app") {
		t.Fatalf("manifest naming a missing blob: %d %s %q", a.status, code, msg)
	}
	tags, _ := e.reg.Tags(context.Background(), "alice-ns/app")
	if len(tags) != 1 {
		t.Fatalf("tags: %v", tags)
	}
}

func TestListingAndDeletes(t *testing.T) {
	ctx := context.Background()
	for _, kind := range []storageKind{onFilesystem, onS3} {
		t.Run(string(kind), func(t *testing.T) {
			e := newEnv(t, kind, nil)
			img := randomImage(t, 2)
			e.mustPush("alice", "alice-ns/web:v1", img)
			e.mustPush("alice", "alice-ns/web:latest", img)
			img2 := randomImage(t, 3)
			e.mustPush("alice", "alice-ns/web:v2", img2)
			idx, _ := random.Index(256, 1, 2)
			if err := remote.WriteIndex(e.ref("alice-ns/tools/cli:1.0"), idx, e.opts("alice")...); err != nil {
				t.Fatal(err)
			}

			imgSize := func(m []byte) int64 {
				var man ocispec.Manifest
				_ = json.Unmarshal(m, &man)
				n := man.Config.Size
				for _, l := range man.Layers {
					n += l.Size
				}
				return n
			}
			raw1, _ := img.RawManifest()
			raw2, _ := img2.RawManifest()
			d1, _ := img.Digest()

			tags, err := e.reg.Tags(ctx, "alice-ns/web")
			if err != nil {
				t.Fatal(err)
			}
			if len(tags) != 3 || tags[0].Name != "latest" || tags[1].Name != "v1" || tags[2].Name != "v2" {
				t.Fatalf("tags: %+v", tags)
			}
			if tags[1].Digest != d1.String() || tags[1].MediaType != string(types.DockerManifestSchema2) || tags[1].Size != imgSize(raw1) || tags[1].PushedAt == nil {
				t.Fatalf("tag v1: %+v, want digest %s size %d", tags[1], d1, imgSize(raw1))
			}

			repos, err := e.reg.Repositories(ctx, "alice-ns")
			if err != nil {
				t.Fatal(err)
			}
			if len(repos) != 2 || repos[0].Name != "tools/cli" || repos[1].Name != "web" || repos[1].Namespace != "alice-ns" {
				t.Fatalf("repositories: %+v", repos)
			}
			if repos[1].Tags != 3 || repos[1].Size != imgSize(raw1)+imgSize(raw2) || repos[1].PushedAt == nil {
				t.Fatalf("web: %+v, want 3 tags, size %d", repos[1], imgSize(raw1)+imgSize(raw2))
			}
			im, _ := idx.IndexManifest()
			var idxSize int64
			for _, c := range im.Manifests {
				ci, _ := idx.Image(c.Digest)
				raw, _ := ci.RawManifest()
				idxSize += imgSize(raw)
			}
			if repos[0].Tags != 1 || repos[0].Size != idxSize {
				t.Fatalf("tools/cli: %+v, want size %d", repos[0], idxSize)
			}
			if none, err := e.reg.Repositories(ctx, "empty-ns"); err != nil || len(none) != 0 {
				t.Fatalf("empty namespace: %v %v", none, err)
			}

			// Deletes, and what they say about things that are not there.
			if err := e.reg.DeleteTag(ctx, "alice-ns/web", "v1"); err != nil {
				t.Fatal(err)
			}
			if err := e.reg.DeleteTag(ctx, "alice-ns/web", "v1"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("deleting a deleted tag: %v", err)
			}
			if err := e.reg.DeleteTag(ctx, "alice-ns/nothing", "v1"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("deleting a tag of a missing repository: %v", err)
			}
			if _, err := e.reg.Tags(ctx, "alice-ns/../../etc"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("a path as a repository name: %v", err)
			}
			e.mustPull("alice", "alice-ns/web:latest") // same manifest, other tag
			if err := e.reg.DeleteRepository(ctx, "alice-ns/web"); err != nil {
				t.Fatal(err)
			}
			if err := e.reg.DeleteRepository(ctx, "alice-ns/web"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("deleting a deleted repository: %v", err)
			}
			if err := e.pull("alice", "alice-ns/web:latest"); err == nil {
				t.Fatal("pulled from a deleted repository")
			}
			repos, _ = e.reg.Repositories(ctx, "alice-ns")
			if len(repos) != 1 || repos[0].Name != "tools/cli" {
				t.Fatalf("after deleting web: %+v", repos)
			}
			if err := e.reg.DeleteNamespace(ctx, "alice-ns"); err != nil {
				t.Fatal(err)
			}
			if repos, _ := e.reg.Repositories(ctx, "alice-ns"); len(repos) != 0 {
				t.Fatalf("after deleting the namespace: %+v", repos)
			}
			if err := e.reg.DeleteNamespace(ctx, "alice-ns"); err != nil {
				t.Fatalf("deleting an empty namespace: %v", err)
			}
		})
	}
}

// TestLogsHoldNoCredentials: distribution's logs, routed to slog at debug,
// never carry a token, a password, or an upload's state.
func TestLogsHoldNoCredentials(t *testing.T) {
	var buf syncBuffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	t.Cleanup(func() { bridgeLog.Store(slog.New(slog.DiscardHandler)) })
	e := newEnv(t, onFilesystem, func(c *Config) { c.Log = log })
	e.mustPush("alice", "alice-ns/app:v1", randomImage(t, 2))
	e.mustPull("alice", "alice-ns/app:v1")
	_ = e.pull("bob", "alice-ns/app:v1")
	e.do(http.MethodGet, "/v2/alice-ns/app/manifests/v1", "forged-token-value", nil, nil)
	tok := e.token("alice", "repository:alice-ns/app:pull,push")
	a := e.do(http.MethodPost, "/v2/alice-ns/app/blobs/uploads/", tok, nil, nil)
	e.do(http.MethodPatch, strings.TrimPrefix(a.header.Get("Location"), e.srv.URL), tok, strings.NewReader("data"), nil)

	out := buf.String()
	if !strings.Contains(out, "registry: ") {
		t.Fatal("no distribution log reached slog")
	}
	secrets := []string{"pw-alice", "pw-bob", "forged-token-value", "Bearer", "_state="}
	e.auth.mu.Lock()
	for tok := range e.auth.tokens {
		secrets = append(secrets, tok)
	}
	e.auth.mu.Unlock()
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("the log holds %q", s)
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
