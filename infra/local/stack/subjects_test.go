package stack_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"net/smtp"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"leadvault/infra/local/stack"
	"leadvault/shared/audit"
	"leadvault/shared/domain"
	"leadvault/shared/relay"
	"leadvault/shared/store"
)

// apiCall sends a controller API request with the demo admin's token and returns the status, the headers
// and the body.
func apiCall(t *testing.T, method, path, body string) (int, http.Header, []byte) {
	t.Helper()
	tok, err := local.AdminToken()
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(method, local.GatewayURL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// requestDone creates a subject request and waits until the jobs function, driven by the table's stream as
// on AWS, has finished it.
func requestDone(t *testing.T, kind, email string) map[string]any {
	t.Helper()
	code, _, body := apiCall(t, "POST", "/v1/subject-requests", `{"kind":"`+kind+`","subject":{"email":"`+email+`"},
		"instruction":{"reference":"e2e-`+kind+`","receivedAt":"`+time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)+`"}}`)
	if code != 202 {
		t.Fatalf("POST %s request = %d %s", kind, code, body)
	}
	var created map[string]any
	_ = json.Unmarshal(body, &created)
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, _, body := apiCall(t, "GET", "/v1/subject-requests/"+created["id"].(string), "")
		var got map[string]any
		_ = json.Unmarshal(body, &got)
		if got["state"] == "done" || got["state"] == "failed" {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s request not done after 30 s: %s", kind, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestStack_subjectRequests: a person writes in by two forms and by mail; the controller has their data
// exported (JSON and CSV, downloaded through the link a browser or curl would follow) and then erased; a
// second export finds nothing, and no item of the table names the person any more.
func TestStack_subjectRequests(t *testing.T) {
	ctx := context.Background()
	email := "sara.subject@example.dk"
	// A second form of the demo tenant beside demo-contact.
	second, err := local.Store.Scoped(stack.DemoTenant).Form(ctx, "demo-contact")
	if err != nil {
		t.Fatal(err)
	}
	second.ID, second.InboundAlias = "demo-quote", ""
	if err := local.Store.Scoped(stack.DemoTenant).PutForm(ctx, second); err != nil {
		t.Fatal(err)
	}
	for _, formID := range []string{"demo-contact", "demo-quote"} {
		postForm(t, formID, url.Values{"name": {"Sara Sørensen"}, "email": {email}, "phone": {"20 11 22 33"},
			"message": {"Tilbud på \"alt\", tak; ring efter kl. 16"}, "consent": {"on"}})
	}
	msg := "From: Sara =?utf-8?q?S=C3=B8rensen?= <" + email + ">\r\nTo: demo-contact@" + stack.InboundDomain +
		"\r\nSubject: Mail om tilbud\r\nMessage-ID: <sara-1@example.dk>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHej igen.\r\n"
	if err := smtp.SendMail(local.SMTPAddr, nil, email, []string{"demo-contact@" + stack.InboundDomain}, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	local.WaitInvocations()

	export := requestDone(t, "export", email)
	found := export["found"].(map[string]any)
	if found["leads"] != 3.0 || found["bySource"].(map[string]any)["form"] != 2.0 || found["bySource"].(map[string]any)["email"] != 1.0 {
		t.Fatalf("export found %v; want 3 leads: 2 by form, 1 by mail", found)
	}
	code, h, body := apiCall(t, "GET", "/v1/subject-requests/"+export["id"].(string)+"/result?format=csv", "")
	if code != http.StatusSeeOther {
		t.Fatalf("download = %d %s; want 303", code, body)
	}
	resp, err := http.Get(h.Get("Location")) // what a browser or curl does with the link
	if err != nil {
		t.Fatal(err)
	}
	table, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.HasPrefix(table, []byte("\ufeff")) {
		t.Fatalf("GET link = %d; want 200 and a CSV with a byte-order mark", resp.StatusCode)
	}
	if cd := resp.Header.Get("Content-Disposition"); !strings.Contains(cd, "attachment") {
		t.Errorf("Content-Disposition = %q; want an attachment", cd)
	}
	rows, err := csv.NewReader(bytes.NewReader(table[3:])).ReadAll()
	if err != nil || len(rows) != 4 {
		t.Fatalf("CSV = %d rows, %v; want a header and 3 leads", len(rows), err)
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	sources := map[string]int{}
	for _, row := range rows[1:] {
		sources[row[col["source"]]]++
		if row[col["email"]] != email {
			t.Errorf("CSV email = %q; want %q", row[col["email"]], email)
		}
		if row[col["source"]] == "form" && (row[col["name"]] != "Sara Sørensen" || row[col["phone"]] != "+4520112233" ||
			row[col["message"]] != "Tilbud på \"alt\", tak; ring efter kl. 16" || row[col["consent_given"]] != "true") {
			t.Errorf("CSV form row = %v", row)
		}
	}
	if sources["form"] != 2 || sources["email"] != 1 {
		t.Errorf("CSV sources = %v; want 2 form, 1 email", sources)
	}

	erased := requestDone(t, "erasure", email)
	if erased["erased"] != 3.0 {
		t.Fatalf("erasure = %v; want 3 leads erased", erased)
	}
	if again := requestDone(t, "access", email); again["found"].(map[string]any)["leads"] != 0.0 {
		t.Errorf("access after erasure found %v; want nothing", again["found"])
	}
	// No item of the table holds the person's blind index, subject key or data (the ledger's own entry
	// aside); no sent-mail copy of their leads is left.
	tk := demoKey(t)
	idx := store.IndexSubject(tk, email, "+4520112233")
	p := dynamodb.NewScanPaginator(local.AWS.DynamoDB(), &dynamodb.ScanInput{TableName: aws.String(stack.Table)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Items {
			pk := it["pk"].(*types.AttributeValueMemberS).Value
			for name, av := range it {
				s, ok := av.(*types.AttributeValueMemberS)
				if ok && pk != "ERASED" && (strings.Contains(s.Value, idx.Email) || strings.Contains(s.Value, idx.Phone)) {
					t.Errorf("item %s still names the erased subject in %s", pk, name)
				}
			}
		}
	}
	sent, err := local.AWS.S3().ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(stack.SentBucket)})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range sent.Contents {
		obj, err := local.AWS.S3().GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(stack.SentBucket), Key: o.Key})
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(obj.Body)
		obj.Body.Close()
		if strings.Contains(string(b), "Sara") || strings.Contains(string(b), email) {
			t.Errorf("sent-mail copy %s of the erased subject is left", *o.Key)
		}
	}
}

// postForm submits a form of the demo tenant as a page's script would and returns the new lead's ID.
func postForm(t *testing.T, formID string, form url.Values) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, local.GatewayURL+"/v1/forms/"+formID+"/submissions", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Origin", local.GatewayURL)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	id := resp.Header.Get("Leadvault-Submission-Id")
	if resp.StatusCode >= 300 || id == "" {
		t.Fatalf("POST %s = %d, id %q", formID, resp.StatusCode, id)
	}
	return id
}

// TestStack_rightsThroughTheStack: what the notifier, the schedule and SES do for subject requests on
// `make run`'s stack — Art. 19 notices to the recipients of an erased lead, no notification of a restricted
// subject's new lead, a relayed request confirmed and carried out, and the daily deadline reminder.
func TestStack_rightsThroughTheStack(t *testing.T) {
	ctx := context.Background()

	// Art. 19: a lead that was sent, then erased: its recipients are told, by lead ID only.
	sentID := postForm(t, "demo-contact", url.Values{"name": {"Nora Notified"}, "email": {"nora.notified@example.dk"}, "consent": {"on"}})
	sentTo(t, sentID)
	requestDone(t, "erasure", "nora.notified@example.dk")
	if to := sentTo(t, "you were sent lead "+sentID); len(to) != 1 || to[0] != "sales@demo.localhost" {
		t.Errorf("Art. 19 notice went to %v; want the lead's recipient", to)
	}

	// A restricted subject's new lead is stored, restricted, and nobody is told; others still are.
	requestDone(t, "restriction", "rita.restricted@example.dk")
	restricted := postForm(t, "demo-contact", url.Values{"name": {"Rita Restricted"}, "email": {"rita.restricted@example.dk"}, "consent": {"on"}})
	after := postForm(t, "demo-contact", url.Values{"name": {"Otto Other"}, "email": {"otto.other@example.dk"}, "consent": {"on"}})
	sentTo(t, after) // the stream delivered both; the restricted one first
	if _, err := local.Store.Scoped(stack.DemoTenant).Notified(ctx, restricted); err == nil {
		t.Errorf("the restricted subject's lead was notified")
	}
	if l, err := local.Store.Scoped(stack.DemoTenant).Lead(ctx, demoKey(t), restricted); err != nil || !l.Restricted {
		t.Errorf("the restricted subject's new lead = %v, %v; want stored restricted", l.Restricted, err)
	}

	// Relayed by an operator, confirmed by the admin, carried out off the stream.
	r, err := relay.Relay(ctx, local.Store, local.Vault, audit.New(local.AWS.DynamoDB(), stack.Table, 0), relay.Request{Tenant: stack.DemoTenant,
		Kind: domain.KindAccess, Received: time.Now().Add(-time.Hour), Channel: "phone", Email: "otto.other@example.dk", Operator: "operator:e2e"},
		"relayed-e2e-"+strings.ReplaceAll(time.Now().Format("150405.000"), ".", ""), time.Now().UTC())
	if err != nil {
		t.Fatal(err)
	}
	sentTo(t, "Request: "+r.ID)
	if code, _, body := apiCall(t, "POST", "/v1/subject-requests/"+r.ID+"/confirm", ""); code != 200 {
		t.Fatalf("confirm = %d %s", code, body)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, _, body := apiCall(t, "GET", "/v1/subject-requests/"+r.ID, "")
		if strings.Contains(string(body), `"state":"done"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("confirmed request not done: %s", body)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The daily schedule's event: a request due within a week is reminded of.
	due, err := relay.Relay(ctx, local.Store, local.Vault, audit.New(local.AWS.DynamoDB(), stack.Table, 0), relay.Request{Tenant: stack.DemoTenant,
		Kind: domain.KindAccess, Received: time.Now().AddDate(0, -1, 2), Channel: "letter", Email: "otto.other@example.dk", Operator: "operator:e2e"},
		"due-e2e-"+strings.ReplaceAll(time.Now().Format("150405.000"), ".", ""), time.Now().UTC())
	if err != nil {
		t.Fatal(err)
	}
	ev, err := os.ReadFile("../../../events/jobs/deadline-reminders.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := local.Jobs.Handle(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if to := sentTo(t, due.ID); len(to) != 1 || to[0] != "admin@demo.localhost" {
		t.Errorf("deadline reminder went to %v; want the demo admin", to)
	}
}
