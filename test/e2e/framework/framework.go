// Package framework is the one end-to-end test framework of kstack. It builds
// the kstack binary once per test run (or uses $KSTACK_BINARY), runs it
// against a data dir of the test's own, starts and stops local clusters and
// the platform, saves their logs when a test fails, and kills every process
// it started when the test ends.
package framework

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// RepoRoot is the root of the kstack repository.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", ".."))
}

// Binary returns the kstack binary under test, building it on first use.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		if b := os.Getenv("KSTACK_BINARY"); b != "" {
			binary = b
			return
		}
		out := filepath.Join(RepoRoot(), "bin", "kstack-e2e")
		cmd := exec.Command("make", "--no-print-directory", "-s", "build", "BIN="+out)
		cmd.Dir = RepoRoot()
		if data, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("building kstack: %v\n%s", err, data)
			return
		}
		binary = out
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

// Kstack runs the kstack binary against one data dir.
type Kstack struct {
	T       testing.TB
	Bin     string
	DataDir string
	// Env is added to every command's environment. New points
	// KSTACK_CONFIG (the login file) into the test's own directory, so
	// that tests never read or write ~/.kstack.
	Env []string
}

// New returns a Kstack with a fresh data dir; everything it starts is
// stopped when the test ends, and logs are kept if the test failed.
func New(t testing.TB) *Kstack {
	t.Helper()
	dir := t.TempDir()
	k := &Kstack{T: t, Bin: Binary(t), DataDir: filepath.Join(dir, "data"),
		Env: []string{"KSTACK_CONFIG=" + filepath.Join(dir, "login-admin.json")}}
	t.Cleanup(k.cleanup)
	return k
}

// As is the same platform seen by another CLI user: a login file of its
// own, so that `kstack login` as that user does not touch the others.
func (k *Kstack) As(user string) *Kstack {
	return &Kstack{T: k.T, Bin: k.Bin, DataDir: k.DataDir,
		Env: []string{"KSTACK_CONFIG=" + filepath.Join(filepath.Dir(k.DataDir), "login-"+user+".json")}}
}

// LoginFile is the login file of this CLI user.
func (k *Kstack) LoginFile() string {
	for _, e := range k.Env {
		if v, ok := strings.CutPrefix(e, "KSTACK_CONFIG="); ok {
			return v
		}
	}
	return ""
}

// Result is the outcome of one command.
type Result struct {
	Stdout, Stderr string
	Err            error
}

// Run runs kstack with args and returns what it printed.
func (k *Kstack) Run(args ...string) Result {
	k.T.Helper()
	return k.RunStdin("", args...)
}

// RunStdin runs kstack with stdin (a password, say).
func (k *Kstack) RunStdin(stdin string, args ...string) Result {
	k.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, k.Bin, append([]string{"--data-dir", k.DataDir}, args...)...)
	cmd.Env = append(os.Environ(), k.Env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return Result{Stdout: out.String(), Stderr: errb.String(), Err: err}
}

// MustRun runs kstack and fails the test if it fails.
func (k *Kstack) MustRun(args ...string) string {
	k.T.Helper()
	r := k.Run(args...)
	if r.Err != nil {
		k.T.Fatalf("kstack %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.Err, r.Stdout, r.Stderr)
	}
	return r.Stdout
}

// MustFail runs kstack, expects it to fail, and returns its stderr.
func (k *Kstack) MustFail(args ...string) string {
	k.T.Helper()
	r := k.Run(args...)
	if r.Err == nil {
		k.T.Fatalf("kstack %s succeeded, want an error\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.Stdout, r.Stderr)
	}
	return r.Stderr
}

// Kubectl runs the built-in kubectl against kubeconfig.
func (k *Kstack) Kubectl(kubeconfig string, args ...string) (string, error) {
	r := k.Run(append([]string{"kubectl", "--kubeconfig", kubeconfig}, args...)...)
	if r.Err != nil {
		return r.Stdout, fmt.Errorf("kubectl %s: %v: %s", strings.Join(args, " "), r.Err, r.Stderr)
	}
	return r.Stdout, nil
}

// MustKubectl runs kubectl and fails the test on error.
func (k *Kstack) MustKubectl(kubeconfig string, args ...string) string {
	k.T.Helper()
	out, err := k.Kubectl(kubeconfig, args...)
	if err != nil {
		k.T.Fatal(err)
	}
	return out
}

// CreateCluster creates a local cluster and returns its admin kubeconfig.
func (k *Kstack) CreateCluster(name string, nodes int) string {
	k.T.Helper()
	k.MustRun("local", "create", name, "--nodes", strconv.Itoa(nodes))
	return strings.TrimSpace(k.MustRun("local", "kubeconfig", name))
}

// Eventually calls f until it returns nil or timeout passes.
func Eventually(t testing.TB, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for {
		if err = f(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true after %s: %v", what, timeout, err)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// Processes returns the PIDs of live processes whose command line mentions
// the data dir: every supervisor and component kstack started for it.
func (k *Kstack) Processes() []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(cmdline, []byte(k.DataDir)) {
			continue
		}
		stat, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if i := bytes.LastIndexByte(stat, ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
			continue
		}
		out = append(out, pid)
	}
	return out
}

func (k *Kstack) cleanup() {
	if k.T.Failed() {
		k.saveLogs()
	}
	pids := k.Processes()
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	for i := 0; i < 50 && len(k.Processes()) > 0; i++ {
		time.Sleep(100 * time.Millisecond)
	}
}

// ArtifactsDir is where failed tests leave logs and screenshots.
func ArtifactsDir(t testing.TB) string {
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	dir := filepath.Join(RepoRoot(), "test", "e2e", "artifacts", name)
	_ = os.MkdirAll(dir, 0o755)
	return dir
}

// saveLogs copies every component log to the artifacts dir and prints the
// end of each, so a CI failure can be read without the machine.
func (k *Kstack) saveLogs() {
	dst := ArtifactsDir(k.T)
	_ = filepath.Walk(k.DataDir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || !strings.HasSuffix(path, ".log") {
			return nil
		}
		// Simulated containers' logs (var/log/pods) are no component's log.
		if strings.Contains(filepath.ToSlash(path), "/var/log/pods/") {
			return nil
		}
		rel, _ := filepath.Rel(k.DataDir, path)
		target := filepath.Join(dst, strings.ReplaceAll(rel, string(filepath.Separator), "__"))
		if data, err := os.ReadFile(path); err == nil {
			_ = os.WriteFile(target, data, 0o644)
			k.T.Logf("--- end of %s ---\n%s", rel, lastLines(data, 15))
		}
		return nil
	})
	k.T.Logf("logs saved in %s", dst)
}

func lastLines(data []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Platform is a running `kstack up`.
type Platform struct {
	ConsoleURL string
	Kubeconfig string
	// Stdout holds everything `up` printed on stdout.
	Stdout *SyncBuffer
	Stderr *SyncBuffer
	cmd    *exec.Cmd
	done   chan error

	stopOnce sync.Once
	stopErr  error
}

// SyncBuffer is a bytes.Buffer safe for a process's writes and a test's reads.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Up starts `kstack up` with args and waits (up to timeout) for it to print
// where the platform is.
func (k *Kstack) Up(timeout time.Duration, args ...string) *Platform {
	k.T.Helper()
	p, err := k.StartUp(timeout, args...)
	if err != nil {
		k.T.Fatal(err)
	}
	return p
}

// StartUp is Up returning the error instead of failing the test.
func (k *Kstack) StartUp(timeout time.Duration, args ...string) (*Platform, error) {
	cmd := exec.Command(k.Bin, append([]string{"--data-dir", k.DataDir, "up"}, args...)...)
	cmd.Env = append(os.Environ(), k.Env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p := &Platform{Stdout: &SyncBuffer{}, Stderr: &SyncBuffer{}, cmd: cmd, done: make(chan error, 1)}
	cmd.Stderr = p.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.Stdout.Write([]byte(sc.Text() + "\n"))
			lines <- sc.Text()
		}
		close(lines)
	}()
	go func() { p.done <- cmd.Wait() }()
	k.T.Cleanup(func() { p.Stop() })
	deadline := time.After(timeout)
	for p.ConsoleURL == "" || p.Kubeconfig == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				return nil, fmt.Errorf("kstack up exited before it was ready:\n%s", p.Stderr.String())
			}
			if v, ok := strings.CutPrefix(l, "Console: "); ok {
				// up prints the console's own address; tests use the base.
				p.ConsoleURL = strings.TrimSuffix(v, "/console/")
			}
			if v, ok := strings.CutPrefix(l, "Admin kubeconfig: "); ok {
				p.Kubeconfig = v
			}
		case <-deadline:
			return nil, fmt.Errorf("kstack up not ready after %s:\n%s", timeout, p.Stderr.String())
		}
	}
	return p, nil
}

// Stop sends Ctrl-C to `kstack up` and waits for it to exit.
func (p *Platform) Stop() error {
	p.stopOnce.Do(func() {
		_ = p.cmd.Process.Signal(os.Interrupt)
		select {
		case p.stopErr = <-p.done:
		case <-time.After(2 * time.Minute):
			_ = p.cmd.Process.Kill()
			p.stopErr = errors.New("kstack up did not stop within 2 minutes of Ctrl-C")
		}
	})
	return p.stopErr
}

// FreeAddr returns a loopback address with a port that was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// WaitHTTP waits until a plain HTTP GET of url answers with a body holding want.
func WaitHTTP(t testing.TB, url, want string, timeout time.Duration) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	Eventually(t, timeout, "GET "+url, func() error {
		resp, err := c.Get(url)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if !strings.Contains(string(body), want) {
			return fmt.Errorf("body %q", body)
		}
		return nil
	})
}

// ImportedCluster creates a local cluster with --import, waits until the
// platform reports it Running, and returns its ID and its own admin
// kubeconfig.
func (k *Kstack) ImportedCluster(name string, nodes int) (id, memberKubeconfig string) {
	k.T.Helper()
	k.MustRun("local", "create", name, "--nodes", fmt.Sprint(nodes), "--import")
	return k.ClusterID(name), strings.TrimSpace(k.MustRun("local", "kubeconfig", name))
}

// ClusterID waits until the platform has a Running cluster of that display
// name and returns its ID.
func (k *Kstack) ClusterID(name string) (id string) {
	k.T.Helper()
	Eventually(k.T, time.Minute, name+" Running", func() error {
		var list []struct {
			Metadata struct{ Name string }
			Spec     struct{ DisplayName string }
			Status   struct{ Phase string }
		}
		if err := json.Unmarshal([]byte(k.MustRun("cluster", "list", "-o", "json")), &list); err != nil {
			return err
		}
		for _, c := range list {
			if c.Spec.DisplayName == name && c.Status.Phase == "Running" {
				id = c.Metadata.Name
				return nil
			}
		}
		return fmt.Errorf("not Running yet")
	})
	return id
}

// Proc is a long-running kstack command in the background (kstack
// virtual-node, say). It is stopped when the test ends and its output is
// saved with the logs if the test failed.
type Proc struct {
	Output *SyncBuffer
	cmd    *exec.Cmd
	done   chan error
	once   sync.Once
}

// Start runs kstack args in the background.
func (k *Kstack) Start(args ...string) *Proc {
	k.T.Helper()
	cmd := exec.Command(k.Bin, append([]string{"--data-dir", k.DataDir}, args...)...)
	cmd.Env = append(os.Environ(), k.Env...)
	p := &Proc{Output: &SyncBuffer{}, cmd: cmd, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = p.Output, p.Output
	if err := cmd.Start(); err != nil {
		k.T.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	name := strings.ReplaceAll(strings.Join(args, "_"), "/", "_")
	if len(name) > 40 {
		name = name[:40]
	}
	k.T.Cleanup(func() {
		p.Stop()
		if k.T.Failed() {
			path := filepath.Join(ArtifactsDir(k.T), fmt.Sprintf("proc-%d-%s.log", cmd.Process.Pid, name))
			_ = os.WriteFile(path, []byte(p.Output.String()), 0o644)
			k.T.Logf("--- end of kstack %s (pid %d) ---\n%s", strings.Join(args, " "), cmd.Process.Pid, lastLines([]byte(p.Output.String()), 25))
		}
	})
	return p
}

// Pid is the process ID.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// WaitOutput waits until the output contains s; it fails if the process exits first.
func (p *Proc) WaitOutput(t testing.TB, s string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(p.Output.String(), s) {
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("the process exited (%v) before printing %q:\n%s", err, s, lastLines([]byte(p.Output.String()), 30))
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q after %s:\n%s", s, timeout, lastLines([]byte(p.Output.String()), 30))
		}
	}
}

// Stop sends Ctrl-C and waits (a minute at most, then kills).
func (p *Proc) Stop() {
	p.once.Do(func() {
		_ = p.cmd.Process.Signal(os.Interrupt)
		select {
		case err := <-p.done:
			p.done <- err
		case <-time.After(time.Minute):
			_ = p.cmd.Process.Kill()
		}
	})
}

// Kill ends the process at once, as a crash would.
func (p *Proc) Kill() {
	p.once.Do(func() {
		_ = p.cmd.Process.Kill()
		err := <-p.done
		p.done <- err
	})
}

// PlatformLeader is the holder of the platform's leader Lease.
func PlatformLeader(t testing.TB, k *Kstack, platformKC string) string {
	t.Helper()
	out, err := k.Kubectl(platformKC, "-n", "kstack-system", "get", "lease", "kstack-platform", "-o", "jsonpath={.spec.holderIdentity}")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// StopFirstReplica sends SIGTERM to the platform replica `kstack up` runs
// (the one `platform run` that is not second), calls meanwhile, and waits
// until another replica leads. It returns the leaders before and after.
func StopFirstReplica(t testing.TB, k *Kstack, platformKC string, second *Proc, meanwhile func()) (before, after string) {
	t.Helper()
	before = PlatformLeader(t, k, platformKC)
	out, _ := exec.Command("pgrep", "-f", "kstack.* platform run").Output()
	var victims []string
	for _, pid := range strings.Fields(string(out)) {
		if pid != fmt.Sprint(second.Pid()) {
			victims = append(victims, pid)
		}
	}
	if len(victims) != 1 {
		t.Fatalf("platform processes other than the second replica: %v (second %d)", victims, second.Pid())
	}
	if err := exec.Command("kill", "-TERM", victims[0]).Run(); err != nil {
		t.Fatal(err)
	}
	if meanwhile != nil {
		meanwhile()
	}
	Eventually(t, 2*time.Minute, "another leader", func() error {
		if after = PlatformLeader(t, k, platformKC); after == before || after == "" {
			return fmt.Errorf("still %q", after)
		}
		return nil
	})
	return before, after
}
