// Package httpapi serves Leadvault's two HTTP APIs (public intake and the controller API) as ordinary
// net/http handlers on Go's http.ServeMux, behind the Lambda adapter of aws-lambda-go-api-proxy for API
// Gateway HTTP API (payload format 2.0) events.
//
// Handlers return their failure instead of writing it: a *problem.Problem is answered as such, any other
// error is logged once with the request ID and answered 500 with a generic problem, so no internal error
// text reaches a client. The router answers what the mux cannot route — an unknown path (404), a method
// the path does not take (405 with Allow), a path that is not in canonical form (404, never ServeMux's
// redirect) — through the same problem writer.
package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"path"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"leadvault/shared/problem"
)

// HandlerFunc is an HTTP handler that returns its failure to the router instead of writing it.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// ProblemWriter writes a problem answer; cause is the error the handler returned (p itself, or for a 500
// the error behind it), so a writer can read context the error carries. The controller API writes
// problem+json; intake answers a browser with an HTML page or a redirect instead.
type ProblemWriter func(w http.ResponseWriter, r *http.Request, p *problem.Problem, cause error)

// methods are the methods probed for a 405's Allow header, in its order.
var methods = []string{http.MethodDelete, http.MethodGet, http.MethodOptions, http.MethodPatch, http.MethodPost, http.MethodPut}

// Router routes method-and-path patterns ("GET /v1/leads/{leadID}") on an http.ServeMux.
type Router struct {
	mux     *http.ServeMux
	problem ProblemWriter
	log     *slog.Logger
	lambda  *httpadapter.HandlerAdapterV2
}

// NewRouter returns a Router that answers problems with write (WriteProblem if nil) and logs failures
// to log.
func NewRouter(log *slog.Logger, write ProblemWriter) *Router {
	if write == nil {
		write = WriteProblem
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	rt := &Router{mux: http.NewServeMux(), problem: write, log: log}
	rt.lambda = httpadapter.NewV2(rt)
	return rt
}

// Handle registers h for pattern. Patterns name their method: a HEAD request does not reach a GET
// pattern (the router answers it 405), so a read is never run, and audited, for a body nobody gets.
func (rt *Router) Handle(pattern string, h HandlerFunc) {
	rt.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			rt.Fail(w, r, err)
		}
	})
}

// Fail answers err: as the problem it is, or as a logged 500.
func (rt *Router) Fail(w http.ResponseWriter, r *http.Request, err error) {
	var p *problem.Problem
	if errors.As(err, &p) {
		rt.problem(w, r, p, err)
		return
	}
	rt.log.ErrorContext(r.Context(), "request failed", "request", RequestID(r), "route", r.Pattern, "error", err.Error())
	rt.problem(w, r, Internal(), err)
}

// ServeHTTP routes r, answering 404 and 405 itself.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p := r.URL.Path; len(p) > 1 && strings.HasSuffix(p, "/") && !strings.HasSuffix(p, "//") {
		// One trailing slash is forgiven, as before the mux: /v1/forms/ is /v1/forms.
		r.URL.Path = strings.TrimSuffix(p, "/")
		r.URL.RawPath = ""
	}
	// Cleanliness is judged on the escaped path, as the mux matches it: an escaped slash inside one
	// segment (..%2F) is a value, not a path step.
	if p := r.URL.EscapedPath(); p == "" || p[0] != '/' || path.Clean(p) != p {
		rt.notFound(w, r)
		return
	}
	if r.Method != http.MethodHead {
		if _, pattern := rt.mux.Handler(r); pattern != "" {
			rt.mux.ServeHTTP(w, r)
			return
		}
	}
	if allow := rt.allowed(r); allow != "" {
		p := problem.New(http.StatusMethodNotAllowed, "method-not-allowed", "Method Not Allowed",
			"This resource does not accept "+r.Method+".")
		p.Allow = allow
		rt.problem(w, r, p, p)
		return
	}
	rt.notFound(w, r)
}

func (rt *Router) notFound(w http.ResponseWriter, r *http.Request) {
	p := NotFound("No such resource.")
	rt.problem(w, r, p, p)
}

// allowed lists the methods the request's path takes ("" when none: the path is unknown).
func (rt *Router) allowed(r *http.Request) string {
	var allow []string
	for _, m := range methods {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := rt.mux.Handler(probe); pattern != "" {
			allow = append(allow, m)
		}
	}
	return strings.Join(allow, ", ")
}

// Lambda answers an API Gateway HTTP API event through the router, the function's entry point.
func (rt *Router) Lambda(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	if ev.IsBase64Encoded {
		// The adapter would answer an undecodable body 504; it is the client's fault, and a 400.
		if _, err := base64.StdEncoding.DecodeString(ev.Body); err != nil {
			return rt.unreadable(ctx, ev, problem.New(http.StatusBadRequest, "malformed-body", "Malformed Body",
				"The body is not valid base64."))
		}
	}
	resp, err := rt.lambda.ProxyWithContext(ctx, ev)
	if err != nil {
		// The event could not be made into a request: its path is not a valid URL, so it names nothing.
		return rt.unreadable(ctx, ev, NotFound("No such resource."))
	}
	return resp, nil
}

// unreadable answers p to an event that never became a request, through the router's problem writer.
func (rt *Router) unreadable(ctx context.Context, ev events.APIGatewayV2HTTPRequest, p *problem.Problem) (events.APIGatewayV2HTTPResponse, error) {
	rt.log.WarnContext(ctx, "unreadable request", "request", ev.RequestContext.RequestID)
	w := core.NewProxyResponseWriterV2()
	r, _ := http.NewRequestWithContext(ctx, ev.RequestContext.HTTP.Method, "/", nil)
	if r == nil {
		r, _ = http.NewRequestWithContext(ctx, http.MethodGet, "/", nil)
	}
	for k, v := range ev.Headers {
		r.Header.Set(k, v)
	}
	r = r.WithContext(withRequestID(ctx, ev.RequestContext.RequestID))
	rt.problem(w, r, p, p)
	return w.GetProxyResponse()
}

type requestIDKey struct{}

func withRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID is API Gateway's ID of the request ("" outside Lambda, e.g. in an httptest request).
func RequestID(r *http.Request) string {
	if gw, ok := core.GetAPIGatewayV2ContextFromContext(r.Context()); ok {
		return gw.RequestID
	}
	id, _ := r.Context().Value(requestIDKey{}).(string)
	return id
}

// SourceIP is the client's address as API Gateway saw it.
func SourceIP(r *http.Request) string {
	if gw, ok := core.GetAPIGatewayV2ContextFromContext(r.Context()); ok {
		return gw.HTTP.SourceIP
	}
	return r.RemoteAddr
}

// Claims returns the JWT authorizer's claims of the request (nil without one).
func Claims(r *http.Request) map[string]string {
	if gw, ok := core.GetAPIGatewayV2ContextFromContext(r.Context()); ok && gw.Authorizer != nil && gw.Authorizer.JWT != nil {
		return gw.Authorizer.JWT.Claims
	}
	return nil
}

// Header returns every value of a request header as one string. The Lambda adapter splits a header's
// value at commas into several values, so Header.Get would see only the first part.
func Header(r *http.Request, name string) string {
	return strings.Join(r.Header.Values(name), ", ")
}

// WriteProblem writes p as problem+json with the request's ID.
func WriteProblem(w http.ResponseWriter, r *http.Request, p *problem.Problem, _ error) {
	p.Write(w, RequestID(r))
}

// WriteJSON writes v as a JSON answer that no cache keeps.
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, err = w.Write(b)
	return err
}

// NotFound is the 404 problem.
func NotFound(detail string) *problem.Problem {
	return problem.New(http.StatusNotFound, "not-found", "Not Found", detail)
}

// Internal is the 500 problem, which says nothing of the cause.
func Internal() *problem.Problem {
	return problem.New(http.StatusInternalServerError, "internal", "Internal Server Error",
		"The request could not be completed; quote the request ID if it keeps failing.")
}
