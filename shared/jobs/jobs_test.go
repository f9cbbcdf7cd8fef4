package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"leadvault/infra/local/testenv"
	"leadvault/shared/domain"
	"leadvault/shared/intake"
	"leadvault/shared/jobs"
	"leadvault/shared/store"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

func fixture(t *testing.T, name string) json.RawMessage {
	t.Helper()
	b, err := os.ReadFile("../../events/jobs/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestHandle_fixtures runs the job of events/jobs/job-progress.json (tenant demo, campaign demo) from its
// stream record, then from the schedule's event, step by step.
func TestHandle_fixtures(t *testing.T) {
	ctx := context.Background()
	st := store.New(testenv.Env.AWS.DynamoDB(), testenv.Table(t))
	tk := testenv.Tenant(t, st, testenv.Vault(), "demo")
	if err := st.Scoped("demo").PutCampaign(ctx, domain.Campaign{ID: "demo", Name: "Demo", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		now := time.Now().UTC()
		l := domain.Lead{TenantID: "demo", ID: fmt.Sprintf("lead-%d", i), FormID: "demo-contact", CampaignID: "demo", Source: domain.SourceForm,
			CreatedAt: now, ExpiresAt: now.Add(time.Hour), Personal: domain.Personal{Email: fmt.Sprintf("p%d@example.dk", i)}}
		if _, _, err := st.Scoped(tk.Tenant()).PutLead(ctx, tk, l, store.Idempotency{Key: l.ID, RequestHash: "h", TTL: time.Hour}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.Scoped("demo").StartCampaignDeletion(ctx, "demo", "job-1"); err != nil {
		t.Fatal(err)
	}
	r := jobs.New(st, slog.New(slog.NewJSONHandler(io.Discard, nil)), 2)
	if err := r.Handle(ctx, fixture(t, "job-progress.json")); err != nil {
		t.Fatalf("Handle(job-progress.json) = %v", err)
	}
	if job, err := st.Scoped("demo").CampaignDeletion(ctx, "demo"); err != nil || job.Deleted != 2 || job.Done {
		t.Fatalf("after one stream step = %+v, %v; want 2 deleted, not done", job, err)
	}
	for range 5 {
		if err := r.Handle(ctx, fixture(t, "scheduled.json")); err != nil {
			t.Fatalf("Handle(scheduled.json) = %v", err)
		}
	}
	job, err := st.Scoped("demo").CampaignDeletion(ctx, "demo")
	if err != nil || job.Deleted != 5 || !job.Done {
		t.Errorf("after the schedule's steps = %+v, %v; want 5 deleted, done", job, err)
	}
	if pending, err := st.PendingCampaignDeletions(ctx); err != nil || len(pending) != 0 {
		t.Errorf("PendingCampaignDeletions() = %v, %v; want none", pending, err)
	}
	if err := r.Handle(ctx, fixture(t, "init-probe.json")); err != nil {
		t.Errorf("Handle(init-probe.json) = %v; want nil", err)
	}
	if err := r.Handle(ctx, json.RawMessage(`{"hello":"world"}`)); !errors.Is(err, jobs.ErrUnknownEvent) {
		t.Errorf("Handle(unknown event) = %v; want ErrUnknownEvent", err)
	}
}

func TestJobKey_cases(t *testing.T) {
	tests := []struct {
		pk, sk           string
		tenant, campaign string
		ok               bool
	}{
		{"T#demo#JOB", "DELCAMP#spring", "demo", "spring", true},
		{"T#demo#L#x", "LEAD", "", "", false},
		{"T##JOB", "DELCAMP#spring", "", "spring", false},
		{"JOBQ", "demo#DELCAMP#spring", "", "", false},
	}
	for _, tt := range tests {
		tenant, campaign, ok := jobs.JobKey(tt.pk, tt.sk)
		if ok != tt.ok || (ok && (tenant != tt.tenant || campaign != tt.campaign)) {
			t.Errorf("JobKey(%q, %q) = %q, %q, %t; want %q, %q, %t", tt.pk, tt.sk, tenant, campaign, ok, tt.tenant, tt.campaign, tt.ok)
		}
	}
}

// TestDeletionSettle_outlastsIntakeCache: a deletion cannot finish while a warm intake instance may still
// take submissions for a form disabled when the deletion started.
func TestDeletionSettle_outlastsIntakeCache(t *testing.T) {
	if jobs.DeletionSettle <= intake.ConfigTTL {
		t.Errorf("DeletionSettle = %s; want more than intake.ConfigTTL = %s", jobs.DeletionSettle, intake.ConfigTTL)
	}
}

// TestRunner_settles: a job that has found nothing left finishes only after the settle time; a runner
// whose invocation is about to time out leaves it to the schedule.
func TestRunner_settles(t *testing.T) {
	ctx := context.Background()
	base := store.New(testenv.Env.AWS.DynamoDB(), testenv.Table(t))
	testenv.Tenant(t, base, testenv.Vault(), "demo")
	if err := base.Scoped("demo").PutCampaign(ctx, domain.Campaign{ID: "c1", Name: "C1", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := base.Scoped("demo").StartCampaignDeletion(ctx, "c1", "job-1"); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	waiting := jobs.New(base.WithDeletionSettle(time.Hour), log, 0)
	short, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := waiting.HandleStream(short, events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{jobRecord("demo", "c1")}}); err != nil {
		t.Fatalf("HandleStream(settling job) = %v; want nil (the schedule finishes it)", err)
	}
	if job, _ := base.Scoped("demo").CampaignDeletion(ctx, "c1"); job.Done {
		t.Errorf("job done before its settle time: %+v", job)
	}
	later := jobs.New(base.WithDeletionSettle(time.Hour).WithClock(func() time.Time { return time.Now().Add(2 * time.Hour) }), log, 0)
	if job, err := later.RunToEnd(ctx, "demo", "c1"); err != nil || !job.Done {
		t.Errorf("RunToEnd(after the settle time) = %+v, %v; want done", job, err)
	}
}

func jobRecord(tenant, campaign string) events.DynamoDBEventRecord {
	return events.DynamoDBEventRecord{EventName: "MODIFY", Change: events.DynamoDBStreamRecord{Keys: map[string]events.DynamoDBAttributeValue{
		store.AttrPK: events.NewStringAttribute("T#" + tenant + "#JOB"), store.AttrSK: events.NewStringAttribute("DELCAMP#" + campaign),
	}}}
}
