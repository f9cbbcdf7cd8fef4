package jobs_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"leadvault/infra/local/standins"
	"leadvault/infra/local/testenv"
	"leadvault/shared/audit"
	"leadvault/shared/domain"
	"leadvault/shared/jobs"
	"leadvault/shared/store"
	"leadvault/shared/vault"
)

// benchOthers is how many leads of other people the table holds in BenchmarkSubjectExport
// (LEADVAULT_BENCH_OTHERS, default 100,000).
func benchOthers() int {
	if n, err := strconv.Atoi(os.Getenv("LEADVAULT_BENCH_OTHERS")); err == nil && n >= 0 {
		return n
	}
	return 100_000
}

// otherPeople gives each copy a blind index of its own: leads of other people.
func otherPeople(id string, c map[string]types.AttributeValue) {
	tenant := c["tenant"].(*types.AttributeValueMemberS).Value
	c["bie"] = &types.AttributeValueMemberS{Value: "T#" + tenant + "#E#other-" + id}
	delete(c, "bip")
}

// samePerson keeps the copies' subject and blind index: more leads of one person.
func samePerson(string, map[string]types.AttributeValue) {}

// cloneLeads writes n copies of a stored lead item under new lead IDs, 25 to a BatchWriteItem, each changed
// by edit (see otherPeople, samePerson).
func cloneLeads(b *testing.B, table string, tk *vault.TenantKey, item map[string]types.AttributeValue, prefix string, n int, edit func(id string, c map[string]types.AttributeValue)) {
	b.Helper()
	ctx := context.Background()
	db := testenv.Env.AWS.DynamoDB()
	// Each copy is sealed under its own ID, as the record's authenticated data requires.
	subject := item["subj"].(*types.AttributeValueMemberS).Value
	key, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "T#" + tk.Tenant() + "#S#" + subject}, "sk": &types.AttributeValueMemberS{Value: "KEY"}}})
	if err != nil || key.Item == nil {
		b.Fatalf("subject key: %v", err)
	}
	wrapped := key.Item["wk"].(*types.AttributeValueMemberB).Value
	plain, err := tk.OpenRecord(subject, wrapped, item["id"].(*types.AttributeValueMemberS).Value, item["pd"].(*types.AttributeValueMemberB).Value)
	if err != nil {
		b.Fatal(err)
	}
	var batch []types.WriteRequest
	flush := func() {
		for len(batch) > 0 {
			out, err := db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: batch}})
			if err != nil {
				b.Fatal(err)
			}
			batch = out.UnprocessedItems[table]
		}
	}
	tenant := item["tenant"].(*types.AttributeValueMemberS).Value
	created := item["ct"].(*types.AttributeValueMemberS).Value
	for i := range n {
		id := fmt.Sprintf("%s-%07d", prefix, i)
		c := make(map[string]types.AttributeValue, len(item))
		for k, v := range item {
			c[k] = v
		}
		c["pk"] = &types.AttributeValueMemberS{Value: "T#" + tenant + "#L#" + id}
		c["id"] = &types.AttributeValueMemberS{Value: id}
		sealed, _, err := tk.SealRecord(subject, wrapped, id, plain)
		if err != nil {
			b.Fatal(err)
		}
		c["pd"] = &types.AttributeValueMemberB{Value: sealed}
		c["ct"] = &types.AttributeValueMemberS{Value: created[:30] + "#" + id}
		edit(id, c)
		batch = append(batch, types.WriteRequest{PutRequest: &types.PutRequest{Item: c}})
		if len(batch) == 25 {
			flush()
		}
	}
	flush()
}

// BenchmarkSubjectExport finds and exports one person's leads — 1, 100 or 10,000 of them — from a table
// that holds none or benchOthers() leads of other people, as the jobs function does for an export request
// (blind-index queries, batched reads, decryption, JSON and CSV written to S3). It reports the DynamoDB
// requests per export, which must not grow with the table.
func BenchmarkSubjectExport(b *testing.B) {
	ctx := context.Background()
	for _, others := range []int{0, benchOthers()} {
		calls := testenv.NewCalls()
		cfg := calls.Config()
		table := testenv.Table(b)
		st := store.New(cfg.DynamoDB(), table)
		v := vault.New(cfg.KMS(), testenv.Env.Standins.KeyARN)
		tk := testenv.Tenant(b, st, v, "acme")
		if err := st.Scoped("acme").PutForm(ctx, testenv.Form("acme", "contact")); err != nil {
			b.Fatal(err)
		}
		now := time.Now().UTC().Add(-time.Hour)
		seed := func(email string) map[string]types.AttributeValue {
			l := domain.Lead{TenantID: "acme", ID: "seed-" + email, FormID: "contact", CampaignID: "spring", Source: domain.SourceForm,
				CreatedAt: now, ExpiresAt: now.AddDate(1, 0, 0), Personal: domain.Personal{Name: "Person Personsen", Email: email,
					Phone: "+4520123456", Message: "Ring mig gerne i morgen efter klokken ti."}}
			if _, _, err := st.Scoped("acme").PutLead(ctx, tk, l, store.Idempotency{}); err != nil {
				b.Fatal(err)
			}
			out, err := testenv.Env.AWS.DynamoDB().GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table),
				Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "T#acme#L#" + l.ID}, "sk": &types.AttributeValueMemberS{Value: store.SKLead}}})
			if err != nil {
				b.Fatal(err)
			}
			return out.Item
		}
		cloneLeads(b, table, tk, seed("someone.else@example.dk"), "other", others, otherPeople)
		runner := jobs.New(st, slog.New(slog.NewJSONHandler(io.Discard, nil)), 0).WithSubjectRequests(v, testenv.Env.AWS.S3(),
			audit.New(cfg.DynamoDB(), table, 0), jobs.RequestConfig{ExportBucket: testenv.Bucket(b), SentBucket: testenv.Bucket(b),
				KeyID: standins.LocalKeyAlias, Processor: jobs.Processor, StorageLocation: jobs.StorageLocation("eu-north-1")})
		for _, leads := range []int{1, 100, 10_000} {
			email := fmt.Sprintf("subject-%d@example.dk", leads)
			cloneLeads(b, table, tk, seed(email), fmt.Sprintf("s%d", leads), leads-1, samePerson)
			b.Run(fmt.Sprintf("others=%d/leads=%d", others, leads), func(b *testing.B) {
				calls.Reset()
				runs := 0
				for b.Loop() {
					r := domain.SubjectRequest{TenantID: "acme", ID: fmt.Sprintf("bench-%d-%d-%d", others, leads, runs), Kind: domain.KindExport,
						State: domain.StateReceived, Subject: store.IndexSubject(tk, email, ""), DueAt: now, CreatedAt: now, UpdatedAt: now,
						Instruction: domain.Instruction{Reference: "bench", ReceivedAt: now}}
					if _, _, err := st.Scoped("acme").CreateSubjectRequest(ctx, tk, r, store.Idempotency{}); err != nil {
						b.Fatal(err)
					}
					done, err := runner.RunRequestToEnd(ctx, "acme", r.ID)
					if err != nil || done.Found.Leads != int64(leads) {
						b.Fatalf("export = %+v, %v; want %d leads", done.Found, err, leads)
					}
					runs++
				}
				b.ReportMetric(float64(calls.Count("DynamoDB"))/float64(runs), "ddb-calls/export")
				b.ReportMetric(float64(calls.Count("DynamoDB", "Query"))/float64(runs), "queries/export")
			})
		}
	}
}

// BenchmarkRetentionSweep runs the retention sweep over a table of benchOthers() live leads of which 1,000
// expired an hour ago (and, as a baseline, over the same table with nothing expired): the requests of a
// run must be bounded by what expired, not by the table. Each iteration seeds the expired leads again.
func BenchmarkRetentionSweep(b *testing.B) {
	ctx := context.Background()
	calls := testenv.NewCalls()
	cfg := calls.Config()
	table := testenv.Table(b)
	st := store.New(cfg.DynamoDB(), table)
	v := vault.New(cfg.KMS(), testenv.Env.Standins.KeyARN)
	tk := testenv.Tenant(b, st, v, "acme")
	now := time.Now().UTC()
	seed := func(id, email string, expires time.Time) map[string]types.AttributeValue {
		l := domain.Lead{TenantID: "acme", ID: id, FormID: "contact", CampaignID: "spring", Source: domain.SourceForm,
			CreatedAt: now.Add(-2 * time.Hour), ExpiresAt: expires, Personal: domain.Personal{Name: "Person", Email: email}}
		if _, _, err := st.WithClock(func() time.Time { return now.Add(-2 * time.Hour) }).Scoped("acme").PutLead(ctx, tk, l, store.Idempotency{Key: id, RequestHash: "h", TTL: time.Hour}); err != nil {
			b.Fatal(err)
		}
		out, err := testenv.Env.AWS.DynamoDB().GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table),
			Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "T#acme#L#" + id}, "sk": &types.AttributeValueMemberS{Value: store.SKLead}}})
		if err != nil {
			b.Fatal(err)
		}
		return out.Item
	}
	cloneLeads(b, table, tk, seed("live", "live@example.dk", now.AddDate(1, 0, 0)), "live", benchOthers(), otherPeople)
	// A live lead of the same person keeps the subject key the expired copies are sealed under.
	seed("anchor", "expired@example.dk", now.AddDate(1, 0, 0))
	expired := seed("expired", "expired@example.dk", now.Add(-time.Hour))
	runner := jobs.New(st, slog.New(slog.NewJSONHandler(io.Discard, nil)), 0)
	if _, err := runner.SweepRetention(ctx, now); err != nil { // sweeps the seed; sets the checkpoint
		b.Fatal(err)
	}
	for _, expiredLeads := range []int{0, 1000} {
		b.Run(fmt.Sprintf("live=%d/expired=%d", benchOthers(), expiredLeads), func(b *testing.B) {
			var ddb, runs, deleted int
			for b.Loop() {
				b.StopTimer()
				cloneLeads(b, table, tk, expired, fmt.Sprintf("exp%d", runs), expiredLeads, otherPeople)
				calls.Reset()
				b.StartTimer()
				rep, err := runner.SweepRetention(ctx, now.Add(time.Minute))
				if err != nil {
					b.Fatal(err)
				}
				ddb += calls.Count("DynamoDB")
				deleted += rep.Leads
				runs++
			}
			if deleted != expiredLeads*runs {
				b.Fatalf("deleted %d; want %d", deleted, expiredLeads*runs)
			}
			b.ReportMetric(float64(ddb)/float64(runs), "ddb-calls/run")
		})
	}
}

// BenchmarkTenantPurge purges a tenant of 1,000 leads (with their subject keys) from a table that also holds
// benchOthers() leads of another tenant, as the jobs function does at the end of a grace period: a walk of
// the whole table, its requests and time growing with the table, not with the tenant. Each iteration seeds
// a fresh tenant.
func BenchmarkTenantPurge(b *testing.B) {
	ctx := context.Background()
	calls := testenv.NewCalls()
	cfg := calls.Config()
	table := testenv.Table(b)
	st := store.New(cfg.DynamoDB(), table)
	v := vault.New(cfg.KMS(), testenv.Env.Standins.KeyARN)
	now := time.Now().UTC()
	seed := func(tk *vault.TenantKey, id, email string) map[string]types.AttributeValue {
		tenant := tk.Tenant()
		l := domain.Lead{TenantID: tenant, ID: id, FormID: "contact", CampaignID: "spring", Source: domain.SourceForm,
			CreatedAt: now.Add(-time.Hour), ExpiresAt: now.AddDate(1, 0, 0), Personal: domain.Personal{Name: "Person", Email: email}}
		if _, _, err := st.Scoped(tenant).PutLead(ctx, tk, l, store.Idempotency{}); err != nil {
			b.Fatal(err)
		}
		out, err := testenv.Env.AWS.DynamoDB().GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table),
			Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "T#" + tenant + "#L#" + id}, "sk": &types.AttributeValueMemberS{Value: store.SKLead}}})
		if err != nil {
			b.Fatal(err)
		}
		return out.Item
	}
	other := testenv.Tenant(b, st, v, "bravo")
	cloneLeads(b, table, other, seed(other, "live", "live@example.dk"), "live", benchOthers(), otherPeople)
	runner := jobs.New(st, slog.New(slog.NewJSONHandler(io.Discard, nil)), 0)
	const leads = 1000
	b.Run(fmt.Sprintf("table=%d/tenant=%d", benchOthers(), leads), func(b *testing.B) {
		var ddb, runs int
		for b.Loop() {
			b.StopTimer()
			tenant := fmt.Sprintf("gone%d", runs)
			tk := testenv.Tenant(b, st, v, tenant)
			cloneLeads(b, table, tk, seed(tk, "first", "first@example.dk"), "lead", leads-1, otherPeople)
			if err := st.Scoped(tenant).EndContract(ctx, domain.Contract{EndsAt: now.AddDate(0, 0, -31), GraceDays: 30, Then: domain.ContractThenDelete}); err != nil {
				b.Fatal(err)
			}
			t, err := st.Tenant(ctx, tenant)
			if err != nil {
				b.Fatal(err)
			}
			calls.Reset()
			b.StartTimer()
			done, err := runner.Purge(ctx, t, now, 10*time.Minute)
			if err != nil || !done {
				b.Fatalf("Purge() = %t, %v", done, err)
			}
			ddb += calls.Count("DynamoDB")
			runs++
		}
		b.ReportMetric(float64(ddb)/float64(runs), "ddb-calls/run")
	})
}
