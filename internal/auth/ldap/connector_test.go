package ldap

import (
	"context"
	"errors"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kstack/kstack/internal/auth/ldap/ldaptest"
)

// sampleConfig is a typical config for ldaptest.SampleLDIF over plain LDAP.
func sampleConfig(s *ldaptest.Server) *Config {
	return &Config{
		Host:          s.Addr,
		InsecureNoSSL: true,
		BindDN:        s.AdminDN,
		BindPW:        s.AdminPW,
		UserSearch: UserSearch{
			BaseDN:    "ou=people," + s.BaseDN,
			Filter:    "(objectClass=inetOrgPerson)",
			Username:  "uid",
			IDAttr:    "uid",
			EmailAttr: "mail",
			NameAttr:  "cn",
		},
		GroupSearch: GroupSearch{
			BaseDN:    "ou=groups," + s.BaseDN,
			Filter:    "(objectClass=groupOfNames)",
			UserAttr:  "DN",
			GroupAttr: "member",
			NameAttr:  "cn",
		},
	}
}

func mustNew(t *testing.T, c *Config) *Connector {
	t.Helper()
	cn, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return cn
}

func wantInvalidCredentials(t *testing.T, id *Identity, err error) {
	t.Helper()
	if !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("got identity %+v and error %v, want ErrInvalidCredentials", id, err)
	}
}

func TestLogin(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.SampleLDIF)
	cn := mustNew(t, sampleConfig(s))
	ctx := context.Background()

	t.Run("jane", func(t *testing.T) {
		id, err := cn.Login(ctx, "jane", ldaptest.JanePassword)
		if err != nil {
			t.Fatal(err)
		}
		want := &Identity{ID: "jane", Username: "jane", Email: "jane@example.org", DisplayName: "Jane Doe",
			Groups: []string{"admins", "developers"}}
		if !reflect.DeepEqual(id, want) {
			t.Errorf("got %+v, want %+v", id, want)
		}
	})
	t.Run("john", func(t *testing.T) {
		id, err := cn.Login(ctx, "john", ldaptest.JohnPassword)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(id.Groups, []string{"developers"}) {
			t.Errorf("john's groups = %q, want [developers]", id.Groups)
		}
	})
	t.Run("username as the directory spells it", func(t *testing.T) {
		// uid matches case-insensitively; the identity must not depend on
		// how the user typed it.
		id, err := cn.Login(ctx, "JANE", ldaptest.JanePassword)
		if err != nil {
			t.Fatal(err)
		}
		if id.Username != "jane" || id.ID != "jane" {
			t.Errorf("got username %q and ID %q, want jane", id.Username, id.ID)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		id, err := cn.Login(ctx, "jane", ldaptest.JohnPassword)
		wantInvalidCredentials(t, id, err)
	})
	t.Run("unknown user looks like a wrong password", func(t *testing.T) {
		_, wrongPW := cn.Login(ctx, "jane", "not-her-password")
		id, err := cn.Login(ctx, "nobody", "whatever")
		wantInvalidCredentials(t, id, err)
		if err.Error() != wrongPW.Error() {
			t.Errorf("unknown user gives %q but wrong password %q: that tells which users exist", err, wrongPW)
		}
	})
	t.Run("empty password", func(t *testing.T) {
		// ldaptest's slapd accepts a bind with a DN and no password as an
		// anonymous success: if the connector sent it, jane would be logged
		// in without a password.
		id, err := cn.Login(ctx, "jane", "")
		wantInvalidCredentials(t, id, err)
	})
	t.Run("empty username", func(t *testing.T) {
		id, err := cn.Login(ctx, "", "x")
		wantInvalidCredentials(t, id, err)
	})
	t.Run("too long username", func(t *testing.T) {
		id, err := cn.Login(ctx, strings.Repeat("j", 257), "x")
		wantInvalidCredentials(t, id, err)
	})
	for _, username := range []string{"*", "j*", "jane)(uid=*", "*)(|(uid=*", "jane)(|(objectClass=*", `\2a`, "jane\x00"} {
		t.Run("injection "+username, func(t *testing.T) {
			// With jane's password: a filter that still matched jane would
			// log in.
			id, err := cn.Login(ctx, username, ldaptest.JanePassword)
			wantInvalidCredentials(t, id, err)
		})
	}
}

func TestLoginUsernameWithFilterCharacters(t *testing.T) {
	// A real user whose name has filter metacharacters must still log in:
	// escaping must not just reject such names.
	s := ldaptest.Start(t, ldaptest.SampleLDIF+`
dn: uid=tom(ops)*,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: tom(ops)*
cn: Tom
sn: Tom
userPassword: Passw0rd-Tom
`)
	cn := mustNew(t, sampleConfig(s))
	id, err := cn.Login(context.Background(), "tom(ops)*", "Passw0rd-Tom")
	if err != nil {
		t.Fatal(err)
	}
	if id.Username != "tom(ops)*" || id.Groups != nil {
		t.Errorf("got %+v", id)
	}
}

func TestLoginAnonymousSearch(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.SampleLDIF)
	c := sampleConfig(s)
	c.BindDN, c.BindPW = "", ""
	c.UserSearch.IDAttr = "" // the DN then
	id, err := mustNew(t, c).Login(context.Background(), "jane", ldaptest.JanePassword)
	if err != nil {
		t.Fatal(err)
	}
	if id.ID != "uid=jane,ou=people,dc=example,dc=org" || len(id.Groups) != 2 {
		t.Errorf("got %+v", id)
	}
}

func TestLoginPosixGroups(t *testing.T) {
	// Groups that list member names instead of DNs (userAttr other than DN).
	s := ldaptest.Start(t, ldaptest.SampleLDIF+`
dn: cn=ops,ou=groups,dc=example,dc=org
objectClass: posixGroup
cn: ops
gidNumber: 5000
memberUid: john
`)
	c := sampleConfig(s)
	c.GroupSearch = GroupSearch{BaseDN: "ou=groups," + s.BaseDN, Filter: "(objectClass=posixGroup)",
		UserAttr: "uid", GroupAttr: "memberUid", NameAttr: "cn"}
	id, err := mustNew(t, c).Login(context.Background(), "john", ldaptest.JohnPassword)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(id.Groups, []string{"ops"}) {
		t.Errorf("groups = %q, want [ops]", id.Groups)
	}
}

func TestLoginTLS(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.SampleLDIF)
	ldaps := func() *Config {
		c := sampleConfig(s)
		c.Host, c.InsecureNoSSL = s.LDAPSAddr, false
		return c
	}
	for _, tc := range []struct {
		name    string
		config  func() *Config
		wantErr string
	}{
		{"LDAPS with rootCA", func() *Config { c := ldaps(); c.RootCA = s.CACert; return c }, ""},
		{"LDAPS skipping verification", func() *Config { c := ldaps(); c.InsecureSkipVerify = true; return c }, ""},
		{"StartTLS with rootCA", func() *Config {
			c := sampleConfig(s)
			c.InsecureNoSSL, c.StartTLS, c.RootCA = false, true, s.CACert
			return c
		}, ""},
		{"LDAPS with unknown CA", ldaps, "TLS handshake with the LDAP server ldaps://" + s.LDAPSAddr + " failed"},
		{"StartTLS with unknown CA", func() *Config {
			c := sampleConfig(s)
			c.InsecureNoSSL, c.StartTLS = false, true
			return c
		}, "StartTLS with the LDAP server ldap://" + s.Addr + " failed"},
		{"plain LDAP on the LDAPS port", func() *Config { c := sampleConfig(s); c.Host = s.LDAPSAddr; return c }, "stopped answering"},
		{"LDAPS on the plain port", func() *Config { c := ldaps(); c.Host = s.Addr; c.RootCA = s.CACert; return c }, "TLS handshake"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := mustNew(t, tc.config()).Login(context.Background(), "jane", ldaptest.JanePassword)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if id.Email != "jane@example.org" {
					t.Errorf("got %+v", id)
				}
				return
			}
			if err == nil || errors.Is(err, ErrInvalidCredentials) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("got error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestLoginWrongServiceAccountPassword(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.SampleLDIF)
	c := sampleConfig(s)
	c.BindPW = "wrong"
	_, err := mustNew(t, c).Login(context.Background(), "jane", ldaptest.JanePassword)
	if err == nil || errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("got %v, want a service account error", err)
	}
	for _, want := range []string{"service account bind", "check bindDN and bindPW"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestLoginServerDown(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.SampleLDIF)
	cn := mustNew(t, sampleConfig(s))
	s.Stop()

	start := time.Now()
	_, err := cn.Login(context.Background(), "jane", ldaptest.JanePassword)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Login took %s against a stopped server", d)
	}
	if err == nil || errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("got %v, want an unreachable-server error", err)
	}
	for _, want := range []string{"the LDAP server ldap://" + s.Addr + " cannot be reached", "check the identity provider's host"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}

	// The password checks come before any network use.
	if _, err := cn.Login(context.Background(), "jane", ""); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("empty password against a stopped server gave %v, want ErrInvalidCredentials", err)
	}
}

func TestLoginAmbiguousUser(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.SampleLDIF)
	c := sampleConfig(s)
	c.UserSearch.Username = "objectClass" // matches jane and john
	_, err := mustNew(t, c).Login(context.Background(), "inetOrgPerson", ldaptest.JanePassword)
	if err == nil || errors.Is(err, ErrInvalidCredentials) || !strings.Contains(err.Error(), "matches more than one entry") {
		t.Fatalf("got %v, want an ambiguous-search error", err)
	}
}

func TestLoginMissingIDAttribute(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.SampleLDIF)
	c := sampleConfig(s)
	c.UserSearch.IDAttr = "employeeNumber"
	_, err := mustNew(t, c).Login(context.Background(), "jane", ldaptest.JanePassword)
	if err == nil || !strings.Contains(err.Error(), `has no "employeeNumber" attribute`) {
		t.Fatalf("got %v, want a missing ID attribute error", err)
	}
}

func TestLoginWrongBaseDN(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.SampleLDIF)
	c := sampleConfig(s)
	c.UserSearch.BaseDN = "ou=staff," + s.BaseDN
	_, err := mustNew(t, c).Login(context.Background(), "jane", ldaptest.JanePassword)
	if err == nil || errors.Is(err, ErrInvalidCredentials) || !strings.Contains(err.Error(), `userSearch.baseDN "ou=staff,dc=example,dc=org" does not exist`) {
		t.Fatalf("got %v, want an error naming userSearch.baseDN", err)
	}
}

// hangingServer accepts connections and never answers, like a firewall that
// lets the handshake through or a stuck server.
func hangingServer(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { close(done); l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { <-done; c.Close() }()
		}
	}()
	return l.Addr().String()
}

func TestLoginHangingServer(t *testing.T) {
	c := &Config{Host: hangingServer(t), InsecureNoSSL: true, BindDN: "cn=admin,dc=example,dc=org", BindPW: "x",
		UserSearch: UserSearch{BaseDN: "dc=example,dc=org", Username: "uid"}}

	t.Run("context deadline", func(t *testing.T) {
		cn := mustNew(t, c)
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := cn.Login(ctx, "jane", "pw")
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("Login took %s with a 300ms deadline", d)
		}
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "did not answer") {
			t.Fatalf("got %v, want a deadline error", err)
		}
	})
	t.Run("request timeout", func(t *testing.T) {
		cn := mustNew(t, c)
		cn.requestTimeout = 300 * time.Millisecond
		start := time.Now()
		_, err := cn.Login(context.Background(), "jane", "pw")
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("Login took %s with a 300ms request timeout", d)
		}
		if err == nil || errors.Is(err, ErrInvalidCredentials) || !strings.Contains(err.Error(), "stopped answering") {
			t.Fatalf("got %v, want a server timeout error", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := mustNew(t, c).Login(ctx, "jane", "pw")
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
	})
}
