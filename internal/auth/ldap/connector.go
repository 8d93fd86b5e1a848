package ldap

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
)

// ErrInvalidCredentials is returned for an unknown user and for a wrong
// password alike, so that the login page does not reveal which users exist.
var ErrInvalidCredentials = errors.New("invalid username or password")

// Identity is a user the LDAP server vouched for.
type Identity struct {
	// ID is stable across renames when idAttr names such an attribute;
	// otherwise it is the entry's DN.
	ID          string
	Username    string
	Email       string
	DisplayName string
	Groups      []string
}

const (
	maxUsernameLen        = 256
	defaultDialTimeout    = 5 * time.Second
	defaultRequestTimeout = 10 * time.Second
)

// Connector logs users in against one LDAP server. It is safe for concurrent
// use: every login opens its own connection, which keeps a slow or broken
// login from affecting others.
type Connector struct {
	cfg       Config
	addr      string      // host:port
	url       string      // for error messages
	tlsConfig *tls.Config // nil for plain LDAP

	dialTimeout    time.Duration
	requestTimeout time.Duration
}

// New checks c and returns a connector for it.
func New(c *Config) (*Connector, error) {
	if c == nil {
		return nil, errors.New("the LDAP connector config is missing")
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	cn := &Connector{
		cfg:            *c,
		dialTimeout:    defaultDialTimeout,
		requestTimeout: defaultRequestTimeout,
	}
	port, scheme := 636, "ldaps"
	if c.InsecureNoSSL || c.StartTLS {
		port, scheme = 389, "ldap"
	}
	addr, err := hostPort(c.Host, port)
	if err != nil {
		return nil, err // Validate has checked it; kept for safety
	}
	cn.addr = addr
	cn.url = scheme + "://" + addr
	if !c.InsecureNoSSL {
		serverName, _, _ := net.SplitHostPort(addr)
		cn.tlsConfig = &tls.Config{
			ServerName:         serverName,
			InsecureSkipVerify: c.InsecureSkipVerify,
			MinVersion:         tls.VersionTLS12,
		}
		if c.RootCA != "" {
			pool := x509.NewCertPool()
			pool.AppendCertsFromPEM([]byte(c.RootCA))
			cn.tlsConfig.RootCAs = pool
		}
	}
	return cn, nil
}

// UsernamePrompt is the label for the username field of the login page.
func (c *Connector) UsernamePrompt() string {
	if c.cfg.UsernamePrompt != "" {
		return c.cfg.UsernamePrompt
	}
	return "Username"
}

// Login checks username and password against the directory. It returns
// ErrInvalidCredentials (possibly wrapped, test with errors.Is) when the
// user is unknown or the password is wrong, and other errors when the
// server or the configuration is at fault.
func (c *Connector) Login(ctx context.Context, username, password string) (*Identity, error) {
	switch {
	case username == "":
		return nil, fmt.Errorf("%w: the username is empty", ErrInvalidCredentials)
	case len(username) > maxUsernameLen:
		return nil, fmt.Errorf("%w: the username is longer than %d characters", ErrInvalidCredentials, maxUsernameLen)
	case password == "":
		// A simple bind with a DN and no password is an anonymous bind that
		// many servers (Active Directory among them) report as a success:
		// refuse it before it can log anyone in.
		return nil, fmt.Errorf("%w: the password is empty", ErrInvalidCredentials)
	}

	conn, err := c.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	// go-ldap has no context support: closing the connection is what
	// interrupts a request that is waiting when ctx ends.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	if err := c.bindServiceAccount(ctx, conn); err != nil {
		return nil, err
	}
	user, err := c.findUser(ctx, conn, username)
	if err != nil {
		return nil, err
	}
	if err := conn.Bind(user.DN, password); err != nil {
		if goldap.IsErrorWithCode(err, goldap.LDAPResultInvalidCredentials) {
			return nil, ErrInvalidCredentials
		}
		return nil, c.opError(ctx, "checking the password of "+user.DN, err)
	}

	id := &Identity{
		Username:    canonicalUsername(user, c.cfg.UserSearch.Username, username),
		Email:       first(attrValues(user, c.cfg.UserSearch.EmailAttr)),
		DisplayName: first(attrValues(user, c.cfg.UserSearch.NameAttr)),
	}
	if attr := c.cfg.UserSearch.IDAttr; attr == "" {
		id.ID = user.DN
	} else if id.ID = first(attrValues(user, attr)); id.ID == "" {
		return nil, fmt.Errorf("the LDAP entry %s has no %q attribute, which userSearch.idAttr names as the user ID: fix idAttr or the entry", user.DN, attr)
	}

	if c.cfg.GroupSearch.BaseDN != "" {
		// Search groups as the service account again: users often may not
		// read group entries themselves.
		if err := c.bindServiceAccount(ctx, conn); err != nil {
			return nil, err
		}
		if id.Groups, err = c.findGroups(ctx, conn, user); err != nil {
			return nil, err
		}
	}
	return id, nil
}

// connect opens a connection and sets up TLS as configured.
func (c *Connector) connect(ctx context.Context) (*goldap.Conn, error) {
	d := net.Dialer{Timeout: c.dialTimeout}
	raw, err := d.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		if ctx.Err() != nil {
			return nil, c.ctxError(ctx)
		}
		return nil, fmt.Errorf("the LDAP server %s cannot be reached: %w: check the identity provider's host", c.url, err)
	}
	if c.tlsConfig != nil && !c.cfg.StartTLS {
		tc := tls.Client(raw, c.tlsConfig)
		hctx, cancel := context.WithTimeout(ctx, c.dialTimeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			raw.Close()
			if ctx.Err() != nil {
				return nil, c.ctxError(ctx)
			}
			return nil, fmt.Errorf("the TLS handshake with the LDAP server %s failed: %w: check rootCA and the server's certificate, or set insecureNoSSL if the server has no TLS", c.url, err)
		}
		raw = tc
	}
	conn := goldap.NewConn(raw, c.tlsConfig != nil && !c.cfg.StartTLS)
	conn.Start()
	conn.SetTimeout(c.requestTimeout)
	if c.cfg.StartTLS {
		stop := context.AfterFunc(ctx, func() { conn.Close() })
		err := conn.StartTLS(c.tlsConfig)
		stop()
		if err != nil {
			conn.Close()
			if ctx.Err() != nil {
				return nil, c.ctxError(ctx)
			}
			return nil, fmt.Errorf("StartTLS with the LDAP server %s failed: %w: check rootCA and the server's certificate, or unset startTLS if the server does not offer it", c.url, err)
		}
	}
	return conn, nil
}

func (c *Connector) bindServiceAccount(ctx context.Context, conn *goldap.Conn) error {
	if c.cfg.BindDN == "" {
		// Also drops the user's identity when called after the user bind.
		if err := conn.UnauthenticatedBind(""); err != nil {
			return c.opError(ctx, "binding anonymously", err)
		}
		return nil
	}
	err := conn.Bind(c.cfg.BindDN, c.cfg.BindPW)
	if err == nil {
		return nil
	}
	if goldap.IsErrorWithCode(err, goldap.LDAPResultInvalidCredentials) {
		return fmt.Errorf("the LDAP server %s refused the service account bind as %q: check bindDN and bindPW of the identity provider", c.url, c.cfg.BindDN)
	}
	return c.opError(ctx, fmt.Sprintf("binding as the service account %q", c.cfg.BindDN), err)
}

func (c *Connector) findUser(ctx context.Context, conn *goldap.Conn, username string) (*goldap.Entry, error) {
	us := c.cfg.UserSearch
	filter := "(" + us.Username + "=" + goldap.EscapeFilter(username) + ")"
	if us.Filter != "" {
		filter = "(&" + us.Filter + filter + ")"
	}
	attrs := []string{us.Username}
	for _, a := range []string{us.IDAttr, us.EmailAttr, us.NameAttr, c.cfg.GroupSearch.UserAttr} {
		if a != "" && !strings.EqualFold(a, "DN") {
			attrs = append(attrs, a)
		}
	}
	// A size limit of 2 is enough to tell "exactly one" from "ambiguous".
	req := goldap.NewSearchRequest(us.BaseDN, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases,
		2, c.timeLimit(), false, filter, attrs, nil)
	res, err := conn.Search(req)
	if goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchObject) {
		return nil, fmt.Errorf("userSearch.baseDN %q does not exist on the LDAP server %s: check userSearch.baseDN", us.BaseDN, c.url)
	}
	if (err != nil && !goldap.IsErrorWithCode(err, goldap.LDAPResultSizeLimitExceeded)) || res == nil {
		return nil, c.opError(ctx, fmt.Sprintf("searching for the user with %s under userSearch.baseDN %q", filter, us.BaseDN), err)
	}
	switch n := len(res.Entries); {
	case n == 0:
		return nil, ErrInvalidCredentials
	case n > 1:
		return nil, fmt.Errorf("the LDAP user search %s under %q matches more than one entry (%s, %s): make userSearch.filter and userSearch.username select a single user",
			filter, us.BaseDN, res.Entries[0].DN, res.Entries[1].DN)
	}
	return res.Entries[0], nil
}

func (c *Connector) findGroups(ctx context.Context, conn *goldap.Conn, user *goldap.Entry) ([]string, error) {
	gs := c.cfg.GroupSearch
	values := attrValues(user, gs.UserAttr)
	if len(values) == 0 {
		return nil, nil
	}
	var members strings.Builder
	for _, v := range values {
		members.WriteString("(" + gs.GroupAttr + "=" + goldap.EscapeFilter(v) + ")")
	}
	filter := members.String()
	if len(values) > 1 {
		filter = "(|" + filter + ")"
	}
	if gs.Filter != "" {
		filter = "(&" + gs.Filter + filter + ")"
	}
	req := goldap.NewSearchRequest(gs.BaseDN, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases,
		0, c.timeLimit(), false, filter, []string{gs.NameAttr}, nil)
	res, err := conn.Search(req)
	if goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchObject) {
		return nil, fmt.Errorf("groupSearch.baseDN %q does not exist on the LDAP server %s: check groupSearch.baseDN", gs.BaseDN, c.url)
	}
	if err != nil {
		return nil, c.opError(ctx, fmt.Sprintf("searching for the groups of %s with %s under groupSearch.baseDN %q", user.DN, filter, gs.BaseDN), err)
	}
	var groups []string
	for _, e := range res.Entries {
		// Take the first name only: groupOfNames may carry alias cn values
		// that are not group names of their own.
		if name := first(attrValues(e, gs.NameAttr)); name != "" {
			groups = append(groups, name)
		}
	}
	slices.Sort(groups)
	return slices.Compact(groups), nil
}

// opError explains a failed LDAP operation: a broken or silent connection is
// blamed on the server or the transport settings, a result code on the request.
func (c *Connector) opError(ctx context.Context, doing string, err error) error {
	if ctx.Err() != nil {
		return c.ctxError(ctx)
	}
	var lerr *goldap.Error
	if !errors.As(err, &lerr) || lerr.ResultCode == goldap.ErrorNetwork {
		return fmt.Errorf("the LDAP server %s stopped answering while %s: %w: check the identity provider's host and its TLS settings (insecureNoSSL, startTLS)", c.url, doing, err)
	}
	msg := fmt.Sprintf("the LDAP server %s refused %s with result %d (%s)", c.url, doing, lerr.ResultCode, goldap.LDAPResultCodeMap[lerr.ResultCode])
	if lerr.Err != nil && lerr.Err.Error() != "" {
		msg += ": " + lerr.Err.Error()
	}
	return &resultError{msg: msg, err: err}
}

// resultError words an LDAP result for people while keeping the go-ldap
// error for errors.As.
type resultError struct {
	msg string
	err error
}

func (e *resultError) Error() string { return e.msg }
func (e *resultError) Unwrap() error { return e.err }

func (c *Connector) ctxError(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("the LDAP server %s did not answer before the login timed out: %w", c.url, ctx.Err())
	}
	return fmt.Errorf("the login against the LDAP server %s was cancelled: %w", c.url, ctx.Err())
}

// timeLimit is the server-side search time limit, in whole seconds.
func (c *Connector) timeLimit() int {
	return max(1, int(c.requestTimeout/time.Second))
}

// attrValues reads an attribute case-insensitively, since servers may spell
// names differently from the config; "DN" means the entry's DN.
func attrValues(e *goldap.Entry, attr string) []string {
	if attr == "" {
		return nil
	}
	if strings.EqualFold(attr, "DN") {
		return []string{e.DN}
	}
	return e.GetEqualFoldAttributeValues(attr)
}

func first(values []string) string {
	if len(values) == 0 {
		return ""
	}
	return values[0]
}

// canonicalUsername returns the username as the directory spells it, since
// the match on the typed name is usually case-insensitive.
func canonicalUsername(e *goldap.Entry, attr, typed string) string {
	for _, v := range attrValues(e, attr) {
		if strings.EqualFold(v, typed) {
			return v
		}
	}
	return typed
}
