package ocitest

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"

	"sigs.k8s.io/yaml"
)

// ConformancePackage is the OCI distribution-spec conformance program: a
// main package of the module go.mod requires.
const ConformancePackage = "github.com/opencontainers/distribution-spec/conformance"

var (
	confOnce sync.Once
	confBin  string
	confErr  error
)

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", ".."))
}

// BuildConformance builds the conformance program (`go build -o DIR/conformance
// github.com/opencontainers/distribution-spec/conformance` in the
// repository, so that go.mod's version is the one built) once per test
// process and returns its path. $KSTACK_CONFORMANCE_BINARY, when set, is
// used instead.
func BuildConformance(t testing.TB) string {
	t.Helper()
	confOnce.Do(func() {
		if b := os.Getenv("KSTACK_CONFORMANCE_BINARY"); b != "" {
			confBin = b
			return
		}
		dir, err := os.MkdirTemp("", "ocitest-conformance-")
		if err != nil {
			confErr = err
			return
		}
		out := filepath.Join(dir, "conformance")
		cmd := exec.Command("go", "build", "-o", out, ConformancePackage)
		cmd.Dir = repoRoot()
		if data, err := cmd.CombinedOutput(); err != nil {
			confErr = fmt.Errorf("go build %s: %v\n%s", ConformancePackage, err, data)
			return
		}
		confBin = out
	})
	if confErr != nil {
		t.Fatal(confErr)
	}
	return confBin
}

// ConformanceConfig is one run of the conformance program.
type ConformanceConfig struct {
	// Registry is "host:port"; the program speaks HTTPS to it, trusting
	// CAFile (given to it as SSL_CERT_FILE).
	Registry string
	CAFile   string
	// Repo1 and Repo2 are the repositories it pushes to (Repo2 for
	// cross-repository mounts).
	Repo1, Repo2 string
	// Username and Password log in (empty: anonymous).
	Username, Password string
	// ResultsDir receives results.yaml, junit.xml and report.html.
	ResultsDir string
	// Env adds OCI_* settings (OCI_VERSION=dev, OCI_DATA_SPARSE=true, ...).
	Env map[string]string
}

// ConformanceResult is what one run found.
type ConformanceResult struct {
	// Tests maps each test case (the junit leaves, by their full names:
	// "OCI Conformance Test/sha256 blobs/post+put/blob-post-put", ...) to
	// the statuses of its runs: passed, skipped, failure or error. A name
	// may run more than once (each manifest of an index is pushed by
	// "push/manifest-by-tag", in an order that changes between runs), so
	// a name holds a count of each status.
	Tests map[string]map[string]int
	// APIs and Data are results.yaml's summaries: API and data type names
	// to Pass, FAIL, Skip, Disabled or Error. They are coarse (one sha512
	// failure fails "Blob get"); Tests is what to compare.
	APIs, Data map[string]string
	// Messages are the junit system-out of each test case that has one
	// (why it failed or was skipped).
	Messages map[string][]string
	// Report is what the program printed (its summary, each failure's
	// reason).
	Report string
	// ExitErr is the program's exit (non-nil when anything failed).
	ExitErr error
}

// PassedCounts maps each test case that passed to how many times it did.
func (r *ConformanceResult) PassedCounts() map[string]int {
	out := map[string]int{}
	for name, st := range r.Tests {
		if st["passed"] > 0 {
			out[name] = st["passed"]
		}
	}
	return out
}

// Passed lists the test cases that passed at least once, sorted.
func (r *ConformanceResult) Passed() []string { return r.with("passed") }

// Failed lists the test cases that failed or erred at least once, sorted.
func (r *ConformanceResult) Failed() []string {
	return uniqueSorted(append(r.with("failure"), r.with("error")...))
}

// Skipped lists the test cases skipped at least once, sorted.
func (r *ConformanceResult) Skipped() []string { return r.with("skipped") }

// Missing lists the test cases that passed in baseline more often than in
// r (with the counts), sorted: what r fails of what baseline passes.
func (r *ConformanceResult) Missing(baseline *ConformanceResult) []string {
	var out []string
	mine := r.PassedCounts()
	for name, n := range baseline.PassedCounts() {
		if mine[name] < n {
			st := fmt.Sprintf("statuses %v", r.Tests[name])
			if len(r.Tests[name]) == 0 {
				st = "not run"
			}
			out = append(out, fmt.Sprintf("%s (passed %d of %d times; %s)", name, mine[name], n, st))
		}
	}
	sort.Strings(out)
	return out
}

// Failure is the program's reason for failing or skipping the named test
// case: its junit messages and the lines of its report that name it.
func (r *ConformanceResult) Failure(name string) string {
	out := append([]string(nil), r.Messages[name]...)
	for _, l := range strings.Split(r.Report, "\n") {
		if strings.Contains(l, `name="`+name+`"`) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func (r *ConformanceResult) with(status string) []string {
	var out []string
	for name, st := range r.Tests {
		if st[status] > 0 {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

func uniqueSorted(s []string) []string {
	sort.Strings(s)
	var out []string
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// RunConformance runs the conformance program bin with c and reads its
// results. An error means the run produced no results to read.
func RunConformance(ctx context.Context, bin string, c ConformanceConfig) (*ConformanceResult, error) {
	if err := os.MkdirAll(c.ResultsDir, 0o755); err != nil {
		return nil, err
	}
	env := []string{}
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "OCI_") && !strings.HasPrefix(e, "SSL_CERT_") {
			env = append(env, e)
		}
	}
	set := map[string]string{
		"OCI_REGISTRY": c.Registry, "OCI_TLS": "enabled", "OCI_REPO1": c.Repo1, "OCI_REPO2": c.Repo2,
		"OCI_USERNAME": c.Username, "OCI_PASSWORD": c.Password, "OCI_RESULTS_DIR": c.ResultsDir,
	}
	if c.CAFile != "" {
		set["SSL_CERT_FILE"] = c.CAFile
	}
	for k, v := range c.Env {
		set[k] = v
	}
	for k, v := range set {
		if v != "" {
			env = append(env, k+"="+v)
		}
	}
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = env
	cmd.Dir = c.ResultsDir // holds no oci-conformance.yaml: the environment is the whole configuration
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	runErr := cmd.Run()
	res := &ConformanceResult{Report: out.String(), ExitErr: runErr, Tests: map[string]map[string]int{},
		Messages: map[string][]string{}}
	data, err := os.ReadFile(filepath.Join(c.ResultsDir, "junit.xml"))
	if err != nil {
		return res, fmt.Errorf("conformance wrote no junit.xml (%v): %v\n%s", runErr, err, out.String())
	}
	var ju struct {
		Suites []struct {
			Cases []struct {
				Name      string `xml:"name,attr"`
				Status    string `xml:"status,attr"`
				SystemOut string `xml:"system-out"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(data, &ju); err != nil {
		return res, fmt.Errorf("junit.xml: %w", err)
	}
	for _, s := range ju.Suites {
		for _, tc := range s.Cases {
			if res.Tests[tc.Name] == nil {
				res.Tests[tc.Name] = map[string]int{}
			}
			res.Tests[tc.Name][tc.Status]++
			if m := strings.TrimSpace(tc.SystemOut); m != "" {
				res.Messages[tc.Name] = append(res.Messages[tc.Name], tc.Status+": "+m)
			}
		}
	}
	data, err = os.ReadFile(filepath.Join(c.ResultsDir, "results.yaml"))
	if err != nil {
		return res, fmt.Errorf("conformance wrote no results.yaml: %w", err)
	}
	var ry struct {
		APIs map[string]string `json:"apis"`
		Data map[string]string `json:"data"`
	}
	if err := yaml.Unmarshal(data, &ry); err != nil {
		return res, fmt.Errorf("results.yaml: %w", err)
	}
	res.APIs, res.Data = ry.APIs, ry.Data
	return res, nil
}
