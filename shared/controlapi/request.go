package controlapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"leadvault/shared/domain"
	"leadvault/shared/problem"
	"leadvault/shared/store"
)

// maxBody bounds request bodies; the largest legitimate one, a form configuration, is a few KB.
const maxBody = 64 << 10

// param returns a path parameter, or ok false (answer 404) if it cannot be an ID.
func (c *call) param(name string) (string, bool) {
	v := c.r.PathValue(name)
	return v, domain.ValidRef(v)
}

// fetch reads what the path parameter names with get, or gives the answer to send instead: 404 for an ID
// that cannot exist or is not found (another tenant's looks exactly the same), 500 for a failure.
func fetch[T any](c *call, param, what string, get func(ctx context.Context, id string) (T, error)) (T, error) {
	var zero T
	id, ok := c.param(param)
	if !ok {
		return zero, notFound("No such " + what + ".")
	}
	v, err := get(c.ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return zero, notFound("No such " + what + ".")
	}
	if err != nil {
		return zero, err
	}
	return v, nil
}

// decode reads the JSON body into v, refusing unknown fields, trailing data and other media types. The
// problem it returns is ready to send.
func (c *call) decode(v any, mediaTypes ...string) *problem.Problem {
	ct := c.r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	ok := err == nil && mt == "application/json"
	for _, m := range mediaTypes {
		ok = ok || (err == nil && mt == m)
	}
	if !ok {
		return problem.New(http.StatusUnsupportedMediaType, "unsupported-media-type", "Unsupported Media Type",
			"Send the body as application/json.")
	}
	body, err := io.ReadAll(io.LimitReader(c.r.Body, maxBody+1))
	if err != nil {
		return badJSON("The body could not be read.")
	}
	if len(body) > maxBody {
		return problem.New(http.StatusRequestEntityTooLarge, "too-large", "Content Too Large",
			fmt.Sprintf("The body may be at most %d bytes.", maxBody))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var syntax *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &typ):
			return badJSON(fmt.Sprintf("Field %q has the wrong type.", typ.Field))
		case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
			return badJSON("The body is not a JSON object.")
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return badJSON("Unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ") + ".")
		}
		return badJSON("The body could not be read as JSON.")
	}
	if dec.More() {
		return badJSON("The body has data after the JSON object.")
	}
	return nil
}

func badJSON(detail string) *problem.Problem {
	return problem.New(http.StatusBadRequest, "malformed-body", "Malformed Body", detail)
}

// invalid is a 422 with one entry per bad field.
func invalid(errs ...problem.FieldError) *problem.Problem {
	p := problem.New(http.StatusUnprocessableEntity, "validation-failed", "Validation Failed", "Some fields are not valid.")
	p.Errors = errs
	return p
}

func conflict(slug, detail string) *problem.Problem {
	return problem.New(http.StatusConflict, slug, "Conflict", detail)
}

// page reads limit and cursor; a bad limit is a 400.
func (c *call) page() (limit int, cursor string, p *problem.Problem) {
	q := c.r.URL.Query()
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > store.MaxPage {
			return 0, "", badQuery("limit", fmt.Sprintf("limit must be a whole number from 1 to %d.", store.MaxPage))
		}
		limit = n
	}
	return limit, q.Get("cursor"), nil
}

// timeRange reads from and to (RFC 3339); to must be after from.
func (c *call) timeRange() (from, to time.Time, p *problem.Problem) {
	q := c.r.URL.Query()
	for _, f := range []struct {
		name string
		t    *time.Time
	}{{"from", &from}, {"to", &to}} {
		if s := q.Get(f.name); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil && strings.Contains(s, " ") {
				// An offset's '+' sent unencoded arrives as a space in a decoded query.
				t, err = time.Parse(time.RFC3339, strings.ReplaceAll(s, " ", "+"))
			}
			if err != nil {
				return time.Time{}, time.Time{}, badQuery(f.name, f.name+" must be an RFC 3339 time, e.g. 2026-11-30T09:00:00Z.")
			}
			*f.t = t
		}
	}
	if !from.IsZero() && !to.IsZero() && !to.After(from) {
		return time.Time{}, time.Time{}, badQuery("to", "to must be after from.")
	}
	return from, to, nil
}

func badQuery(field, detail string) *problem.Problem {
	p := problem.New(http.StatusBadRequest, "invalid-query", "Invalid Query Parameter", detail)
	p.Errors = []problem.FieldError{{Field: field, Code: "invalid", Message: detail}}
	return p
}

func badCursor() *problem.Problem {
	return badQuery("cursor", "The cursor was not issued for this query; start again without it.")
}

// list is the body of every collection answer.
type list[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next,omitempty"`
}
