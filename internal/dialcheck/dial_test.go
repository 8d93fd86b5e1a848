package dialcheck

import (
	"context"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestDialContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ctx := context.Background()

	// Loopback is refused at connect time, by address and by name (as a
	// name that resolved elsewhere at admission and to loopback now would be).
	for _, addr := range []string{ln.Addr().String(), "localhost:" + port} {
		_, err := (&Policy{}).DialContext(ctx, "tcp", addr)
		var re *RefusedError
		if !errors.As(err, &re) || !strings.Contains(err.Error(), "loopback") {
			t.Fatalf("dial %s: %v, want a loopback refusal", addr, err)
		}
	}
	// Allowed: --dial-allow, or no policy at all.
	for _, p := range []*Policy{{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, nil} {
		c, err := p.DialContext(ctx, "tcp", ln.Addr().String())
		if err != nil {
			t.Fatalf("allowed dial: %v", err)
		}
		c.Close()
	}
}

func TestHTTPClient(t *testing.T) {
	allow := &Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) })
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ok", http.StatusFound) })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, _ *http.Request) { time.Sleep(2 * time.Second) })
	srv := httptest.NewTLSServer(mux)
	defer srv.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})

	hc, err := allow.HTTPClient(ca, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Get(srv.URL + "/ok")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("get with the CA bundle: %v", err)
	}
	resp.Body.Close()
	// Redirects are not followed.
	resp, err = hc.Get(srv.URL + "/redirect")
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("redirect: %v %v", resp, err)
	}
	resp.Body.Close()
	// The timeout.
	if _, err := hc.Get(srv.URL + "/slow"); err == nil {
		t.Fatal("no timeout")
	}
	// System roots do not know the test CA.
	sys, _ := allow.HTTPClient(nil, time.Second)
	if _, err := sys.Get(srv.URL + "/ok"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("unknown CA: %v", err)
	}
	// The policy applies to the client's connections.
	deny, _ := (&Policy{}).HTTPClient(ca, time.Second)
	if _, err := deny.Get(srv.URL + "/ok"); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("loopback through the client: %v", err)
	}
	// No proxy, even if the environment names one.
	t.Setenv("HTTPS_PROXY", "http://192.0.2.1:1")
	hc2, _ := allow.HTTPClient(ca, time.Second)
	resp, err = hc2.Get(srv.URL + "/ok")
	if err != nil {
		t.Fatalf("proxy used: %v", err)
	}
	resp.Body.Close()
	if _, err := allow.HTTPClient([]byte("not pem"), time.Second); err == nil {
		t.Fatal("a bad bundle was accepted")
	}
}
