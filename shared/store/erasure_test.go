package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"leadvault/infra/local/testenv"
	"leadvault/shared/domain"
	"leadvault/shared/store"
)

// copyTable copies every item of table from into a new table and returns its name: an older copy of the
// table, as a restore from a backup or a point in time would bring back.
func copyTable(t *testing.T, from string) string {
	t.Helper()
	ctx := context.Background()
	db := testenv.Env.AWS.DynamoDB()
	into := testenv.Table(t)
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String(from), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for start := 0; start < len(page.Items); start += 25 {
			var writes []types.WriteRequest
			for _, it := range page.Items[start:min(start+25, len(page.Items))] {
				writes = append(writes, types.WriteRequest{PutRequest: &types.PutRequest{Item: it}})
			}
			for len(writes) > 0 {
				out, err := db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{into: writes}})
				if err != nil {
					t.Fatal(err)
				}
				writes = out.UnprocessedItems[into]
			}
		}
	}
	return into
}

// itemsNaming returns the primary keys of the items of table that hold any of the values in an attribute.
func itemsNaming(t *testing.T, table string, values ...string) []string {
	t.Helper()
	var found []string
	p := dynamodb.NewScanPaginator(testenv.Env.AWS.DynamoDB(), &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Items {
			for _, av := range it {
				s, ok := av.(*types.AttributeValueMemberS)
				if !ok {
					continue
				}
				for _, v := range values {
					if strings.Contains(s.Value, v) {
						found = append(found, it["pk"].(*types.AttributeValueMemberS).Value+" "+it["sk"].(*types.AttributeValueMemberS).Value)
					}
				}
			}
		}
	}
	return found
}

func TestErasure_survivesRestore(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	v := f.st.Scoped("acme")
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Millisecond)
	jens := []domain.Lead{
		newLead("acme", domain.Personal{Name: "Jens", Email: "jens@example.dk"}, base),
		newLead("acme", domain.Personal{Name: "Jens", Email: "jens@example.dk", Phone: "+4520123456"}, base.Add(time.Minute)),
		newLead("acme", domain.Personal{Name: "Jens H.", Phone: "+4520123456"}, base.Add(2*time.Minute)),
	}
	jens[1].Source, jens[1].FormID = domain.SourceEmail, "inbox"
	karen := newLead("acme", domain.Personal{Name: "Karen", Email: "karen@example.dk"}, base)
	globexJens := newLead("globex", domain.Personal{Name: "Jens", Email: "jens@example.dk"}, base)
	for _, l := range append(jens, karen) {
		if _, _, err := v.PutLead(ctx, f.a, l, store.Idempotency{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := f.st.Scoped("globex").PutLead(ctx, f.b, globexJens, store.Idempotency{}); err != nil {
		t.Fatal(err)
	}
	if err := v.PutNotification(ctx, domain.Notification{TenantID: "acme", LeadID: jens[0].ID, MessageID: "m-1",
		Recipients: []string{"sales@acme.dk"}, SentAt: base, ExpiresAt: jens[0].ExpiresAt}); err != nil {
		t.Fatal(err)
	}
	idx := store.IndexSubject(f.a, "jens@example.dk", "+4520123456")
	restored := copyTable(t, f.table) // yesterday's backup: Jens is in it

	ids, err := v.LeadsOfSubject(ctx, idx)
	if err != nil || len(ids) != 3 {
		t.Fatalf("LeadsOfSubject() = %v, %v; want Jens's 3 leads (form and mail)", ids, err)
	}
	n, err := v.EraseLeads(ctx, ids)
	if err != nil || n != 3 {
		t.Fatalf("EraseLeads() = %d, %v; want 3", n, err)
	}
	erasedAt := time.Now().UTC()
	if err := v.RecordErasure(ctx, idx, "req-1", erasedAt); err != nil {
		t.Fatal(err)
	}

	// Live: nothing of Jens is findable or readable; Karen and globex's Jens are untouched.
	checkErased := func(t *testing.T, st *store.Store, table string) {
		t.Helper()
		sv := st.Scoped("acme")
		if ids, err := sv.LeadsOfSubject(ctx, idx); err != nil || len(ids) != 0 {
			t.Errorf("LeadsOfSubject(erased) = %v, %v; want none", ids, err)
		}
		for _, l := range jens {
			if _, err := sv.Lead(ctx, f.a, l.ID); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Lead(%s) = %v; want ErrNotFound", l.ID, err)
			}
			if _, err := sv.Notified(ctx, l.ID); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Notified(%s) = %v; want ErrNotFound", l.ID, err)
			}
		}
		// No item holds Jens's blind indexes or subject keys (the ledger's own entries aside).
		var left []string
		for _, k := range itemsNaming(t, table, idx.Email, idx.Phone) {
			if !strings.HasPrefix(k, "ERASED ") {
				left = append(left, k)
			}
		}
		if len(left) != 0 {
			t.Errorf("items still naming the erased subject: %v", left)
		}
		if _, err := sv.Lead(ctx, f.a, karen.ID); err != nil {
			t.Errorf("Lead(karen) = %v; want kept", err)
		}
		if _, err := st.Scoped("globex").Lead(ctx, f.b, globexJens.ID); err != nil {
			t.Errorf("Lead(globex's Jens) = %v; want kept: the erasure was acme's", err)
		}
	}
	checkErased(t, f.st, f.table)

	// The restored copy brings Jens back until the ledger is replayed into it.
	old := store.New(testenv.Env.AWS.DynamoDB(), restored)
	if got, err := old.Scoped("acme").Lead(ctx, f.a, jens[0].ID); err != nil || got.Personal.Name != "Jens" {
		t.Fatalf("restored Lead(jens) = %+v, %v; want readable before the replay", got.Personal, err)
	}
	later := newLead("acme", domain.Personal{Name: "Jens again", Email: "jens@example.dk"}, erasedAt.Add(time.Minute))
	if _, _, err := old.Scoped("acme").PutLead(ctx, f.a, later, store.Idempotency{}); err != nil {
		t.Fatal(err)
	}
	ledger, err := f.st.ErasureLedger(ctx)
	if err != nil || len(ledger) != 2 {
		t.Fatalf("ErasureLedger() = %v, %v; want two entries (e-mail, phone)", ledger, err)
	}
	rep, err := old.ReplayErasures(ctx, ledger)
	if err != nil || rep.Entries != 2 || rep.Erased != 3 {
		t.Fatalf("ReplayErasures() = %+v, %v; want 2 entries, 3 leads erased", rep, err)
	}
	if got, err := old.Scoped("acme").Lead(ctx, f.a, later.ID); err != nil || got.Personal.Name != "Jens again" {
		t.Errorf("Lead(after the erasure) = %v; want kept: it is a new submission", err)
	}
	if _, err := old.Scoped("acme").EraseLeads(ctx, []string{later.ID}); err != nil {
		t.Fatal(err)
	}
	checkErased(t, old, restored)
	if rep, err := old.ReplayErasures(ctx, ledger); err != nil || rep.Erased != 0 {
		t.Errorf("ReplayErasures(again) = %+v, %v; want nothing more", rep, err)
	}
}
