package framework

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// NewWithBinary is New for a kstack binary the test built itself rather
// than the one under test ($KSTACK_BINARY or the Makefile's build): the same
// fresh data dir, logs on failure and cleanup.
func NewWithBinary(t testing.TB, bin string) *Kstack {
	t.Helper()
	dir := t.TempDir()
	k := &Kstack{T: t, Bin: bin, DataDir: filepath.Join(dir, "data"),
		Env: []string{"KSTACK_CONFIG=" + filepath.Join(dir, "login-admin.json")}}
	t.Cleanup(k.cleanup)
	return k
}

// GoBuild builds kstack as a user who skips the Makefile does, `go build
// ./cmd/kstack` in the checkout, into a temporary directory, and returns the
// binary. No flags: $GOFLAGS and `go env -w GOFLAGS` are replaced by the
// default -buildvcs=auto, so that the binary carries the commit as a fresh
// machine's build does (without it if git cannot tell).
func GoBuild(t testing.TB) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "kstack")
	build := func(goflags string) ([]byte, error) {
		cmd := exec.Command("go", "build", "-o", out, "./cmd/kstack")
		cmd.Dir = RepoRoot()
		for _, e := range os.Environ() {
			if !strings.HasPrefix(e, "GOFLAGS=") {
				cmd.Env = append(cmd.Env, e)
			}
		}
		cmd.Env = append(cmd.Env, "GOFLAGS="+goflags)
		return cmd.CombinedOutput()
	}
	start := time.Now()
	data, err := build("-buildvcs=auto")
	if err != nil && strings.Contains(string(data), "error obtaining VCS status") {
		t.Logf("go build cannot read the VCS status, building without it:\n%s", data)
		data, err = build("-buildvcs=false")
	}
	if err != nil {
		t.Fatalf("go build ./cmd/kstack: %v\n%s", err, data)
	}
	t.Logf("go build ./cmd/kstack took %s", time.Since(start).Round(time.Second))
	return out
}
