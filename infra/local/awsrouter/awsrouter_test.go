package awsrouter

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// sigv4 returns an Authorization header value scoped to service.
func sigv4(service string) string {
	return "AWS4-HMAC-SHA256 Credential=local/20260101/eu-north-1/" + service +
		"/aws4_request, SignedHeaders=host;x-amz-date, Signature=0123abcd"
}

// echoBackend answers with its name and what it received, so a test can see where a request went.
func echoBackend(t *testing.T, name string) *url.URL {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "backend=%s method=%s path=%s query=%s host=%s expect=%q body=%s",
			name, r.Method, r.URL.Path, r.URL.RawQuery, r.Host, r.Header.Get("Expect"), body)
	}))
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatalf("url.Parse(%q) = %v", srv.URL, err)
	}
	return u
}

func newRouter(t *testing.T) *httptest.Server {
	t.Helper()
	routes := map[string]*url.URL{}
	for _, name := range []string{"dynamodb", "kms", "s3", "ses"} {
		routes[name] = echoBackend(t, name)
	}
	srv := httptest.NewServer(New(routes))
	t.Cleanup(srv.Close)
	return srv
}

func TestRouter_routes(t *testing.T) {
	router := newRouter(t)
	tests := []struct {
		name     string
		method   string
		target   string // path and query
		header   map[string]string
		body     string
		wantCode int
		want     []string // substrings of the answer
	}{
		{
			name: "dynamodb", method: "POST", target: "/",
			header:   map[string]string{"Authorization": sigv4("dynamodb"), "X-Amz-Target": "DynamoDB_20120810.PutItem"},
			body:     `{"TableName":"t"}`,
			wantCode: 200, want: []string{"backend=dynamodb", `body={"TableName":"t"}`},
		},
		{
			name: "dynamodb streams sign as dynamodb", method: "POST", target: "/",
			header:   map[string]string{"Authorization": sigv4("dynamodb"), "X-Amz-Target": "DynamoDBStreams_20120810.GetRecords"},
			wantCode: 200, want: []string{"backend=dynamodb"},
		},
		{
			name: "kms", method: "POST", target: "/",
			header:   map[string]string{"Authorization": sigv4("kms")},
			wantCode: 200, want: []string{"backend=kms"},
		},
		{
			name: "s3 keeps path, query and host", method: "PUT", target: "/bucket/a/b.txt?x-id=PutObject",
			header:   map[string]string{"Authorization": sigv4("s3"), "Host": "client.example:1234"},
			body:     "object",
			wantCode: 200, want: []string{"backend=s3", "method=PUT", "path=/bucket/a/b.txt", "query=x-id=PutObject", "host=client.example:1234", "body=object"},
		},
		{
			name: "s3 drops expect", method: "PUT", target: "/bucket/k",
			header:   map[string]string{"Authorization": sigv4("s3"), "Expect": "100-continue"},
			body:     "object",
			wantCode: 200, want: []string{"backend=s3", `expect=""`, "body=object"},
		},
		{
			name: "s3 presigned", method: "GET",
			target:   "/bucket/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=local%2F20260101%2Feu-north-1%2Fs3%2Faws4_request&X-Amz-Signature=00",
			wantCode: 200, want: []string{"backend=s3", "path=/bucket/k"},
		},
		{
			name: "ses v2", method: "POST", target: "/v2/email/outbound-emails",
			header:   map[string]string{"Authorization": sigv4("ses")},
			wantCode: 200, want: []string{"backend=ses", "path=/v2/email/outbound-emails"},
		},
		{
			name: "sigv4a scope has no region", method: "GET", target: "/bucket/k",
			header:   map[string]string{"Authorization": "AWS4-ECDSA-P256-SHA256 Credential=local/20260101/s3/aws4_request, SignedHeaders=host, Signature=00"},
			wantCode: 200, want: []string{"backend=s3"},
		},
		{
			name: "service is case-insensitive", method: "POST", target: "/",
			header:   map[string]string{"Authorization": sigv4("KMS")},
			wantCode: 200, want: []string{"backend=kms"},
		},
		{
			name: "unsigned", method: "GET", target: "/",
			wantCode: 400, want: []string{"not SigV4-signed"},
		},
		{
			name: "unknown service", method: "POST", target: "/",
			header:   map[string]string{"Authorization": sigv4("sqs")},
			wantCode: 400, want: []string{`no stand-in for AWS service "sqs"`, "dynamodb, kms, s3, ses"},
		},
		{
			name: "authorization without credential", method: "POST", target: "/",
			header:   map[string]string{"Authorization": "Bearer abc"},
			wantCode: 400, want: []string{"no SigV4 Credential"},
		},
		{
			name: "malformed scope", method: "POST", target: "/",
			header:   map[string]string{"Authorization": "AWS4-HMAC-SHA256 Credential=local/20260101/kms, Signature=00"},
			wantCode: 400, want: []string{"malformed SigV4 credential scope"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, router.URL+tc.target, strings.NewReader(tc.body))
			if err != nil {
				t.Fatalf("NewRequest: %v", err)
			}
			for k, v := range tc.header {
				if k == "Host" {
					req.Host = v
					continue
				}
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", tc.method, tc.target, err)
			}
			defer resp.Body.Close()
			got, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.wantCode {
				t.Errorf("%s %s status = %d (%s); want %d", tc.method, tc.target, resp.StatusCode, got, tc.wantCode)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(got), w) {
					t.Errorf("%s %s answer = %q; want it to contain %q", tc.method, tc.target, got, w)
				}
			}
		})
	}
}

func TestService_cases(t *testing.T) {
	tests := []struct {
		auth, query string
		want        string
		wantErr     bool
	}{
		{auth: sigv4("dynamodb"), want: "dynamodb"},
		{auth: "AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-north-1/ses/aws4_request,SignedHeaders=host,Signature=1", want: "ses"},
		{query: "X-Amz-Credential=AKID%2F20260101%2Feu-north-1%2Fs3%2Faws4_request", want: "s3"},
		{auth: sigv4("kms"), query: "X-Amz-Credential=AKID%2F20260101%2Feu-north-1%2Fs3%2Faws4_request", want: "kms"},
		// A browser or curl following a presigned link with a bearer token of its own.
		{auth: "Bearer eyJhbGciOi", query: "X-Amz-Credential=AKID%2F20260101%2Feu-north-1%2Fs3%2Faws4_request", want: "s3"},
		{auth: "Bearer eyJhbGciOi", wantErr: true},
		{auth: "AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-north-1//aws4_request", wantErr: true},
		{auth: "AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-north-1/s3/other", wantErr: true},
		{query: "X-Amz-Credential=", wantErr: true},
		{wantErr: true},
	}
	for _, tc := range tests {
		r := httptest.NewRequest("GET", "/?"+tc.query, nil)
		if tc.auth != "" {
			r.Header.Set("Authorization", tc.auth)
		}
		got, err := Service(r)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("Service(auth=%q, query=%q) = %q, %v; want %q, error %v", tc.auth, tc.query, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestRouter_backendDown(t *testing.T) {
	// A port that was free a moment ago: nothing answers there.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	dead := &url.URL{Scheme: "http", Host: ln.Addr().String()}
	ln.Close()
	router := httptest.NewServer(New(map[string]*url.URL{"kms": dead, "s3": nil}))
	defer router.Close()

	tests := []struct {
		service  string
		wantCode int
		want     string
	}{
		{service: "kms", wantCode: http.StatusBadGateway, want: "kms stand-in at " + dead.String()},
		{service: "s3", wantCode: http.StatusBadRequest, want: `no stand-in for AWS service "s3" (routed: kms)`},
	}
	for _, tc := range tests {
		req, _ := http.NewRequest("POST", router.URL+"/", nil)
		req.Header.Set("Authorization", sigv4(tc.service))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("POST for %s: %v", tc.service, err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.wantCode || !strings.Contains(string(got), tc.want) {
			t.Errorf("POST for %s = %d %q; want %d containing %q", tc.service, resp.StatusCode, got, tc.wantCode, tc.want)
		}
	}
}

// TestRouter_streamsRequestBody shows the backend gets the first bytes of a body the client has not
// finished sending, so the router does not buffer requests.
func TestRouter_streamsRequestBody(t *testing.T) {
	gotFirst := make(chan string, 1)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		first := make([]byte, 5)
		if _, err := io.ReadFull(r.Body, first); err != nil {
			t.Errorf("backend read first bytes: %v", err)
		}
		gotFirst <- string(first)
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "rest=%d", n)
	}))
	defer backend.Close()
	u, _ := url.Parse(backend.URL)
	router := httptest.NewServer(New(map[string]*url.URL{"s3": u}))
	defer router.Close()

	pr, pw := io.Pipe()
	req, _ := http.NewRequest("PUT", router.URL+"/b/k", pr)
	req.Header.Set("Authorization", sigv4("s3"))
	type result struct {
		body string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		done <- result{body: string(b), err: err}
	}()
	if _, err := pw.Write([]byte("hello")); err != nil {
		t.Fatalf("write first bytes: %v", err)
	}
	select {
	case got := <-gotFirst:
		if got != "hello" {
			t.Errorf("backend first bytes = %q; want %q", got, "hello")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("backend did not see the first bytes before the body was complete")
	}
	if _, err := pw.Write([]byte(" world")); err != nil {
		t.Fatalf("write rest: %v", err)
	}
	pw.Close()
	res := <-done
	if res.err != nil || res.body != "rest=6" {
		t.Errorf("PUT answer = %q, %v; want %q", res.body, res.err, "rest=6")
	}
}

// TestRouter_streamsResponseBody shows the client gets the first bytes of an answer the backend has not
// finished writing.
func TestRouter_streamsResponseBody(t *testing.T) {
	release := make(chan struct{})
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "10")
		io.WriteString(w, "first")
		w.(http.Flusher).Flush()
		<-release
		io.WriteString(w, "final")
	}))
	defer backend.Close()
	defer close(release)
	u, _ := url.Parse(backend.URL)
	router := httptest.NewServer(New(map[string]*url.URL{"s3": u}))
	defer router.Close()

	req, _ := http.NewRequest("GET", router.URL+"/b/k", nil)
	req.Header.Set("Authorization", sigv4("s3"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	defer resp.Body.Close()
	first := make([]byte, 5)
	got := make(chan error, 1)
	go func() {
		_, err := io.ReadFull(resp.Body, first)
		got <- err
	}()
	select {
	case err := <-got:
		if err != nil || string(first) != "first" {
			t.Errorf("first bytes = %q, %v; want %q", first, err, "first")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("client did not get the first bytes before the answer was complete")
	}
}

func TestRouter_largeBody(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Echo the body back, as an S3 PUT then GET would.
		w.Header().Set("Content-Length", r.Header.Get("Content-Length"))
		io.Copy(w, r.Body)
	}))
	defer backend.Close()
	u, _ := url.Parse(backend.URL)
	router := httptest.NewServer(New(map[string]*url.URL{"s3": u}))
	defer router.Close()

	body := bytes.Repeat([]byte("0123456789abcdef"), 40<<20/16) // 40 MiB
	req, _ := http.NewRequest("PUT", router.URL+"/b/big", bytes.NewReader(body))
	req.Header.Set("Authorization", sigv4("s3"))
	req.Header.Set("Expect", "100-continue")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("PUT 40 MiB: %v", err)
	}
	defer resp.Body.Close()
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	if err != nil || n != int64(len(body)) {
		t.Fatalf("PUT 40 MiB echoed %d bytes, %v; want %d", n, err, len(body))
	}
	if got, want := h.Sum(nil), sha256.Sum256(body); !bytes.Equal(got, want[:]) {
		t.Errorf("PUT 40 MiB echoed sha256 %x; want %x", got, want)
	}
}
