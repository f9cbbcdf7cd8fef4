package formapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"leadvault/infra/local/testenv"
	"leadvault/shared/domain"
	"leadvault/shared/formapi"
	"leadvault/shared/intake"
	"leadvault/shared/store"
	"leadvault/shared/vault"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

type env struct {
	h  *formapi.Handler
	st *store.Store
	tk *vault.TenantKey
}

// setup stores the demo form as the fixtures in events/ expect it, in a fresh table.
func setup(t *testing.T, change func(*domain.Form)) env {
	t.Helper()
	st := store.New(testenv.Env.AWS.DynamoDB(), testenv.Table(t))
	v := testenv.Vault()
	tk := testenv.Tenant(t, st, v, "demo")
	f := testenv.Form("demo", "demo-contact")
	f.AllowedOrigins = []string{"http://localhost:8080"}
	f.RedirectURL = "http://localhost:8080/demo/thanks.html"
	if change != nil {
		change(&f)
	}
	if err := st.Scoped(f.TenantID).PutForm(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	return env{h: formapi.New(intake.New(st, v, log), log), st: st, tk: tk}
}

func fixture(t *testing.T, name string) events.APIGatewayV2HTTPRequest {
	t.Helper()
	b, err := os.ReadFile("../../events/intake/" + name + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var req events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(b, &req); err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	return req
}

func withBody(req events.APIGatewayV2HTTPRequest, contentType, body string) events.APIGatewayV2HTTPRequest {
	h := map[string]string{}
	for k, v := range req.Headers {
		h[k] = v
	}
	h["content-type"] = contentType
	req.Headers = h
	req.Body = body
	req.IsBase64Encoded = false
	return req
}

// withForm addresses req to the form with the given ID, as API Gateway would: path and path parameter.
func withForm(req events.APIGatewayV2HTTPRequest, rawID string) events.APIGatewayV2HTTPRequest {
	req.RawPath = "/v1/forms/" + rawID + "/submissions"
	req.RequestContext.HTTP.Path = req.RawPath
	req.PathParameters = map[string]string{"formID": rawID}
	return req
}

func withHeader(req events.APIGatewayV2HTTPRequest, k, v string) events.APIGatewayV2HTTPRequest {
	h := map[string]string{}
	for hk, hv := range req.Headers {
		h[hk] = hv
	}
	if v == "" {
		delete(h, k)
	} else {
		h[k] = v
	}
	req.Headers = h
	return req
}

func (e env) do(t *testing.T, req events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	t.Helper()
	resp, err := e.h.Handle(context.Background(), req)
	if err != nil {
		t.Fatalf("Handle() error = %v", err)
	}
	if _, ok := resp.Headers["Set-Cookie"]; ok || len(resp.Cookies) > 0 {
		t.Errorf("Handle() set a cookie; Leadvault never sets cookies (E3)")
	}
	return resp
}

type problemBody struct {
	Type, Title, Detail string
	Status              int
	Errors              []struct{ Field, Code, Message string }
}

func problemOf(t *testing.T, resp events.APIGatewayV2HTTPResponse) problemBody {
	t.Helper()
	if ct := resp.Headers["Content-Type"]; ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q; want application/problem+json (status %d)", ct, resp.StatusCode)
	}
	var p problemBody
	if err := json.Unmarshal([]byte(resp.Body), &p); err != nil {
		t.Fatal(err)
	}
	if p.Status != resp.StatusCode || !strings.HasPrefix(p.Type, "urn:leadvault:problem:") || p.Title == "" || p.Detail == "" {
		t.Errorf("problem = %+v; want type, title, status %d and detail", p, resp.StatusCode)
	}
	return p
}

func TestHandle_fixturesStore(t *testing.T) {
	tests := []struct {
		fixture string
		status  int
		want    domain.Personal
	}{
		{"urlencoded", http.StatusSeeOther, domain.Personal{Name: "Jens Hansen", Email: "jens@example.dk", Phone: "+4520123456", Message: "Hej, ring venligst om et tilbud."}},
		{"multipart", http.StatusSeeOther, domain.Personal{Name: "Mette Sørensen", Email: "mette@example.dk", Phone: "+4520987654", Message: "Kan I ringe i morgen?"}},
		{"json", http.StatusCreated, domain.Personal{Name: "Søren Kierkegaard", Email: "Soren@example.dk", Phone: "+4520112233", Message: "Send venligst et tilbud."}},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			e := setup(t, nil)
			resp := e.do(t, fixture(t, tt.fixture))
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d; want %d (body %s)", resp.StatusCode, tt.status, resp.Body)
			}
			id := resp.Headers[formapi.SubmissionIDHeader]
			switch tt.status {
			case http.StatusSeeOther:
				if loc := resp.Headers["Location"]; loc != "http://localhost:8080/demo/thanks.html" {
					t.Errorf("Location = %q; want the form's redirect URL", loc)
				}
			case http.StatusCreated:
				var body map[string]string
				_ = json.Unmarshal([]byte(resp.Body), &body)
				if body["id"] != id || body["status"] != "received" {
					t.Errorf("body = %v; want id %q and status received", body, id)
				}
			}
			if resp.Headers["Access-Control-Allow-Origin"] != "http://localhost:8080" {
				t.Errorf("Access-Control-Allow-Origin = %q; want the allowed origin", resp.Headers["Access-Control-Allow-Origin"])
			}
			lead, err := e.st.Scoped(e.tk.Tenant()).Lead(context.Background(), e.tk, id)
			if err != nil {
				t.Fatalf("stored lead %q: %v", id, err)
			}
			if !reflect.DeepEqual(lead.Personal, tt.want) {
				t.Errorf("stored personal data = %+v; want %+v", lead.Personal, tt.want)
			}
			if lead.Consent == nil || !lead.Consent.Given || lead.Consent.Version != "v1" || lead.Spam {
				t.Errorf("stored consent = %+v, spam %v; want given v1, not spam", lead.Consent, lead.Spam)
			}
		})
	}
}

func TestHandle_retryStoresOnce(t *testing.T) {
	e := setup(t, nil)
	post := fixture(t, "urlencoded")
	first := e.do(t, post)
	// The same body again (a double click): same lead, and each retry gets its own answer shape.
	again := e.do(t, post)
	asJSON := e.do(t, withHeader(post, "accept", "application/json"))
	for _, r := range []events.APIGatewayV2HTTPResponse{again, asJSON} {
		if r.Headers[formapi.SubmissionIDHeader] != first.Headers[formapi.SubmissionIDHeader] {
			t.Errorf("retry id = %q; want first id %q", r.Headers[formapi.SubmissionIDHeader], first.Headers[formapi.SubmissionIDHeader])
		}
	}
	if again.StatusCode != http.StatusSeeOther || asJSON.StatusCode != http.StatusCreated {
		t.Errorf("retry statuses = %d, %d; want 303 (HTML retry) and 201 (JSON retry)", again.StatusCode, asJSON.StatusCode)
	}
	// With an Idempotency-Key the key decides, and a different body under the same key is refused.
	js := fixture(t, "json")
	a, b := e.do(t, js), e.do(t, js)
	if a.StatusCode != 201 || a.Headers[formapi.SubmissionIDHeader] != b.Headers[formapi.SubmissionIDHeader] {
		t.Errorf("keyed retry = %d %q, %q; want 201 and the same id", a.StatusCode, a.Headers[formapi.SubmissionIDHeader], b.Headers[formapi.SubmissionIDHeader])
	}
	changed := js
	changed.Body = strings.Replace(js.Body, "Søren", "Regine", 1)
	if r := e.do(t, changed); r.StatusCode != http.StatusUnprocessableEntity || problemOf(t, r).Type != "urn:leadvault:problem:idempotency-key-reused" {
		t.Errorf("same key, other body = %d %s; want 422 idempotency-key-reused", r.StatusCode, r.Body)
	}
}

func TestHandle_errors(t *testing.T) {
	post := func(t *testing.T) events.APIGatewayV2HTTPRequest { return fixture(t, "urlencoded") }
	tests := []struct {
		name   string
		req    func(t *testing.T) events.APIGatewayV2HTTPRequest
		status int
		slug   string
		errors []string // field:code
	}{
		{"unknown form", func(t *testing.T) events.APIGatewayV2HTTPRequest {
			return withForm(post(t), "no-such-form")
		}, 404, "form-not-found", nil},
		{"bad form id", func(t *testing.T) events.APIGatewayV2HTTPRequest {
			return withForm(post(t), "..%2F..%2Fetc")
		}, 404, "form-not-found", nil},
		{"GET", func(t *testing.T) events.APIGatewayV2HTTPRequest { return fixture(t, "init-probe") }, 405, "method-not-allowed", nil},
		{"origin not allowed", func(t *testing.T) events.APIGatewayV2HTTPRequest {
			return withHeader(post(t), "origin", "https://evil.example")
		}, 403, "origin-not-allowed", nil},
		{"referer origin not allowed", func(t *testing.T) events.APIGatewayV2HTTPRequest {
			return withHeader(withHeader(post(t), "origin", ""), "referer", "https://evil.example/page")
		}, 403, "origin-not-allowed", nil},
		{"malformed base64", func(t *testing.T) events.APIGatewayV2HTTPRequest {
			r := post(t)
			r.Body, r.IsBase64Encoded = "%%%not base64", true
			return r
		}, 400, "malformed-body", nil},
		{"malformed urlencoded", func(t *testing.T) events.APIGatewayV2HTTPRequest {
			return withBody(post(t), "application/x-www-form-urlencoded", "name=%%%zz&email=a%40example.dk")
		}, 400, "malformed-body", nil},
		{"malformed json", func(t *testing.T) events.APIGatewayV2HTTPRequest {
			return withBody(post(t), "application/json", `{"name": "x",`)
		}, 400, "malformed-body", nil},
		{"nested json", func(t *testing.T) events.APIGatewayV2HTTPRequest {
			return withBody(post(t), "application/json", `{"name": {"first": "x"}}`)
		}, 400, "malformed-body", nil},
		{"too large", func(t *testing.T) events.APIGatewayV2HTTPRequest {
			return withBody(post(t), "application/x-www-form-urlencoded", "message="+strings.Repeat("a", 256<<10))
		}, 413, "body-too-large", nil},
		{"xml", func(t *testing.T) events.APIGatewayV2HTTPRequest {
			return withBody(post(t), "application/xml", "<lead/>")
		}, 415, "unsupported-media-type", nil},
		{"latin-1 charset", func(t *testing.T) events.APIGatewayV2HTTPRequest {
			return withBody(post(t), "application/x-www-form-urlencoded; charset=iso-8859-1", "name=x")
		}, 415, "unsupported-media-type", nil},
		{"file upload", func(t *testing.T) events.APIGatewayV2HTTPRequest {
			body := "--b\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nA\r\n--b\r\nContent-Disposition: form-data; name=\"cv\"; filename=\"cv.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.7\r\n--b--\r\n"
			return withBody(post(t), "multipart/form-data; boundary=b", body)
		}, 415, "attachments-not-accepted", nil},
		{"missing required and consent", func(t *testing.T) events.APIGatewayV2HTTPRequest {
			return withBody(post(t), "application/x-www-form-urlencoded", "message=hi")
		}, 422, "validation-failed", []string{"consent:consent_required", "email:required", "name:required"}},
		{"invalid email", func(t *testing.T) events.APIGatewayV2HTTPRequest {
			return withBody(post(t), "application/json", `{"name":"A","email":"a@@b","consent":true}`)
		}, 422, "validation-failed", []string{"email:invalid_email"}},
		{"cpr in message", func(t *testing.T) events.APIGatewayV2HTTPRequest {
			return withBody(post(t), "application/json", `{"name":"A","email":"a@b.dk","consent":"yes","message":"cpr 010190-1234"}`)
		}, 422, "validation-failed", []string{"message:special_category_data"}},
		{"bad idempotency key", func(t *testing.T) events.APIGatewayV2HTTPRequest {
			return withHeader(post(t), "idempotency-key", strings.Repeat("k", 300))
		}, 400, "invalid-idempotency-key", nil},
	}
	e := setup(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A script asking for JSON; browsers get pages (TestHandle_errorAnswers).
			req := withHeader(tt.req(t), "accept", "application/json")
			resp := e.do(t, req)
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d; want %d (body %s)", resp.StatusCode, tt.status, resp.Body)
			}
			p := problemOf(t, resp)
			if p.Type != "urn:leadvault:problem:"+tt.slug {
				t.Errorf("type = %q; want slug %q", p.Type, tt.slug)
			}
			var got []string
			for _, fe := range p.Errors {
				got = append(got, fe.Field+":"+fe.Code)
				if fe.Message == "" {
					t.Errorf("error %s:%s has no message", fe.Field, fe.Code)
				}
			}
			if !reflect.DeepEqual(got, tt.errors) {
				t.Errorf("errors = %v; want %v", got, tt.errors)
			}
			if strings.Contains(resp.Body, "010190") || strings.Contains(resp.Body, "a@@b") {
				t.Errorf("problem body repeats submitted personal data: %s", resp.Body)
			}
			if tt.status == 405 && resp.Headers["Allow"] != "POST, OPTIONS" {
				t.Errorf("Allow = %q; want %q", resp.Headers["Allow"], "POST, OPTIONS")
			}
		})
	}
}

func TestHandle_preflight(t *testing.T) {
	e := setup(t, nil)
	resp := e.do(t, fixture(t, "preflight"))
	want := map[string]string{
		"Access-Control-Allow-Origin":  "http://localhost:8080",
		"Access-Control-Allow-Methods": "POST, OPTIONS",
		"Access-Control-Allow-Headers": "Content-Type, Accept, Idempotency-Key",
		"Vary":                         "Origin",
	}
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("preflight status = %d; want 204", resp.StatusCode)
	}
	for k, v := range want {
		if resp.Headers[k] != v {
			t.Errorf("preflight %s = %q; want %q", k, resp.Headers[k], v)
		}
	}
	if _, ok := resp.Headers["Access-Control-Allow-Credentials"]; ok {
		t.Errorf("preflight allows credentials; intake never uses cookies")
	}
	denied := e.do(t, withHeader(fixture(t, "preflight"), "origin", "https://evil.example"))
	if denied.StatusCode != http.StatusForbidden || denied.Headers["Access-Control-Allow-Origin"] != "" {
		t.Errorf("preflight from other origin = %d, ACAO %q; want 403 without ACAO", denied.StatusCode, denied.Headers["Access-Control-Allow-Origin"])
	}
}

func TestHandle_honeypot(t *testing.T) {
	e := setup(t, nil)
	bot := withBody(fixture(t, "urlencoded"), "application/x-www-form-urlencoded",
		"name=Buy&email=bot%40spam.example&message=cheap&_gotcha=http%3A%2F%2Fspam.example")
	bot.Headers["accept"] = "application/json"
	resp := e.do(t, bot)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("honeypot status = %d; want the same 201 a person gets (body %s)", resp.StatusCode, resp.Body)
	}
	lead, err := e.st.Scoped(e.tk.Tenant()).Lead(context.Background(), e.tk, resp.Headers[formapi.SubmissionIDHeader])
	if err != nil || !lead.Spam {
		t.Errorf("stored honeypot lead spam = %v, %v; want marked spam", lead.Spam, err)
	}
}

func TestHandle_rateLimit(t *testing.T) {
	e := setup(t, func(f *domain.Form) { f.RateLimits = domain.RateLimits{PerIPPerMinute: 2} })
	body := func(i int) string {
		return base64.StdEncoding.EncodeToString([]byte("name=A&email=a" + string(rune('a'+i)) + "%40example.dk&consent=on"))
	}
	req := fixture(t, "urlencoded")
	var accepted events.APIGatewayV2HTTPRequest
	for i := range 2 {
		req.Body = body(i)
		if r := e.do(t, req); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("submission %d = %d; want 303", i, r.StatusCode)
		}
		accepted = req
	}
	req.Body = body(2)
	resp := e.do(t, withHeader(req, "accept", "application/json"))
	if resp.StatusCode != http.StatusTooManyRequests || problemOf(t, resp).Type != "urn:leadvault:problem:rate-limited" {
		t.Fatalf("third submission = %d %s; want 429 rate-limited", resp.StatusCode, resp.Body)
	}
	if ra := resp.Headers["Retry-After"]; ra == "" || ra == "0" {
		t.Errorf("Retry-After = %q; want seconds until the window ends", ra)
	}
	// A retry of an accepted submission still gets its answer inside the full window.
	if r := e.do(t, accepted); r.StatusCode != http.StatusSeeOther || r.Headers[formapi.SubmissionIDHeader] == "" {
		t.Errorf("retry of accepted submission in a full window = %d; want 303 with its id", r.StatusCode)
	}
	// Another address is not limited by this one.
	other := fixture(t, "urlencoded")
	other.RequestContext.HTTP.SourceIP = "203.0.113.9"
	other.Body = body(3)
	if r := e.do(t, other); r.StatusCode != http.StatusSeeOther {
		t.Errorf("other IP = %d; want 303", r.StatusCode)
	}
}

func TestHandle_disabledForm(t *testing.T) {
	e := setup(t, func(f *domain.Form) { f.Enabled = false })
	if r := e.do(t, fixture(t, "urlencoded")); r.StatusCode != http.StatusNotFound {
		t.Errorf("disabled form = %d; want 404", r.StatusCode)
	}
}

// TestHandle_contractEnded: once the tenant's contract has ended its forms answer 410 with a problem (JSON)
// or a page in the form's language (browsers), and nothing is stored.
func TestHandle_contractEnded(t *testing.T) {
	e := setup(t, nil)
	if err := e.st.Scoped("demo").EndContract(context.Background(), domain.Contract{EndsAt: time.Now().Add(-time.Minute),
		GraceDays: 30, Then: domain.ContractThenReturn}); err != nil {
		t.Fatal(err)
	}
	r := e.do(t, withHeader(fixture(t, "json"), "Accept", "application/json"))
	if p := problemOf(t, r); r.StatusCode != http.StatusGone || p.Type == "" || !strings.HasSuffix(p.Type, "contract-ended") {
		t.Errorf("JSON post after the end = %d %+v; want 410 contract-ended", r.StatusCode, p)
	}
	page := e.do(t, withHeader(fixture(t, "urlencoded"), "Accept", "text/html"))
	if page.StatusCode != http.StatusGone || !strings.Contains(page.Body, "intet blev gemt") { // the demo form is Danish
		t.Errorf("browser post after the end = %d; want 410 with a page saying nothing was stored:\n%s", page.StatusCode, page.Body)
	}
	leads, _, err := e.st.Scoped("demo").LeadsByCampaign(context.Background(), e.tk, "spring", store.Page{})
	if err != nil || len(leads) != 0 {
		t.Errorf("leads after the refused posts = %d, %v; want none", len(leads), err)
	}
}
