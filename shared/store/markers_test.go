package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"leadvault/shared/domain"
	"leadvault/shared/store"
)

// TestMarkSubject_newLeadsArriveRestricted: after a restriction or objection, a new lead of the subject
// (by e-mail or phone) is stored restricted — an objection also flagged — in the same one transaction; other
// subjects' leads and other tenants are untouched, and lifting ends it.
func TestMarkSubject_newLeadsArriveRestricted(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	v := f.st.Scoped("acme")
	now := time.Now().UTC()
	put := func(tenant string, p domain.Personal) domain.Lead {
		t.Helper()
		tk := f.a
		if tenant == "globex" {
			tk = f.b
		}
		l := newLead(tenant, p, now)
		if _, _, err := f.st.Scoped(tenant).PutLead(ctx, tk, l, store.Idempotency{}); err != nil {
			t.Fatal(err)
		}
		got, err := f.st.Scoped(tenant).Lead(ctx, tk, l.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if err := v.MarkSubject(ctx, store.IndexSubject(f.a, "jens@example.dk", ""), false, "req-1", now); err != nil {
		t.Fatal(err)
	}
	if err := v.MarkSubject(ctx, store.IndexSubject(f.a, "", "+4520123456"), true, "req-2", now); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name          string
		tenant        string
		p             domain.Personal
		restricted    bool
		objectionFlag bool
	}{
		{"restricted e-mail, other case", "acme", domain.Personal{Name: "J", Email: "Jens@example.dk"}, true, false},
		{"objected phone", "acme", domain.Personal{Name: "J", Phone: "+4520123456"}, true, true},
		{"both", "acme", domain.Personal{Email: "jens@example.dk", Phone: "+4520123456"}, true, true},
		{"someone else", "acme", domain.Personal{Email: "karen@example.dk"}, false, false},
		{"same person, other tenant", "globex", domain.Personal{Email: "jens@example.dk"}, false, false},
	}
	for _, tt := range tests {
		got := put(tt.tenant, tt.p)
		if got.Restricted != tt.restricted || slices.Contains(got.Flags, domain.FlagObjection) != tt.objectionFlag {
			t.Errorf("%s: Restricted = %v, flags %v; want %v, objection flag %v", tt.name, got.Restricted, got.Flags, tt.restricted, tt.objectionFlag)
		}
	}
	if r, o, err := v.SubjectMarks(ctx, store.IndexSubject(f.a, "jens@example.dk", "+4520123456")); err != nil || !r || !o {
		t.Errorf("SubjectMarks = %v, %v, %v; want restricted and objected", r, o, err)
	}
	if err := v.UnmarkSubject(ctx, store.IndexSubject(f.a, "jens@example.dk", "+4520123456")); err != nil {
		t.Fatal(err)
	}
	if got := put("acme", domain.Personal{Email: "jens@example.dk", Phone: "+4520123456"}); got.Restricted {
		t.Errorf("after lifting, a new lead is restricted")
	}
}

func TestRestrictLeads_setAndLift(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	v := f.st.Scoped("acme")
	l := newLead("acme", domain.Personal{Email: "jens@example.dk"}, time.Now().UTC())
	if _, _, err := v.PutLead(ctx, f.a, l, store.Idempotency{}); err != nil {
		t.Fatal(err)
	}
	if n, err := v.RestrictLeads(ctx, []string{l.ID, "gone"}, true, domain.FlagObjection); err != nil || n != 1 {
		t.Fatalf("RestrictLeads = %d, %v; want 1 (the gone one skipped)", n, err)
	}
	got, _ := v.Lead(ctx, f.a, l.ID)
	if !got.Restricted || !slices.Contains(got.Flags, domain.FlagObjection) || !slices.Contains(got.Flags, "redacted:cpr:message") {
		t.Errorf("restricted lead = %v %v; want restricted, objection flag added to its flags", got.Restricted, got.Flags)
	}
	if _, err := v.RestrictLeads(ctx, []string{l.ID}, false, domain.FlagObjection); err != nil {
		t.Fatal(err)
	}
	got, _ = v.Lead(ctx, f.a, l.ID)
	if got.Restricted || slices.Contains(got.Flags, domain.FlagObjection) {
		t.Errorf("lifted lead = %v %v; want unrestricted, flag gone", got.Restricted, got.Flags)
	}
}
