package intake_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"leadvault/infra/local/testenv"
	"leadvault/shared/domain"
	"leadvault/shared/formbody"
	"leadvault/shared/intake"
	"leadvault/shared/store"
	"leadvault/shared/vault"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// setup wires the real service with request-counting clients on the stand-ins.
func setup(tb testing.TB) (*intake.Service, domain.Form, *testenv.Calls) {
	tb.Helper()
	calls := testenv.NewCalls()
	cfg := calls.Config()
	table := testenv.Table(tb)
	st := store.New(cfg.DynamoDB(), table)
	v := vault.New(cfg.KMS(), testenv.Env.Standins.KeyARN)
	testenv.Tenant(tb, st, v, "acme")
	f := testenv.Form("acme", "contact")
	f.RateLimits = domain.RateLimits{PerIPPerMinute: 1_000_000, PerFormPerMinute: 1_000_000}
	if err := st.Scoped(f.TenantID).PutForm(context.Background(), f); err != nil {
		tb.Fatal(err)
	}
	// Start counting in steady state: the form is cached by the service, the tenant key by the vault.
	svc := intake.New(st, v, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	v.Forget("acme")
	calls.Reset()
	return svc, f, calls
}

func submission(i int, email string) intake.Submission {
	return intake.Submission{
		Body: formbody.Body{Kind: formbody.KindURLEncoded, Fields: map[string][]string{
			"name": {"Lead Number"}, "email": {email}, "phone": {"+45 20 12 34 56"},
			"message": {fmt.Sprintf("Hej, dette er henvendelse nummer %d.", i)}, "consent": {"on"},
		}},
		Origin:   "https://www.acme.dk",
		ClientIP: fmt.Sprintf("198.51.%d.%d", i/250%250, i%250),
	}
}

func TestSubmit_callsPerLead(t *testing.T) {
	svc, f, calls := setup(t)
	ctx := context.Background()
	const n = 100
	for i := range n {
		if _, err := svc.Submit(ctx, f, submission(i, fmt.Sprintf("lead%d@example.dk", i))); err != nil {
			t.Fatal(err)
		}
	}
	// One KMS call unwraps the tenant key; the cache serves the other leads (bound: 10,000 uses, 5 min).
	if got := calls.Count("KMS"); got != 1 {
		t.Errorf("KMS calls for %d leads = %d; want 1", n, got)
	}
	// Per new subject: two counter updates (form, client) and one transaction (lead, idempotency, key);
	// plus the one-off load of the tenant.
	perLead := float64(calls.Count("DynamoDB")-1) / n
	if perLead != 3 {
		t.Errorf("DynamoDB calls per lead = %.2f (%v); want 3", perLead, calls.Count("DynamoDB"))
	}
	// A returning subject costs one more transaction attempt (its key exists) and no read.
	calls.Reset()
	if _, err := svc.Submit(ctx, f, submission(n+1, "lead1@example.dk")); err != nil {
		t.Fatal(err)
	}
	if got, want := calls.Count("DynamoDB", "TransactWriteItems"), 2; got != want {
		t.Errorf("TransactWriteItems for a returning subject = %d; want %d", got, want)
	}
}

func BenchmarkSubmit(b *testing.B) {
	svc, f, calls := setup(b)
	ctx := context.Background()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if _, err := svc.Submit(ctx, f, submission(i, fmt.Sprintf("bench%d@example.dk", i))); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(calls.Count("KMS"))*1000/float64(i), "kms-calls/1000-leads")
	b.ReportMetric(float64(calls.Count("DynamoDB"))/float64(i), "ddb-calls/lead")
}

// TestForm_configTTL checks the bound the campaign deletion's settle time relies on: a form disabled in
// the store is still served from the cache while younger than ConfigTTL, and never at or after it.
func TestForm_configTTL(t *testing.T) {
	tests := []struct {
		name        string
		age         time.Duration
		wantEnabled bool
	}{
		{"cached", intake.ConfigTTL - time.Second, true},
		{"at the TTL", intake.ConfigTTL, false},
		{"past the TTL", intake.ConfigTTL + time.Minute, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			st := store.New(testenv.Env.AWS.DynamoDB(), testenv.Table(t))
			v := testenv.Vault()
			testenv.Tenant(t, st, v, "acme")
			f := testenv.Form("acme", "contact")
			if err := st.Scoped(f.TenantID).PutForm(ctx, f); err != nil {
				t.Fatal(err)
			}
			now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
			svc := intake.New(st, v, slog.New(slog.DiscardHandler)).WithClock(func() time.Time { return now })
			if _, err := svc.Form(ctx, f.ID); err != nil {
				t.Fatal(err)
			}
			f.Enabled = false
			if err := st.Scoped(f.TenantID).PutForm(ctx, f); err != nil {
				t.Fatal(err)
			}
			now = now.Add(tt.age)
			_, err := svc.Form(ctx, f.ID)
			if got := err == nil; got != tt.wantEnabled {
				t.Errorf("Form after %v: error = %v; want served %t", tt.age, err, tt.wantEnabled)
			}
			if !tt.wantEnabled && !errors.Is(err, intake.ErrFormNotFound) {
				t.Errorf("Form after %v: error = %v; want ErrFormNotFound", tt.age, err)
			}
		})
	}
}
