package smtptest

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/smtp"
	"strings"
	"testing"
	"time"
)

const msg = "From: a@example.com\r\nTo: b@example.com\r\nSubject: =?utf-8?q?h=C3=A9llo?=\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nline one=\r\n continued\r\n"

func pool(t *testing.T, s *Server) *x509.CertPool {
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM([]byte(s.CAPEM())) {
		t.Fatal("bad CA PEM")
	}
	return p
}

func send(t *testing.T, c *smtp.Client, s *Server) {
	t.Helper()
	if err := c.Mail("a@example.com"); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("b@example.com"); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(msg))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	c.Quit()
	got := s.Wait(t, 1, 5*time.Second)
	m := got[0]
	if m.From != "a@example.com" || len(m.To) != 1 || m.To[0] != "b@example.com" || m.Subject != "héllo" || m.Body != "line one continued\r\n" {
		t.Fatalf("got %+v (body %q)", m, m.Body)
	}
}

func TestStartTLS(t *testing.T) {
	s := Start(t, Options{TLS: StartTLS, Username: "u", Password: "p"})
	if s.Host() != "127.0.0.1" || s.Port() == 0 {
		t.Fatal(s.Addr())
	}
	c, err := smtp.Dial(s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Hello("client"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.Extension("STARTTLS"); !ok {
		t.Fatal("STARTTLS not offered")
	}
	if ok, _ := c.Extension("AUTH"); ok {
		t.Fatal("AUTH offered before TLS")
	}
	// MAIL before AUTH is refused.
	if err := c.Mail("a@example.com"); err == nil || !strings.Contains(err.Error(), "502") {
		t.Fatalf("MAIL before auth: %v", err)
	}
	c.Reset()
	if err := c.StartTLS(&tls.Config{ServerName: "127.0.0.1", RootCAs: pool(t, s)}); err != nil {
		t.Fatal(err)
	}
	if err := c.Auth(smtp.PlainAuth("", "u", "p", "127.0.0.1")); err != nil {
		t.Fatal(err)
	}
	send(t, c, s)
	if a := s.Auths(); len(a) != 1 || a[0] != "u" {
		t.Fatalf("auths %v", a)
	}
}

func TestStartTLSRefusesAuthInClear(t *testing.T) {
	s := Start(t, Options{TLS: StartTLS, Username: "u", Password: "p"})
	conn, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	buf := make([]byte, 4096)
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	conn.Read(buf) // greeting
	conn.Write([]byte("EHLO x\r\n"))
	time.Sleep(50 * time.Millisecond)
	conn.Read(buf)
	conn.Write([]byte("AUTH PLAIN AHUAcA==\r\n"))
	n, _ := conn.Read(buf)
	if !strings.HasPrefix(string(buf[:n]), "523") {
		t.Fatalf("AUTH in clear answered %q, want 523", buf[:n])
	}
}

func TestUnknownCAFails(t *testing.T) {
	s := Start(t, Options{TLS: StartTLS})
	c, err := smtp.Dial(s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.StartTLS(&tls.Config{ServerName: "127.0.0.1"}); err == nil {
		t.Fatal("TLS with the system roots succeeded")
	}
}

func TestImplicit(t *testing.T) {
	s := Start(t, Options{TLS: Implicit, Username: "u", Password: "p"})
	conn, err := tls.Dial("tcp", s.Addr(), &tls.Config{ServerName: "localhost", RootCAs: pool(t, s)})
	if err != nil {
		t.Fatal(err)
	}
	c, err := smtp.NewClient(conn, "localhost")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Auth(smtp.PlainAuth("", "u", "p", "localhost")); err != nil {
		t.Fatal(err)
	}
	send(t, c, s)
}

func TestRefuseAuth(t *testing.T) {
	s := Start(t, Options{TLS: Implicit, Username: "u", Password: "p", RefuseAuth: true})
	conn, err := tls.Dial("tcp", s.Addr(), &tls.Config{ServerName: "localhost", RootCAs: pool(t, s)})
	if err != nil {
		t.Fatal(err)
	}
	c, err := smtp.NewClient(conn, "localhost")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.Auth(smtp.PlainAuth("", "u", "p", "localhost"))
	if err == nil || !strings.Contains(err.Error(), "535") {
		t.Fatalf("auth: %v, want 535", err)
	}
}

func TestWrongPassword(t *testing.T) {
	s := Start(t, Options{TLS: StartTLS, Username: "u", Password: "p"})
	c, err := smtp.Dial(s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.StartTLS(&tls.Config{ServerName: "localhost", RootCAs: pool(t, s)}); err != nil {
		t.Fatal(err)
	}
	if err := c.Auth(smtp.PlainAuth("", "u", "wrong", "127.0.0.1")); err == nil || !strings.Contains(err.Error(), "535") {
		t.Fatalf("auth: %v, want 535", err)
	}
}

func TestAnyCredentialsWithoutUsername(t *testing.T) {
	s := Start(t, Options{TLS: Implicit})
	conn, err := tls.Dial("tcp", s.Addr(), &tls.Config{ServerName: "localhost", RootCAs: pool(t, s)})
	if err != nil {
		t.Fatal(err)
	}
	c, err := smtp.NewClient(conn, "localhost")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Auth(smtp.PlainAuth("", "anyone", "anything", "localhost")); err != nil {
		t.Fatal(err)
	}
	send(t, c, s)
}

func TestNoTLS(t *testing.T) {
	s := Start(t, Options{TLS: None})
	c, err := smtp.Dial(s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	c.Hello("client")
	if ok, _ := c.Extension("STARTTLS"); ok {
		t.Fatal("STARTTLS offered")
	}
	send(t, c, s)
}
