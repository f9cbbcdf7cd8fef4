//go:build unix

package runtimeapi_test

import (
	"context"
	"errors"
	"net"
	"syscall"
	"testing"
	"time"

	"leadvault/infra/local/runtimeapi"
)

func TestHost_invokeAfterProcessDied(t *testing.T) {
	tests := []struct {
		name string
		kill func(t *testing.T, h *runtimeapi.Host)
	}{
		{name: "exit mid-invoke", kill: func(t *testing.T, h *runtimeapi.Host) {
			if _, err := invoke(t, h, `{"mode":"exit"}`); !errors.Is(err, runtimeapi.ErrExited) {
				t.Errorf("invoke that exits: %v, want ErrExited", err)
			}
		}},
		{name: "killed from outside", kill: func(t *testing.T, h *runtimeapi.Host) {
			if err := syscall.Kill(h.PID(), syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, runtimeapi.Options{Bootstrap: failfnBootstrap(t)})
			tt.kill(t, h)
			select {
			case <-h.Exited():
			case <-time.After(5 * time.Second):
				t.Fatal("the process did not exit")
			}
			began := time.Now()
			_, err := invoke(t, h, `{}`)
			if !errors.Is(err, runtimeapi.ErrExited) {
				t.Errorf("err = %v, want ErrExited", err)
			}
			if d := time.Since(began); d > time.Second {
				t.Errorf("the failed invoke took %v", d)
			}
		})
	}
}

func TestHost_closeLeavesNoProcess(t *testing.T) {
	h, err := runtimeapi.Start(context.Background(), runtimeapi.Options{Bootstrap: helloBootstrap(t)})
	if err != nil {
		t.Fatal(err)
	}
	pid := h.PID()
	if _, err := invoke(t, h, `{}`); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := h.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("kill(%d, 0) = %v, want ESRCH: the process is still there", pid, err)
	}
	if err := syscall.Kill(-pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("kill(-%d, 0) = %v, want ESRCH: the process group is still there", pid, err)
	}
	if _, err := invoke(t, h, `{}`); !errors.Is(err, runtimeapi.ErrClosed) {
		t.Errorf("invoke after Close: %v, want ErrClosed", err)
	}
	if conn, err := net.DialTimeout("tcp", h.Addr(), time.Second); err == nil {
		_ = conn.Close()
		t.Errorf("the Runtime API still accepts connections after Close")
	}
}
