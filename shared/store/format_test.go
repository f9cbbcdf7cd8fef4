package store_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"leadvault/infra/local/testenv"
	"leadvault/shared/access"
	"leadvault/shared/domain"
	"leadvault/shared/provision"
	"leadvault/shared/store"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/items.golden from the items the store writes now")

// TestItemFormat_golden stores one of every kind of item through the store's API, with a fixed clock and
// fixed IDs, and compares every item of the table, attribute by attribute (name, type, value), with
// testdata/items.golden. A deployed table holds items in this format and must stay readable: however
// items are marshalled, they must come out the same. Values that differ from run to run by design
// (ciphertexts, wrapped keys, keyed hashes under a fresh tenant key) are compared by type and length only.
func TestItemFormat_golden(t *testing.T) {
	ctx := context.Background()
	clock := time.Date(2026, 12, 1, 9, 30, 0, 123456789, time.UTC)
	db := testenv.Env.AWS.DynamoDB()
	table := testenv.Table(t)
	st := store.New(db, table).WithClock(func() time.Time { return clock })
	v := testenv.Vault()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err := provision.EnsureTenant(ctx, st, v, "acme", "Acme ApS", clock)
	must(err)
	ten, err := st.Tenant(ctx, "acme")
	must(err)
	tk, err := v.TenantKey(ctx, "acme", ten.WrappedKey)
	must(err)
	must(st.SetAuditRetention(ctx, "acme", 400))
	must(st.Scoped("acme").PutCampaign(ctx, domain.Campaign{ID: "spring", Name: "Spring sale", CreatedAt: clock}))
	must(st.Scoped("acme").PutCampaign(ctx, domain.Campaign{ID: "autumn", Name: "Autumn", CreatedAt: clock}))
	_, err = st.Scoped("acme").RenameCampaign(ctx, "autumn", "Autumn sale")
	must(err)
	f := testenv.Form("acme", "contact")
	f.InboundAlias = "sales"
	must(st.Scoped(f.TenantID).PutForm(ctx, f))
	must(st.Scoped("acme").PutMember(ctx, domain.Member{UserID: "u-admin", Email: "admin@acme.dk", Role: access.Admin, AddedAt: clock, AddedBy: "ops"}))
	must(st.Scoped("acme").PutMember(ctx, domain.Member{UserID: "u-member", Email: "member@acme.dk", Role: access.Member, AddedAt: clock, AddedBy: "u-admin"}))
	_, err = st.Scoped("acme").SetMemberRole(ctx, "u-member", access.Admin)
	must(err)
	must(st.Scoped("acme").PutGrant(ctx, access.Grant{ID: "g1", Tenant: "acme", Grantee: "s1", GrantedBy: "u-admin", Scope: access.Read,
		Reason: "ticket 7", CreatedAt: clock, ExpiresAt: clock.Add(24 * time.Hour)}))
	must(st.Scoped("acme").PutGrant(ctx, access.Grant{ID: "g2", Tenant: "acme", Grantee: "s2", GrantedBy: "u-admin", Scope: access.ReadWrite,
		Reason: "ticket 8", CreatedAt: clock, ExpiresAt: clock.Add(24 * time.Hour)}))
	must(st.Scoped("acme").RevokeGrant(ctx, "g2", clock.Add(time.Hour)))
	lead := func(id, email string) domain.Lead {
		return domain.Lead{TenantID: "acme", ID: id, FormID: "contact", CampaignID: "spring", Source: domain.SourceForm,
			CreatedAt: clock, ExpiresAt: clock.Add(365 * 24 * time.Hour), Spam: id == "lead-2",
			Personal: domain.Personal{Name: "Jens", Email: email, Phone: "+4520123456", Message: "Hej", Custom: map[string]string{"budget": "10k"}},
			Consent:  &domain.ConsentRecord{Given: true, Version: "v1", GivenAt: clock, Source: "form:contact"},
			Flags:    []string{"redacted:cpr:message"}, Meta: map[string]string{"origin": "https://www.acme.dk"}}
	}
	for i, email := range []string{"jens@example.dk", "jens@example.dk", ""} {
		id := fmt.Sprintf("lead-%d", i+1)
		l := lead(id, email)
		if email == "" {
			// Nothing to index, and empty collections: they are left out, not stored empty.
			l.Personal.Phone, l.Flags, l.Meta = "", []string{}, map[string]string{}
		}
		_, _, err := st.Scoped(tk.Tenant()).PutLead(ctx, tk, l, store.Idempotency{Key: "k-" + id, RequestHash: "rh-" + id, TTL: 10 * time.Minute})
		must(err)
	}
	_, err = st.Scoped(tk.Tenant()).RectifyLead(ctx, tk, "lead-1", domain.Personal{Name: "Jens Hansen", Email: "jens@example.dk"}, []string{"rectified"})
	must(err)
	must(st.Scoped("acme").PutNotification(ctx, domain.Notification{TenantID: "acme", LeadID: "lead-1", MessageID: "ses-1",
		Recipients: []string{"sales@acme.dk"}, SentAt: clock, ExpiresAt: clock.Add(365 * 24 * time.Hour)}))
	_, _, err = st.Scoped("acme").CountHit(ctx, "ip:abc")
	must(err)
	_, err = st.Scoped("acme").StartCampaignDeletion(ctx, "autumn", "job-1")
	must(err)
	_, err = st.Scoped("acme").DeleteCampaignStep(ctx, "autumn", 10)
	must(err)
	idx := store.IndexSubject(tk, "jens@example.dk", "+4520123456")
	for i, kind := range []domain.RequestKind{domain.KindAccess, domain.KindErasure} {
		r := domain.SubjectRequest{TenantID: "acme", ID: fmt.Sprintf("req-%d", i+1), Kind: kind, State: domain.StateReceived,
			Subject: idx, Instruction: domain.Instruction{Reference: "ticket-7", ReceivedAt: clock, Note: "by phone"},
			DueAt: domain.DueAfter(clock), CreatedAt: clock, UpdatedAt: clock, CreatedBy: "u-admin"}
		_, _, err = st.Scoped("acme").CreateSubjectRequest(ctx, tk, r, store.Idempotency{Key: "sr-" + r.ID, RequestHash: "rh", TTL: time.Hour})
		must(err)
	}
	_, err = st.Scoped("acme").SaveSubjectRequest(ctx, domain.SubjectRequest{TenantID: "acme", ID: "req-2", State: domain.StateDone,
		Found: domain.RequestFound{Leads: 2, BySource: map[string]int64{"form": 2}, Campaigns: map[string]int64{"spring": 2}}, Erased: 2})
	must(err)
	must(st.Scoped("acme").RecordErasure(ctx, idx, "req-2", clock))

	got := dumpTable(t, db, table)
	path := "testdata/items.golden"
	if *updateGolden {
		must(os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	must(err)
	if got != string(want) {
		t.Errorf("stored items differ from %s (run with -update only for an intended format change):\n%s", path, diffLines(string(want), got))
	}
}

// volatile matches the values that differ between runs by design: base64-looking keyed hashes and
// subject IDs derived under a fresh tenant key.
var volatile = regexp.MustCompile(`[ep]\.[A-Za-z0-9_-]{20,}|[A-Za-z0-9_-]{40,}`)

func dumpTable(t *testing.T, db *dynamodb.Client, table string) string {
	t.Helper()
	var lines []string
	var start map[string]types.AttributeValue
	for {
		out, err := db.Scan(context.Background(), &dynamodb.ScanInput{TableName: &table, ExclusiveStartKey: start, ConsistentRead: new(true)})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range out.Items {
			var attrs []string
			for name, v := range it {
				attrs = append(attrs, name+"="+render(v))
			}
			sort.Strings(attrs)
			lines = append(lines, volatile.ReplaceAllString(strings.Join(attrs, " "), "<keyed>"))
		}
		if start = out.LastEvaluatedKey; start == nil {
			break
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}

func render(v types.AttributeValue) string {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return "S:" + v.Value
	case *types.AttributeValueMemberN:
		return "N:" + v.Value
	case *types.AttributeValueMemberB:
		return fmt.Sprintf("B:<%d bytes>", len(v.Value))
	case *types.AttributeValueMemberBOOL:
		return fmt.Sprintf("BOOL:%v", v.Value)
	case *types.AttributeValueMemberSS:
		s := append([]string(nil), v.Value...)
		sort.Strings(s)
		return "SS:[" + strings.Join(s, ",") + "]"
	case *types.AttributeValueMemberL:
		var parts []string
		for _, e := range v.Value {
			parts = append(parts, render(e))
		}
		return "L:[" + strings.Join(parts, ",") + "]"
	case *types.AttributeValueMemberM:
		var parts []string
		for k, e := range v.Value {
			parts = append(parts, k+"="+render(e))
		}
		sort.Strings(parts)
		return "M:{" + strings.Join(parts, ",") + "}"
	case *types.AttributeValueMemberNULL:
		return "NULL"
	}
	return fmt.Sprintf("%T", v)
}

func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	in := func(list []string, s string) bool {
		for _, x := range list {
			if x == s {
				return true
			}
		}
		return false
	}
	var b strings.Builder
	for _, l := range w {
		if !in(g, l) {
			b.WriteString("- " + l + "\n")
		}
	}
	for _, l := range g {
		if !in(w, l) {
			b.WriteString("+ " + l + "\n")
		}
	}
	return b.String()
}
