// Package version holds the versions of kstack and of the Kubernetes it ships.
//
// `make build` stamps both with -ldflags (see Makefile). A binary built
// without them (`go build ./cmd/kstack`, `go install`) gets them from its
// build information instead, when this package is initialised: kstack's
// version from the version-control stamp, and the Kubernetes version of the
// built-in components (k8s.io/component-base/version, which servers and kwok
// report, and k8s.io/client-go/pkg/version, which kubectl reports) from the
// version of the Kubernetes modules it was built with. Without that, every
// component would report v0.0.0-master+$Format:%H$, and the platform would
// refuse to import the local clusters it creates.
package version

import (
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	_ "unsafe" // for go:linkname: the stamped variables are unexported

	_ "k8s.io/client-go/pkg/version" // holds kubectl's variables linked below
	componentversion "k8s.io/component-base/version"
)

// Version is kstack's version. Set at build time with
// -ldflags "-X github.com/kstack/kstack/internal/version.Version=...";
// otherwise it comes from the build information (see FromBuildInfo).
var Version = "dev"

// Kubernetes is the version of the Kubernetes components built into kstack.
// The build also stamps it into k8s.io/component-base/version (see Makefile);
// a build without the stamp derives it from the Kubernetes modules it uses
// (KubernetesFromBuildInfo), which give this same version.
const Kubernetes = "v1.37.2"

// Unstamped is the gitVersion of k8s.io/component-base/version and
// k8s.io/client-go/pkg/version when the build did not set it.
const Unstamped = "v0.0.0-master+$Format:%H$"

// The variables that upstream's build (and the Makefile) set with -X.
var (
	//go:linkname componentGitVersion k8s.io/component-base/version.gitVersion
	componentGitVersion string
	//go:linkname componentGitMajor k8s.io/component-base/version.gitMajor
	componentGitMajor string
	//go:linkname componentGitMinor k8s.io/component-base/version.gitMinor
	componentGitMinor string
	//go:linkname clientGoGitVersion k8s.io/client-go/pkg/version.gitVersion
	clientGoGitVersion string
	//go:linkname clientGoGitMajor k8s.io/client-go/pkg/version.gitMajor
	clientGoGitMajor string
	//go:linkname clientGoGitMinor k8s.io/client-go/pkg/version.gitMinor
	clientGoGitMinor string
)

func init() {
	info, _ := debug.ReadBuildInfo()
	if Version == "dev" {
		Version = FromBuildInfo(info)
	}
	if componentGitVersion != Unstamped && clientGoGitVersion != Unstamped {
		return
	}
	k8s, ok := KubernetesFromBuildInfo(info)
	if !ok {
		k8s = Kubernetes
	}
	major, minor := majorMinor(k8s)
	if componentGitVersion == Unstamped {
		componentGitVersion, componentGitMajor, componentGitMinor = k8s, major, minor
		// Get() reads a copy taken in component-base's init; with the new
		// default in place, setting the same version again is allowed.
		_ = componentversion.SetDynamicVersion(k8s)
	}
	if clientGoGitVersion == Unstamped {
		clientGoGitVersion, clientGoGitMajor, clientGoGitMinor = k8s, major, minor
	}
}

// kubernetesModules are the modules whose version says which Kubernetes was
// built in, best first: k8s.io/kubernetes has the release's own version;
// the staging modules (v0.x.y) are released with Kubernetes v1.x.y.
var kubernetesModules = []string{"k8s.io/kubernetes", "k8s.io/component-base", "k8s.io/client-go"}

// release matches a released module version: vMAJOR.MINOR.PATCH with an
// optional pre-release (-rc.1, -alpha.0) and no pseudo-version timestamp.
var release = regexp.MustCompile(`^v(0|1)\.(\d+)\.(\d+)(-(alpha|beta|rc)\.\d+)?$`)

// KubernetesFromBuildInfo is the Kubernetes version of the modules kstack
// was built with: k8s.io/kubernetes v1.37.2, or a staging module such as
// k8s.io/component-base v0.37.2, give v1.37.2. A replacement's version
// counts; a module replaced by a directory, or at a pseudo-version, says
// nothing.
func KubernetesFromBuildInfo(info *debug.BuildInfo) (string, bool) {
	if info == nil {
		return "", false
	}
	for _, path := range kubernetesModules {
		for _, dep := range info.Deps {
			if dep.Path != path {
				continue
			}
			v := dep.Version
			if dep.Replace != nil {
				v = dep.Replace.Version
			}
			m := release.FindStringSubmatch(v)
			if m == nil {
				continue
			}
			// k8s.io/kubernetes is v1.x.y; the staging modules are v0.x.y.
			if (path == "k8s.io/kubernetes") != (m[1] == "1") || m[2] == "0" {
				continue
			}
			return "v1." + m[2] + "." + m[3] + m[4], true
		}
	}
	return "", false
}

// pseudo matches a Go pseudo-version (v0.0.0-20260101000000-0123456789ab,
// v1.2.4-0.20260101000000-0123456789ab, v1.3.0-rc.1.0.20260101000000-0123456789ab),
// which names a commit, not a release.
var pseudo = regexp.MustCompile(`[-.]\d{14}-[0-9a-f]{12}(\+.*)?$`)

// FromBuildInfo is kstack's version for a binary built without the
// Makefile's stamp: the module's release version (go install
// github.com/kstack/kstack/cmd/kstack@v1.2.0), else the commit it was built
// from (the first 12 hex digits, "-dirty" with uncommitted changes, as
// `git describe --always --dirty` has it), else "dev".
func FromBuildInfo(info *debug.BuildInfo) string {
	if info == nil {
		return "dev"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" && !pseudo.MatchString(v) {
		return v
	}
	var revision string
	var modified bool
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if revision == "" {
		if v := info.Main.Version; v != "" && v != "(devel)" {
			return v
		}
		return "dev"
	}
	if len(revision) > 12 {
		revision = revision[:12]
	}
	if modified {
		revision += "-dirty"
	}
	return revision
}

// majorMinor are gitMajor and gitMinor for a v1.x.y version.
func majorMinor(v string) (major, minor string) {
	parts := strings.SplitN(strings.TrimPrefix(v, "v"), ".", 3)
	if len(parts) < 2 {
		return "", ""
	}
	if _, err := strconv.Atoi(parts[0]); err != nil {
		return "", ""
	}
	if _, err := strconv.Atoi(parts[1]); err != nil {
		return "", ""
	}
	return parts[0], parts[1]
}
