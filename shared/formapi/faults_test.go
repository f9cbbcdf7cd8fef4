package formapi_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"

	"leadvault/infra/local/testenv"
	"leadvault/shared/formapi"
	"leadvault/shared/intake"
	"leadvault/shared/store"
)

// TestHandle_awsFaultIs503 makes each AWS call intake depends on fail, through the local router's fault
// injection, and checks the answer is 503 with Retry-After (never 500, never a success for what was not
// stored), and that the client's retry with the same Idempotency-Key then stores the lead exactly once.
func TestHandle_awsFaultIs503(t *testing.T) {
	tests := []struct{ name, faults string }{
		{"form lookup throttled", "dynamodb:GetItem:throttle:1"},
		{"form lookup connection dropped", "dynamodb:GetItem:drop:1"},
		{"tenant key unwrap throttled", "kms:Decrypt:throttle:1"},
		{"tenant key unwrap fails", "kms:*:5xx:1"},
		{"rate-limit counter fails", "dynamodb:UpdateItem:5xx:1"},
		{"lead write throttled", "dynamodb:TransactWriteItems:throttle:1"},
		{"lead written, answer lost", "dynamodb:TransactWriteItems:5xx@after:1"},
		{"lead written, connection dropped", "dynamodb:TransactWriteItems:drop@after:1"},
	}
	faults := testenv.Env.Standins.Faults
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t, nil)
			// A vault that has not unwrapped the tenant's key yet, so that intake calls KMS.
			log := slog.New(slog.NewJSONHandler(io.Discard, nil))
			e.h = formapi.New(intake.New(e.st, testenv.Vault(), log), log)
			req := withHeader(fixture(t, "json"), "idempotency-key", "fault-"+tt.name)
			if err := faults.SetSpec(tt.faults); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(faults.Clear)
			resp := e.do(t, req)
			injected := faults.Injected()
			faults.Clear()
			if injected == 0 {
				t.Fatalf("fault %s never fired; the case tests nothing", tt.faults)
			}
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Headers["Retry-After"] == "" {
				t.Fatalf("under %s: %d, Retry-After %q; want 503 with Retry-After", tt.faults, resp.StatusCode, resp.Headers["Retry-After"])
			}
			if p := problemOf(t, resp); p.Type != "urn:leadvault:problem:temporarily-unavailable" {
				t.Errorf("problem type %q; want temporarily-unavailable", p.Type)
			}
			retry := e.do(t, req)
			if retry.StatusCode != http.StatusCreated {
				t.Fatalf("retry after the fault: %d %s; want 201", retry.StatusCode, retry.Body)
			}
			leads, _, err := e.st.Scoped(e.tk.Tenant()).LeadsByCampaign(context.Background(), e.tk, testenv.Form("demo", "demo-contact").CampaignID, store.Page{})
			if err != nil {
				t.Fatal(err)
			}
			if len(leads) != 1 || leads[0].ID != retry.Headers["Leadvault-Submission-Id"] {
				t.Errorf("stored %d leads; want exactly the retry's %s", len(leads), retry.Headers["Leadvault-Submission-Id"])
			}
		})
	}
}
