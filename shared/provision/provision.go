// Package provision creates tenants and their forms: the operator's side of onboarding a controller.
package provision

import (
	"context"
	"errors"
	"fmt"
	"time"

	"leadvault/shared/domain"
	"leadvault/shared/store"
)

// Store is what provisioning writes to.
type Store interface {
	PutTenant(ctx context.Context, t domain.Tenant) error
	Tenant(ctx context.Context, id string) (domain.Tenant, error)
}

// KeyMaker creates wrapped tenant keys.
type KeyMaker interface {
	NewTenantKey(ctx context.Context, tenantID string) ([]byte, error)
}

// EnsureTenant creates a tenant with a fresh tenant key unless it exists; it reports whether it created it.
func EnsureTenant(ctx context.Context, st Store, keys KeyMaker, id, name string, now time.Time) (bool, error) {
	if !domain.ValidID(id) {
		return false, fmt.Errorf("tenant id %q: %w", id, domain.ErrInvalidConfig)
	}
	if _, err := st.Tenant(ctx, id); err == nil {
		return false, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return false, err
	}
	wrapped, err := keys.NewTenantKey(ctx, id)
	if err != nil {
		return false, err
	}
	err = st.PutTenant(ctx, domain.Tenant{ID: id, Name: name, WrappedKey: wrapped, CreatedAt: now})
	if errors.Is(err, store.ErrExists) {
		return false, nil // created concurrently; its key wins
	}
	return err == nil, err
}

// DemoForm is the form `make run` seeds: a plain contact form on the local gateway's demo page.
func DemoForm(tenantID, gatewayURL string) domain.Form {
	return domain.Form{
		ID: "demo-contact", TenantID: tenantID, CampaignID: "demo", Enabled: true,
		Fields: map[string]string{
			"name": domain.FieldName, "email": domain.FieldEmail, "phone": domain.FieldPhone, "message": domain.FieldMessage,
		},
		Required:       []string{domain.FieldName, domain.FieldEmail},
		AllowedOrigins: []string{gatewayURL, "http://127.0.0.1:8080", "http://localhost:8080"},
		Honeypot:       "_gotcha",
		RedirectURL:    gatewayURL + "/demo/thanks.html",
		Consent: &domain.Consent{
			Field: "consent", Version: "demo-2026-11",
			Text:     "I agree that Demo ApS stores my enquiry to answer it and deletes it after one year.",
			Required: true,
		},
		Recipients:     []string{"sales@demo.localhost"},
		FreeTextPolicy: domain.PolicyRedact,
		RetentionDays:  365,
		InboundAlias:   "demo-contact",
	}
}
