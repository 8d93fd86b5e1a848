package registry

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kstack/kstack/internal/testutil/ocitest"
	"github.com/kstack/kstack/test/e2e/framework"
)

// pullCred is the credential of a kstack-registry pull secret.
type pullCred struct{ username, password string }

// pullSecretCred reads the kstack-registry secret of a member namespace
// and returns the credential it holds for the registry's host.
func pullSecretCred(e *env, ns string) (pullCred, error) {
	out, err := e.k.Kubectl(e.memberKC, "-n", ns, "get", "secret", "kstack-registry", "-o", "json")
	if err != nil {
		return pullCred{}, err
	}
	var s struct {
		Type string
		Data map[string]string
	}
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		return pullCred{}, err
	}
	if s.Type != "kubernetes.io/dockerconfigjson" {
		return pullCred{}, fmt.Errorf("secret kstack-registry has type %q, want kubernetes.io/dockerconfigjson", s.Type)
	}
	raw, err := base64.StdEncoding.DecodeString(s.Data[".dockerconfigjson"])
	if err != nil {
		return pullCred{}, err
	}
	var cfg struct {
		Auths map[string]struct{ Username, Password, Auth string }
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return pullCred{}, fmt.Errorf(".dockerconfigjson: %w", err)
	}
	a, ok := cfg.Auths[e.host]
	if !ok {
		return pullCred{}, fmt.Errorf(".dockerconfigjson has no auths for the registry %s: %s", e.host, raw)
	}
	c := pullCred{a.Username, a.Password}
	if a.Auth != "" {
		up, err := base64.StdEncoding.DecodeString(a.Auth)
		if err != nil {
			return pullCred{}, err
		}
		u, p, _ := strings.Cut(string(up), ":")
		if (c.username != "" && c.username != u) || (c.password != "" && c.password != p) {
			return pullCred{}, fmt.Errorf("auth and username/password disagree in %s", raw)
		}
		c = pullCred{u, p}
	}
	if c.username == "" || c.password == "" {
		return pullCred{}, fmt.Errorf("no credential in %s", raw)
	}
	return c, nil
}

// pullSecret: a business namespace of project A gets the pull secret, its
// default ServiceAccount lists it, and its credential pulls project A's
// private image but not project B's, and pushes nothing. Rotated, the
// secret holds a new credential that works, and the old one is refused
// once the grace is over.
func pullSecret(t *testing.T, e *env) {
	// team-a/secret:v1 is alice's (invisible test); push again in case
	// that test was not run.
	dgA := e.push(t, e.asAlice(), "team-a/pulled:v1", 1)
	e.push(t, e.asBob(), "team-b/hidden:v1", 1)
	e.k.MustRun("namespace", "create", "web-a", "--project", e.prjA, "--cluster", e.cluster, "--cpu", "1", "--memory", "1Gi", "--pods", "10")

	var cred pullCred
	framework.Eventually(t, 2*time.Minute, "the pull secret in web-a", func() (err error) {
		cred, err = pullSecretCred(e, "web-a")
		return err
	})
	if cred.username != "kstack-pull-"+e.prjA || !strings.HasPrefix(cred.password, "kspull_"+e.prjA+"_") {
		t.Errorf("pull credential %s / %s…, want user kstack-pull-%s and a kspull_%s_ password", cred.username, cred.password[:min(len(cred.password), 12)], e.prjA, e.prjA)
	}
	framework.Eventually(t, 2*time.Minute, "the default ServiceAccount of web-a lists kstack-registry", func() error {
		out, err := e.k.Kubectl(e.memberKC, "-n", "web-a", "get", "serviceaccount", "default", "-o", "jsonpath={.imagePullSecrets[*].name}")
		if err != nil {
			return err
		}
		if !contains(strings.Fields(out), "kstack-registry") {
			return fmt.Errorf("imagePullSecrets: %q", out)
		}
		return nil
	})

	pc := e.remote(cred.username, cred.password)
	if got, err := pc.Pull(ctx(t), e.ref("team-a/pulled:v1")); err != nil || got != dgA {
		t.Fatalf("the pull credential pulling its project's team-a/pulled:v1: %q %v", got, err)
	}
	if _, err := pc.Pull(ctx(t), e.ref("team-b/hidden:v1")); err == nil {
		t.Error("the pull credential of project A pulled project B's team-b/hidden:v1")
	}
	if cat, err := pc.Catalog(ctx(t), e.host); err != nil || !contains(cat, "team-a/pulled") || len(withPrefix(cat, "team-b/")) > 0 {
		t.Errorf("the pull credential's catalogue: %v %v (want team-a/pulled, nothing of team-b)", cat, err)
	}
	if err := pc.Push(ctx(t), e.ref("team-a/by-pull-credential:v1"), ocitest.RandomImage(t, 1, 512)); err == nil {
		t.Error("the pull credential pushed to team-a")
	}

	// Rotation.
	out := e.k.MustRun("registry", "pull-credential", "rotate", e.prjA)
	if !strings.Contains(out, "rotated") || !strings.Contains(out, "kstack-pull-"+e.prjA) {
		t.Errorf("kstack registry pull-credential rotate: %q", out)
	}
	var fresh pullCred
	framework.Eventually(t, 2*time.Minute, "the new credential in web-a's pull secret", func() (err error) {
		fresh, err = pullSecretCred(e, "web-a")
		if err == nil && fresh.password == cred.password {
			err = fmt.Errorf("still the old credential")
		}
		return err
	})
	np := e.remote(fresh.username, fresh.password)
	if got, err := np.Pull(ctx(t), e.ref("team-a/pulled:v1")); err != nil || got != dgA {
		t.Fatalf("the new pull credential: %q %v", got, err)
	}
	// The old one is refused once the grace (pullGrace) is over: the token
	// endpoint says so, and pulls fail.
	c := e.client()
	framework.Eventually(t, pullGrace+2*time.Minute, "the old pull credential refused", func() error {
		a, err := c.Token(ctx(t), cred.username, cred.password, "repository:team-a/pulled:pull")
		if err != nil {
			return err
		}
		if a.Status != http.StatusUnauthorized {
			return fmt.Errorf("token request with the old credential: %v", a.Response)
		}
		return nil
	})
	if _, err := pc.Pull(ctx(t), e.ref("team-a/pulled:v1")); err == nil {
		t.Error("the old pull credential still pulls after the grace")
	}
	// The new one still works after the old one's end.
	if got, err := np.Pull(ctx(t), e.ref("team-a/pulled:v1")); err != nil || got != dgA {
		t.Errorf("the new pull credential after the grace: %q %v", got, err)
	}
}
