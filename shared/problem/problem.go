// Package problem writes RFC 9457 problem details as API Gateway v2 responses.
package problem

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
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

// Response renders the problem; extra headers (e.g. CORS) are added to its own.
func (p *Problem) Response(requestID string, extra map[string]string) events.APIGatewayV2HTTPResponse {
	p.RequestID = requestID
	body, err := json.Marshal(p)
	if err != nil {
		body = []byte(`{"type":"about:blank","title":"Internal Server Error","status":500}`)
		p.Status = http.StatusInternalServerError
	}
	h := map[string]string{"Content-Type": ContentType, "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
	for k, v := range extra {
		h[k] = v
	}
	if p.RetryAfter > 0 {
		h["Retry-After"] = strconv.Itoa(int((p.RetryAfter + time.Second - 1) / time.Second))
	}
	if p.Allow != "" {
		h["Allow"] = p.Allow
	}
	return events.APIGatewayV2HTTPResponse{StatusCode: p.Status, Headers: h, Body: string(body)}
}
