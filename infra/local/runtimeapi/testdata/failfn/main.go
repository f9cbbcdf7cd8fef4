// Command failfn is the runtimeapi tests' misbehaving function. Its payload picks what it does:
// answer, return an error, panic, exit mid-invocation, sleep past its deadline, answer too much,
// or report what the host gave it. With FAILFN_INIT_ERROR set it reports an init error and exits
// before ever asking for an invocation.
package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type request struct {
	Mode    string   `json:"mode"`
	Message string   `json:"message"`
	Sleep   string   `json:"sleep"`
	Bytes   int      `json:"bytes"`
	Env     []string `json:"env"`
}

type response struct {
	OK         bool              `json:"ok"`
	Env        map[string]string `json:"env,omitempty"`
	RequestID  string            `json:"requestId,omitempty"`
	ARN        string            `json:"arn,omitempty"`
	DeadlineMS int64             `json:"deadlineMs,omitempty"`
	TraceID    string            `json:"traceId,omitempty"`
	Big        string            `json:"big,omitempty"`
}

// failError is the error type the host must report back as errorType "failError".
type failError struct{ msg string }

func (e *failError) Error() string { return e.msg }

func handle(ctx context.Context, req request) (response, error) {
	switch req.Mode {
	case "", "ok":
		return response{OK: true}, nil
	case "fail":
		return response{}, &failError{msg: req.Message}
	case "panic":
		panic(req.Message)
	case "exit":
		os.Exit(3)
	case "sleep":
		d, err := time.ParseDuration(req.Sleep)
		if err != nil {
			return response{}, fmt.Errorf("parse sleep: %w", err)
		}
		time.Sleep(d)
		return response{OK: true}, nil
	case "big":
		return response{OK: true, Big: strings.Repeat("x", req.Bytes)}, nil
	case "env":
		out := response{OK: true, Env: map[string]string{}}
		for _, k := range req.Env {
			out.Env[k] = os.Getenv(k)
		}
		if lc, ok := lambdacontext.FromContext(ctx); ok {
			out.RequestID = lc.AwsRequestID
			out.ARN = lc.InvokedFunctionArn
		}
		if d, ok := ctx.Deadline(); ok {
			out.DeadlineMS = d.UnixMilli()
		}
		if v, ok := ctx.Value("x-amzn-trace-id").(string); ok {
			out.TraceID = v
		}
		return out, nil
	}
	return response{}, fmt.Errorf("unknown mode %q", req.Mode)
}

// reportInitError does what a custom runtime does when its init fails: POST /runtime/init/error.
func reportInitError() {
	url := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/init/error"
	body := `{"errorMessage":"` + os.Getenv("FAILFN_INIT_ERROR") + `","errorType":"InitFailed"}`
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewBufferString(body))
	if err != nil {
		os.Exit(4)
	}
	req.Header.Set("Lambda-Runtime-Function-Error-Type", "InitFailed")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusAccepted {
		os.Exit(5)
	}
	os.Exit(1)
}

func main() {
	if os.Getenv("FAILFN_INIT_ERROR") != "" {
		reportInitError()
	}
	lambda.Start(handle)
}
