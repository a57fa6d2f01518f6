//go:build linux

package process

import (
	"os"
	"syscall"
)

// sysProcAttr puts a child in a process group of its own — so that a
// terminal's ^C reaches the server, which stops its children in order, and
// signals reach what a child starts — and has the kernel kill it if the
// server dies first.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// signal sends sig to p's process group; one already gone is not an error.
func signal(p *os.Process, sig syscall.Signal) { _ = syscall.Kill(-p.Pid, sig) }
