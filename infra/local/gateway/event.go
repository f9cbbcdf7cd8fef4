package gateway

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// MaxPayload is API Gateway's request payload quota for HTTP APIs: 10 MB.
const MaxPayload = 10 << 20

// errBadResponse marks WriteResponse errors about the response itself, which leave w untouched.
var errBadResponse = errors.New("malformed Lambda response")

// ErrPayloadTooLarge is returned by ToEvent when the request body is larger than MaxPayload.
var ErrPayloadTooLarge = errors.New("request body exceeds API Gateway's 10 MB payload limit")

// Defaults for the request context fields that only exist on AWS.
const (
	DefaultStage     = "$default"
	DefaultAccountID = "111122223333"
	DefaultAPIID     = "local"
)

// timeLayout is the layout of requestContext.time, e.g. "21/Apr/2020:15:08:21 +0000".
const timeLayout = "02/Jan/2006:15:04:05 -0700"

// ToEvent turns r into the payload format 2.0 event an HTTP API sends to a Lambda integration for the
// route routeKey (e.g. "ANY /v1/forms/{formID}/submissions" or "$default") with the given path
// parameters. It reads and closes r.Body; a body over MaxPayload gives an error wrapping
// ErrPayloadTooLarge. The request context names stage DefaultStage, account DefaultAccountID and API
// DefaultAPIID; New replaces them with its Options.
//
// As on AWS, rawPath and requestContext.http.path are the decoded path (with a named stage's prefix),
// rawQueryString is the query as sent, queryStringParameters are decoded with repeated keys joined by
// ",", header names are lower-cased with repeated headers joined by ",", the Cookie header is moved to
// cookies, API Gateway's forwarding headers are added, and a body is base64-encoded unless its
// Content-Type is text.
func ToEvent(r *http.Request, routeKey string, pathParams map[string]string) (events.APIGatewayV2HTTPRequest, error) {
	body, err := readBody(r)
	if err != nil {
		return events.APIGatewayV2HTTPRequest{}, err
	}
	now := time.Now().UTC()
	requestID, err := newRequestID()
	if err != nil {
		return events.APIGatewayV2HTTPRequest{}, err
	}
	domain := hostOnly(r.Host)
	sourceIP := hostOnly(r.RemoteAddr)

	headers, cookies := eventHeaders(r, sourceIP, len(body))

	ev := events.APIGatewayV2HTTPRequest{
		Version:               "2.0",
		RouteKey:              routeKey,
		RawPath:               r.URL.Path,
		RawQueryString:        r.URL.RawQuery,
		Cookies:               cookies,
		Headers:               headers,
		QueryStringParameters: queryParameters(r.URL.RawQuery),
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:     routeKey,
			AccountID:    DefaultAccountID,
			Stage:        DefaultStage,
			RequestID:    requestID,
			APIID:        DefaultAPIID,
			DomainName:   domain,
			DomainPrefix: strings.SplitN(domain, ".", 2)[0],
			Time:         now.Format(timeLayout),
			TimeEpoch:    now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method:    r.Method,
				Path:      r.URL.Path,
				Protocol:  r.Proto,
				SourceIP:  sourceIP,
				UserAgent: r.UserAgent(),
			},
		},
	}
	if len(pathParams) > 0 {
		ev.PathParameters = make(map[string]string, len(pathParams))
		for k, v := range pathParams {
			ev.PathParameters[k] = v
		}
	}
	if len(body) > 0 {
		if isText(r.Header.Get("Content-Type")) {
			ev.Body = string(body)
		} else {
			ev.Body = base64.StdEncoding.EncodeToString(body)
			ev.IsBase64Encoded = true
		}
	}
	return ev, nil
}

// readBody reads at most MaxPayload bytes of r.Body and closes it.
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	defer r.Body.Close()
	if r.ContentLength > MaxPayload {
		return nil, fmt.Errorf("read request body: %d bytes: %w", r.ContentLength, ErrPayloadTooLarge)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxPayload+1))
	if err != nil {
		return nil, fmt.Errorf("read request body: %w", err)
	}
	if len(body) > MaxPayload {
		return nil, fmt.Errorf("read request body: more than %d bytes: %w", MaxPayload, ErrPayloadTooLarge)
	}
	return body, nil
}

// eventHeaders returns the event's headers and cookies: names lower-cased, repeated headers joined with
// ",", the Cookie header split into cookies and left out, and the headers API Gateway adds itself
// (host, content-length, x-amzn-trace-id and the x-forwarded-* set).
func eventHeaders(r *http.Request, sourceIP string, bodyLen int) (map[string]string, []string) {
	headers := make(map[string]string, len(r.Header)+6)
	var cookies []string
	names := make([]string, 0, len(r.Header))
	for name := range r.Header {
		names = append(names, name)
	}
	sort.Strings(names) // deterministic joins if two spellings of one name are present
	for _, name := range names {
		values := r.Header[name]
		lower := strings.ToLower(name)
		if lower == "cookie" {
			for _, v := range values {
				for _, c := range strings.Split(v, "; ") {
					if c != "" {
						cookies = append(cookies, c)
					}
				}
			}
			continue
		}
		joined := strings.Join(values, ",")
		if prev, ok := headers[lower]; ok {
			joined = prev + "," + joined
		}
		headers[lower] = joined
	}
	if r.Host != "" {
		headers["host"] = r.Host
	}
	headers["content-length"] = strconv.Itoa(bodyLen)
	if xff := headers["x-forwarded-for"]; xff != "" {
		headers["x-forwarded-for"] = xff + ", " + sourceIP
	} else {
		headers["x-forwarded-for"] = sourceIP
	}
	proto := "http"
	if r.TLS != nil {
		proto = "https"
	}
	headers["x-forwarded-proto"] = proto
	headers["x-forwarded-port"] = localPort(r, proto)
	if headers["x-amzn-trace-id"] == "" {
		headers["x-amzn-trace-id"] = newTraceID()
	}
	return headers, cookies
}

// localPort is the port the request arrived on: the listener's, else the Host header's, else the
// scheme's default.
func localPort(r *http.Request, proto string) string {
	if addr, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if _, port, err := net.SplitHostPort(addr.String()); err == nil {
			return port
		}
	}
	if _, port, err := net.SplitHostPort(r.Host); err == nil && port != "" {
		return port
	}
	if proto == "https" {
		return "443"
	}
	return "80"
}

// queryParameters decodes a raw query string, joining repeated keys' values with ","; nil if empty.
func queryParameters(raw string) map[string]string {
	if raw == "" {
		return nil
	}
	// ParseQuery keeps every well-formed pair even when it reports an error for another one.
	values, _ := url.ParseQuery(raw)
	if len(values) == 0 {
		return nil
	}
	params := make(map[string]string, len(values))
	for k, vs := range values {
		params[k] = strings.Join(vs, ",")
	}
	return params
}

// isText reports whether an HTTP API passes a body of this Content-Type to Lambda as text rather than
// base64: text/*, application/json, application/*+json, application/xml and application/javascript.
func isText(contentType string) bool {
	if contentType == "" {
		return false
	}
	mediaType, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		// Take the part before any parameters, as a lenient proxy would.
		mediaType = strings.ToLower(strings.TrimSpace(strings.SplitN(contentType, ";", 2)[0]))
	}
	switch {
	case strings.HasPrefix(mediaType, "text/"):
		return true
	case mediaType == "application/json", mediaType == "application/xml", mediaType == "application/javascript":
		return true
	case strings.HasPrefix(mediaType, "application/") && strings.HasSuffix(mediaType, "+json"):
		return true
	}
	return false
}

// hostOnly strips the port from host:port (and the brackets from an IPv6 literal).
func hostOnly(hostport string) string {
	if host, _, err := net.SplitHostPort(hostport); err == nil {
		return host
	}
	return strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]")
}

// newRequestID returns a random ID shaped like API Gateway's, e.g. "LV7fzho-PHcEJPw=".
func newRequestID() (string, error) {
	var b [11]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("request id: %w", err)
	}
	return base64.URLEncoding.EncodeToString(b[:]), nil
}

// newTraceID returns an X-Ray style trace header, e.g. "Root=1-5e9f0c65-1de4d666d4dd26aced652b6c".
func newTraceID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read does not fail on supported platforms
	return fmt.Sprintf("Root=1-%08x-%s", time.Now().Unix(), hex.EncodeToString(b[:]))
}

// WriteResponse writes a Lambda integration's payload format 2.0 response to w as API Gateway does:
// statusCode (0 means 200), headers, multiValueHeaders, one Set-Cookie line per cookie, and the body,
// base64-decoded when isBase64Encoded. It writes nothing and returns an error if the body is not valid
// base64 (API Gateway answers such a response with 500). Content-Length is computed, never copied.
func WriteResponse(w http.ResponseWriter, resp events.APIGatewayV2HTTPResponse) error {
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
			return fmt.Errorf("%w: decode base64 body: %w", errBadResponse, err)
		}
	}
	status := resp.StatusCode
	if status == 0 {
		status = http.StatusOK
	}
	if status < 100 || status > 999 {
		return fmt.Errorf("%w: status code %d is not an HTTP status", errBadResponse, status)
	}
	h := w.Header()
	for k, v := range resp.Headers {
		h.Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	for _, c := range resp.Cookies {
		h.Add("Set-Cookie", c)
	}
	h.Del("Content-Length")
	h.Del("Transfer-Encoding")
	if _, ok := h["Content-Type"]; !ok {
		// API Gateway does not sniff a content type; stop net/http from doing so.
		h["Content-Type"] = nil
	}
	if bodyAllowed(status) {
		h.Set("Content-Length", strconv.Itoa(len(body)))
	}
	w.WriteHeader(status)
	if len(body) == 0 || !bodyAllowed(status) {
		return nil
	}
	if _, err := w.Write(body); err != nil {
		return fmt.Errorf("write response body: %w", err)
	}
	return nil
}

// bodyAllowed reports whether a response with this status may have a body (RFC 9110).
func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}
