package registry

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kstack/kstack/internal/testutil/ocitest"
	"github.com/kstack/kstack/test/e2e/framework"
)

// conformanceProfiles are the settings the OCI conformance program runs
// with: its defaults (spec 1.1), and "dev" with every optional API and the
// sparse manifests on.
var conformanceProfiles = []struct {
	name string
	env  map[string]string
}{
	{"stable", nil},
	{"dev", map[string]string{"OCI_VERSION": "dev", "OCI_DATA_SPARSE": "true"}},
}

// conformance runs the OCI distribution-spec conformance program (built
// from go.mod's version) first against a standalone distribution v3.1.2 in
// this process, then against kstack's registry through the gateway with
// alice's username and password (token auth on, repositories of registry
// namespace "conformance", shared with her project), in each profile. What
// the standalone passes is the bar, found in this run: kstack passes every
// test case the standalone passed, as many times.
func conformance(t *testing.T, e *env) {
	bin := ocitest.BuildConformance(t)
	for _, prof := range conformanceProfiles {
		t.Run(prof.name, func(t *testing.T) {
			c, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
			defer cancel()
			results := t.TempDir()
			keep := func() {
				if t.Failed() {
					dst := filepath.Join(framework.ArtifactsDir(t), "conformance")
					_ = os.CopyFS(dst, os.DirFS(results))
					t.Logf("conformance results (report.html, junit.xml, results.yaml) saved in %s", dst)
				}
			}
			defer keep()

			sa := ocitest.StartStandalone(t, "")
			repo1, repo2 := "conformance/"+prof.name+"1", "conformance/"+prof.name+"2"
			base, err := ocitest.RunConformance(c, bin, ocitest.ConformanceConfig{Registry: sa.Host, CAFile: sa.CAFile,
				Repo1: repo1, Repo2: repo2, ResultsDir: filepath.Join(results, "standalone"), Env: prof.env})
			if err != nil {
				t.Fatalf("conformance against the standalone registry: %v", err)
			}
			passed := base.PassedCounts()
			if len(passed) < 100 {
				t.Fatalf("the standalone registry passed only %d test cases: the baseline is broken\n%s", len(passed), base.Report)
			}
			t.Logf("standalone distribution v3.1.2 (%s): %d test cases passed, %d failed, %d skipped; APIs %v",
				prof.name, len(passed), len(base.Failed()), len(base.Skipped()), base.APIs)

			ks, err := ocitest.RunConformance(c, bin, ocitest.ConformanceConfig{Registry: e.host, CAFile: e.caFile,
				Repo1: repo1, Repo2: repo2, Username: "alice", Password: alicePassword,
				ResultsDir: filepath.Join(results, "kstack"), Env: prof.env})
			if err != nil {
				t.Fatalf("conformance against kstack: %v", err)
			}
			t.Logf("kstack (%s, token auth, alice's password): %d test cases passed, %d failed, %d skipped; APIs %v",
				prof.name, len(ks.PassedCounts()), len(ks.Failed()), len(ks.Skipped()), ks.APIs)
			if missing := ks.Missing(base); len(missing) > 0 {
				var why []string
				for _, m := range missing {
					name, _, _ := strings.Cut(m, " (passed")
					why = append(why, "  "+m+"\n    "+strings.ReplaceAll(ks.Failure(name), "\n", "\n    "))
				}
				t.Errorf("kstack fails %d test cases the standalone distribution passes:\n%s", len(missing), strings.Join(why, "\n"))
			}
			// What kstack passes beyond the standalone, for the record.
			var extra []string
			for name, n := range ks.PassedCounts() {
				if passed[name] < n {
					extra = append(extra, fmt.Sprintf("%s (%d, standalone %d)", name, n, passed[name]))
				}
			}
			if len(extra) > 0 {
				t.Logf("kstack passes beyond the standalone: %v", extra)
			}
		})
	}
}
