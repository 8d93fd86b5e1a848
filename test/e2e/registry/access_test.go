package registry

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kstack/kstack/internal/testutil/ocitest"
	"github.com/kstack/kstack/test/e2e/framework"
)

// skopeo (Debian's) copies an image from an OCI layout into kstack with
// alice's access key, and back out into another layout: same digest.
func skopeoInOut(t *testing.T, e *env) {
	img := ocitest.RandomImage(t, 2, 4096)
	in := filepath.Join(t.TempDir(), "in")
	ocitest.WriteLayout(t, in, "v1", img)
	creds := "alice:" + e.aliceKey
	if out, err := ocitest.Skopeo(t, "copy", "--dest-cert-dir", e.caDir, "--dest-creds", creds,
		"oci:"+in+":v1", "docker://"+e.ref("team-a/skopeo:v1")); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	out := filepath.Join(t.TempDir(), "out")
	if o, err := ocitest.Skopeo(t, "copy", "--src-cert-dir", e.caDir, "--src-creds", creds,
		"docker://"+e.ref("team-a/skopeo:v1"), "oci:"+out+":v1"); err != nil {
		t.Fatalf("%v\n%s", err, o)
	}
	got, err := ocitest.LayoutDigest(out, "v1")
	if err != nil || got != ocitest.Digest(t, img) {
		t.Fatalf("copied out %q (%v), copied in %s", got, err, ocitest.Digest(t, img))
	}
	// The image is the registry's: listed by the API with its digest.
	if tags := e.alice.MustRun("registry", "tag", "list", "team-a/skopeo", "-o", "json"); !strings.Contains(tags, ocitest.Digest(t, img)) {
		t.Fatalf("kstack registry tag list team-a/skopeo does not show %s:\n%s", ocitest.Digest(t, img), tags)
	}
	// The same copy without credentials is refused: team-a is private.
	if o, err := ocitest.Skopeo(t, "copy", "--src-cert-dir", e.caDir, "--src-no-creds",
		"docker://"+e.ref("team-a/skopeo:v1"), "oci:"+filepath.Join(t.TempDir(), "anon")+":v1"); err == nil {
		t.Fatalf("an anonymous skopeo copy of a private image succeeded:\n%s", o)
	}
}

// invisible: alice pushes a private image to team-a. carol (the same
// project, her password) pulls it, sees it in the catalogue and its tag
// list; bob (another project, his access key) can neither pull it nor
// tell that it exists: the catalogue leaves it out, and every answer about
// it is the answer about a repository that does not exist.
func invisible(t *testing.T, e *env) {
	dg := e.push(t, e.asAlice(), "team-a/secret:v1", 2)
	bobsDg := e.push(t, e.asBob(), "team-b/own:v1", 1)

	// The positive twin: carol.
	if got, err := e.asCarol().Pull(ctx(t), e.ref("team-a/secret:v1")); err != nil || got != dg {
		t.Fatalf("carol pulling team-a/secret:v1: %q %v (pushed %s)", got, err, dg)
	}
	cat, err := e.asCarol().Catalog(ctx(t), e.host)
	if err != nil || !contains(cat, "team-a/secret") || len(withPrefix(cat, "team-b/")) > 0 {
		t.Fatalf("carol's catalogue: %v %v (want team-a/secret, nothing of team-b)", cat, err)
	}
	tags, err := e.asCarol().Tags(ctx(t), e.ref("team-a/secret"))
	if err != nil || strings.Join(tags, ",") != "v1" {
		t.Fatalf("carol's tag list of team-a/secret: %v %v", tags, err)
	}

	// bob: nothing of team-a, though he sees his own.
	if _, err := e.asBob().Pull(ctx(t), e.ref("team-a/secret:v1")); err == nil {
		t.Fatal("bob pulled team-a/secret:v1, a private image of another project")
	}
	if got, err := e.asBob().Pull(ctx(t), e.ref("team-b/own:v1")); err != nil || got != bobsDg {
		t.Fatalf("bob pulling his own team-b/own:v1: %q %v", got, err)
	}
	cat, err = e.asBob().Catalog(ctx(t), e.host)
	if err != nil || len(withPrefix(cat, "team-a/")) > 0 || !contains(cat, "team-b/own") {
		t.Fatalf("bob's catalogue: %v %v (want team-b/own, nothing of team-a)", cat, err)
	}
	if _, err := e.asBob().Tags(ctx(t), e.ref("team-a/secret")); err == nil {
		t.Fatal("bob listed the tags of team-a/secret")
	}

	// By hand, request by request: each answer to bob about team-a/secret
	// is the answer about team-a/nothing-here (a repository missing from
	// an existing namespace) and about no-such-ns/secret (a missing
	// namespace), but for the repository's name.
	c := e.client()
	type probe struct{ method, path string }
	probes := func(repo string) []probe {
		return []probe{
			{"GET", "/v2/" + repo + "/tags/list"},
			{"GET", "/v2/" + repo + "/manifests/v1"},
			{"HEAD", "/v2/" + repo + "/manifests/v1"},
			{"GET", "/v2/" + repo + "/manifests/" + dg},
			{"GET", "/v2/" + repo + "/blobs/" + dg},
			{"POST", "/v2/" + repo + "/blobs/uploads/"},
		}
	}
	answers := func(user, password, repo string) []string {
		tok := e.token(t, user, password, "repository:"+repo+":pull,push")
		var out []string
		for _, p := range probes(repo) {
			r, err := c.Do(ctx(t), p.method, p.path, tok, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			norm := strings.ReplaceAll(r.Body+" WWW-Authenticate: "+r.Header.Get("WWW-Authenticate"), repo, "REPO")
			out = append(out, p.method+" "+strings.ReplaceAll(p.path, repo, "REPO")+" -> "+http.StatusText(r.Status)+" "+norm)
		}
		return out
	}
	secret := answers("bob", e.bobKey, "team-a/secret")
	for _, other := range []string{"team-a/nothing-here", "no-such-ns/secret"} {
		o := answers("bob", e.bobKey, other)
		for i := range secret {
			if secret[i] != o[i] {
				t.Errorf("bob can tell team-a/secret from %s:\n  secret: %s\n  other:  %s", other, secret[i], o[i])
			}
		}
	}
	for _, a := range secret {
		if strings.Contains(a, "-> OK") || strings.Contains(a, "-> Accepted") {
			t.Errorf("bob was answered about team-a/secret: %s", a)
		}
	}
	// carol's answers to the same requests are not those: the twin.
	for i, a := range answers("carol", carolPassword, "team-a/secret") {
		if a == secret[i] {
			t.Errorf("carol is answered as bob is: %s", a)
		}
	}
	// bob's token holds no access to team-a/secret (left out, no error).
	claims := jwtClaims(t, e.token(t, "bob", e.bobKey, "repository:team-a/secret:pull"))
	if acc, _ := claims["access"].([]any); len(acc) != 0 {
		for _, a := range acc {
			if m, _ := a.(map[string]any); m["name"] == "team-a/secret" {
				if actions, _ := m["actions"].([]any); len(actions) > 0 {
					t.Errorf("bob's token grants %v on team-a/secret", actions)
				}
			}
		}
	}
	// And the platform's API tells bob nothing either.
	if r := e.bob.Run("registry", "tag", "list", "team-a/secret"); r.Err == nil || strings.Contains(r.Stdout, "v1") {
		t.Errorf("bob listing team-a/secret's tags through the API: %v\n%s%s", r.Err, r.Stdout, r.Stderr)
	}
}

// tokens: a registry token is refused by the platform's API, and the
// platform's tokens (a login's access token, an access key, the admin
// token) are refused by the registry; each beside the same token working
// where it belongs.
func tokens(t *testing.T, e *env) {
	c := e.client()
	e.push(t, e.asAlice(), "team-a/tokens:v1", 1)
	regTok := e.token(t, "alice", e.aliceKey, "repository:team-a/tokens:pull")
	if r, err := c.Do(ctx(t), "GET", "/v2/team-a/tokens/manifests/v1", regTok, http.Header{"Accept": {ocitest.MediaTypeManifest}}, nil); err != nil || r.Status != http.StatusOK {
		t.Fatalf("the registry token on the registry: %v %v", r, err)
	}
	if aud := jwtClaims(t, regTok)["aud"]; !strings.Contains(strings.Join(toStrings(aud), ","), "kstack-registry") {
		t.Errorf("the registry token's audience is %v, want kstack-registry", aud)
	}
	// whoami answers any caller the platform authenticates.
	platformURL := e.base + "/auth/whoami"
	code, body := doBearer(t, e, "GET", platformURL, regTok)
	if code != http.StatusUnauthorized {
		t.Errorf("a registry token on the platform API: %d %s, want 401", code, body)
	}

	loginTok := framework.Token(t, e.alice)
	if code, body := doBearer(t, e, "GET", platformURL, loginTok); code != http.StatusOK || !strings.Contains(body, "alice") {
		t.Fatalf("alice's login token on the platform API: %d %s", code, body)
	}
	if code, body := doBearer(t, e, "GET", platformURL, e.aliceKey); code != http.StatusOK || !strings.Contains(body, "alice") {
		t.Fatalf("alice's access key on the platform API: %d %s", code, body)
	}
	for what, tok := range map[string]string{"alice's login access token": loginTok, "alice's access key": e.aliceKey, "the admin token": e.admTok} {
		for _, path := range []string{"/v2/team-a/tokens/manifests/v1", "/v2/team-a/tokens/tags/list", "/v2/_catalog"} {
			r, err := c.Do(ctx(t), "GET", path, tok, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != http.StatusUnauthorized {
				t.Errorf("%s as a registry Bearer token on %s: %v, want 401", what, path, r)
			}
			// The login token is a JWT of the platform: the registry says why.
			if tok == loginTok && !strings.Contains(r.Body, "platform tokens are not registry tokens") {
				t.Errorf("alice's login token on %s: %v, want the reason (platform tokens are not registry tokens)", path, r)
			}
		}
	}
}

func toStrings(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, s := range x {
			if str, ok := s.(string); ok {
				out = append(out, str)
			}
		}
		return out
	}
	return nil
}

func doBearer(t *testing.T, e *env, method, url, tok string) (int, string) {
	t.Helper()
	return framework.Do(t, e.hc, method, url, tok, "", "", "")
}
