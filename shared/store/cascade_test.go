package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
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
	"leadvault/shared/vault"
)

func putCampaign(t testing.TB, st *store.Store, tenant, id string) {
	t.Helper()
	if err := st.Scoped(tenant).PutCampaign(context.Background(), domain.Campaign{ID: id, Name: "Campaign " + id}); err != nil {
		t.Fatal(err)
	}
}

// runDeletion runs DeleteCampaignStep with the given max until the job is done and returns the job and
// the number of steps it took.
func runDeletion(t testing.TB, st *store.Store, tenant, campaign string, max int) (domain.CampaignDeletion, int) {
	t.Helper()
	for steps := 1; ; steps++ {
		job, err := st.Scoped(tenant).DeleteCampaignStep(context.Background(), campaign, max)
		if err != nil {
			t.Fatalf("DeleteCampaignStep(%s/%s, %d) = %v; want nil", tenant, campaign, max, err)
		}
		if job.Done {
			return job, steps
		}
		if steps > 100_000 {
			t.Fatalf("deletion not done after %d steps: %+v", steps, job)
		}
	}
}

func TestStartCampaignDeletion(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	putCampaign(t, f.st, "acme", "spring")
	tests := []struct {
		name, tenant, campaign, job string
		wantJob                     string
		wantErr                     error
	}{
		{"new", "acme", "spring", "job-1", "job-1", nil},
		{"retry", "acme", "spring", "job-2", "job-1", nil},
		{"unknown campaign", "acme", "winter", "job-3", "", store.ErrNotFound},
		{"other tenant's campaign", "globex", "spring", "job-4", "", store.ErrNotFound},
	}
	for _, tt := range tests {
		got, err := f.st.Scoped(tt.tenant).StartCampaignDeletion(ctx, tt.campaign, tt.job)
		if got.JobID != tt.wantJob || !errors.Is(err, tt.wantErr) || got.Done {
			t.Errorf("StartCampaignDeletion(%s: %s/%s, %s) = %+v, %v; want job %q, %v", tt.name, tt.tenant, tt.campaign, tt.job, got, err, tt.wantJob, tt.wantErr)
		}
	}
	c, err := f.st.Scoped("acme").Campaign(ctx, "spring")
	if err != nil || !c.Deleting || c.DeletionJob != "job-1" {
		t.Errorf("Campaign(spring) = %+v, %v; want deleting by job-1", c, err)
	}
	pending, err := f.st.PendingCampaignDeletions(ctx)
	if err != nil || len(pending) != 1 || pending[0].Tenant != "acme" || pending[0].Campaign != "spring" || pending[0].JobID != "job-1" {
		t.Errorf("PendingCampaignDeletions() = %+v, %v; want acme/spring job-1", pending, err)
	}
	if _, err := f.st.Scoped("acme").DeleteCampaignStep(ctx, "winter", 10); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteCampaignStep(no job) = %v; want ErrNotFound", err)
	}
}

func TestDeleteCampaign_cascade(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	base := time.Now()
	putCampaign(t, f.st, "acme", "spring")
	putCampaign(t, f.st, "acme", "autumn")
	// Subjects only in spring (one or two leads each), and one that also has a lead in autumn.
	var spring []domain.Lead
	for i := range 7 {
		spring = append(spring, putCampaignLead(t, f.st, f.a, "spring", fmt.Sprintf("only%d@example.dk", i%4), base.Add(time.Duration(i)*time.Millisecond)))
	}
	spring = append(spring, putCampaignLead(t, f.st, f.a, "spring", "both@example.dk", base))
	kept := putCampaignLead(t, f.st, f.a, "autumn", "both@example.dk", base)
	other := putCampaignLead(t, f.st, f.b, "spring", "only0@example.dk", base) // another tenant, same names
	onlySpring := map[string]bool{}
	for _, l := range spring[:7] {
		onlySpring[storedSubject(t, f, l.ID)] = true
	}
	shared := storedSubject(t, f, kept.ID)
	if err := f.st.Scoped("acme").PutNotification(ctx, domain.Notification{TenantID: "acme", LeadID: spring[0].ID, MessageID: "m", Recipients: []string{"s@acme.dk"},
		SentAt: base, ExpiresAt: base.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}

	if _, err := f.st.Scoped("acme").StartCampaignDeletion(ctx, "spring", "job-1"); err != nil {
		t.Fatal(err)
	}
	job, steps := runDeletion(t, f.st, "acme", "spring", 3)
	if job.Deleted != int64(len(spring)) || steps != 3 {
		t.Errorf("deletion = %+v after %d steps; want %d deleted in 3 steps of at most 3", job, steps, len(spring))
	}

	for subject := range onlySpring {
		if k := subjectKey(t, f, subject); k != nil {
			t.Errorf("key of a subject only in the deleted campaign = %v; want shredded", k)
		}
	}
	if got := refs(subjectKey(t, f, shared)); got != 1 {
		t.Errorf("refs of the key also used in autumn = %d; want 1", got)
	}
	if _, err := f.st.Scoped(f.a.Tenant()).Lead(ctx, f.a, kept.ID); err != nil {
		t.Errorf("Lead(autumn lead of a shared subject) = %v; want readable", err)
	}
	if _, err := f.st.Scoped(f.b.Tenant()).Lead(ctx, f.b, other.ID); err != nil {
		t.Errorf("Lead(other tenant's lead) = %v; want readable", err)
	}
	if _, err := f.st.Scoped("acme").Notified(ctx, spring[0].ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Notified(deleted lead) = %v; want ErrNotFound", err)
	}
	if _, err := f.st.Scoped("acme").Campaign(ctx, "spring"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Campaign(deleted) = %v; want ErrNotFound", err)
	}
	if _, err := f.st.Scoped("acme").Campaign(ctx, "autumn"); err != nil {
		t.Errorf("Campaign(autumn) = %v; want kept", err)
	}
	if pending, err := f.st.PendingCampaignDeletions(ctx); err != nil || len(pending) != 0 {
		t.Errorf("PendingCampaignDeletions() = %+v, %v; want none", pending, err)
	}

	// A step after done, and starting again, change nothing.
	again, err := f.st.Scoped("acme").DeleteCampaignStep(ctx, "spring", 3)
	if err != nil || !again.Done || again.Deleted != job.Deleted {
		t.Errorf("DeleteCampaignStep(after done) = %+v, %v; want the done job unchanged", again, err)
	}
	restarted, err := f.st.Scoped("acme").StartCampaignDeletion(ctx, "spring", "job-2")
	if err != nil || restarted.JobID != "job-1" || !restarted.Done {
		t.Errorf("StartCampaignDeletion(after done) = %+v, %v; want the done job-1", restarted, err)
	}
}

// TestDeleteCampaign_bigSubjects deletes a campaign in which two subjects have more leads than one
// transaction holds, so their leads go in a series of transactions.
func TestDeleteCampaign_bigSubjects(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	putCampaign(t, f.st, "acme", "spring")
	now := time.Now()
	var leads []domain.Lead
	for i := range 240 {
		email := "many@example.dk"
		if i%2 == 1 {
			email = "also-elsewhere@example.dk"
		}
		leads = append(leads, seedLead("acme", "spring", email, now))
	}
	kept := seedLead("acme", "autumn", "also-elsewhere@example.dk", now)
	seed(t, f, f.a, append(leads, kept), 1)
	many, shared := storedSubject(t, f, leads[0].ID), storedSubject(t, f, kept.ID)
	if got := refs(subjectKey(t, f, shared)); got != 121 {
		t.Fatalf("seeded refs = %d; want 121", got)
	}

	if _, err := f.st.Scoped("acme").StartCampaignDeletion(ctx, "spring", "job-1"); err != nil {
		t.Fatal(err)
	}
	job, _ := runDeletion(t, f.st, "acme", "spring", 1000)
	if job.Deleted != 240 {
		t.Errorf("deleted = %d; want 240", job.Deleted)
	}
	if k := subjectKey(t, f, many); k != nil {
		t.Errorf("key of the subject only in spring = %v; want shredded", k)
	}
	if got := refs(subjectKey(t, f, shared)); got != 1 {
		t.Errorf("refs of the key also used in autumn = %d; want 1", got)
	}
	if _, err := f.st.Scoped(f.a.Tenant()).Lead(ctx, f.a, kept.ID); err != nil {
		t.Errorf("Lead(autumn lead) = %v; want readable", err)
	}
}

func seedLead(tenant, campaign, email string, at time.Time) domain.Lead {
	l := newLead(tenant, domain.Personal{Name: "Seeded", Email: email}, at)
	l.CampaignID = campaign
	return l
}

// seed writes leads as PutLead would have stored them, with BatchWriteItem from workers goroutines.
func seed(t testing.TB, f fixture, tk *vault.TenantKey, leads []domain.Lead, workers int) {
	t.Helper()
	items, err := store.SeedItems(f.st, tk, leads)
	if err != nil {
		t.Fatal(err)
	}
	db := testenv.Env.AWS.DynamoDB()
	batches := make(chan []map[string]types.AttributeValue)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for batch := range batches {
				requests := make([]types.WriteRequest, len(batch))
				for i, it := range batch {
					requests[i] = types.WriteRequest{PutRequest: &types.PutRequest{Item: it}}
				}
				for len(requests) > 0 {
					out, err := db.BatchWriteItem(context.Background(), &dynamodb.BatchWriteItemInput{
						RequestItems: map[string][]types.WriteRequest{f.table: requests},
					})
					if err != nil {
						errs <- err
						return
					}
					requests = out.UnprocessedItems[f.table]
				}
			}
		})
	}
	for start := 0; start < len(items); start += 25 {
		batches <- items[start:min(start+25, len(items))]
	}
	close(batches)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatalf("seed: %v", err)
	}
}

// TestDeleteCampaign_large deletes a campaign of N leads (3000, or LEADVAULT_CASCADE_LEADS) in steps of
// at most 1000, about one subject in four of which also has a lead in another campaign.
func TestDeleteCampaign_large(t *testing.T) {
	n := 3000
	if v := os.Getenv("LEADVAULT_CASCADE_LEADS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			t.Fatalf("LEADVAULT_CASCADE_LEADS = %q; want a positive number", v)
		}
	}
	f := setup(t)
	ctx := context.Background()
	withoutStream(t, f.table)
	putCampaign(t, f.st, "acme", "big")
	now := time.Now()
	// Most subjects have one lead in the campaign, some two; every fourth subject also has a lead in
	// another campaign, whose key must stay.
	subjects := max(1, n*3/4)
	leads := make([]domain.Lead, 0, n+subjects/4+1)
	for i := range n {
		leads = append(leads, seedLead("acme", "big", fmt.Sprintf("l%d@example.dk", i%subjects), now.Add(time.Duration(i)*time.Microsecond)))
	}
	elsewhere := 0
	for i := 0; i < subjects; i += 4 {
		leads = append(leads, seedLead("acme", "other", fmt.Sprintf("l%d@example.dk", i), now))
		elsewhere++
	}
	start := time.Now()
	seed(t, f, f.a, leads, 8)
	t.Logf("seeded %d leads of the campaign (%d items in all) in %v", n, len(leads)+subjects, time.Since(start))

	if _, err := f.st.Scoped("acme").StartCampaignDeletion(ctx, "big", "job-big"); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	job, steps := runDeletion(t, f.st, "acme", "big", 1000)
	t.Logf("deleted %d leads in %d steps of at most 1000 in %v", job.Deleted, steps, time.Since(start))
	if job.Deleted != int64(n) {
		t.Errorf("deleted = %d; want %d", job.Deleted, n)
	}
	out, err := testenv.Env.AWS.DynamoDB().Query(ctx, &dynamodb.QueryInput{
		TableName: &f.table, IndexName: aws.String(store.IndexByCampaign), Select: types.SelectCount,
		KeyConditionExpression:    aws.String("camp = :c"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":c": &types.AttributeValueMemberS{Value: "T#acme#C#big"}},
	})
	if err != nil || out.Count != 0 {
		t.Errorf("byCampaign(big) after deletion = %d items, %v; want none", out.Count, err)
	}
	counts := countItems(t, f.table)
	if counts["KEY"] != elsewhere || counts["LEAD"] != elsewhere {
		t.Errorf("left in the table: %v; want %d keys and %d leads of the other campaign", counts, elsewhere, elsewhere)
	}
}

// withoutStream turns off a table's stream, which no store method reads. DynamoDB Local keeps every
// stream record in its one shared database, and each table created after many of them is several times
// slower to write: a large test with its stream on slows every test after it.
func withoutStream(t testing.TB, table string) {
	t.Helper()
	_, err := testenv.Env.AWS.DynamoDB().UpdateTable(context.Background(), &dynamodb.UpdateTableInput{
		TableName: &table, StreamSpecification: &types.StreamSpecification{StreamEnabled: aws.Bool(false)},
	})
	if err != nil {
		t.Fatal(err)
	}
}

// countItems counts a table's items by sort key, with a Scan: tests only.
func countItems(t testing.TB, table string) map[string]int {
	t.Helper()
	counts := map[string]int{}
	p := dynamodb.NewScanPaginator(testenv.Env.AWS.DynamoDB(), &dynamodb.ScanInput{TableName: &table, ProjectionExpression: aws.String("sk")})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Items {
			counts[it["sk"].(*types.AttributeValueMemberS).Value]++
		}
	}
	return counts
}
