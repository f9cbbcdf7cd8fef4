package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"leadvault/infra/local/testenv"
	"leadvault/shared/access"
	"leadvault/shared/domain"
	"leadvault/shared/store"
	"leadvault/shared/vault"
)

// scopedCalls calls every method of a scoped store once, with arguments that name nothing of its own
// tenant's, for tests that care only whether each call is let through.
func scopedCalls(ctx context.Context, tk *vault.TenantKey, form domain.Form, grant access.Grant) map[string]func(v *store.Scoped) error {
	return map[string]func(v *store.Scoped) error{
		"Form":      func(v *store.Scoped) error { _, err := v.Form(ctx, "x"); return err },
		"Forms":     func(v *store.Scoped) error { _, _, err := v.Forms(ctx, 10, ""); return err },
		"PutForm":   func(v *store.Scoped) error { return v.PutForm(ctx, form) },
		"Campaign":  func(v *store.Scoped) error { _, err := v.Campaign(ctx, "x"); return err },
		"Campaigns": func(v *store.Scoped) error { _, _, err := v.Campaigns(ctx, 10, ""); return err },
		"PutCampaign": func(v *store.Scoped) error {
			return v.PutCampaign(ctx, domain.Campaign{ID: "fresh", Name: "Fresh"})
		},
		"RenameCampaign": func(v *store.Scoped) error { _, err := v.RenameCampaign(ctx, "x", "y"); return err },
		"Member":         func(v *store.Scoped) error { _, err := v.Member(ctx, "x"); return err },
		"Members":        func(v *store.Scoped) error { _, err := v.Members(ctx); return err },
		"PutMember": func(v *store.Scoped) error {
			return v.PutMember(ctx, domain.Member{UserID: "fresh", Email: "fresh@acme.dk", Role: access.Member})
		},
		"SetMemberRole":    func(v *store.Scoped) error { _, err := v.SetMemberRole(ctx, "x", access.Admin); return err },
		"RemoveMember":     func(v *store.Scoped) error { _, err := v.RemoveMember(ctx, "x"); return err },
		"Grants":           func(v *store.Scoped) error { _, err := v.Grants(ctx); return err },
		"PutGrant":         func(v *store.Scoped) error { return v.PutGrant(ctx, grant) },
		"RevokeGrant":      func(v *store.Scoped) error { return v.RevokeGrant(ctx, "x", time.Now()) },
		"ActiveGrant":      func(v *store.Scoped) error { _, err := v.ActiveGrant(ctx, "x"); return err },
		"CampaignDeletion": func(v *store.Scoped) error { _, err := v.CampaignDeletion(ctx, "x"); return err },
		"StartCampaignDeletion": func(v *store.Scoped) error {
			_, err := v.StartCampaignDeletion(ctx, "x", "job")
			return err
		},
		"DeleteLead":      func(v *store.Scoped) error { return v.DeleteLead(ctx, "x") },
		"Lead":            func(v *store.Scoped) error { _, err := v.Lead(ctx, tk, "x"); return err },
		"LeadsByCampaign": func(v *store.Scoped) error { _, _, err := v.LeadsByCampaign(ctx, tk, "x", store.Page{}); return err },
		"RectifyLead": func(v *store.Scoped) error {
			_, err := v.RectifyLead(ctx, tk, "x", domain.Personal{Name: "X"}, nil)
			return err
		},
		"PutLead": func(v *store.Scoped) error {
			_, _, err := v.PutLead(ctx, tk, domain.Lead{TenantID: v.Tenant(), ID: "x", FormID: form.ID}, store.Idempotency{})
			return err
		},
		"EarlierSubmission": func(v *store.Scoped) error {
			_, err := v.EarlierSubmission(ctx, store.Idempotency{Key: "x"})
			return err
		},
		"CountHit": func(v *store.Scoped) error { _, _, err := v.CountHit(ctx, "x"); return err },
		"PutNotification": func(v *store.Scoped) error {
			return v.PutNotification(ctx, domain.Notification{TenantID: v.Tenant(), LeadID: "x"})
		},
		"Notified":         func(v *store.Scoped) error { _, err := v.Notified(ctx, "x"); return err },
		"LeadIDsBySubject": func(v *store.Scoped) error { _, err := v.LeadIDsBySubject(ctx, tk, "x@example.dk", ""); return err },
		"DeleteCampaignStep": func(v *store.Scoped) error {
			_, err := v.DeleteCampaignStep(ctx, "x", 10)
			return err
		},
	}
}

func supportGrant(tenant, id string) access.Grant {
	now := time.Now().UTC().Truncate(time.Second)
	return access.Grant{ID: id, Tenant: tenant, Grantee: "support-1", GrantedBy: "admin-1", Scope: access.Read,
		Reason: "ticket 7", CreatedAt: now.Add(-time.Minute), ExpiresAt: now.Add(time.Hour)}
}

func TestScoped_noTenant(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	for _, tenant := range []string{"", "acme#L#x", "ACME"} {
		v := f.st.Scoped(tenant)
		if v.Tenant() != tenant {
			t.Errorf("Scoped(%q).Tenant() = %q", tenant, v.Tenant())
		}
		form := testenv.Form("acme", "contact")
		form.TenantID = tenant
		grant := supportGrant(tenant, "g1")
		for name, call := range scopedCalls(ctx, f.a, form, grant) {
			if err := call(v); !errors.Is(err, store.ErrWrongTenant) {
				t.Errorf("Scoped(%q).%s() = %v; want ErrWrongTenant", tenant, name, err)
			}
		}
	}
}

func TestScoped_wrongTenantArguments(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	v := f.st.Scoped("acme")
	tests := []struct {
		name string
		call func() error
	}{
		{"PutForm(globex's form)", func() error { return v.PutForm(ctx, testenv.Form("globex", "globex-contact")) }},
		{"PutGrant(globex's grant)", func() error { return v.PutGrant(ctx, supportGrant("globex", "g1")) }},
		{"Lead(globex's key)", func() error { _, err := v.Lead(ctx, f.b, "x"); return err }},
		{"Lead(no key)", func() error { _, err := v.Lead(ctx, nil, "x"); return err }},
		{"RectifyLead(globex's key)", func() error {
			_, err := v.RectifyLead(ctx, f.b, "x", domain.Personal{Name: "X"}, nil)
			return err
		}},
		{"LeadsByCampaign(globex's key)", func() error {
			_, _, err := v.LeadsByCampaign(ctx, f.b, "spring", store.Page{})
			return err
		}},
		{"PutLead(globex's key)", func() error {
			_, _, err := v.PutLead(ctx, f.b, domain.Lead{TenantID: "acme", ID: "x"}, store.Idempotency{})
			return err
		}},
		{"PutLead(globex's lead)", func() error {
			_, _, err := v.PutLead(ctx, f.a, domain.Lead{TenantID: "globex", ID: "x"}, store.Idempotency{})
			return err
		}},
		{"PutNotification(globex's lead)", func() error {
			return v.PutNotification(ctx, domain.Notification{TenantID: "globex", LeadID: "x"})
		}},
		{"LeadIDsBySubject(globex's key)", func() error {
			_, err := v.LeadIDsBySubject(ctx, f.b, "x@example.dk", "")
			return err
		}},
	}
	for _, tt := range tests {
		if err := tt.call(); !errors.Is(err, store.ErrWrongTenant) {
			t.Errorf("Scoped(acme).%s = %v; want ErrWrongTenant", tt.name, err)
		}
	}
	if _, err := f.st.Scoped("globex").Form(ctx, "globex-contact"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Form(globex/globex-contact) = %v; want ErrNotFound (nothing written)", err)
	}
	if gs, err := f.st.Scoped("globex").Grants(ctx); err != nil || len(gs) != 0 {
		t.Errorf("Grants(globex) = %v, %v; want none written", gs, err)
	}
}

func TestScoped_isolation(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	a, b := f.st.Scoped("acme"), f.st.Scoped("globex")

	// Each tenant gets the same kinds of things, through its own view.
	if err := a.PutForm(ctx, testenv.Form("acme", "acme-contact")); err != nil {
		t.Fatal(err)
	}
	if err := b.PutForm(ctx, testenv.Form("globex", "globex-contact")); err != nil {
		t.Fatal(err)
	}
	for _, v := range []*store.Scoped{a, b} {
		if err := v.PutCampaign(ctx, domain.Campaign{ID: "spring", Name: v.Tenant() + " spring"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.PutCampaign(ctx, domain.Campaign{ID: "globex-only", Name: "Theirs"}); err != nil {
		t.Fatal(err)
	}
	if err := a.PutMember(ctx, domain.Member{UserID: "u-a", Email: "a@acme.dk", Role: access.Admin}); err != nil {
		t.Fatal(err)
	}
	if err := b.PutMember(ctx, domain.Member{UserID: "u-b", Email: "b@globex.dk", Role: access.Admin}); err != nil {
		t.Fatal(err)
	}
	if err := b.PutMember(ctx, domain.Member{UserID: "u-b2", Email: "b2@globex.dk", Role: access.Admin}); err != nil {
		t.Fatal(err)
	}
	if err := b.PutGrant(ctx, supportGrant("globex", "g-b")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.StartCampaignDeletion(ctx, "globex-only", "job-b"); err != nil {
		t.Fatal(err)
	}
	bLead := putCampaignLead(t, f.st, f.b, "spring", "lead@globex.dk", time.Now())

	// Through acme's view none of globex's things can be read or changed.
	notFound := []struct {
		name string
		call func() error
	}{
		{"Form", func() error { _, err := a.Form(ctx, "globex-contact"); return err }},
		{"Campaign", func() error { _, err := a.Campaign(ctx, "globex-only"); return err }},
		{"RenameCampaign", func() error { _, err := a.RenameCampaign(ctx, "globex-only", "Mine"); return err }},
		{"Member", func() error { _, err := a.Member(ctx, "u-b"); return err }},
		{"SetMemberRole", func() error { _, err := a.SetMemberRole(ctx, "u-b", access.Member); return err }},
		{"RemoveMember", func() error { _, err := a.RemoveMember(ctx, "u-b2"); return err }},
		{"RevokeGrant", func() error { return a.RevokeGrant(ctx, "g-b", time.Now()) }},
		{"ActiveGrant", func() error { _, err := a.ActiveGrant(ctx, "support-1"); return err }},
		{"CampaignDeletion", func() error { _, err := a.CampaignDeletion(ctx, "globex-only"); return err }},
		{"Lead", func() error { _, err := a.Lead(ctx, f.a, bLead.ID); return err }},
		{"RectifyLead", func() error {
			_, err := a.RectifyLead(ctx, f.a, bLead.ID, domain.Personal{Name: "Mine", Email: "mine@acme.dk"}, nil)
			return err
		}},
		{"DeleteLead", func() error { return a.DeleteLead(ctx, bLead.ID) }},
	}
	for _, tt := range notFound {
		if err := tt.call(); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Scoped(acme).%s(globex's) = %v; want ErrNotFound", tt.name, err)
		}
	}
	forms, _, err := a.Forms(ctx, 10, "")
	if err != nil || len(forms) != 1 || forms[0].ID != "acme-contact" {
		t.Errorf("Scoped(acme).Forms() = %v, %v; want acme-contact only", forms, err)
	}
	camps, _, err := a.Campaigns(ctx, 10, "")
	if err != nil || len(camps) != 1 || camps[0].Name != "acme spring" {
		t.Errorf("Scoped(acme).Campaigns() = %+v, %v; want acme's spring only", camps, err)
	}
	members, err := a.Members(ctx)
	if err != nil || len(members) != 1 || members[0].UserID != "u-a" {
		t.Errorf("Scoped(acme).Members() = %+v, %v; want u-a only", members, err)
	}
	if grants, err := a.Grants(ctx); err != nil || len(grants) != 0 {
		t.Errorf("Scoped(acme).Grants() = %+v, %v; want none", grants, err)
	}
	if leads, _, err := a.LeadsByCampaign(ctx, f.a, "spring", store.Page{}); err != nil || len(leads) != 0 {
		t.Errorf("Scoped(acme).LeadsByCampaign(spring) = %d leads, %v; want none of globex's", len(leads), err)
	}
	// Its own leads it can rectify.
	aLead := putCampaignLead(t, f.st, f.a, "spring", "old@acme.dk", time.Now())
	if got, err := a.RectifyLead(ctx, f.a, aLead.ID, domain.Personal{Name: "New", Email: "new@acme.dk"}, nil); err != nil || got.Personal.Email != "new@acme.dk" {
		t.Errorf("Scoped(acme).RectifyLead(own lead) = %+v, %v; want rectified", got.Personal, err)
	}

	// Globex's things are untouched.
	if got, err := b.Campaign(ctx, "globex-only"); err != nil || got.Name != "Theirs" {
		t.Errorf("Scoped(globex).Campaign(globex-only) = %+v, %v; want unchanged", got, err)
	}
	if got, err := b.Member(ctx, "u-b"); err != nil || got.Role != access.Admin {
		t.Errorf("Scoped(globex).Member(u-b) = %+v, %v; want unchanged admin", got, err)
	}
	if _, err := b.Member(ctx, "u-b2"); err != nil {
		t.Errorf("Scoped(globex).Member(u-b2) = %v; want kept", err)
	}
	if g, err := b.ActiveGrant(ctx, "support-1"); err != nil || g.ID != "g-b" {
		t.Errorf("Scoped(globex).ActiveGrant(support-1) = %+v, %v; want g-b, not revoked", g, err)
	}
	if got, err := b.Lead(ctx, f.b, bLead.ID); err != nil || got.Personal.Email != "lead@globex.dk" {
		t.Errorf("Scoped(globex).Lead() = %+v, %v; want kept", got, err)
	}
	if job, err := b.CampaignDeletion(ctx, "globex-only"); err != nil || job.JobID != "job-b" {
		t.Errorf("Scoped(globex).CampaignDeletion() = %+v, %v; want job-b", job, err)
	}
	if err := b.DeleteLead(ctx, bLead.ID); err != nil {
		t.Errorf("Scoped(globex).DeleteLead() = %v; want nil", err)
	}
}
