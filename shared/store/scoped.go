package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"leadvault/shared/access"
	"leadvault/shared/domain"
)

// ErrWrongTenant means a Scoped store was handed data or a key of another tenant, or has no valid tenant.
var ErrWrongTenant = errors.New("not the scoped tenant")

// Scoped is the store seen by one tenant: every method reads and writes that tenant's keys only.
type Scoped struct {
	s      *Store
	tenant string
}

// Scoped returns the store seen by tenant. A tenant that is not a valid ID (the empty one included) gives
// a Scoped whose every method fails with ErrWrongTenant: an ID with '#' in it could reach into other keys.
func (s *Store) Scoped(tenant string) *Scoped { return &Scoped{s: s, tenant: tenant} }

// Tenant returns the tenant the view is scoped to.
func (v *Scoped) Tenant() string { return v.tenant }

func (v *Scoped) check() error {
	if !domain.ValidID(v.tenant) {
		return fmt.Errorf("scoped store for tenant %q: %w", v.tenant, ErrWrongTenant)
	}
	return nil
}

// same checks that data or a key naming tenant belongs to the view's tenant.
func (v *Scoped) same(what, tenant string) error {
	if err := v.check(); err != nil {
		return err
	}
	if tenant != v.tenant {
		return fmt.Errorf("%s of tenant %q in the store of tenant %q: %w", what, tenant, v.tenant, ErrWrongTenant)
	}
	return nil
}

func (v *Scoped) key(tk Keys) error {
	if tk == nil {
		return fmt.Errorf("no tenant key in the store of tenant %q: %w", v.tenant, ErrWrongTenant)
	}
	return v.same("key", tk.Tenant())
}

// Form reads one of the tenant's forms.
func (v *Scoped) Form(ctx context.Context, id string) (domain.Form, error) {
	if err := v.check(); err != nil {
		return domain.Form{}, err
	}
	return v.s.Form(ctx, v.tenant, id)
}

// Forms lists one page of the tenant's forms.
func (v *Scoped) Forms(ctx context.Context, limit int, cursor string) ([]domain.Form, string, error) {
	if err := v.check(); err != nil {
		return nil, "", err
	}
	return v.s.Forms(ctx, v.tenant, limit, cursor)
}

// PutForm creates or replaces one of the tenant's forms; a form naming another tenant is refused.
func (v *Scoped) PutForm(ctx context.Context, f domain.Form) error {
	if err := v.same("form "+f.ID, f.TenantID); err != nil {
		return err
	}
	return v.s.PutForm(ctx, f)
}

// Campaign reads one of the tenant's campaigns.
func (v *Scoped) Campaign(ctx context.Context, id string) (domain.Campaign, error) {
	if err := v.check(); err != nil {
		return domain.Campaign{}, err
	}
	return v.s.Campaign(ctx, v.tenant, id)
}

// Campaigns lists one page of the tenant's campaigns.
func (v *Scoped) Campaigns(ctx context.Context, limit int, cursor string) ([]domain.Campaign, string, error) {
	if err := v.check(); err != nil {
		return nil, "", err
	}
	return v.s.Campaigns(ctx, v.tenant, limit, cursor)
}

// PutCampaign creates a campaign of the tenant.
func (v *Scoped) PutCampaign(ctx context.Context, c domain.Campaign) error {
	if err := v.check(); err != nil {
		return err
	}
	return v.s.PutCampaign(ctx, v.tenant, c)
}

// RenameCampaign renames one of the tenant's campaigns.
func (v *Scoped) RenameCampaign(ctx context.Context, id, name string) (domain.Campaign, error) {
	if err := v.check(); err != nil {
		return domain.Campaign{}, err
	}
	return v.s.RenameCampaign(ctx, v.tenant, id, name)
}

// Member reads one of the tenant's members.
func (v *Scoped) Member(ctx context.Context, userID string) (domain.Member, error) {
	if err := v.check(); err != nil {
		return domain.Member{}, err
	}
	return v.s.Member(ctx, v.tenant, userID)
}

// Members lists the tenant's members.
func (v *Scoped) Members(ctx context.Context) ([]domain.Member, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	return v.s.Members(ctx, v.tenant)
}

// PutMember adds a member to the tenant.
func (v *Scoped) PutMember(ctx context.Context, m domain.Member) error {
	if err := v.check(); err != nil {
		return err
	}
	return v.s.PutMember(ctx, v.tenant, m)
}

// SetMemberRole changes the role of one of the tenant's members.
func (v *Scoped) SetMemberRole(ctx context.Context, userID string, role access.Role) (domain.Member, error) {
	if err := v.check(); err != nil {
		return domain.Member{}, err
	}
	return v.s.SetMemberRole(ctx, v.tenant, userID, role)
}

// RemoveMember removes one of the tenant's members.
func (v *Scoped) RemoveMember(ctx context.Context, userID string) (domain.Member, error) {
	if err := v.check(); err != nil {
		return domain.Member{}, err
	}
	return v.s.RemoveMember(ctx, v.tenant, userID)
}

// Grants lists the tenant's support grants.
func (v *Scoped) Grants(ctx context.Context) ([]access.Grant, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	return v.s.Grants(ctx, v.tenant)
}

// PutGrant stores a new grant of the tenant; a grant naming another tenant is refused.
func (v *Scoped) PutGrant(ctx context.Context, g access.Grant) error {
	if err := v.same("grant "+g.ID, g.Tenant); err != nil {
		return err
	}
	return v.s.PutGrant(ctx, g)
}

// RevokeGrant ends one of the tenant's grants.
func (v *Scoped) RevokeGrant(ctx context.Context, id string, at time.Time) error {
	if err := v.check(); err != nil {
		return err
	}
	return v.s.RevokeGrant(ctx, v.tenant, id, at)
}

// ActiveGrant returns the grant under which grantee may see the tenant's data now.
func (v *Scoped) ActiveGrant(ctx context.Context, grantee string) (access.Grant, error) {
	if err := v.check(); err != nil {
		return access.Grant{}, err
	}
	return v.s.ActiveGrant(ctx, v.tenant, grantee)
}

// CampaignDeletion reads the deletion job of one of the tenant's campaigns.
func (v *Scoped) CampaignDeletion(ctx context.Context, campaign string) (domain.CampaignDeletion, error) {
	if err := v.check(); err != nil {
		return domain.CampaignDeletion{}, err
	}
	return v.s.CampaignDeletion(ctx, v.tenant, campaign)
}

// StartCampaignDeletion records a deletion job for one of the tenant's campaigns.
func (v *Scoped) StartCampaignDeletion(ctx context.Context, campaign, jobID string) (domain.CampaignDeletion, error) {
	if err := v.check(); err != nil {
		return domain.CampaignDeletion{}, err
	}
	return v.s.StartCampaignDeletion(ctx, v.tenant, campaign, jobID)
}

// DeleteLead deletes one of the tenant's leads.
func (v *Scoped) DeleteLead(ctx context.Context, leadID string) error {
	if err := v.check(); err != nil {
		return err
	}
	return v.s.DeleteLead(ctx, v.tenant, leadID)
}

// Lead reads and decrypts one of the tenant's leads; tk must be the tenant's key.
func (v *Scoped) Lead(ctx context.Context, tk Keys, leadID string) (domain.Lead, error) {
	if err := v.key(tk); err != nil {
		return domain.Lead{}, err
	}
	return v.s.Lead(ctx, tk, leadID)
}

// LeadsByCampaign lists one page of a campaign's leads; tk must be the tenant's key.
func (v *Scoped) LeadsByCampaign(ctx context.Context, tk Keys, campaign string, p Page) ([]domain.Lead, string, error) {
	if err := v.key(tk); err != nil {
		return nil, "", err
	}
	return v.s.LeadsByCampaign(ctx, tk, campaign, p)
}

// RectifyLead replaces the personal data of one of the tenant's leads; tk must be the tenant's key.
func (v *Scoped) RectifyLead(ctx context.Context, tk Keys, leadID string, p domain.Personal, flags []string) (domain.Lead, error) {
	if err := v.key(tk); err != nil {
		return domain.Lead{}, err
	}
	return v.s.RectifyLead(ctx, tk, leadID, p, flags)
}
