package controlapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"leadvault/shared/access"
	"leadvault/shared/domain"
	"leadvault/shared/guard"
	"leadvault/shared/normalize"
	"leadvault/shared/problem"
	"leadvault/shared/store"
)

// leadView is a lead as the API shows it. Personal is set for callers who may see data in clear;
// support staff without a grant get Masked instead: operational fields and masked contact data (M2).
type leadView struct {
	ID         string                `json:"id"`
	FormID     string                `json:"formID"`
	CampaignID string                `json:"campaignID"`
	Source     domain.Source         `json:"source"`
	CreatedAt  time.Time             `json:"createdAt"`
	ExpiresAt  time.Time             `json:"expiresAt"`
	Spam       bool                  `json:"spam,omitempty"`
	Personal   *domain.Personal      `json:"personal,omitempty"`
	Masked     *maskedPersonal       `json:"masked,omitempty"`
	Consent    *domain.ConsentRecord `json:"consent,omitempty"`
	Flags      []string              `json:"flags,omitempty"`
	// Restricted leads (Art. 18, 21) are shown to admins only.
	Restricted bool `json:"restricted,omitempty"`
	// Notification is the lead's notification and what SES reported of it (E5); one lead's read only.
	Notification *notificationView `json:"notification,omitempty"`
}

type notificationView struct {
	MessageID  string         `json:"messageId"`
	Recipients []string       `json:"recipients"`
	SentAt     time.Time      `json:"sentAt"`
	Deliveries []deliveryView `json:"deliveries"`
}

type deliveryView struct {
	Event      string    `json:"event"`
	Recipients []string  `json:"recipients,omitempty"`
	At         time.Time `json:"at"`
	Detail     string    `json:"detail,omitempty"`
}

// notification is the lead's notification record with its delivery events, recipients masked for
// support staff without a grant; nil when the lead was not (yet) sent.
func (c *call) notification(leadID string) (*notificationView, error) {
	n, err := c.data.Notified(c.ctx, leadID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	mask := func(to []string) []string {
		if !c.d.Masked {
			return to
		}
		out := make([]string, len(to))
		for i, r := range to {
			out[i] = access.MaskEmail(r)
		}
		return out
	}
	v := &notificationView{MessageID: n.MessageID, Recipients: mask(n.Recipients), SentAt: n.SentAt.UTC(), Deliveries: []deliveryView{}}
	for _, d := range n.Deliveries {
		v.Deliveries = append(v.Deliveries, deliveryView{Event: d.Event, Recipients: mask(d.Recipients), At: d.At.UTC(), Detail: d.Detail})
	}
	return v, nil
}

type maskedPersonal struct {
	Name    string `json:"name,omitempty"`
	Email   string `json:"email,omitempty"`
	Phone   string `json:"phone,omitempty"`
	Message string `json:"message,omitempty"`
}

func (c *call) view(l domain.Lead) leadView {
	v := leadView{ID: l.ID, FormID: l.FormID, CampaignID: l.CampaignID, Source: l.Source, CreatedAt: l.CreatedAt,
		ExpiresAt: l.ExpiresAt, Spam: l.Spam, Flags: l.Flags, Restricted: l.Restricted}
	if c.d.Masked {
		p := l.Personal
		v.Masked = &maskedPersonal{Name: access.MaskName(p.Name), Email: access.MaskEmail(p.Email),
			Phone: access.MaskPhone(p.Phone), Message: access.MaskText(p.Message)}
		return v
	}
	p := l.Personal
	v.Personal, v.Consent = &p, l.Consent
	return v
}

func listLeads(c *call) error {
	campaign, ok := c.param("campaignID")
	if !ok {
		return notFound("No such campaign.")
	}
	limit, cursor, p := c.page()
	if p != nil {
		return p
	}
	from, to, p := c.timeRange()
	if p != nil {
		return p
	}
	if _, err := c.data.Campaign(c.ctx, campaign); errors.Is(err, store.ErrNotFound) {
		return notFound("No such campaign.")
	} else if err != nil {
		return err
	}
	tk, err := c.key()
	if err != nil {
		return err
	}
	leads, next, err := c.data.LeadsByCampaign(c.ctx, tk, campaign, store.Page{From: from, To: to, Limit: limit, Cursor: cursor})
	if errors.Is(err, store.ErrBadCursor) {
		return badCursor()
	}
	if err != nil {
		return err
	}
	items := make([]leadView, 0, len(leads))
	targets := []string{"campaign:" + campaign}
	for _, l := range leads {
		if !c.mayUse(l) {
			continue
		}
		items = append(items, c.view(l))
		targets = append(targets, l.ID)
	}
	if err := c.record(ActionLeadList, targets...); err != nil {
		return err
	}
	return c.json(http.StatusOK, list[leadView]{Items: items, Next: next})
}

// lead reads the path's lead, or answers 404: for another tenant's ID exactly as for one that never was.
func (c *call) lead() (domain.Lead, error) {
	tk, err := c.key()
	if err != nil {
		return domain.Lead{}, err
	}
	return fetch(c, "leadID", "lead", func(ctx context.Context, id string) (domain.Lead, error) {
		l, err := c.data.Lead(ctx, tk, id)
		if err == nil && !c.mayUse(l) {
			return domain.Lead{}, store.ErrNotFound
		}
		return l, err
	})
}

// mayUse says whether the caller may see and change a lead: a restricted lead (Art. 18, 21) is kept but
// shown to the tenant's admins only, marked, so that nobody else uses it.
func (c *call) mayUse(l domain.Lead) bool { return !l.Restricted || c.caller.Role == access.Admin }

func getLead(c *call) error {
	l, err := c.lead()
	if err != nil {
		return err
	}
	if err := c.record(ActionLeadRead, l.ID); err != nil {
		return err
	}
	v := c.view(l)
	if v.Notification, err = c.notification(l.ID); err != nil {
		return err
	}
	return c.json(http.StatusOK, v)
}

// leadPatch is a JSON merge patch (RFC 7396) of a lead's personal data: a field set to a string replaces
// it, null removes it, a missing one stays. Custom fields are patched one by one the same way.
type leadPatch struct {
	Name    json.RawMessage            `json:"name"`
	Email   json.RawMessage            `json:"email"`
	Phone   json.RawMessage            `json:"phone"`
	Address json.RawMessage            `json:"address"`
	Company json.RawMessage            `json:"company"`
	Message json.RawMessage            `json:"message"`
	Custom  map[string]json.RawMessage `json:"custom"`
}

// rectifyLead corrects a lead (Art. 16). The old values are overwritten, not kept.
func rectifyLead(c *call) error {
	l, err := c.lead()
	if err != nil {
		return err
	}
	var patch leadPatch
	if p := c.decode(&patch, "application/merge-patch+json"); p != nil {
		return p
	}
	region, rule := normalize.DefaultRegion, normalize.PhonePossible
	// Custom fields are those the lead has or its form collects: rectification corrects data, it does
	// not collect new kinds of it.
	customOK := map[string]bool{}
	for k := range l.Personal.Custom {
		customOK[k] = true
	}
	if f, err := c.data.Form(c.ctx, l.FormID); err == nil {
		region = f.Region()
		if f.PhoneRule() == domain.PhoneStrict {
			rule = normalize.PhoneStrict
		}
		for _, target := range f.Fields {
			if k, ok := strings.CutPrefix(target, domain.CustomPrefix); ok {
				customOK[k] = true
			}
		}
	}
	p := l.Personal
	var errs []problem.FieldError
	var changed []string
	apply := func(field string, raw json.RawMessage, dst *string, clean func(string) (string, error)) {
		if raw == nil {
			return
		}
		v, ok := patchValue(raw)
		if !ok {
			errs = append(errs, problem.FieldError{Field: field, Code: "type", Message: "A string, or null to remove it."})
			return
		}
		if v != "" {
			var err error
			if v, err = clean(v); err != nil {
				errs = append(errs, problem.FieldError{Field: field, Code: "invalid", Message: err.Error()})
				return
			}
		}
		if *dst != v {
			*dst = v
			changed = append(changed, "field:"+field)
		}
	}
	guarded := func(clean func(string) string) func(string) (string, error) {
		return func(s string) (string, error) {
			s = clean(s)
			if len(guard.Scan(s)) > 0 {
				return "", errors.New("holds a CPR or payment card number, which Leadvault must not store")
			}
			return s, nil
		}
	}
	// The same cleaning as intake's: one-line fields lose controls and line breaks, free text its controls.
	text, line := guarded(normalize.FreeText), guarded(normalize.SingleLine)
	apply("name", patch.Name, &p.Name, line)
	apply("email", patch.Email, &p.Email, normalize.Email)
	// The phone number is normalised as intake does for the lead's form, so its blind index matches.
	// Its phone_unverified flag follows the new number, as intake would have set it.
	flags := slices.DeleteFunc(slices.Clone(l.Flags), func(f string) bool { return f == domain.FlagPhoneUnverified })
	phoneVerified := !slices.Contains(l.Flags, domain.FlagPhoneUnverified)
	apply("phone", patch.Phone, &p.Phone, func(s string) (string, error) {
		e164, valid, err := normalize.ParsePhone(s, region, rule)
		phoneVerified = valid
		return e164, err
	})
	if p.Phone != "" && !phoneVerified {
		flags = append(flags, domain.FlagPhoneUnverified)
	}
	if len(flags) == 0 {
		flags = nil
	}
	apply("address", patch.Address, &p.Address, text)
	apply("company", patch.Company, &p.Company, line)
	apply("message", patch.Message, &p.Message, text)
	if len(patch.Custom) > 0 {
		custom := map[string]string{}
		for k, v := range p.Custom {
			custom[k] = v
		}
		names := make([]string, 0, len(patch.Custom))
		for k := range patch.Custom {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			if !customOK[k] {
				errs = append(errs, problem.FieldError{Field: "custom." + k, Code: "unknown", Message: "Neither this lead nor its form has this field."})
				continue
			}
			v := custom[k]
			apply("custom."+k, patch.Custom[k], &v, text)
			if v == "" {
				delete(custom, k)
			} else {
				custom[k] = v
			}
		}
		p.Custom = custom
		if len(custom) == 0 {
			p.Custom = nil
		}
	}
	if len(errs) > 0 {
		return invalid(errs...)
	}
	if err := c.record(ActionLeadRectify, append([]string{l.ID}, changed...)...); err != nil {
		return err
	}
	if len(changed) == 0 {
		return c.json(http.StatusOK, c.view(l))
	}
	tk, err := c.key()
	if err != nil {
		return err
	}
	l, err = c.data.RectifyLead(c.ctx, tk, l.ID, p, flags)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("No such lead.")
	}
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, c.view(l))
}

// patchValue reads a merge-patch member: a string, or null for "remove" ("").
func patchValue(raw json.RawMessage) (string, bool) {
	if string(raw) == "null" {
		return "", true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// deleteLead deletes one lead and, with the last lead of its subject, the subject's key (E8).
func deleteLead(c *call) error {
	id, ok := c.param("leadID")
	if !ok {
		return notFound("No such lead.")
	}
	// Read first, so that another tenant's ID or an unknown one is a 404 with nothing recorded as
	// deleted.
	if _, err := c.lead(); err != nil {
		return err
	}
	if err := c.record(ActionLeadDelete, id); err != nil {
		return err
	}
	err := c.data.DeleteLead(c.ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("No such lead.")
	}
	if err != nil {
		return err
	}
	return c.noContent()
}
