package netutil

import (
	"net"
	"strings"
	"testing"
)

func TestFreePorts(t *testing.T) {
	first, err := FreePorts(3, nil)
	if err != nil {
		t.Fatal(err)
	}
	avoid := map[int]bool{}
	for _, p := range first {
		avoid[p] = true
	}
	second, err := FreePorts(5, avoid)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range second {
		if avoid[p] || seen[p] {
			t.Fatalf("port %d repeated or avoided: %v %v", p, first, second)
		}
		seen[p] = true
	}
}

func TestCheckFree(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	err = CheckFree("127.0.0.1", port, "the thing")
	if err == nil || !strings.Contains(err.Error(), "already in use") || !strings.Contains(err.Error(), "the thing") {
		t.Fatalf("got %v", err)
	}
}
