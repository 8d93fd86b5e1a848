package ldap

import (
	"strings"
	"testing"
)

const validJSON = `{
  "host": "ldap.example.org",
  "bindDN": "cn=admin,dc=example,dc=org",
  "bindPW": "secret",
  "usernamePrompt": "Email",
  "userSearch": {"baseDN": "ou=people,dc=example,dc=org", "filter": "(objectClass=person)",
                 "username": "uid", "idAttr": "uid", "emailAttr": "mail", "nameAttr": "cn"},
  "groupSearch": {"baseDN": "ou=groups,dc=example,dc=org", "filter": "(objectClass=groupOfNames)",
                  "userAttr": "DN", "groupAttr": "member", "nameAttr": "cn"}
}`

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig([]byte(validJSON))
	if err != nil {
		t.Fatal(err)
	}
	if c.BindDN != "cn=admin,dc=example,dc=org" || c.UserSearch.EmailAttr != "mail" || c.GroupSearch.GroupAttr != "member" {
		t.Errorf("fields not read: %+v", c)
	}
	cn, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	if cn.url != "ldaps://ldap.example.org:636" {
		t.Errorf("url = %q, want the LDAPS default port", cn.url)
	}
	if cn.UsernamePrompt() != "Email" {
		t.Errorf("UsernamePrompt() = %q", cn.UsernamePrompt())
	}
}

func TestDefaultPorts(t *testing.T) {
	for _, tc := range []struct {
		host            string
		noSSL, startTLS bool
		want            string
	}{
		{host: "ldap.example.org", want: "ldaps://ldap.example.org:636"},
		{host: "ldap.example.org", noSSL: true, want: "ldap://ldap.example.org:389"},
		{host: "ldap.example.org", startTLS: true, want: "ldap://ldap.example.org:389"},
		{host: "ldap.example.org:1636", want: "ldaps://ldap.example.org:1636"},
		{host: "::1", noSSL: true, want: "ldap://[::1]:389"},
		{host: "[::1]:10389", noSSL: true, want: "ldap://[::1]:10389"},
	} {
		c := &Config{Host: tc.host, InsecureNoSSL: tc.noSSL, StartTLS: tc.startTLS,
			UserSearch: UserSearch{BaseDN: "dc=example,dc=org", Username: "uid"}}
		cn, err := New(c)
		if err != nil {
			t.Errorf("%+v: %v", tc, err)
			continue
		}
		if cn.url != tc.want {
			t.Errorf("%+v: url = %q, want %q", tc, cn.url, tc.want)
		}
	}
}

func TestBadConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		json string
		want string // part of the error
	}{
		{"not JSON", `{`, "not valid JSON"},
		{"unknown field", `{"host": "h", "bindDN": "cn=x", "bindPassword": "pw", "userSearch": {"baseDN": "dc=x", "username": "uid"}}`, `unknown field "bindPassword"`},
		{"trailing data", `{"host": "h", "userSearch": {"baseDN": "dc=x", "username": "uid"}} {}`, "data after the JSON object"},
		{"no host", `{"userSearch": {"baseDN": "dc=x", "username": "uid"}}`, "host is required"},
		{"URL as host", `{"host": "ldap://h:389", "userSearch": {"baseDN": "dc=x", "username": "uid"}}`, "without a scheme"},
		{"bad port", `{"host": "h:ldap", "userSearch": {"baseDN": "dc=x", "username": "uid"}}`, `port "ldap" is not a number`},
		{"no user base", `{"host": "h", "userSearch": {"username": "uid"}}`, "userSearch.baseDN is required"},
		{"bad user base", `{"host": "h", "userSearch": {"baseDN": "people", "username": "uid"}}`, `userSearch.baseDN "people" is not a valid DN`},
		{"no username attr", `{"host": "h", "userSearch": {"baseDN": "dc=x"}}`, "userSearch.username is required"},
		{"bad username attr", `{"host": "h", "userSearch": {"baseDN": "dc=x", "username": "uid)(x"}}`, `userSearch.username "uid)(x" is not a valid attribute name`},
		{"user filter without parens", `{"host": "h", "userSearch": {"baseDN": "dc=x", "username": "uid", "filter": "objectClass=person"}}`, "userSearch.filter \"objectClass=person\" is not a valid LDAP filter"},
		{"group filter broken", `{"host": "h", "userSearch": {"baseDN": "dc=x", "username": "uid"}, "groupSearch": {"baseDN": "dc=x", "userAttr": "DN", "groupAttr": "member", "nameAttr": "cn", "filter": "(&(a=b)"}}`, "groupSearch.filter"},
		{"group search incomplete", `{"host": "h", "userSearch": {"baseDN": "dc=x", "username": "uid"}, "groupSearch": {"baseDN": "dc=x"}}`, "groupSearch.userAttr is required"},
		{"group search without base", `{"host": "h", "userSearch": {"baseDN": "dc=x", "username": "uid"}, "groupSearch": {"userAttr": "DN"}}`, "groupSearch.baseDN is required"},
		{"bindDN without bindPW", `{"host": "h", "bindDN": "cn=admin,dc=x", "userSearch": {"baseDN": "dc=x", "username": "uid"}}`, "bindPW is required"},
		{"bindPW without bindDN", `{"host": "h", "bindPW": "pw", "userSearch": {"baseDN": "dc=x", "username": "uid"}}`, "bindDN is required"},
		{"TLS on and off", `{"host": "h", "insecureNoSSL": true, "startTLS": true, "userSearch": {"baseDN": "dc=x", "username": "uid"}}`, "set only one"},
		{"rootCA not PEM", `{"host": "h", "rootCA": "/etc/ssl/ca.pem", "userSearch": {"baseDN": "dc=x", "username": "uid"}}`, "rootCA holds no PEM certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tc.json))
			if err == nil {
				t.Fatalf("no error, want one containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

// All problems are reported at once so an administrator fixes them in one go.
func TestValidateReportsEveryProblem(t *testing.T) {
	err := (&Config{}).Validate()
	if err == nil {
		t.Fatal("empty config validated")
	}
	for _, want := range []string{"host is required", "userSearch.baseDN is required", "userSearch.username is required"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestNewNilConfig(t *testing.T) {
	if _, err := New(nil); err == nil {
		t.Error("New(nil) gave no error")
	}
}
