// Package pgtest runs a throwaway PostgreSQL server for tests: Debian's
// binaries (the postgresql package, which hack/install-deps.sh test
// installs), a data directory in a temporary directory, listening on
// 127.0.0.1 on a free port, stopped and removed when the test ends.
package pgtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// Server is one PostgreSQL server.
type Server struct {
	t       testing.TB
	bin     string // directory of initdb, pg_ctl, postgres, createdb
	dir     string // removed at the end
	data    string
	logFile string
	port    int
	cred    *syscall.Credential // the postgres system user's when running as root
	running bool
	dbs     int
	// DSN connects to the test's database as the superuser.
	DSN string
}

// Start runs a server for t and returns the DSN of an empty database.
func Start(t testing.TB) string { return New(t).DSN }

// New runs a server for t. settings are extra postgresql.conf lines
// ("shared_buffers = '512MB'"); by default the server trades durability for
// speed (fsync off), as tests can.
func New(t testing.TB, settings ...string) *Server {
	t.Helper()
	bin := findBin()
	if bin == "" {
		t.Fatal("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/postgres): install it with hack/install-deps.sh test (Debian's postgresql package)")
	}
	s := &Server{t: t, bin: bin}
	if os.Geteuid() == 0 {
		// initdb and postgres refuse to run as root.
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("pgtest: running as root needs the postgres system user (Debian's postgresql package creates it): %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
	}
	// Not t.TempDir: its parent is private to root, where the postgres
	// user could not reach the data directory.
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		t.Fatal(err)
	}
	s.dir = dir
	t.Cleanup(func() {
		if s.running {
			s.stop()
		}
		os.RemoveAll(dir)
	})
	s.data = filepath.Join(dir, "data")
	sock := filepath.Join(dir, "sock")
	s.logFile = filepath.Join(dir, "postgres.log")
	if err := os.Mkdir(sock, 0o755); err != nil {
		t.Fatal(err)
	}
	if s.cred != nil {
		for _, p := range []string{dir, sock} {
			if err := os.Chown(p, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if out, err := s.run("initdb", "-D", s.data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"); err != nil {
		t.Fatalf("pgtest: initdb: %v\n%s", err, out)
	}
	s.port = freePort(t)
	conf := []string{
		"listen_addresses = '127.0.0.1'",
		fmt.Sprintf("port = %d", s.port),
		fmt.Sprintf("unix_socket_directories = '%s'", sock),
		"fsync = off",
		"synchronous_commit = off",
		"full_page_writes = off",
		"max_connections = 50",
		"log_min_messages = warning",
	}
	conf = append(conf, settings...)
	// Appending keeps the file its owner's.
	f, err := os.OpenFile(filepath.Join(s.data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("\n# pgtest\n" + strings.Join(conf, "\n") + "\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	s.Start()
	s.DSN = s.NewDatabase()
	return s
}

// NewDatabase creates another empty database and returns its DSN: cheaper
// than another server for tests that each want their own.
func (s *Server) NewDatabase() string {
	s.t.Helper()
	s.dbs++
	name := fmt.Sprintf("kstack%d", s.dbs)
	if out, err := s.run("createdb", "-h", filepath.Join(s.dir, "sock"), "-p", strconv.Itoa(s.port), "-U", "postgres", name); err != nil {
		s.t.Fatalf("pgtest: createdb: %v\n%s", err, out)
	}
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, name)
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Start starts the server again after Stop, on the same data and port.
func (s *Server) Start() {
	s.t.Helper()
	if s.running {
		return
	}
	if out, err := s.run("pg_ctl", "start", "-w", "-t", "60", "-D", s.data, "-l", s.logFile); err != nil {
		log, _ := os.ReadFile(s.logFile)
		s.t.Fatalf("pgtest: start PostgreSQL: %v\n%s\n%s", err, out, tail(string(log), 3000))
	}
	s.running = true
}

// Stop stops the server (fast: open sessions are ended); Start brings it
// back.
func (s *Server) Stop() {
	s.t.Helper()
	if !s.running {
		return
	}
	if out, err := s.stop(); err != nil {
		s.t.Fatalf("pgtest: stop PostgreSQL: %v\n%s", err, out)
	}
}

func (s *Server) stop() ([]byte, error) {
	out, err := s.run("pg_ctl", "stop", "-w", "-t", "60", "-m", "fast", "-D", s.data)
	if err == nil {
		s.running = false
	}
	return out, err
}

// run runs one of the server's programs, as the postgres user when root.
func (s *Server) run(prog string, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(s.bin, prog), args...)
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "PGTZ=UTC")
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
		cmd.Env = append(cmd.Env, "HOME="+s.dir, "USER=postgres")
	}
	return cmd.CombinedOutput()
}

// findBin is the newest installed PostgreSQL's bin directory, or "".
// KSTACK_PG_BIN names another.
func findBin() string {
	if d := os.Getenv("KSTACK_PG_BIN"); d != "" {
		return d
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	sort.Slice(found, func(i, j int) bool { return version(found[i]) > version(found[j]) })
	if len(found) == 0 {
		return ""
	}
	return filepath.Dir(found[0])
}

func version(postgresPath string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(filepath.Dir(postgresPath))), 64)
	return v
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
