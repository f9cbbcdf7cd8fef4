package stack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/smtp"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"leadvault/infra/local/stack"
	"leadvault/shared/domain"
	"leadvault/shared/store"
	"leadvault/shared/vault"
)

var local *stack.Stack

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var err error
	local, err = stack.Start(ctx, stack.Options{Addr: "127.0.0.1:0", SMTPAddr: "127.0.0.1:0", Log: slog.New(slog.NewJSONHandler(logOut(), nil))})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start local stack:", err)
		return 1
	}
	defer local.Close()
	return m.Run()
}

func demoKey(t *testing.T) *vault.TenantKey {
	t.Helper()
	ctx := context.Background()
	ten, err := local.Store.Tenant(ctx, stack.DemoTenant)
	if err != nil {
		t.Fatal(err)
	}
	tk, err := local.Vault.TenantKey(ctx, stack.DemoTenant, ten.WrappedKey)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// leadByEmail finds the one stored lead of a subject the way a data-subject request would: by blind index.
func leadByEmail(t *testing.T, email string) domain.Lead {
	t.Helper()
	tk := demoKey(t)
	ids, err := local.Store.Scoped(tk.Tenant()).LeadIDsBySubject(context.Background(), tk, email, "")
	if err != nil || len(ids) != 1 {
		t.Fatalf("LeadIDsBySubject(%q) = %v, %v; want one lead", email, ids, err)
	}
	lead, err := local.Store.Scoped(tk.Tenant()).Lead(context.Background(), tk, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	return lead
}

// sentTo waits for the SES stand-in to hold a mail whose text mentions needle.
func sentTo(t *testing.T, needle string) (to []string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(local.Standins.SESStoreURL)
		if err != nil {
			t.Fatal(err)
		}
		var store struct {
			Emails []struct {
				Destination struct{ To []string } `json:"destination"`
				Body        struct{ Text string } `json:"body"`
			}
		}
		err = json.NewDecoder(resp.Body).Decode(&store)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range store.Emails {
			if strings.Contains(m.Body.Text, needle) {
				return m.Destination.To
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no notification mentioning %q reached SES", needle)
	return nil
}

func TestStack_endToEnd(t *testing.T) {
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	form := url.Values{"name": {"End To End"}, "email": {"e2e@example.dk"}, "phone": {"20 44 55 66"},
		"message": {"Hej"}, "consent": {"on"}, "_gotcha": {""}}
	req, _ := http.NewRequest(http.MethodPost, local.GatewayURL+"/v1/forms/demo-contact/submissions", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", local.GatewayURL)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != local.GatewayURL+"/demo/thanks.html" {
		t.Fatalf("POST = %d, Location %q; want 303 to the thank-you page", resp.StatusCode, resp.Header.Get("Location"))
	}
	id := resp.Header.Get("Leadvault-Submission-Id")
	lead := leadByEmail(t, "e2e@example.dk")
	if lead.ID != id || lead.Personal.Phone != "+4520445566" {
		t.Errorf("stored lead = %s %+v; want %s with phone +4520445566", lead.ID, lead.Personal, id)
	}
	// The stream carries the insert to the notifier, which mails the demo form's recipient.
	if to := sentTo(t, id); len(to) != 1 || to[0] != "sales@demo.localhost" {
		t.Errorf("notification went to %v; want [sales@demo.localhost]", to)
	}
	if _, err := local.Store.Scoped(stack.DemoTenant).Notified(context.Background(), id); err != nil {
		t.Errorf("recipient log of %s: %v", id, err)
	}
}

func TestStack_demoPages(t *testing.T) {
	for _, page := range []string{"/demo/", "/demo/fetch.html", "/demo/fetch.js", "/demo/thanks.html"} {
		resp, err := http.Get(local.GatewayURL + page)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d; want 200", page, resp.StatusCode)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
			t.Errorf("GET %s CSP = %q; want default-src 'self'", page, csp)
		}
		if len(resp.Cookies()) > 0 || strings.Contains(string(body), "://cdn") || strings.Contains(string(body), "googletagmanager") {
			t.Errorf("GET %s sets cookies or loads third-party code", page)
		}
	}
}

// logOut shows the stack's logs with LEADVAULT_TEST_LOG=1.
func logOut() io.Writer {
	if os.Getenv("LEADVAULT_TEST_LOG") != "" {
		return os.Stderr
	}
	return io.Discard
}

func TestStack_inboundMail(t *testing.T) {
	c, err := smtp.Dial(local.SMTPAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := "From: Mail Sender <mailer@example.dk>\r\nTo: demo-contact@in.localhost\r\nSubject: Tilbud\r\n" +
		"Message-ID: <e2e-1@example.dk>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHej, ring på 20 30 40 50.\r\n"
	send := func() {
		t.Helper()
		if err := c.Mail("mailer@example.dk"); err != nil {
			t.Fatal(err)
		}
		if err := c.Rcpt("demo-contact@" + stack.InboundDomain); err != nil {
			t.Fatal(err)
		}
		w, err := c.Data()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, msg); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatalf("SMTP DATA = %v; want accepted", err)
		}
	}
	send()
	send()                  // the same message again: no second lead
	local.WaitInvocations() // S3 invokes email-intake asynchronously
	lead := leadByEmail(t, "mailer@example.dk")
	if lead.Source != domain.SourceEmail || lead.Personal.Name != "Mail Sender" || !strings.Contains(lead.Personal.Message, "Tilbud") {
		t.Errorf("mail lead = %s %+v; want an e-mail lead from Mail Sender with the subject", lead.Source, lead.Personal)
	}
	if to := sentTo(t, lead.ID); len(to) != 1 || to[0] != "sales@demo.localhost" {
		t.Errorf("notification of the mail lead went to %v; want [sales@demo.localhost]", to)
	}
	// Nothing of the raw mail is left in the inbound bucket.
	out, err := local.AWS.S3().ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(stack.InboundBucket)})
	if err != nil || len(out.Contents) != 0 {
		t.Errorf("inbound bucket holds %d objects after processing (%v); want none", len(out.Contents), err)
	}
	if err := c.Rcpt("x@elsewhere.example"); err == nil {
		t.Errorf("RCPT to another domain accepted; want refused")
	}
}

func TestStack_tokenIssuer(t *testing.T) {
	var disc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	resp, err := http.Get(local.GatewayURL + stack.IssuerPath + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	err = json.NewDecoder(resp.Body).Decode(&disc)
	resp.Body.Close()
	if err != nil || disc.Issuer != local.GatewayURL+stack.IssuerPath || !strings.HasSuffix(disc.JWKSURI, "/.well-known/jwks.json") {
		t.Fatalf("discovery = %+v, %v; want this gateway's issuer", disc, err)
	}
	jwks, err := http.Get(disc.JWKSURI)
	if err != nil || jwks.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %v, %v", disc.JWKSURI, jwks, err)
	}
	jwks.Body.Close()
	tok, err := local.AdminToken()
	if err != nil || strings.Count(tok, ".") != 2 {
		t.Errorf("AdminToken() = %q, %v; want a JWT", tok, err)
	}
}

// TestStack_controllerAPI drives the controller API as `make run` serves it: the printed admin token, an
// invitation through the local user pool, and a campaign deletion run by the jobs function off the table's
// stream, as on AWS.
func TestStack_controllerAPI(t *testing.T) {
	ctx := context.Background()
	tok, err := local.AdminToken()
	if err != nil {
		t.Fatal(err)
	}
	call := func(method, path, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, local.GatewayURL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	if code, m := call("GET", "/v1/forms", ""); code != 200 || !strings.Contains(fmt.Sprint(m), "demo-contact") {
		t.Fatalf("GET /v1/forms with the admin token = %d %v; want the demo form", code, m)
	}
	if code, m := call("POST", "/v1/users", `{"email":"new.colleague@demo.localhost","role":"member"}`); code != 201 || m["userID"] == "" {
		t.Errorf("POST /v1/users = %d %v; want 201 with the user pool's ID", code, m)
	}
	if code, _ := call("POST", "/v1/campaigns", `{"id":"short-lived","name":"Short-lived"}`); code != 201 {
		t.Fatalf("POST /v1/campaigns = %d; want 201", code)
	}
	ten, err := local.Store.Tenant(ctx, stack.DemoTenant)
	if err != nil {
		t.Fatal(err)
	}
	tk, err := local.Vault.TenantKey(ctx, stack.DemoTenant, ten.WrappedKey)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		now := time.Now().UTC()
		l := domain.Lead{TenantID: stack.DemoTenant, ID: fmt.Sprintf("short-%d-%d", now.UnixNano(), i), FormID: "demo-contact", CampaignID: "short-lived",
			Source: domain.SourceForm, CreatedAt: now, ExpiresAt: now.Add(time.Hour), Personal: domain.Personal{Email: fmt.Sprintf("p%d@example.dk", i)}}
		if _, _, err := local.Store.Scoped(tk.Tenant()).PutLead(ctx, tk, l, store.Idempotency{Key: l.ID, RequestHash: "h", TTL: time.Hour}); err != nil {
			t.Fatal(err)
		}
	}
	if code, m := call("DELETE", "/v1/campaigns/short-lived", ""); code != 202 {
		t.Fatalf("DELETE /v1/campaigns/short-lived = %d %v; want 202", code, m)
	}
	deadline := time.Now().Add(90 * time.Second) // deletions settle for jobs.DeletionSettle
	for {
		code, m := call("GET", "/v1/campaigns/short-lived/deletion", "")
		if code == 200 && m["status"] == "done" {
			if m["deleted"] != float64(3) {
				t.Errorf("deletion = %v; want 3 leads deleted", m)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deletion not done after 90 s: %d %v", code, m)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
