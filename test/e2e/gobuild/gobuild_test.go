// Package gobuild_test is the first run of someone who builds kstack with
// plain `go build ./cmd/kstack` (or `go install`) instead of the Makefile:
// the binary has no -ldflags stamp, and must still report the Kubernetes it
// ships, so that the platform it runs imports the local clusters it creates.
package gobuild_test

import (
	"debug/buildinfo"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"github.com/kstack/kstack/internal/version"
	"github.com/kstack/kstack/test/e2e/framework"
)

// gitVersions reads `kubectl version -o json`.
type gitVersions struct {
	ClientVersion struct{ GitVersion string }
	ServerVersion *struct{ GitVersion string }
}

// kubectlVersion runs `kstack kubectl version -o json`. kubectl also fails
// on a version it cannot parse (an unstamped one): that is an error of the
// test, which goes on to show what else is wrong.
func kubectlVersion(t *testing.T, k *framework.Kstack, args ...string) gitVersions {
	t.Helper()
	var v gitVersions
	r := k.Run(append([]string{"kubectl", "version", "-o", "json"}, args...)...)
	if r.Err != nil {
		t.Errorf("kstack kubectl version %s: %v: %s", strings.Join(args, " "), r.Err, r.Stderr)
	}
	if err := json.Unmarshal([]byte(r.Stdout), &v); err != nil {
		t.Fatalf("kubectl version: %v\n%s", err, r.Stdout)
	}
	return v
}

func TestFirstRunWithGoBuild(t *testing.T) {
	start := time.Now()
	bin := framework.GoBuild(t)
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if ld, ok := settings["-ldflags"]; ok {
		t.Fatalf("the plain build has -ldflags %q", ld)
	}
	k := framework.NewWithBinary(t, bin)
	want := version.Kubernetes

	// Before anything runs: the binary's own versions.
	var v map[string]string
	if err := json.Unmarshal([]byte(k.MustRun("version", "-o", "json")), &v); err != nil {
		t.Fatal(err)
	}
	if v["kubernetes"] != want {
		t.Errorf("kstack version says Kubernetes %q, want %s", v["kubernetes"], want)
	}
	if rev := settings["vcs.revision"]; rev != "" {
		if !strings.HasPrefix(v["kstack"], rev[:12]) || (settings["vcs.modified"] == "true") != strings.HasSuffix(v["kstack"], "-dirty") {
			t.Errorf("kstack version %q, want the commit %s (modified: %s)", v["kstack"], rev, settings["vcs.modified"])
		}
	}
	if got := kubectlVersion(t, k, "--client").ClientVersion.GitVersion; got != want {
		t.Errorf("kstack kubectl version --client is %q, want %s", got, want)
	}

	// The platform: one start, from the plain binary.
	p := k.Up(4*time.Minute, "--listen", framework.FreeAddr(t))
	if got := kubectlVersion(t, k, "--kubeconfig", p.Kubeconfig).ServerVersion; got == nil || got.GitVersion != want {
		t.Errorf("the platform's kube-apiserver reports %+v, want %s", got, want)
	}

	t.Run("the printed console address opens the console", func(t *testing.T) {
		printed := ""
		for _, l := range strings.Split(p.Stdout.String(), "\n") {
			if v, ok := strings.CutPrefix(l, "Console: "); ok {
				printed = v
			}
		}
		if printed != p.ConsoleURL+"/console/" {
			t.Fatalf("up printed Console: %q, want %q", printed, p.ConsoleURL+"/console/")
		}
		c, _ := k.PlatformHTTP()
		c.Jar, _ = cookiejar.New(nil)
		resp, err := c.Get(printed)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Request.URL.Path, "/oidc/") {
			t.Fatalf("GET %s ended at %s with %d, want the login page", printed, resp.Request.URL, resp.StatusCode)
		}

		// The root sends a browser to the console; other clients get the paths.
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		req, _ := http.NewRequest(http.MethodGet, p.ConsoleURL+"/", nil)
		req.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
		if resp, err = c.Do(req); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/console/" {
			t.Fatalf("a browser's GET / answered %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		code, body := framework.Do(t, c, http.MethodGet, p.ConsoleURL+"/", "", "", "", "")
		if code != 200 || !strings.Contains(body, `"/console/"`) {
			t.Fatalf("a client's GET /: %d %s", code, body)
		}
	})

	// One local cluster of one node, imported: the platform refuses a
	// cluster that reports v0.0.0, as an unstamped build's would.
	id, member := k.ImportedCluster("first", 1)
	t.Run("the cluster reports the shipped Kubernetes", func(t *testing.T) {
		var cls struct {
			Status struct{ Phase, Version string }
		}
		if err := json.Unmarshal([]byte(k.MustRun("cluster", "get", id, "-o", "json")), &cls); err != nil {
			t.Fatal(err)
		}
		if cls.Status.Phase != "Running" || cls.Status.Version != want {
			t.Errorf("the platform sees the cluster %s at %q, want Running at %s", cls.Status.Phase, cls.Status.Version, want)
		}
		if got := kubectlVersion(t, k, "--kubeconfig", member).ServerVersion; got == nil || got.GitVersion != want {
			t.Errorf("the cluster's kube-apiserver reports %+v, want %s", got, want)
		}
		kubelets := k.MustKubectl(member, "get", "nodes", "-o", "jsonpath={.items[*].status.nodeInfo.kubeletVersion}")
		if kubelets != want {
			t.Errorf("the nodes' kubelets report %q, want %s", kubelets, want)
		}
	})
	t.Logf("first run with a plain go build: %s", time.Since(start).Round(time.Second))
}
