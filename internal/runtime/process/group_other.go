//go:build !unix

package process

import (
	"os"
	"syscall"
)

// sysProcAttr has no process groups to set up here.
func sysProcAttr() *syscall.SysProcAttr { return nil }

// signalGroup kills the process itself: without process groups, what it
// started is not reached, and there is no graceful signal.
func signalGroup(pid int, sig syscall.Signal) {
	if p, err := os.FindProcess(pid); err == nil {
		_ = p.Kill()
	}
}
