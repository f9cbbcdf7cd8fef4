package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"leadvault/shared/httpapi"
	"leadvault/shared/problem"
)

func newRouter(logs *bytes.Buffer) *httpapi.Router {
	rt := httpapi.NewRouter(slog.New(slog.NewJSONHandler(logs, nil)), nil)
	rt.Handle("GET /v1/things/{id}", func(w http.ResponseWriter, r *http.Request) error {
		switch r.PathValue("id") {
		case "gone":
			return problem.New(http.StatusGone, "gone", "Gone", "It went.")
		case "broken":
			return errors.New("table unreachable: secret detail")
		}
		return httpapi.WriteJSON(w, http.StatusOK, map[string]string{"id": r.PathValue("id"), "q": r.URL.Query().Get("q")})
	})
	rt.Handle("DELETE /v1/things/{id}", func(w http.ResponseWriter, r *http.Request) error {
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
	rt.Handle("POST /v1/things", func(w http.ResponseWriter, r *http.Request) error {
		return httpapi.WriteJSON(w, http.StatusCreated, map[string]string{"purpose": httpapi.Header(r, "Leadvault-Purpose")})
	})
	return rt
}

func TestRouter_answers(t *testing.T) {
	cases := []struct {
		name, method, path string
		status             int
		problemType        string
		allow              string
	}{
		{"match", "GET", "/v1/things/a1", 200, "", ""},
		{"trailing slash forgiven", "GET", "/v1/things/a1/", 200, "", ""},
		{"unknown path", "GET", "/v1/nothing", 404, "not-found", ""},
		{"method not allowed", "PUT", "/v1/things/a1", 405, "method-not-allowed", "DELETE, GET"},
		{"HEAD never runs a GET", "HEAD", "/v1/things/a1", 405, "method-not-allowed", "DELETE, GET"},
		{"unclean path is not redirected", "GET", "/v1/things/../things/a1", 404, "not-found", ""},
		{"double slash", "GET", "/v1//things/a1", 404, "not-found", ""},
		{"problem returned", "GET", "/v1/things/gone", 410, "gone", ""},
		{"error returned", "GET", "/v1/things/broken", 500, "internal", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var logs bytes.Buffer
			w := httptest.NewRecorder()
			newRouter(&logs).ServeHTTP(w, httptest.NewRequest(c.method, "http://x"+c.path, nil))
			if w.Code != c.status {
				t.Fatalf("status = %d; want %d (body %s)", w.Code, c.status, w.Body)
			}
			if c.problemType == "" {
				return
			}
			if ct := w.Header().Get("Content-Type"); ct != problem.ContentType {
				t.Errorf("Content-Type = %q; want %q", ct, problem.ContentType)
			}
			var p problem.Problem
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Type != problem.TypePrefix+c.problemType || p.Status != c.status {
				t.Errorf("body = %s (%v); want problem %s", w.Body, err, c.problemType)
			}
			if got := w.Header().Get("Allow"); got != c.allow {
				t.Errorf("Allow = %q; want %q", got, c.allow)
			}
			if strings.Contains(w.Body.String(), "secret") {
				t.Errorf("internal error text reached the client: %s", w.Body)
			}
			if c.status == 500 && !strings.Contains(logs.String(), "secret detail") {
				t.Errorf("the cause was not logged: %s", logs.String())
			}
		})
	}
}

// TestRouter_lambdaEvent drives the router the way Lambda does, with an API Gateway HTTP API event.
func TestRouter_lambdaEvent(t *testing.T) {
	ev := func(method, path, query, body string, b64 bool, headers map[string]string) events.APIGatewayV2HTTPRequest {
		return events.APIGatewayV2HTTPRequest{RawPath: path, RawQueryString: query, Body: body, IsBase64Encoded: b64, Headers: headers,
			RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "rid-1", DomainName: "api.example",
				HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: path, SourceIP: "192.0.2.1"}}}
	}
	var logs bytes.Buffer
	rt := newRouter(&logs)
	ctx := context.Background()

	resp, err := rt.Lambda(ctx, ev("GET", "/v1/things/a%2Db", "q=%C3%A6+x", "", false, nil))
	if err != nil || resp.StatusCode != 200 || resp.Body != `{"id":"a-b","q":"æ x"}` {
		t.Errorf("GET = %d %s %v; want 200 with the decoded path value and query", resp.StatusCode, resp.Body, err)
	}
	if resp.Headers["Content-Type"] != "application/json" || resp.Headers["Cache-Control"] != "no-store" {
		t.Errorf("headers = %v", resp.Headers)
	}

	// The adapter splits header values at commas; Header joins them back.
	resp, _ = rt.Lambda(ctx, ev("POST", "/v1/things", "", "", false, map[string]string{"leadvault-purpose": "ticket 7, follow-up"}))
	if resp.StatusCode != 201 || resp.Body != `{"purpose":"ticket 7, follow-up"}` {
		t.Errorf("POST = %d %s; want the whole header value", resp.StatusCode, resp.Body)
	}

	resp, err = rt.Lambda(ctx, ev("GET", "/v1/nothing", "", "", false, nil))
	if err != nil || resp.StatusCode != 404 || !strings.Contains(resp.Body, `"requestId":"rid-1"`) {
		t.Errorf("unknown path = %d %s %v; want a 404 problem with the request ID", resp.StatusCode, resp.Body, err)
	}

	resp, err = rt.Lambda(ctx, ev("POST", "/v1/things", "", "not base64!", true, nil))
	if err != nil || resp.StatusCode != 400 || resp.Headers["Content-Type"] != problem.ContentType || !strings.Contains(resp.Body, "malformed-body") {
		t.Errorf("bad base64 = %d %v %v; want a 400 problem, not the adapter's 504", resp.StatusCode, resp.Headers, err)
	}

	resp, err = rt.Lambda(ctx, ev("GET", "/v1/things/%zz", "", "", false, nil))
	if err != nil || resp.StatusCode != 404 {
		t.Errorf("unparsable path = %d %s %v; want a 404 problem", resp.StatusCode, resp.Body, err)
	}

	resp, _ = rt.Lambda(ctx, ev("DELETE", "/v1/things/a1", "", "", false, nil))
	if resp.StatusCode != 204 || resp.Body != "" {
		t.Errorf("DELETE = %d %q; want 204 without a body", resp.StatusCode, resp.Body)
	}
}
