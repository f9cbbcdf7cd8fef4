package awsrouter

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// FaultsEnv names the environment variable `make run` reads a fault specification from (see ParseFaults).
const FaultsEnv = "LEADVAULT_FAULTS"

// Kind is what an injected fault does to a request.
type Kind string

// The kinds of fault.
const (
	// Throttle answers with the service's own throttling error: DynamoDB 400 ThrottlingException, KMS
	// 400 ThrottlingException, S3 503 SlowDown, SES v2 429 TooManyRequestsException, SES v1 400 Throttling.
	Throttle Kind = "throttle"
	// ServerError answers 500 with the service's internal error in its protocol's shape.
	ServerError Kind = "5xx"
	// Timeout holds the request for Faults' hold time (past any sensible client deadline) and then
	// closes the connection without an answer.
	Timeout Kind = "timeout"
	// Drop closes the connection without an answer.
	Drop Kind = "drop"
)

// Rule injects one kind of fault into a share of the requests for one service and operation.
type Rule struct {
	// Service is a signing name: dynamodb, kms, s3 or ses; "*" matches any.
	Service string
	// Operation is, for the JSON protocols (DynamoDB, DynamoDB Streams, KMS), the X-Amz-Target after
	// its last dot, e.g. PutItem; for the REST protocols (S3, SES) an HTTP method optionally followed
	// by a path prefix, e.g. PUT or POST/v2/email/outbound-emails; "*" matches any request.
	Operation string
	Kind      Kind
	// After lets the stand-in process the request and then applies the fault to the answer: the
	// client does not learn that its request took effect (a lost response).
	After bool
	// Rate is the probability, 0..1, that a matching request gets the fault.
	Rate float64
}

// String gives the rule in ParseFaults' syntax.
func (r Rule) String() string {
	kind := string(r.Kind)
	if r.After {
		kind += "@after"
	}
	return r.Service + ":" + r.Operation + ":" + kind + ":" + strconv.FormatFloat(r.Rate, 'g', -1, 64)
}

// matches reports whether the rule applies to a request for service with the given operation key.
func (r Rule) matches(service string, req *http.Request) bool {
	if r.Service != "*" && r.Service != service {
		return false
	}
	if r.Operation == "*" {
		return true
	}
	if target := req.Header.Get("X-Amz-Target"); target != "" {
		return target[strings.LastIndexByte(target, '.')+1:] == r.Operation
	}
	method, path := r.Operation, ""
	if i := strings.IndexByte(r.Operation, '/'); i >= 0 {
		method, path = r.Operation[:i], r.Operation[i:]
	}
	return strings.EqualFold(method, req.Method) && strings.HasPrefix(req.URL.Path, path)
}

// Count is how often a rule matched a request and how often it injected its fault.
type Count struct {
	Rule     Rule
	Matched  int64
	Injected int64
}

// Faults is a switchable set of fault rules shared by a router and the tests driving it. The zero value
// is not usable; create one with NewFaults. Its methods are safe for concurrent use.
type Faults struct {
	mu     sync.Mutex
	rules  []Rule
	counts []Count
	rng    *rand.Rand
	seed   uint64
	hold   time.Duration
}

// DefaultHold is how long a Timeout fault holds a request unless SetHold says otherwise.
const DefaultHold = 10 * time.Second

// NewFaults returns a Faults with no rules: every request passes.
func NewFaults() *Faults {
	return &Faults{rng: rand.New(rand.NewPCG(0, 0)), hold: DefaultHold}
}

// Set replaces the rules, reseeds the random source with seed and zeroes the counts. With the same
// seed and the same sequence of requests, the same requests get faults.
func (f *Faults) Set(seed uint64, rules ...Rule) error {
	for _, r := range rules {
		if err := r.validate(); err != nil {
			return err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = append([]Rule(nil), rules...)
	f.counts = make([]Count, len(rules))
	for i, r := range rules {
		f.counts[i].Rule = r
	}
	f.seed = seed
	f.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return nil
}

// SetSpec is Set with rules and seed in ParseFaults' syntax.
func (f *Faults) SetSpec(spec string) error {
	seed, rules, err := ParseFaults(spec)
	if err != nil {
		return err
	}
	return f.Set(seed, rules...)
}

// Clear removes every rule; the counts of the removed rules are kept for Counts until the next Set.
func (f *Faults) Clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = nil
}

// SetHold sets how long a Timeout fault holds a request.
func (f *Faults) SetHold(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hold = d
}

// Counts returns each rule of the last Set with how often it matched and injected.
func (f *Faults) Counts() []Count {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Count(nil), f.counts...)
}

// Injected is the total of faults injected since the last Set.
func (f *Faults) Injected() int64 {
	var n int64
	for _, c := range f.Counts() {
		n += c.Injected
	}
	return n
}

// pick decides the fault for one request, if any: the first matching rule whose draw hits.
func (f *Faults) pick(service string, r *http.Request) (Rule, time.Duration, bool) {
	if f == nil {
		return Rule{}, 0, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, rule := range f.rules {
		if !rule.matches(service, r) {
			continue
		}
		f.counts[i].Matched++
		if f.rng.Float64() < rule.Rate {
			f.counts[i].Injected++
			return rule, f.hold, true
		}
	}
	return Rule{}, 0, false
}

func (r Rule) validate() error {
	switch r.Service {
	case "*", "dynamodb", "kms", "s3", "ses":
	default:
		return fmt.Errorf("fault rule %s: service %q is not dynamodb, kms, s3, ses or *", r, r.Service)
	}
	if r.Operation == "" {
		return fmt.Errorf("fault rule %s: empty operation (use * for any)", r)
	}
	switch r.Kind {
	case Throttle, ServerError, Timeout, Drop:
	default:
		return fmt.Errorf("fault rule %s: kind %q is not throttle, 5xx, timeout or drop", r, r.Kind)
	}
	if !(r.Rate >= 0 && r.Rate <= 1) {
		return fmt.Errorf("fault rule %s: rate %v is not within 0..1", r, r.Rate)
	}
	return nil
}

// ParseFaults reads a fault specification: comma-separated rules service:operation:kind:rate, then
// optionally ";seed=N" (default 1). kind is throttle, 5xx, timeout or drop, with "@after" to let the
// stand-in process the request first. Example:
//
//	dynamodb:PutItem:throttle:0.1,dynamodb:TransactWriteItems:5xx@after:0.05,s3:*:5xx:0.05;seed=7
func ParseFaults(spec string) (seed uint64, rules []Rule, err error) {
	seed = 1
	spec = strings.TrimSpace(spec)
	ruleSpec, opts, _ := strings.Cut(spec, ";")
	for _, opt := range strings.Split(opts, ";") {
		opt = strings.TrimSpace(opt)
		if opt == "" {
			continue
		}
		v, ok := strings.CutPrefix(opt, "seed=")
		if !ok {
			return 0, nil, fmt.Errorf("fault spec: unknown option %q (want seed=N)", opt)
		}
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			return 0, nil, fmt.Errorf("fault spec: seed %q is not a non-negative integer", v)
		}
	}
	for _, part := range strings.Split(ruleSpec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		fields := strings.Split(part, ":")
		if len(fields) != 4 {
			return 0, nil, fmt.Errorf("fault rule %q: want service:operation:kind:rate", part)
		}
		kind, after := strings.CutSuffix(fields[2], "@after")
		rate, err := strconv.ParseFloat(fields[3], 64)
		if err != nil {
			return 0, nil, fmt.Errorf("fault rule %q: rate %q is not a number", part, fields[3])
		}
		r := Rule{Service: strings.ToLower(fields[0]), Operation: fields[1], Kind: Kind(kind), After: after, Rate: rate}
		if err := r.validate(); err != nil {
			return 0, nil, err
		}
		rules = append(rules, r)
	}
	return seed, rules, nil
}

// inject applies a fault to the client's connection. For an @after fault the stand-in has already
// answered and the answer was discarded.
func inject(w http.ResponseWriter, r *http.Request, service string, rule Rule, hold time.Duration) {
	switch rule.Kind {
	case Timeout:
		t := time.NewTimer(hold)
		select {
		case <-r.Context().Done():
		case <-t.C:
		}
		t.Stop()
		hangUp(w)
	case Drop:
		hangUp(w)
	default:
		writeError(w, r, service, rule.Kind)
	}
}

// hangUp closes the client's connection without an answer.
func hangUp(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// HTTP/2 cannot be hijacked; aborting the handler resets the stream instead.
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

// writeError answers with the service's throttling or internal error, shaped as its protocol shapes
// errors, so the SDK classifies it as it would on AWS (retryable throttling or server error).
func writeError(w http.ResponseWriter, r *http.Request, service string, kind Kind) {
	throttle := kind == Throttle
	h := w.Header()
	h.Set("X-Amzn-Requestid", "fault-injected")
	switch {
	case service == "dynamodb" || service == "kms":
		ct := "application/x-amz-json-1.1"
		code, status := "KMSInternalException", http.StatusInternalServerError
		if service == "dynamodb" {
			ct = "application/x-amz-json-1.0"
			code = "com.amazonaws.dynamodb.v20120810#InternalServerError"
			if throttle {
				code, status = "com.amazonaws.dynamodb.v20120810#ThrottlingException", http.StatusBadRequest
			}
		} else if throttle {
			code, status = "ThrottlingException", http.StatusBadRequest
		}
		h.Set("Content-Type", ct)
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"__type":%q,"message":"injected by the local AWS router"}`, code)
	case service == "s3":
		code, status := "InternalError", http.StatusInternalServerError
		if throttle {
			code, status = "SlowDown", http.StatusServiceUnavailable
		}
		h.Set("Content-Type", "application/xml")
		w.WriteHeader(status)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+
			`<Error><Code>%s</Code><Message>injected by the local AWS router</Message><RequestId>fault-injected</RequestId></Error>`, code)
	case service == "ses" && strings.HasPrefix(r.URL.Path, "/v2/"):
		code, status := "InternalFailure", http.StatusInternalServerError
		if throttle {
			code, status = "TooManyRequestsException", http.StatusTooManyRequests
		}
		h.Set("Content-Type", "application/json")
		h.Set("X-Amzn-Errortype", code)
		w.WriteHeader(status)
		fmt.Fprint(w, `{"message":"injected by the local AWS router"}`)
	default: // SES v1 and anything else: the query protocol's XML.
		code, typ, status := "InternalFailure", "Receiver", http.StatusInternalServerError
		if throttle {
			code, typ, status = "Throttling", "Sender", http.StatusBadRequest
		}
		h.Set("Content-Type", "text/xml")
		w.WriteHeader(status)
		fmt.Fprintf(w, `<ErrorResponse><Error><Type>%s</Type><Code>%s</Code><Message>injected by the local AWS router</Message></Error>`+
			`<RequestId>fault-injected</RequestId></ErrorResponse>`, typ, code)
	}
}

// discard is the ResponseWriter an @after fault proxies into: the stand-in's answer is read in full
// (so the stand-in completes the request) and thrown away.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}
func (d *discard) Flush()                      {}
