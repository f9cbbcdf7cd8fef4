package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// listening returns the URL of a listener on 127.0.0.1 that lives as long as the test.
func listening(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	return "http://" + ln.Addr().String()
}

func TestFunctionEnv_cases(t *testing.T) {
	up := listening(t)
	tests := []struct {
		name    string
		environ []string
		envFile string // contents of .leadvault/env; empty means no file
		want    []string
		wantErr string
	}{
		{
			name:    "endpoint from the caller",
			environ: []string{"LEADVAULT_AWS_ENDPOINT=" + up, "LEADVAULT_TABLE=t", "AWS_REGION=eu-north-1", "HOME=/root", "AWS_LAMBDA_RUNTIME_API=127.0.0.1:9001"},
			envFile: "LEADVAULT_TABLE=from-file\n",
			want:    []string{"AWS_REGION=eu-north-1", "LEADVAULT_AWS_ENDPOINT=" + up, "LEADVAULT_TABLE=t"},
		},
		{
			name:    "endpoint from .leadvault/env, caller wins",
			environ: []string{"LEADVAULT_TABLE=mine", "PATH=/bin"},
			envFile: "# written by make run\nLEADVAULT_AWS_ENDPOINT=" + up + "\n\nLEADVAULT_TABLE=leads\nLEADVAULT_KEY_ID=alias/x\n",
			want:    []string{"LEADVAULT_AWS_ENDPOINT=" + up, "LEADVAULT_KEY_ID=alias/x", "LEADVAULT_TABLE=mine"},
		},
		{name: "no endpoint anywhere", environ: []string{"LEADVAULT_TABLE=t"}, wantErr: "start the local stack with `make run` first"},
		{name: "file without endpoint", envFile: "LEADVAULT_TABLE=t\n", wantErr: "sets no LEADVAULT_AWS_ENDPOINT"},
		{name: "malformed file", envFile: "LEADVAULT_AWS_ENDPOINT\n", wantErr: "want KEY=VALUE"},
		{name: "stack not running", environ: []string{"LEADVAULT_AWS_ENDPOINT=http://127.0.0.1:1"}, wantErr: "nothing listens there"},
		{name: "endpoint not a URL", environ: []string{"LEADVAULT_AWS_ENDPOINT=127.0.0.1"}, wantErr: "not an absolute URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			if tt.envFile != "" {
				if err := os.MkdirAll(filepath.Join(root, ".leadvault"), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(root, ".leadvault", "env"), []byte(tt.envFile), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			got, err := functionEnv(root, tt.environ)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("env = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestReadEvent_cases(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	bad := filepath.Join(dir, "bad.json")
	_ = os.WriteFile(good, []byte(`{"version":"2.0"}`), 0o644)
	_ = os.WriteFile(bad, []byte(`{"version":`), 0o644)
	tests := []struct {
		name, path, want, wantErr string
	}{
		{name: "no file sends {}", path: "", want: `{}`},
		{name: "file", path: good, want: `{"version":"2.0"}`},
		{name: "not JSON", path: bad, wantErr: "not valid JSON"},
		{name: "missing", path: filepath.Join(dir, "nope.json"), wantErr: "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readEvent(tt.path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Fatalf("got %s, %v; want %s", got, err, tt.want)
			}
		})
	}
}

func TestRun_usageAndUnknownFunction(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{name: "no -fn", args: nil, wantCode: exitUsage, wantStderr: "usage"},
		{name: "extra argument", args: []string{"-fn", "intake", "extra"}, wantCode: exitUsage, wantStderr: "usage"},
		{name: "unknown function", args: []string{"-fn", "../etc"}, wantCode: exitFailure, wantStderr: `no function "../etc" under functions/`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, nil, &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("exit code = %d, want %d", code, tt.wantCode)
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("stderr = %q, want it to mention %q", stderr.String(), tt.wantStderr)
			}
			if stdout.Len() > 0 {
				t.Errorf("stdout = %q, want nothing", stdout.String())
			}
		})
	}
}
