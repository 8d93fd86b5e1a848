package notifychannel

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	notifyv1 "github.com/kstack/kstack/api/notify/v1"
	"github.com/kstack/kstack/internal/notifymsg"
)

// DefaultSMTPTimeout bounds an SMTP conversation when ctx has no deadline.
const DefaultSMTPTimeout = 30 * time.Second

// TLS modes of an email channel.
const (
	TLSStartTLS = "starttls"
	TLSImplicit = "implicit"
)

// smtp sends m with the stdlib net/smtp, over a connection the dial policy
// checked. TLS is required: implicit (from the first byte) or STARTTLS,
// and a server that does not offer STARTTLS is refused rather than sent
// the password and message in the clear.
func (s *Sender) smtp(ctx context.Context, e *notifyv1.EmailChannel, secret map[string][]byte, m notifymsg.Message) Result {
	if len(m.To) == 0 {
		return failed(0, "email: no recipients (the receivers have no email address)")
	}
	from, err := mail.ParseAddress(e.From)
	if err != nil {
		return failed(0, "email: from %q: %v", e.From, err)
	}
	var to []string
	for _, t := range m.To {
		a, err := mail.ParseAddress(t)
		if err != nil {
			return failed(0, "email: recipient %q: %v", t, err)
		}
		to = append(to, a.Address)
	}
	tlsConf := &tls.Config{ServerName: e.SMTPHost, MinVersion: tls.VersionTLS12}
	if strings.TrimSpace(e.CABundle) != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(e.CABundle)) {
			return failed(0, "email: the CA bundle holds no PEM certificate")
		}
		tlsConf.RootCAs = pool
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultSMTPTimeout)
		defer cancel()
	}
	addr := net.JoinHostPort(e.SMTPHost, strconv.Itoa(int(e.SMTPPort)))
	conn, err := s.Dial.DialContext(ctx, "tcp", addr)
	if err != nil {
		if refused(err) {
			return failed(0, "email: %v", err)
		}
		return retry(0, "email: connect to %s: %v", addr, err)
	}
	defer conn.Close()
	// net/smtp has no contexts: the deadline bounds every read and write,
	// and a cancel closes the connection.
	dl, _ := ctx.Deadline()
	_ = conn.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	switch e.TLS {
	case TLSImplicit:
		tc := tls.Client(conn, tlsConf)
		if err := tc.HandshakeContext(ctx); err != nil {
			return smtpError(err)
		}
		conn = tc
	case TLSStartTLS, "":
	default:
		return failed(0, "email: unknown TLS mode %q: use starttls or implicit", e.TLS)
	}
	c, err := smtp.NewClient(conn, e.SMTPHost)
	if err != nil {
		return smtpError(err)
	}
	defer c.Close()
	if e.TLS != TLSImplicit {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return failed(0, "email: SMTP server %s does not offer STARTTLS; the platform sends mail only over TLS (use implicit TLS, usually port 465, if the server has it)", addr)
		}
		if err := c.StartTLS(tlsConf); err != nil {
			return smtpError(err)
		}
	}
	if e.Username != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return failed(0, "email: SMTP server %s does not offer AUTH, and the channel has a username", addr)
		}
		if err := c.Auth(smtp.PlainAuth("", e.Username, string(secret[KeyPassword]), e.SMTPHost)); err != nil {
			var te *textproto.Error
			if errors.As(err, &te) {
				return Result{Code: te.Code, Retry: te.Code >= 400 && te.Code < 500,
					Err: fmt.Errorf("SMTP server refused authentication: %d %s", te.Code, te.Msg)}
			}
			return smtpError(err)
		}
	}
	if err := c.Mail(from.Address); err != nil {
		return smtpError(err)
	}
	for _, t := range to {
		if err := c.Rcpt(t); err != nil {
			return smtpError(err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return smtpError(err)
	}
	if _, err := w.Write(composeMail(from, m.To, m.Subject, m.Body, e.SMTPHost)); err != nil {
		return smtpError(err)
	}
	if err := w.Close(); err != nil {
		return smtpError(err)
	}
	_ = c.Quit()
	return Result{Code: 250}
}

// smtpError classifies an SMTP failure: 4xx replies and network errors are
// retried; 5xx replies and TLS failures are not.
func smtpError(err error) Result {
	var te *textproto.Error
	switch {
	case errors.As(err, &te):
		return Result{Code: te.Code, Retry: te.Code >= 400 && te.Code < 500,
			Err: fmt.Errorf("SMTP server answered %d %s", te.Code, te.Msg)}
	case isTLSError(err):
		return failed(0, "email: TLS: %v", err)
	}
	return retry(0, "email: %v", err)
}

// composeMail is the RFC 5322 message: UTF-8 text, quoted-printable, the
// subject RFC 2047-encoded (it never holds CR or LF: templates are checked
// for that, and they are removed here anyway).
func composeMail(from *mail.Address, to []string, subject, body, host string) []byte {
	var b bytes.Buffer
	hdr := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	hdr("From", from.String())
	hdr("To", strings.Join(to, ", "))
	subject = strings.NewReplacer("\r", " ", "\n", " ").Replace(subject)
	hdr("Subject", mime.QEncoding.Encode("utf-8", subject))
	hdr("Date", time.Now().Format(time.RFC1123Z))
	var id [12]byte
	_, _ = rand.Read(id[:])
	domain := host
	if i := strings.LastIndexByte(from.Address, '@'); i >= 0 {
		domain = from.Address[i+1:]
	}
	hdr("Message-ID", "<"+hex.EncodeToString(id[:])+"@"+domain+">")
	hdr("MIME-Version", "1.0")
	hdr("Content-Type", "text/plain; charset=utf-8")
	hdr("Content-Transfer-Encoding", "quoted-printable")
	hdr("Auto-Submitted", "auto-generated")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	_, _ = qp.Write([]byte(strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", "\n"), "\n", "\r\n")))
	_ = qp.Close()
	return b.Bytes()
}
