package store_test

import (
	"context"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/uuid"

	"leadvault/infra/local/testenv"
	"leadvault/shared/domain"
	"leadvault/shared/store"
	"leadvault/shared/vault"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

type fixture struct {
	st    *store.Store
	v     *vault.Vault
	table string
	a, b  *vault.TenantKey
}

func setup(t *testing.T) fixture {
	t.Helper()
	table := testenv.Table(t)
	st := store.New(testenv.Env.AWS.DynamoDB(), table)
	v := testenv.Vault()
	return fixture{st: st, v: v, table: table, a: testenv.Tenant(t, st, v, "acme"), b: testenv.Tenant(t, st, v, "globex")}
}

func newLead(tenant string, p domain.Personal, created time.Time) domain.Lead {
	return domain.Lead{
		TenantID: tenant, ID: uuid.Must(uuid.NewV7()).String(), FormID: "contact", CampaignID: "spring",
		Source: domain.SourceForm, CreatedAt: created, ExpiresAt: created.Add(365 * 24 * time.Hour), Personal: p,
		Consent: &domain.ConsentRecord{Given: true, Version: "v1", GivenAt: created, Source: "form:contact"},
		Flags:   []string{"redacted:cpr:message"}, Meta: map[string]string{"origin": "https://www.acme.dk"},
	}
}

func idem(key string) store.Idempotency {
	return store.Idempotency{Key: key, RequestHash: "h-" + key, TTL: 10 * time.Minute}
}

func TestPutLead_roundTrip(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	lead := newLead("acme", domain.Personal{Name: "Jens", Email: "jens@example.dk", Phone: "+4520123456", Message: "Hej",
		Custom: map[string]string{"budget": "10k"}}, now)
	id, created, err := f.st.Scoped(f.a.Tenant()).PutLead(ctx, f.a, lead, idem("k1"))
	if err != nil || !created || id != lead.ID {
		t.Fatalf("PutLead() = %q, %v, %v; want %q, true, nil", id, created, err, lead.ID)
	}
	got, err := f.st.Scoped(f.a.Tenant()).Lead(ctx, f.a, id)
	if err != nil {
		t.Fatalf("Lead(%q) error = %v", id, err)
	}
	lead.SubjectID = got.SubjectID
	lead.ExpiresAt = lead.ExpiresAt.Truncate(time.Second)
	if !reflect.DeepEqual(got, lead) {
		t.Errorf("Lead(%q) =\n%+v\nwant\n%+v", id, got, lead)
	}
}

func TestPutLead_personalDataEncryptedAtRest(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	lead := newLead("acme", domain.Personal{Name: "Hemmelig Hansen", Email: "hemmelig@example.dk", Message: "top secret"}, time.Now())
	if _, _, err := f.st.Scoped(f.a.Tenant()).PutLead(ctx, f.a, lead, idem("k1")); err != nil {
		t.Fatal(err)
	}
	out, err := testenv.Env.AWS.DynamoDB().GetItem(ctx, &dynamodb.GetItemInput{TableName: &f.table,
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "T#acme#L#" + lead.ID}, "sk": &types.AttributeValueMemberS{Value: "LEAD"}}})
	if err != nil {
		t.Fatal(err)
	}
	raw := itemText(out.Item)
	for _, secret := range []string{"Hemmelig", "hemmelig@example.dk", "top secret", "example.dk"} {
		if strings.Contains(raw, secret) {
			t.Errorf("stored item contains %q in clear text", secret)
		}
	}
}

func itemText(item map[string]types.AttributeValue) string {
	var s string
	for k, v := range item {
		switch v := v.(type) {
		case *types.AttributeValueMemberS:
			s += k + "=" + v.Value + ";"
		case *types.AttributeValueMemberB:
			s += k + "=" + string(v.Value) + ";"
		case *types.AttributeValueMemberM:
			s += k + "={" + itemText(v.Value) + "};"
		case *types.AttributeValueMemberSS:
			for _, x := range v.Value {
				s += k + "=" + x + ";"
			}
		}
	}
	return s
}

func TestPutLead_idempotency(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	first := newLead("acme", domain.Personal{Name: "A", Email: "a@example.dk"}, time.Now())
	id, _, err := f.st.Scoped(f.a.Tenant()).PutLead(ctx, f.a, first, idem("same"))
	if err != nil {
		t.Fatal(err)
	}
	retry := newLead("acme", first.Personal, time.Now())
	got, created, err := f.st.Scoped(f.a.Tenant()).PutLead(ctx, f.a, retry, idem("same"))
	if err != nil || created || got != id {
		t.Errorf("PutLead(retry) = %q, %v, %v; want %q, false, nil", got, created, err, id)
	}
	if _, err := f.st.Scoped(f.a.Tenant()).Lead(ctx, f.a, retry.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Lead(retry's own ID) error = %v; want ErrNotFound (nothing stored twice)", err)
	}
	other := store.Idempotency{Key: "same", RequestHash: "different body", TTL: time.Minute}
	if _, _, err := f.st.Scoped(f.a.Tenant()).PutLead(ctx, f.a, newLead("acme", first.Personal, time.Now()), other); !errors.Is(err, store.ErrIdempotencyConflict) {
		t.Errorf("PutLead(same key, other body) error = %v; want ErrIdempotencyConflict", err)
	}
	// The same key in another tenant is another key.
	if _, created, err := f.st.Scoped(f.b.Tenant()).PutLead(ctx, f.b, newLead("globex", first.Personal, time.Now()), idem("same")); err != nil || !created {
		t.Errorf("PutLead(other tenant, same key) = created %v, %v; want created", created, err)
	}
	// After the window the key is free again, even before TTL deletes the record.
	later := f.st.WithClock(func() time.Time { return time.Now().Add(11 * time.Minute) })
	if _, created, err := later.Scoped(f.a.Tenant()).PutLead(ctx, f.a, newLead("acme", first.Personal, time.Now()), idem("same")); err != nil || !created {
		t.Errorf("PutLead(after window) = created %v, %v; want created", created, err)
	}
}

func TestPutLead_subjectKeys(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	now := time.Now()
	p := domain.Personal{Name: "Returning", Email: "back@example.dk"}
	short := newLead("acme", p, now)
	short.ExpiresAt = now.Add(24 * time.Hour)
	if _, _, err := f.st.Scoped(f.a.Tenant()).PutLead(ctx, f.a, short, idem("1")); err != nil {
		t.Fatal(err)
	}
	long := newLead("acme", p, now)
	long.ExpiresAt = now.Add(400 * 24 * time.Hour)
	if _, _, err := f.st.Scoped(f.a.Tenant()).PutLead(ctx, f.a, long, idem("2")); err != nil {
		t.Fatal(err)
	}
	mid := newLead("acme", p, now)
	mid.ExpiresAt = now.Add(30 * 24 * time.Hour)
	if _, _, err := f.st.Scoped(f.a.Tenant()).PutLead(ctx, f.a, mid, idem("3")); err != nil {
		t.Fatal(err)
	}
	gotShort, err := f.st.Scoped(f.a.Tenant()).Lead(ctx, f.a, short.ID)
	if err != nil {
		t.Fatal(err)
	}
	gotLong, err := f.st.Scoped(f.a.Tenant()).Lead(ctx, f.a, long.ID)
	if err != nil {
		t.Fatal(err)
	}
	if gotShort.SubjectID != gotLong.SubjectID || gotShort.SubjectID == "" {
		t.Errorf("SubjectIDs = %q, %q; want one subject for one e-mail", gotShort.SubjectID, gotLong.SubjectID)
	}
	// The subject key lives as long as the longest-lived lead: reading the long lead after the short one
	// expired still works.
	after := f.st.WithClock(func() time.Time { return now.Add(100 * 24 * time.Hour) })
	if _, err := after.Scoped(f.a.Tenant()).Lead(ctx, f.a, long.ID); err != nil {
		t.Errorf("Lead(long) after 100 days error = %v; want nil", err)
	}
	if _, err := after.Scoped(f.a.Tenant()).Lead(ctx, f.a, short.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Lead(short) after 100 days error = %v; want ErrNotFound", err)
	}
}

func TestLead_expiredNeverReturned(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	lead := newLead("acme", domain.Personal{Name: "A", Email: "a@example.dk"}, time.Now())
	lead.ExpiresAt = time.Now().Add(time.Hour)
	if _, _, err := f.st.Scoped(f.a.Tenant()).PutLead(ctx, f.a, lead, idem("x")); err != nil {
		t.Fatal(err)
	}
	// DynamoDB Local never runs TTL; the item is still there, and reads must hide it.
	later := f.st.WithClock(func() time.Time { return time.Now().Add(2 * time.Hour) })
	if _, err := later.Scoped(f.a.Tenant()).Lead(ctx, f.a, lead.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Lead(expired) error = %v; want ErrNotFound", err)
	}
}

func TestLead_tenantIsolation(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	lead := newLead("acme", domain.Personal{Name: "A", Email: "a@example.dk"}, time.Now())
	if _, _, err := f.st.Scoped(f.a.Tenant()).PutLead(ctx, f.a, lead, idem("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.Scoped(f.b.Tenant()).Lead(ctx, f.b, lead.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Lead(other tenant's key, %q) error = %v; want ErrNotFound", lead.ID, err)
	}
	if _, _, err := f.st.Scoped(f.b.Tenant()).PutLead(ctx, f.b, lead, idem("y")); err == nil {
		t.Errorf("PutLead(tenant B's key, tenant A's lead) = nil; want an error")
	}
}

func TestLead_cryptoShredding(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	p := domain.Personal{Name: "Forget Me", Email: "forget@example.dk"}
	l1, l2 := newLead("acme", p, time.Now()), newLead("acme", p, time.Now())
	keep := newLead("acme", domain.Personal{Name: "Keep", Email: "keep@example.dk"}, time.Now())
	for i, l := range []domain.Lead{l1, l2, keep} {
		if _, _, err := f.st.Scoped(f.a.Tenant()).PutLead(ctx, f.a, l, idem(string(rune('a'+i)))); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := f.st.Scoped(f.a.Tenant()).Lead(ctx, f.a, l1.ID)
	// Destroy the one subject key: both of that subject's leads become unreadable, nobody else's.
	_, err := testenv.Env.AWS.DynamoDB().DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &f.table,
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "T#acme#S#" + got.SubjectID}, "sk": &types.AttributeValueMemberS{Value: "KEY"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []domain.Lead{l1, l2} {
		if _, err := f.st.Scoped(f.a.Tenant()).Lead(ctx, f.a, l.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Lead(%s) after shredding error = %v; want ErrNotFound", l.ID, err)
		}
	}
	if _, err := f.st.Scoped(f.a.Tenant()).Lead(ctx, f.a, keep.ID); err != nil {
		t.Errorf("Lead(other subject) after shredding error = %v; want nil", err)
	}
}

func TestLeadIDsBySubject(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	base := time.Now()
	byEmail := newLead("acme", domain.Personal{Name: "A", Email: "anna@example.dk"}, base)
	byPhone := newLead("acme", domain.Personal{Name: "A", Phone: "+4520123456"}, base.Add(time.Second))
	both := newLead("acme", domain.Personal{Name: "A", Email: "anna@example.dk", Phone: "+4520123456"}, base.Add(2*time.Second))
	other := newLead("acme", domain.Personal{Name: "B", Email: "bo@example.dk"}, base)
	otherTenant := newLead("globex", domain.Personal{Name: "A", Email: "anna@example.dk"}, base)
	for i, l := range []domain.Lead{byEmail, byPhone, both, other} {
		if _, _, err := f.st.Scoped(f.a.Tenant()).PutLead(ctx, f.a, l, idem(string(rune('a'+i)))); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := f.st.Scoped(f.b.Tenant()).PutLead(ctx, f.b, otherTenant, idem("z")); err != nil {
		t.Fatal(err)
	}
	got, err := f.st.Scoped(f.a.Tenant()).LeadIDsBySubject(ctx, f.a, "anna@example.dk", "+4520123456")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{byEmail.ID, byPhone.ID, both.ID}; !reflect.DeepEqual(got, want) {
		t.Errorf("LeadIDsBySubject() = %v; want %v", got, want)
	}
}

func TestForms(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	form := testenv.Form("acme", "contact")
	if err := f.st.Scoped(form.TenantID).PutForm(ctx, form); err != nil {
		t.Fatalf("PutForm() error = %v", err)
	}
	got, err := f.st.FormByID(ctx, "contact")
	if err != nil || !reflect.DeepEqual(got, form) {
		t.Errorf("FormByID(%q) = %+v, %v; want %+v", "contact", got, err, form)
	}
	form.Recipients = []string{"new@acme.dk"}
	if err := f.st.Scoped(form.TenantID).PutForm(ctx, form); err != nil {
		t.Errorf("PutForm(update) error = %v; want nil", err)
	}
	if err := f.st.Scoped("globex").PutForm(ctx, testenv.Form("globex", "contact")); !errors.Is(err, store.ErrExists) {
		t.Errorf("PutForm(other tenant, same ID) error = %v; want ErrExists", err)
	}
	if err := f.st.Scoped("nobody").PutForm(ctx, testenv.Form("nobody", "orphan")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("PutForm(unknown tenant) error = %v; want ErrNotFound", err)
	}
	if _, err := f.st.FormByID(ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("FormByID(missing) error = %v; want ErrNotFound", err)
	}
	bad := testenv.Form("acme", "bad")
	bad.FreeTextPolicy = "ignore"
	if err := f.st.Scoped(bad.TenantID).PutForm(ctx, bad); !errors.Is(err, domain.ErrInvalidConfig) {
		t.Errorf("PutForm(invalid) error = %v; want ErrInvalidConfig", err)
	}
}

func TestCountHit(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	fixed := time.Date(2026, 11, 23, 12, 0, 30, 0, time.UTC)
	st := f.st.WithClock(func() time.Time { return fixed })
	for want := int64(1); want <= 3; want++ {
		n, end, err := st.Scoped("acme").CountHit(ctx, "F#contact")
		if err != nil || n != want || !end.Equal(fixed.Truncate(time.Minute).Add(time.Minute)) {
			t.Errorf("CountHit() = %d, %v, %v; want %d, window end 12:01", n, end, err, want)
		}
	}
	next := f.st.WithClock(func() time.Time { return fixed.Add(time.Minute) })
	if n, _, err := next.Scoped("acme").CountHit(ctx, "F#contact"); err != nil || n != 1 {
		t.Errorf("CountHit(next window) = %d, %v; want 1", n, err)
	}
	if n, _, err := st.Scoped("globex").CountHit(ctx, "F#contact"); err != nil || n != 1 {
		t.Errorf("CountHit(other tenant) = %d, %v; want 1", n, err)
	}
}

func TestNotifications(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	n := domain.Notification{TenantID: "acme", LeadID: "l1", MessageID: "m1", Recipients: []string{"sales@acme.dk"},
		SentAt: time.Now().UTC().Truncate(time.Millisecond), ExpiresAt: time.Now().Add(time.Hour).UTC().Truncate(time.Second)}
	if _, err := f.st.Scoped("acme").Notified(ctx, "l1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Notified(before) error = %v; want ErrNotFound", err)
	}
	if err := f.st.Scoped(n.TenantID).PutNotification(ctx, n); err != nil {
		t.Fatal(err)
	}
	if err := f.st.Scoped(n.TenantID).PutNotification(ctx, n); !errors.Is(err, store.ErrExists) {
		t.Errorf("PutNotification(twice) error = %v; want ErrExists", err)
	}
	got, err := f.st.Scoped("acme").Notified(ctx, "l1")
	if err != nil || !reflect.DeepEqual(got, n) {
		t.Errorf("Notified() = %+v, %v; want %+v", got, err, n)
	}
}

func TestParseLeadKey(t *testing.T) {
	tests := []struct {
		pk, sk       string
		tenant, lead string
		ok           bool
	}{
		{"T#acme#L#0193", "LEAD", "acme", "0193", true},
		{"T#acme#L#0193", "NOTIFIED", "", "", false},
		{"T#acme#S#e.x", "LEAD", "", "", false},
		{"FORM#x", "LEAD", "", "", false},
		{"T##L#x", "LEAD", "", "", false},
	}
	for _, tt := range tests {
		tenant, lead, ok := store.ParseLeadKey(tt.pk, tt.sk)
		if tenant != tt.tenant || lead != tt.lead || ok != tt.ok {
			t.Errorf("ParseLeadKey(%q, %q) = %q, %q, %v; want %q, %q, %v", tt.pk, tt.sk, tenant, lead, ok, tt.tenant, tt.lead, tt.ok)
		}
	}
}

func TestForms_inboundAlias(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	form := testenv.Form("acme", "contact")
	form.InboundAlias = "sales"
	if err := f.st.Scoped(form.TenantID).PutForm(ctx, form); err != nil {
		t.Fatal(err)
	}
	if got, err := f.st.FormByAlias(ctx, "sales"); err != nil || got.ID != "contact" || got.TenantID != "acme" {
		t.Errorf("FormByAlias(sales) = %s/%s, %v; want acme/contact", got.TenantID, got.ID, err)
	}
	other := testenv.Form("globex", "globex-contact")
	other.InboundAlias = "sales"
	if err := f.st.Scoped(other.TenantID).PutForm(ctx, other); !errors.Is(err, store.ErrExists) {
		t.Errorf("PutForm(other tenant, same alias) error = %v; want ErrExists", err)
	}
	// Renaming the alias releases the old one, atomically.
	form.InboundAlias = "enquiries"
	if err := f.st.Scoped(form.TenantID).PutForm(ctx, form); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.FormByAlias(ctx, "sales"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("FormByAlias(released alias) error = %v; want ErrNotFound", err)
	}
	if err := f.st.Scoped(other.TenantID).PutForm(ctx, other); err != nil {
		t.Errorf("PutForm(other tenant, released alias) error = %v; want nil", err)
	}
	if got, err := f.st.FormByAlias(ctx, "enquiries"); err != nil || got.ID != "contact" {
		t.Errorf("FormByAlias(enquiries) = %s, %v; want contact", got.ID, err)
	}
}
