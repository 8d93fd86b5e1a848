// Package netutil picks free loopback ports and checks that kept ones are free.
package netutil

import (
	"fmt"
	"net"
)

// FreePorts returns n distinct free loopback TCP ports, none of them in avoid.
func FreePorts(n int, avoid map[int]bool) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for tries := 0; len(ports) < n && tries < n*20; tries++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free loopback port: %w", err)
		}
		ls = append(ls, l) // hold it so the next Listen gets another port
		p := l.Addr().(*net.TCPAddr).Port
		if avoid[p] {
			continue
		}
		ports = append(ports, p)
	}
	if len(ports) < n {
		return nil, fmt.Errorf("could not find %d free loopback ports", n)
	}
	return ports, nil
}

// CheckFree returns an error naming the port and its use if host:port cannot be bound.
func CheckFree(host string, port int, use string) error {
	l, err := net.Listen("tcp", net.JoinHostPort(host, fmt.Sprint(port)))
	if err != nil {
		return fmt.Errorf("port %d (%s) is already in use by another program: stop that program or free the port, then try again (%v)", port, use, err)
	}
	return l.Close()
}
