package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/distribution/distribution/v3/manifest/schema2"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// filler reads as an endless run of one byte.
type filler byte

func (f filler) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(f)
	}
	return len(p), nil
}

// countingBody counts what the handler read of a request body.
type countingBody struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (c *countingBody) Close() error { return nil }

// TestUnauthenticatedBodyNotRead: a request the registry refuses for want
// of a token never has its body read: no multipart form spooled to
// TMPDIR, no urlencoded form read into memory (distribution asks for
// FormValue("from") before its access controller runs).
func TestUnauthenticatedBodyNotRead(t *testing.T) {
	e := newEnv(t, onFilesystem, nil)
	tok := e.token("alice", "repository:alice-ns/app:pull,push")
	a := e.do(http.MethodPost, "/v2/alice-ns/app/blobs/uploads/", tok, nil, nil)
	if a.status != http.StatusAccepted {
		t.Fatalf("start upload: %d %s", a.status, a.body)
	}
	upload := strings.TrimPrefix(a.header.Get("Location"), e.srv.URL)
	spool := t.TempDir()
	t.Setenv("TMPDIR", spool)

	const size = 40 << 20 // over the 32 MiB a multipart form keeps in memory
	multipartBody := func() (io.Reader, string, int64) {
		head := "--XB\r\nContent-Disposition: form-data; name=\"file\"; filename=\"blob\"\r\nContent-Type: application/octet-stream\r\n\r\n"
		tail := "\r\n--XB--\r\n"
		return io.MultiReader(strings.NewReader(head), io.LimitReader(filler('a'), size), strings.NewReader(tail)),
			"multipart/form-data; boundary=XB", int64(len(head)+len(tail)) + size
	}
	formBody := func() (io.Reader, string, int64) {
		return io.MultiReader(strings.NewReader("from="), io.LimitReader(filler('b'), size)), "application/x-www-form-urlencoded", 5 + size
	}
	for _, c := range []struct {
		name, method, path string
		body               func() (io.Reader, string, int64)
	}{
		{"multipart upload start", http.MethodPost, "/v2/alice-ns/app/blobs/uploads/", multipartBody},
		{"urlencoded upload start", http.MethodPost, "/v2/alice-ns/app/blobs/uploads/", formBody},
		{"multipart monolithic upload", http.MethodPost, "/v2/alice-ns/app/blobs/uploads/?digest=" + digest.FromString("x").String(), multipartBody},
		{"multipart chunk", http.MethodPatch, upload, multipartBody},
		{"urlencoded chunk", http.MethodPatch, upload, formBody},
		{"multipart manifest", http.MethodPut, "/v2/alice-ns/app/manifests/v1", multipartBody},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, ct, n := c.body()
			body := &countingBody{r: r}
			req := httptest.NewRequest(c.method, c.path, nil)
			req.Body, req.ContentLength = body, n
			req.Header.Set("Content-Type", ct)
			rec := httptest.NewRecorder()
			e.reg.Handler().ServeHTTP(rec, req)
			if rec.Code != http.StatusUnauthorized {
				t.Fatalf("anonymous %s: %d %s, want 401", c.name, rec.Code, rec.Body)
			}
			if got := body.n.Load(); got > 0 {
				t.Fatalf("the registry read %d bytes of an anonymous request's body before refusing it", got)
			}
			if files, _ := os.ReadDir(spool); len(files) != 0 {
				t.Fatalf("an anonymous request left %d files in TMPDIR", len(files))
			}
		})
	}

	// Distribution still gets its query parameters: a monolithic upload
	// start (POST ?digest= with the blob) is answered 202, as distribution
	// v3.1.2 answers it, and the blob then goes in with a PUT.
	blob := []byte("monolithic")
	d := digest.FromBytes(blob)
	a = e.do(http.MethodPost, "/v2/alice-ns/app/blobs/uploads/?digest="+d.String(), tok, bytes.NewReader(blob), map[string]string{"Content-Type": "application/octet-stream"})
	if a.status != http.StatusAccepted && a.status != http.StatusCreated {
		t.Fatalf("monolithic upload start: %d %s", a.status, a.body)
	}
	if a.status == http.StatusAccepted {
		loc := strings.TrimPrefix(a.header.Get("Location"), e.srv.URL)
		if a := e.do(http.MethodPut, loc+"&digest="+d.String(), tok, bytes.NewReader(blob), nil); a.status != http.StatusCreated {
			t.Fatalf("completing the upload: %d %s", a.status, a.body)
		}
	}
	if !e.hasBlob(d) {
		t.Fatal("the uploaded blob is missing")
	}
	// Resuming an upload still finds its _state in the query.
	if a := e.do(http.MethodGet, upload, tok, nil, nil); a.status != http.StatusNoContent {
		t.Fatalf("upload status: %d %s", a.status, a.body)
	}
}

// TestRefusedRequestKeepsUpload: a request the access controller refuses
// does not cancel someone else's upload, even when its body went over the
// blob limit (here read before the access controller ran, as distribution
// read it for FormValue).
func TestRefusedRequestKeepsUpload(t *testing.T) {
	const maxBlob = 64 << 10
	var readEarly atomic.Bool
	e := newEnv(t, onFilesystem, func(c *Config) {
		c.MaxBlobBytes = maxBlob
		c.hooks = &gcHooks{beforeApp: func(req *http.Request) {
			if readEarly.Load() {
				_, _ = req.Body.Read(make([]byte, 1))
			}
		}}
	})
	tok := e.token("alice", "repository:alice-ns/app:pull,push")
	a := e.do(http.MethodPost, "/v2/alice-ns/app/blobs/uploads/", tok, nil, nil)
	id := a.header.Get("Docker-Upload-UUID")
	data := bytes.Repeat([]byte("alice's layer "), 1000)
	a = e.do(http.MethodPatch, strings.TrimPrefix(a.header.Get("Location"), e.srv.URL), tok, bytes.NewReader(data[:5000]), nil)
	if a.status != http.StatusAccepted || id == "" {
		t.Fatalf("alice's first chunk: %d %s", a.status, a.body)
	}
	loc := strings.TrimPrefix(a.header.Get("Location"), e.srv.URL)

	big := bytes.Repeat([]byte("x"), 2*maxBlob)
	for _, early := range []bool{false, true} {
		readEarly.Store(early)
		for _, who := range []string{"", "bob"} {
			tok := ""
			if who != "" {
				tok = e.token(who, "repository:alice-ns/app:pull,push")
			}
			a := e.do(http.MethodPatch, loc, tok, bytes.NewReader(big), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
			if a.status != http.StatusUnauthorized {
				t.Fatalf("%q's oversized PATCH to alice's upload (body read early: %v): %d %s, want 401", who, early, a.status, a.body)
			}
			if _, err := e.reg.raw.Stat(context.Background(), uploadDataPath("alice-ns/app", id)); err != nil {
				t.Fatalf("%q's refused PATCH (body read early: %v) removed alice's upload: %v", who, early, err)
			}
		}
	}
	readEarly.Store(false)
	a = e.do(http.MethodPut, loc+"&digest="+digest.FromBytes(data).String(), tok, bytes.NewReader(data[5000:]), nil)
	if a.status != http.StatusCreated {
		t.Fatalf("alice finishing her upload: %d %s", a.status, a.body)
	}
}

// uploadBlob uploads data to repo (POST, then PUT with the digest).
func (e *env) uploadBlob(tok, repo string, data []byte) ocispec.Descriptor {
	e.t.Helper()
	a := e.do(http.MethodPost, "/v2/"+repo+"/blobs/uploads/", tok, nil, nil)
	if a.status != http.StatusAccepted {
		e.t.Fatalf("upload start: %d %s", a.status, a.body)
	}
	d := digest.FromBytes(data)
	loc := strings.TrimPrefix(a.header.Get("Location"), e.srv.URL)
	if a := e.do(http.MethodPut, loc+"&digest="+d.String(), tok, bytes.NewReader(data), nil); a.status != http.StatusCreated {
		e.t.Fatalf("upload: %d %s", a.status, a.body)
	}
	return ocispec.Descriptor{Digest: d, Size: int64(len(data))}
}

// putManifest PUTs a manifest, by tag or digest.
func (e *env) putManifest(tok, repo, ref, mediaType string, body []byte) {
	e.t.Helper()
	if a := e.do(http.MethodPut, "/v2/"+repo+"/manifests/"+ref, tok, bytes.NewReader(body), map[string]string{"Content-Type": mediaType}); a.status != http.StatusCreated {
		e.t.Fatalf("manifest PUT %s:%s: %d %s", repo, ref, a.status, a.body)
	}
}

// garbage pushes an image to alice-ns/junk and deletes its tag: what a
// collection that runs to its end removes.
func (e *env) garbage() []digest.Digest {
	e.t.Helper()
	img := imageOf(e.t, layer(e.t))
	e.mustPush("alice", "alice-ns/junk:gone", img)
	if err := e.reg.DeleteTag(context.Background(), "alice-ns/junk", "gone"); err != nil {
		e.t.Fatal(err)
	}
	ls, _ := img.Layers()
	return []digest.Digest{dig(e.t, img), configDig(e.t, img), dig(e.t, ls[0])}
}

// TestGCOddManifest: a schema2 manifest with a stray "manifests" field,
// which distribution stores, neither stops the collection nor hides its
// repository's tags.
func TestGCOddManifest(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, onFilesystem, func(c *Config) { c.GCGrace = testGrace })
	tok := e.token("alice", "repository:alice-ns/odd:pull,push")
	cfg := e.uploadBlob(tok, "alice-ns/odd", []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`))
	lay := e.uploadBlob(tok, "alice-ns/odd", bytes.Repeat([]byte("layer"), 100))
	cfg.MediaType, lay.MediaType = schema2.MediaTypeImageConfig, schema2.MediaTypeLayer
	body, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": schema2.MediaTypeManifest,
		"config": cfg, "layers": []ocispec.Descriptor{lay}, "manifests": "x"})
	e.putManifest(tok, "alice-ns/odd", "v1", schema2.MediaTypeManifest, body)
	junk := e.garbage()

	tags, err := e.reg.Tags(ctx, "alice-ns/odd")
	if err != nil {
		t.Fatalf("listing the tags: %v", err)
	}
	if len(tags) != 1 || tags[0].Digest != digest.FromBytes(body).String() || tags[0].MediaType != schema2.MediaTypeManifest || tags[0].Size != cfg.Size+lay.Size {
		t.Fatalf("tags: %+v", tags)
	}
	if repos, err := e.reg.Repositories(ctx, "alice-ns"); err != nil || len(repos) != 2 {
		t.Fatalf("repositories: %+v %v", repos, err)
	}

	pastGrace()
	res, err := e.reg.GC(ctx)
	if err != nil {
		t.Fatalf("collection: %v", err)
	}
	for _, d := range junk {
		if e.hasBlob(d) {
			t.Errorf("garbage blob %s survived (result %+v)", d, res)
		}
	}
	for _, d := range []digest.Digest{digest.FromBytes(body), cfg.Digest, lay.Digest} {
		if !e.hasBlob(d) {
			t.Errorf("blob %s of the odd manifest was collected", d)
		}
	}
	if a := e.do(http.MethodGet, "/v2/alice-ns/odd/blobs/"+lay.Digest.String(), tok, nil, nil); a.status != http.StatusOK {
		t.Fatalf("the odd manifest's layer after the collection: %d", a.status)
	}
}

// TestGCUndecodableManifest: a stored manifest that distribution's decoders
// cannot read keeps every blob its repository links, and the collection
// goes on for everything else; the listing shows it with what is known.
func TestGCUndecodableManifest(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, onFilesystem, func(c *Config) { c.GCGrace = testGrace })
	img, old := randomImage(t, 1), randomImage(t, 1)
	e.mustPush("alice", "alice-ns/weird:v1", img)
	e.mustPush("alice", "alice-ns/weird:old", old)
	if err := e.reg.DeleteTag(ctx, "alice-ns/weird", "old"); err != nil {
		t.Fatal(err)
	}
	// A layer the repository links that no readable manifest names.
	loose := e.uploadBlob(e.token("alice", "repository:alice-ns/weird:pull,push"), "alice-ns/weird", []byte("named only by the odd manifest"))
	bad := []byte(`{"schemaVersion":2,"mediaType":"` + ocispec.MediaTypeImageManifest + `","config":"not a descriptor"}`)
	d := digest.FromBytes(bad)
	for p, content := range map[string]string{blobDataPath(d): string(bad), revisionLink("alice-ns/weird", d): d.String(), tagCurrentLink("alice-ns/weird", "odd"): d.String()} {
		if err := e.reg.raw.PutContent(ctx, p, []byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	junk := e.garbage()

	tags, err := e.reg.Tags(ctx, "alice-ns/weird")
	if err != nil {
		t.Fatalf("listing the tags: %v", err)
	}
	if len(tags) != 2 || tags[0].Name != "odd" || tags[0].Digest != d.String() || tags[0].MediaType != ocispec.MediaTypeImageManifest || tags[1].Name != "v1" || tags[1].Size == 0 {
		t.Fatalf("tags: %+v", tags)
	}
	if repos, err := e.reg.Repositories(ctx, "alice-ns"); err != nil || len(repos) != 2 {
		t.Fatalf("repositories: %+v %v", repos, err)
	}

	pastGrace()
	if _, err := e.reg.GC(ctx); err != nil {
		t.Fatalf("collection: %v", err)
	}
	for _, d := range junk {
		if e.hasBlob(d) {
			t.Errorf("garbage blob %s of another repository survived", d)
		}
	}
	for _, d := range []digest.Digest{d, loose.Digest, dig(t, old), configDig(t, old)} {
		if !e.hasBlob(d) {
			t.Errorf("blob %s of the repository with the odd manifest was collected", d)
		}
	}
	e.mustPull("alice", "alice-ns/weird:v1")
	e.mustPull("alice", "alice-ns/weird@"+dig(t, old).String())
}

// TestGCNestedIndexes: indexes nested deeper than any fixed bound, only the
// outermost tagged, are followed to the image at the bottom.
func TestGCNestedIndexes(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, onFilesystem, func(c *Config) { c.GCGrace = testGrace })
	leaf := imageOf(t, layer(t))
	ref, err := name.NewDigest(e.host + "/alice-ns/deep@" + dig(t, leaf).String())
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, leaf, e.opts("alice")...); err != nil {
		t.Fatal(err)
	}
	raw, _ := leaf.RawManifest()
	mt, _ := leaf.MediaType()
	child := ocispec.Descriptor{MediaType: string(mt), Digest: dig(t, leaf), Size: int64(len(raw))}
	tok := e.token("alice", "repository:alice-ns/deep:pull,push")
	const depth = 12
	for i := 1; i <= depth; i++ {
		body, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": ocispec.MediaTypeImageIndex, "manifests": []ocispec.Descriptor{child}})
		d := digest.FromBytes(body)
		at := d.String()
		if i == depth {
			at = "top"
		}
		e.putManifest(tok, "alice-ns/deep", at, ocispec.MediaTypeImageIndex, body)
		child = ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: d, Size: int64(len(body))}
	}
	junk := e.garbage()

	tags, err := e.reg.Tags(ctx, "alice-ns/deep")
	if err != nil || len(tags) != 1 || tags[0].MediaType != ocispec.MediaTypeImageIndex {
		t.Fatalf("tags: %+v %v", tags, err)
	}
	pastGrace()
	if _, err := e.reg.GC(ctx); err != nil {
		t.Fatalf("collection: %v", err)
	}
	for _, d := range junk {
		if e.hasBlob(d) {
			t.Errorf("garbage blob %s survived", d)
		}
	}
	ls, _ := leaf.Layers()
	for _, d := range []digest.Digest{child.Digest, dig(t, leaf), configDig(t, leaf), dig(t, ls[0])} {
		if !e.hasBlob(d) {
			t.Errorf("blob %s under the nested indexes was collected", d)
		}
	}
	e.mustPull("alice", "alice-ns/deep@"+dig(t, leaf).String())
}

// walkRecorder records the storage paths the catalogue looks at.
type walkRecorder struct {
	storagedriver.StorageDriver
	mu    sync.Mutex
	paths []string
}

func (w *walkRecorder) record(p string) {
	w.mu.Lock()
	w.paths = append(w.paths, p)
	w.mu.Unlock()
}

func (w *walkRecorder) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	p := w.paths
	w.paths = nil
	return p
}

func (w *walkRecorder) List(ctx context.Context, p string) ([]string, error) {
	w.record(p)
	return w.StorageDriver.List(ctx, p)
}

func (w *walkRecorder) Stat(ctx context.Context, p string) (storagedriver.FileInfo, error) {
	w.record(p)
	return w.StorageDriver.Stat(ctx, p)
}

func (w *walkRecorder) Walk(ctx context.Context, p string, f storagedriver.WalkFn, options ...func(*storagedriver.WalkOptions)) error {
	w.record(p)
	return w.StorageDriver.Walk(ctx, p, f, options...)
}

// TestCatalogWalksVisibleNamespaces: the catalogue asks the token service
// once for the namespaces the caller may pull from, and walks only those:
// never the whole storage, never a namespace per repository found.
func TestCatalogWalksVisibleNamespaces(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, onFilesystem, nil)
	e.auth.mu.Lock()
	e.auth.owner["alice"] = "alice" // "alice-ns/…" sorts before "alice/…"
	e.auth.mu.Unlock()
	for _, r := range []struct{ user, ref string }{
		{"alice", "alice-ns/a:1"}, {"alice", "alice-ns/b/c:1"}, {"alice", "alice/z:1"},
		{"bob", "bob-ns/x:1"}, {"alice", "pub/p:1"},
	} {
		e.mustPush(r.user, r.ref, randomImage(t, 1))
	}
	// Repositories of a namespace the token service does not know.
	for i := range 20 {
		if err := e.reg.raw.PutContent(ctx, tagCurrentLink(fmt.Sprintf("stray-ns/r%d", i), "v1"), []byte(digest.FromString("x"))); err != nil {
			t.Fatal(err)
		}
	}
	rec := &walkRecorder{StorageDriver: e.reg.raw}
	e.reg.raw = rec

	catalog := func(user, query string) ([]string, string) {
		t.Helper()
		tok := e.token(user, "registry:catalog:*")
		e.auth.mu.Lock()
		e.auth.allowedCalls, e.auth.namespacesCalls = 0, 0
		e.auth.mu.Unlock()
		a := e.do(http.MethodGet, "/v2/_catalog"+query, tok, nil, nil)
		if a.status != http.StatusOK {
			t.Fatalf("catalog as %q: %d %s", user, a.status, a.body)
		}
		e.auth.mu.Lock()
		calls, namespaces := e.auth.allowedCalls, e.auth.namespacesCalls
		e.auth.mu.Unlock()
		if calls != 0 || namespaces != 1 {
			t.Fatalf("catalog as %q asked Allowed %d times and Namespaces %d times, want 0 and 1", user, calls, namespaces)
		}
		var body struct{ Repositories []string }
		if err := json.Unmarshal([]byte(a.body), &body); err != nil {
			t.Fatal(err)
		}
		return body.Repositories, a.header.Get("Link")
	}
	for _, c := range []struct {
		user    string
		visible []string
		want    string
	}{
		{"alice", []string{"alice", "alice-ns", "pub"}, "alice-ns/a alice-ns/b/c alice/z pub/p"},
		{"bob", []string{"bob-ns", "pub"}, "bob-ns/x pub/p"},
		{"", []string{"pub"}, "pub/p"},
	} {
		got, link := catalog(c.user, "")
		if strings.Join(got, " ") != c.want || link != "" {
			t.Errorf("catalog as %q: %v (Link %q), want %s", c.user, got, link, c.want)
		}
		walked := rec.take()
		if len(walked) == 0 {
			t.Errorf("catalog as %q walked nothing of the storage it was given", c.user)
		}
		for _, p := range walked {
			ns, _, _ := strings.Cut(strings.TrimPrefix(p, reposRoot+"/"), "/")
			if !strings.HasPrefix(p, reposRoot+"/") || !slices.Contains(c.visible, ns) {
				t.Errorf("catalog as %q looked at %s, outside the namespaces it may pull from", c.user, p)
			}
		}

		// One at a time, the pages make the same list, in the same order.
		var all []string
		query := "?n=1"
		for range 10 {
			page, link := catalog(c.user, query)
			all = append(all, page...)
			if link == "" {
				break
			}
			u := strings.TrimSuffix(strings.TrimPrefix(link, "<"), `>; rel="next"`)
			query = u[strings.Index(u, "?"):]
		}
		if strings.Join(all, " ") != c.want {
			t.Errorf("paginated catalog as %q: %v, want %s", c.user, all, c.want)
		}
		rec.take()
	}
	if a := e.do(http.MethodGet, "/v2/_catalog?n=0", e.token("alice", "registry:catalog:*"), nil, nil); a.status != http.StatusOK || strings.TrimSpace(a.body) != `{"repositories":[]}` {
		t.Errorf("n=0: %d %s", a.status, a.body)
	}
}
