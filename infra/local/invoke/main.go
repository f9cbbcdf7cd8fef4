// Command invoke runs one of Leadvault's functions locally, once, with an event file:
//
//	go run ./infra/local/invoke -fn intake -event events/intake/urlencoded.json
//
// It builds functions/<fn> for this machine into .leadvault/bin/<fn>/bootstrap, runs it under the
// local Lambda Runtime API host (infra/local/runtimeapi) and invokes it with the event. The response
// is printed to stdout as indented JSON, the function's logs go to stderr, and a function error exits
// with status 1 after printing the error payload, as `aws lambda invoke` would have written it; any
// other failure (build, start, timeout, a crash) exits with status 2.
//
// The function gets the caller's LEADVAULT_* and AWS_* variables. Without LEADVAULT_AWS_ENDPOINT it
// reads the ones `make run` writes to .leadvault/env; with neither, it refuses to run, because the
// function would otherwise talk to nothing (or, worse, to real AWS).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"time"

	"leadvault/infra/local/envfile"
	"leadvault/infra/local/runtimeapi"

	"leadvault/infra/local/repo"
	"leadvault/shared/awsconfig"
)

const endpointEnv = awsconfig.EndpointEnv

// Exit codes.
const (
	exitOK            = 0
	exitFunctionError = 1
	exitFailure       = 2
	exitUsage         = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// errFunction marks a run that worked but whose function reported an error.
var errFunction = errors.New("the function returned an error")

func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("invoke", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fn := fs.String("fn", "", "the `function` to run: a directory under functions/")
	event := fs.String("event", "", "the event `file` (JSON) to invoke it with; - reads stdin; empty sends {}")
	timeout := fs.Duration("timeout", runtimeapi.DefaultTimeout, "the invocation's `timeout`")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: invoke -fn function [-event file] [-timeout 30s]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *fn == "" || fs.NArg() > 0 {
		fs.Usage()
		return exitUsage
	}
	err := invoke(ctx, *fn, *event, *timeout, environ, stdout, stderr)
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errFunction):
		fmt.Fprintf(stderr, "invoke: %s: %v\n", *fn, err)
		return exitFunctionError
	default:
		fmt.Fprintf(stderr, "invoke: %v\n", err)
		return exitFailure
	}
}

func invoke(ctx context.Context, fn, eventPath string, timeout time.Duration, environ []string, stdout, stderr io.Writer) error {
	root, err := repo.FromWorkingDir()
	if err != nil {
		return err
	}
	pkgDir, err := functionDir(root, fn)
	if err != nil {
		return err
	}
	payload, err := readEvent(eventPath)
	if err != nil {
		return err
	}
	env, err := functionEnv(root, environ)
	if err != nil {
		return err
	}

	bin := filepath.Join(root, ".leadvault", "bin", fn, "bootstrap")
	if err := runtimeapi.BuildBootstrap(ctx, pkgDir, bin); err != nil {
		return err
	}
	h, err := runtimeapi.Start(ctx, runtimeapi.Options{
		Bootstrap:    bin,
		Env:          env,
		FunctionName: fn,
		Timeout:      timeout,
		Stdout:       stderr,
		Stderr:       stderr,
	})
	if err != nil {
		return err
	}
	defer h.Close()

	out, err := h.Invoke(ctx, payload)
	var fe *runtimeapi.FunctionError
	if errors.As(err, &fe) {
		body, _ := json.MarshalIndent(fe, "", "  ")
		fmt.Fprintf(stdout, "%s\n", body)
		return fmt.Errorf("%w: %s: %s", errFunction, fe.Type, fe.Message)
	}
	if err != nil {
		return err
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, out, "", "  ") != nil {
		pretty.Reset()
		pretty.Write(out) // not JSON: print it as it came
	}
	pretty.WriteByte('\n')
	_, err = stdout.Write(pretty.Bytes())
	return err
}

var functionName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// functionDir returns functions/<fn> under root, or an error that lists the functions there are.
func functionDir(root, fn string) (string, error) {
	dir := filepath.Join(root, "functions", fn)
	if functionName.MatchString(fn) {
		if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
			return dir, nil
		}
	}
	var names []string
	entries, _ := os.ReadDir(filepath.Join(root, "functions"))
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	return "", fmt.Errorf("no function %q under functions/ (there are: %s)", fn, strings.Join(names, ", "))
}

// readEvent reads the event from path ("-" for stdin, "" for {}) and checks that it is JSON, as
// Lambda's Invoke API requires.
func readEvent(path string) ([]byte, error) {
	var (
		payload []byte
		err     error
	)
	switch path {
	case "":
		return []byte(`{}`), nil
	case "-":
		payload, err = io.ReadAll(os.Stdin)
	default:
		payload, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("read the event: %w", err)
	}
	if !json.Valid(payload) {
		return nil, fmt.Errorf("the event %s is not valid JSON", path)
	}
	return payload, nil
}

// functionEnv picks the caller's LEADVAULT_* and AWS_* variables (not AWS_LAMBDA_*, which belong to
// the execution environment) and, if LEADVAULT_AWS_ENDPOINT is not among them, adds the variables in
// .leadvault/env that the caller has not set. It fails if there is still no endpoint, or if the
// endpoint is on this machine and nothing listens there.
func functionEnv(root string, environ []string) ([]string, error) {
	set := map[string]string{}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.HasPrefix(k, "AWS_LAMBDA_") {
			continue
		}
		if strings.HasPrefix(k, "LEADVAULT_") || strings.HasPrefix(k, "AWS_") {
			set[k] = v
		}
	}
	envFile := filepath.Join(root, envfile.Path)
	source := "the environment"
	if set[endpointEnv] == "" {
		fileVars, err := envfile.Read(envFile)
		switch {
		case errors.Is(err, os.ErrNotExist):
			return nil, fmt.Errorf("%s is not set and %s does not exist: start the local stack with `make run` first (or set %s)", endpointEnv, envFile, endpointEnv)
		case err != nil:
			return nil, err
		}
		for k, v := range fileVars {
			if _, ok := set[k]; !ok {
				set[k] = v
			}
		}
		source = envFile
		if set[endpointEnv] == "" {
			return nil, fmt.Errorf("%s sets no %s: restart the local stack with `make run`", envFile, endpointEnv)
		}
	}
	if err := checkLocalEndpoint(set[endpointEnv]); err != nil {
		return nil, fmt.Errorf("%s=%s (from %s): %w: is `make run` still running?", endpointEnv, set[endpointEnv], source, err)
	}
	env := make([]string, 0, len(set))
	for k, v := range set {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	return env, nil
}

// checkLocalEndpoint makes sure something listens at the endpoint when it is on the loopback
// interface (the local stack); other endpoints are left alone.
func checkLocalEndpoint(endpoint string) error {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return errors.New("not an absolute URL")
	}
	if u.Hostname() != "127.0.0.1" && u.Hostname() != "localhost" {
		return nil
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"https": "443"}[u.Scheme]
		if port == "" {
			port = "80"
		}
	}
	conn, err := net.DialTimeout("tcp4", net.JoinHostPort("127.0.0.1", port), time.Second)
	if err != nil {
		return errors.New("nothing listens there")
	}
	return conn.Close()
}
