package store_test

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"leadvault/shared/domain"
	"leadvault/shared/store"
)

func TestRectifyLead(t *testing.T) {
	const oldEmail = "old@example.dk"
	tests := []struct {
		name string
		p    domain.Personal
		// sibling stores a second lead of the old subject, so the old key must stay.
		sibling     bool
		sameSubject bool
		flags       []string // the flags after rectification; nil keeps the lead's own
	}{
		{name: "name", p: domain.Personal{Name: "New Name", Email: oldEmail}, sameSubject: true},
		{name: "email", p: domain.Personal{Name: "Old", Email: "new@example.dk"}},
		{name: "email, old subject has another lead", p: domain.Personal{Name: "Old", Email: "new@example.dk"}, sibling: true},
		{name: "email removed, phone kept", p: domain.Personal{Name: "Old", Phone: "+4520123456"}},
		{name: "nothing identifying left", p: domain.Personal{Name: "Old", Message: "call me"}},
		{name: "phone needing a flag", p: domain.Personal{Name: "Old", Email: oldEmail, Phone: "+4512345678"}, sameSubject: true,
			flags: []string{domain.FlagPhoneUnverified}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := setup(t)
			ctx := context.Background()
			l := putCampaignLead(t, f.st, f.a, "spring", oldEmail, time.Now().UTC().Truncate(time.Millisecond))
			var sibling domain.Lead
			if tt.sibling {
				sibling = putCampaignLead(t, f.st, f.a, "autumn", oldEmail, time.Now())
			}
			oldSubject := storedSubject(t, f, l.ID)
			before := rawItem(t, f.table, "T#acme#L#"+l.ID, "LEAD")

			wantFlags := l.Flags
			if tt.flags != nil {
				wantFlags = tt.flags
			}
			got, err := f.st.Scoped(f.a.Tenant()).RectifyLead(ctx, f.a, l.ID, tt.p, wantFlags)
			if err != nil {
				t.Fatalf("RectifyLead(%q) = %v; want nil", l.ID, err)
			}
			if !reflect.DeepEqual(got.Personal, tt.p) || got.CampaignID != "spring" || !got.CreatedAt.Equal(l.CreatedAt) ||
				got.ExpiresAt.Unix() != l.ExpiresAt.Unix() || got.FormID != l.FormID || !slices.Equal(got.Flags, wantFlags) {
				t.Errorf("RectifyLead(%q) = %+v; want the lead with the new personal data, the rest kept", l.ID, got)
			}
			stored, err := f.st.Scoped(f.a.Tenant()).Lead(ctx, f.a, l.ID)
			if err != nil || !reflect.DeepEqual(stored, got) {
				t.Errorf("Lead(%q) after rectification = %+v, %v; want %+v", l.ID, stored, err, got)
			}
			if (got.SubjectID == oldSubject) != tt.sameSubject {
				t.Errorf("subject %q → %q; want same subject %v", oldSubject, got.SubjectID, tt.sameSubject)
			}
			if want := store.SubjectID(f.a, tt.p, l.ID); got.SubjectID != want {
				t.Errorf("SubjectID = %q; want %q", got.SubjectID, want)
			}

			// Nothing of the old data is left in the item.
			after := rawItem(t, f.table, "T#acme#L#"+l.ID, "LEAD")
			oldPD := before["pd"].(*types.AttributeValueMemberB).Value
			if bytes.Equal(after["pd"].(*types.AttributeValueMemberB).Value, oldPD) {
				t.Errorf("stored item still holds the old ciphertext")
			}
			if tt.p.Email != oldEmail {
				oldBI := before["bie"].(*types.AttributeValueMemberS).Value
				if bie, ok := after["bie"].(*types.AttributeValueMemberS); ok && bie.Value == oldBI {
					t.Errorf("stored item still holds the old e-mail's blind index")
				}
			}
			if _, ok := after["bip"]; ok != (tt.p.Phone != "") {
				t.Errorf("phone blind index present = %v; want %v", ok, tt.p.Phone != "")
			}

			// The lead is found under its new data, not its old.
			if tt.p.Email != "" || tt.p.Phone != "" {
				ids, err := f.st.Scoped(f.a.Tenant()).LeadIDsBySubject(ctx, f.a, tt.p.Email, tt.p.Phone)
				if err != nil || !slices.Contains(ids, l.ID) {
					t.Errorf("LeadIDsBySubject(new data) = %v, %v; want it to contain %s", ids, err, l.ID)
				}
			}
			if tt.p.Email != oldEmail {
				ids, err := f.st.Scoped(f.a.Tenant()).LeadIDsBySubject(ctx, f.a, oldEmail, "")
				if err != nil || slices.Contains(ids, l.ID) {
					t.Errorf("LeadIDsBySubject(%s) = %v, %v; want it without %s", oldEmail, ids, err, l.ID)
				}
			}

			// Keys: the new subject's counts the lead; the old one goes with its last lead.
			newRefs, oldRefs := refs(subjectKey(t, f, got.SubjectID)), refs(subjectKey(t, f, oldSubject))
			switch {
			case tt.sameSubject:
				if newRefs != 1 {
					t.Errorf("key refs = %d; want 1", newRefs)
				}
			case tt.sibling:
				if newRefs != 1 || oldRefs != 1 {
					t.Errorf("key refs new, old = %d, %d; want 1, 1", newRefs, oldRefs)
				}
				if _, err := f.st.Scoped(f.a.Tenant()).Lead(ctx, f.a, sibling.ID); err != nil {
					t.Errorf("Lead(other lead of the old subject) = %v; want readable", err)
				}
			default:
				if newRefs != 1 || oldRefs != -1 {
					t.Errorf("key refs new, old = %d, %d; want 1 and the old key shredded", newRefs, oldRefs)
				}
			}
		})
	}
}

func TestRectifyLead_existingSubject(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	l := putCampaignLead(t, f.st, f.a, "spring", "typo@example.dk", time.Now())
	right := putCampaignLead(t, f.st, f.a, "autumn", "right@example.dk", time.Now())
	got, err := f.st.Scoped(f.a.Tenant()).RectifyLead(ctx, f.a, l.ID, domain.Personal{Name: "Fixed", Email: "right@example.dk"}, nil)
	if err != nil {
		t.Fatalf("RectifyLead(%q) = %v; want nil", l.ID, err)
	}
	if want := storedSubject(t, f, right.ID); got.SubjectID != want {
		t.Errorf("SubjectID = %q; want the existing subject %q", got.SubjectID, want)
	}
	if n := refs(subjectKey(t, f, got.SubjectID)); n != 2 {
		t.Errorf("refs of the existing subject's key = %d; want 2", n)
	}
	for _, id := range []string{l.ID, right.ID} {
		if _, err := f.st.Scoped(f.a.Tenant()).Lead(ctx, f.a, id); err != nil {
			t.Errorf("Lead(%q) = %v; want readable", id, err)
		}
	}
}

func TestRectifyLead_notFound(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	l := putCampaignLead(t, f.st, f.a, "spring", "gone@example.dk", time.Now())
	shredded := putCampaignLead(t, f.st, f.a, "spring", "shredded@example.dk", time.Now())
	deleteItem(t, f.table, "T#acme#S#"+storedSubject(t, f, shredded.ID), "KEY")
	later := f.st.WithClock(func() time.Time { return l.ExpiresAt.Add(time.Hour) })
	p := domain.Personal{Name: "X", Email: "x@example.dk"}
	tests := []struct {
		name string
		st   *store.Store
		id   string
	}{
		{"unknown", f.st, "no-such-lead"},
		{"expired", later, l.ID},
		{"shredded", f.st, shredded.ID},
	}
	for _, tt := range tests {
		if _, err := tt.st.Scoped(f.a.Tenant()).RectifyLead(ctx, f.a, tt.id, p, nil); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("RectifyLead(%s %q) = %v; want ErrNotFound", tt.name, tt.id, err)
		}
	}
	if _, err := f.st.Scoped(f.b.Tenant()).RectifyLead(ctx, f.b, l.ID, p, nil); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RectifyLead(other tenant's key, %q) = %v; want ErrNotFound", l.ID, err)
	}
}
