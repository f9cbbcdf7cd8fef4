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
	return v.s.form(ctx, v.tenant, id)
}

// Forms lists one page of the tenant's forms.
func (v *Scoped) Forms(ctx context.Context, limit int, cursor string) ([]domain.Form, string, error) {
	if err := v.check(); err != nil {
		return nil, "", err
	}
	return v.s.forms(ctx, v.tenant, limit, cursor)
}

// PutForm creates or replaces one of the tenant's forms; a form naming another tenant is refused.
func (v *Scoped) PutForm(ctx context.Context, f domain.Form) error {
	if err := v.same("form "+f.ID, f.TenantID); err != nil {
		return err
	}
	return v.s.putForm(ctx, f)
}

// Campaign reads one of the tenant's campaigns.
func (v *Scoped) Campaign(ctx context.Context, id string) (domain.Campaign, error) {
	if err := v.check(); err != nil {
		return domain.Campaign{}, err
	}
	return v.s.campaign(ctx, v.tenant, id)
}

// Campaigns lists one page of the tenant's campaigns.
func (v *Scoped) Campaigns(ctx context.Context, limit int, cursor string) ([]domain.Campaign, string, error) {
	if err := v.check(); err != nil {
		return nil, "", err
	}
	return v.s.campaigns(ctx, v.tenant, limit, cursor)
}

// PutCampaign creates a campaign of the tenant.
func (v *Scoped) PutCampaign(ctx context.Context, c domain.Campaign) error {
	if err := v.check(); err != nil {
		return err
	}
	return v.s.putCampaign(ctx, v.tenant, c)
}

// RenameCampaign renames one of the tenant's campaigns.
func (v *Scoped) RenameCampaign(ctx context.Context, id, name string) (domain.Campaign, error) {
	if err := v.check(); err != nil {
		return domain.Campaign{}, err
	}
	return v.s.renameCampaign(ctx, v.tenant, id, name)
}

// Member reads one of the tenant's members.
func (v *Scoped) Member(ctx context.Context, userID string) (domain.Member, error) {
	if err := v.check(); err != nil {
		return domain.Member{}, err
	}
	return v.s.member(ctx, v.tenant, userID)
}

// Members lists the tenant's members.
func (v *Scoped) Members(ctx context.Context) ([]domain.Member, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	return v.s.members(ctx, v.tenant)
}

// PutMember adds a member to the tenant.
func (v *Scoped) PutMember(ctx context.Context, m domain.Member) error {
	if err := v.check(); err != nil {
		return err
	}
	return v.s.putMember(ctx, v.tenant, m)
}

// SetMemberRole changes the role of one of the tenant's members.
func (v *Scoped) SetMemberRole(ctx context.Context, userID string, role access.Role) (domain.Member, error) {
	if err := v.check(); err != nil {
		return domain.Member{}, err
	}
	return v.s.setMemberRole(ctx, v.tenant, userID, role)
}

// RemoveMember removes one of the tenant's members.
func (v *Scoped) RemoveMember(ctx context.Context, userID string) (domain.Member, error) {
	if err := v.check(); err != nil {
		return domain.Member{}, err
	}
	return v.s.removeMember(ctx, v.tenant, userID)
}

// Grants lists the tenant's support grants.
func (v *Scoped) Grants(ctx context.Context) ([]access.Grant, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	return v.s.grants(ctx, v.tenant)
}

// PutGrant stores a new grant of the tenant; a grant naming another tenant is refused.
func (v *Scoped) PutGrant(ctx context.Context, g access.Grant) error {
	if err := v.same("grant "+g.ID, g.Tenant); err != nil {
		return err
	}
	return v.s.putGrant(ctx, g)
}

// RevokeGrant ends one of the tenant's grants.
func (v *Scoped) RevokeGrant(ctx context.Context, id string, at time.Time) error {
	if err := v.check(); err != nil {
		return err
	}
	return v.s.revokeGrant(ctx, v.tenant, id, at)
}

// ActiveGrant returns the grant under which grantee may see the tenant's data now.
func (v *Scoped) ActiveGrant(ctx context.Context, grantee string) (access.Grant, error) {
	if err := v.check(); err != nil {
		return access.Grant{}, err
	}
	return v.s.activeGrant(ctx, v.tenant, grantee)
}

// CampaignDeletion reads the deletion job of one of the tenant's campaigns.
func (v *Scoped) CampaignDeletion(ctx context.Context, campaign string) (domain.CampaignDeletion, error) {
	if err := v.check(); err != nil {
		return domain.CampaignDeletion{}, err
	}
	return v.s.campaignDeletion(ctx, v.tenant, campaign)
}

// StartCampaignDeletion records a deletion job for one of the tenant's campaigns.
func (v *Scoped) StartCampaignDeletion(ctx context.Context, campaign, jobID string) (domain.CampaignDeletion, error) {
	if err := v.check(); err != nil {
		return domain.CampaignDeletion{}, err
	}
	return v.s.startCampaignDeletion(ctx, v.tenant, campaign, jobID)
}

// DeleteLead deletes one of the tenant's leads.
func (v *Scoped) DeleteLead(ctx context.Context, leadID string) error {
	if err := v.check(); err != nil {
		return err
	}
	return v.s.deleteLead(ctx, v.tenant, leadID)
}

// Lead reads and decrypts one of the tenant's leads; tk must be the tenant's key.
func (v *Scoped) Lead(ctx context.Context, tk Keys, leadID string) (domain.Lead, error) {
	if err := v.key(tk); err != nil {
		return domain.Lead{}, err
	}
	return v.s.lead(ctx, tk, leadID)
}

// LeadsByCampaign lists one page of a campaign's leads; tk must be the tenant's key.
func (v *Scoped) LeadsByCampaign(ctx context.Context, tk Keys, campaign string, p Page) ([]domain.Lead, string, error) {
	if err := v.key(tk); err != nil {
		return nil, "", err
	}
	return v.s.leadsByCampaign(ctx, tk, campaign, p)
}

// RectifyLead replaces the personal data of one of the tenant's leads; tk must be the tenant's key.
func (v *Scoped) RectifyLead(ctx context.Context, tk Keys, leadID string, p domain.Personal, flags []string) (domain.Lead, error) {
	if err := v.key(tk); err != nil {
		return domain.Lead{}, err
	}
	return v.s.rectifyLead(ctx, tk, leadID, p, flags)
}

// PutLead has tk seal the lead's personal data under its subject's key (a new key for a new subject) and
// stores the lead and its idempotency record in one transaction; tk must be the tenant's key. It returns
// the ID under which the submission is stored: lead.ID when created, or the earlier lead's ID (created
// false) when the idempotency key was already used by the same request.
func (v *Scoped) PutLead(ctx context.Context, tk Keys, lead domain.Lead, idem Idempotency) (id string, created bool, err error) {
	if err := v.key(tk); err != nil {
		return "", false, err
	}
	if err := v.same("lead "+lead.ID, lead.TenantID); err != nil {
		return "", false, err
	}
	return v.s.putLead(ctx, tk, lead, idem)
}

// EarlierSubmission returns the tenant's lead stored under an idempotency key that is still valid.
func (v *Scoped) EarlierSubmission(ctx context.Context, idem Idempotency) (string, error) {
	if err := v.check(); err != nil {
		return "", err
	}
	id, _, err := v.s.earlierSubmission(ctx, v.tenant, idem, nil)
	return id, err
}

// CountHit adds one hit to the tenant's fixed-window counter named scope and returns the count so far in
// the current window and when the window ends.
func (v *Scoped) CountHit(ctx context.Context, scope string) (count int64, windowEnd time.Time, err error) {
	if err := v.check(); err != nil {
		return 0, time.Time{}, err
	}
	return v.s.countHit(ctx, v.tenant, scope)
}

// PutNotification records to whom one of the tenant's leads was sent; a record naming another tenant is
// refused.
func (v *Scoped) PutNotification(ctx context.Context, n domain.Notification) error {
	if err := v.same("notification of lead "+n.LeadID, n.TenantID); err != nil {
		return err
	}
	return v.s.putNotification(ctx, n)
}

// Notified returns the notification record of one of the tenant's leads, or ErrNotFound.
func (v *Scoped) Notified(ctx context.Context, leadID string) (domain.Notification, error) {
	if err := v.check(); err != nil {
		return domain.Notification{}, err
	}
	return v.s.notified(ctx, v.tenant, leadID)
}

// LeadIDsBySubject returns the IDs of the tenant's leads of one data subject; tk must be the tenant's key.
func (v *Scoped) LeadIDsBySubject(ctx context.Context, tk Keys, email, phone string) ([]string, error) {
	if err := v.key(tk); err != nil {
		return nil, err
	}
	return v.s.leadIDsBySubject(ctx, tk, email, phone)
}

// DeleteCampaignStep deletes up to max leads of one of the tenant's campaigns, with their notification
// records and subject-key references (a key whose last lead goes is deleted with it), and records the
// progress; call it until Done. It is safe to run again after a crash or beside another run.
func (v *Scoped) DeleteCampaignStep(ctx context.Context, campaign string, max int) (domain.CampaignDeletion, error) {
	if err := v.check(); err != nil {
		return domain.CampaignDeletion{}, err
	}
	return v.s.deleteCampaignStep(ctx, v.tenant, campaign, max)
}

// AdminEmails returns the e-mail addresses of the tenant's admins: whom the processor tells of a relayed
// request or a deadline.
func (v *Scoped) AdminEmails(ctx context.Context) ([]string, error) {
	members, err := v.Members(ctx)
	if err != nil {
		return nil, err
	}
	var admins []string
	for _, m := range members {
		if m.Role == access.Admin {
			admins = append(admins, m.Email)
		}
	}
	return admins, nil
}

// AllForms lists all of the tenant's forms, page after page (the record of processing, a return archive).
func (v *Scoped) AllForms(ctx context.Context) ([]domain.Form, error) {
	var forms []domain.Form
	for cursor := ""; ; {
		page, next, err := v.Forms(ctx, MaxPage, cursor)
		if err != nil {
			return nil, err
		}
		forms = append(forms, page...)
		if cursor = next; cursor == "" {
			return forms, nil
		}
	}
}
