//go:build unix && !linux

package process

import "syscall"

// sysProcAttr puts the child in a process group of its own, so that Close
// reaches what it starts.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
