package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"leadvault/infra/local/testenv"
	"leadvault/shared/domain"
	"leadvault/shared/store"
)

// TestSweepExpired_withinTheHour: leads that expired an hour ago are gone after one sweep — TTL not waiting —
// with their notification records and, with a subject's last lead, its key; live leads stay; the next run
// reads only the hours after its checkpoint; the proof of deletion counts them by tenant.
func TestSweepExpired_withinTheHour(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	now := time.Now().UTC()
	past := f.st.WithClock(func() time.Time { return now.Add(-3 * time.Hour) })
	put := func(st *store.Store, tenant, email string, expires time.Time) domain.Lead {
		t.Helper()
		tk := f.a
		if tenant == "globex" {
			tk = f.b
		}
		l := newLead(tenant, domain.Personal{Email: email}, now.Add(-3*time.Hour))
		l.ExpiresAt = expires
		if _, _, err := st.Scoped(tenant).PutLead(ctx, tk, l, store.Idempotency{}); err != nil {
			t.Fatal(err)
		}
		return l
	}
	gone := []domain.Lead{
		put(past, "acme", "old@example.dk", now.Add(-time.Hour)),
		put(past, "acme", "old2@example.dk", now.Add(-90*time.Minute)),
		put(past, "globex", "old@example.dk", now.Add(-time.Minute)),
	}
	live := []domain.Lead{
		put(f.st, "acme", "new@example.dk", now.Add(24*time.Hour)),
		put(f.st, "acme", "old2@example.dk", now.Add(30*24*time.Hour)), // the same person, a later lead
	}
	if err := f.st.Scoped("acme").PutNotification(ctx, domain.Notification{TenantID: "acme", LeadID: gone[0].ID, MessageID: "m",
		Recipients: []string{"s@acme.dk"}, SentAt: now.Add(-2 * time.Hour), ExpiresAt: gone[0].ExpiresAt}); err != nil {
		t.Fatal(err)
	}
	rep, err := f.st.SweepExpired(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Leads != 3 || rep.ByTenant["acme"] != 2 || rep.ByTenant["globex"] != 1 || rep.Keys != 2 {
		t.Errorf("SweepExpired() = %+v; want 3 leads (acme 2, globex 1) and the 2 keys whose last lead expired", rep)
	}
	for _, l := range gone {
		if n := len(itemsNaming(t, f.table, "#L#"+l.ID)); n != 0 {
			t.Errorf("expired lead %s left %d items (lead, notification record)", l.ID, n)
		}
	}
	for _, l := range live {
		tk := f.a
		if _, err := f.st.Scoped("acme").Lead(ctx, tk, l.ID); err != nil {
			t.Errorf("live lead %s = %v; want kept (its key too)", l.ID, err)
		}
	}
	if _, err := f.st.Scoped("acme").Lead(ctx, f.a, gone[0].ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("swept lead = %v; want ErrNotFound", err)
	}
	again, err := f.st.SweepExpired(ctx, now.Add(time.Minute))
	if err != nil || again.Leads != 0 || again.Hours > 3 || again.Queries > 3 {
		t.Errorf("second sweep = %+v, %v; want nothing to do, reading at most the hours still settling and the current one", again, err)
	}
}

// TestDeletionReport_byReason: deletions are counted per tenant and day by reason, and reported for a
// range of days.
func TestDeletionReport_byReason(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	v := f.st.Scoped("acme")
	day := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		reason string
		n      int
		at     time.Time
	}{{store.ReasonRetention, 5, day}, {store.ReasonRetention, 2, day.Add(time.Hour)}, {store.ReasonErasure, 3, day}, {store.ReasonCampaign, 7, day.AddDate(0, 0, 1)}} {
		if err := v.CountDeletions(ctx, c.reason, c.n, c.at); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.st.Scoped("globex").CountDeletions(ctx, store.ReasonRetention, 9, day); err != nil {
		t.Fatal(err)
	}
	days, err := v.DeletionReport(ctx, day, day.AddDate(0, 0, 1))
	if err != nil || len(days) != 2 {
		t.Fatalf("DeletionReport = %+v, %v; want two days", days, err)
	}
	if d := days[0]; d.Day != "2026-12-01" || d.ByReason[store.ReasonRetention] != 7 || d.ByReason[store.ReasonErasure] != 3 {
		t.Errorf("day 1 = %+v; want 7 by retention, 3 by erasure (globex's not counted)", d)
	}
	if d := days[1]; d.ByReason[store.ReasonCampaign] != 7 {
		t.Errorf("day 2 = %+v; want 7 by campaign", d)
	}
	if only, _ := v.DeletionReport(ctx, day.AddDate(0, 0, 1), day.AddDate(0, 0, 1)); len(only) != 1 {
		t.Errorf("one-day report = %+v; want one day", only)
	}
}

// TestRetentionChange_shortenAndLengthen: a form's changed retention applies to its stored leads through a
// job, in its current campaign and in one it fed earlier: shortening brings their expiry forward (the sweep
// then deletes those whose time is up), lengthening extends leads not yet expired, and their subject keys
// with them; expired and spam leads keep theirs.
func TestRetentionChange_shortenAndLengthen(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	v := f.st.Scoped("acme")
	now := time.Now().UTC()
	put := func(email string, age time.Duration, spam bool) domain.Lead {
		t.Helper()
		at := now.Add(-age)
		l := newLead("acme", domain.Personal{Email: email}, at)
		l.Spam = spam
		if spam {
			l.ExpiresAt = at.Add(7 * 24 * time.Hour)
		}
		if _, _, err := f.st.WithClock(func() time.Time { return at }).Scoped("acme").PutLead(ctx, f.a, l,
			store.Idempotency{Key: l.ID, RequestHash: "h", TTL: time.Hour}); err != nil {
			t.Fatal(err)
		}
		return l
	}
	day := 24 * time.Hour
	old := put("old@example.dk", 200*day, false)
	young := put("young@example.dk", 10*day, false)
	spam := put("spam@example.dk", day, true)
	// The form fed another campaign before spring: its leads there follow the change too.
	if err := v.PutCampaign(ctx, domain.Campaign{ID: "winter", Name: "Winter", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	winter := newLead("acme", domain.Personal{Email: "winter@example.dk"}, now.Add(-200*day))
	winter.CampaignID = "winter"
	if _, _, err := f.st.WithClock(func() time.Time { return winter.CreatedAt }).Scoped("acme").PutLead(ctx, f.a, winter, store.Idempotency{}); err != nil {
		t.Fatal(err)
	}
	run := func(days int) {
		t.Helper()
		if err := v.StartRetentionChange(ctx, domain.Form{ID: "contact", TenantID: "acme", CampaignID: "spring", RetentionDays: days}); err != nil {
			t.Fatal(err)
		}
		for i := 0; ; i++ {
			c, err := v.RetentionChangeStep(ctx, "contact", 2)
			if err != nil {
				t.Fatal(err)
			}
			if c.Done {
				break
			}
			if i > 10 {
				t.Fatal("retention change does not finish")
			}
		}
		if p, _ := f.st.PendingRetentionChanges(ctx); len(p) != 0 {
			t.Errorf("pending after done: %v", p)
		}
	}
	run(180)
	if _, err := f.st.SweepExpired(ctx, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Lead(ctx, f.a, old.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a lead past its shortened retention = %v; want deleted by the sweep", err)
	}
	if _, err := v.Lead(ctx, f.a, winter.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the form's lead in its earlier campaign = %v; want deleted by the sweep too", err)
	}
	got, err := v.Lead(ctx, f.a, young.ID)
	if err != nil || !got.ExpiresAt.Equal(young.CreatedAt.Add(180*day).Truncate(time.Second)) {
		t.Errorf("young lead = %v, %v; want kept, expiring 180 days after it came", got.ExpiresAt, err)
	}
	if got, err := v.Lead(ctx, f.a, spam.ID); err != nil || !got.ExpiresAt.Equal(spam.ExpiresAt.Truncate(time.Second)) {
		t.Errorf("spam lead = %v, %v; want its own 7 days kept", got.ExpiresAt, err)
	}
	run(730)
	got, err = v.Lead(ctx, f.a, young.ID)
	if err != nil || !got.ExpiresAt.Equal(young.CreatedAt.Add(730*day).Truncate(time.Second)) {
		t.Errorf("young lead after lengthening = %v, %v; want 730 days (its key extended, so it still opens)", got.ExpiresAt, err)
	}
	if _, err := f.st.WithClock(func() time.Time { return now.Add(400 * day) }).Scoped("acme").Lead(ctx, f.a, young.ID); err != nil {
		t.Errorf("young lead 400 days on = %v; want readable: its key lives as long as it does", err)
	}
}

// TestBackfillExpiryHours_oldItemsSwept: a lead and its key stored before expiry hours existed get theirs
// from the backfill, and the next sweep deletes them once expired; a second backfill changes nothing.
func TestBackfillExpiryHours_oldItemsSwept(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	now := time.Now().UTC()
	l := newLead("acme", domain.Personal{Email: "old@example.dk"}, now.Add(-48*time.Hour))
	l.ExpiresAt = now.Add(-2 * time.Hour)
	if _, _, err := f.st.WithClock(func() time.Time { return l.CreatedAt }).Scoped("acme").PutLead(ctx, f.a, l, store.Idempotency{}); err != nil {
		t.Fatal(err)
	}
	// As stored before expiry hours: no xh on the lead or its key.
	db := testenv.Env.AWS.DynamoDB()
	for _, k := range [][2]string{{"T#acme#L#" + l.ID, "LEAD"}, {"T#acme#S#" + storedSubject(t, f, l.ID), "KEY"}} {
		if _, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(f.table),
			Key:              map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: k[0]}, "sk": &types.AttributeValueMemberS{Value: k[1]}},
			UpdateExpression: aws.String("REMOVE xh")}); err != nil {
			t.Fatal(err)
		}
	}
	if rep, err := f.st.SweepExpired(ctx, now); err != nil || rep.Leads != 0 {
		t.Fatalf("sweep before the backfill = %+v, %v; want the old lead unseen", rep, err)
	}
	if n, err := f.st.BackfillExpiryHours(ctx); err != nil || n != 2 {
		t.Fatalf("BackfillExpiryHours() = %d, %v; want the lead and its key", n, err)
	}
	if n, err := f.st.BackfillExpiryHours(ctx); err != nil || n != 0 {
		t.Errorf("BackfillExpiryHours(again) = %d, %v; want nothing", n, err)
	}
	if _, err := f.st.Scoped("acme").Lead(ctx, f.a, l.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("expired lead read = %v; want hidden", err)
	}
	if n := len(itemsNaming(t, f.table, "#L#"+l.ID)); n == 0 {
		t.Fatal("the lead is already gone; the test needs it stored")
	}
	// The sweep's checkpoint is past the lead's expiry hour already; it was given the current one.
	if rep, err := f.st.SweepExpired(ctx, now.Add(time.Minute)); err != nil || rep.Leads != 1 || rep.Keys != 1 {
		t.Errorf("sweep after the backfill = %+v, %v; want the lead and its key", rep, err)
	}
	if n := len(itemsNaming(t, f.table, "#L#"+l.ID)); n != 0 {
		t.Errorf("after the backfill and a sweep the expired lead left %d items", n)
	}
}
