package runtimeapi_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"leadvault/infra/local/runtimeapi"
)

// parentHelperEnv makes the test binary act as a host whose own death the test then causes.
const parentHelperEnv = "RUNTIMEAPI_TEST_PARENT_BOOTSTRAP"

// runHelperIfAsked, in a test binary started with parentHelperEnv, starts a host for that bootstrap,
// prints the function's pid and waits to be killed.
func runHelperIfAsked() {
	if os.Getenv(parentHelperEnv) == "" {
		return
	}
	h, err := runtimeapi.Start(context.Background(), runtimeapi.Options{Bootstrap: os.Getenv(parentHelperEnv)})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println(h.PID())
	time.Sleep(time.Minute)
	os.Exit(1)
}

func TestHost_parentDeathKillsFunction(t *testing.T) {
	// Become the subreaper of the helper's orphans, so that the dead function is reparented to this
	// process and reaped here instead of lingering as a zombie under a pid 1 that may not reap.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Skipf("cannot become a child subreaper: %v", err)
	}
	defer func() { _ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0) }()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), parentHelperEnv+"="+helloBootstrap(t))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("read the helper's output: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("helper said %q", line)
	}
	if !alive(pid) {
		t.Fatalf("function %d is not running before its host dies", pid)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	for deadline := time.Now().Add(5 * time.Second); alive(pid); {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Errorf("function %d outlived its host", pid)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Reap it: it is this process's child now.
	var ws unix.WaitStatus
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if got, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil); got == pid || err != nil {
			break
		}
	}
}

// alive reports whether pid is a running (not zombie) process.
func alive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	s := string(stat)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z' && s[i+2] != 'X'
	}
	return true
}
