// Package gateway serves Lambda handlers written for an API Gateway HTTP API (Lambda proxy
// integration, payload format 2.0) from a plain net/http server, so that the local stack runs the same
// handler code as AWS.
//
// New routes each request the way an HTTP API does (method and path template, {name} and greedy
// {name+} path variables, most specific route first, $default last), turns it into an
// events.APIGatewayV2HTTPRequest with ToEvent, calls the handler and writes its
// events.APIGatewayV2HTTPResponse with WriteResponse. The gateway's own answers are API Gateway's:
// 404 {"message":"Not Found"}, 413 {"message":"Request Entity Too Large"} and, when the handler fails,
// 500 {"message":"Internal Server Error"}. Every response carries an apigw-requestid header equal to
// the event's requestContext.requestId.
//
// A route may have a JWT authorizer (see JWTAuthorizer): requests without a valid token get
// 401 {"message":"Unauthorized"} and never reach the handler, and authorized ones carry the token's
// claims in requestContext.authorizer.jwt. Routes without one behave as before.
//
// Not modelled: Lambda and IAM authorizers, mTLS (requestContext.authentication), stage variables, CORS
// configuration, throttling and the 30 s integration timeout.
package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// maxInvokePayload is Lambda's limit for a synchronous invocation's request (and response) payload.
// API Gateway accepts bodies up to MaxPayload, but Lambda rejects events over this size; the gateway
// only warns, so local runs still work while the log says AWS would fail the request.
const maxInvokePayload = 6 << 20

// Handler is a Lambda handler for HTTP API payload format 2.0 events.
type Handler func(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// Route sends requests that match Method and Path to Handler.
type Route struct {
	// Method is an HTTP method such as "POST", or "ANY" (or "") for every method.
	Method string
	// Path is an API Gateway route path such as "/v1/forms/{formID}/submissions" or "/files/{proxy+}"
	// (a greedy variable must be the last segment), or "$default" for the catch-all route.
	Path string
	// Handler handles the matched requests.
	Handler Handler
	// Authorizer, if not nil, is the route's JWT authorizer.
	Authorizer *JWTAuthorizer
	// AuthorizationScopes, with an Authorizer, are the route's authorization scopes: the token's
	// scope claim must include one of them.
	AuthorizationScopes []string
}

// Options configures New.
type Options struct {
	// Stage is the stage name, default "$default". A named stage is served under /<Stage>, as on AWS,
	// and that prefix stays in rawPath and requestContext.http.path.
	Stage string
	// AccountID is requestContext.accountId, default "111122223333".
	AccountID string
	// APIID is requestContext.apiId, default "local".
	APIID string
	// Log receives one line per request and the handlers' errors; nil means slog.Default().
	Log *slog.Logger
}

// route is a Route with its path split into segments.
type route struct {
	method   string // "ANY" or an upper-case method
	key      string // the route key, e.g. "ANY /v1/forms/{formID}"
	segments []segment
	greedy   bool // the last segment is {name+}
	isDflt   bool // the $default route
	handler  Handler
	auth     *JWTAuthorizer
	scopes   []string
}

// segment is one path template segment: a literal or a variable.
type segment struct {
	literal string
	param   string // the variable's name if this is {param} or {param+}
}

type gateway struct {
	routes    []route
	stage     string
	accountID string
	apiID     string
	log       *slog.Logger
}

// New returns an http.Handler that serves routes the way an HTTP API with Lambda proxy integrations
// does. Routes that API Gateway would reject (a path not starting with "/", a malformed or misplaced
// variable, a duplicate route key, no handler) are logged at ERROR and left out.
func New(routes []Route, opts Options) http.Handler {
	g := &gateway{
		stage:     opts.Stage,
		accountID: opts.AccountID,
		apiID:     opts.APIID,
		log:       opts.Log,
	}
	if g.stage == "" {
		g.stage = DefaultStage
	}
	if g.accountID == "" {
		g.accountID = DefaultAccountID
	}
	if g.apiID == "" {
		g.apiID = DefaultAPIID
	}
	if g.log == nil {
		g.log = slog.Default()
	}
	seen := map[string]bool{}
	for _, r := range routes {
		cr, err := compileRoute(r)
		if err == nil && seen[cr.key] {
			err = errors.New("duplicate route key")
		}
		if err != nil {
			g.log.Error("gateway: route left out", "method", r.Method, "path", r.Path, "err", err)
			continue
		}
		seen[cr.key] = true
		g.routes = append(g.routes, cr)
	}
	return g
}

// compileRoute checks r and splits its path template.
func compileRoute(r Route) (route, error) {
	if r.Handler == nil {
		return route{}, errors.New("no handler")
	}
	if r.Authorizer != nil {
		if err := r.Authorizer.check(); err != nil {
			return route{}, err
		}
	} else if len(r.AuthorizationScopes) > 0 {
		return route{}, errors.New("authorization scopes without an authorizer")
	}
	method := strings.ToUpper(r.Method)
	if method == "" {
		method = "ANY"
	}
	if r.Path == "$default" {
		return route{method: "ANY", key: "$default", isDflt: true, handler: r.Handler, auth: r.Authorizer, scopes: r.AuthorizationScopes}, nil
	}
	if !strings.HasPrefix(r.Path, "/") {
		return route{}, errors.New(`path must start with "/" or be "$default"`)
	}
	cr := route{method: method, key: method + " " + r.Path, handler: r.Handler, auth: r.Authorizer, scopes: r.AuthorizationScopes}
	if r.Path == "/" {
		return cr, nil
	}
	parts := strings.Split(r.Path[1:], "/")
	names := map[string]bool{}
	for i, p := range parts {
		if !strings.HasPrefix(p, "{") && !strings.HasSuffix(p, "}") {
			if strings.ContainsAny(p, "{}") {
				return route{}, fmt.Errorf("segment %q: braces only around a whole segment", p)
			}
			cr.segments = append(cr.segments, segment{literal: p})
			continue
		}
		name := strings.TrimSuffix(strings.TrimPrefix(p, "{"), "}")
		if len(name)+2 != len(p) {
			return route{}, fmt.Errorf("segment %q: malformed variable", p)
		}
		if strings.HasSuffix(name, "+") {
			if i != len(parts)-1 {
				return route{}, fmt.Errorf("segment %q: a greedy variable must be the last segment", p)
			}
			name = strings.TrimSuffix(name, "+")
			cr.greedy = true
		}
		if name == "" || strings.ContainsAny(name, "{}+/") {
			return route{}, fmt.Errorf("segment %q: malformed variable name", p)
		}
		if names[name] {
			return route{}, fmt.Errorf("segment %q: variable used twice", p)
		}
		names[name] = true
		cr.segments = append(cr.segments, segment{param: name})
	}
	return cr, nil
}

// match reports whether the route matches method and the (stage-less, decoded) path, and its path
// parameters.
func (rt *route) match(method, path string) (map[string]string, bool) {
	if rt.method != "ANY" && rt.method != method {
		return nil, false
	}
	if rt.isDflt {
		return nil, true
	}
	if !strings.HasPrefix(path, "/") {
		return nil, false
	}
	if len(rt.segments) == 0 {
		return nil, path == "/"
	}
	parts := strings.Split(path[1:], "/")
	if len(parts) < len(rt.segments) || (!rt.greedy && len(parts) != len(rt.segments)) {
		return nil, false
	}
	var params map[string]string
	for i, s := range rt.segments {
		if rt.greedy && i == len(rt.segments)-1 {
			rest := strings.Join(parts[i:], "/")
			if rest == "" {
				return nil, false
			}
			if params == nil {
				params = map[string]string{}
			}
			params[s.param] = rest
			break
		}
		switch {
		case s.param == "":
			if parts[i] != s.literal {
				return nil, false
			}
		case parts[i] == "":
			return nil, false
		default:
			if params == nil {
				params = map[string]string{}
			}
			params[s.param] = parts[i]
		}
	}
	return params, true
}

// moreSpecific reports whether a should win over b when both match: any route beats $default, a route
// without a greedy variable beats one with, then going left to right a literal segment beats a
// variable, then more segments win, and last a route for the method beats ANY.
func moreSpecific(a, b *route) bool {
	if a.isDflt != b.isDflt {
		return b.isDflt
	}
	if a.greedy != b.greedy {
		return b.greedy
	}
	for i := 0; i < len(a.segments) && i < len(b.segments); i++ {
		al, bl := a.segments[i].param == "", b.segments[i].param == ""
		if al != bl {
			return al
		}
	}
	if len(a.segments) != len(b.segments) {
		return len(a.segments) > len(b.segments)
	}
	return a.method != "ANY" && b.method == "ANY"
}

// find returns the most specific route matching the request and its path parameters.
func (g *gateway) find(method, path string) (*route, map[string]string) {
	var (
		best   *route
		params map[string]string
	)
	for i := range g.routes {
		rt := &g.routes[i]
		p, ok := rt.match(method, path)
		if ok && (best == nil || moreSpecific(rt, best)) {
			best, params = rt, p
		}
	}
	return best, params
}

// ServeHTTP routes r, invokes the handler and writes its response.
func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	path, ok := g.stripStage(r.URL.Path)
	var rt *route
	var params map[string]string
	if ok {
		rt, params = g.find(r.Method, path)
	}
	if rt == nil {
		requestID := g.message(w, "", http.StatusNotFound, "Not Found")
		g.log.Info("gateway: no route", "method", r.Method, "path", r.URL.Path, "status", http.StatusNotFound, "requestId", requestID)
		return
	}

	var authz *events.APIGatewayV2HTTPRequestContextAuthorizerDescription
	if rt.auth != nil {
		var aerr *authError
		if authz, aerr = rt.auth.authorize(r, rt.scopes); aerr != nil {
			msg := "Unauthorized"
			if aerr.status == http.StatusForbidden {
				msg = "Forbidden"
			}
			w.Header().Set("Www-Authenticate", wwwAuthenticate(aerr, rt.scopes))
			requestID := g.message(w, "", aerr.status, msg)
			g.log.Info("gateway: not authorized", "route", rt.key, "path", r.URL.Path, "status", aerr.status, "requestId", requestID, "reason", aerr.Error())
			return
		}
	}

	ev, err := ToEvent(r, rt.key, params)
	if err != nil {
		status, msg := http.StatusBadRequest, "Bad Request"
		if errors.Is(err, ErrPayloadTooLarge) {
			status, msg = http.StatusRequestEntityTooLarge, "Request Entity Too Large"
		}
		requestID := g.message(w, "", status, msg)
		g.log.Warn("gateway: request rejected", "route", rt.key, "path", r.URL.Path, "status", status, "requestId", requestID, "err", err)
		return
	}
	ev.RequestContext.Stage = g.stage
	ev.RequestContext.AccountID = g.accountID
	ev.RequestContext.APIID = g.apiID
	ev.RequestContext.Authorizer = authz
	requestID := ev.RequestContext.RequestID
	log := g.log.With("route", rt.key, "path", r.URL.Path, "requestId", requestID)
	if n := eventSize(ev); n > maxInvokePayload {
		log.Warn("gateway: event exceeds Lambda's 6 MB invocation payload limit; on AWS this request would fail", "bytes", n)
	}

	resp, err := invoke(r.Context(), rt.handler, ev)
	if err != nil {
		g.message(w, requestID, http.StatusInternalServerError, "Internal Server Error")
		log.Error("gateway: handler failed", "status", http.StatusInternalServerError, "err", err, "duration", time.Since(start))
		return
	}
	w.Header().Set("Apigw-Requestid", requestID)
	if err := WriteResponse(w, resp); err != nil {
		// WriteResponse writes nothing when the response itself is malformed.
		if errors.Is(err, errBadResponse) {
			g.message(w, requestID, http.StatusInternalServerError, "Internal Server Error")
		}
		log.Error("gateway: bad handler response", "err", err, "duration", time.Since(start))
		return
	}
	status := resp.StatusCode
	if status == 0 {
		status = http.StatusOK
	}
	log.Info("gateway: request", "method", r.Method, "status", status, "duration", time.Since(start))
}

// stripStage removes a named stage's "/<stage>" prefix from path; ok is false if it is missing.
func (g *gateway) stripStage(path string) (string, bool) {
	if g.stage == DefaultStage {
		return path, true
	}
	prefix := "/" + g.stage
	switch {
	case path == prefix:
		return "/", true
	case strings.HasPrefix(path, prefix+"/"):
		return path[len(prefix):], true
	}
	return "", false
}

// invoke calls h, turning a panic into an error as the Lambda Go runtime does.
func invoke(ctx context.Context, h Handler, ev events.APIGatewayV2HTTPRequest) (resp events.APIGatewayV2HTTPResponse, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handler panicked: %v", p)
		}
	}()
	return h(ctx, ev)
}

// message writes API Gateway's JSON error answer {"message": msg} with an apigw-requestid header and
// returns the request ID (a new one if requestID is "").
func (g *gateway) message(w http.ResponseWriter, requestID string, status int, msg string) string {
	if requestID == "" {
		requestID, _ = newRequestID() // "" on failure: only the header is affected
	}
	body, _ := json.Marshal(map[string]string{"message": msg}) // cannot fail for a map of strings
	h := w.Header()
	h.Set("Apigw-Requestid", requestID)
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(status)
	if _, err := w.Write(body); err != nil {
		g.log.Debug("gateway: write error answer", "err", err)
	}
	return requestID
}

// eventSize is the size of ev as JSON, the form Lambda receives it in; 0 for events whose body is
// too small for the rest to matter (headers are limited to 1 MB by net/http).
func eventSize(ev events.APIGatewayV2HTTPRequest) int {
	if len(ev.Body) < maxInvokePayload-(http.DefaultMaxHeaderBytes+64<<10) {
		return 0
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return 0
	}
	return len(b)
}
