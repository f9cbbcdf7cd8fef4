package controlapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"leadvault/infra/local/testenv"
	"leadvault/shared/access"
	"leadvault/shared/audit"
	"leadvault/shared/controlapi"
	"leadvault/shared/domain"
	"leadvault/shared/store"
	"leadvault/shared/vault"
)

// BenchmarkListLeads answers GET /v1/campaigns/{id}/leads?limit=100 for an admin, as a warm function:
// authorization (membership), 100 leads decrypted, the audit record appended. It reports the DynamoDB and
// KMS calls per page.
func BenchmarkListLeads(b *testing.B) {
	ctx := context.Background()
	calls := testenv.NewCalls()
	cfg := calls.Config()
	table := testenv.Table(b)
	st := store.New(cfg.DynamoDB(), table)
	v := vault.New(cfg.KMS(), testenv.Env.Standins.KeyARN)
	tk := testenv.Tenant(b, st, v, "acme")
	if err := st.Scoped("acme").PutMember(ctx, domain.Member{UserID: "u1", Email: "admin@acme.example", Role: access.Admin, AddedAt: time.Now()}); err != nil {
		b.Fatal(err)
	}
	if err := st.Scoped("acme").PutCampaign(ctx, domain.Campaign{ID: "spring", Name: "Spring", CreatedAt: time.Now()}); err != nil {
		b.Fatal(err)
	}
	base := time.Now().Add(-time.Hour).UTC()
	for i := range 100 {
		l := domain.Lead{TenantID: "acme", ID: fmt.Sprintf("lead-%03d", i), FormID: "contact", CampaignID: "spring", Source: domain.SourceForm,
			CreatedAt: base.Add(time.Duration(i) * time.Second), ExpiresAt: base.Add(time.Hour * 24 * 365),
			Personal: domain.Personal{Name: "Person", Email: fmt.Sprintf("p%d@example.dk", i), Message: "Ring mig"}}
		if _, _, err := st.Scoped(tk.Tenant()).PutLead(ctx, tk, l, store.Idempotency{Key: l.ID, RequestHash: "h", TTL: time.Hour}); err != nil {
			b.Fatal(err)
		}
	}
	h := controlapi.New(controlapi.Deps{Store: st, Keys: v, Audit: audit.New(cfg.DynamoDB(), table, 0), Log: slog.New(slog.NewTextHandler(os.Stderr, nil))})
	req := events.APIGatewayV2HTTPRequest{RawPath: "/v1/campaigns/spring/leads", QueryStringParameters: map[string]string{"limit": "100"}}
	req.RequestContext.HTTP.Method = "GET"
	req.RequestContext.HTTP.SourceIP = "192.0.2.10"
	req.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{
		Claims: map[string]string{access.ClaimSubject: "u1", access.ClaimTenant: "acme", access.ClaimGroups: "[admin]"}}}
	if resp, err := h.Handle(ctx, req); err != nil || resp.StatusCode != 200 {
		b.Fatalf("warm-up = %d %s %v", resp.StatusCode, resp.Body, err)
	}
	calls.Reset()
	pages := 0
	for b.Loop() {
		resp, err := h.Handle(ctx, req)
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("GET leads = %d %v", resp.StatusCode, err)
		}
		var l struct{ Items []json.RawMessage }
		if err := json.Unmarshal([]byte(resp.Body), &l); err != nil || len(l.Items) != 100 {
			b.Fatalf("page = %d leads, %v", len(l.Items), err)
		}
		pages++
	}
	b.ReportMetric(float64(calls.Count("DynamoDB"))/float64(pages), "ddb-calls/page")
	b.ReportMetric(float64(calls.Count("KMS"))/float64(pages), "kms-calls/page")
}
