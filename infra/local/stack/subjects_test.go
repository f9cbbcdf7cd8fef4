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
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"leadvault/infra/local/stack"
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
		form := url.Values{"name": {"Sara Sørensen"}, "email": {email}, "phone": {"20 11 22 33"},
			"message": {"Tilbud på \"alt\", tak; ring efter kl. 16"}, "consent": {"on"}}
		req, _ := http.NewRequest(http.MethodPost, local.GatewayURL+"/v1/forms/"+formID+"/submissions", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Origin", local.GatewayURL)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusAccepted {
			t.Fatalf("POST %s = %d", formID, resp.StatusCode)
		}
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
