package oidcprovider

import (
	"net/http/httptest"
	"testing"
)

func TestHeaderSafe(t *testing.T) {
	if got := headerSafe("bad\r\nSet-Cookie: x=1"); got != "bad  Set-Cookie: x=1" {
		t.Fatalf("%q", got)
	}
}

func TestSameOrigin(t *testing.T) {
	p := &Provider{Issuer: "https://kstack.example:8443/oidc"}
	for _, tc := range []struct {
		origin, site string
		ok           bool
	}{
		{"", "", true}, // programs: kstack login
		{"https://kstack.example:8443", "", true},
		{"https://evil.example", "", false},
		{"https://kstack.example:8443.evil.example", "", false},
		{"null", "", false},
		{"", "cross-site", false},
		{"", "same-origin", true},
	} {
		r := httptest.NewRequest("POST", "/oidc/login", nil)
		if tc.origin != "" {
			r.Header.Set("Origin", tc.origin)
		}
		if tc.site != "" {
			r.Header.Set("Sec-Fetch-Site", tc.site)
		}
		if got := p.sameOrigin(r); got != tc.ok {
			t.Errorf("Origin %q Sec-Fetch-Site %q: %v, want %v", tc.origin, tc.site, got, tc.ok)
		}
	}
}
