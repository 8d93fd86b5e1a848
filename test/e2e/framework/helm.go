package framework

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Helm is the real helm CLI the chart tests drive: $KSTACK_HELM, or
// bin/helm, built from the Helm module kstack itself uses when it is not
// there yet (hack/test.sh builds it first).
func Helm(t testing.TB) string {
	t.Helper()
	if h := os.Getenv("KSTACK_HELM"); h != "" {
		return h
	}
	h := filepath.Join(RepoRoot(), "bin", "helm")
	if _, err := os.Stat(h); err == nil {
		return h
	}
	cmd := exec.Command("go", "build", "-ldflags=-w", "-o", h, "helm.sh/helm/v3/cmd/helm")
	cmd.Dir = RepoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building helm: %v\n%s", err, out)
	}
	return h
}
