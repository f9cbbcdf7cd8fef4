// Package runtimeapi hosts one Lambda function process locally: it serves the Lambda Runtime API
// (the endpoints aws-lambda-go's runtime client calls) on 127.0.0.1 and runs a real bootstrap binary
// against it, the way a Lambda execution environment does, so that a function can be invoked without
// AWS or the Runtime Interface Emulator.
//
// One Host is one execution environment: one process, invocations delivered one at a time in the
// order Invoke was called. When the process dies (it crashed, exited, or was killed after a
// timeout) the Host stays dead: every later Invoke fails with ErrExited, and a caller that wants a
// fresh environment starts a new Host, as Lambda would.
//
// Where it differs from Lambda: the process runs as this machine's user, for this machine's OS and
// architecture (not arm64 Amazon Linux 2023), with no memory limit, no freeze between invocations, no
// Extensions or Telemetry API, no X-Ray daemon, and a timeout measured by this host rather than billed
// duration; the environment is only what Options.Env gives plus the Runtime API's own variables.
package runtimeapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"leadvault/infra/local/syncw"
)

// Defaults for the zero values in Options.
const (
	DefaultTimeout     = 30 * time.Second
	DefaultInitTimeout = 10 * time.Second
	DefaultMemoryMB    = 128
)

// Region is the region the hosted function is told it runs in (AWS_REGION); Options.Env may override it.
const Region = "eu-north-1"

// MaxPayloadBytes is Lambda's limit on a synchronous invocation's request and response payloads.
const MaxPayloadBytes = 6 * 1024 * 1024

// accountID is the account in the ARNs the host makes up; it is the conventional local placeholder.
const accountID = "000000000000"

// Errors an Invoke or Start can fail with, besides *FunctionError and context errors. Test for them
// with errors.Is.
var (
	// ErrClosed means Close was called.
	ErrClosed = errors.New("runtimeapi: host is closed")
	// ErrExited means the function process is gone: it exited or crashed, or the host killed it.
	ErrExited = errors.New("runtimeapi: function process exited")
	// ErrTimeout means the function did not finish init or an invocation in time; the host then
	// kills the process, as Lambda resets an execution environment after a timeout.
	ErrTimeout = errors.New("runtimeapi: timed out")
)

// FunctionError is an error the function reported through the Runtime API: the errorType and
// errorMessage of the JSON it posted to /invocation/{id}/error (or /init/error), as Lambda returns them
// to a synchronous caller. A handler returning an error or panicking ends up here.
type FunctionError struct {
	Type    string `json:"errorType"`
	Message string `json:"errorMessage"`
	// StackTrace is the stackTrace the runtime sent, if any, as raw JSON.
	StackTrace json.RawMessage `json:"stackTrace,omitempty"`
}

// Error implements error.
func (e *FunctionError) Error() string {
	return fmt.Sprintf("function error %s: %s", e.Type, e.Message)
}

// Options configures Start.
type Options struct {
	// Bootstrap is the path of the function's executable, built for the host (see BuildBootstrap).
	Bootstrap string
	// Env is extra KEY=VALUE environment for the function, e.g. LEADVAULT_AWS_ENDPOINT=...; it is
	// added after the variables Lambda sets (so it can override them) except AWS_LAMBDA_RUNTIME_API,
	// which always points at this host. The host's own environment is not passed on apart from PATH.
	Env []string
	// FunctionName defaults to the name of the directory holding Bootstrap.
	FunctionName string
	// Timeout is each invocation's deadline, counted from when the runtime picks it up (default 30s).
	Timeout time.Duration
	// InitTimeout bounds the function's init: from process start to its first call for the next
	// invocation (default 10s, Lambda's init limit).
	InitTimeout time.Duration
	// MemoryMB is reported in AWS_LAMBDA_FUNCTION_MEMORY_SIZE; it limits nothing (default 128).
	MemoryMB int
	// Stdout and Stderr receive the function's output; nil discards it. The host also writes
	// Lambda-style platform records (platform.initReport, platform.start, platform.report) to Stderr
	// as JSON lines.
	Stdout, Stderr io.Writer
}

// Host is a running function process and the Runtime API it talks to. Its methods are safe for
// concurrent use.
type Host struct {
	name     string
	arn      string
	timeout  time.Duration
	memoryMB int
	addr     string
	srv      *http.Server
	cmd      *exec.Cmd
	started  time.Time
	logs     io.Writer

	queue      chan *invocation // handed from Invoke to the runtime's GET /next
	ready      chan struct{}    // closed on the runtime's first GET /next
	initFailed chan struct{}    // closed when the runtime posts /init/error
	exited     chan struct{}    // closed once the process has been reaped
	closing    chan struct{}    // closed by Close

	readyOnce, initFailedOnce, closeOnce sync.Once
	closeErr                             error

	mu           sync.Mutex
	inflight     map[string]*invocation
	initDuration time.Duration
	initErr      *FunctionError
	killReason   error
	exitErr      error
	reaped       bool // the process has been (or is about to be) reaped: its pid may be reused
	sigterm      bool // an extension registered, so the runtime wants SIGTERM before SIGKILL
	reported     bool // the first platform.report (with initDurationMs) has been written
}

type invocation struct {
	id      string
	traceID string
	payload []byte
	done    chan result // buffered: the Runtime API handlers never block on it
}

type result struct {
	body []byte
	err  error
}

// Start serves the Runtime API on 127.0.0.1 (a free port, never 9001), starts the bootstrap in its own
// process group with the environment Lambda gives a function, and waits for the function's init to
// finish, that is, for its first request for an invocation. If the function exits, reports an init
// error or exceeds InitTimeout first, Start kills it and returns an error wrapping ErrExited or
// ErrTimeout (and the *FunctionError it reported, if any). ctx bounds only Start; the Host lives until
// Close.
func Start(ctx context.Context, o Options) (*Host, error) {
	if o.Bootstrap == "" {
		return nil, errors.New("runtimeapi: start: Options.Bootstrap is empty")
	}
	bootstrap, err := filepath.Abs(o.Bootstrap)
	if err != nil {
		return nil, fmt.Errorf("runtimeapi: start %s: %w", o.Bootstrap, err)
	}
	if fi, err := os.Stat(bootstrap); err != nil {
		return nil, fmt.Errorf("runtimeapi: start: %w", err)
	} else if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return nil, fmt.Errorf("runtimeapi: start: %s is not an executable file", bootstrap)
	}
	taskRoot := filepath.Dir(bootstrap)

	h := &Host{
		name:       o.FunctionName,
		timeout:    o.Timeout,
		memoryMB:   o.MemoryMB,
		queue:      make(chan *invocation),
		ready:      make(chan struct{}),
		initFailed: make(chan struct{}),
		exited:     make(chan struct{}),
		closing:    make(chan struct{}),
		inflight:   map[string]*invocation{},
	}
	if h.name == "" {
		h.name = filepath.Base(taskRoot)
	}
	if h.timeout <= 0 {
		h.timeout = DefaultTimeout
	}
	if h.memoryMB <= 0 {
		h.memoryMB = DefaultMemoryMB
	}
	initTimeout := o.InitTimeout
	if initTimeout <= 0 {
		initTimeout = DefaultInitTimeout
	}
	h.arn = fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", Region, accountID, h.name)

	ln, err := listenLoopback(ctx)
	if err != nil {
		return nil, fmt.Errorf("runtimeapi: start %s: %w", h.name, err)
	}
	h.addr = ln.Addr().String()
	h.srv = &http.Server{Handler: h.routes(), ReadHeaderTimeout: 10 * time.Second}

	stdout, stderr := syncWriters(o.Stdout, o.Stderr)
	h.logs = stderr
	cmd := exec.Command(bootstrap)
	cmd.Dir = taskRoot
	cmd.Env = h.environ(taskRoot, o.Env)
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	cmd.SysProcAttr = sysProcAttr()
	cmd.WaitDelay = 2 * time.Second
	h.cmd = cmd
	h.started = time.Now()
	// Serve only now: the handlers read the fields set above.
	go func() { _ = h.srv.Serve(ln) }()
	if err := cmd.Start(); err != nil {
		_ = h.srv.Close()
		return nil, fmt.Errorf("runtimeapi: start %s: %w", h.name, err)
	}
	go h.wait()

	timer := time.NewTimer(initTimeout)
	defer timer.Stop()
	select {
	case <-h.ready:
		return h, nil
	case <-h.initFailed:
		h.kill(errors.New("it reported an init error"))
		<-h.exited
	case <-h.exited:
	case <-timer.C:
		h.kill(fmt.Errorf("%w: init did not finish within %s", ErrTimeout, initTimeout))
		<-h.exited
	case <-ctx.Done():
		h.kill(context.Cause(ctx))
		<-h.exited
	}
	err = h.exitError()
	_ = h.Close()
	return nil, fmt.Errorf("start %s: %w", h.name, err)
}

// listenLoopback listens on a free port of 127.0.0.1, never on 9001 (the port the real Runtime API
// and the emulator use), so a stray client cannot mistake this host for them.
func listenLoopback(ctx context.Context) (net.Listener, error) {
	var lc net.ListenConfig
	for range 3 {
		ln, err := lc.Listen(ctx, "tcp4", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("listen on 127.0.0.1: %w", err)
		}
		if ln.Addr().(*net.TCPAddr).Port != 9001 {
			return ln, nil
		}
		_ = ln.Close()
	}
	return nil, errors.New("listen on 127.0.0.1: kept getting port 9001")
}

// environ is the function's environment: what Lambda sets for a provided.al2023 function, then
// extra, then the Runtime API address.
func (h *Host) environ(taskRoot string, extra []string) []string {
	now := time.Now().UTC()
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"LANG=en_US.UTF-8",
		"TZ=:UTC",
		"LAMBDA_TASK_ROOT=" + taskRoot,
		"LAMBDA_RUNTIME_DIR=" + taskRoot,
		"_HANDLER=bootstrap",
		"AWS_REGION=" + Region,
		"AWS_DEFAULT_REGION=" + Region,
		"AWS_LAMBDA_FUNCTION_NAME=" + h.name,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=" + strconv.Itoa(h.memoryMB),
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_INITIALIZATION_TYPE=on-demand",
		"AWS_LAMBDA_LOG_FORMAT=JSON",
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/" + h.name,
		"AWS_LAMBDA_LOG_STREAM_NAME=" + now.Format("2006/01/02") + "/[$LATEST]" + randomHex(16),
	}
	env = append(env, extra...)
	// exec.Cmd keeps the last value of a duplicated key, so this one always wins.
	return append(env, "AWS_LAMBDA_RUNTIME_API="+h.addr)
}

// Addr returns the Runtime API's address, host:port, as given to the function in AWS_LAMBDA_RUNTIME_API.
func (h *Host) Addr() string { return h.addr }

// PID returns the function process's id, which is also its process group's id.
func (h *Host) PID() int { return h.cmd.Process.Pid }

// InitDuration returns how long the function took from process start to its first request for an
// invocation.
func (h *Host) InitDuration() time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.initDuration
}

// Exited returns a channel that is closed once the function process has exited and been reaped.
func (h *Host) Exited() <-chan struct{} { return h.exited }

// Invoke sends payload (JSON, at most MaxPayloadBytes) to the function as one synchronous invocation
// and returns the function's response. A function that reports an error yields a *FunctionError. If
// the invocation is not answered within Options.Timeout, the host kills the process and Invoke
// returns an error wrapping ErrTimeout. If the process is gone, Invoke returns an error wrapping
// ErrExited; after Close, ErrClosed. If ctx ends first, Invoke returns its error, but an invocation
// the function has already picked up runs to completion and its answer is dropped.
func (h *Host) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	if len(payload) > MaxPayloadBytes {
		return nil, fmt.Errorf("runtimeapi: invoke %s: payload is %d bytes, over Lambda's limit of %d", h.name, len(payload), MaxPayloadBytes)
	}
	if err := h.unusable(); err != nil {
		return nil, fmt.Errorf("invoke %s: %w", h.name, err)
	}
	inv := &invocation{
		id:      newRequestID(),
		traceID: newTraceID(),
		payload: payload,
		done:    make(chan result, 1),
	}
	select {
	case h.queue <- inv:
	case <-ctx.Done():
		return nil, fmt.Errorf("invoke %s: %w", h.name, context.Cause(ctx))
	case <-h.exited:
		return nil, fmt.Errorf("invoke %s: %w", h.name, h.unusable())
	case <-h.closing:
		return nil, fmt.Errorf("invoke %s: %w", h.name, ErrClosed)
	}
	start := time.Now()
	h.platform("platform.start", map[string]any{"requestId": inv.id, "version": "$LATEST"})

	timer := time.NewTimer(h.timeout)
	defer timer.Stop()
	var res result
	status := "success"
	select {
	case res = <-inv.done:
	case <-timer.C:
		h.kill(fmt.Errorf("invocation %s timed out", inv.id))
		status = "timeout"
		res.err = fmt.Errorf("%w: the task did not finish within %s", ErrTimeout, h.timeout)
	case <-ctx.Done():
		return nil, fmt.Errorf("invoke %s: %w", h.name, context.Cause(ctx))
	case <-h.exited:
		res = h.lateResult(inv)
	case <-h.closing:
		res = h.lateResult(inv)
	}
	if res.err != nil && status == "success" {
		status = "error"
	}
	h.report(inv.id, status, time.Since(start))
	if res.err != nil {
		var fe *FunctionError
		if errors.As(res.err, &fe) {
			return nil, fe
		}
		return nil, fmt.Errorf("invoke %s: %w", h.name, res.err)
	}
	return res.body, nil
}

// lateResult prefers an answer that arrived just before the process exited or the host closed (a
// panicking handler posts its error, then exits) over reporting the exit.
func (h *Host) lateResult(inv *invocation) result {
	select {
	case res := <-inv.done:
		return res
	default:
		return result{err: h.unusable()}
	}
}

// unusable returns why no invocation can run, or nil.
func (h *Host) unusable() error {
	select {
	case <-h.closing:
		return ErrClosed
	default:
	}
	select {
	case <-h.exited:
		return h.exitError()
	default:
		return nil
	}
}

// exitError describes the process's end; call it only after h.exited is closed.
func (h *Host) exitError() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	status := "exit status 0"
	if h.exitErr != nil {
		status = h.exitErr.Error()
	}
	switch {
	case h.initErr != nil:
		return fmt.Errorf("%w during init (%s): %w", ErrExited, status, h.initErr)
	case h.killReason != nil:
		return fmt.Errorf("%w: killed because %w", ErrExited, h.killReason)
	default:
		return fmt.Errorf("%w: %s", ErrExited, status)
	}
}

// Close stops the function and the Runtime API. If the function asked for SIGTERM (it registered an
// extension, as lambda.WithEnableSIGTERM does) it gets SIGTERM and 500ms to exit first; then its whole
// process group is killed. Close waits for the process to be reaped and is idempotent.
func (h *Host) Close() error {
	h.closeOnce.Do(func() {
		close(h.closing)
		h.mu.Lock()
		graceful := h.sigterm
		h.mu.Unlock()
		if graceful {
			h.signal(sigTERM)
			select {
			case <-h.exited:
			case <-time.After(500 * time.Millisecond):
			}
		}
		h.kill(ErrClosed)
		select {
		case <-h.exited:
		case <-time.After(10 * time.Second):
			h.closeErr = fmt.Errorf("runtimeapi: close %s: process %d did not exit", h.name, h.PID())
		}
		if err := h.srv.Close(); err != nil && h.closeErr == nil {
			h.closeErr = fmt.Errorf("runtimeapi: close %s: %w", h.name, err)
		}
	})
	return h.closeErr
}

// kill records why the process is being killed (the first reason wins) and SIGKILLs its group.
func (h *Host) kill(reason error) {
	h.mu.Lock()
	if h.killReason == nil {
		h.killReason = reason
	}
	h.mu.Unlock()
	h.signal(sigKILL)
}

// signal sends sig to the process group unless the leader has been reaped, after which its id may
// belong to someone else.
func (h *Host) signal(sig processSignal) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.reaped {
		signalGroup(h.cmd.Process, sig)
	}
}

// wait reaps the process. Where the platform allows it, it first waits for the exit without reaping
// and kills whatever is left of the process group while the leader's id still pins the group.
func (h *Host) wait() {
	if waitExitNoReap(h.cmd.Process.Pid) {
		h.mu.Lock()
		signalGroup(h.cmd.Process, sigKILL)
		h.reaped = true
		h.mu.Unlock()
	}
	err := h.cmd.Wait()
	h.mu.Lock()
	h.reaped = true
	h.exitErr = err
	h.mu.Unlock()
	close(h.exited)
}

// markReady records the end of init on the runtime's first GET /next.
func (h *Host) markReady() {
	h.readyOnce.Do(func() {
		d := time.Since(h.started)
		h.mu.Lock()
		h.initDuration = d
		h.mu.Unlock()
		h.platform("platform.initReport", map[string]any{
			"initializationType": "on-demand",
			"phase":              "init",
			"status":             "success",
			"metrics":            map[string]any{"durationMs": ms(d)},
		})
		close(h.ready)
	})
}

// report writes a platform.report record; the first one carries the init duration, as on Lambda.
func (h *Host) report(id, status string, d time.Duration) {
	metrics := map[string]any{
		"durationMs":       ms(d),
		"billedDurationMs": int64((d + time.Millisecond - 1) / time.Millisecond),
		"memorySizeMB":     h.memoryMB,
	}
	h.mu.Lock()
	if !h.reported {
		h.reported = true
		metrics["initDurationMs"] = ms(h.initDuration)
	}
	h.mu.Unlock()
	h.platform("platform.report", map[string]any{"requestId": id, "status": status, "metrics": metrics})
}

// platform writes one Lambda-style platform telemetry record as a JSON line to the log writer.
func (h *Host) platform(typ string, record map[string]any) {
	if h.logs == io.Discard {
		return
	}
	line, err := json.Marshal(struct {
		Time   string         `json:"time"`
		Type   string         `json:"type"`
		Record map[string]any `json:"record"`
	}{time.Now().UTC().Format(time.RFC3339Nano), typ, record})
	if err != nil {
		return
	}
	_, _ = h.logs.Write(append(line, '\n'))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// newRequestID returns a random (version 4) UUID, the form of Lambda's request ids.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// newTraceID returns an X-Ray trace header for an unsampled request.
func newTraceID() string {
	return fmt.Sprintf("Root=1-%08x-%s;Parent=%s;Sampled=0", time.Now().Unix(), randomHex(12), randomHex(8))
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// syncWriters wraps the function's output writers so that the process's two streams and the
// host's platform records never write to one writer at the same time. Nil means discard.
func syncWriters(stdout, stderr io.Writer) (io.Writer, io.Writer) {
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	wrap := func(w io.Writer) io.Writer {
		if w == io.Discard {
			return w
		}
		return syncw.New(w)
	}
	if stdout == stderr {
		w := wrap(stdout)
		return w, w
	}
	return wrap(stdout), wrap(stderr)
}
