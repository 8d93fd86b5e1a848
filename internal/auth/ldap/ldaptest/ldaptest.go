// Package ldaptest runs a real OpenLDAP server (Debian's slapd) for tests, so
// that the LDAP connector is checked against the server's actual behaviour
// rather than a fake's idea of it.
package ldaptest

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/kstack/kstack/internal/netutil"
	"github.com/kstack/kstack/internal/pki"
)

const (
	slapdPath   = "/usr/sbin/slapd"
	slapaddPath = "/usr/sbin/slapadd"
	modulePath  = "/usr/lib/ldap"
	schemaDir   = "/etc/ldap/schema"

	baseDN  = "dc=example,dc=org"
	adminDN = "cn=admin," + baseDN
	adminPW = "admin-secret"

	readyTimeout = 20 * time.Second
)

// Server is a running slapd holding dc=example,dc=org.
type Server struct {
	// URL is the plain LDAP endpoint, like ldap://127.0.0.1:38389; it also
	// offers StartTLS.
	URL string
	// Addr is URL's host:port, the form the connector config's host takes.
	Addr string
	// LDAPSURL and LDAPSAddr are the LDAP-over-TLS endpoint.
	LDAPSURL  string
	LDAPSAddr string
	// CACert is the PEM of the CA that signed slapd's certificate, which is
	// valid for 127.0.0.1 and localhost.
	CACert string

	BaseDN  string
	AdminDN string
	AdminPW string

	dir    string
	output *syncBuffer
	proc   *process
}

// process is one slapd run; Start may need several to find free ports.
type process struct {
	cmd      *exec.Cmd
	exited   chan struct{} // closed once slapd has exited and been reaped
	stopOnce sync.Once
}

// stop kills slapd with its process group and waits until it is gone.
func (p *process) stop() {
	p.stopOnce.Do(func() {
		kill(p.cmd.Process)
		<-p.exited
	})
}

// Start runs slapd on free loopback ports with the entries of ldif under
// dc=example,dc=org (the base entry itself is added unless ldif has it), and
// returns once slapd answers a bind. slapd is killed when the test ends.
func Start(t testing.TB, ldif string) *Server {
	t.Helper()
	for _, p := range []string{slapdPath, slapaddPath} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("slapd is not installed (%s is missing): run hack/install-deps.sh", p)
		}
	}
	if _, err := os.Stat(filepath.Join(schemaDir, "inetorgperson.schema")); err != nil {
		t.Fatalf("the OpenLDAP schema files are missing from %s: reinstall slapd with hack/install-deps.sh", schemaDir)
	}

	dir := t.TempDir()
	s := &Server{BaseDN: baseDN, AdminDN: adminDN, AdminPW: adminPW, dir: dir}
	if err := s.writeTLS(); err != nil {
		t.Fatalf("making slapd's TLS certificate: %v", err)
	}
	conf := filepath.Join(dir, "slapd.conf")
	if err := os.WriteFile(conf, []byte(s.config()), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	// slapadd loads the database offline, before slapd opens it: no network
	// round trips and no waiting for the server to accept writes.
	ldifPath := filepath.Join(dir, "data.ldif")
	if err := os.WriteFile(ldifPath, []byte(withBaseEntry(ldif)), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(slapaddPath, "-f", conf, "-l", ldifPath).CombinedOutput(); err != nil {
		t.Fatalf("slapadd could not load the test LDIF: %v\n%s", err, out)
	}

	// The free ports are found by listening and closing, so another process
	// can take one before slapd binds it: retry with new ports then.
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		ports, err := netutil.FreePorts(2, nil)
		if err != nil {
			t.Fatal(err)
		}
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
		s.LDAPSAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1]))
		s.URL = "ldap://" + s.Addr
		s.LDAPSURL = "ldaps://" + s.LDAPSAddr
		lastErr = s.run(t, conf)
		if lastErr == nil {
			return s
		}
		if !strings.Contains(s.output.String(), "Address already in use") {
			break
		}
	}
	t.Fatalf("%v\nslapd output:\n%s", lastErr, s.output.String())
	return nil
}

// run starts slapd and waits until it answers a bind or exits.
func (s *Server) run(t testing.TB, conf string) error {
	s.output = &syncBuffer{}
	// -d keeps slapd in the foreground so the test owns the process. Level
	// "none" prints only what slapd always logs, errors included; level 0
	// would hide even why it failed to start.
	cmd := exec.Command(slapdPath, "-f", conf, "-h", s.URL+"/ "+s.LDAPSURL+"/", "-d", "none")
	cmd.Stdout = s.output
	cmd.Stderr = s.output
	cmd.SysProcAttr = sysProcAttr()
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting slapd: %v", err)
	}
	p := &process{cmd: cmd, exited: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(p.exited)
	}()
	s.proc = p
	t.Cleanup(p.stop)

	deadline := time.Now().Add(readyTimeout)
	for {
		err := s.ping()
		if err == nil {
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("slapd exited before answering on %s: %v", s.URL, cmd.ProcessState)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.stop()
			return fmt.Errorf("slapd did not answer a bind on %s within %s: %v", s.URL, readyTimeout, err)
		}
	}
}

func (s *Server) ping() error {
	conn, err := goldap.DialURL(s.URL, goldap.DialWithDialer(&net.Dialer{Timeout: time.Second}))
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetTimeout(time.Second)
	return conn.Bind(s.AdminDN, s.AdminPW)
}

// Stop kills slapd and waits for it to exit, so a test can check how a
// client copes with a server that went away. It is safe to call twice.
func (s *Server) Stop() {
	s.proc.stop()
}

// Output is what slapd has logged so far, for failure messages.
func (s *Server) Output() string { return s.output.String() }

func (s *Server) config() string {
	q := strconv.Quote
	var b strings.Builder
	for _, schema := range []string{"core", "cosine", "inetorgperson", "nis"} {
		fmt.Fprintf(&b, "include %s\n", q(filepath.Join(schemaDir, schema+".schema")))
	}
	fmt.Fprintf(&b, `pidfile %s
argsfile %s
modulepath %s
moduleload back_mdb
# Answer a bind with a DN and no password as an anonymous success, as Active
# Directory does, so tests show that clients refuse empty passwords themselves
# (slapd's default would refuse such a bind for them).
allow bind_anon_dn
TLSCertificateFile %s
TLSCertificateKeyFile %s

database mdb
suffix %s
rootdn %s
rootpw %s
directory %s
# Passwords are for binding only; everything else is readable, anonymously too,
# so that configs without a service account can be tested.
access to attrs=userPassword
	by anonymous auth
	by self write
	by * none
access to *
	by * read
`, q(filepath.Join(s.dir, "slapd.pid")), q(filepath.Join(s.dir, "slapd.args")), modulePath,
		q(filepath.Join(s.dir, "slapd.crt")), q(filepath.Join(s.dir, "slapd.key")),
		q(baseDN), q(adminDN), q(adminPW), q(filepath.Join(s.dir, "data")))
	return b.String()
}

func (s *Server) writeTLS() error {
	ca, err := pki.NewCA("ldaptest CA")
	if err != nil {
		return err
	}
	cert, key, err := ca.Issue(pki.CertSpec{
		CommonName: "slapd",
		DNSNames:   []string{"localhost"},
		IPs:        []net.IP{net.IPv4(127, 0, 0, 1)},
		Server:     true,
	})
	if err != nil {
		return err
	}
	s.CACert = string(pki.CertPEM(ca.Cert))
	return pki.WritePair(s.dir, "slapd", cert, key)
}

// withBaseEntry puts the suffix entry in front of ldif unless it is there.
func withBaseEntry(ldif string) string {
	sc := bufio.NewScanner(strings.NewReader(ldif))
	for sc.Scan() {
		if dn, ok := strings.CutPrefix(sc.Text(), "dn:"); ok && strings.EqualFold(strings.TrimSpace(dn), baseDN) {
			return ldif
		}
	}
	return "dn: " + baseDN + "\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n\n" + ldif
}

// syncBuffer collects slapd's output, written by exec's copier while the
// test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	if b == nil {
		return ""
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
