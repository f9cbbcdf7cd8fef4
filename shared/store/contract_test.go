package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"leadvault/infra/local/testenv"
	"leadvault/shared/access"
	"leadvault/shared/audit"
	"leadvault/shared/domain"
	"leadvault/shared/store"
)

// seedTenant gives a tenant a bit of everything the purge must find: a campaign with a form (route and
// alias), leads with a notification record, a member, a grant, a queued mail, an audit record and a
// proof-of-deletion count.
func seedTenant(t *testing.T, f fixture, tenant string, now time.Time) {
	t.Helper()
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	v := f.st.Scoped(tenant)
	tk := f.a
	if tenant == "globex" {
		tk = f.b
	}
	must(v.PutCampaign(ctx, domain.Campaign{ID: "spring", Name: "Spring", CreatedAt: now}))
	form := testenv.Form(tenant, tenant+"-contact")
	form.InboundAlias = tenant + "-sales"
	must(v.PutForm(ctx, form))
	must(v.PutMember(ctx, domain.Member{UserID: tenant + "-admin", Email: "admin@" + tenant + ".dk", Role: access.Admin, AddedAt: now}))
	must(v.PutGrant(ctx, access.Grant{ID: "g1", Tenant: tenant, Grantee: "s1", GrantedBy: tenant + "-admin", Scope: access.Read,
		Reason: "ticket", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}))
	for _, email := range []string{"jens@example.dk", "mette@example.dk"} {
		l := newLead(tenant, domain.Personal{Email: email}, now)
		l.FormID = form.ID
		if _, _, err := v.PutLead(ctx, tk, l, store.Idempotency{}); err != nil {
			t.Fatal(err)
		}
		must(v.PutNotification(ctx, domain.Notification{TenantID: tenant, LeadID: l.ID, MessageID: "m", Recipients: []string{"s@x.dk"},
			SentAt: now, ExpiresAt: l.ExpiresAt}))
	}
	must(v.QueueMail(ctx, domain.Mail{TenantID: tenant, ID: "m1", Kind: domain.MailDeadlineReminder, To: []string{"admin@" + tenant + ".dk"},
		Subject: "s", Text: "t", CreatedAt: now}))
	must(v.CountDeletions(ctx, store.ReasonLead, 1, now))
	must(v.PutBillingContact(ctx, domain.BillingContact{Name: "Bookkeeping", Email: "billing@" + tenant + ".dk", VATNumber: "DK12345678"}))
	must(v.AddInvoice(ctx, domain.InvoiceRef{Number: "2026-0042", IssuedOn: now, Period: "2026-11"}))
	if _, err := audit.New(testenv.Env.AWS.DynamoDB(), f.table, 0).Append(ctx, audit.Record{Tenant: tenant, ActorID: tenant + "-admin", ActorRole: "admin",
		Action: "lead.read", Targets: []string{"lead:x"}, At: now}); err != nil {
		t.Fatal(err)
	}
}

// tenantItems returns the partition keys of every item of a tenant left in a table.
func tenantItems(t *testing.T, table, tenant string) []string {
	t.Helper()
	var left []string
	p := dynamodb.NewScanPaginator(testenv.Env.AWS.DynamoDB(), &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Items {
			var k struct {
				PK     string `dynamodbav:"pk"`
				SK     string `dynamodbav:"sk"`
				Tenant string `dynamodbav:"tenant"`
			}
			_ = attributevalue.UnmarshalMap(it, &k)
			if k.PK == "T#"+tenant || strings.HasPrefix(k.PK, "T#"+tenant+"#") || k.Tenant == tenant || strings.HasPrefix(k.SK, tenant+"#") ||
				(k.PK == "CONTRACTS" && k.SK == tenant) {
				left = append(left, k.PK+"/"+k.SK)
			}
		}
	}
	return left
}

// TestContract_endPurgeAndReplay: a contract's end refuses intake from the second it ends; closing early
// is refused while campaigns remain unless they are deleted on record; the purge deletes everything of
// the tenant but its audit trail and proof of deletion, the tenant key last, and leaves a final record;
// the other tenant is untouched; replaying the ledger on a table restored from before the purge purges
// it there too.
func TestContract_endPurgeAndReplay(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	seedTenant(t, f, "acme", now.Add(-time.Hour))
	seedTenant(t, f, "globex", now.Add(-time.Hour))

	// A copy of the table from before the end, standing in for a backup.
	restored := copyTable(t, f.table)

	v := f.st.Scoped("acme")
	if err := v.EndContract(ctx, domain.Contract{EndsAt: now.Add(time.Hour), GraceDays: 10, Then: domain.ContractThenReturn}); err == nil {
		t.Error("EndContract(grace 10 days) = nil; want refused (30-90)")
	}
	if err := v.EndContract(ctx, domain.Contract{EndsAt: now.Add(time.Hour), GraceDays: 30, Then: domain.ContractThenReturn}); err != nil {
		t.Fatal(err)
	}
	if due, err := f.st.PendingContracts(ctx, now); err != nil || len(due) != 0 {
		t.Errorf("PendingContracts(before the end) = %v, %v; want none", due, err)
	}
	after := f.st.WithClock(func() time.Time { return now.Add(time.Hour) })
	l := newLead("acme", domain.Personal{Email: "late@example.dk"}, now.Add(time.Hour))
	if _, _, err := after.Scoped("acme").PutLead(ctx, f.a, l, store.Idempotency{}); !errors.Is(err, store.ErrContractEnded) {
		t.Errorf("PutLead(after the end) = %v; want ErrContractEnded", err)
	}
	if _, _, err := after.Scoped("globex").PutLead(ctx, f.b, newLead("globex", domain.Personal{Email: "x@example.dk"}, now), store.Idempotency{}); err != nil {
		t.Errorf("PutLead(other tenant) = %v; want accepted", err)
	}
	tn, err := after.Tenant(ctx, "acme")
	if err != nil || tn.Contract.State(now.Add(time.Hour)) != domain.ContractEnded || !tn.Contract.PurgeAt.Equal(now.Add(time.Hour).AddDate(0, 0, 30)) {
		t.Fatalf("Tenant() = %+v, %v; want ended, purge 30 days after the end", tn.Contract, err)
	}
	if err := after.Scoped("acme").ContractEnded(ctx, "contract-returns/acme/x", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := v.EndContract(ctx, domain.Contract{EndsAt: now.Add(48 * time.Hour), GraceDays: 30, Then: domain.ContractThenDelete}); !errors.Is(err, store.ErrContractEnded) {
		t.Errorf("EndContract(after it was carried out) = %v; want ErrContractEnded", err)
	}

	// Closing early: refused while the campaign remains, then with the campaigns deleted on record.
	if campaigns, err := after.Scoped("acme").CloseContract(ctx, false); !errors.Is(err, store.ErrCampaignsRemain) || len(campaigns) != 1 {
		t.Errorf("CloseContract(keep campaigns) = %v, %v; want ErrCampaignsRemain naming spring", campaigns, err)
	}
	campaigns, err := after.Scoped("acme").CloseContract(ctx, true)
	if err != nil || len(campaigns) != 1 || campaigns[0] != "spring" {
		t.Fatalf("CloseContract(delete campaigns) = %v, %v", campaigns, err)
	}
	due, err := after.PendingContracts(ctx, now.Add(time.Hour))
	if err != nil || len(due) != 1 || due[0].Tenant != "acme" {
		t.Fatalf("PendingContracts() = %v, %v; want acme", due, err)
	}

	// The purge: data, then the final record, then the accounts and the tenant item.
	pa := after.Scoped("acme")
	for i := 0; ; i++ {
		p, err := pa.PurgeStep(ctx, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if p.Phase == store.PurgePhaseNotice {
			break
		}
		if i > 5 {
			t.Fatal("the data phase does not finish")
		}
	}
	if _, err := pa.Members(ctx); err != nil {
		t.Errorf("Members() during the notice phase = %v; want them kept until the final record is mailed", err)
	}
	rec, err := pa.RecordPurge(ctx)
	if err != nil || rec.Counts["leads"] != 2 || rec.Counts["subjectKeys"] != 2 || rec.Counts["forms"] != 1 || rec.Counts["campaigns"] != 1 || len(rec.Campaigns) != 1 {
		t.Errorf("RecordPurge() = %+v, %v; want 2 leads, 2 subject keys, 1 form, 1 campaign", rec, err)
	}
	for i := 0; ; i++ {
		p, err := pa.PurgeStep(ctx, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if p.Done {
			break
		}
		if i > 5 {
			t.Fatal("the accounts phase does not finish")
		}
	}
	for _, left := range tenantItems(t, f.table, "acme") {
		if !strings.HasPrefix(left, "T#acme#AUDIT/") && !strings.HasPrefix(left, "T#acme#DELSTATS/") && left != "PURGED/acme" &&
			!strings.HasPrefix(left, "BILLING#acme/") {
			t.Errorf("after the purge, %s is left; want only the audit trail, the proof of deletion, the billing hold and the final record", left)
		}
	}
	bill, err := f.st.Scoped("acme").Billing(ctx)
	if err != nil || bill.Contact == nil || len(bill.Invoices) != 1 || bill.KeptUntil.Year() != now.Year()+6 {
		t.Errorf("Billing() after the purge = %+v, %v; want the contact and invoice held until 5 years after the invoice's year", bill, err)
	}
	if _, err := f.st.Tenant(ctx, "acme"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Tenant(purged) = %v; want ErrNotFound", err)
	}
	if rep, err := audit.New(testenv.Env.AWS.DynamoDB(), f.table, 0).Verify(ctx, "acme"); err != nil || !rep.Intact() {
		t.Errorf("audit chain after the purge = %+v, %v; want intact", rep, err)
	}
	days, err := f.st.Scoped("acme").DeletionReport(ctx, now.Add(-24*time.Hour), now.Add(24*time.Hour))
	if err != nil || len(days) == 0 || days[len(days)-1].ByReason[store.ReasonContractEnd] != 2 {
		t.Errorf("DeletionReport() = %+v, %v; want the 2 leads counted as contract-end", days, err)
	}
	if n := len(tenantItems(t, f.table, "globex")); n < 10 {
		t.Errorf("globex has %d items after acme's purge; want its data untouched", n)
	}

	// A restore from before the purge: the ledger of the live table purges acme there too.
	ledger, err := f.st.PurgeLedger(ctx)
	if err != nil || len(ledger) != 1 || ledger[0].Tenant != "acme" {
		t.Fatalf("PurgeLedger() = %+v, %v", ledger, err)
	}
	rs := store.New(testenv.Env.AWS.DynamoDB(), restored)
	if n, err := rs.ReplayPurges(ctx, ledger); err != nil || n == 0 {
		t.Fatalf("ReplayPurges() = %d, %v", n, err)
	}
	for _, left := range tenantItems(t, restored, "acme") {
		if !strings.HasPrefix(left, "T#acme#AUDIT/") && !strings.HasPrefix(left, "T#acme#DELSTATS/") && left != "PURGED/acme" &&
			!strings.HasPrefix(left, "BILLING#acme/") {
			t.Errorf("after replaying the purge, %s is left in the restored table", left)
		}
	}
	if n, err := rs.ReplayPurges(ctx, ledger); err != nil || n != 0 {
		t.Errorf("ReplayPurges(again) = %d, %v; want nothing more", n, err)
	}
	if _, err := rs.Scoped("globex").Form(ctx, "globex-contact"); err != nil {
		t.Errorf("globex's form in the restored table = %v; want kept", err)
	}
}
