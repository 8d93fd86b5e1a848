// Package smtptest is a real SMTP server for tests, built on
// github.com/emersion/go-smtp: STARTTLS, implicit TLS or plain, with
// optional AUTH PLAIN that can be made to refuse, and a self-signed CA whose
// PEM the client trusts.
package smtptest

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/kstack/kstack/internal/pki"
)

// TLS modes.
const (
	StartTLS = "starttls" // plain at first, offers STARTTLS; AUTH only after it
	Implicit = "implicit" // TLS from the first byte
	None     = "none"     // no TLS at all (AUTH allowed in the clear)
)

// Options configure a server.
type Options struct {
	// TLS is starttls (default), implicit or none.
	TLS string
	// Username and Password, when set, make AUTH PLAIN with them required
	// before MAIL; unset, AUTH is optional and any credentials pass.
	Username, Password string
	// RefuseAuth answers every AUTH with 535 5.7.8.
	RefuseAuth bool
}

// Msg is one message the server accepted.
type Msg struct {
	From    string
	To      []string
	Subject string // decoded (RFC 2047)
	Body    string // decoded (quoted-printable/base64; the first text part of a multipart)
	Header  mail.Header
	Raw     []byte
}

// Server is a running SMTP server, closed when the test ends.
type Server struct {
	addr  string
	caPEM string
	srv   *smtp.Server
	opts  Options

	mu     sync.Mutex
	msgs   []Msg
	auths  []string // usernames that authenticated
	notify chan struct{}
}

// Start starts a server on 127.0.0.1 and stops it when t ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	if o.TLS == "" {
		o.TLS = StartTLS
	}
	s := &Server{opts: o, notify: make(chan struct{})}
	ca, err := pki.NewCA("smtptest CA")
	if err != nil {
		t.Fatalf("smtptest: %v", err)
	}
	cert, key, err := ca.Issue(pki.CertSpec{
		CommonName: "localhost", DNSNames: []string{"localhost"},
		IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true,
	})
	if err != nil {
		t.Fatalf("smtptest: %v", err)
	}
	s.caPEM = string(pki.CertPEM(ca.Cert))
	tlsConf := &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}},
		MinVersion:   tls.VersionTLS12,
	}

	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{s: s}, nil
	}))
	srv.Domain = "localhost"
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	srv.MaxMessageBytes = 4 << 20
	srv.MaxRecipients = 100
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtptest: listen: %v", err)
	}
	switch o.TLS {
	case StartTLS:
		srv.TLSConfig = tlsConf
	case Implicit:
		l = tls.NewListener(l, tlsConf)
	case None:
		srv.AllowInsecureAuth = true
	default:
		l.Close()
		t.Fatalf("smtptest: unknown TLS mode %q", o.TLS)
	}
	s.srv = srv
	s.addr = l.Addr().String()
	go srv.Serve(l) //nolint:errcheck // ends with Close
	t.Cleanup(func() { srv.Close() })
	return s
}

// Addr is 127.0.0.1:port.
func (s *Server) Addr() string { return s.addr }

// Host is 127.0.0.1.
func (s *Server) Host() string { h, _, _ := net.SplitHostPort(s.addr); return h }

// Port is the listening port.
func (s *Server) Port() int {
	_, p, _ := net.SplitHostPort(s.addr)
	n, _ := strconv.Atoi(p)
	return n
}

// CAPEM is the PEM of the CA that signed the server's certificate (valid for
// 127.0.0.1 and localhost).
func (s *Server) CAPEM() string { return s.caPEM }

// Messages returns a copy of the accepted messages, in order.
func (s *Server) Messages() []Msg {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Msg(nil), s.msgs...)
}

// Auths returns the usernames that authenticated, one per successful AUTH.
func (s *Server) Auths() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.auths...)
}

// Wait waits until at least n messages arrived and returns them all; after
// timeout it fails the test, listing what did arrive.
func (s *Server) Wait(t testing.TB, n int, timeout time.Duration) []Msg {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		got, ch := append([]Msg(nil), s.msgs...), s.notify
		s.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-ch:
		case <-deadline.C:
			var b strings.Builder
			for i, m := range got {
				fmt.Fprintf(&b, "\n  %d. from %s to %v: %q", i+1, m.From, m.To, m.Subject)
			}
			t.Fatalf("smtptest: waited %s for %d messages, got %d:%s", timeout, n, len(got), b.String())
			return got
		}
	}
}

func (s *Server) add(m Msg) {
	s.mu.Lock()
	s.msgs = append(s.msgs, m)
	close(s.notify)
	s.notify = make(chan struct{})
	s.mu.Unlock()
}

type session struct {
	s      *Server
	authed bool
	from   string
	to     []string
}

var errBadCredentials = &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "bad credentials"}

func (ss *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (ss *session) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		o := ss.s.opts
		switch {
		case o.RefuseAuth:
			return errBadCredentials
		case o.Username == "":
			// No credentials configured: any are accepted.
		case username != o.Username || password != o.Password || (identity != "" && identity != username):
			return errBadCredentials
		}
		ss.authed = true
		ss.s.mu.Lock()
		ss.s.auths = append(ss.s.auths, username)
		ss.s.mu.Unlock()
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.opts.Username != "" && !ss.authed {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := Msg{From: ss.from, To: append([]string(nil), ss.to...), Raw: raw}
	if pm, err := mail.ReadMessage(bytes.NewReader(raw)); err == nil {
		m.Header = pm.Header
		dec := new(mime.WordDecoder)
		if subj, err := dec.DecodeHeader(pm.Header.Get("Subject")); err == nil {
			m.Subject = subj
		} else {
			m.Subject = pm.Header.Get("Subject")
		}
		m.Body = bodyText(pm.Header.Get("Content-Type"), pm.Header.Get("Content-Transfer-Encoding"), pm.Body)
	}
	ss.s.add(m)
	return nil
}

func (ss *session) Reset() { ss.from, ss.to = "", nil }

func (ss *session) Logout() error { return nil }

// bodyText decodes a body: transfer encodings, and the first text part of a
// multipart message.
func bodyText(contentType, cte string, r io.Reader) string {
	mt, params, _ := mime.ParseMediaType(contentType)
	if strings.HasPrefix(mt, "multipart/") && params["boundary"] != "" {
		mr := multipart.NewReader(r, params["boundary"])
		for {
			p, err := mr.NextPart()
			if err != nil {
				return ""
			}
			pt := p.Header.Get("Content-Type")
			if pt == "" || strings.HasPrefix(pt, "text/") || strings.HasPrefix(pt, "multipart/") {
				// multipart.Part already decodes quoted-printable.
				return bodyText(pt, p.Header.Get("Content-Transfer-Encoding"), p)
			}
		}
	}
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "quoted-printable":
		r = quotedprintable.NewReader(r)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, r) // ignores line breaks
	}
	b, _ := io.ReadAll(r)
	return string(b)
}
