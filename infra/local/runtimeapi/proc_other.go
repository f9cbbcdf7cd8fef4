//go:build !unix

package runtimeapi

import (
	"os"
	"syscall"
)

type processSignal int

const (
	sigTERM processSignal = iota
	sigKILL
)

// sysProcAttr has nothing to add where there are no process groups.
func sysProcAttr() *syscall.SysProcAttr { return nil }

// signalGroup kills the process itself; there is no group and no SIGTERM to send.
func signalGroup(p *os.Process, sig processSignal) {
	if sig == sigKILL {
		_ = p.Kill()
	}
}

// waitExitNoReap is not available here.
func waitExitNoReap(int) bool { return false }
