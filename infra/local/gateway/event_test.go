package gateway

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// testdata reads one of aws-lambda-go's sample events from the module cache.
func testdata(t *testing.T, name string) []byte {
	t.Helper()
	dir := lambdaGoDir(t)
	b, err := os.ReadFile(filepath.Join(dir, "events", "testdata", name))
	if err != nil {
		t.Fatalf("read aws-lambda-go testdata: %v", err)
	}
	return b
}

// lambdaGoDir finds the directory of the aws-lambda-go module that go.mod selects.
func lambdaGoDir(t *testing.T) string {
	t.Helper()
	lambdaGoOnce.Do(func() {
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/aws/aws-lambda-go").Output()
		if err != nil {
			lambdaGoErr = fmt.Errorf("go list -m github.com/aws/aws-lambda-go: %w", err)
			return
		}
		lambdaGoPath = strings.TrimSpace(string(out))
		if lambdaGoPath == "" {
			lambdaGoErr = errors.New("go list -m github.com/aws/aws-lambda-go: module not downloaded")
		}
	})
	if lambdaGoErr != nil {
		t.Fatalf("find aws-lambda-go testdata: %v", lambdaGoErr)
	}
	return lambdaGoPath
}

var (
	lambdaGoOnce sync.Once
	lambdaGoPath string
	lambdaGoErr  error
)

func loadEvent(t *testing.T, name string) events.APIGatewayV2HTTPRequest {
	t.Helper()
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(testdata(t, name), &ev); err != nil {
		t.Fatalf("unmarshal %s: %v", name, err)
	}
	return ev
}

var (
	requestIDRE = regexp.MustCompile(`^[A-Za-z0-9_-]{15}=$`)
	traceIDRE   = regexp.MustCompile(`^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$`)
)

// TestToEvent_matchesAWSSample rebuilds the request behind aws-lambda-go's
// apigw-v2-request-no-authorizer.json (a real curl request through an HTTP API) and checks that
// ToEvent produces the same event, apart from the values that are random or AWS-only.
func TestToEvent_matchesAWSSample(t *testing.T) {
	want := loadEvent(t, "apigw-v2-request-no-authorizer.json")

	r := httptest.NewRequest(http.MethodGet, "https://aaaaaaaaaa.execute-api.us-west-2.amazonaws.com/", nil)
	r.RemoteAddr = "1.2.3.4:51234"
	r.TLS = &tls.ConnectionState{}
	r.Header = http.Header{
		"Accept":          {"*/*"},
		"User-Agent":      {"curl/7.58.0"},
		"X-Amzn-Trace-Id": {"Root=1-5e9f0c65-1de4d666d4dd26aced652b6c"},
	}
	got, err := ToEvent(r, "$default", nil)
	if err != nil {
		t.Fatalf("ToEvent(GET /) = %v", err)
	}

	if !requestIDRE.MatchString(got.RequestContext.RequestID) {
		t.Errorf("ToEvent(GET /) requestId = %q; want API Gateway's shape like %q", got.RequestContext.RequestID, want.RequestContext.RequestID)
	}
	ts, err := time.Parse(timeLayout, got.RequestContext.Time)
	if err != nil {
		t.Errorf("ToEvent(GET /) time = %q; want layout %q: %v", got.RequestContext.Time, timeLayout, err)
	} else if ts.Unix() != got.RequestContext.TimeEpoch/1000 {
		t.Errorf("ToEvent(GET /) time %q and timeEpoch %d disagree", got.RequestContext.Time, got.RequestContext.TimeEpoch)
	}
	if _, err := time.Parse(timeLayout, want.RequestContext.Time); err != nil {
		t.Errorf("sample time %q does not parse with %q: %v", want.RequestContext.Time, timeLayout, err)
	}
	if d := time.Since(time.UnixMilli(got.RequestContext.TimeEpoch)); d < 0 || d > time.Minute {
		t.Errorf("ToEvent(GET /) timeEpoch = %d; want now", got.RequestContext.TimeEpoch)
	}

	// Fields that are random, or that only AWS knows, are taken from the sample.
	got.RequestContext.RequestID = want.RequestContext.RequestID
	got.RequestContext.Time = want.RequestContext.Time
	got.RequestContext.TimeEpoch = want.RequestContext.TimeEpoch
	got.RequestContext.AccountID = want.RequestContext.AccountID
	got.RequestContext.APIID = want.RequestContext.APIID
	want.RequestContext.Authentication = events.APIGatewayV2HTTPRequestContextAuthentication{} // mTLS only
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ToEvent(GET /) =\n%s\nwant\n%s", mustJSON(t, got), mustJSON(t, want))
	}
}

// TestToEvent_queryCookiesBody checks the parts of aws-lambda-go's apigw-v2-request-iam.json sample
// that come from the request: rawQueryString, queryStringParameters, cookies and a JSON body.
func TestToEvent_queryCookiesBody(t *testing.T) {
	want := loadEvent(t, "apigw-v2-request-iam.json")
	r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:8080/my/path?"+want.RawQueryString, strings.NewReader(want.Body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Cookie", strings.Join(want.Cookies, "; "))
	got, err := ToEvent(r, "$default", want.PathParameters)
	if err != nil {
		t.Fatalf("ToEvent(%q) = %v", r.URL, err)
	}
	checks := []struct {
		field     string
		got, want any
	}{
		{"rawPath", got.RawPath, want.RawPath},
		{"rawQueryString", got.RawQueryString, want.RawQueryString},
		{"queryStringParameters", got.QueryStringParameters, want.QueryStringParameters},
		{"cookies", got.Cookies, want.Cookies},
		{"pathParameters", got.PathParameters, want.PathParameters},
		{"body", got.Body, want.Body},
		{"isBase64Encoded", got.IsBase64Encoded, want.IsBase64Encoded},
		{"requestContext.http.path", got.RequestContext.HTTP.Path, want.RequestContext.HTTP.Path},
		{"version", got.Version, want.Version},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("ToEvent(%q).%s = %#v; want %#v", r.URL, c.field, c.got, c.want)
		}
	}
	if _, ok := got.Headers["cookie"]; ok {
		t.Errorf("ToEvent(%q).headers has cookie %q; want it only in cookies", r.URL, got.Headers["cookie"])
	}
}

func TestToEvent_bodyEncoding(t *testing.T) {
	raw := []byte("a=1&b=\x00\xff")
	tests := []struct {
		contentType string
		wantBase64  bool
	}{
		{"text/plain", false},
		{"text/html; charset=utf-8", false},
		{"text/csv", false},
		{"application/json", false},
		{"application/json; charset=UTF-8", false},
		{"Application/JSON", false},
		{"application/problem+json", false},
		{"application/vnd.api+json", false},
		{"application/xml", false},
		{"application/javascript", false},
		{"application/x-www-form-urlencoded", true},
		{"multipart/form-data; boundary=xyz", true},
		{"application/octet-stream", true},
		{"application/pdf", true},
		{"image/png", true},
		{"application/xhtml+xml", true},
		{"", true},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodPost, "/upload", bytes.NewReader(raw))
		if tt.contentType != "" {
			r.Header.Set("Content-Type", tt.contentType)
		}
		ev, err := ToEvent(r, "POST /upload", nil)
		if err != nil {
			t.Fatalf("ToEvent(Content-Type %q) = %v", tt.contentType, err)
		}
		if ev.IsBase64Encoded != tt.wantBase64 {
			t.Errorf("ToEvent(Content-Type %q).isBase64Encoded = %v; want %v", tt.contentType, ev.IsBase64Encoded, tt.wantBase64)
		}
		wantBody := string(raw)
		if tt.wantBase64 {
			wantBody = base64.StdEncoding.EncodeToString(raw)
		}
		if ev.Body != wantBody {
			t.Errorf("ToEvent(Content-Type %q).body = %q; want %q", tt.contentType, ev.Body, wantBody)
		}
	}
}

func TestToEvent_emptyBody(t *testing.T) {
	for _, ct := range []string{"", "application/json", "application/octet-stream"} {
		r := httptest.NewRequest(http.MethodGet, "/x", nil)
		if ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		ev, err := ToEvent(r, "GET /x", nil)
		if err != nil {
			t.Fatalf("ToEvent(GET, Content-Type %q) = %v", ct, err)
		}
		if ev.Body != "" || ev.IsBase64Encoded {
			t.Errorf("ToEvent(GET, Content-Type %q) body = %q, isBase64Encoded = %v; want \"\", false", ct, ev.Body, ev.IsBase64Encoded)
		}
		if ev.Headers["content-length"] != "0" {
			t.Errorf("ToEvent(GET, Content-Type %q).headers[content-length] = %q; want \"0\"", ct, ev.Headers["content-length"])
		}
	}
}

func TestToEvent_headers(t *testing.T) {
	tests := []struct {
		name        string
		header      http.Header
		remote      string
		wantHeaders map[string]string // checked entries
		absent      []string
		wantCookies []string
	}{
		{
			name:        "lower-cased names",
			header:      http.Header{"X-Request-Thing": {"a"}, "Content-Type": {"text/plain"}},
			wantHeaders: map[string]string{"x-request-thing": "a", "content-type": "text/plain", "host": "api.example.com:8080"},
		},
		{
			name:        "repeated headers joined with comma",
			header:      http.Header{"Accept": {"text/html", "application/json"}, "X-Multi": {"1", "2", "3"}},
			wantHeaders: map[string]string{"accept": "text/html,application/json", "x-multi": "1,2,3"},
		},
		{
			name:        "cookies split and removed from headers",
			header:      http.Header{"Cookie": {"session=abc; theme=dark", "lang=sv"}},
			absent:      []string{"cookie"},
			wantCookies: []string{"session=abc", "theme=dark", "lang=sv"},
		},
		{
			name:        "forwarding headers added",
			remote:      "10.1.2.3:4444",
			wantHeaders: map[string]string{"x-forwarded-for": "10.1.2.3", "x-forwarded-proto": "http", "x-forwarded-port": "8080"},
		},
		{
			name:        "client x-forwarded-for is appended to",
			header:      http.Header{"X-Forwarded-For": {"203.0.113.7"}},
			remote:      "10.1.2.3:4444",
			wantHeaders: map[string]string{"x-forwarded-for": "203.0.113.7, 10.1.2.3"},
		},
		{
			name:        "client trace id kept",
			header:      http.Header{"X-Amzn-Trace-Id": {"Root=1-00000000-000000000000000000000000"}},
			wantHeaders: map[string]string{"x-amzn-trace-id": "Root=1-00000000-000000000000000000000000"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "http://api.example.com:8080/h", nil)
			r.Header = tt.header
			if r.Header == nil {
				r.Header = http.Header{}
			}
			if tt.remote != "" {
				r.RemoteAddr = tt.remote
			}
			ev, err := ToEvent(r, "GET /h", nil)
			if err != nil {
				t.Fatalf("ToEvent(%v) = %v", tt.header, err)
			}
			for k, want := range tt.wantHeaders {
				if got, ok := ev.Headers[k]; !ok || got != want {
					t.Errorf("ToEvent(%v).headers[%q] = %q (present %v); want %q", tt.header, k, got, ok, want)
				}
			}
			for _, k := range tt.absent {
				if got, ok := ev.Headers[k]; ok {
					t.Errorf("ToEvent(%v).headers[%q] = %q; want absent", tt.header, k, got)
				}
			}
			if !reflect.DeepEqual(ev.Cookies, tt.wantCookies) {
				t.Errorf("ToEvent(%v).cookies = %q; want %q", tt.header, ev.Cookies, tt.wantCookies)
			}
			for k := range ev.Headers {
				if k != strings.ToLower(k) {
					t.Errorf("ToEvent(%v).headers has %q; want lower-case names", tt.header, k)
				}
			}
			if !traceIDRE.MatchString(ev.Headers["x-amzn-trace-id"]) {
				t.Errorf("ToEvent(%v).headers[x-amzn-trace-id] = %q; want Root=1-<time>-<id>", tt.header, ev.Headers["x-amzn-trace-id"])
			}
		})
	}
}

func TestToEvent_queryAndPath(t *testing.T) {
	tests := []struct {
		target      string
		wantRawPath string
		wantRawQS   string
		wantQS      map[string]string
	}{
		{"/a/b", "/a/b", "", nil},
		{"/a?x=1", "/a", "x=1", map[string]string{"x": "1"}},
		{"/a?x=1&x=2&y=", "/a", "x=1&x=2&y=", map[string]string{"x": "1,2", "y": ""}},
		{"/a?q=caf%C3%A9+au+lait&e=a%26b", "/a", "q=caf%C3%A9+au+lait&e=a%26b", map[string]string{"q": "café au lait", "e": "a&b"}},
		{"/caf%C3%A9/a%20b", "/café/a b", "", nil},
		{"/a?flag", "/a", "flag", map[string]string{"flag": ""}},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodGet, tt.target, nil)
		ev, err := ToEvent(r, "GET /a", nil)
		if err != nil {
			t.Fatalf("ToEvent(%q) = %v", tt.target, err)
		}
		if ev.RawPath != tt.wantRawPath || ev.RequestContext.HTTP.Path != tt.wantRawPath {
			t.Errorf("ToEvent(%q) rawPath, http.path = %q, %q; want %q", tt.target, ev.RawPath, ev.RequestContext.HTTP.Path, tt.wantRawPath)
		}
		if ev.RawQueryString != tt.wantRawQS {
			t.Errorf("ToEvent(%q).rawQueryString = %q; want %q", tt.target, ev.RawQueryString, tt.wantRawQS)
		}
		if !reflect.DeepEqual(ev.QueryStringParameters, tt.wantQS) {
			t.Errorf("ToEvent(%q).queryStringParameters = %v; want %v", tt.target, ev.QueryStringParameters, tt.wantQS)
		}
	}
}

func TestToEvent_requestContext(t *testing.T) {
	r := httptest.NewRequest(http.MethodPut, "http://forms.example.com:9000/v1/forms/f1", strings.NewReader("{}"))
	r.RemoteAddr = "[::1]:5555"
	r.Header.Set("User-Agent", "leadvault-test/1.0")
	r.Header.Set("Content-Type", "application/json")
	params := map[string]string{"formID": "f1"}
	ev, err := ToEvent(r, "PUT /v1/forms/{formID}", params)
	if err != nil {
		t.Fatalf("ToEvent(PUT) = %v", err)
	}
	params["formID"] = "changed" // the event must hold its own copy
	rc := ev.RequestContext
	want := events.APIGatewayV2HTTPRequestContext{
		RouteKey:     "PUT /v1/forms/{formID}",
		AccountID:    DefaultAccountID,
		Stage:        DefaultStage,
		RequestID:    rc.RequestID,
		APIID:        DefaultAPIID,
		DomainName:   "forms.example.com",
		DomainPrefix: "forms",
		Time:         rc.Time,
		TimeEpoch:    rc.TimeEpoch,
		HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
			Method: "PUT", Path: "/v1/forms/f1", Protocol: "HTTP/1.1", SourceIP: "::1", UserAgent: "leadvault-test/1.0",
		},
	}
	if !reflect.DeepEqual(rc, want) {
		t.Errorf("ToEvent(PUT).requestContext = %+v; want %+v", rc, want)
	}
	if ev.RouteKey != want.RouteKey || ev.Version != "2.0" {
		t.Errorf("ToEvent(PUT) routeKey, version = %q, %q; want %q, \"2.0\"", ev.RouteKey, ev.Version, want.RouteKey)
	}
	if !reflect.DeepEqual(ev.PathParameters, map[string]string{"formID": "f1"}) {
		t.Errorf("ToEvent(PUT).pathParameters = %v; want formID=f1", ev.PathParameters)
	}

	seen := map[string]bool{}
	for range 200 {
		ev, err := ToEvent(httptest.NewRequest(http.MethodGet, "/", nil), "$default", nil)
		if err != nil {
			t.Fatalf("ToEvent(GET /) = %v", err)
		}
		id := ev.RequestContext.RequestID
		if seen[id] || !requestIDRE.MatchString(id) {
			t.Fatalf("ToEvent(GET /) requestId = %q (seen before %v); want unique IDs like LV7fzho-PHcEJPw=", id, seen[id])
		}
		seen[id] = true
	}
}

func TestToEvent_payloadLimit(t *testing.T) {
	tests := []struct {
		name    string
		size    int
		chunked bool
		wantErr bool
	}{
		{"exactly 10 MB", MaxPayload, false, false},
		{"one byte over", MaxPayload + 1, false, true},
		{"one byte over, chunked", MaxPayload + 1, true, true},
	}
	for _, tt := range tests {
		body := io.Reader(bytes.NewReader(make([]byte, tt.size)))
		if tt.chunked {
			body = io.MultiReader(body) // hides the length from NewRequest
		}
		r := httptest.NewRequest(http.MethodPost, "/big", body)
		r.Header.Set("Content-Type", "application/octet-stream")
		_, err := ToEvent(r, "POST /big", nil)
		if got := errors.Is(err, ErrPayloadTooLarge); got != tt.wantErr {
			t.Errorf("ToEvent(%s) = %v; want ErrPayloadTooLarge %v", tt.name, err, tt.wantErr)
		}
	}
}

// TestToEvent_jsonRoundTrip checks that an event survives encoding/json unchanged, as it must on its
// way through the Lambda runtime API, and that its JSON has the keys of AWS's samples.
func TestToEvent_jsonRoundTrip(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "http://localhost:3000/v1/forms/f%201/submissions?a=1&a=2&b=%2F", strings.NewReader(`{"email":"ada@example.com"}`))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Cookie", "a=1; b=2")
	r.Header.Add("X-Two", "1")
	r.Header.Add("X-Two", "2")
	ev, err := ToEvent(r, "ANY /v1/forms/{formID}/submissions", map[string]string{"formID": "f 1"})
	if err != nil {
		t.Fatalf("ToEvent(%q) = %v", r.URL, err)
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatalf("json.Marshal(event) = %v", err)
	}
	var back events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("json.Unmarshal(%s) = %v", b, err)
	}
	if !reflect.DeepEqual(back, ev) {
		t.Errorf("json round trip of ToEvent(%q) =\n%+v\nwant\n%+v", r.URL, back, ev)
	}

	// Key sets against the sample with every optional part present.
	var got, want map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(testdata(t, "apigw-v2-request-iam.json"), &want); err != nil {
		t.Fatal(err)
	}
	delete(want, "stageVariables")
	wantRC := want["requestContext"].(map[string]any)
	delete(wantRC, "authorizer")
	delete(wantRC, "authentication")
	gotRC := got["requestContext"].(map[string]any)
	delete(gotRC, "authentication") // encoding/json cannot omit an empty struct
	if g, w := keys(got), keys(want); !reflect.DeepEqual(g, w) {
		t.Errorf("ToEvent(%q) JSON keys = %v; want %v", r.URL, g, w)
	}
	if g, w := keys(gotRC), keys(wantRC); !reflect.DeepEqual(g, w) {
		t.Errorf("ToEvent(%q) requestContext keys = %v; want %v", r.URL, g, w)
	}
	if g, w := keys(gotRC["http"].(map[string]any)), keys(wantRC["http"].(map[string]any)); !reflect.DeepEqual(g, w) {
		t.Errorf("ToEvent(%q) requestContext.http keys = %v; want %v", r.URL, g, w)
	}
}

func keys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatalf("json.Marshal(%T) = %v", v, err)
	}
	return string(b)
}

func TestWriteResponse_cases(t *testing.T) {
	tests := []struct {
		name       string
		resp       events.APIGatewayV2HTTPResponse
		wantStatus int
		wantBody   string
		wantHeader http.Header // checked entries
		noHeader   []string
	}{
		{
			name:       "status headers body",
			resp:       events.APIGatewayV2HTTPResponse{StatusCode: 201, Headers: map[string]string{"content-type": "application/json", "x-a": "1,2"}, Body: `{"id":"x"}`},
			wantStatus: 201,
			wantBody:   `{"id":"x"}`,
			wantHeader: http.Header{"Content-Type": {"application/json"}, "X-A": {"1,2"}, "Content-Length": {"10"}},
		},
		{
			name:       "zero status is 200",
			resp:       events.APIGatewayV2HTTPResponse{Body: "ok"},
			wantStatus: 200,
			wantBody:   "ok",
			noHeader:   []string{"Content-Type"},
		},
		{
			name:       "base64 body decoded",
			resp:       events.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{"Content-Type": "image/png"}, Body: base64.StdEncoding.EncodeToString([]byte{0x89, 'P', 'N', 'G', 0}), IsBase64Encoded: true},
			wantStatus: 200,
			wantBody:   "\x89PNG\x00",
			wantHeader: http.Header{"Content-Type": {"image/png"}},
		},
		{
			name:       "cookies become Set-Cookie lines",
			resp:       events.APIGatewayV2HTTPResponse{StatusCode: 204, Cookies: []string{"a=1; Path=/; HttpOnly", "b=2; Expires=Wed, 21 Oct 2015 07:28:00 GMT"}},
			wantStatus: 204,
			wantHeader: http.Header{"Set-Cookie": {"a=1; Path=/; HttpOnly", "b=2; Expires=Wed, 21 Oct 2015 07:28:00 GMT"}},
			noHeader:   []string{"Content-Length"},
		},
		{
			name: "multi-value headers",
			resp: events.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{"Vary": "Origin"},
				MultiValueHeaders: map[string][]string{"Vary": {"Accept"}, "X-Many": {"1", "2"}}},
			wantStatus: 200,
			wantHeader: http.Header{"Vary": {"Origin", "Accept"}, "X-Many": {"1", "2"}},
		},
		{
			name:       "handler content-length ignored",
			resp:       events.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{"Content-Length": "999"}, Body: "abc"},
			wantStatus: 200,
			wantBody:   "abc",
			wantHeader: http.Header{"Content-Length": {"3"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			if err := WriteResponse(w, tt.resp); err != nil {
				t.Fatalf("WriteResponse(%+v) = %v", tt.resp, err)
			}
			if w.Code != tt.wantStatus || w.Body.String() != tt.wantBody {
				t.Errorf("WriteResponse(%+v) wrote %d %q; want %d %q", tt.resp, w.Code, w.Body.String(), tt.wantStatus, tt.wantBody)
			}
			for k, want := range tt.wantHeader {
				if got := w.Result().Header.Values(k); !reflect.DeepEqual(got, want) {
					t.Errorf("WriteResponse(%+v) header %s = %q; want %q", tt.resp, k, got, want)
				}
			}
			for _, k := range tt.noHeader {
				if got := w.Result().Header.Values(k); len(got) > 0 {
					t.Errorf("WriteResponse(%+v) header %s = %q; want none", tt.resp, k, got)
				}
			}
		})
	}
}

func TestWriteResponse_malformed(t *testing.T) {
	tests := []events.APIGatewayV2HTTPResponse{
		{StatusCode: 200, Body: "not base64!", IsBase64Encoded: true, Cookies: []string{"a=1"}},
		{StatusCode: 42, Body: "x"},
	}
	for _, resp := range tests {
		w := httptest.NewRecorder()
		if err := WriteResponse(w, resp); err == nil {
			t.Errorf("WriteResponse(%+v) = nil; want an error", resp)
		}
		if len(w.Header()) != 0 || w.Body.Len() != 0 {
			t.Errorf("WriteResponse(%+v) wrote header %v body %q; want nothing", resp, w.Header(), w.Body.String())
		}
	}
}
