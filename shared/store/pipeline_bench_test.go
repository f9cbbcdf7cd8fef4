package store_test

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"leadvault/infra/local/testenv"
	"leadvault/shared/formbody"
	"leadvault/shared/intake"
	"leadvault/shared/store"
)

// BenchmarkIntakePipeline measures the in-process work of one intake, with no I/O: parse the body of the
// urlencoded fixture, map/normalise/validate/guard it, make a subject key, encrypt the personal data and
// build the DynamoDB item. It reports p50 and p99 per lead (target p99 ≤ 100 µs, docs/benchmarks.md).
func BenchmarkIntakePipeline(b *testing.B) {
	ctx := context.Background()
	raw, err := os.ReadFile("../../events/intake/urlencoded.json")
	if err != nil {
		b.Fatal(err)
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &ev); err != nil {
		b.Fatal(err)
	}
	v := testenv.Vault()
	wrapped, err := v.NewTenantKey(ctx, "acme")
	if err != nil {
		b.Fatal(err)
	}
	tk, err := v.TenantKey(ctx, "acme", wrapped)
	if err != nil {
		b.Fatal(err)
	}
	st := store.New(nil, "bench")
	form := testenv.Form("demo", "demo-contact")
	form.TenantID = "acme"
	req := formbody.Request{ContentType: ev.Headers["content-type"], Body: ev.Body, Base64: ev.IsBase64Encoded}
	durations := make([]time.Duration, 0, 1<<16)
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		body, err := formbody.Parse(req)
		if err != nil {
			b.Fatal(err)
		}
		lead, err := intake.Build(form, intake.Submission{Body: body, Origin: "http://localhost:8080"}, start)
		if err != nil {
			b.Fatal(err)
		}
		lead.ID = uuid.Must(uuid.NewV7()).String()
		lead.SubjectID = store.SubjectID(tk, lead.Personal, lead.ID)
		plain, err := json.Marshal(lead.Personal)
		if err != nil {
			b.Fatal(err)
		}
		sealed, _, err := tk.SealRecord(lead.SubjectID, nil, lead.ID, plain)
		if err != nil {
			b.Fatal(err)
		}
		item := store.LeadItem(st, tk, lead, sealed)
		if len(item) == 0 {
			b.Fatal("empty item")
		}
		if len(durations) < cap(durations) {
			durations = append(durations, time.Since(start))
		}
	}
	slices.Sort(durations)
	q := func(p float64) float64 {
		return float64(durations[int(p*float64(len(durations)-1))].Nanoseconds()) / 1e3
	}
	b.ReportMetric(q(0.50), "p50-µs")
	b.ReportMetric(q(0.99), "p99-µs")
}
