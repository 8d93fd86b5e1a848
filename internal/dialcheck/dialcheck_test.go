package dialcheck

import (
	"context"
	"net/netip"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	resolve := func(_ context.Context, host string) ([]netip.Addr, error) {
		switch host {
		case "sneaky.example":
			return []netip.Addr{netip.MustParseAddr("169.254.169.254")}, nil
		case "kafka.example":
			return []netip.Addr{netip.MustParseAddr("198.18.0.10")}, nil
		}
		return nil, context.DeadlineExceeded
	}
	p := &Policy{Own: []netip.Addr{netip.MustParseAddr("198.18.0.1")}, Resolve: resolve}
	for _, tt := range []struct {
		in, want string
	}{
		{"http://127.0.0.1:9200", "loopback"},
		{"http://localhost:3100", "loopback"},
		{"http://[::1]:3100", "loopback"},
		{"http://169.254.169.254/", "link-local"},
		{"http://sneaky.example/", "link-local"},
		{"http://198.18.0.1:8443/", "the platform's own"},
		{"http://0.0.0.0:80/", "not an address"},
		{"http://user:pw@kafka.example/", "not in the URL"},
		{"ftp://kafka.example/", "not an http"},
		{"http://nowhere.example/", "cannot resolve"},
		{"http://kafka.example:9200/", ""},
		{"http://198.18.0.2:9200/", ""},
	} {
		err := p.CheckURL(context.Background(), "sink", tt.in)
		if tt.want == "" {
			if err != nil {
				t.Errorf("%s: %v, want allowed", tt.in, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error with %q", tt.in, err, tt.want)
		}
	}
	if err := p.CheckHostPort(context.Background(), "broker", "127.0.0.1"); err == nil || !strings.Contains(err.Error(), "HOST:PORT") {
		t.Errorf("no port: %v", err)
	}
	allow, err := ParseAllow([]string{"127.0.0.0/8", "169.254.1.1"})
	if err != nil {
		t.Fatal(err)
	}
	p.Allow = allow
	for _, ok := range []string{"127.0.0.1:9092", "169.254.1.1:80"} {
		if err := p.CheckHostPort(context.Background(), "broker", ok); err != nil {
			t.Errorf("%s allowed by --dial-allow: %v", ok, err)
		}
	}
	if err := p.CheckHostPort(context.Background(), "broker", "169.254.1.2:80"); err == nil {
		t.Error("169.254.1.2 is outside --dial-allow yet allowed")
	}
	if _, err := ParseAllow([]string{"10.0.0.0/33"}); err == nil {
		t.Error("a bad CIDR is accepted")
	}
}
