// Package dialcheck decides whether the platform may dial an address a
// user gave it (a log sink, later a webhook, an SMTP server, a repository,
// a machine): never loopback, link-local, unspecified or multicast
// addresses, nor the platform's own, unless an administrator allowed them
// (--dial-allow). Without it a tenant could point the platform, or its
// agents on shared nodes, at services only reachable from inside.
package dialcheck

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Policy is what may be dialled.
type Policy struct {
	// Allow lists prefixes an administrator allowed anyway (tests run their
	// sinks on loopback, a lab may keep them on a link-local network).
	Allow []netip.Prefix
	// Own are the platform's own addresses (its gateway, its apiserver).
	Own []netip.Addr
	// Resolve looks names up (nil: the system resolver).
	Resolve func(ctx context.Context, host string) ([]netip.Addr, error)
}

// ParseAllow reads --dial-allow: comma-separated CIDRs or addresses.
func ParseAllow(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !strings.Contains(s, "/") {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return nil, fmt.Errorf("--dial-allow %q is neither an address nor a CIDR", s)
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("--dial-allow %q is not a CIDR such as 127.0.0.0/8", s)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// CheckURL checks the host of an http(s) URL.
func (p *Policy) CheckURL(ctx context.Context, field, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s: %q is not an http or https URL", field, raw)
	}
	if u.User != nil {
		return fmt.Errorf("%s: put credentials in the username and password fields, not in the URL", field)
	}
	return p.CheckHost(ctx, field, u.Hostname())
}

// CheckHostPort checks HOST:PORT.
func (p *Policy) CheckHostPort(ctx context.Context, field, hostport string) error {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil || port == "" {
		return fmt.Errorf("%s: %q is not HOST:PORT", field, hostport)
	}
	return p.CheckHost(ctx, field, host)
}

// CheckHost checks every address host resolves to: a name that resolves
// to a forbidden address is as forbidden as the address.
func (p *Policy) CheckHost(ctx context.Context, field, host string) error {
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
			addrs = []netip.Addr{netip.MustParseAddr("127.0.0.1")}
		} else {
			resolve := p.Resolve
			if resolve == nil {
				resolve = systemResolve
			}
			rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			found, err := resolve(rctx, host)
			if err != nil {
				return fmt.Errorf("%s: cannot resolve %q: %v", field, host, err)
			}
			addrs = found
		}
	}
	for _, a := range addrs {
		if err := p.checkAddr(a.Unmap()); err != nil {
			return fmt.Errorf("%s: %s (%s) %v; an administrator can allow it with --dial-allow", field, host, a, err)
		}
	}
	return nil
}

func (p *Policy) checkAddr(a netip.Addr) error {
	for _, pre := range p.Allow {
		if pre.Contains(a) {
			return nil
		}
	}
	switch {
	case a.IsLoopback():
		return fmt.Errorf("is a loopback address, which the platform may not dial")
	case a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast():
		return fmt.Errorf("is a link-local address (cloud metadata services live there), which the platform may not dial")
	case a.IsUnspecified() || a.IsMulticast() || a.IsInterfaceLocalMulticast():
		return fmt.Errorf("is not an address the platform dials")
	}
	for _, own := range p.Own {
		if own.Unmap() == a {
			return fmt.Errorf("is the platform's own address")
		}
	}
	return nil
}

func systemResolve(ctx context.Context, host string) ([]netip.Addr, error) {
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}

// DialContext dials addr as net.Dialer does, but only to addresses the
// policy allows. The check is on the IP actually dialled (after the name
// was resolved, in net.Dialer.Control), so a name that resolved to an
// allowed address when it was admitted and to a forbidden one now (DNS
// rebinding) is refused too. A nil Policy refuses nothing.
func (p *Policy) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	if p != nil {
		d.Control = func(_, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			a, err := netip.ParseAddr(host)
			if err != nil {
				return fmt.Errorf("dialcheck: %q is not an IP address", host)
			}
			if err := p.checkAddr(a.Unmap()); err != nil {
				return &RefusedError{Addr: addr, IP: a.Unmap().String(), reason: err.Error()}
			}
			return nil
		}
	}
	return d.DialContext(ctx, network, addr)
}

// RefusedError is a dial the policy refused.
type RefusedError struct {
	Addr, IP string
	reason   string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("refused to dial %s: %s %s; an administrator can allow it with --dial-allow", e.Addr, e.IP, e.reason)
}

// HTTPClient returns a client for user-given URLs: every connection goes
// through DialContext, no proxy (a proxy would dial for us, unchecked),
// no redirects (a 3xx is returned as the response, so the caller treats it
// as a failure: following one would reach an address never checked at
// admission), and TLS roots caBundle (PEM) or, if empty, the system's.
func (p *Policy) HTTPClient(caBundle []byte, timeout time.Duration) (*http.Client, error) {
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(bytes.TrimSpace(caBundle)) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caBundle) {
			return nil, errors.New("the CA bundle holds no PEM certificate")
		}
		tlsConf.RootCAs = pool
	}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           p.DialContext,
		TLSClientConfig:       tlsConf,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: timeout,
		MaxIdleConns:          16,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}, nil
}
