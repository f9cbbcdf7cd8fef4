package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/uuid"

	"leadvault/infra/local/testenv"
	"leadvault/shared/domain"
	"leadvault/shared/store"
)

func newRequest(tenant string, kind domain.RequestKind, idx domain.SubjectIndex, received time.Time) domain.SubjectRequest {
	now := time.Now().UTC().Truncate(time.Second)
	return domain.SubjectRequest{
		TenantID: tenant, ID: uuid.Must(uuid.NewV7()).String(), Kind: kind, State: domain.StateReceived, Subject: idx,
		Instruction: domain.Instruction{Reference: "ticket-7", ReceivedAt: received, Note: "Called on 1 Dec; Jens Hansen"},
		DueAt:       domain.DueAfter(received), CreatedAt: now, UpdatedAt: now, CreatedBy: "u-admin",
	}
}

func TestCreateSubjectRequest_cases(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	v := f.st.Scoped("acme")
	received := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	idx := store.IndexSubject(f.a, "jens@example.dk", "")
	r := newRequest("acme", domain.KindAccess, idx, received)

	got, created, err := v.CreateSubjectRequest(ctx, f.a, r, idem("sr-1"))
	if err != nil || !created {
		t.Fatalf("CreateSubjectRequest() = %v, %v; want created", created, err)
	}
	if got.Instruction.Note != r.Instruction.Note || got.Subject != idx || !got.DueAt.Equal(time.Date(2026, 12, 30, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("CreateSubjectRequest() = %+v; want the note opened, the index kept, due a month after receipt", got)
	}
	raw, err := testenv.Env.AWS.DynamoDB().GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(f.table),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "T#acme#JOB"},
			"sk": &types.AttributeValueMemberS{Value: "SR#" + r.ID}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, attr := range []string{"bie", "bip", "ct"} {
		if _, ok := raw.Item[attr]; ok {
			t.Errorf("request item has %q: it would be found through a lead index", attr)
		}
	}
	if n, ok := raw.Item["note"].(*types.AttributeValueMemberB); !ok || string(n.Value) == r.Instruction.Note {
		t.Errorf("request item's note = %v; want it sealed", raw.Item["note"])
	}

	tests := []struct {
		name        string
		req         domain.SubjectRequest
		key         store.Idempotency
		wantCreated bool
		wantID      string
		wantErr     error
	}{
		{"retry with the same key", r, idem("sr-1"), false, r.ID, nil},
		{"same key, other request", newRequest("acme", domain.KindErasure, idx, received), store.Idempotency{Key: "sr-1", RequestHash: "other", TTL: time.Minute}, false, "", store.ErrIdempotencyConflict},
		{"other tenant's request", newRequest("globex", domain.KindAccess, idx, received), idem("sr-2"), false, "", store.ErrWrongTenant},
	}
	for _, tt := range tests {
		got, created, err := v.CreateSubjectRequest(ctx, f.a, tt.req, tt.key)
		if !errors.Is(err, tt.wantErr) || created != tt.wantCreated || (tt.wantID != "" && got.ID != tt.wantID) {
			t.Errorf("%s: CreateSubjectRequest() = %q, %v, %v; want %q, %v, %v", tt.name, got.ID, created, err, tt.wantID, tt.wantCreated, tt.wantErr)
		}
	}
	if _, err := f.st.Scoped("globex").SubjectRequest(ctx, nil, r.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("globex reads acme's request: %v; want ErrNotFound", err)
	}
	pending, err := f.st.PendingSubjectRequests(ctx)
	if err != nil || len(pending) != 1 || pending[0] != (store.RequestRef{Tenant: "acme", ID: r.ID}) {
		t.Errorf("PendingSubjectRequests() = %v, %v; want acme's one", pending, err)
	}
	if jobs, err := f.st.PendingCampaignDeletions(ctx); err != nil || len(jobs) != 0 {
		t.Errorf("PendingCampaignDeletions() = %v, %v; want no campaign job from a subject request", jobs, err)
	}
}

func TestSaveSubjectRequest_finishing(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	v := f.st.Scoped("acme")
	r := newRequest("acme", domain.KindErasure, store.IndexSubject(f.a, "jens@example.dk", "+4520123456"), time.Now())
	r, _, err := v.CreateSubjectRequest(ctx, f.a, r, store.Idempotency{})
	if err != nil {
		t.Fatal(err)
	}
	r.State = domain.StateRunning
	r.Found = domain.RequestFound{Leads: 3, BySource: map[string]int64{"form": 2, "mail": 1}, Campaigns: map[string]int64{"spring": 3}}
	if r, err = v.SaveSubjectRequest(ctx, r); err != nil || r.State != domain.StateRunning || r.Subject.Empty() {
		t.Fatalf("SaveSubjectRequest(running) = %+v, %v", r, err)
	}
	r.State, r.Erased = domain.StateDone, 3
	got, err := v.SaveSubjectRequest(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Subject.Empty() || got.Erased != 3 || got.Found.BySource["mail"] != 1 || got.Instruction.Note != "" {
		t.Errorf("SaveSubjectRequest(done) = %+v; want the subject's index dropped, counts kept, note only with a key", got)
	}
	if withNote, err := v.SubjectRequest(ctx, f.a, r.ID); err != nil || withNote.Instruction.Note == "" {
		t.Errorf("SubjectRequest(with key) note = %q, %v; want the note kept", withNote.Instruction.Note, err)
	}
	if pending, err := f.st.PendingSubjectRequests(ctx); err != nil || len(pending) != 0 {
		t.Errorf("PendingSubjectRequests() = %v, %v; want none after done", pending, err)
	}
	missing := r
	missing.ID = "nope"
	if _, err := v.SaveSubjectRequest(ctx, missing); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SaveSubjectRequest(unknown) = %v; want ErrNotFound", err)
	}
}

func TestSubjectRequests_filtersAndPages(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	v := f.st.Scoped("acme")
	base := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	idx := store.IndexSubject(f.a, "x@example.dk", "")
	var ids []string
	for i, kind := range []domain.RequestKind{domain.KindAccess, domain.KindErasure, domain.KindAccess, domain.KindExport, domain.KindAccess} {
		r := newRequest("acme", kind, idx, base.AddDate(0, 0, i*7))
		if _, _, err := v.CreateSubjectRequest(ctx, f.a, r, store.Idempotency{}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	if _, _, err := f.st.Scoped("globex").CreateSubjectRequest(ctx, f.b, newRequest("globex", domain.KindAccess, idx, base), store.Idempotency{}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		q    store.RequestQuery
		want []string
	}{
		{"all", store.RequestQuery{}, ids},
		{"kind", store.RequestQuery{Kind: domain.KindAccess}, []string{ids[0], ids[2], ids[4]}},
		{"due before", store.RequestQuery{DueBefore: domain.DueAfter(base.AddDate(0, 0, 8))}, ids[:2]},
		{"state", store.RequestQuery{State: domain.StateDone}, nil},
		{"kind and due", store.RequestQuery{Kind: domain.KindAccess, DueBefore: domain.DueAfter(base.AddDate(0, 0, 15))}, []string{ids[0], ids[2]}},
	}
	for _, tt := range tests {
		var got []string
		for cursor, pages := "", 0; ; pages++ {
			page, next, err := v.SubjectRequests(ctx, tt.q, 2, cursor)
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			for _, r := range page {
				got = append(got, r.ID)
				if r.Instruction.Note != "" {
					t.Errorf("%s: a listed request carries its note", tt.name)
				}
			}
			if len(page) > 2 || pages > 5 {
				t.Fatalf("%s: page of %d, %d pages", tt.name, len(page), pages)
			}
			if cursor = next; cursor == "" {
				break
			}
		}
		if len(got) != len(tt.want) {
			t.Errorf("%s: got %v; want %v", tt.name, got, tt.want)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("%s: got %v; want %v", tt.name, got, tt.want)
				break
			}
		}
	}
	if _, _, err := v.SubjectRequests(ctx, store.RequestQuery{}, 2, "bm90LWEtY3Vyc29y"); !errors.Is(err, store.ErrBadCursor) {
		t.Errorf("SubjectRequests(foreign cursor) = %v; want ErrBadCursor", err)
	}
}
