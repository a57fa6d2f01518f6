//go:build !unix

package job

import (
	"errors"
	"os"
	"syscall"
)

// The local executor needs Unix process groups; elsewhere commands start but
// cannot be stopped as a group.

const (
	sigTerm = syscall.Signal(15)
	sigKill = syscall.Signal(9)
)

var errNoGroups = errors.New("job: process groups need a Unix system")

func newProcessGroup() *syscall.SysProcAttr          { return nil }
func signalGroup(pgid int, sig syscall.Signal) error { return errNoGroups }
func groupAlive(pgid int) bool                       { return false }
func lockOwner(f *os.File) error                     { return nil }
func ownerAlive(path string) bool                    { return true }

const groupsSupported = false
