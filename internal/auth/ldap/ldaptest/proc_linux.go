package ldaptest

import (
	"os"
	"syscall"
)

func sysProcAttr() *syscall.SysProcAttr {
	// A process group lets kill reach anything slapd spawns; Pdeathsig kills
	// slapd even when the test binary dies without running its cleanups,
	// like on a go test -timeout panic.
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

func kill(p *os.Process) {
	// SIGKILL, not SIGTERM: tests stop slapd to see a server vanish, and
	// the database is thrown away anyway.
	if err := syscall.Kill(-p.Pid, syscall.SIGKILL); err != nil {
		p.Kill()
	}
}
