package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

func TestRun_cases(t *testing.T) {
	hello := filepath.Join("..", "..", "..", "bench", "hello")
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string // regexp
		wantStderr string // substring
	}{
		{name: "no functions", args: nil, wantCode: 2, wantStderr: "usage"},
		{name: "bad flag", args: []string{"-nope"}, wantCode: 2, wantStderr: "flag provided but not defined"},
		{name: "within budget", args: []string{hello, "main.go"}, wantCode: 0, wantStdout: `^hello \d+\n$`, wantStderr: "skipping main.go: not a directory"},
		{name: "over budget", args: []string{"-max", "1000", hello}, wantCode: 1, wantStdout: `^hello \d+\n$`, wantStderr: "over its budget of 1000"},
		{name: "own budget", args: []string{"-max", "1000", "-max-for", "hello=100000000", hello}, wantCode: 0, wantStdout: `^hello \d+\n$`, wantStderr: "over the 1000 target (within its own budget of 100000000)"},
		{name: "own budget exceeded", args: []string{"-max-for", "hello=1000", hello}, wantCode: 1, wantStdout: `^hello \d+\n$`, wantStderr: "over its budget of 1000"},
		{name: "bad budget", args: []string{"-max-for", "hello", hello}, wantCode: 2, wantStderr: "want fn=bytes"},
		{name: "built with the wanted Go", args: []string{"-go", runtime.Version(), hello}, wantCode: 0, wantStdout: `^hello \d+\n$`},
		{name: "built with another Go", args: []string{"-go", "go1.0", hello}, wantCode: 1, wantStdout: `^hello \d+\n$`, wantStderr: "bootstrap built with " + runtime.Version() + ", want go1.0"},
		{name: "missing dir", args: []string{"nope"}, wantCode: 1, wantStderr: "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := t.TempDir()
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append([]string{"-out", out}, tt.args...), &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("exit code = %d, want %d\nstderr: %s", code, tt.wantCode, stderr.String())
			}
			if tt.wantStdout != "" && !regexp.MustCompile(tt.wantStdout).MatchString(stdout.String()) {
				t.Errorf("stdout = %q, want it to match %s", stdout.String(), tt.wantStdout)
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("stderr = %q, want it to mention %q", stderr.String(), tt.wantStderr)
			}
			if tt.wantCode != 2 && tt.wantStdout != "" {
				if _, err := os.Stat(filepath.Join(out, "hello.zip")); err != nil {
					t.Errorf("no zip written: %v", err)
				}
			}
		})
	}
}
