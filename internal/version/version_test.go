package version

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	clientgoversion "k8s.io/client-go/pkg/version"
	componentversion "k8s.io/component-base/version"
)

func dep(path, version string) *debug.Module { return &debug.Module{Path: path, Version: version} }

func TestKubernetesFromBuildInfo(t *testing.T) {
	local := dep("k8s.io/component-base", "v0.0.0")
	local.Replace = &debug.Module{Path: "./staging/src/k8s.io/component-base"}
	replaced := dep("k8s.io/component-base", "v0.36.0")
	replaced.Replace = dep("k8s.io/component-base", "v0.37.2")
	cases := []struct {
		name string
		deps []*debug.Module
		want string
	}{
		{"kubernetes itself", []*debug.Module{dep("k8s.io/kubernetes", "v1.37.2"), dep("k8s.io/component-base", "v0.36.1")}, "v1.37.2"},
		{"a staging module", []*debug.Module{dep("k8s.io/api", "v0.30.0"), dep("k8s.io/component-base", "v0.37.2")}, "v1.37.2"},
		{"client-go alone", []*debug.Module{dep("k8s.io/client-go", "v0.37.2")}, "v1.37.2"},
		{"a pre-release", []*debug.Module{dep("k8s.io/component-base", "v0.38.0-rc.1")}, "v1.38.0-rc.1"},
		{"the replacement's version", []*debug.Module{replaced}, "v1.37.2"},
		{"kubernetes' placeholder falls through", []*debug.Module{dep("k8s.io/kubernetes", "v0.0.0"), dep("k8s.io/client-go", "v0.37.2")}, "v1.37.2"},
		{"a directory replacement says nothing", []*debug.Module{local}, ""},
		{"a pseudo-version says nothing", []*debug.Module{dep("k8s.io/component-base", "v0.0.0-20260101000000-0123456789ab")}, ""},
		{"a staging version for kubernetes says nothing", []*debug.Module{dep("k8s.io/kubernetes", "v0.37.2")}, ""},
		{"no Kubernetes module", []*debug.Module{dep("k8s.io/api", "v0.37.2")}, ""},
	}
	for _, c := range cases {
		got, ok := KubernetesFromBuildInfo(&debug.BuildInfo{Deps: c.deps})
		if got != c.want || ok != (c.want != "") {
			t.Errorf("%s: got %q %v, want %q", c.name, got, ok, c.want)
		}
	}
	if _, ok := KubernetesFromBuildInfo(nil); ok {
		t.Error("no build information gave a version")
	}
}

func TestFromBuildInfo(t *testing.T) {
	vcs := func(main string, settings ...string) *debug.BuildInfo {
		info := &debug.BuildInfo{Main: debug.Module{Path: "github.com/kstack/kstack", Version: main}}
		for i := 0; i+1 < len(settings); i += 2 {
			info.Settings = append(info.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
		}
		return info
	}
	const rev = "73df3c4a1b2c3d4e5f60718293a4b5c6d7e8f901"
	cases := []struct {
		name string
		info *debug.BuildInfo
		want string
	}{
		{"go install at a release", vcs("v1.2.0"), "v1.2.0"},
		{"a checkout at a release tag", vcs("v1.2.0", "vcs.revision", rev, "vcs.modified", "false"), "v1.2.0"},
		{"a clean checkout", vcs("v0.0.0-20260720101500-73df3c4a1b2c", "vcs.revision", rev, "vcs.modified", "false"), "73df3c4a1b2c"},
		{"a modified checkout", vcs("v0.0.0-20260720101500-73df3c4a1b2c+dirty", "vcs.revision", rev, "vcs.modified", "true"), "73df3c4a1b2c-dirty"},
		{"past a release tag", vcs("v1.2.1-0.20260720101500-73df3c4a1b2c", "vcs.revision", rev), "73df3c4a1b2c"},
		{"go 1.23's (devel)", vcs("(devel)", "vcs.revision", rev, "vcs.modified", "true"), "73df3c4a1b2c-dirty"},
		{"no VCS information", vcs("(devel)"), "dev"},
		{"a pseudo-version without VCS information", vcs("v0.0.0-20260720101500-73df3c4a1b2c"), "v0.0.0-20260720101500-73df3c4a1b2c"},
		{"no build information", nil, "dev"},
	}
	for _, c := range cases {
		if got := FromBuildInfo(c.info); got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}

// go.mod's Kubernetes modules are the Kubernetes kstack declares: what a
// build without the Makefile derives from them is version.Kubernetes. (A
// test binary carries no dependency list, so go.mod is read here as the
// build records it: each module's required version and its replacement.)
func TestGoModIsTheDeclaredKubernetes(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	mods := map[string]*debug.Module{}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "require "))
		switch {
		case len(f) >= 4 && f[1] == "=>" && mods[f[0]] != nil:
			mods[f[0]].Replace = &debug.Module{Path: f[2], Version: f[len(f)-1]}
		case len(f) >= 2 && strings.HasPrefix(f[0], "k8s.io/") && strings.HasPrefix(f[1], "v"):
			mods[f[0]] = dep(f[0], f[1])
		}
	}
	info := &debug.BuildInfo{}
	for _, m := range mods {
		info.Deps = append(info.Deps, m)
	}
	got, ok := KubernetesFromBuildInfo(info)
	if !ok || got != Kubernetes {
		t.Fatalf("go.mod's Kubernetes modules give %q (%v); version.Kubernetes is %s: update one of them", got, ok, Kubernetes)
	}
}

// go test stamps nothing, as go build ./cmd/kstack does not: init set the
// components' versions from the modules.
func TestUnstampedComponentsReportKubernetes(t *testing.T) {
	major, minor := majorMinor(Kubernetes)
	cb, cg := componentversion.Get(), clientgoversion.Get()
	if cb.GitVersion != Kubernetes || cb.Major != major || cb.Minor != minor {
		t.Errorf("component-base reports %+v, want %s", cb, Kubernetes)
	}
	if cg.GitVersion != Kubernetes || cg.Major != major || cg.Minor != minor {
		t.Errorf("client-go reports %+v, want %s", cg, Kubernetes)
	}
	if Version == "" {
		t.Error("empty kstack version")
	}
}

func TestMajorMinor(t *testing.T) {
	for in, want := range map[string][2]string{"v1.37.2": {"1", "37"}, "v1.38.0-rc.1": {"1", "38"}, "garbage": {"", ""}, "vx.y": {"", ""}} {
		if major, minor := majorMinor(in); major != want[0] || minor != want[1] {
			t.Errorf("%s: got %s %s", in, major, minor)
		}
	}
}
