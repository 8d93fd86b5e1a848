package registry

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	registryv1 "github.com/kstack/kstack/api/registry/v1"
	"github.com/kstack/kstack/internal/testutil/ocitest"
	"github.com/kstack/kstack/test/e2e/framework"
)

// gcRace reproduces, through the gateway, the race the issue names: image
// A (layers L1, L2) is pushed and its tag deleted; a collection marks
// (nothing references L1 now) and is held before its sweep; a client HEADs
// L1, finds it, skips uploading it and PUTs image B's manifest naming it;
// the sweep runs. B pulls in full afterwards, and the collection did
// delete what nothing referenced nor touched (L2, and a blob uploaded and
// never used).
func gcRace(t *testing.T, e *env) {
	c := e.client()
	repo := "team-a/gc"
	imgA := ocitest.RandomImage(t, 2, 4096)
	if err := e.asAlice().Push(ctx(t), e.ref(repo+":a"), imgA); err != nil {
		t.Fatal(err)
	}
	layers := ocitest.LayerDigests(t, imgA)
	l1, l2 := layers[0], layers[1]
	tok := e.token(t, "alice", e.aliceKey, "repository:"+repo+":pull,push")
	orphan := []byte("uploaded, never referenced " + randomHex(16))
	r, orphanDg, err := c.PutBlob(ctx(t), repo, tok, orphan)
	if err != nil || r.Status != http.StatusCreated {
		t.Fatalf("uploading the orphan blob: %v %v", r, err)
	}
	// Let every blob's last touch fall out of the collector's grace: what
	// nobody touches from here on is collectable.
	time.Sleep(gcGrace + time.Second)
	e.alice.MustRun("registry", "tag", "delete", repo+":a")

	// A collection, held between its mark and its sweep.
	if err := os.WriteFile(e.gcPause, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	released := false
	defer func() {
		if !released {
			_ = os.Remove(e.gcPause)
		}
	}()
	logStart := platformLogSize(e)
	gcDone := make(chan struct{})
	var gcOut, gcErr string
	var gcFailed error
	go func() {
		defer close(gcDone)
		res := e.k.RunStdin("", "registry", "gc", "-o", "json")
		gcOut, gcErr, gcFailed = res.Stdout, res.Stderr, res.Err
	}()
	waitGCPaused(t, e, logStart, gcDone)

	// The client: L1 exists (HEAD), so it is not uploaded again; B's
	// config is new; B's manifest names L1.
	tok = e.token(t, "alice", e.aliceKey, "repository:"+repo+":pull,push")
	h, err := c.Do(ctx(t), "HEAD", "/v2/"+repo+"/blobs/"+l1, tok, nil, nil)
	if err != nil || h.Status != http.StatusOK {
		t.Fatalf("HEAD L1 during the collection: %v %v, want 200 (it is not swept yet)", h, err)
	}
	cfgB := ocitest.ConfigBlob()
	if r, _, err := c.PutBlob(ctx(t), repo, tok, cfgB); err != nil || r.Status != http.StatusCreated {
		t.Fatalf("uploading B's config: %v %v", r, err)
	}
	size := contentLength(t, h)
	mB := ocitest.Manifest(ocitest.Descriptor{MediaType: ocitest.MediaTypeConfig, Digest: ocitest.DigestOf(cfgB), Size: int64(len(cfgB))},
		ocitest.Descriptor{MediaType: "application/vnd.oci.image.layer.v1.tar+gzip", Digest: l1, Size: size})
	if r, err := c.PutManifest(ctx(t), repo, "b", tok, ocitest.MediaTypeManifest, mB); err != nil || r.Status != http.StatusCreated {
		t.Fatalf("PUT B's manifest naming L1 during the collection: %v %v", r, err)
	}
	select {
	case <-gcDone:
		t.Fatalf("the collection ended while its pause file existed: %v\n%s%s", gcFailed, gcOut, gcErr)
	default:
	}

	// The sweep.
	if err := os.Remove(e.gcPause); err != nil {
		t.Fatal(err)
	}
	released = true
	select {
	case <-gcDone:
	case <-time.After(5 * time.Minute):
		t.Fatal("the collection did not finish within 5 minutes of its release")
	}
	if gcFailed != nil {
		t.Fatalf("kstack registry gc: %v\n%s%s", gcFailed, gcOut, gcErr)
	}
	var res registryv1.GCResult
	if err := json.Unmarshal([]byte(gcOut), &res); err != nil {
		t.Fatalf("kstack registry gc -o json: %v\n%s", err, gcOut)
	}
	t.Logf("collection: %+v", res)

	// B pulls in full: manifest, config and L1.
	got, err := e.asAlice().Pull(ctx(t), e.ref(repo+":b"))
	if err != nil || got != ocitest.DigestOf(mB) {
		t.Fatalf("pulling B after the sweep: %q %v (want %s)", got, err, ocitest.DigestOf(mB))
	}
	// The collection did its work: L2 and the orphan are gone.
	tok = e.token(t, "alice", e.aliceKey, "repository:"+repo+":pull")
	for what, dg := range map[string]string{"L2 (only A referenced it)": l2, "the orphan upload": orphanDg} {
		r, err := c.Do(ctx(t), "HEAD", "/v2/"+repo+"/blobs/"+dg, tok, nil, nil)
		if err != nil || r.Status != http.StatusNotFound {
			t.Errorf("%s after the collection: %v %v, want 404 (deleted)", what, r, err)
		}
	}
	if res.Deleted < 2 || res.DeletedBytes <= 0 {
		t.Errorf("the collection reports %d blobs (%d bytes) deleted, want at least L2 and the orphan", res.Deleted, res.DeletedBytes)
	}
	// A is gone, B is listed.
	if tags := tagNames(t, e, repo); strings.Join(tags, ",") != "b" {
		t.Errorf("tags of %s after the collection: %v, want [b]", repo, tags)
	}
}

// tagNames lists repo's tags through the API (kstack registry tag list -o json).
func tagNames(t *testing.T, e *env, repo string) []string {
	t.Helper()
	out := e.alice.MustRun("registry", "tag", "list", repo, "-o", "json")
	var items []registryv1.Tag
	if err := json.Unmarshal([]byte(out), &items); err != nil {
		var l registryv1.TagList
		if err2 := json.Unmarshal([]byte(out), &l); err2 != nil {
			t.Fatalf("kstack registry tag list -o json: %v\n%s", err, out)
		}
		items = l.Items
	}
	var names []string
	for _, tg := range items {
		names = append(names, tg.Name)
	}
	return names
}

func contentLength(t *testing.T, r ocitest.Response) int64 {
	t.Helper()
	var n int64
	if _, err := fmt.Sscan(r.Header.Get("Content-Length"), &n); err != nil || n <= 0 {
		t.Fatalf("HEAD answer without a Content-Length: %v", r.Header)
	}
	return n
}

// platformLog is the platform process's log.
func platformLog(e *env) string {
	return filepath.Join(e.k.DataDir, "platform", "logs", "platform.log")
}

func platformLogSize(e *env) int64 {
	if fi, err := os.Stat(platformLog(e)); err == nil {
		return fi.Size()
	}
	return 0
}

// waitGCPaused waits until the collection has marked and holds before its
// sweep: it says so by creating "<pause file>.marked", or in the
// platform's log (a line after from naming the pause).
func waitGCPaused(t *testing.T, e *env, from int64, done <-chan struct{}) {
	t.Helper()
	framework.Eventually(t, 2*time.Minute, "the collection paused after its mark", func() error {
		select {
		case <-done:
			t.Fatal("the collection ended before it paused (is KSTACK_REGISTRY_GC_PAUSE_FILE honoured?)")
		default:
		}
		if _, err := os.Stat(e.gcPause + ".marked"); err == nil {
			return nil
		}
		data, _ := os.ReadFile(platformLog(e))
		if int64(len(data)) > from {
			for _, l := range strings.Split(string(data[from:]), "\n") {
				if strings.Contains(strings.ToLower(l), "garbage collection") && strings.Contains(strings.ToLower(l), "paus") {
					return nil
				}
			}
		}
		return fmt.Errorf("no %s.marked, no log line of the pause in %s", e.gcPause, platformLog(e))
	})
}
