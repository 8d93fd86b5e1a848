package ldaptest

import (
	"bytes"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"regexp"
	"syscall"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
)

// The sample hashes are literals made by slappasswd; check them here so a
// wrong one is reported as such instead of as a failing login.
func TestSamplePasswordHashes(t *testing.T) {
	for uid, pw := range map[string]string{"jane": JanePassword, "john": JohnPassword} {
		m := regexp.MustCompile(`(?m)^dn: uid=` + uid + `,[\s\S]*?^userPassword: \{SSHA\}(\S+)$`).FindStringSubmatch(SampleLDIF)
		if m == nil {
			t.Fatalf("no {SSHA} userPassword for %s in SampleLDIF", uid)
		}
		raw, err := base64.StdEncoding.DecodeString(m[1])
		if err != nil || len(raw) <= sha1.Size {
			t.Fatalf("the {SSHA} value of %s is not base64 of a SHA-1 digest and a salt: %q", uid, m[1])
		}
		// {SSHA} is base64(SHA1(password || salt) || salt).
		sum := sha1.Sum(append([]byte(pw), raw[sha1.Size:]...))
		if !bytes.Equal(sum[:], raw[:sha1.Size]) {
			t.Errorf("the {SSHA} hash of %s in SampleLDIF does not match its password %q", uid, pw)
		}
	}
}

func TestStartAndStop(t *testing.T) {
	s := Start(t, SampleLDIF)
	for _, url := range []string{s.URL, s.LDAPSURL} {
		conn, err := goldap.DialURL(url, goldap.DialWithTLSConfig(s.tlsClientConfig(t)))
		if err != nil {
			t.Fatalf("dialing %s: %v", url, err)
		}
		if err := conn.Bind("uid=jane,ou=people,dc=example,dc=org", JanePassword); err != nil {
			t.Errorf("jane cannot bind on %s: %v\n%s", url, err, s.Output())
		}
		// The server is deliberately lax here, like Active Directory.
		if _, err := conn.SimpleBind(&goldap.SimpleBindRequest{Username: "uid=jane,ou=people,dc=example,dc=org", AllowEmptyPassword: true}); err != nil {
			t.Errorf("a bind with a DN and no password should succeed as anonymous on %s: %v", url, err)
		}
		conn.Close()
	}

	pid := s.proc.cmd.Process.Pid
	start := time.Now()
	s.Stop()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Stop took %s", d)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("slapd (pid %d) still exists after Stop: kill -0 gave %v", pid, err)
	}
	if conn, err := goldap.DialURL(s.URL); err == nil {
		conn.Close()
		t.Errorf("%s still accepts connections after Stop", s.URL)
	}
	s.Stop() // a second Stop, like the cleanup's, must not block
}

func TestStartWithBaseEntryInLDIF(t *testing.T) {
	s := Start(t, "dn: dc=example,dc=org\nobjectClass: dcObject\nobjectClass: organization\no: Own\ndc: example\n")
	conn, err := goldap.DialURL(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	res, err := conn.Search(goldap.NewSearchRequest(s.BaseDN, goldap.ScopeBaseObject, 0, 0, 0, false, "(objectClass=*)", []string{"o"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Entries[0].GetAttributeValue("o"); got != "Own" {
		t.Errorf("base entry o = %q, want the LDIF's own entry %q", got, "Own")
	}
}

func (s *Server) tlsClientConfig(t *testing.T) *tls.Config {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(s.CACert)) {
		t.Fatal("CACert holds no certificate")
	}
	return &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
}
