// Package tokenclaims is the user pool's pre-token-generation trigger (event version V2_0). Cognito puts
// custom attributes into ID tokens only; the controller API's JWT authorizer takes access tokens, so the
// trigger copies the user's custom:tenant_id into the access token. The attribute is immutable and the
// app client may not write it, so a user can never move tenants through it.
package tokenclaims

import (
	"context"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"

	"leadvault/shared/access"
)

// Handler answers the trigger.
type Handler struct{ log *slog.Logger }

// New returns a Handler.
func New(log *slog.Logger) *Handler { return &Handler{log: log} }

// Handle adds the tenant claim to the access token of controller staff; support staff, who belong to no
// tenant, get none.
func (h *Handler) Handle(_ context.Context, ev events.CognitoEventUserPoolsPreTokenGenV2_0) (events.CognitoEventUserPoolsPreTokenGenV2_0, error) {
	tenant := ev.Request.UserAttributes[access.ClaimTenant]
	if tenant == "" {
		return ev, nil
	}
	ev.Response.ClaimsAndScopeOverrideDetails.AccessTokenGeneration.ClaimsToAddOrOverride = map[string]any{access.ClaimTenant: tenant}
	h.log.Info("tenant claim added", "user", ev.Request.UserAttributes["sub"], "tenant", tenant, "trigger", ev.TriggerSource)
	return ev, nil
}
