package runtimeapi

import (
	"errors"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

type processSignal = syscall.Signal

const (
	sigTERM = syscall.SIGTERM
	sigKILL = syscall.SIGKILL
)

// sysProcAttr puts the function in its own process group, so that Close can kill everything it
// started, and has the kernel SIGKILL it if the host's process dies first.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// signalGroup sends sig to the process group led by p.
func signalGroup(p *os.Process, sig processSignal) {
	_ = syscall.Kill(-p.Pid, sig)
}

// waitExitNoReap blocks until the process exits but leaves it a zombie, so its id, and with it the
// process group's, cannot be reused yet. It reports whether it did so.
func waitExitNoReap(pid int) bool {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if !errors.Is(err, unix.EINTR) {
			return err == nil
		}
	}
}
