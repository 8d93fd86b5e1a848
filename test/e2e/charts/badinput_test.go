package charts

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// badInput: each bad input gets a clear error naming the problem, and
// leaves no App and no release behind.
func badInput(t *testing.T, e *env) {
	install := func(name string, extra ...string) string {
		t.Helper()
		args := append([]string{"app", "install", name, "--chart", "shop-charts/web", "--cluster", e.cluster, "--namespace", e.ns}, extra...)
		return e.alice.MustFail(args...)
	}
	nothingOf := func(name string) {
		t.Helper()
		if out := e.alice.MustRun("app", "list", "--project", e.prj); strings.Contains(out, name) {
			t.Errorf("a refused install left App %s:\n%s", name, out)
		}
		if r, ok := e.helm.list(t, e.ns)[name]; ok {
			t.Errorf("a refused install left release %s: %+v", name, r)
		}
	}

	t.Run("values that fail the chart's schema", func(t *testing.T) {
		stderr := install("bad-schema", "--version", "0.1.0", "--set", "replicaCount=99")
		if !strings.Contains(stderr, "values.schema.json") || !strings.Contains(stderr, "replicaCount") {
			t.Errorf("install with replicaCount=99: %s", stderr)
		}
		nothingOf("bad-schema")
	})
	t.Run("a chart version that does not exist", func(t *testing.T) {
		stderr := install("bad-version", "--version", "9.9.9")
		if !strings.Contains(stderr, "9.9.9") || !strings.Contains(stderr, "0.2.0") {
			t.Errorf("install of version 9.9.9 does not name it and the versions there are: %s", stderr)
		}
		nothingOf("bad-version")
	})
	t.Run("a namespace outside the caller's projects", func(t *testing.T) {
		stderr := install("elsewhere", "--version", "0.1.0", "--namespace", e.nsB, "--project", e.prj)
		if !strings.Contains(stderr, "not a namespace of project") {
			t.Errorf("install into another project's namespace: %s", stderr)
		}
		nothingOf("elsewhere")
	})
	t.Run("an install that fails in the member", func(t *testing.T) {
		// Its pods cannot be scheduled, and --wait gives up: the release
		// Helm recorded is removed, and the App with it.
		stderr := install("unready", "--version", "0.1.0", "--set", "nodeSelector.kstack-test=nowhere", "--wait", "--timeout", "5s")
		if !strings.Contains(stderr, "installing unready into") {
			t.Errorf("an install that times out: %s", stderr)
		}
		nothingOf("unready")
	})
	t.Run("a release name already taken", func(t *testing.T) {
		e.alice.MustRun("app", "install", "taken", "--chart", "shop-charts/web", "--version", "0.1.0", "--cluster", e.cluster, "--namespace", e.ns)
		defer e.alice.MustRun("app", "uninstall", "taken")
		if stderr := install("taken", "--version", "0.1.0"); !strings.Contains(stderr, "application taken already exists in project") {
			t.Errorf("a second app named taken: %s", stderr)
		}
		if stderr := install("taken-again", "--version", "0.1.0", "--release", "taken"); !strings.Contains(stderr, "release name taken is taken") {
			t.Errorf("a second app with release taken: %s", stderr)
		}
		nothingOf("taken-again")
		// A release made outside the platform, with the helm CLI.
		e.helm.mustRun(t, "install", "outside", e.tgz("web", "0.1.0"), "-n", e.ns)
		defer e.helm.mustRun(t, "uninstall", "outside", "-n", e.ns)
		if stderr := install("outside", "--version", "0.1.0"); !strings.Contains(stderr, "made outside this platform") {
			t.Errorf("an app over a helm-made release: %s", stderr)
		}
		e.helm.wantRelease(t, e.ns, "outside", "1", "deployed", "web-0.1.0")
	})

	// Chart repositories: forbidden addresses are refused when the group
	// is created; the others when it syncs, and the group says why.
	t.Run("a repository URL on a forbidden address", func(t *testing.T) {
		for _, tt := range []struct{ url, want string }{
			{"http://169.254.169.254/charts", "link-local"},
			{"http://127.0.0.2:8080/charts", "loopback"},
			{"ftp://127.0.0.1/charts", "http"},
		} {
			stderr := e.k.MustFail("chart", "group", "create", "forbidden", "--import-url", tt.url, "--visibility", "Public")
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("a repository at %s: %s, want %q", tt.url, stderr, tt.want)
			}
		}
		if out := e.k.MustRun("chart", "group", "list"); strings.Contains(out, "forbidden") {
			t.Errorf("a refused group was made:\n%s", out)
		}
	})
	closed := closedAddr(t)
	garbage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("<html>not an index</html>")) }))
	defer garbage.Close()
	locked := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Basic realm="charts"`)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
	}))
	defer locked.Close()
	for _, tt := range []struct{ what, group, url, want string }{
		{"a repository that does not answer", "dead", "http://" + closed + "/charts", "does not answer"},
		{"a repository that answers garbage", "garbage", garbage.URL + "/charts", "is not a Helm chart repository"},
		{"a repository that asks for credentials it was not given", "locked", locked.URL + "/charts", "asks for credentials"},
	} {
		t.Run(tt.what, func(t *testing.T) {
			e.k.MustRun("chart", "group", "create", tt.group, "--import-url", tt.url, "--sync-interval", "0s", "--visibility", "Public")
			defer e.k.MustRun("chart", "group", "delete", tt.group)
			stderr := e.k.MustFail("chart", "group", "sync", tt.group)
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("syncing %s: %s, want %q", tt.url, stderr, tt.want)
			}
			var g struct {
				Status struct{ Phase, Message string }
			}
			out := e.k.MustRun("chart", "group", "get", tt.group, "-o", "json")
			if err := json.Unmarshal([]byte(out), &g); err != nil || g.Status.Phase != "Failed" || !strings.Contains(g.Status.Message, tt.want) {
				t.Errorf("the group after a failed sync does not say why (%v):\n%s", err, out)
			}
			if out := e.k.MustRun("chart", "list", tt.group); strings.Contains(out, "web") {
				t.Errorf("a failed sync left charts:\n%s", out)
			}
		})
	}
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
