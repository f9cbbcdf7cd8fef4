//go:build unix && !linux

package runtimeapi

import (
	"os"
	"syscall"
)

type processSignal = syscall.Signal

const (
	sigTERM = syscall.SIGTERM
	sigKILL = syscall.SIGKILL
)

// sysProcAttr puts the function in its own process group, so that Close can kill everything it
// started. Unlike Linux, there is no parent-death signal here.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// signalGroup sends sig to the process group led by p.
func signalGroup(p *os.Process, sig processSignal) {
	_ = syscall.Kill(-p.Pid, sig)
}

// waitExitNoReap is not available here; the process group is killed only while the leader runs.
func waitExitNoReap(int) bool { return false }
