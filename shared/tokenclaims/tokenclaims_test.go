package tokenclaims_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"leadvault/shared/tokenclaims"
)

func TestHandle_cases(t *testing.T) {
	raw, err := os.ReadFile("../../events/tokenclaims/pre-token-generation.json")
	if err != nil {
		t.Fatal(err)
	}
	h := tokenclaims.New(slog.New(slog.NewJSONHandler(io.Discard, nil)))
	tests := []struct {
		name, tenant string
		want         any
	}{
		{"controller staff", "acme", "acme"},
		{"support staff", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ev events.CognitoEventUserPoolsPreTokenGenV2_0
			if err := json.Unmarshal(raw, &ev); err != nil {
				t.Fatal(err)
			}
			if tt.tenant == "" {
				delete(ev.Request.UserAttributes, "custom:tenant_id")
			}
			out, err := h.Handle(context.Background(), ev)
			if err != nil {
				t.Fatal(err)
			}
			got := out.Response.ClaimsAndScopeOverrideDetails.AccessTokenGeneration.ClaimsToAddOrOverride["custom:tenant_id"]
			if got != tt.want {
				t.Errorf("Handle(%s) access token custom:tenant_id = %v; want %v", tt.name, got, tt.want)
			}
			if _, err := json.Marshal(out); err != nil {
				t.Errorf("answer does not encode: %v", err)
			}
		})
	}
}
