package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"leadvault/shared/domain"
	"leadvault/shared/store"
)

func TestDeleteCampaign_resumable(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	base := time.Now()
	for i := range 230 {
		putCampaignLead(t, f.st, f.a, "spring", fmt.Sprintf("c%d@example.dk", i%40), base.Add(time.Duration(i)*time.Millisecond))
	}
	keep := putCampaignLead(t, f.st, f.a, "autumn", "keep@example.dk", base)
	other := putCampaignLead(t, f.st, f.b, "spring", "other@example.dk", base)

	if err := f.st.Scoped("acme").PutCampaign(ctx, domain.Campaign{ID: "spring", Name: "Spring"}); err != nil {
		t.Fatal(err)
	}
	job, err := f.st.Scoped("acme").StartCampaignDeletion(ctx, "spring", "job-1")
	if err != nil || job.JobID != "job-1" || job.Done {
		t.Fatalf("StartCampaignDeletion() = %+v, %v", job, err)
	}
	if again, err := f.st.Scoped("acme").StartCampaignDeletion(ctx, "spring", "job-2"); err != nil || again.JobID != "job-1" {
		t.Errorf("StartCampaignDeletion(again) = %+v, %v; want the running job-1", again, err)
	}
	steps := 0
	for !job.Done {
		if job, err = f.st.Scoped("acme").DeleteCampaignStep(ctx, "spring", 100); err != nil {
			t.Fatal(err)
		}
		if steps++; steps > 10 {
			t.Fatalf("deletion not done after %d steps: %+v", steps, job)
		}
	}
	if job.Deleted != 230 || steps != 3 {
		t.Errorf("job = %+v after %d steps; want 230 deleted in 3 steps of at most 100", job, steps)
	}
	if page, _, err := f.st.Scoped(f.a.Tenant()).LeadsByCampaign(ctx, f.a, "spring", store.Page{}); err != nil || len(page) != 0 {
		t.Errorf("campaign after deletion = %d leads, %v; want none", len(page), err)
	}
	if _, err := f.st.Scoped(f.a.Tenant()).Lead(ctx, f.a, keep.ID); err != nil {
		t.Errorf("lead of another campaign: %v; want kept", err)
	}
	if _, err := f.st.Scoped(f.b.Tenant()).Lead(ctx, f.b, other.ID); err != nil {
		t.Errorf("other tenant's lead of the same campaign name: %v; want kept", err)
	}
	if _, err := f.st.Scoped("globex").CampaignDeletion(ctx, "spring"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("CampaignDeletion(other tenant) = %v; want ErrNotFound", err)
	}
}
