// Package formapi adapts API Gateway v2 (HTTP API) requests for the public intake route
// POST /v1/forms/{formID}/submissions to package intake: HTTP methods, CORS, content negotiation, and
// errors as problem+json for scripts or, for a browser posting a plain HTML form, as an HTML page in the
// form's language or a 303 to the form's errorURL. See docs/openapi.yaml for the contract.
package formapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"leadvault/shared/domain"
	"leadvault/shared/formbody"
	"leadvault/shared/httpapi"
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

// Route is the intake route's path pattern.
const Route = "/v1/forms/{formID}/submissions"

// Handler answers the intake route.
type Handler struct {
	intake Intake
	log    *slog.Logger
	router *httpapi.Router
}

// New returns a Handler.
func New(in Intake, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Handler{intake: in, log: log}
	h.router = httpapi.NewRouter(log, h.writeProblem)
	h.router.Handle(http.MethodPost+" "+Route, h.serve)
	h.router.Handle(http.MethodOptions+" "+Route, h.serve)
	return h
}

// Handle is the Lambda entry point: it answers one API Gateway HTTP API event. It returns an error only
// for faults it cannot describe to the client.
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return h.router.Lambda(ctx, req)
}

// ServeHTTP answers one request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.router.ServeHTTP(w, r) }

// formError is a failure of a request for a known form, which is answered as that form asks (its
// errorURL, its language).
type formError struct {
	form *domain.Form
	err  error
}

func (e *formError) Error() string { return e.err.Error() }
func (e *formError) Unwrap() error { return e.err }

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	form, err := h.intake.Form(ctx, r.PathValue("formID"))
	if errors.Is(err, intake.ErrFormNotFound) {
		return problem.New(http.StatusNotFound, "form-not-found", "Form Not Found", "No enabled form has this ID.")
	}
	if errors.Is(err, intake.ErrContractEnded) {
		return &formError{&form, contractEnded()}
	}
	if err != nil {
		return fmt.Errorf("load form: %w", err)
	}
	origin := requestOrigin(r)
	cors := origin != ""
	if cors {
		if !form.OriginAllowed(origin) {
			return &formError{&form, problem.New(http.StatusForbidden, "origin-not-allowed", "Origin Not Allowed",
				"This form does not accept submissions from the page's origin.")}
		}
		hd := w.Header()
		hd.Set("Access-Control-Allow-Origin", origin)
		hd.Set("Access-Control-Expose-Headers", SubmissionIDHeader+", Retry-After")
		hd.Set("Vary", "Origin")
	}
	if r.Method == http.MethodOptions {
		preflight(w, cors)
		return nil
	}
	if err := h.submit(w, r, form, origin); err != nil {
		return &formError{&form, err}
	}
	return nil
}

func preflight(w http.ResponseWriter, cors bool) {
	hd := w.Header()
	hd.Set("Allow", allowMethods)
	hd.Set("Cache-Control", "no-store")
	if cors {
		hd.Set("Access-Control-Allow-Methods", allowMethods)
		hd.Set("Access-Control-Allow-Headers", allowHeaders)
		hd.Set("Access-Control-Max-Age", "600")
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) submit(w http.ResponseWriter, r *http.Request, form domain.Form, origin string) error {
	key := httpapi.Header(r, "Idempotency-Key")
	if len(key) > maxKeyLen || !printableASCII(key) {
		return problem.New(http.StatusBadRequest, "invalid-idempotency-key", "Invalid Idempotency-Key",
			"The Idempotency-Key header must be at most 255 printable ASCII characters.")
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, formbody.MaxBytes+1))
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	body, err := formbody.Parse(formbody.Request{ContentType: r.Header.Get("Content-Type"), Body: string(raw)})
	if err != nil {
		return bodyProblem(err)
	}
	// A browser is redirected to the form's thank-you page, or shown one of ours when the form names none;
	// a script gets JSON.
	c := negotiate(r)
	wantJSON := body.Kind == formbody.KindJSON || !c.html
	res, err := h.intake.Submit(r.Context(), form, intake.Submission{
		Body: body, Origin: origin, ClientIP: httpapi.SourceIP(r), IdempotencyKey: key,
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
		return p
	case errors.As(err, &limited):
		p := problem.New(http.StatusTooManyRequests, "rate-limited", "Too Many Requests",
			"Too many submissions from this "+map[string]string{"ip": "network address", "form": "form"}[limited.Scope]+"; retry later.")
		p.RetryAfter = limited.RetryAfter
		return p
	case errors.Is(err, intake.ErrAttachmentsNotAccepted):
		return problem.New(http.StatusUnsupportedMediaType, "attachments-not-accepted", "Attachments Not Accepted",
			"This form does not accept file uploads; send the fields only.")
	case errors.Is(err, intake.ErrContractEnded):
		return contractEnded()
	case errors.Is(err, intake.ErrIdempotencyConflict):
		return problem.New(http.StatusUnprocessableEntity, "idempotency-key-reused", "Idempotency Key Reused",
			"This Idempotency-Key was already used for a different submission.")
	default:
		return fmt.Errorf("submit: %w", err)
	}

	hd := w.Header()
	hd.Set("Cache-Control", "no-store")
	hd.Set(SubmissionIDHeader, res.LeadID)
	hd.Set("X-Content-Type-Options", "nosniff")
	if !wantJSON && form.RedirectURL != "" {
		hd.Set("Location", form.RedirectURL)
		w.WriteHeader(http.StatusSeeOther)
		return nil
	}
	if !wantJSON {
		thanks(w, &form, c, res.LeadID)
		return nil
	}
	return httpapi.WriteJSON(w, http.StatusCreated, map[string]string{"id": res.LeadID, "status": "received"})
}

// writeProblem is the one place intake's failures are answered. A fault (any error that is not a
// problem; the router has logged it) tells the client to retry: nothing was stored, or a retry of the
// same request finds what was (idempotency), so nothing is lost. A 405 names intake's methods.
func (h *Handler) writeProblem(w http.ResponseWriter, r *http.Request, p *problem.Problem, cause error) {
	var fe *formError
	var f *domain.Form
	if errors.As(cause, &fe) {
		f = fe.form
	}
	switch p.Status {
	case http.StatusInternalServerError:
		p = problem.New(http.StatusServiceUnavailable, "temporarily-unavailable", "Temporarily Unavailable",
			"The submission could not be stored right now. Retry the same request; it will not be stored twice.")
		p.RetryAfter = 5 * time.Second
	case http.StatusMethodNotAllowed:
		p = problem.New(http.StatusMethodNotAllowed, "method-not-allowed", "Method Not Allowed",
			"This resource accepts POST (and OPTIONS for CORS preflight).")
		p.Allow = allowMethods
	}
	answer(w, p, httpapi.RequestID(r), negotiate(r), f)
}

// contractEnded is the answer of every form of a tenant whose contract has ended: 410, since the form will
// not take submissions again, and nothing of the submission was stored.
func contractEnded() *problem.Problem {
	return problem.New(http.StatusGone, "contract-ended", "Form Closed",
		"This form no longer takes submissions: its owner's service has ended. Nothing was stored; please contact the owner another way.")
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
func requestOrigin(req *http.Request) string {
	if o := httpapi.Header(req, "Origin"); o != "" && o != "null" {
		return o
	}
	if r := httpapi.Header(req, "Referer"); r != "" {
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
