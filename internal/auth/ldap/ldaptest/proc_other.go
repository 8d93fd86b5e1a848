//go:build !linux

package ldaptest

import (
	"os"
	"syscall"
)

// slapd is only installed on Debian in CI; elsewhere this keeps the package
// building, and Start fails with the install hint.
func sysProcAttr() *syscall.SysProcAttr { return nil }

func kill(p *os.Process) { p.Kill() }
