package registry

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/kstack/kstack/internal/testutil/ocitest"
)

// badInput: each bad input gets a clear error naming the problem, and
// leaves nothing half-made.
func badInput(t *testing.T, e *env) {
	c := e.client()

	t.Run("wrong credentials", func(t *testing.T) {
		var bodies []string
		for _, cred := range [][2]string{{"alice", "Wrong-Passw0rd"}, {"nobody", "Wrong-Passw0rd"}} {
			a, err := c.Token(ctx(t), cred[0], cred[1], "repository:team-a/secret:pull")
			if err != nil {
				t.Fatal(err)
			}
			if a.Status != http.StatusUnauthorized || a.Token != "" || !strings.Contains(a.Body, "wrong username or password") ||
				!strings.Contains(a.Body, "UNAUTHORIZED") || a.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("token request as %s with a wrong password: %v (WWW-Authenticate %q), want 401 UNAUTHORIZED \"wrong username or password\" with a Basic challenge",
					cred[0], a.Response, a.Header.Get("WWW-Authenticate"))
			}
			bodies = append(bodies, a.Body)
		}
		// A known user and an unknown one are answered alike.
		if bodies[0] != bodies[1] {
			t.Errorf("a wrong password for alice (%s) and for nobody (%s) are told apart", bodies[0], bodies[1])
		}
		// An access key that does not exist (or was deleted) is named as such.
		a, err := c.Token(ctx(t), "alice", "ksk_nokey_"+strings.Repeat("x", 43), "repository:team-a/secret:pull")
		if err != nil {
			t.Fatal(err)
		}
		if a.Status != http.StatusUnauthorized || a.Token != "" || !strings.Contains(a.Body, "access key") {
			t.Errorf("token request with an unknown access key: %v, want 401 naming the access key", a.Response)
		}
		// Through a real client: skopeo shows the message.
		out, err := ocitest.Skopeo(t, "inspect", "--cert-dir", e.caDir, "--creds", "alice:Wrong-Passw0rd", "docker://"+e.ref("team-a/secret:v1"))
		if err == nil || !strings.Contains(out, "wrong username or password") {
			t.Errorf("skopeo with a wrong password: %v\n%s", err, out)
		}
		// The twin: the right password works.
		if a, err := c.Token(ctx(t), "alice", alicePassword, "repository:team-a/secret:pull"); err != nil || a.Status != http.StatusOK || a.Token == "" {
			t.Errorf("token request with alice's password: %v %v", a.Response, err)
		}
	})

	t.Run("a token for another repository's scope", func(t *testing.T) {
		tok := e.token(t, "alice", e.aliceKey, "repository:team-a/secret:pull,push")
		if r, err := c.Do(ctx(t), "GET", "/v2/team-a/secret/tags/list", tok, nil, nil); err != nil || r.Status != http.StatusOK {
			t.Fatalf("the token on its own repository: %v %v", r, err)
		}
		for _, p := range []struct{ method, path, action string }{
			{"GET", "/v2/team-a/skopeo/tags/list", "pull"},
			{"GET", "/v2/team-a/skopeo/manifests/v1", "pull"},
			{"POST", "/v2/team-a/skopeo/blobs/uploads/", "push"},
		} {
			r, err := c.Do(ctx(t), p.method, p.path, tok, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			all := r.Body + " " + r.Header.Get("WWW-Authenticate")
			if r.Status != http.StatusUnauthorized || !strings.Contains(all, "team-a/skopeo") || !strings.Contains(all, p.action) {
				t.Errorf("%s %s with a token for team-a/secret: %v (WWW-Authenticate %q), want 401 naming repository team-a/skopeo and %s",
					p.method, p.path, r, r.Header.Get("WWW-Authenticate"), p.action)
			}
		}
	})

	t.Run("pushing to a namespace one cannot write", func(t *testing.T) {
		// alice is no member of team-b's project.
		err := e.asAlice().Push(ctx(t), e.ref("team-b/intruder:v1"), ocitest.RandomImage(t, 1, 1024))
		if err == nil || !strings.Contains(err.Error(), "team-b/intruder") {
			t.Errorf("alice pushing to team-b: %v, want a refusal naming team-b/intruder", err)
		}
		tok := e.token(t, "alice", e.aliceKey, "repository:team-b/intruder:pull,push")
		r, err := c.Do(ctx(t), "POST", "/v2/team-b/intruder/blobs/uploads/", tok, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if all := r.Body + " " + r.Header.Get("WWW-Authenticate"); r.Status != http.StatusUnauthorized || !strings.Contains(all, "team-b/intruder") || !strings.Contains(all, "push") {
			t.Errorf("alice starting an upload in team-b: %v (WWW-Authenticate %q), want 401 naming team-b/intruder and push", r, r.Header.Get("WWW-Authenticate"))
		}
		// A pull credential's user cannot push either, even where it pulls:
		// covered in the pull-secret test. Nothing was made in team-b.
		cat, err := e.asBob().Catalog(ctx(t), e.host)
		if err != nil || contains(cat, "team-b/intruder") {
			t.Errorf("bob's catalogue after alice's refused push: %v %v", cat, err)
		}
		if out := e.bob.MustRun("registry", "repo", "list", "team-b"); strings.Contains(out, "intruder") {
			t.Errorf("team-b lists a repository from the refused push:\n%s", out)
		}
	})

	t.Run("a manifest naming blobs never uploaded", func(t *testing.T) {
		tok := e.token(t, "alice", e.aliceKey, "repository:team-a/partial:pull,push")
		cfg := ocitest.ConfigBlob()
		if r, _, err := c.PutBlob(ctx(t), "team-a/partial", tok, cfg); err != nil || r.Status != http.StatusCreated {
			t.Fatalf("uploading the config: %v %v", r, err)
		}
		missing := []byte("never uploaded " + randomHex(8))
		m := ocitest.Manifest(ocitest.Descriptor{MediaType: ocitest.MediaTypeConfig, Digest: ocitest.DigestOf(cfg), Size: int64(len(cfg))},
			ocitest.Descriptor{MediaType: ocitest.MediaTypeLayer, Digest: ocitest.DigestOf(missing), Size: int64(len(missing))})
		r, err := c.PutManifest(ctx(t), "team-a/partial", "v1", tok, ocitest.MediaTypeManifest, m)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != http.StatusBadRequest || !strings.Contains(r.Body, "MANIFEST_BLOB_UNKNOWN") || !strings.Contains(r.Body, ocitest.DigestOf(missing)) {
			t.Errorf("a manifest naming a blob never uploaded: %v, want 400 MANIFEST_BLOB_UNKNOWN naming %s", r, ocitest.DigestOf(missing))
		}
		// Nothing half-made: no tag, no manifest.
		if r, _ := c.Do(ctx(t), "HEAD", "/v2/team-a/partial/manifests/v1", tok, nil, nil); r.Status != http.StatusNotFound {
			t.Errorf("after the refusal, HEAD team-a/partial:v1: %v, want 404", r)
		}
		if r, _ := c.Do(ctx(t), "HEAD", "/v2/team-a/partial/manifests/"+ocitest.DigestOf(m), tok, nil, nil); r.Status != http.StatusNotFound {
			t.Errorf("after the refusal, HEAD of the manifest's digest: %v, want 404", r)
		}
		// The twin: with the blob uploaded the same manifest is stored.
		if r, _, err := c.PutBlob(ctx(t), "team-a/partial", tok, missing); err != nil || r.Status != http.StatusCreated {
			t.Fatalf("uploading the layer: %v %v", r, err)
		}
		if r, err := c.PutManifest(ctx(t), "team-a/partial", "v1", tok, ocitest.MediaTypeManifest, m); err != nil || r.Status != http.StatusCreated {
			t.Errorf("the manifest once its blobs are there: %v %v", r, err)
		}
	})

	t.Run("a manifest over the size limit", func(t *testing.T) {
		tok := e.token(t, "alice", e.aliceKey, "repository:team-a/big:pull,push")
		cfg := ocitest.ConfigBlob()
		if r, _, err := c.PutBlob(ctx(t), "team-a/big", tok, cfg); err != nil || r.Status != http.StatusCreated {
			t.Fatalf("uploading the config: %v %v", r, err)
		}
		desc := ocitest.Descriptor{MediaType: ocitest.MediaTypeConfig, Digest: ocitest.DigestOf(cfg), Size: int64(len(cfg))}
		// Over kstack's limit, under distribution's own 4 MiB.
		m := manifestOfSize(t, desc, maxManifest+50_000)
		r, err := c.PutManifest(ctx(t), "team-a/big", "v1", tok, ocitest.MediaTypeManifest, m)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status < 400 || r.Status > 499 || !namesLimit(r.Body, maxManifest) {
			t.Errorf("a manifest of %d bytes (limit %d): %v, want a 4xx naming the limit", len(m), maxManifest, r)
		}
		if r, _ := c.Do(ctx(t), "HEAD", "/v2/team-a/big/manifests/v1", tok, nil, nil); r.Status != http.StatusNotFound {
			t.Errorf("after the refusal, HEAD team-a/big:v1: %v, want 404", r)
		}
		// The twin: one under the limit is stored.
		small := manifestOfSize(t, desc, maxManifest-50_000)
		if r, err := c.PutManifest(ctx(t), "team-a/big", "v2", tok, ocitest.MediaTypeManifest, small); err != nil || r.Status != http.StatusCreated {
			t.Errorf("a manifest of %d bytes (limit %d): %v %v", len(small), maxManifest, r, err)
		}
	})

	t.Run("a blob over the size limit", func(t *testing.T) {
		tok := e.token(t, "alice", e.aliceKey, "repository:team-a/big:pull,push")
		big := make([]byte, maxBlob+100_000)
		_, _ = rand.Read(big)
		r, dg, err := c.PutBlob(ctx(t), "team-a/big", tok, big)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status < 400 || r.Status > 499 || !namesLimit(r.Body, maxBlob) {
			t.Errorf("a blob of %d bytes (limit %d): %v, want a 4xx naming the limit", len(big), maxBlob, r)
		}
		if r, _ := c.Do(ctx(t), "HEAD", "/v2/team-a/big/blobs/"+dg, tok, nil, nil); r.Status != http.StatusNotFound {
			t.Errorf("after the refusal, HEAD of the blob: %v, want 404", r)
		}
		// Streamed in chunks (PATCH), as docker does, it is refused too.
		r = patchBlob(t, e, c, "team-a/big", tok, big, 256<<10)
		if r.Status < 400 || r.Status > 499 || !namesLimit(r.Body, maxBlob) {
			t.Errorf("a blob of %d bytes in chunks (limit %d): %v, want a 4xx naming the limit", len(big), maxBlob, r)
		}
		if r, _ := c.Do(ctx(t), "HEAD", "/v2/team-a/big/blobs/"+dg, tok, nil, nil); r.Status != http.StatusNotFound {
			t.Errorf("after the chunked refusal, HEAD of the blob: %v, want 404", r)
		}
		// The twin: a blob under the limit is stored.
		if r, _, err := c.PutBlob(ctx(t), "team-a/big", tok, big[:maxBlob-100_000]); err != nil || r.Status != http.StatusCreated {
			t.Errorf("a blob under the limit: %v %v", r, err)
		}
	})

	t.Run("an invalid namespace name", func(t *testing.T) {
		// Each refusal names the name and the rule it breaks.
		for _, tc := range []struct{ name, rule string }{
			{"Team_A", "lower-case letters"}, {"a", "2 to 63"}, {strings.Repeat("n", 64), "2 to 63"},
			{"-lead", "lower-case letters"}, {"trail-", "lower-case letters"}, {"two--dashes", "single '.' or '-'"},
			{"v2", "reserved"}, {"kstack-pull-x", "reserved"},
		} {
			r := e.k.Run("registry", "namespace", "create", "--", tc.name)
			if r.Err == nil || !strings.Contains(r.Stderr, tc.name) || !strings.Contains(r.Stderr, tc.rule) {
				t.Errorf("registry namespace create %q: %v %q, want a refusal naming it and %q", tc.name, r.Err, r.Stderr, tc.rule)
			}
		}
		var names []string
		for _, n := range strings.Fields(e.k.MustRun("registry", "namespace", "list", "-o", "name")) {
			names = append(names, n[strings.LastIndex(n, "/")+1:])
		}
		if !contains(names, "team-a") {
			t.Fatalf("registry namespace list -o name: %v, want team-a among them", names)
		}
		for _, n := range names {
			if !contains([]string{"team-a", "team-b", "conformance", "doomed"}, n) {
				t.Errorf("namespace %q is listed after the refusals", n)
			}
		}
	})

	t.Run("deleting a namespace that holds repositories", func(t *testing.T) {
		e.k.MustRun("registry", "namespace", "create", "doomed", "--project", e.prjA)
		dg := e.push(t, e.asAlice(), "doomed/app:v1", 1)
		r := e.k.Run("registry", "namespace", "delete", "doomed")
		if r.Err == nil || !strings.Contains(r.Stderr, "repositor") || !strings.Contains(r.Stderr, "--force") {
			t.Fatalf("deleting a namespace with a repository: %v %q, want a refusal that names its repositories and --force", r.Err, r.Stderr)
		}
		// Everything is still there.
		if out := e.k.MustRun("registry", "namespace", "get", "doomed"); !strings.Contains(out, "doomed") {
			t.Errorf("after the refusal: %s", out)
		}
		if got, err := e.asAlice().Pull(ctx(t), e.ref("doomed/app:v1")); err != nil || got != dg {
			t.Errorf("pulling doomed/app:v1 after the refused delete: %q %v", got, err)
		}
		// Forced, it goes with its images.
		e.k.MustRun("registry", "namespace", "delete", "doomed", "--force")
		if r := e.k.Run("registry", "namespace", "get", "doomed"); r.Err == nil {
			t.Errorf("doomed still exists after delete --force:\n%s", r.Stdout)
		}
		if _, err := e.asAlice().Pull(ctx(t), e.ref("doomed/app:v1")); err == nil {
			t.Error("doomed/app:v1 still pulls after its namespace was deleted")
		}
	})
}

// manifestOfSize is an OCI manifest of config, padded by an annotation to
// size bytes.
func manifestOfSize(t *testing.T, config ocitest.Descriptor, size int) []byte {
	t.Helper()
	base, err := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": ocitest.MediaTypeManifest, "config": config,
		"layers": []any{}, "annotations": map[string]string{"pad": ""}})
	if err != nil {
		t.Fatal(err)
	}
	pad := size - len(base)
	if pad < 0 {
		t.Fatalf("a manifest cannot be %d bytes", size)
	}
	m := bytes.Replace(base, []byte(`"pad":""`), []byte(`"pad":"`+strings.Repeat("p", pad)+`"`), 1)
	if len(m) != size {
		t.Fatalf("padded manifest is %d bytes, want %d", len(m), size)
	}
	return m
}

// namesLimit: does msg say it is over a limit, and name it in bytes?
func namesLimit(msg string, limit int) bool {
	return strings.Contains(msg, "limit") && strings.Contains(msg, fmt.Sprint(limit))
}

// patchBlob uploads data in chunks of n bytes (POST, PATCH…, PUT) and
// returns the first answer that is not a success, or the final one.
func patchBlob(t *testing.T, e *env, c *ocitest.Client, repo, tok string, data []byte, n int) ocitest.Response {
	t.Helper()
	r, err := c.Do(ctx(t), "POST", "/v2/"+repo+"/blobs/uploads/", tok, nil, nil)
	if err != nil || r.Status != http.StatusAccepted {
		t.Fatalf("starting an upload: %v %v", r, err)
	}
	loc := r.Header.Get("Location")
	for off := 0; off < len(data); off += n {
		end := min(off+n, len(data))
		r, err = c.Do(ctx(t), "PATCH", loc, tok, http.Header{"Content-Type": {"application/octet-stream"},
			"Content-Range": {fmt.Sprintf("%d-%d", off, end-1)}}, data[off:end])
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != http.StatusAccepted {
			return r
		}
		loc = r.Header.Get("Location")
	}
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	r, err = c.Do(ctx(t), "PUT", loc+sep+"digest="+ocitest.DigestOf(data), tok, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}
