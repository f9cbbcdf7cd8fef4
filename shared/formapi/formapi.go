// Package formapi adapts API Gateway v2 (HTTP API) requests for the public intake route
// POST /v1/forms/{formID}/submissions to package intake: HTTP methods, CORS, content negotiation, and
// errors as problem+json for scripts or, for a browser posting a plain HTML form, as an HTML page in the
// form's language or a 303 to the form's errorURL. See docs/openapi.yaml for the contract.
package formapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"leadvault/shared/domain"
	"leadvault/shared/formbody"
	"leadvault/shared/intake"
	"leadvault/shared/problem"
)

// Intake is what the adapter needs from the intake service.
type Intake interface {
	Form(ctx context.Context, formID string) (domain.Form, error)
	Submit(ctx context.Context, f domain.Form, sub intake.Submission) (intake.Result, error)
}

var _ Intake = (*intake.Service)(nil)

// SubmissionIDHeader carries the stored lead's ID on every success, including a retried one.
const SubmissionIDHeader = "Leadvault-Submission-Id"

const (
	allowMethods = "POST, OPTIONS"
	allowHeaders = "Content-Type, Accept, Idempotency-Key"
	maxKeyLen    = 255
)

// Handler answers the intake route.
type Handler struct {
	intake Intake
	log    *slog.Logger
}

// New returns a Handler.
func New(in Intake, log *slog.Logger) *Handler { return &Handler{intake: in, log: log} }

// Handle answers one request. It returns an error only for faults it cannot describe to the client.
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	rid := req.RequestContext.RequestID
	headers := lowerKeys(req.Headers)
	c := negotiate(headers)
	method := req.RequestContext.HTTP.Method
	if method != http.MethodPost && method != http.MethodOptions {
		p := problem.New(http.StatusMethodNotAllowed, "method-not-allowed", "Method Not Allowed",
			"This resource accepts POST (and OPTIONS for CORS preflight).")
		p.Allow = allowMethods
		return answer(p, rid, c, nil, nil), nil
	}
	formID := req.PathParameters["formID"]
	form, err := h.intake.Form(ctx, formID)
	if errors.Is(err, intake.ErrFormNotFound) {
		return answer(problem.New(http.StatusNotFound, "form-not-found", "Form Not Found",
			"No enabled form has this ID."), rid, c, nil, nil), nil
	}
	if err != nil {
		return h.fault(ctx, rid, c, nil, "load form", err), nil
	}
	origin := requestOrigin(headers)
	var cors map[string]string
	if origin != "" {
		if !form.OriginAllowed(origin) {
			return answer(problem.New(http.StatusForbidden, "origin-not-allowed", "Origin Not Allowed",
				"This form does not accept submissions from the page's origin."), rid, c, &form, nil), nil
		}
		cors = map[string]string{
			"Access-Control-Allow-Origin":   origin,
			"Access-Control-Expose-Headers": SubmissionIDHeader + ", Retry-After",
			"Vary":                          "Origin",
		}
	}
	if method == http.MethodOptions {
		return preflight(cors), nil
	}
	return h.submit(ctx, req, headers, c, form, origin, cors), nil
}

func preflight(cors map[string]string) events.APIGatewayV2HTTPResponse {
	h := map[string]string{"Allow": allowMethods, "Cache-Control": "no-store"}
	for k, v := range cors {
		h[k] = v
	}
	if cors != nil {
		h["Access-Control-Allow-Methods"] = allowMethods
		h["Access-Control-Allow-Headers"] = allowHeaders
		h["Access-Control-Max-Age"] = "600"
	}
	return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusNoContent, Headers: h}
}

func (h *Handler) submit(ctx context.Context, req events.APIGatewayV2HTTPRequest, headers map[string]string, c client, form domain.Form, origin string, cors map[string]string) events.APIGatewayV2HTTPResponse {
	rid := req.RequestContext.RequestID
	key := headers["idempotency-key"]
	if len(key) > maxKeyLen || !printableASCII(key) {
		return answer(problem.New(http.StatusBadRequest, "invalid-idempotency-key", "Invalid Idempotency-Key",
			"The Idempotency-Key header must be at most 255 printable ASCII characters."), rid, c, &form, cors)
	}
	body, err := formbody.Parse(formbody.Request{ContentType: headers["content-type"], Body: req.Body, Base64: req.IsBase64Encoded})
	if err != nil {
		return answer(bodyProblem(err), rid, c, &form, cors)
	}
	// A browser is redirected to the form's thank-you page, or shown one of ours when the form names none;
	// a script gets JSON.
	wantJSON := body.Kind == formbody.KindJSON || !c.html
	res, err := h.intake.Submit(ctx, form, intake.Submission{
		Body: body, Origin: origin, ClientIP: req.RequestContext.HTTP.SourceIP, IdempotencyKey: key,
	})
	var invalid *intake.ValidationError
	var limited *intake.RateLimitedError
	switch {
	case err == nil:
	case errors.As(err, &invalid):
		p := problem.New(http.StatusUnprocessableEntity, "validation-failed", "Validation Failed",
			"One or more fields are missing or invalid; see errors.")
		for _, e := range invalid.Problems {
			p.Errors = append(p.Errors, problem.FieldError(e))
		}
		return answer(p, rid, c, &form, cors)
	case errors.As(err, &limited):
		p := problem.New(http.StatusTooManyRequests, "rate-limited", "Too Many Requests",
			"Too many submissions from this "+map[string]string{"ip": "network address", "form": "form"}[limited.Scope]+"; retry later.")
		p.RetryAfter = limited.RetryAfter
		return answer(p, rid, c, &form, cors)
	case errors.Is(err, intake.ErrAttachmentsNotAccepted):
		return answer(problem.New(http.StatusUnsupportedMediaType, "attachments-not-accepted", "Attachments Not Accepted",
			"This form does not accept file uploads; send the fields only."), rid, c, &form, cors)
	case errors.Is(err, intake.ErrIdempotencyConflict):
		return answer(problem.New(http.StatusUnprocessableEntity, "idempotency-key-reused", "Idempotency Key Reused",
			"This Idempotency-Key was already used for a different submission."), rid, c, &form, cors)
	default:
		return h.fault(ctx, rid, c, &form, "submit", err)
	}

	out := map[string]string{"Cache-Control": "no-store", SubmissionIDHeader: res.LeadID, "X-Content-Type-Options": "nosniff"}
	for k, v := range cors {
		out[k] = v
	}
	if !wantJSON && form.RedirectURL != "" {
		out["Location"] = form.RedirectURL
		return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusSeeOther, Headers: out}
	}
	if !wantJSON {
		return thanks(out, &form, c, res.LeadID)
	}
	out["Content-Type"] = "application/json"
	b, _ := json.Marshal(map[string]string{"id": res.LeadID, "status": "received"})
	return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusCreated, Headers: out, Body: string(b)}
}

// fault logs an internal error and tells the client to retry: nothing was stored, or a retry of the same
// request finds what was (idempotency), so nothing is lost. f is nil when the form could not be loaded.
func (h *Handler) fault(ctx context.Context, rid string, c client, f *domain.Form, op string, err error) events.APIGatewayV2HTTPResponse {
	h.log.ErrorContext(ctx, "intake fault", "op", op, "requestId", rid, "error", err.Error())
	p := problem.New(http.StatusServiceUnavailable, "temporarily-unavailable", "Temporarily Unavailable",
		"The submission could not be stored right now. Retry the same request; it will not be stored twice.")
	p.RetryAfter = 5e9
	return answer(p, rid, c, f, nil)
}

func bodyProblem(err error) *problem.Problem {
	switch {
	case errors.Is(err, formbody.ErrTooLarge):
		return problem.New(http.StatusRequestEntityTooLarge, "body-too-large", "Body Too Large",
			"The request body must be at most "+strconv.Itoa(formbody.MaxBytes>>10)+" KiB.")
	case errors.Is(err, formbody.ErrUnsupportedMediaType):
		return problem.New(http.StatusUnsupportedMediaType, "unsupported-media-type", "Unsupported Media Type",
			"Send application/x-www-form-urlencoded, multipart/form-data or application/json in UTF-8.")
	}
	// formbody's messages name fields, never values, so they are safe to return.
	return problem.New(http.StatusBadRequest, "malformed-body", "Malformed Body", err.Error())
}

// requestOrigin is the Origin header, or failing that the origin of the Referer.
func requestOrigin(h map[string]string) string {
	if o := h["origin"]; o != "" && o != "null" {
		return o
	}
	if r := h["referer"]; r != "" {
		if u, err := url.Parse(r); err == nil && u.Scheme != "" && u.Host != "" {
			return u.Scheme + "://" + u.Host
		}
	}
	return ""
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// lowerKeys copies headers with lower-case names; API Gateway already lower-cases them, local tools may not.
func lowerKeys(h map[string]string) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		out[strings.ToLower(k)] = v
	}
	return out
}
