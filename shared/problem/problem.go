// Package problem is RFC 9457 problem details: the one error body both HTTP APIs answer with.
package problem

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// ContentType is the media type of a problem body.
const ContentType = "application/problem+json"

// TypePrefix begins every problem type URI; docs/openapi.yaml lists the types.
const TypePrefix = "urn:leadvault:problem:"

// FieldError is one entry of a 422 problem's errors array.
type FieldError struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Problem is a problem details object. Detail is written for the client and never carries internal error
// text or personal data.
type Problem struct {
	Type      string       `json:"type"`
	Title     string       `json:"title"`
	Status    int          `json:"status"`
	Detail    string       `json:"detail,omitempty"`
	RequestID string       `json:"requestId,omitempty"`
	Errors    []FieldError `json:"errors,omitempty"`
	// RetryAfter, when set, is also sent as the Retry-After header.
	RetryAfter time.Duration `json:"-"`
	// Allow, when set, is sent as the Allow header (405).
	Allow string `json:"-"`
}

// New returns a problem of the given slug (e.g. "validation-failed") and status.
func New(status int, slug, title, detail string) *Problem {
	return &Problem{Type: TypePrefix + slug, Title: title, Status: status, Detail: detail}
}

// Error makes a Problem an error a handler can return; the router answers it as the problem it is.
func (p *Problem) Error() string { return p.Type + ": " + p.Title }

// Write answers the problem on w. Headers already set on w (e.g. CORS) are kept.
func (p *Problem) Write(w http.ResponseWriter, requestID string) {
	p.RequestID = requestID
	body, err := json.Marshal(p)
	if err != nil {
		body = []byte(`{"type":"about:blank","title":"Internal Server Error","status":500}`)
		p.Status = http.StatusInternalServerError
	}
	p.SetHeaders(w.Header())
	w.Header().Set("Content-Type", ContentType)
	w.WriteHeader(p.Status)
	_, _ = w.Write(body)
}

// SetHeaders sets the headers every answer of the problem carries, whatever its body: no caching,
// nosniff, Retry-After and Allow when set.
func (p *Problem) SetHeaders(h http.Header) {
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if p.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int((p.RetryAfter+time.Second-1)/time.Second)))
	}
	if p.Allow != "" {
		h.Set("Allow", p.Allow)
	}
}
