package standins

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// readyTimeout bounds how long one stand-in may take to answer after it was started. DynamoDB Local
// needs about 2 s on an idle machine; several test packages starting JVMs at once on two cores take
// much longer.
const readyTimeout = 90 * time.Second

// stopGrace is how long a stand-in gets to exit after SIGTERM before its group is killed.
const stopGrace = 5 * time.Second

// startAttempts is how often a stand-in is started on a fresh port when it exits before it is ready
// (typically because another process took the free port first).
const startAttempts = 3

// process is one running stand-in: a child in its own process group.
type process struct {
	name  string
	title string // what it is, for messages: "DynamoDB Local"
	cmd   *exec.Cmd
	out   *lineWriter
	tail  *tailBuffer
	done  chan struct{} // closed once cmd.Wait has returned
	err   error         // cmd.Wait's result, valid after done
}

// childSpec says how to run one stand-in on a given port.
type childSpec struct {
	name string
	// title says what the stand-in is in messages, e.g. "DynamoDB Local".
	title string
	// command returns the command to run with its Dir and Env set; start adds the rest.
	command func(port int) *exec.Cmd
	// probe is the path polled until it answers; any HTTP status counts as ready.
	probe string
}

// startChild starts spec on a free port and waits until it answers HTTP on 127.0.0.1, retrying on a new
// port if the child exits early. It returns the process and its base URL.
func startChild(ctx context.Context, spec childSpec, log io.Writer) (*process, string, error) {
	var errs []error
	for range startAttempts {
		port, err := freePort()
		if err != nil {
			return nil, "", err
		}
		p, err := startProcess(spec.name, spec.title, spec.command(port), log)
		if err != nil {
			return nil, "", err
		}
		base := "http://127.0.0.1:" + strconv.Itoa(port)
		err = p.waitReady(ctx, base+spec.probe)
		if err == nil {
			return p, base, nil
		}
		stopErr := p.stop()
		errs = append(errs, err)
		if !p.exited() || ctx.Err() != nil {
			// Timed out or cancelled: another port will not help.
			return nil, "", errors.Join(append(errs, stopErr)...)
		}
	}
	return nil, "", errors.Join(errs...)
}

// startProcess starts cmd in a process group of its own that the kernel kills if this process dies.
func startProcess(name, title string, cmd *exec.Cmd, log io.Writer) (*process, error) {
	p := &process{name: name, title: title, cmd: cmd, tail: &tailBuffer{max: 8 << 10}, done: make(chan struct{})}
	var w io.Writer = p.tail
	if log != nil {
		w = io.MultiWriter(p.tail, log)
	}
	p.out = &lineWriter{w: w, prefix: "[" + name + "] "}
	cmd.Stdout = p.out
	cmd.Stderr = p.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// Output is copied by goroutines; do not wait for them for ever if a grandchild holds the pipe.
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		p.out.flush()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitReady polls url until it gives any HTTP answer, the process exits, ctx ends or readyTimeout
// passes; the error names the last failure and the tail of the process's output.
func (p *process) waitReady(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("%s: probe %s: %w", p.name, url, err)
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		last = err
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before it answered on %s: %v; output:\n%s", p.name, url, p.err, p.tail)
		case <-ctx.Done():
			return fmt.Errorf("%s did not answer on %s: %w (last error: %v); output:\n%s", p.name, url, ctx.Err(), last, p.tail)
		case <-tick.C:
		}
	}
}

// stop sends SIGTERM to the process group, waits up to stopGrace, then kills the group and waits.
// It is safe to call more than once.
func (p *process) stop() error {
	pgid := p.cmd.Process.Pid
	if !p.exited() {
		if err := syscall.Kill(-pgid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("stop %s: %w", p.name, err)
		}
		select {
		case <-p.done:
		case <-time.After(stopGrace):
		}
	}
	// Kill whatever is left in the group, the leader included if it ignored SIGTERM.
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill %s: %w", p.name, err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("stop %s: process %d did not exit", p.name, pgid)
	}
}

// freePort returns a TCP port that was free on 127.0.0.1 a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// lineWriter writes whole lines, each with a prefix, so the output of several stand-ins interleaves by
// line.
type lineWriter struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
	buf    []byte
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		l.emit(l.buf[:i+1])
		l.buf = l.buf[i+1:]
	}
	return len(p), nil
}

// flush writes a last unterminated line, if any.
func (l *lineWriter) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		l.emit(append(l.buf, '\n'))
		l.buf = nil
	}
}

// ansiColor matches terminal colour codes (local-kms forces them on).
var ansiColor = regexp.MustCompile(`\x1b\[[0-9;]*m`)

func (l *lineWriter) emit(line []byte) {
	line = ansiColor.ReplaceAll(line, nil)
	// The stand-ins' output is diagnostics only; a failing log writer must not stop them.
	_, _ = l.w.Write(append([]byte(l.prefix), line...))
}

// tailBuffer keeps the last max bytes written to it, for error messages.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.TrimRight(string(t.buf), "\n")
	if s == "" {
		return "(no output)"
	}
	return s
}
