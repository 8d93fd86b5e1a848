package registry

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
)

const testGrace = 300 * time.Millisecond

// pastGrace waits until what was touched so far is older than the grace.
func pastGrace() { time.Sleep(testGrace + 150*time.Millisecond) }

func layer(t *testing.T) v1.Layer {
	t.Helper()
	l, err := random.Layer(4096, types.DockerLayer)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func imageOf(t *testing.T, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func dig(t *testing.T, x interface{ Digest() (v1.Hash, error) }) digest.Digest {
	t.Helper()
	h, err := x.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return digest.Digest(h.String())
}

func configDig(t *testing.T, img v1.Image) digest.Digest {
	t.Helper()
	h, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	return digest.Digest(h.String())
}

func (e *env) blobModTime(d digest.Digest) (time.Time, bool) {
	fi, err := e.reg.raw.Stat(context.Background(), blobDataPath(d))
	if err != nil {
		return time.Time{}, false
	}
	return fi.ModTime(), true
}

func (e *env) hasBlob(d digest.Digest) bool {
	_, ok := e.blobModTime(d)
	return ok
}

func TestGCRemovesWhatDeletedTagsLeave(t *testing.T) {
	ctx := context.Background()
	for _, kind := range []storageKind{onFilesystem, onS3} {
		t.Run(string(kind), func(t *testing.T) {
			var again error
			var e *env
			e = newEnv(t, kind, func(c *Config) {
				c.GCGrace = testGrace
				c.hooks = &gcHooks{afterMark: func() { _, again = e.reg.GC(ctx) }}
			})
			shared, onlyA, onlyB, c1, c2 := layer(t), layer(t), layer(t), layer(t), layer(t)
			imgA, imgB := imageOf(t, shared, onlyA), imageOf(t, shared, onlyB)
			imgC1, imgC2 := imageOf(t, c1), imageOf(t, c2)
			e.mustPush("alice", "alice-ns/app:a", imgA)
			e.mustPush("alice", "alice-ns/app:b", imgB)
			e.mustPush("alice", "alice-ns/app:c", imgC1)
			e.mustPush("alice", "alice-ns/app:c", imgC2) // c1's image is now untagged, not deleted
			if err := e.reg.DeleteTag(ctx, "alice-ns/app", "a"); err != nil {
				t.Fatal(err)
			}
			// Until the collection, the deleted tag's image still pulls by digest.
			e.mustPull("alice", "alice-ns/app@"+dig(t, imgA).String())
			pastGrace()

			res, err := e.reg.GC(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if again == nil || !strings.Contains(again.Error(), "already running") {
				t.Fatalf("a second collection during the first: %v", again)
			}
			rawA, _ := imgA.RawManifest()
			cfgA, _ := imgA.RawConfigFile()
			sizeA, _ := onlyA.Size()
			wantBytes := int64(len(rawA)+len(cfgA)) + sizeA
			if res.Deleted != 3 || res.DeletedBytes != wantBytes || res.Kept != 0 {
				t.Fatalf("result %+v, want 3 deleted (%d bytes), none kept", res, wantBytes)
			}
			for _, d := range []digest.Digest{dig(t, imgA), configDig(t, imgA), dig(t, onlyA)} {
				if e.hasBlob(d) {
					t.Errorf("blob %s of the deleted tag survived", d)
				}
			}
			if links, _ := e.reg.digestFiles(ctx, layersDir("alice-ns/app"), true); func() bool { _, ok := links[dig(t, onlyA)]; return ok }() {
				t.Error("the removed layer's link stayed in the repository")
			}
			if err := e.pull("alice", "alice-ns/app@"+dig(t, imgA).String()); err == nil {
				t.Error("the deleted tag's image still pulls after the collection")
			}
			e.mustPull("alice", "alice-ns/app:b")
			e.mustPull("alice", "alice-ns/app:c")
			// Untagged by a later push, not deleted: kept for digest pins.
			e.mustPull("alice", "alice-ns/app@"+dig(t, imgC1).String())

			// Nothing more to collect.
			pastGrace()
			res, err = e.reg.GC(ctx)
			if err != nil || res.Deleted != 0 {
				t.Fatalf("second collection: %+v %v", res, err)
			}
		})
	}
}

// TestGCRace reproduces the race of distribution#1609 deterministically:
// image A's tag is deleted; the collector marks (A unreferenced, so its
// layer L is garbage) and stops; meanwhile a client pushes image B, HEADs
// L, finds it, skips the upload, and PUTs B's manifest naming L; then the
// sweep runs. B must still pull. Without the touch record the same steps
// lose L: the subtest proves the test catches the race.
func TestGCRace(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name    string
		kind    storageKind
		noTouch bool
	}{
		{"filesystem: with touches B pulls", onFilesystem, false}, {"filesystem: without touches B breaks", onFilesystem, true},
		{"s3: with touches B pulls", onS3, false}, {"s3: without touches B breaks", onS3, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			l, other := layer(t), layer(t)
			imgA, imgB := imageOf(t, l, other), imageOf(t, l)
			var pushErr error
			var e *env
			e = newEnv(t, c.kind, func(cfg *Config) {
				cfg.GCGrace = testGrace
				cfg.hooks = &gcHooks{noTouch: c.noTouch, afterMark: func() {
					pushErr = e.push("alice", "alice-ns/app:b", imgB)
				}}
			})
			e.mustPush("alice", "alice-ns/app:a", imgA)
			if err := e.reg.DeleteTag(ctx, "alice-ns/app", "a"); err != nil {
				t.Fatal(err)
			}
			pastGrace()
			uploadedAt, _ := e.blobModTime(dig(t, l))

			res, err := e.reg.GC(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if pushErr != nil {
				t.Fatalf("push of B between mark and sweep: %v", pushErr)
			}
			pullErr := e.pull("alice", "alice-ns/app:b")
			if c.noTouch {
				if pullErr == nil {
					t.Fatal("without touches B still pulls: the test does not reproduce the race")
				}
				return
			}
			if pullErr != nil {
				t.Fatalf("B after the sweep: %v", pullErr)
			}
			// The client really skipped L (it was not uploaded again), and
			// the collector kept it because of the touches.
			if at, ok := e.blobModTime(dig(t, l)); !ok || !at.Equal(uploadedAt) {
				t.Fatalf("layer L: present %v, modified %v (uploaded %v): the client should have skipped it", ok, at, uploadedAt)
			}
			if res.Kept == 0 || e.hasBlob(dig(t, other)) || e.hasBlob(dig(t, imgA)) {
				t.Fatalf("result %+v: A's own blobs should be gone and L kept", res)
			}
			// The next collection sees B's tag and keeps L for good.
			pastGrace()
			if _, err := e.reg.GC(ctx); err != nil {
				t.Fatal(err)
			}
			e.mustPull("alice", "alice-ns/app:b")
		})
	}
}

// TestGCLock stops the sweep between its check (L untouched) and its delete
// of L, lets a client push B (which names L) into that window, and checks
// the per-blob lock: the client's HEAD of L waits, then finds L gone and
// uploads it again. Without the lock the client skips L, its manifest
// passes, L is deleted after, and B is broken.
func TestGCLock(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name   string
		kind   storageKind
		noLock bool
	}{
		{"filesystem: with the lock B pulls", onFilesystem, false}, {"filesystem: without the lock B breaks", onFilesystem, true},
		{"s3: with the lock B pulls", onS3, false}, {"s3: without the lock B breaks", onS3, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			l, other := layer(t), layer(t)
			imgA, imgB := imageOf(t, l, other), imageOf(t, l)
			ld := dig(t, l)
			blocked := make(chan struct{}, 1)
			pushed := make(chan error, 1)
			var e *env
			e = newEnv(t, c.kind, func(cfg *Config) {
				cfg.GCGrace = testGrace
				cfg.hooks = &gcHooks{noLock: c.noLock,
					touchWaits: func(d digest.Digest) {
						if d == ld {
							select {
							case blocked <- struct{}{}:
							default:
							}
						}
					},
					beforeDelete: func(d digest.Digest) {
						if d != ld {
							return
						}
						go func() { pushed <- e.push("alice", "alice-ns/app:b", imgB) }()
						select {
						case <-blocked: // the client waits for the lock
						case err := <-pushed: // no lock: the push got through
							pushed <- err
						case <-time.After(30 * time.Second):
							t.Error("the push neither waited for the lock nor finished")
						}
					}}
			})
			e.mustPush("alice", "alice-ns/app:a", imgA)
			if err := e.reg.DeleteTag(ctx, "alice-ns/app", "a"); err != nil {
				t.Fatal(err)
			}
			pastGrace()
			start := time.Now()
			if _, err := e.reg.GC(ctx); err != nil {
				t.Fatal(err)
			}
			if err := <-pushed; err != nil {
				t.Fatalf("push of B: %v", err)
			}
			pullErr := e.pull("alice", "alice-ns/app:b")
			if c.noLock {
				if pullErr == nil {
					t.Fatal("without the lock B still pulls: the test does not reproduce the race")
				}
				return
			}
			if pullErr != nil {
				t.Fatalf("B after the sweep: %v", pullErr)
			}
			// (S3's Last-Modified has whole seconds.)
			if at, ok := e.blobModTime(ld); !ok || at.Before(start.Truncate(time.Second)) {
				t.Fatalf("layer L should have been uploaded again after the sweep removed it (present %v, at %v)", ok, at)
			}
		})
	}
}

// TestGCLeavesUploads: an upload in progress across a collection finishes.
func TestGCLeavesUploads(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, onFilesystem, func(c *Config) { c.GCGrace = testGrace })
	e.mustPush("alice", "alice-ns/up:v1", randomImage(t, 1))
	tok := e.token("alice", "repository:alice-ns/up:pull,push")
	a := e.do(http.MethodPost, "/v2/alice-ns/up/blobs/uploads/", tok, nil, nil)
	data := bytes.Repeat([]byte("upload in progress "), 500)
	a = e.do(http.MethodPatch, strings.TrimPrefix(a.header.Get("Location"), e.srv.URL), tok, bytes.NewReader(data[:4000]), nil)
	if a.status != http.StatusAccepted {
		t.Fatalf("first chunk: %d %s", a.status, a.body)
	}
	pastGrace()
	if _, err := e.reg.GC(ctx); err != nil {
		t.Fatal(err)
	}
	loc := strings.TrimPrefix(a.header.Get("Location"), e.srv.URL)
	a = e.do(http.MethodPut, loc+"&digest="+digest.FromBytes(data).String(), tok, bytes.NewReader(data[4000:]), nil)
	if a.status != http.StatusCreated {
		t.Fatalf("finishing the upload after a collection: %d %s", a.status, a.body)
	}
	if !e.hasBlob(digest.FromBytes(data)) {
		t.Fatal("the finished upload's blob is missing")
	}
}

func TestDigestOfPath(t *testing.T) {
	d := digest.FromString("x")
	for p, want := range map[string]bool{
		blobDataPath(d):                 true,
		revisionLink("ns/app", d):       true,
		layerDir("ns/app", d) + "/link": true,
		tagDir("ns/app", "v1") + "/index/" + digestDir(d) + "/link": true,
		tagCurrentLink("ns/app", "v1"):                              false,
		uploadDataPath("ns/app", "abc"):                             false,
		blobDir(d):                                                  false,
		reposRoot + "/ns/_layers/sha256/zz/link":                    false,
	} {
		got, ok := digestOfPath(p)
		if ok != want || (ok && got != d) {
			t.Errorf("digestOfPath(%s) = %s %v, want %v", p, got, ok, want)
		}
	}
}
