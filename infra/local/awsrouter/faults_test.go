package awsrouter

import (
	"bytes"
	"compress/gzip"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseFaults_cases(t *testing.T) {
	tests := []struct {
		name     string
		spec     string
		wantSeed uint64
		want     []Rule
		wantErr  string
	}{
		{name: "empty", spec: "", wantSeed: 1},
		{name: "one rule", spec: "dynamodb:PutItem:throttle:0.1", wantSeed: 1,
			want: []Rule{{Service: "dynamodb", Operation: "PutItem", Kind: Throttle, Rate: 0.1}}},
		{name: "several with seed and after", spec: "dynamodb:*:5xx@after:0.05, s3:PUT/bucket/:drop:1;seed=42", wantSeed: 42,
			want: []Rule{{Service: "dynamodb", Operation: "*", Kind: ServerError, After: true, Rate: 0.05},
				{Service: "s3", Operation: "PUT/bucket/", Kind: Drop, Rate: 1}}},
		{name: "too few fields", spec: "kms:Decrypt:0.1", wantErr: "want service:operation:kind:rate"},
		{name: "bad kind", spec: "kms:Decrypt:explode:0.1", wantErr: `kind "explode"`},
		{name: "bad service", spec: "sqs:*:drop:0.1", wantErr: `service "sqs"`},
		{name: "rate out of range", spec: "ses:*:drop:1.5", wantErr: "not within 0..1"},
		{name: "rate not a number", spec: "ses:*:drop:lots", wantErr: "not a number"},
		{name: "bad seed", spec: "ses:*:drop:0.1;seed=-1", wantErr: "seed"},
		{name: "bad option", spec: "ses:*:drop:0.1;speed=1", wantErr: "unknown option"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seed, rules, err := ParseFaults(tt.spec)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseFaults(%q) error = %v; want one containing %q", tt.spec, err, tt.wantErr)
				}
				return
			}
			if err != nil || seed != tt.wantSeed || len(rules) != len(tt.want) {
				t.Fatalf("ParseFaults(%q) = %d, %v, %v; want %d, %v", tt.spec, seed, rules, err, tt.wantSeed, tt.want)
			}
			for i := range rules {
				if rules[i] != tt.want[i] {
					t.Errorf("rule %d = %+v; want %+v", i, rules[i], tt.want[i])
				}
			}
		})
	}
}

// countingBackend answers 200 "ok" and counts the requests it got.
func countingBackend(t *testing.T, n *atomic.Int64) *url.URL {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		n.Add(1)
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return u
}

func faultyRouter(t *testing.T, f *Faults) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	routes := map[string]*url.URL{}
	for _, name := range []string{"dynamodb", "kms", "s3", "ses"} {
		routes[name] = countingBackend(t, &n)
	}
	srv := httptest.NewServer(NewWithFaults(routes, f))
	t.Cleanup(srv.Close)
	return srv, &n
}

func send(t *testing.T, base, service, method, path, target string) (*http.Response, string, error) {
	t.Helper()
	req, _ := http.NewRequest(method, base+path, strings.NewReader("{}"))
	req.Header.Set("Authorization", sigv4(service))
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
	}
	resp, err := (&http.Client{Timeout: 2 * time.Second}).Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b), nil
}

func TestFaults_shapes(t *testing.T) {
	tests := []struct {
		name, rule, service, method, path, target string
		wantStatus                                int
		want                                      []string // in the body or as "header: value"
	}{
		{"dynamodb throttle", "dynamodb:PutItem:throttle:1", "dynamodb", "POST", "/", "DynamoDB_20120810.PutItem",
			400, []string{`"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException"`, "Content-Type: application/x-amz-json-1.0"}},
		{"dynamodb 5xx", "dynamodb:*:5xx:1", "dynamodb", "POST", "/", "DynamoDB_20120810.Query",
			500, []string{"#InternalServerError"}},
		{"kms throttle", "kms:Decrypt:throttle:1", "kms", "POST", "/", "TrentService.Decrypt",
			400, []string{`"__type":"ThrottlingException"`, "Content-Type: application/x-amz-json-1.1"}},
		{"kms 5xx", "kms:*:5xx:1", "kms", "POST", "/", "TrentService.GenerateDataKey",
			500, []string{`"__type":"KMSInternalException"`}},
		{"s3 throttle", "s3:PUT:throttle:1", "s3", "PUT", "/bucket/key", "",
			503, []string{"<Code>SlowDown</Code>"}},
		{"s3 5xx", "s3:GET/bucket/:5xx:1", "s3", "GET", "/bucket/key", "",
			500, []string{"<Code>InternalError</Code>"}},
		{"ses v2 throttle", "ses:POST/v2/:throttle:1", "ses", "POST", "/v2/email/outbound-emails", "",
			429, []string{"X-Amzn-Errortype: TooManyRequestsException"}},
		{"ses v1 throttle", "ses:POST:throttle:1", "ses", "POST", "/", "",
			400, []string{"<Code>Throttling</Code>"}},
		{"ses v2 5xx", "ses:*:5xx:1", "ses", "POST", "/v2/email/outbound-emails", "",
			500, []string{"X-Amzn-Errortype: InternalFailure"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := NewFaults()
			if err := f.SetSpec(tt.rule); err != nil {
				t.Fatal(err)
			}
			srv, backend := faultyRouter(t, f)
			resp, body, err := send(t, srv.URL, tt.service, tt.method, tt.path, tt.target)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status = %d; want %d (body %s)", resp.StatusCode, tt.wantStatus, body)
			}
			for _, w := range tt.want {
				if k, v, ok := strings.Cut(w, ": "); ok && !strings.Contains(k, `"`) && !strings.Contains(k, "<") {
					if got := resp.Header.Get(k); got != v {
						t.Errorf("header %s = %q; want %q", k, got, v)
					}
				} else if !strings.Contains(body, w) {
					t.Errorf("body %s; want it to contain %s", body, w)
				}
			}
			if n := backend.Load(); n != 0 {
				t.Errorf("stand-ins got %d requests; a fault before the stand-in must not reach it", n)
			}
			if c := f.Counts(); len(c) != 1 || c[0].Matched != 1 || c[0].Injected != 1 {
				t.Errorf("Counts() = %+v; want one rule matched and injected once", c)
			}
		})
	}
}

func TestFaults_operationMismatchPasses(t *testing.T) {
	f := NewFaults()
	if err := f.SetSpec("dynamodb:PutItem:5xx:1,s3:PUT:5xx:1"); err != nil {
		t.Fatal(err)
	}
	srv, backend := faultyRouter(t, f)
	for _, c := range [][4]string{{"dynamodb", "POST", "/", "DynamoDB_20120810.GetItem"}, {"s3", "GET", "/b/k", ""}, {"kms", "POST", "/", "TrentService.Decrypt"}} {
		resp, body, err := send(t, srv.URL, c[0], c[1], c[2], c[3])
		if err != nil || resp.StatusCode != 200 || body != "ok" {
			t.Errorf("%v: %v %v %q; want the stand-in's 200 ok", c, resp, err, body)
		}
	}
	if backend.Load() != 3 {
		t.Errorf("stand-ins got %d requests; want 3", backend.Load())
	}
}

func TestFaults_dropAndAfter(t *testing.T) {
	tests := []struct {
		name        string
		rule        string
		wantBackend int64
	}{
		{"drop before", "kms:*:drop:1", 0},
		{"drop after", "kms:*:drop@after:1", 1},
		{"timeout", "kms:*:timeout:1", 0},
		{"timeout after", "kms:*:timeout@after:1", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := NewFaults()
			f.SetHold(100 * time.Millisecond)
			if err := f.SetSpec(tt.rule); err != nil {
				t.Fatal(err)
			}
			srv, backend := faultyRouter(t, f)
			start := time.Now()
			if resp, body, err := send(t, srv.URL, "kms", "POST", "/", "TrentService.Decrypt"); err == nil {
				t.Fatalf("got %d %q; want the connection closed without an answer", resp.StatusCode, body)
			}
			if strings.HasPrefix(tt.name, "timeout") && time.Since(start) < 100*time.Millisecond {
				t.Errorf("timeout answered after %v; want the request held for 100ms", time.Since(start))
			}
			if n := backend.Load(); n != tt.wantBackend {
				t.Errorf("stand-in got %d requests; want %d", n, tt.wantBackend)
			}
		})
	}
}

func TestFaults_afterDiscardsAnswer(t *testing.T) {
	f := NewFaults()
	if err := f.SetSpec("dynamodb:PutItem:5xx@after:1"); err != nil {
		t.Fatal(err)
	}
	srv, backend := faultyRouter(t, f)
	resp, body, err := send(t, srv.URL, "dynamodb", "POST", "/", "DynamoDB_20120810.PutItem")
	if err != nil || resp.StatusCode != 500 || strings.Contains(body, "ok") {
		t.Fatalf("got %v %q %v; want the injected 500 instead of the stand-in's answer", resp, body, err)
	}
	if backend.Load() != 1 {
		t.Errorf("stand-in got %d requests; want 1: the request takes effect, its answer is lost", backend.Load())
	}
}

// TestFaults_seededRate checks that a rate is honoured and that the same seed picks the same requests.
func TestFaults_seededRate(t *testing.T) {
	pattern := func(seed uint64) string {
		f := NewFaults()
		if err := f.Set(seed, Rule{Service: "*", Operation: "*", Kind: ServerError, Rate: 0.25}); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		r := httptest.NewRequest("POST", "/", nil)
		for range 2000 {
			_, _, hit := f.pick("kms", r)
			b.WriteByte("01"[map[bool]int{false: 0, true: 1}[hit]])
		}
		if c := f.Counts()[0]; c.Matched != 2000 || c.Injected < 400 || c.Injected > 600 {
			t.Errorf("seed %d: %+v; want about 500 of 2000 injected", seed, c)
		}
		return b.String()
	}
	if a, b := pattern(7), pattern(7); a != b {
		t.Error("same seed gave different faults")
	}
	if pattern(7) == pattern(8) {
		t.Error("different seeds gave the same faults")
	}
}

// TestRouter_bodyAndHeadersUntouched sends a request whose answer is gzip-encoded with an X-Amz-Crc32 of
// the encoded bytes, as DynamoDB does, and checks that the client gets exactly the stand-in's bytes and
// headers, whether or not the client asked for gzip.
func TestRouter_bodyAndHeadersUntouched(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(bytes.Repeat([]byte(`{"Items":[{"pk":{"S":"x"}}]}`), 200))
	_ = zw.Close()
	encoded := gz.Bytes()
	crc := strconv.FormatUint(uint64(crc32.ChecksumIEEE(encoded)), 10)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("X-Amz-Crc32", crc)
		w.Header().Set("Content-Length", strconv.Itoa(len(encoded)))
		w.Header().Set("X-Seen-Accept-Encoding", r.Header.Get("Accept-Encoding"))
		_, _ = w.Write(encoded)
	}))
	t.Cleanup(backend.Close)
	u, _ := url.Parse(backend.URL)
	router := httptest.NewServer(NewWithFaults(map[string]*url.URL{"dynamodb": u}, NewFaults()))
	t.Cleanup(router.Close)

	for _, ae := range []string{"", "identity", "gzip"} {
		fetch := func(base string) (*http.Response, []byte) {
			req, _ := http.NewRequest("POST", base+"/", strings.NewReader("{}"))
			req.Header.Set("Authorization", sigv4("dynamodb"))
			if ae != "" {
				req.Header.Set("Accept-Encoding", ae)
			}
			// A bare Transport with compression off: the test sees the wire bytes.
			resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp, b
		}
		direct, directBody := fetch(backend.URL)
		routed, routedBody := fetch(router.URL)
		if !bytes.Equal(directBody, routedBody) {
			t.Errorf("Accept-Encoding %q: routed body differs from the stand-in's (%d vs %d bytes)", ae, len(routedBody), len(directBody))
		}
		for _, h := range []string{"Content-Type", "Content-Encoding", "X-Amz-Crc32", "Content-Length", "X-Seen-Accept-Encoding"} {
			if direct.Header.Get(h) != routed.Header.Get(h) {
				t.Errorf("Accept-Encoding %q: header %s routed %q, direct %q", ae, h, routed.Header.Get(h), direct.Header.Get(h))
			}
		}
		if got := strconv.FormatUint(uint64(crc32.ChecksumIEEE(routedBody)), 10); got != routed.Header.Get("X-Amz-Crc32") {
			t.Errorf("Accept-Encoding %q: CRC32 of routed body %s, header %s", ae, got, routed.Header.Get("X-Amz-Crc32"))
		}
	}
}
