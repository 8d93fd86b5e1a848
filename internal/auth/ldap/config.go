// Package ldap logs users in against an LDAP directory: it finds the user with
// a service account, checks the password by binding as the user, and reads the
// user's groups. The configuration is the dex LDAP connector format that
// TKEStack documents, so existing identity-provider configs can be reused.
package ldap

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"
)

// Config is an LDAP identity provider, in dex's LDAP connector JSON format.
type Config struct {
	// Host is host:port. Without a port, 389 is used for plain LDAP and
	// StartTLS, and 636 for LDAPS.
	Host string `json:"host"`
	// InsecureNoSSL talks plain LDAP: passwords cross the network in clear.
	InsecureNoSSL bool `json:"insecureNoSSL"`
	// InsecureSkipVerify accepts any server certificate.
	InsecureSkipVerify bool `json:"insecureSkipVerify"`
	// StartTLS connects in plain LDAP and upgrades to TLS before binding.
	StartTLS bool `json:"startTLS"`
	// RootCA is PEM data of the CAs that sign the server certificate; empty
	// means the system roots.
	RootCA string `json:"rootCA"`
	// BindDN and BindPW are the service account that searches users and
	// groups; both empty means searching anonymously.
	BindDN string `json:"bindDN"`
	BindPW string `json:"bindPW"`
	// UsernamePrompt is the label of the username field on the login page.
	UsernamePrompt string `json:"usernamePrompt"`

	UserSearch  UserSearch  `json:"userSearch"`
	GroupSearch GroupSearch `json:"groupSearch"`
}

// UserSearch says how to find the entry of the user who logs in.
type UserSearch struct {
	BaseDN string `json:"baseDN"`
	// Filter narrows the search, like (objectClass=person); optional.
	Filter string `json:"filter"`
	// Username is the attribute matched against the typed username, like uid.
	Username string `json:"username"`
	// IDAttr is the attribute of the stable user ID; empty or "DN" uses the
	// entry's DN.
	IDAttr    string `json:"idAttr"`
	EmailAttr string `json:"emailAttr"`
	NameAttr  string `json:"nameAttr"`
}

// GroupSearch says how to find the groups of a user; it is skipped when
// BaseDN is empty. A group matches when its GroupAttr equals the user's
// UserAttr ("DN" means the user's DN, as groupOfNames members are DNs).
type GroupSearch struct {
	BaseDN    string `json:"baseDN"`
	Filter    string `json:"filter"`
	UserAttr  string `json:"userAttr"`
	GroupAttr string `json:"groupAttr"`
	NameAttr  string `json:"nameAttr"`
}

// ParseConfig reads a JSON config, rejecting unknown fields so that a mistake
// like "bindPassword" is reported instead of being silently ignored. Field
// names match case-insensitively, as everywhere in encoding/json.
func ParseConfig(data []byte) (*Config, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c Config
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("the LDAP connector config is not valid JSON for this connector: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("the LDAP connector config has data after the JSON object: give exactly one object")
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Validate reports every problem in the config at once, each naming its JSON
// field, so an administrator can fix them in one go.
func (c *Config) Validate() error {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	switch {
	case strings.TrimSpace(c.Host) == "":
		add("host is required (host:port of the LDAP server)")
	case strings.Contains(c.Host, "://"):
		add("host %q must be host:port without a scheme: choose the protocol with insecureNoSSL or startTLS", c.Host)
	default:
		if _, err := hostPort(c.Host, 389); err != nil {
			add("host %q: %v", c.Host, err)
		}
	}
	if c.InsecureNoSSL && c.StartTLS {
		add("insecureNoSSL and startTLS are both set: startTLS turns TLS on and insecureNoSSL turns it off, so set only one")
	}
	if c.RootCA != "" && !x509.NewCertPool().AppendCertsFromPEM([]byte(c.RootCA)) {
		add("rootCA holds no PEM certificate: give the CA certificate's PEM text, starting with -----BEGIN CERTIFICATE-----")
	}
	if c.BindDN != "" && c.BindPW == "" {
		add("bindPW is required when bindDN is set (a bind with a DN and no password is an anonymous bind)")
	}
	if c.BindDN == "" && c.BindPW != "" {
		add("bindDN is required when bindPW is set")
	}
	checkDN := func(field, dn string) {
		if dn == "" {
			return
		}
		if _, err := goldap.ParseDN(dn); err != nil {
			add("%s %q is not a valid DN: %v", field, dn, err)
		}
	}
	checkDN("bindDN", c.BindDN)

	us := c.UserSearch
	if us.BaseDN == "" {
		add("userSearch.baseDN is required (where users are searched, like ou=people,dc=example,dc=org)")
	}
	checkDN("userSearch.baseDN", us.BaseDN)
	if us.Username == "" {
		add("userSearch.username is required (the attribute holding the login name, like uid)")
	}
	checkFilter(add, "userSearch.filter", us.Filter)
	if us.Username != "" {
		checkAttr(add, "userSearch.username", us.Username)
	}

	gs := c.GroupSearch
	if gs.BaseDN == "" {
		if gs.Filter != "" || gs.UserAttr != "" || gs.GroupAttr != "" || gs.NameAttr != "" {
			add("groupSearch.baseDN is required when other groupSearch fields are set (leave groupSearch empty to skip groups)")
		}
	} else {
		checkDN("groupSearch.baseDN", gs.BaseDN)
		if gs.UserAttr == "" {
			add("groupSearch.userAttr is required when groupSearch.baseDN is set (the user attribute that groups list, like DN or uid)")
		}
		if gs.GroupAttr == "" {
			add("groupSearch.groupAttr is required when groupSearch.baseDN is set (the group attribute listing members, like member)")
		} else {
			checkAttr(add, "groupSearch.groupAttr", gs.GroupAttr)
		}
		if gs.NameAttr == "" {
			add("groupSearch.nameAttr is required when groupSearch.baseDN is set (the group attribute used as group name, like cn)")
		}
		checkFilter(add, "groupSearch.filter", gs.Filter)
	}

	if len(problems) > 0 {
		return fmt.Errorf("the LDAP connector config is invalid: %s", strings.Join(problems, "; "))
	}
	return nil
}

func checkFilter(add func(string, ...any), field, filter string) {
	if filter == "" {
		return
	}
	if _, err := goldap.CompileFilter(filter); err != nil {
		add("%s %q is not a valid LDAP filter (%v): write it in parentheses, like (objectClass=person)", field, filter, err)
	}
}

// checkAttr makes sure an attribute name can be put into a filter: a name
// with parentheses or spaces would change the meaning of the search.
func checkAttr(add func(string, ...any), field, attr string) {
	if _, err := goldap.CompileFilter("(" + attr + "=x)"); err != nil || strings.ContainsAny(attr, "()=*\\ ") {
		add("%s %q is not a valid attribute name", field, attr)
	}
}

// hostPort adds defaultPort to host when it has none.
func hostPort(host string, defaultPort int) (string, error) {
	h, p, err := net.SplitHostPort(host)
	if err != nil {
		// No port: strip the brackets of an IPv6 literal before adding one.
		h = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
		if h == "" || strings.ContainsAny(h, "[]/ ") {
			return "", errors.New("not a valid host name or address")
		}
		return net.JoinHostPort(h, strconv.Itoa(defaultPort)), nil
	}
	if h == "" {
		return "", errors.New("the host name is missing")
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("port %q is not a number between 1 and 65535", p)
	}
	return host, nil
}
