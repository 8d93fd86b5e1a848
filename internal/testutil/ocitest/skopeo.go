package ocitest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Skopeo runs skopeo (Debian's, from $PATH) with args after its global
// options: a signature policy that accepts anything and an auth file of
// the test's own (never ~/.docker or $XDG_RUNTIME_DIR's), so that only the
// credentials on the command line count. It returns what skopeo printed
// (stdout and stderr) and its error.
func Skopeo(t testing.TB, args ...string) (string, error) {
	t.Helper()
	bin, err := exec.LookPath("skopeo")
	if err != nil {
		t.Fatalf("skopeo is not installed (Debian package skopeo; hack/install-deps.sh test): %v", err)
	}
	dir := t.TempDir()
	policy := filepath.Join(dir, "policy.json")
	if err := os.WriteFile(policy, []byte(`{"default":[{"type":"insecureAcceptAnything"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--policy", policy}, args...)...)
	cmd.Env = append(os.Environ(), "REGISTRY_AUTH_FILE="+filepath.Join(dir, "auth.json"), "HOME="+dir, "XDG_RUNTIME_DIR="+dir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	if err != nil {
		err = fmt.Errorf("skopeo %s: %w", strings.Join(redact(args), " "), err)
	}
	return out.String(), err
}

// redact hides the password of --*-creds USER:PASSWORD in messages.
func redact(args []string) []string {
	out := append([]string(nil), args...)
	for i := 1; i < len(out); i++ {
		if strings.HasSuffix(out[i-1], "-creds") {
			if u, _, ok := strings.Cut(out[i], ":"); ok {
				out[i] = u + ":***"
			}
		}
	}
	return out
}
