package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"leadvault/infra/local/testenv"
	"leadvault/shared/domain"
	"leadvault/shared/store"
	"leadvault/shared/vault"
)

func putCampaignLead(t testing.TB, st *store.Store, tk *vault.TenantKey, campaign, email string, at time.Time) domain.Lead {
	t.Helper()
	l := newLead(tk.Tenant(), domain.Personal{Name: "N " + email, Email: email}, at)
	l.CampaignID = campaign
	if _, _, err := st.Scoped(tk.Tenant()).PutLead(context.Background(), tk, l, idem(l.ID)); err != nil {
		t.Fatal(err)
	}
	return l
}

func TestLeadsByCampaign(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	base := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	var spring []domain.Lead
	for i := range 5 {
		email := fmt.Sprintf("p%d@example.dk", i%3) // subjects repeat: one key serves several leads
		spring = append(spring, putCampaignLead(t, f.st, f.a, "spring", email, base.Add(time.Duration(i)*time.Hour)))
	}
	putCampaignLead(t, f.st, f.a, "autumn", "x@example.dk", base)
	putCampaignLead(t, f.st, f.b, "spring", "other@example.dk", base) // another tenant, same campaign name

	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		page, next, err := f.st.Scoped(f.a.Tenant()).LeadsByCampaign(ctx, f.a, "spring", store.Page{Limit: 2, Cursor: cursor})
		if err != nil {
			t.Fatalf("LeadsByCampaign(page %d) error = %v", pages, err)
		}
		for _, l := range page {
			if l.Personal.Email == "" {
				t.Errorf("lead %s not decrypted", l.ID)
			}
			got = append(got, l.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	want := []string{spring[4].ID, spring[3].ID, spring[2].ID, spring[1].ID, spring[0].ID}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("LeadsByCampaign(spring) = %v; want %v (newest first, this tenant only)", got, want)
	}

	ranged, _, err := f.st.Scoped(f.a.Tenant()).LeadsByCampaign(ctx, f.a, "spring", store.Page{From: base.Add(time.Hour), To: base.Add(3 * time.Hour)})
	if err != nil || len(ranged) != 2 || ranged[0].ID != spring[2].ID || ranged[1].ID != spring[1].ID {
		t.Errorf("LeadsByCampaign(1 h..3 h) = %d leads, %v; want leads 2 and 1", len(ranged), err)
	}

	_, next, err := f.st.Scoped(f.a.Tenant()).LeadsByCampaign(ctx, f.a, "spring", store.Page{Limit: 1})
	if err != nil || next == "" {
		t.Fatalf("first page: %v, cursor %q", err, next)
	}
	for name, try := range map[string]func() error{
		"forged": func() error {
			_, _, err := f.st.Scoped(f.a.Tenant()).LeadsByCampaign(ctx, f.a, "spring", store.Page{Cursor: "e30." + next[len(next)-5:]})
			return err
		},
		"other campaign": func() error {
			_, _, err := f.st.Scoped(f.a.Tenant()).LeadsByCampaign(ctx, f.a, "autumn", store.Page{Cursor: next})
			return err
		},
		"other tenant": func() error {
			_, _, err := f.st.Scoped(f.b.Tenant()).LeadsByCampaign(ctx, f.b, "spring", store.Page{Cursor: next})
			return err
		},
	} {
		if err := try(); !errors.Is(err, store.ErrBadCursor) {
			t.Errorf("LeadsByCampaign(%s cursor) error = %v; want ErrBadCursor", name, err)
		}
	}

	// Expired and shredded leads are never listed.
	later := f.st.WithClock(func() time.Time { return base.Add(366 * 24 * time.Hour) })
	if page, _, err := later.Scoped(f.a.Tenant()).LeadsByCampaign(ctx, f.a, "spring", store.Page{}); err != nil || len(page) != 0 {
		t.Errorf("LeadsByCampaign after retention = %d, %v; want none", len(page), err)
	}
	stored, err := f.st.Scoped(f.a.Tenant()).Lead(ctx, f.a, spring[4].ID)
	if err != nil {
		t.Fatal(err)
	}
	_, err = testenv.Env.AWS.DynamoDB().DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &f.table, Key: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "T#acme#S#" + stored.SubjectID}, "sk": &types.AttributeValueMemberS{Value: "KEY"}}})
	if err != nil {
		t.Fatal(err)
	}
	if page, _, err := f.st.Scoped(f.a.Tenant()).LeadsByCampaign(ctx, f.a, "spring", store.Page{}); err != nil || len(page) != 3 {
		t.Errorf("LeadsByCampaign after shredding one subject (2 leads) = %d, %v; want 3", len(page), err)
	}
}

func TestDeleteLead(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	l := putCampaignLead(t, f.st, f.a, "spring", "del@example.dk", time.Now())
	if err := f.st.Scoped("globex").DeleteLead(ctx, l.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteLead(other tenant) = %v; want ErrNotFound", err)
	}
	if err := f.st.Scoped("acme").DeleteLead(ctx, l.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.Scoped(f.a.Tenant()).Lead(ctx, f.a, l.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Lead(deleted) = %v; want ErrNotFound", err)
	}
	if err := f.st.Scoped("acme").DeleteLead(ctx, l.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteLead(again) = %v; want ErrNotFound", err)
	}
}

// BenchmarkLeadsByCampaign lists pages of 100 leads (decrypted) of a campaign with 100 distinct subjects,
// reporting the DynamoDB and KMS calls per page.
func BenchmarkLeadsByCampaign(b *testing.B) {
	ctx := context.Background()
	calls := testenv.NewCalls()
	cfg := calls.Config()
	table := testenv.Table(b)
	st := store.New(cfg.DynamoDB(), table)
	v := vault.New(cfg.KMS(), testenv.Env.Standins.KeyARN)
	tk := testenv.Tenant(b, st, v, "acme")
	base := time.Now().Add(-time.Hour)
	for i := range 100 {
		putCampaignLead(b, st, tk, "spring", fmt.Sprintf("b%d@example.dk", i), base.Add(time.Duration(i)*time.Second))
	}
	calls.Reset()
	b.ResetTimer()
	pages := 0
	for b.Loop() {
		// The tenant key comes from the vault's cache, as in a warm function.
		tk, err := v.TenantKey(ctx, "acme", mustWrapped(b, st))
		if err != nil {
			b.Fatal(err)
		}
		page, _, err := st.Scoped(tk.Tenant()).LeadsByCampaign(ctx, tk, "spring", store.Page{Limit: 100})
		if err != nil || len(page) != 100 {
			b.Fatalf("page = %d leads, %v", len(page), err)
		}
		pages++
	}
	b.ReportMetric(float64(calls.Count("DynamoDB", "Query", "BatchGetItem"))/float64(pages), "ddb-calls/page")
	b.ReportMetric(float64(calls.Count("KMS"))/float64(pages), "kms-calls/page")
}

func mustWrapped(b *testing.B, st *store.Store) []byte {
	b.Helper()
	ten, err := st.Tenant(context.Background(), "acme")
	if err != nil {
		b.Fatal(err)
	}
	return ten.WrappedKey
}

func TestLeadsByCampaign_orderWithinASecond(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	second := time.Date(2026, 11, 23, 12, 0, 5, 0, time.UTC)
	whole := putCampaignLead(t, f.st, f.a, "spring", "whole@example.dk", second)                           // …:05.000000000
	later := putCampaignLead(t, f.st, f.a, "spring", "later@example.dk", second.Add(100*time.Millisecond)) // …:05.1
	page, _, err := f.st.Scoped(f.a.Tenant()).LeadsByCampaign(ctx, f.a, "spring", store.Page{})
	if err != nil || len(page) != 2 || page[0].ID != later.ID || page[1].ID != whole.ID {
		t.Errorf("LeadsByCampaign() order = %v, %v; want the .1 s lead before the whole-second one", ids(page), err)
	}
	// [From, To): the lead at To itself is outside.
	before, _, err := f.st.Scoped(f.a.Tenant()).LeadsByCampaign(ctx, f.a, "spring", store.Page{To: second.Add(100 * time.Millisecond)})
	if err != nil || len(before) != 1 || before[0].ID != whole.ID {
		t.Errorf("LeadsByCampaign(To = later's time) = %v, %v; want only the earlier lead", ids(before), err)
	}
}

func ids(leads []domain.Lead) []string {
	out := make([]string, len(leads))
	for i, l := range leads {
		out[i] = l.ID
	}
	return out
}
