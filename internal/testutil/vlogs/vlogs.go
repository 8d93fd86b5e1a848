// Package vlogs runs a real VictoriaLogs for tests: a log store that takes
// both the Loki push API (/insert/loki/api/v1/push) and Elasticsearch's
// _bulk (/insert/elasticsearch/_bulk), and answers LogsQL queries.
//
// The binary is built once with `go install` (a separate module, so kstack's
// go.mod is untouched) into the user cache dir and reused by later runs.
package vlogs

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Version is the VictoriaLogs release the tests run.
const Version = "v1.52.1"

const pkg = "github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs@" + Version

var buildMu sync.Mutex

// Binary returns the path of the victoria-logs binary, building it on first
// use (that takes minutes). It fails the test when it cannot be built.
func Binary(t testing.TB) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "kstack-test", "victoria-logs-"+Version)
	bin := filepath.Join(dir, "victoria-logs")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	// Build into a fresh directory and rename: a concurrent test process
	// never runs a half-written binary.
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "build-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	t.Logf("building VictoriaLogs %s into %s (once; this takes a few minutes)", Version, dir)
	cmd := exec.Command("go", "install", pkg)
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "GOFLAGS=-mod=mod", "GOWORK=off")
	cmd.Dir = tmp // outside kstack's module
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("building VictoriaLogs (go install %s): %v\n%s", pkg, err, out)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(bin); serr != nil {
			t.Fatalf("installing VictoriaLogs: %v", err)
		}
	}
	return bin
}

// Start runs VictoriaLogs on a free local port with its data in a temporary
// directory, until the test ends, and returns its base URL
// (http://127.0.0.1:port). Push to URL+"/insert/loki" (a Loki base URL) or
// URL+"/insert/elasticsearch" (an Elasticsearch address).
func Start(t testing.TB) string {
	t.Helper()
	bin := Binary(t)
	data := t.TempDir()
	var lastErr error
	for range 3 {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		var logs bytes.Buffer
		cmd := exec.Command(bin, "-storageDataPath="+data, "-httpListenAddr="+addr, "-retentionPeriod=100y", "-loggerLevel=WARN")
		cmd.Stdout, cmd.Stderr = &syncWriter{w: &logs}, &syncWriter{w: &logs}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		u := "http://" + addr
		if err := waitHealthy(u, exited); err != nil {
			_ = cmd.Process.Kill()
			<-exited
			lastErr = fmt.Errorf("%v\n%s", err, logs.String())
			continue
		}
		t.Cleanup(func() {
			_ = cmd.Process.Signal(os.Interrupt)
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				<-exited
			}
		})
		return u
	}
	t.Fatalf("starting VictoriaLogs: %v", lastErr)
	return ""
}

func waitHealthy(u string, exited <-chan struct{}) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("VictoriaLogs exited")
		default:
		}
		resp, err := http.Get(u + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("VictoriaLogs not healthy within 30s")
}

// Flush makes everything ingested so far searchable.
func Flush(t testing.TB, u string) {
	t.Helper()
	resp, err := http.Get(u + "/internal/force_flush")
	if err != nil {
		t.Fatalf("VictoriaLogs force_flush: %v", err)
	}
	resp.Body.Close()
}

// Query runs a LogsQL query on the VictoriaLogs at u (after Flush) and
// returns the matching entries, each a map of field to value (_msg, _time,
// _stream and the rest).
func Query(t testing.TB, u, query string) []map[string]string {
	t.Helper()
	Flush(t, u)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, u+"/select/logsql/query",
		strings.NewReader(url.Values{"query": {query}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("VictoriaLogs query %q: %v", query, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("VictoriaLogs query %q: %s: %s", query, resp.Status, b)
	}
	var out []map[string]string
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		m := map[string]string{}
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("VictoriaLogs query %q: answer line %q: %v", query, sc.Text(), err)
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("VictoriaLogs query %q: %v", query, err)
	}
	return out
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
