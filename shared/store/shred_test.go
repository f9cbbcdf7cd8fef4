package store_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"leadvault/infra/local/testenv"
	"leadvault/shared/domain"
	"leadvault/shared/store"
)

// rawItem reads an item as stored, expired or not; nil when absent.
func rawItem(t testing.TB, table, pk, sk string) map[string]types.AttributeValue {
	t.Helper()
	out, err := testenv.Env.AWS.DynamoDB().GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: &table, ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: sk}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Item
}

// subjectKey returns the stored key item of one of acme's subjects, nil when it is gone.
func subjectKey(t testing.TB, f fixture, subject string) map[string]types.AttributeValue {
	t.Helper()
	return rawItem(t, f.table, "T#acme#S#"+subject, "KEY")
}

// refs returns a key item's reference count, -1 for a missing key.
func refs(item map[string]types.AttributeValue) int {
	if item == nil {
		return -1
	}
	n, ok := item["refs"].(*types.AttributeValueMemberN)
	if !ok {
		return -1
	}
	v, _ := strconv.Atoi(n.Value)
	return v
}

// storedSubject returns the subject ID PutLead gave a lead.
func storedSubject(t testing.TB, f fixture, id string) string {
	t.Helper()
	it := rawItem(t, f.table, "T#acme#L#"+id, "LEAD")
	s, _ := it["subj"].(*types.AttributeValueMemberS)
	if s == nil {
		t.Fatalf("lead %s has no subject", id)
	}
	return s.Value
}

func TestPutLead_refs(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	now := time.Now()
	p := domain.Personal{Name: "Counted", Email: "counted@example.dk"}
	first := newLead("acme", p, now)
	first.ExpiresAt = now.Add(30 * 24 * time.Hour)
	if _, _, err := f.st.Scoped(f.a.Tenant()).PutLead(ctx, f.a, first, idem("first")); err != nil {
		t.Fatal(err)
	}
	subject := storedSubject(t, f, first.ID)
	shorter := newLead("acme", p, now)
	shorter.ExpiresAt = now.Add(24 * time.Hour)
	longer := newLead("acme", p, now)
	longer.ExpiresAt = now.Add(400 * 24 * time.Hour)
	tests := []struct {
		name        string
		lead        domain.Lead
		idem        store.Idempotency
		wantCreated bool
		wantErr     error
		wantRefs    int
	}{
		{"key outlives lead (check)", shorter, idem("shorter"), true, nil, 2},
		{"key extended", longer, idem("longer"), true, nil, 3},
		{"replay", newLead("acme", p, now), idem("longer"), false, nil, 3},
		{"idempotency conflict", newLead("acme", p, now), store.Idempotency{Key: "longer", RequestHash: "other", TTL: time.Minute}, false, store.ErrIdempotencyConflict, 3},
	}
	for _, tt := range tests {
		_, created, err := f.st.Scoped(f.a.Tenant()).PutLead(ctx, f.a, tt.lead, tt.idem)
		if created != tt.wantCreated || !errors.Is(err, tt.wantErr) {
			t.Errorf("PutLead(%s) = created %v, %v; want %v, %v", tt.name, created, err, tt.wantCreated, tt.wantErr)
		}
		if got := refs(subjectKey(t, f, subject)); got != tt.wantRefs {
			t.Errorf("after PutLead(%s): refs = %d; want %d", tt.name, got, tt.wantRefs)
		}
	}
}

func TestDeleteLead_sharedKey(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	spring := putCampaignLead(t, f.st, f.a, "spring", "shared@example.dk", time.Now())
	autumn := putCampaignLead(t, f.st, f.a, "autumn", "shared@example.dk", time.Now())
	subject := storedSubject(t, f, spring.ID)
	if got := refs(subjectKey(t, f, subject)); got != 2 {
		t.Fatalf("refs after two leads = %d; want 2", got)
	}

	if err := f.st.Scoped("acme").DeleteLead(ctx, spring.ID); err != nil {
		t.Fatalf("DeleteLead(%q) = %v; want nil", spring.ID, err)
	}
	if got := refs(subjectKey(t, f, subject)); got != 1 {
		t.Errorf("refs after deleting one of two leads = %d; want 1", got)
	}
	if got, err := f.st.Scoped(f.a.Tenant()).Lead(ctx, f.a, autumn.ID); err != nil || got.Personal.Email != "shared@example.dk" {
		t.Errorf("Lead(other lead of the subject) = %v; want it still readable", err)
	}

	if err := f.st.Scoped("acme").DeleteLead(ctx, autumn.ID); err != nil {
		t.Fatalf("DeleteLead(%q) = %v; want nil", autumn.ID, err)
	}
	if k := subjectKey(t, f, subject); k != nil {
		t.Errorf("subject key after deleting its last lead = %v; want it shredded", k)
	}
	if err := f.st.Scoped("acme").DeleteLead(ctx, autumn.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteLead(%q again) = %v; want ErrNotFound", autumn.ID, err)
	}
}

func TestDeleteLead_keyCases(t *testing.T) {
	tests := []struct {
		name string
		// prepare runs after the lead is stored and returns the store to delete with.
		prepare  func(t *testing.T, f fixture, l domain.Lead) *store.Store
		wantRefs int // of the subject key afterwards, -1 for gone
	}{
		{"key already shredded", func(t *testing.T, f fixture, l domain.Lead) *store.Store {
			deleteItem(t, f.table, "T#acme#S#"+storedSubject(t, f, l.ID), "KEY")
			return f.st
		}, -1},
		{"lead expired, not yet removed", func(t *testing.T, f fixture, l domain.Lead) *store.Store {
			// A lead past its expiry may hold no reference to the subject's current key: leave the key.
			return f.st.WithClock(func() time.Time { return l.ExpiresAt.Add(time.Hour) })
		}, 1},
		{"key without a count (local development data)", func(t *testing.T, f fixture, l domain.Lead) *store.Store {
			subject := storedSubject(t, f, l.ID)
			_, err := testenv.Env.AWS.DynamoDB().UpdateItem(context.Background(), &dynamodb.UpdateItemInput{
				TableName: &f.table, UpdateExpression: aws.String("REMOVE refs"),
				Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "T#acme#S#" + subject}, "sk": &types.AttributeValueMemberS{Value: "KEY"}},
			})
			if err != nil {
				t.Fatal(err)
			}
			return f.st
		}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := setup(t)
			l := putCampaignLead(t, f.st, f.a, "spring", "case@example.dk", time.Now())
			subject := storedSubject(t, f, l.ID)
			st := tt.prepare(t, f, l)
			if err := st.Scoped("acme").DeleteLead(context.Background(), l.ID); err != nil {
				t.Fatalf("DeleteLead(%q) = %v; want nil", l.ID, err)
			}
			if it := rawItem(t, f.table, "T#acme#L#"+l.ID, "LEAD"); it != nil {
				t.Errorf("lead item after DeleteLead = %v; want gone", it)
			}
			if got := refs(subjectKey(t, f, subject)); got != tt.wantRefs {
				t.Errorf("key refs after DeleteLead = %d; want %d", got, tt.wantRefs)
			}
		})
	}
}

func deleteItem(t testing.TB, table, pk, sk string) {
	t.Helper()
	_, err := testenv.Env.AWS.DynamoDB().DeleteItem(context.Background(), &dynamodb.DeleteItemInput{TableName: &table,
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: sk}}})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDeleteLead_racingPutLead deletes a subject's only lead while a new lead of the same subject is being
// stored: whichever commits first, the new lead must keep a key it decrypts with, counted once.
func TestDeleteLead_racingPutLead(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	const email = "race@example.dk"
	for i := range 20 {
		old := putCampaignLead(t, f.st, f.a, "spring", email, time.Now())
		subject := storedSubject(t, f, old.ID)
		fresh := newLead("acme", domain.Personal{Name: "Fresh", Email: email}, time.Now())
		var wg sync.WaitGroup
		var delErr, putErr error
		wg.Go(func() { delErr = f.st.Scoped("acme").DeleteLead(ctx, old.ID) })
		wg.Go(func() { _, _, putErr = f.st.Scoped(f.a.Tenant()).PutLead(ctx, f.a, fresh, idem(fresh.ID)) })
		wg.Wait()
		if delErr != nil || putErr != nil {
			t.Fatalf("round %d: DeleteLead = %v, PutLead = %v; want nil, nil", i, delErr, putErr)
		}
		if got, err := f.st.Scoped(f.a.Tenant()).Lead(ctx, f.a, fresh.ID); err != nil || got.Personal.Email != email {
			t.Fatalf("round %d: Lead(new lead) = %v; want it readable", i, err)
		}
		if got := refs(subjectKey(t, f, subject)); got != 1 {
			t.Fatalf("round %d: refs = %d; want 1 (the new lead)", i, got)
		}
		// Clean up, so the next round races against a subject with one lead again.
		if err := f.st.Scoped("acme").DeleteLead(ctx, fresh.ID); err != nil {
			t.Fatal(err)
		}
		if k := subjectKey(t, f, subject); k != nil {
			t.Fatalf("round %d: key after deleting the last lead = %v; want gone", i, k)
		}
	}
}

// TestDeleteCampaignStep_racingPutLead deletes a campaign holding a subject's only lead while a new lead of
// that subject is stored in another campaign: the new lead must keep its key.
func TestDeleteCampaignStep_racingPutLead(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	const email = "cascade-race@example.dk"
	for i := range 10 {
		campaign := "round-" + strconv.Itoa(i)
		putCampaign(t, f.st, "acme", campaign)
		old := putCampaignLead(t, f.st, f.a, campaign, email, time.Now())
		subject := storedSubject(t, f, old.ID)
		if _, err := f.st.Scoped("acme").StartCampaignDeletion(ctx, campaign, "job-"+campaign); err != nil {
			t.Fatal(err)
		}
		fresh := newLead("acme", domain.Personal{Name: "Fresh", Email: email}, time.Now())
		fresh.CampaignID = "elsewhere"
		var wg sync.WaitGroup
		var delErr, putErr error
		wg.Go(func() {
			for job := (domain.CampaignDeletion{}); !job.Done && delErr == nil; {
				job, delErr = f.st.Scoped("acme").DeleteCampaignStep(ctx, campaign, 10)
			}
		})
		wg.Go(func() { _, _, putErr = f.st.Scoped(f.a.Tenant()).PutLead(ctx, f.a, fresh, idem(fresh.ID)) })
		wg.Wait()
		if delErr != nil || putErr != nil {
			t.Fatalf("round %d: DeleteCampaignStep = %v, PutLead = %v; want nil, nil", i, delErr, putErr)
		}
		if _, err := f.st.Scoped(f.a.Tenant()).Lead(ctx, f.a, fresh.ID); err != nil {
			t.Fatalf("round %d: Lead(new lead) = %v; want it readable", i, err)
		}
		if _, err := f.st.Scoped(f.a.Tenant()).Lead(ctx, f.a, old.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("round %d: Lead(lead of the deleted campaign) = %v; want ErrNotFound", i, err)
		}
		if got := refs(subjectKey(t, f, subject)); got != 1 {
			t.Fatalf("round %d: refs = %d; want 1 (the new lead)", i, got)
		}
		if err := f.st.Scoped("acme").DeleteLead(ctx, fresh.ID); err != nil {
			t.Fatal(err)
		}
	}
}
