package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// recorder is a Handler that answers with the route key it was called for and keeps the events.
type recorder struct {
	mu     sync.Mutex
	events []events.APIGatewayV2HTTPRequest
}

func (rec *recorder) handler(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	rec.mu.Lock()
	rec.events = append(rec.events, ev)
	rec.mu.Unlock()
	return events.APIGatewayV2HTTPResponse{
		StatusCode: 200,
		Headers:    map[string]string{"Content-Type": "text/plain"},
		Body:       ev.RouteKey,
	}, nil
}

func (rec *recorder) last(t *testing.T) events.APIGatewayV2HTTPRequest {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.events) == 0 {
		t.Fatal("handler was not called")
	}
	return rec.events[len(rec.events)-1]
}

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func do(t *testing.T, srv *httptest.Server, method, path string, body io.Reader) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, body)
	if err != nil {
		t.Fatalf("NewRequest(%s %s) = %v", method, path, err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s = %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp, string(b)
}

func TestNew_routing(t *testing.T) {
	rec := &recorder{}
	routes := []Route{
		{Method: "ANY", Path: "/v1/forms/{formID}/submissions", Handler: rec.handler},
		{Method: "GET", Path: "/v1/forms/{formID}", Handler: rec.handler},
		{Method: "GET", Path: "/v1/forms/latest", Handler: rec.handler},
		{Method: "DELETE", Path: "/v1/forms/{formID}", Handler: rec.handler},
		{Method: "GET", Path: "/files/{proxy+}", Handler: rec.handler},
		{Method: "GET", Path: "/files/special/{proxy+}", Handler: rec.handler},
		{Method: "ANY", Path: "/health", Handler: rec.handler},
		{Method: "GET", Path: "/health", Handler: rec.handler},
		{Method: "GET", Path: "/", Handler: rec.handler},
	}
	srv := httptest.NewServer(New(routes, Options{Log: discardLog()}))
	defer srv.Close()

	tests := []struct {
		method, path string
		wantStatus   int
		wantRoute    string
		wantParams   map[string]string
	}{
		{"POST", "/v1/forms/abc/submissions", 200, "ANY /v1/forms/{formID}/submissions", map[string]string{"formID": "abc"}},
		{"PATCH", "/v1/forms/abc/submissions", 200, "ANY /v1/forms/{formID}/submissions", map[string]string{"formID": "abc"}},
		{"GET", "/v1/forms/abc/submissions?page=2", 200, "ANY /v1/forms/{formID}/submissions", map[string]string{"formID": "abc"}},
		{"GET", "/v1/forms/f%20one", 200, "GET /v1/forms/{formID}", map[string]string{"formID": "f one"}},
		{"GET", "/v1/forms/latest", 200, "GET /v1/forms/latest", nil},
		{"DELETE", "/v1/forms/abc", 200, "DELETE /v1/forms/{formID}", map[string]string{"formID": "abc"}},
		{"GET", "/files/a/b/c.txt", 200, "GET /files/{proxy+}", map[string]string{"proxy": "a/b/c.txt"}},
		{"GET", "/files/special/x", 200, "GET /files/special/{proxy+}", map[string]string{"proxy": "x"}},
		{"GET", "/files/specialx/y", 200, "GET /files/{proxy+}", map[string]string{"proxy": "specialx/y"}},
		{"GET", "/health", 200, "GET /health", nil},
		{"HEAD", "/health", 200, "ANY /health", nil},
		{"GET", "/", 200, "GET /", nil},

		{"PUT", "/v1/forms/abc", 404, "", nil},          // method not routed
		{"GET", "/v1/forms", 404, "", nil},              // too short
		{"GET", "/v1/forms//submissions", 404, "", nil}, // empty variable
		{"GET", "/v1/forms/abc/", 404, "", nil},         // trailing slash is another path
		{"GET", "/files", 404, "", nil},                 // greedy needs a segment
		{"GET", "/files/", 404, "", nil},
		{"GET", "/nope", 404, "", nil},
	}
	for _, tt := range tests {
		resp, body := do(t, srv, tt.method, tt.path, nil)
		if resp.StatusCode != tt.wantStatus {
			t.Errorf("%s %s = %d %q; want %d", tt.method, tt.path, resp.StatusCode, body, tt.wantStatus)
			continue
		}
		if resp.Header.Get("Apigw-Requestid") == "" {
			t.Errorf("%s %s apigw-requestid header missing", tt.method, tt.path)
		}
		if tt.wantStatus == 404 {
			if body != `{"message":"Not Found"}` || resp.Header.Get("Content-Type") != "application/json" {
				t.Errorf("%s %s = %q (%s); want API Gateway's {\"message\":\"Not Found\"}", tt.method, tt.path, body, resp.Header.Get("Content-Type"))
			}
			continue
		}
		ev := rec.last(t)
		if tt.method != "HEAD" && body != tt.wantRoute {
			t.Errorf("%s %s answered %q; want %q", tt.method, tt.path, body, tt.wantRoute)
		}
		if ev.RouteKey != tt.wantRoute || ev.RequestContext.RouteKey != tt.wantRoute {
			t.Errorf("%s %s routeKey = %q, requestContext.routeKey = %q; want %q", tt.method, tt.path, ev.RouteKey, ev.RequestContext.RouteKey, tt.wantRoute)
		}
		if !reflect.DeepEqual(ev.PathParameters, tt.wantParams) {
			t.Errorf("%s %s pathParameters = %v; want %v", tt.method, tt.path, ev.PathParameters, tt.wantParams)
		}
		if ev.RequestContext.HTTP.Method != tt.method {
			t.Errorf("%s %s requestContext.http.method = %q", tt.method, tt.path, ev.RequestContext.HTTP.Method)
		}
		if got := resp.Header.Get("Apigw-Requestid"); got != ev.RequestContext.RequestID {
			t.Errorf("%s %s apigw-requestid = %q; want the event's requestId %q", tt.method, tt.path, got, ev.RequestContext.RequestID)
		}
	}
}

func TestNew_defaultRouteAndOptions(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(New([]Route{
		{Method: "GET", Path: "/a", Handler: rec.handler},
		{Path: "$default", Handler: rec.handler},
	}, Options{Stage: "dev", AccountID: "444455556666", APIID: "abc123", Log: discardLog()}))
	defer srv.Close()

	tests := []struct {
		method, path string
		wantStatus   int
		wantRoute    string
	}{
		{"GET", "/dev/a", 200, "GET /a"},
		{"POST", "/dev/a", 200, "$default"},
		{"GET", "/dev/anything/else", 200, "$default"},
		{"GET", "/dev", 200, "$default"},
		{"GET", "/a", 404, ""},      // outside the stage
		{"GET", "/devx/a", 404, ""}, // not the stage
	}
	for _, tt := range tests {
		resp, body := do(t, srv, tt.method, tt.path, nil)
		if resp.StatusCode != tt.wantStatus {
			t.Errorf("%s %s = %d %q; want %d", tt.method, tt.path, resp.StatusCode, body, tt.wantStatus)
			continue
		}
		if tt.wantStatus != 200 {
			continue
		}
		ev := rec.last(t)
		if ev.RouteKey != tt.wantRoute {
			t.Errorf("%s %s routeKey = %q; want %q", tt.method, tt.path, ev.RouteKey, tt.wantRoute)
		}
		rc := ev.RequestContext
		if rc.Stage != "dev" || rc.AccountID != "444455556666" || rc.APIID != "abc123" {
			t.Errorf("%s %s stage, accountId, apiId = %q, %q, %q; want dev, 444455556666, abc123", tt.method, tt.path, rc.Stage, rc.AccountID, rc.APIID)
		}
		// As on AWS, a named stage stays in the paths.
		if ev.RawPath != tt.path || rc.HTTP.Path != tt.path {
			t.Errorf("%s %s rawPath, http.path = %q, %q; want %q", tt.method, tt.path, ev.RawPath, rc.HTTP.Path, tt.path)
		}
		if rc.DomainName != "127.0.0.1" || rc.HTTP.SourceIP != "127.0.0.1" {
			t.Errorf("%s %s domainName, sourceIp = %q, %q; want 127.0.0.1", tt.method, tt.path, rc.DomainName, rc.HTTP.SourceIP)
		}
	}
}

func TestNew_invalidRoutesLeftOut(t *testing.T) {
	rec := &recorder{}
	var logBuf bytes.Buffer
	h := New([]Route{
		{Method: "GET", Path: "/ok", Handler: rec.handler},
		{Method: "GET", Path: "/ok", Handler: rec.handler},         // duplicate
		{Method: "GET", Path: "no-slash", Handler: rec.handler},    // relative
		{Method: "GET", Path: "/{proxy+}/x", Handler: rec.handler}, // greedy not last
		{Method: "GET", Path: "/a{b}", Handler: rec.handler},       // partial variable
		{Method: "GET", Path: "/{a}/{a}", Handler: rec.handler},    // repeated name
		{Method: "GET", Path: "/nohandler"},                        // no handler
	}, Options{Log: slog.New(slog.NewTextHandler(&logBuf, nil))})
	if got := len(h.(*gateway).routes); got != 1 {
		t.Errorf("New(7 routes, 6 invalid) kept %d routes; want 1", got)
	}
	if got := strings.Count(logBuf.String(), "route left out"); got != 6 {
		t.Errorf("New(7 routes, 6 invalid) logged %d errors; want 6:\n%s", got, logBuf.String())
	}
}

func TestNew_handlerFailure(t *testing.T) {
	var logBuf bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(&lockedWriter{mu: &mu, w: &logBuf}, nil))
	srv := httptest.NewServer(New([]Route{
		{Method: "GET", Path: "/err", Handler: func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			return events.APIGatewayV2HTTPResponse{}, errors.New("database on fire")
		}},
		{Method: "GET", Path: "/panic", Handler: func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			panic("handler bug") // what a Lambda function's programming error looks like to the runtime
		}},
		{Method: "GET", Path: "/badbase64", Handler: func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			return events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: "%%%", IsBase64Encoded: true}, nil
		}},
	}, Options{Log: log}))
	defer srv.Close()

	for _, path := range []string{"/err", "/panic", "/badbase64"} {
		resp, body := do(t, srv, "GET", path, nil)
		if resp.StatusCode != 500 || body != `{"message":"Internal Server Error"}` {
			t.Errorf("GET %s = %d %q; want 500 {\"message\":\"Internal Server Error\"}", path, resp.StatusCode, body)
		}
	}
	mu.Lock()
	logged := logBuf.String()
	mu.Unlock()
	for _, want := range []string{"database on fire", "handler panicked", "decode base64"} {
		if !strings.Contains(logged, want) || !strings.Contains(logged, "level=ERROR") {
			t.Errorf("log = %q; want an ERROR line with %q", logged, want)
		}
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestNew_payloadLimit(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(New([]Route{{Method: "POST", Path: "/up", Handler: rec.handler}}, Options{Log: discardLog()}))
	defer srv.Close()

	resp, body := do(t, srv, "POST", "/up", bytes.NewReader(make([]byte, MaxPayload+1)))
	if resp.StatusCode != http.StatusRequestEntityTooLarge || body != `{"message":"Request Entity Too Large"}` {
		t.Errorf("POST /up with 10 MB + 1 = %d %q; want 413 {\"message\":\"Request Entity Too Large\"}", resp.StatusCode, body)
	}
	if len(rec.events) != 0 {
		t.Errorf("POST /up with 10 MB + 1 called the handler; want not")
	}
	resp, _ = do(t, srv, "POST", "/up", bytes.NewReader(make([]byte, MaxPayload)))
	if resp.StatusCode != 200 {
		t.Errorf("POST /up with 10 MB = %d; want 200", resp.StatusCode)
	}
}

func TestNew_endToEnd(t *testing.T) {
	srv := httptest.NewServer(New([]Route{{Method: "POST", Path: "/v1/forms/{formID}/submissions",
		Handler: func(_ context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			out, err := json.Marshal(map[string]any{
				"formID": ev.PathParameters["formID"], "body": ev.Body, "b64": ev.IsBase64Encoded,
				"cookies": ev.Cookies, "q": ev.QueryStringParameters["tag"],
			})
			if err != nil {
				return events.APIGatewayV2HTTPResponse{}, err
			}
			return events.APIGatewayV2HTTPResponse{
				StatusCode: 202,
				Headers:    map[string]string{"Content-Type": "application/json"},
				Cookies:    []string{"seen=1; Path=/"},
				Body:       string(out),
			}, nil
		}}}, Options{Log: discardLog()}))
	defer srv.Close()

	req, err := http.NewRequest("POST", srv.URL+"/v1/forms/F1/submissions?tag=a&tag=b", strings.NewReader("email=ada%40example.com"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Cookie", "sid=xyz")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("POST submissions = %v", err)
	}
	defer resp.Body.Close()
	var got map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatalf("decode response: %v", err)
	}
	want := map[string]any{"formID": "F1", "body": "ZW1haWw9YWRhJTQwZXhhbXBsZS5jb20=", "b64": true, "cookies": []any{"sid=xyz"}, "q": "a,b"}
	if resp.StatusCode != 202 || !reflect.DeepEqual(got, want) {
		t.Errorf("POST submissions = %d %v; want 202 %v", resp.StatusCode, got, want)
	}
	if got := resp.Header.Values("Set-Cookie"); !reflect.DeepEqual(got, []string{"seen=1; Path=/"}) {
		t.Errorf("POST submissions Set-Cookie = %q; want [seen=1; Path=/]", got)
	}
}
