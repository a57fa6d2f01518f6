//go:build !linux

package process

import (
	"os"
	"syscall"
)

// sysProcAttr has nothing to set up here.
func sysProcAttr() *syscall.SysProcAttr { return nil }

// signal sends sig to p, or kills it where signals cannot be sent.
func signal(p *os.Process, sig syscall.Signal) {
	if err := p.Signal(sig); err != nil {
		_ = p.Kill()
	}
}
