package controlapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"leadvault/infra/local/testenv"
	"leadvault/shared/domain"
	"leadvault/shared/export"
)

// TestContract_endReturnPurge: a contract ends → the account is read-only (changes 409, deletions and
// reads work) → the jobs function writes the return archive, which holds every stored lead, form,
// campaign, user and audit record → closing is refused while campaigns remain, then accepted with them
// deleted on record → the purge leaves nothing of the tenant in the table (but its audit trail, proof of
// deletion and billing hold), in S3 or in the user pool, after the final record was sent; the other
// tenant is untouched.
func TestContract_endReturnPurge(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.campaign("acme", "spring")
	w.form("acme", "contact", "spring")
	leads := []domain.Lead{w.lead("acme", "spring", "jens@example.dk"), w.lead("acme", "spring", "jens@example.dk"),
		w.lead("acme", "spring", "karen@example.dk")}
	w.notify(leads[0], "sales@acme.example")
	w.campaign("bravo", "spring")
	bravoLead := w.lead("bravo", "spring", "jens@example.dk")
	v := w.st.Scoped("acme")
	if err := v.PutBillingContact(ctx, domain.BillingContact{Name: "Acme Bookkeeping", Email: "billing@acme.example"}); err != nil {
		t.Fatal(err)
	}
	if err := v.AddInvoice(ctx, domain.InvoiceRef{Number: "INV-7", IssuedOn: time.Now(), Period: "2026-11"}); err != nil {
		t.Fatal(err)
	}
	admin := w.token("acme-admin")
	w.must(200, admin, "GET", "/v1/billing", nil)

	if err := v.EndContract(ctx, domain.Contract{EndsAt: time.Now().Add(-time.Minute).Truncate(time.Second), GraceDays: 30,
		Then: domain.ContractThenReturn}); err != nil {
		t.Fatal(err)
	}
	// The handler's tenant cache is still cold: the first request below reads the ended contract.
	got := w.must(200, w.token("acme-member"), "GET", "/v1/contract", nil).json(t)
	if got["state"] != "ended" || got["readOnly"] != true || got["then"] != "return" || got["graceDays"] != 30.0 {
		t.Errorf("GET /v1/contract = %v; want ended, read-only, return, 30 days", got)
	}
	if p := w.must(409, admin, "POST", "/v1/campaigns", map[string]any{"id": "autumn", "name": "Autumn"}).json(t); !strings.HasSuffix(p["type"].(string), "contract-ended") {
		t.Errorf("a change after the end = %v; want 409 contract-ended", p)
	}
	w.must(409, admin, "GET", "/v1/contract/return", nil) // not written yet
	w.must(200, admin, "GET", "/v1/campaigns/spring/leads", nil)

	// The end: archive and notice.
	rep, err := w.jobs.RunContracts(ctx, time.Now(), time.Minute)
	if err != nil || rep.Ended != 1 {
		t.Fatalf("RunContracts(end) = %+v, %v", rep, err)
	}
	if m, err := v.Mail(ctx, "contract-end"); err != nil || len(m.To) != 1 || !strings.Contains(m.Text, "/v1/contract/return") {
		t.Errorf("end notice = %+v, %v; want one to the admin naming the archive", m, err)
	}
	res := w.get(admin, "/v1/contract/return?format=json")
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("GET return = %d; want 303", res.StatusCode)
	}
	var doc export.TenantDocument
	if err := json.Unmarshal(fetch(t, res.Header.Get("Location")), &doc); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, l := range doc.Leads {
		ids = append(ids, l.ID)
		if l.Fields["email"] == "" {
			t.Errorf("archived lead %s has no e-mail; want the decrypted fields", l.ID)
		}
	}
	for _, l := range leads {
		if !slices.Contains(ids, l.ID) {
			t.Errorf("lead %s is not in the return archive", l.ID)
		}
	}
	if len(doc.Leads) != len(leads) || len(doc.Forms) != 1 || len(doc.Campaigns) != 1 || len(doc.Users) != 2 || len(doc.AuditTrail) == 0 ||
		doc.Tenant.ID != "acme" || doc.Format != export.TenantFormat || slices.Contains(ids, bravoLead.ID) {
		t.Errorf("return archive: %d leads, %d forms, %d campaigns, %d users, %d audit records; want 3, 1, 1, 2 and the trail",
			len(doc.Leads), len(doc.Forms), len(doc.Campaigns), len(doc.Users), len(doc.AuditTrail))
	}
	if csv := fetch(t, w.get(admin, "/v1/contract/return?format=csv").Header.Get("Location")); strings.Count(string(csv), "\r\n") != 4 {
		t.Errorf("CSV archive has %d lines; want a header and 3 leads", strings.Count(string(csv), "\r\n"))
	}

	// Deleting still works; closing early is refused while the campaign remains, then accepted.
	w.must(204, admin, "DELETE", "/v1/leads/"+leads[2].ID, nil)
	if p := w.must(409, admin, "POST", "/v1/contract/close", map[string]any{}).json(t); !strings.Contains(p["detail"].(string), "spring") {
		t.Errorf("close with a campaign left = %v; want 409 naming it", p)
	}
	w.must(403, w.token("acme-member"), "POST", "/v1/contract/close", map[string]any{"deleteCampaigns": true})
	closed := w.must(202, admin, "POST", "/v1/contract/close", map[string]any{"deleteCampaigns": true}).json(t)
	if c := closed["campaignsDeleted"].([]any); len(c) != 1 || c[0] != "spring" {
		t.Errorf("close = %v; want spring deleted on record", closed)
	}
	if rec := w.last("acme"); rec.Action != "contract.close" || !slices.Contains(rec.Targets, "campaign:spring") {
		t.Errorf("audit of the close = %+v; want contract.close naming the campaign", rec)
	}

	// The purge waits for the final record to be sent, then removes the accounts.
	if rep, err = w.jobs.RunContracts(ctx, time.Now(), time.Minute); err != nil || rep.Waiting != 1 {
		t.Fatalf("RunContracts(purge) = %+v, %v; want waiting for the final record", rep, err)
	}
	final, err := v.Mail(ctx, "contract-purged")
	if err != nil || !strings.Contains(final.Text, "leads") || !strings.Contains(final.Text, "spring") ||
		strings.Contains(final.Text, "jens@") {
		t.Fatalf("final record = %+v, %v; want counts and the campaign, no personal data", final, err)
	}
	if err := v.MarkMailSent(ctx, final.ID, "ses-1", time.Now()); err != nil { // as the notifier does
		t.Fatal(err)
	}
	if rep, err = w.jobs.RunContracts(ctx, time.Now(), time.Minute); err != nil || rep.Purged != 1 {
		t.Fatalf("RunContracts(accounts) = %+v, %v; want purged", rep, err)
	}

	left := scanTenant(t, w.table, "acme")
	for _, k := range left {
		if !strings.HasPrefix(k, "T#acme#AUDIT/") && !strings.HasPrefix(k, "T#acme#DELSTATS/") && !strings.HasPrefix(k, "BILLING#acme/") && k != "PURGED/acme" {
			t.Errorf("after the purge %s is left in the table", k)
		}
	}
	objs, err := testenv.Env.AWS.S3().ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(w.exports)})
	if err != nil || len(objs.Contents) != 0 {
		t.Errorf("exports bucket after the purge: %d objects, %v; want none", len(objs.Contents), err)
	}
	for _, user := range []string{"acme-admin", "acme-member"} {
		_, err := w.users.AdminGetUser(ctx, &cognitoidentityprovider.AdminGetUserInput{UserPoolId: aws.String("eu-north-1_test"), Username: aws.String(w.id(user))})
		var missing *cip.UserNotFoundException
		if !errors.As(err, &missing) {
			t.Errorf("user %s after the purge: %v; want deleted from the user pool", user, err)
		}
	}
	if b, err := w.st.Scoped("acme").Billing(ctx); err != nil || b.Contact == nil || len(b.Invoices) != 1 {
		t.Errorf("billing hold after the purge = %+v, %v; want kept", b, err)
	}
	if rec := w.last("acme"); rec.Action != "contract.purged" {
		t.Errorf("last audit record = %+v; want contract.purged", rec)
	}
	w.must(200, w.token("bravo-admin"), "GET", "/v1/leads/"+bravoLead.ID, nil)
}

// get sends an authenticated GET and returns the answer without following a redirect.
func (w *world) get(token, path string) *http.Response {
	w.t.Helper()
	req, _ := http.NewRequest("GET", w.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := noRedirect.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	res.Body.Close()
	return res
}

// fetch downloads a presigned link.
func fetch(t *testing.T, link string) []byte {
	t.Helper()
	res, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d, %v", link, res.StatusCode, err)
	}
	return b
}

// scanTenant lists the keys of every item in the table that names the tenant.
func scanTenant(t *testing.T, table, tenant string) []string {
	t.Helper()
	var out []string
	p := dynamodb.NewScanPaginator(testenv.Env.AWS.DynamoDB(), &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Items {
			str := func(name string) string {
				if sv, ok := it[name].(*ddbtypes.AttributeValueMemberS); ok {
					return sv.Value
				}
				return ""
			}
			pk, sk, owner := str("pk"), str("sk"), str("tenant")
			if pk == "T#"+tenant || strings.HasPrefix(pk, "T#"+tenant+"#") || owner == tenant || strings.HasPrefix(sk, tenant+"#") {
				out = append(out, pk+"/"+sk)
			}
		}
	}
	return out
}
