package formapi_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"leadvault/shared/domain"
	"leadvault/shared/formapi"
)

// secrets are the submitted values no error answer may repeat, in its body or its Location.
var secrets = []string{"Hemmelig", "hemmelig", "20%2099", "20 99", "010190"}

func TestHandle_errorAnswers(t *testing.T) {
	const browserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	const errorURL = "https://www.acme.example/fejl?src=form"
	invalid := "name=Hemmelig+Hansen&email=hemmelig%40%40example.dk&phone=20%2099&message=cpr+010190-1234&consent=on"
	cases := []struct {
		name   string
		status int
		slug   string
		fields string // the errorURL's fields parameter
		req    func(r events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPRequest
	}{
		{"400", 400, "malformed-body", "", func(r events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPRequest {
			return withBody(r, "application/x-www-form-urlencoded", "%%%zz&"+invalid)
		}},
		{"413", 413, "body-too-large", "", func(r events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPRequest {
			return withBody(r, "application/x-www-form-urlencoded", invalid+strings.Repeat("a", 256<<10))
		}},
		{"415", 415, "unsupported-media-type", "", func(r events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPRequest {
			return withBody(r, "text/plain", "name=Hemmelig Hansen\r\nemail=hemmelig@example.dk\r\n")
		}},
		{"422", 422, "validation-failed", "email,message,phone", func(r events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPRequest {
			return withBody(r, "application/x-www-form-urlencoded", invalid)
		}},
		{"429", 429, "rate-limited", "", nil},
		{"503", 503, "temporarily-unavailable", "", nil},
	}
	modes := []struct {
		name   string
		accept string
		form   func(*domain.Form)
	}{
		{"json", "application/json", nil},
		{"html", browserAccept, nil},
		{"html without accept", "", nil},
		{"errorURL", browserAccept, func(f *domain.Form) { f.ErrorURL = errorURL }},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			e := setup(t, func(f *domain.Form) {
				f.RateLimits.PerIPPerMinute = 1
				if m.form != nil {
					m.form(f)
				}
			})
			for i, tt := range cases {
				t.Run(tt.name, func(t *testing.T) {
					req := withHeader(fixture(t, "urlencoded"), "accept", m.accept)
					req.RequestContext.HTTP.SourceIP = "203.0.113." + strconv.Itoa(i+1)
					ctx := context.Background()
					switch tt.status {
					case 429:
						req = withBody(req, "application/x-www-form-urlencoded", "name=Hemmelig&email=hemmelig%40example.dk&consent=on")
						e.do(t, req) // the one this address may send
						req = withBody(req, "application/x-www-form-urlencoded", "name=Hemmelig+2&email=hemmelig%40example.dk&consent=on")
					case 503:
						// The form is cached by the answers above; the store call this one needs fails.
						req = withBody(req, "application/x-www-form-urlencoded", invalid)
						cancelled, cancel := context.WithCancel(ctx)
						cancel()
						ctx = cancelled
					default:
						req = tt.req(req)
					}
					resp, err := e.h.Handle(ctx, req)
					if err != nil {
						t.Fatalf("Handle() error = %v", err)
					}
					mode := m.name
					if m.accept == "" && tt.status == 415 {
						// Without Accept only a form's own encodings mark a browser: text/plain gets JSON.
						mode = "json"
					}
					checkErrorAnswer(t, resp, mode, tt.status, tt.slug, tt.fields, errorURL)
				})
			}
		})
	}
}

func checkErrorAnswer(t *testing.T, resp events.APIGatewayV2HTTPResponse, mode string, status int, slug, fields, errorURL string) {
	t.Helper()
	h := resp.Headers
	for _, s := range secrets {
		if strings.Contains(resp.Body, s) || strings.Contains(h["Location"], s) {
			t.Errorf("answer repeats the submitted %q: Location %q, body %s", s, h["Location"], resp.Body)
		}
	}
	if h["Cache-Control"] != "no-store" {
		t.Errorf("Cache-Control = %q; want no-store", h["Cache-Control"])
	}
	if (status == 429 || status == 503) && h["Retry-After"] == "" {
		t.Errorf("Retry-After missing on %d", status)
	}
	switch mode {
	case "json":
		if resp.StatusCode != status {
			t.Fatalf("status = %d; want %d", resp.StatusCode, status)
		}
		if p := problemOf(t, resp); p.Type != "urn:leadvault:problem:"+slug {
			t.Errorf("type = %q; want %s", p.Type, slug)
		}
	case "errorURL":
		if resp.StatusCode != http.StatusSeeOther || resp.Body != "" {
			t.Fatalf("answer = %d %q; want an empty 303", resp.StatusCode, resp.Body)
		}
		loc, err := url.Parse(h["Location"])
		if err != nil || !strings.HasPrefix(h["Location"], strings.Split(errorURL, "?")[0]+"?") {
			t.Fatalf("Location = %q; want the errorURL", h["Location"])
		}
		q := loc.Query()
		if q.Get("src") != "form" || q.Get("error") != slug || q.Get("fields") != fields {
			t.Errorf("Location query = %v; want src kept, error=%s, fields=%q", q, slug, fields)
		}
		if (status == 429 || status == 503) != (q.Get("retryAfter") != "") {
			t.Errorf("Location query = %v; want retryAfter exactly on 429 and 503", q)
		}
	default:
		if resp.StatusCode != status {
			t.Fatalf("status = %d; want %d", resp.StatusCode, status)
		}
		if ct := h["Content-Type"]; ct != "text/html; charset=utf-8" {
			t.Fatalf("Content-Type = %q; want text/html; charset=utf-8", ct)
		}
		b := resp.Body
		for _, want := range []string{`<html lang="da">`, "<title>", "<h1>", `<button type="button" id="back" hidden>`, "<noscript>", "Tilbage til formularen"} {
			if !strings.Contains(b, want) {
				t.Errorf("page lacks %q:\n%s", want, b)
			}
		}
		if csp := h["Content-Security-Policy"]; !strings.Contains(csp, "script-src 'sha256-") || strings.Contains(csp, "unsafe") || strings.Contains(b, "onclick") {
			t.Errorf("CSP = %q; want scripts allowed by hash only, and no inline handlers", csp)
		}
		if status == 422 {
			for _, want := range []string{`data-field="email" data-code="invalid_email"`, "<strong>E-mail</strong>: skal være en gyldig e-mailadresse",
				`data-field="phone" data-code="invalid_phone"`, "<strong>Telefon</strong>",
				`data-field="message" data-code="special_category_data"`, "<strong>Besked</strong>: må ikke indeholde CPR-numre"} {
				if !strings.Contains(b, want) {
					t.Errorf("page lacks %q:\n%s", want, b)
				}
			}
		}
	}
}

func TestHandle_errorPageLanguage(t *testing.T) {
	tests := []struct {
		name, formLang, acceptLanguage, want, wantText string
	}{
		{"form says en", "en", "da-DK,da;q=0.9", "en", "must be a valid e-mail address"},
		{"form says da", "da", "en-GB", "da", "skal være en gyldig e-mailadresse"},
		{"visitor prefers en", "", "en-GB,en;q=0.9,da;q=0.5", "en", "Your message was not sent"},
		{"visitor prefers da", "", "de-DE,de;q=0.9,da;q=0.8,en;q=0.7", "da", "Formularen blev ikke sendt"},
		{"neither", "", "de-DE,fr;q=0.5", "en", "Back to the form"},
		{"no header", "", "", "en", "Back to the form"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t, func(f *domain.Form) { f.Language = tt.formLang })
			req := withBody(fixture(t, "urlencoded"), "application/x-www-form-urlencoded", "name=A&email=x&consent=on")
			resp := e.do(t, withHeader(req, "accept-language", tt.acceptLanguage))
			if resp.StatusCode != 422 || !strings.Contains(resp.Body, `<html lang="`+tt.want+`">`) || !strings.Contains(resp.Body, tt.wantText) {
				t.Errorf("page = %d %s; want 422 in %s saying %q", resp.StatusCode, resp.Body, tt.want, tt.wantText)
			}
			if resp.Headers["Content-Language"] != tt.want {
				t.Errorf("Content-Language = %q; want %q", resp.Headers["Content-Language"], tt.want)
			}
		})
	}
}

func TestHandle_successAnswers(t *testing.T) {
	const browserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	cases := []struct {
		name, accept, acceptLanguage, redirectURL string
		wantStatus                                int
		wantType, wantText                        string
	}{
		{"browser to a form with a thank-you page", browserAccept, "", "http://localhost:8080/demo/thanks.html", 303, "", ""},
		{"browser to a form without one, Danish", browserAccept, "da-DK,da;q=0.9,en;q=0.5", "", 201, "text/html; charset=utf-8", "Tak for din henvendelse"},
		{"browser to a form without one, English", browserAccept, "en-GB,en;q=0.9", "", 201, "text/html; charset=utf-8", "Thank you for your message"},
		{"script to a form without one", "application/json", "", "", 201, "application/json", `"status":"received"`},
		{"script to a form with one", "application/json", "", "http://localhost:8080/demo/thanks.html", 201, "application/json", `"status":"received"`},
	}
	for i, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t, func(f *domain.Form) { f.RedirectURL = tt.redirectURL })
			req := withHeader(fixture(t, "urlencoded"), "accept", tt.accept)
			req = withHeader(req, "accept-language", tt.acceptLanguage)
			req = withBody(req, "application/x-www-form-urlencoded", "name=Hemmelig+Hansen&email=hemmelig%40example.dk&consent=on&n="+strconv.Itoa(i))
			resp := e.do(t, req)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, tt.wantStatus, resp.Body)
			}
			id := resp.Headers[formapi.SubmissionIDHeader]
			if id == "" {
				t.Errorf("no %s header", formapi.SubmissionIDHeader)
			}
			if tt.wantStatus == 303 {
				if resp.Headers["Location"] != tt.redirectURL {
					t.Errorf("Location = %q, want %q", resp.Headers["Location"], tt.redirectURL)
				}
				return
			}
			if got := resp.Headers["Content-Type"]; got != tt.wantType {
				t.Errorf("Content-Type = %q, want %q", got, tt.wantType)
			}
			if !strings.Contains(resp.Body, tt.wantText) {
				t.Errorf("body lacks %q:\n%s", tt.wantText, resp.Body)
			}
			if strings.Contains(resp.Body, "Hemmelig") || strings.Contains(resp.Body, "hemmelig") {
				t.Errorf("body repeats a submitted value:\n%s", resp.Body)
			}
			if strings.HasPrefix(tt.wantType, "text/html") {
				if !strings.Contains(resp.Body, id) {
					t.Errorf("page lacks the lead id %s as its reference", id)
				}
				if resp.Headers["Content-Security-Policy"] == "" {
					t.Error("page has no Content-Security-Policy")
				}
			}
		})
	}
}
