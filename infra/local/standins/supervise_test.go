package standins

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"leadvault/infra/local/syncw"
)

func TestStack_standInExitStopsTheRest(t *testing.T) {
	tests := []struct {
		kill string
		want string
	}{
		{kill: "dynamodb", want: "stand-in dynamodb (DynamoDB Local) exited: signal: killed"},
		{kill: "kms", want: "stand-in kms (local-kms) exited: signal: killed"},
	}
	for _, tc := range tests {
		t.Run(tc.kill, func(t *testing.T) {
			var logBuf syncw.Buffer
			st, err := Start(ctxFor(t), Options{Log: io.MultiWriter(&logBuf, logOrDiscard())})
			if err != nil {
				t.Fatalf("Start = %v", err)
			}
			defer st.Close()
			if err := st.Err(); err != nil {
				t.Fatalf("Err() of a healthy stack = %v; want nil", err)
			}
			var victim *process
			for _, p := range st.procs {
				if p.name == tc.kill {
					victim = p
				}
			}
			if victim == nil {
				t.Fatalf("no stand-in %q among the stack's processes", tc.kill)
			}
			if err := syscall.Kill(-victim.cmd.Process.Pid, syscall.SIGKILL); err != nil {
				t.Fatalf("kill %s: %v", tc.kill, err)
			}

			select {
			case <-st.Done():
			case <-time.After(time.Minute):
				t.Fatalf("Done() not closed a minute after %s was killed", tc.kill)
			}
			if err := st.Err(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Err() = %v; want it to say %q", err, tc.want)
			}
			for _, p := range st.procs {
				if !p.exited() {
					t.Errorf("stand-in %s still running after %s died; want every stand-in stopped", p.name, tc.kill)
				}
			}
			// The in-process ones are stopped too: S3 and the router no longer answer.
			client := &http.Client{Timeout: 5 * time.Second}
			for name, u := range map[string]string{"s3": st.S3URL, "router": st.Endpoint} {
				if resp, err := client.Get(u + "/"); err == nil {
					resp.Body.Close()
					t.Errorf("GET %s (%s) after %s died = %d; want the connection refused", u, name, tc.kill, resp.StatusCode)
				}
			}
			if log := logBuf.String(); !strings.Contains(log, tc.want+"; stopping the stack") {
				t.Errorf("stand-in log has no line %q; log:\n%s", tc.want+"; stopping the stack", lastLines(log, 20))
			}
			if err := st.Close(); err != nil {
				t.Errorf("Close() after the failure = %v; want nil", err)
			}
		})
	}
}

// logOrDiscard is standinsLog as a non-nil writer.
func logOrDiscard() io.Writer {
	if w := standinsLog(); w != nil {
		return w
	}
	return io.Discard
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func TestStack_closeIsNoFailure(t *testing.T) {
	st, err := Start(ctxFor(t), Options{Log: standinsLog()})
	if err != nil {
		t.Fatalf("Start = %v", err)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	// Give the watchers time to see the exits Close caused.
	time.Sleep(200 * time.Millisecond)
	select {
	case <-st.Done():
		t.Errorf("Done() closed by a plain Close; want it closed only by a failure (Err: %v)", st.Err())
	default:
	}
}

// panickyBackend is s3Disk with a GetObject that panics, as a bug in a backend would.
type panickyBackend struct {
	*s3Disk
	value any
}

func (p panickyBackend) GetObject(string, string, *gofakes3.ObjectRangeRequest) (*gofakes3.Object, error) {
	if name, ok := p.value.(string); ok && name == "index" {
		var none []string
		_ = none[len(name)] // a runtime error, not a panic call
	}
	panic(p.value)
}

func TestRecoverPanics_s3StandIn(t *testing.T) {
	disk, err := openS3Disk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer disk.Close()
	if err := disk.CreateBucket("bkt"); err != nil {
		t.Fatal(err)
	}
	if _, err := disk.PutObject("bkt", "k", nil, strings.NewReader("body"), 4, nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		value   any
		wantLog string
	}{
		{name: "panic", value: "boom", wantLog: "boom"},
		{name: "runtime error", value: "index", wantLog: "index out of range [5] with length 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logBuf syncw.Buffer
			srv := httptest.NewServer(recoverPanics("stand-in s3 (gofakes3)",
				gofakes3.New(panickyBackend{s3Disk: disk, value: tc.value}).Server(), &logBuf))
			defer srv.Close()
			resp, err := http.Get(srv.URL + "/bkt/k")
			if err != nil {
				t.Fatalf("GET /bkt/k: %v", err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(string(body), "<Code>InternalError</Code>") ||
				!strings.Contains(string(body), "stand-in s3 (gofakes3)") {
				t.Errorf("GET /bkt/k with a panicking backend = %d %q; want 500 InternalError naming the stand-in", resp.StatusCode, body)
			}
			log := logBuf.String()
			for _, want := range []string{"[stand-in s3 (gofakes3)] panic serving GET /bkt/k", tc.wantLog, "goroutine"} {
				if !strings.Contains(log, want) {
					t.Errorf("log = %q; want it to contain %q", lastLines(log, 5), want)
				}
			}
			// The stand-in still serves: HEAD does not reach the panicking method.
			req, _ := http.NewRequestWithContext(context.Background(), http.MethodHead, srv.URL+"/bkt/k", nil)
			resp, err = http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("HEAD /bkt/k after the panic: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("HEAD /bkt/k after the panic = %d; want 200", resp.StatusCode)
			}
		})
	}
}

func TestRecoverPanics_afterWriteCutsResponse(t *testing.T) {
	var logBuf syncw.Buffer
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(http.StatusOK)
		w.Write([]byte("partial"))
		w.(http.Flusher).Flush()
		panic("mid-body")
	})
	srv := httptest.NewServer(recoverPanics("stand-in s3 (gofakes3)", h, &logBuf))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/x")
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err == nil {
		t.Errorf("GET with a panic after the status line = whole response; want the response cut short")
	}
	if !strings.Contains(logBuf.String(), "panic serving GET /x: mid-body") {
		t.Errorf("log = %q; want the panic reported", logBuf.String())
	}
}
