package platform

import "testing"

func TestConsoleURL(t *testing.T) {
	cases := []struct{ external, host, port, want string }{
		{"", "", "8443", "https://127.0.0.1:8443"},
		{"", "0.0.0.0", "8443", "https://127.0.0.1:8443"},
		{"", "10.0.0.5", "9443", "https://10.0.0.5:9443"},
		{"https://kstack.example.com", "", "8443", "https://kstack.example.com"},
	}
	for _, c := range cases {
		got, err := consoleURL(c.external, c.host, c.port)
		if err != nil || got != c.want {
			t.Errorf("%+v: got %q %v", c, got, err)
		}
	}
	for _, bad := range []string{"http://x", "kstack.example.com", "https://"} {
		if _, err := consoleURL(bad, "", "8443"); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestEmbeddedCRDs(t *testing.T) {
	crds, err := LoadCRDs()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range crds {
		if c.Name == "clusters.platform.tkestack.io" && c.Spec.Names.ShortNames[0] == "cls" {
			found = true
		}
	}
	if !found {
		t.Fatal("the Cluster CRD is not embedded")
	}
}
