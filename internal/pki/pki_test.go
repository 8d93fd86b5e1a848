package pki

import (
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestIssueAndLoad(t *testing.T) {
	dir := t.TempDir()
	ca, err := NewCA("test-ca")
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := ca.Issue(CertSpec{CommonName: "admin", Organization: []string{"system:masters"}, Client: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := WritePair(dir, "admin", cert, key); err != nil {
		t.Fatal(err)
	}
	got, _, err := LoadPair(dir, "admin")
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	if _, err := got.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("issued certificate does not verify: %v", err)
	}
	if got.Subject.Organization[0] != "system:masters" {
		t.Fatalf("organization %v", got.Subject.Organization)
	}
	st, err := os.Stat(filepath.Join(dir, "admin.key"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", st.Mode().Perm())
	}
}

func TestCorruptFiles(t *testing.T) {
	dir := t.TempDir()
	ca, err := NewCA("ca")
	if err != nil {
		t.Fatal(err)
	}
	c1, k1, err := ca.Issue(CertSpec{CommonName: "one", Server: true})
	if err != nil {
		t.Fatal(err)
	}
	_, k2, err := ca.Issue(CertSpec{CommonName: "two", Server: true})
	if err != nil {
		t.Fatal(err)
	}
	// Each case writes a good pair, then damages one file of it.
	cases := map[string]func() error{
		"garbage cert": func() error {
			return os.WriteFile(filepath.Join(dir, "x.crt"), []byte("garbage"), 0o600)
		},
		"bad der": func() error {
			return os.WriteFile(filepath.Join(dir, "x.crt"), []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), 0o600)
		},
		"garbage key":    func() error { return os.WriteFile(filepath.Join(dir, "x.key"), []byte("nope"), 0o600) },
		"mismatched key": func() error { return WritePair(dir, "x", c1, k2) },
	}
	for name, damage := range cases {
		t.Run(name, func(t *testing.T) {
			if err := WritePair(dir, "x", c1, k1); err != nil {
				t.Fatal(err)
			}
			if _, _, err := LoadPair(dir, "x"); err != nil {
				t.Fatalf("the good pair does not load: %v", err)
			}
			if err := damage(); err != nil {
				t.Fatal(err)
			}
			_, _, err := LoadPair(dir, "x")
			var ce *CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("want a CorruptError, got %v", err)
			}
			if ce.Path == "" || !contains(err.Error(), ce.Path) {
				t.Fatalf("error does not name the file: %v", err)
			}
		})
	}
	if _, _, err := LoadPair(dir, "missing"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
