//go:build linux

package process

import "syscall"

// sysProcAttr puts the child in a process group of its own, so that Close
// reaches what it starts, and has the kernel kill it if Ferry dies first.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
