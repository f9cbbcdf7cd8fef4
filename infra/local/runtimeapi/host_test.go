package runtimeapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"leadvault/infra/local/runtimeapi"
	"leadvault/infra/local/syncw"
)

// binDir holds the bootstraps built for this test binary; TestMain removes it.
var binDir string

func TestMain(m *testing.M) {
	runHelperIfAsked()
	dir, err := os.MkdirTemp("", "runtimeapi-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

var (
	buildMu sync.Mutex
	built   = map[string]string{}
)

// bootstrap builds the function in pkgDir for the host once per test binary and returns its path,
// <binDir>/<name>/bootstrap.
func bootstrap(tb testing.TB, name, pkgDir string) string {
	tb.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := built[name]; ok {
		return p
	}
	out := filepath.Join(binDir, name, "bootstrap")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := runtimeapi.BuildBootstrap(ctx, pkgDir, out); err != nil {
		tb.Fatalf("build %s: %v", name, err)
	}
	built[name] = out
	return out
}

func helloBootstrap(tb testing.TB) string {
	return bootstrap(tb, "hello", "../bench/hello")
}

func failfnBootstrap(tb testing.TB) string {
	return bootstrap(tb, "failfn", "testdata/failfn")
}

// start starts a host and closes it when the test ends; the function's output goes to the test log
// when the test fails.
func start(t *testing.T, o runtimeapi.Options) *runtimeapi.Host {
	t.Helper()
	logs := &syncw.Buffer{}
	o.Stdout, o.Stderr = logs, logs
	h, err := runtimeapi.Start(context.Background(), o)
	if err != nil {
		t.Fatalf("Start: %v\nfunction output:\n%s", err, logs.String())
	}
	t.Cleanup(func() {
		if err := h.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if t.Failed() {
			t.Logf("function output:\n%s", logs.String())
		}
	})
	return h
}

func invoke(t *testing.T, h *runtimeapi.Host, payload string) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return h.Invoke(ctx, []byte(payload))
}

func TestHost_helloAnswersRepeatedly(t *testing.T) {
	h := start(t, runtimeapi.Options{Bootstrap: helloBootstrap(t)})
	for i := range 5 {
		out, err := invoke(t, h, `{}`)
		if err != nil {
			t.Fatalf("invoke %d: %v", i, err)
		}
		if got := string(bytes.TrimSpace(out)); got != `{"ok":true}` {
			t.Fatalf("invoke %d: got %s, want {\"ok\":true}", i, got)
		}
	}
	if h.InitDuration() <= 0 {
		t.Errorf("InitDuration = %v, want > 0", h.InitDuration())
	}
}

func TestHost_listensOnLoopbackOnly(t *testing.T) {
	h := start(t, runtimeapi.Options{Bootstrap: helloBootstrap(t)})
	host, port, err := net.SplitHostPort(h.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if host != "127.0.0.1" {
		t.Errorf("host = %s, want 127.0.0.1", host)
	}
	if port == "9001" {
		t.Errorf("port = 9001, which is reserved for the real Runtime API")
	}
}

func TestHost_concurrentInvokesAreServedOneByOne(t *testing.T) {
	h := start(t, runtimeapi.Options{Bootstrap: failfnBootstrap(t)})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			out, err := invoke(t, h, `{"mode":"ok"}`)
			if err == nil && !bytes.Contains(out, []byte(`"ok":true`)) {
				err = fmt.Errorf("unexpected answer %s", out)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func TestHost_functionErrors(t *testing.T) {
	tests := []struct {
		name     string
		payload  string
		wantType string
		wantMsg  string
		// alive is whether the function survives the error (a panic makes aws-lambda-go exit).
		alive bool
	}{
		{name: "returned error", payload: `{"mode":"fail","message":"lead rejected"}`, wantType: "failError", wantMsg: "lead rejected", alive: true},
		{name: "unknown mode", payload: `{"mode":"nope"}`, wantType: "errorString", wantMsg: `unknown mode "nope"`, alive: true},
		{name: "bad payload", payload: `[1,2]`, wantType: "UnmarshalTypeError", alive: true},
		{name: "panic", payload: `{"mode":"panic","message":"boom"}`, wantType: "string", wantMsg: "boom", alive: false},
		{name: "response too large", payload: fmt.Sprintf(`{"mode":"big","bytes":%d}`, runtimeapi.MaxPayloadBytes), wantType: "Function.ResponseSizeTooLarge", alive: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, runtimeapi.Options{Bootstrap: failfnBootstrap(t)})
			_, err := invoke(t, h, tt.payload)
			var fe *runtimeapi.FunctionError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v (%T), want *FunctionError", err, err)
			}
			if fe.Type != tt.wantType {
				t.Errorf("Type = %q, want %q (message %q)", fe.Type, tt.wantType, fe.Message)
			}
			if tt.wantMsg != "" && fe.Message != tt.wantMsg {
				t.Errorf("Message = %q, want %q", fe.Message, tt.wantMsg)
			}
			_, err = invoke(t, h, `{"mode":"ok"}`)
			if tt.alive && err != nil {
				t.Errorf("invoke after the error: %v, want an answer", err)
			}
			if !tt.alive && !errors.Is(err, runtimeapi.ErrExited) {
				t.Errorf("invoke after the error: %v, want ErrExited", err)
			}
		})
	}
}

func TestHost_environmentAndHeaders(t *testing.T) {
	h := start(t, runtimeapi.Options{
		Bootstrap:    failfnBootstrap(t),
		FunctionName: "intake",
		Timeout:      7 * time.Second,
		Env:          []string{"LEADVAULT_TABLE=leads", "AWS_REGION=eu-north-1", "AWS_LAMBDA_RUNTIME_API=127.0.0.1:9001"},
	})
	keys := []string{
		"AWS_LAMBDA_RUNTIME_API", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
		"AWS_LAMBDA_FUNCTION_VERSION", "AWS_REGION", "AWS_LAMBDA_LOG_FORMAT", "_HANDLER",
		"LEADVAULT_TABLE", "LAMBDA_TASK_ROOT", "HOME",
	}
	payload, _ := json.Marshal(map[string]any{"mode": "env", "env": keys})
	before := time.Now()
	out, err := invoke(t, h, string(payload))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Env        map[string]string
		RequestID  string
		ARN        string
		DeadlineMS int64
		TraceID    string
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("decode %s: %v", out, err)
	}
	want := map[string]string{
		"AWS_LAMBDA_RUNTIME_API":          h.Addr(),
		"AWS_LAMBDA_FUNCTION_NAME":        "intake",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_REGION":                      "eu-north-1",
		"AWS_LAMBDA_LOG_FORMAT":           "JSON",
		"_HANDLER":                        "bootstrap",
		"LEADVAULT_TABLE":                 "leads",
		"LAMBDA_TASK_ROOT":                filepath.Dir(failfnBootstrap(t)),
		"HOME":                            "",
	}
	for k, v := range want {
		if got.Env[k] != v {
			t.Errorf("%s = %q, want %q", k, got.Env[k], v)
		}
	}
	if len(got.RequestID) != 36 {
		t.Errorf("request id = %q, want a UUID", got.RequestID)
	}
	if want := "arn:aws:lambda:eu-north-1:000000000000:function:intake"; got.ARN != want {
		t.Errorf("ARN = %q, want %q", got.ARN, want)
	}
	if !strings.HasPrefix(got.TraceID, "Root=1-") {
		t.Errorf("trace id = %q, want an X-Ray trace header", got.TraceID)
	}
	deadline := time.UnixMilli(got.DeadlineMS)
	if lo, hi := before.Add(6*time.Second), time.Now().Add(7*time.Second); deadline.Before(lo) || deadline.After(hi) {
		t.Errorf("deadline = %v, want about 7s after the invoke (%v..%v)", deadline, lo, hi)
	}
}

func TestHost_timeoutKillsTheFunction(t *testing.T) {
	h := start(t, runtimeapi.Options{Bootstrap: failfnBootstrap(t), Timeout: 300 * time.Millisecond})
	began := time.Now()
	_, err := invoke(t, h, `{"mode":"sleep","sleep":"20s"}`)
	if !errors.Is(err, runtimeapi.ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("the timeout took %v", d)
	}
	select {
	case <-h.Exited():
	case <-time.After(5 * time.Second):
		t.Fatal("the process survived its timeout")
	}
	if _, err := invoke(t, h, `{}`); !errors.Is(err, runtimeapi.ErrExited) {
		t.Errorf("invoke after the timeout: %v, want ErrExited", err)
	}
}

func TestHost_invokeHonoursContext(t *testing.T) {
	h := start(t, runtimeapi.Options{Bootstrap: failfnBootstrap(t)})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := h.Invoke(ctx, []byte(`{"mode":"sleep","sleep":"1s"}`))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
	// The abandoned invocation finishes; the next one is answered after it.
	if _, err := invoke(t, h, `{"mode":"ok"}`); err != nil {
		t.Fatalf("invoke after an abandoned one: %v", err)
	}
}

func TestHost_payloadTooLarge(t *testing.T) {
	h := start(t, runtimeapi.Options{Bootstrap: helloBootstrap(t)})
	big := make([]byte, runtimeapi.MaxPayloadBytes+1)
	if _, err := h.Invoke(context.Background(), big); err == nil || !strings.Contains(err.Error(), "over Lambda's limit") {
		t.Fatalf("err = %v, want a payload size error", err)
	}
}

func TestStart_failures(t *testing.T) {
	notExec := filepath.Join(t.TempDir(), "bootstrap")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A bootstrap that never calls the Runtime API, and leaves a child behind in its group.
	silent := filepath.Join(t.TempDir(), "bootstrap")
	if err := os.WriteFile(silent, []byte("#!/bin/sh\nsleep 30 &\nexec sleep 30\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		opts    runtimeapi.Options
		wantErr error  // errors.Is target, if any
		wantMsg string // substring of the error
	}{
		{name: "no bootstrap", opts: runtimeapi.Options{}, wantMsg: "Bootstrap is empty"},
		{name: "missing bootstrap", opts: runtimeapi.Options{Bootstrap: filepath.Join(t.TempDir(), "bootstrap")}, wantErr: os.ErrNotExist},
		{name: "not executable", opts: runtimeapi.Options{Bootstrap: notExec}, wantMsg: "not an executable"},
		{name: "init error", opts: runtimeapi.Options{Bootstrap: failfnBootstrap(t), Env: []string{"FAILFN_INIT_ERROR=config missing"}}, wantErr: runtimeapi.ErrExited, wantMsg: "config missing"},
		{name: "init timeout", opts: runtimeapi.Options{Bootstrap: silent, InitTimeout: 300 * time.Millisecond}, wantErr: runtimeapi.ErrTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := runtimeapi.Start(context.Background(), tt.opts)
			if err == nil {
				_ = h.Close()
				t.Fatal("Start succeeded, want an error")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("err = %v, want it to mention %q", err, tt.wantMsg)
			}
		})
	}
}

func TestStart_initErrorIsAFunctionError(t *testing.T) {
	_, err := runtimeapi.Start(context.Background(), runtimeapi.Options{
		Bootstrap: failfnBootstrap(t),
		Env:       []string{"FAILFN_INIT_ERROR=config missing"},
	})
	var fe *runtimeapi.FunctionError
	if !errors.As(err, &fe) {
		t.Fatalf("err = %v, want a *FunctionError inside", err)
	}
	if fe.Type != "InitFailed" || fe.Message != "config missing" {
		t.Errorf("init error = %+v, want InitFailed: config missing", fe)
	}
}

func TestHost_platformRecords(t *testing.T) {
	logs := &syncw.Buffer{}
	h, err := runtimeapi.Start(context.Background(), runtimeapi.Options{Bootstrap: helloBootstrap(t), Stderr: logs})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := invoke(t, h, `{}`); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	var types []string
	for line := range strings.Lines(logs.String()) {
		var rec struct {
			Type   string
			Record struct{ Metrics map[string]float64 }
		}
		if json.Unmarshal([]byte(line), &rec) != nil || !strings.HasPrefix(rec.Type, "platform.") {
			continue
		}
		types = append(types, rec.Type)
		if rec.Type == "platform.report" {
			if _, ok := rec.Record.Metrics["initDurationMs"]; !ok {
				t.Errorf("the first platform.report has no initDurationMs: %s", line)
			}
		}
	}
	if got, want := strings.Join(types, ","), "platform.initReport,platform.start,platform.report"; got != want {
		t.Errorf("platform records = %s, want %s", got, want)
	}
}
