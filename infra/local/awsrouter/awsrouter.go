// Package awsrouter is the one local endpoint every AWS client talks to.
//
// The AWS SDKs sign each request with SigV4, and the credential scope of that signature names the
// service the request is for (AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-north-1/kms/aws4_request, ...).
// The router reads that service name, from the Authorization header or, for presigned URLs, from the
// X-Amz-Credential query parameter, and reverse-proxies the request unchanged to the stand-in that plays
// the service. Signatures are not verified: the stand-ins accept any.
//
// The signing names the local stack uses are "dynamodb" (DynamoDB and DynamoDB Streams, which signs as
// dynamodb too), "kms", "s3" and "ses" (SES v1 and v2).
//
// Answers pass byte for byte: status, headers (X-Amz-Crc32 included) and body are the stand-in's. The
// router's transport never asks for gzip on its own, so it never decompresses a body whose checksum
// header covers the compressed bytes.
//
// # Fault injection
//
// NewWithFaults checks every request against the rules of a Faults before proxying it. A rule names a
// service (dynamodb, kms, s3, ses or *), an operation, a kind and a rate:
//
//   - operation: for DynamoDB, DynamoDB Streams and KMS the X-Amz-Target after its last dot (PutItem,
//     GetRecords, Decrypt); for S3 and SES an HTTP method optionally followed by a path prefix (PUT,
//     POST/v2/email/outbound-emails); * for any request;
//   - kind: throttle (the service's throttling error: DynamoDB and KMS 400 ThrottlingException, S3 503
//     SlowDown, SES v2 429 TooManyRequestsException, SES v1 400 Throttling), 5xx (500 with the service's
//     internal error in its protocol's shape), timeout (hold the request, by default DefaultHold, then
//     close the connection) or drop (close the connection at once); with the suffix @after the stand-in
//     first processes the request and its answer is thrown away: the work is done, the client doesn't
//     know (a lost response);
//   - rate: the probability 0..1 that a matching request gets the fault, drawn from a source seeded by
//     the spec's seed, so a run with the same requests in the same order injects the same faults.
//
// Tests switch rules on and off with Faults.Set and read per-rule counts with Faults.Counts. `make run`
// reads them from LEADVAULT_FAULTS (FaultsEnv) in ParseFaults' syntax:
//
//	LEADVAULT_FAULTS="dynamodb:PutItem:throttle:0.1,dynamodb:*:5xx@after:0.02,s3:*:5xx:0.05;seed=1"
package awsrouter

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"time"
)

// contextKey keys the chosen route in a request's context.
type contextKey struct{}

// route is what the router decided for one request.
type route struct {
	service string
	target  *url.URL
}

// New returns an http.Handler that sends each request to routes[service], where service is the signing
// name in the request's SigV4 credential scope, for example {"dynamodb": http://127.0.0.1:8000}.
// A target's path, if any, is prefixed to the request path. A request with no credential scope, or
// with a service that has no route (or a nil URL), gets 400 Bad Request with a one-line plain-text
// reason; a backend that cannot be reached gives 502 Bad Gateway. Bodies are streamed both ways, never
// buffered whole. New copies routes, so later changes to the map have no effect.
func New(routes map[string]*url.URL) http.Handler {
	return NewWithFaults(routes, nil)
}

// NewWithFaults is New with fault injection: each request is checked against faults' rules (see Faults)
// before it is proxied. A nil faults injects nothing.
func NewWithFaults(routes map[string]*url.URL, faults *Faults) http.Handler {
	rt := &router{routes: make(map[string]*url.URL, len(routes)), faults: faults}
	for service, target := range routes {
		if target != nil {
			u := *target
			rt.routes[strings.ToLower(service)] = &u
		}
	}
	rt.proxy = &httputil.ReverseProxy{
		Rewrite:   rewrite,
		Transport: newTransport(),
		// Flush every write: an answer reaches the client as the stand-in produces it.
		FlushInterval: -1,
		ErrorHandler:  proxyError,
	}
	return rt
}

type router struct {
	routes map[string]*url.URL
	proxy  *httputil.ReverseProxy
	faults *Faults
}

func (rt *router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	service, err := Service(r)
	if err != nil {
		http.Error(w, "awsrouter: "+err.Error(), http.StatusBadRequest)
		return
	}
	target, ok := rt.routes[service]
	if !ok {
		http.Error(w, fmt.Sprintf("awsrouter: no stand-in for AWS service %q (routed: %s)", service, rt.known()), http.StatusBadRequest)
		return
	}
	ctx := context.WithValue(r.Context(), contextKey{}, route{service: service, target: target})
	r = r.WithContext(ctx)
	rule, hold, fault := rt.faults.pick(service, r)
	switch {
	case !fault:
		rt.proxy.ServeHTTP(w, r)
	case rule.After:
		// The stand-in does the work; the client never hears of it.
		rt.proxy.ServeHTTP(&discard{h: http.Header{}}, r)
		inject(w, r, service, rule, hold)
	default:
		inject(w, r, service, rule, hold)
	}
}

// known lists the routed services for error messages.
func (rt *router) known() string {
	names := make([]string, 0, len(rt.routes))
	for name := range rt.routes {
		names = append(names, name)
	}
	if len(names) == 0 {
		return "none"
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// Service returns the signing name of the AWS service a request is for, lower-cased, taken from the
// SigV4 (or SigV4a) credential scope in the Authorization header or the X-Amz-Credential query
// parameter. It returns an error naming what is missing or malformed.
func Service(r *http.Request) (string, error) {
	auth := r.Header.Get("Authorization")
	if cred, ok := credentialFromAuthorization(auth); ok {
		return serviceFromCredential(cred)
	}
	// A presigned link carries its signature in the query; a browser or curl following one may still send
	// an Authorization header of its own (a bearer token), which is not AWS's.
	if cred := r.URL.Query().Get("X-Amz-Credential"); cred != "" {
		return serviceFromCredential(cred)
	}
	if auth != "" {
		return "", errors.New("no SigV4 Credential=... in the Authorization header; is the request signed by an AWS SDK?")
	}
	return "", errors.New("request is not SigV4-signed: no Authorization header and no X-Amz-Credential query parameter")
}

// credentialFromAuthorization returns the value of Credential= in a SigV4 Authorization header:
// "AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-north-1/s3/aws4_request, SignedHeaders=..., Signature=...".
func credentialFromAuthorization(auth string) (string, bool) {
	_, rest, ok := strings.Cut(auth, "Credential=")
	if !ok {
		return "", false
	}
	cred, _, _ := strings.Cut(rest, ",")
	return strings.TrimSpace(cred), true
}

// serviceFromCredential takes the service out of "AKID/date/region/service/aws4_request" (SigV4) or
// "AKID/date/service/aws4_request" (SigV4a, which has no region in the scope).
func serviceFromCredential(cred string) (string, error) {
	parts := strings.Split(cred, "/")
	n := len(parts)
	if n < 4 || parts[n-1] != "aws4_request" || parts[n-2] == "" {
		return "", fmt.Errorf("malformed SigV4 credential scope %q; want AKID/DATE/REGION/SERVICE/aws4_request", cred)
	}
	return strings.ToLower(parts[n-2]), nil
}

// rewrite points the outgoing request at the chosen stand-in. The Host header is kept as the client
// sent (and signed) it, and Expect is dropped: the client-facing server already answered it.
func rewrite(pr *httputil.ProxyRequest) {
	rt, _ := pr.In.Context().Value(contextKey{}).(route)
	pr.SetURL(rt.target)
	pr.Out.Host = pr.In.Host
	pr.Out.Header.Del("Expect")
}

// proxyError answers 502 naming the stand-in that failed.
func proxyError(w http.ResponseWriter, r *http.Request, err error) {
	rt, _ := r.Context().Value(contextKey{}).(route)
	if errors.Is(err, context.Canceled) {
		// The client went away; nobody is listening for the answer.
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	http.Error(w, fmt.Sprintf("awsrouter: %s stand-in at %s: %v", rt.service, rt.target, err), http.StatusBadGateway)
}

// newTransport is http.DefaultTransport's dialer with more idle connections per backend (the SDKs run
// many requests in parallel against one stand-in) and no transparent gzip, so bodies pass as they are.
func newTransport() *http.Transport {
	return &http.Transport{
		Proxy: nil,
		DialContext: (&net.Dialer{
			Timeout:   5 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
}
