// Package incident handles personal-data breaches for the processor (Art. 33(2), 28(3)(f); S9, S8): the
// scope of an incident is computed from the system (which tenants, forms and campaigns held data in the
// window, approximate numbers of subjects and records, the categories of data, what the named actors read
// or exported), each affected tenant's admins get an initial notice at once and a detailed one within 36
// hours, each with the Art. 33(3) content and drafts for the controller's own notices, and the deadlines are
// watched.
package incident

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"leadvault/shared/audit"
	"leadvault/shared/domain"
	"leadvault/shared/posture"
	"leadvault/shared/record"
	"leadvault/shared/store"
)

// Store is what incidents need of the table.
type Store interface {
	PutIncident(ctx context.Context, in domain.Incident, scopes map[string]domain.IncidentScope) error
	Incident(ctx context.Context, id string) (domain.Incident, error)
	Incidents(ctx context.Context) ([]domain.Incident, error)
	CloseIncident(ctx context.Context, id string, at time.Time) error
	TenantIDs(ctx context.Context) ([]string, error)
	Tenant(ctx context.Context, id string) (domain.Tenant, error)
	Scoped(tenant string) *store.Scoped
}

// Auditor reads and appends to the tenants' audit trails.
type Auditor interface {
	Append(ctx context.Context, r audit.Record) (audit.Record, error)
	List(ctx context.Context, tenant string, q audit.Query) ([]audit.Record, string, error)
}

var (
	_ Store   = (*store.Store)(nil)
	_ Auditor = (*audit.Log)(nil)
)

// The audit actions recorded in each affected tenant's trail.
const (
	ActionOpened = "incident.opened" // targets: incident:<id>
	ActionNotice = "incident.notice" // targets: incident:<id>, kind:<initial|detailed|update>
	ActionClosed = "incident.closed" // targets: incident:<id>
)

// Service opens incidents and sends their notices.
type Service struct {
	st       Store
	trail    Auditor
	operator string
}

// New returns a Service acting as operator (recorded in the trails).
func New(st Store, trail Auditor, operator string) *Service {
	return &Service{st: st, trail: trail, operator: operator}
}

// Opening is what the operators know when they open an incident.
type Opening struct {
	ID, Nature           string
	Discovered, From, To time.Time
	// Tenants limits the incident to these tenants; empty means every tenant with data in the window or
	// records of the actors.
	Tenants []string
	// Actors are the user IDs an access incident concerns.
	Actors []string
}

// Open computes the scope, records the incident and sends every affected tenant's admins the initial
// notice. It returns the incident with the scope per tenant.
func (s *Service) Open(ctx context.Context, o Opening, now time.Time) (domain.Incident, map[string]domain.IncidentScope, error) {
	if o.From.IsZero() {
		o.From = o.Discovered.Add(-30 * 24 * time.Hour)
	}
	if o.To.IsZero() {
		o.To = o.Discovered
	}
	tenants := o.Tenants
	if len(tenants) == 0 {
		var err error
		if tenants, err = s.st.TenantIDs(ctx); err != nil {
			return domain.Incident{}, nil, err
		}
	}
	scopes := map[string]domain.IncidentScope{}
	var affected []string
	for _, t := range tenants {
		sc, err := s.scope(ctx, t, o)
		if err != nil {
			return domain.Incident{}, nil, err
		}
		if len(o.Tenants) > 0 || sc.Leads > 0 || len(sc.Access) > 0 {
			scopes[t] = sc
			affected = append(affected, t)
		}
	}
	in := domain.Incident{ID: o.ID, Nature: o.Nature, Discovered: o.Discovered, From: o.From, To: o.To, Actors: o.Actors,
		Tenants: affected, State: domain.IncidentOpen, OpenedAt: now}
	if err := s.st.PutIncident(ctx, in, scopes); err != nil {
		return in, scopes, err
	}
	var errs []error
	for _, t := range affected {
		if err := s.audit(ctx, t, ActionOpened, now, "incident:"+in.ID); err != nil {
			errs = append(errs, err)
			continue
		}
		in.Scope = scopes[t]
		if err := s.send(ctx, t, in, domain.NoticeInitial, "Under assessment; the detailed notice follows within 36 hours of discovery.",
			"Under assessment; the detailed notice says what was done.", now); err != nil {
			errs = append(errs, err)
		}
	}
	in.Scope = domain.IncidentScope{}
	return in, scopes, errors.Join(errs...)
}

// scope computes what the incident concerns in tenant t.
func (s *Service) scope(ctx context.Context, t string, o Opening) (domain.IncidentScope, error) {
	v := s.st.Scoped(t)
	forms, err := v.AllForms(ctx)
	if err != nil {
		return domain.IncidentScope{}, err
	}
	sc := domain.IncidentScope{Access: map[string]int{}}
	cats, campaigns := map[string]bool{}, map[string]bool{}
	for _, f := range forms {
		if campaigns[f.CampaignID] {
			continue
		}
		campaigns[f.CampaignID] = true
		leads, subjects, err := v.CampaignLeads(ctx, f.CampaignID, o.From, o.To)
		if err != nil {
			return sc, err
		}
		if leads == 0 {
			continue
		}
		sc.Forms = append(sc.Forms, f.ID)
		sc.Campaigns = append(sc.Campaigns, f.CampaignID)
		sc.Leads += leads
		sc.Subjects += subjects
		if len(f.Recipients) > 0 {
			sc.Notifications += leads // each lead of a form with recipients is notified once
		}
		for _, c := range record.Categories(f) {
			cats[c] = true
		}
	}
	sc.Categories = slices.Sorted(maps.Keys(cats))
	for _, actor := range o.Actors {
		for cursor := ""; ; {
			recs, next, err := s.trail.List(ctx, t, audit.Query{From: o.From, To: o.To, Actor: actor, Limit: audit.MaxPage, Cursor: cursor})
			if err != nil {
				return sc, err
			}
			for _, r := range recs {
				sc.Access[r.Action]++
			}
			if cursor = next; cursor == "" {
				break
			}
		}
	}
	if len(sc.Access) == 0 {
		sc.Access = nil
	}
	return sc, nil
}

// Notice sends a detailed notice or an update to every affected tenant, with the likely consequences and
// the measures taken or proposed.
func (s *Service) Notice(ctx context.Context, id, kind, consequences, measures string, now time.Time) error {
	if kind != domain.NoticeDetailed && kind != domain.NoticeUpdate {
		return fmt.Errorf("a notice is detailed or an update, not %q", kind)
	}
	in, err := s.st.Incident(ctx, id)
	if err != nil {
		return err
	}
	if in.State != domain.IncidentOpen {
		return fmt.Errorf("incident %s is %s", id, in.State)
	}
	var errs []error
	for _, t := range in.Tenants {
		view, err := s.st.Scoped(t).Incident(ctx, id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		in.Scope = view.Scope
		if err := s.send(ctx, t, in, kind, consequences, measures, now); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Close closes the incident and records it in the tenants' trails.
func (s *Service) Close(ctx context.Context, id string, now time.Time) error {
	in, err := s.st.Incident(ctx, id)
	if err != nil {
		return err
	}
	if err := s.st.CloseIncident(ctx, id, now); err != nil {
		return err
	}
	var errs []error
	for _, t := range in.Tenants {
		errs = append(errs, s.audit(ctx, t, ActionClosed, now, "incident:"+id))
	}
	return errors.Join(errs...)
}

// send appends a notice to the tenant's view, mails it to its admins and records it in its trail.
func (s *Service) send(ctx context.Context, t string, in domain.Incident, kind, consequences, measures string, now time.Time) error {
	tenant, err := s.st.Tenant(ctx, t)
	if err != nil {
		return err
	}
	text := NoticeText(tenant.Name, in, kind, consequences, measures)
	v := s.st.Scoped(t)
	if err := s.audit(ctx, t, ActionNotice, now, "incident:"+in.ID, "kind:"+kind); err != nil {
		return err
	}
	if err := v.AppendNotice(ctx, in.ID, domain.IncidentNotice{Kind: kind, At: now, Text: text}); err != nil {
		return err
	}
	admins, err := v.AdminEmails(ctx)
	if err != nil || len(admins) == 0 {
		return err
	}
	m := domain.Mail{TenantID: t, ID: "incident-" + in.ID + "-" + kind + "-" + now.UTC().Format("20060102T150405"), Kind: domain.MailIncident,
		To: admins, Ref: "incident:" + in.ID, CreatedAt: now,
		Subject: fmt.Sprintf("Personal data breach %s: %s notice (discovered %s)", in.ID, kind, in.Discovered.UTC().Format(time.RFC3339)), Text: text}
	if err := v.QueueMail(ctx, m); err != nil && !errors.Is(err, store.ErrExists) {
		return err
	}
	return nil
}

func (s *Service) audit(ctx context.Context, t, action string, at time.Time, targets ...string) error {
	tenant, err := s.st.Tenant(ctx, t)
	if err != nil {
		return err
	}
	_, err = s.trail.Append(ctx, audit.Record{Tenant: t, ActorID: s.operator, ActorRole: "operator", Action: action, Targets: targets,
		At: at, Retention: time.Duration(tenant.AuditRetentionDays) * 24 * time.Hour})
	return err
}

// NoticeText is a notice with the content Art. 33(3) asks of the controller's own notice, so the controller
// can notify its supervisory authority within 72 hours, and drafts for that notice and, where the breach is
// likely to result in a high risk, for the data subjects (Art. 34).
func NoticeText(controller string, in domain.Incident, kind, consequences, measures string) string {
	sc := in.Scope
	var b strings.Builder
	fmt.Fprintf(&b, "%s notice of a personal data breach affecting %s (incident %s)\n\n", strings.ToUpper(kind[:1])+kind[1:], controller, in.ID)
	fmt.Fprintf(&b, "Discovered: %s. Window examined: %s to %s. Initial notice due by %s, detailed by %s.\n\n",
		in.Discovered.UTC().Format(time.RFC3339), in.From.UTC().Format(time.RFC3339), in.To.UTC().Format(time.RFC3339),
		in.Discovered.Add(domain.InitialNoticeDue).UTC().Format(time.RFC3339), in.Discovered.Add(domain.DetailedNoticeDue).UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "1. Nature of the breach: %s\n\n", in.Nature)
	fmt.Fprintf(&b, "2. Categories and approximate numbers of data subjects and of records:\n"+
		"   - data subjects: about %d (people who submitted your forms %s in the window)\n"+
		"   - records: about %d leads and %d notification records\n"+
		"   - categories of personal data: %s\n", sc.Subjects, strings.Join(sc.Forms, ", "), sc.Leads, sc.Notifications, strings.Join(sc.Categories, ", "))
	if len(sc.Access) > 0 {
		var acts []string
		for _, a := range slices.Sorted(maps.Keys(sc.Access)) {
			acts = append(acts, fmt.Sprintf("%s ×%d", a, sc.Access[a]))
		}
		fmt.Fprintf(&b, "   - what the accounts concerned (%s) did in the window, from your audit trail: %s\n", strings.Join(in.Actors, ", "), strings.Join(acts, ", "))
	}
	fmt.Fprintf(&b, "\n3. Contact point for more information: %s, %s (data protection officer: %s)\n\n", posture.Processor.Name, posture.Processor.Contact, posture.Processor.DPO)
	fmt.Fprintf(&b, "4. Likely consequences: %s\n\n5. Measures taken or proposed: %s\n\n", consequences, measures)
	b.WriteString("Counts are approximate: they are computed from the stored leads of the window, not from the data itself.\n\n")
	fmt.Fprintf(&b, "--- Draft of your notice to the supervisory authority (Art. 33) ---\n"+
		"%s reports a personal data breach at its processor Leadvault, discovered %s: %s. About %d data subjects and %d records are "+
		"concerned (%s). Likely consequences: %s. Measures: %s. Contact: [your DPO].\n\n",
		controller, in.Discovered.UTC().Format("2 January 2006"), in.Nature, sc.Subjects, sc.Leads+sc.Notifications,
		strings.Join(sc.Categories, ", "), consequences, measures)
	fmt.Fprintf(&b, "--- Draft of a notice to the data subjects, if the breach is likely to result in a high risk (Art. 34) ---\n"+
		"We are writing because personal data you gave us through our forms may have been affected by a security incident at our "+
		"service provider, discovered on %s: %s. The data concerned: %s. What it may mean for you: %s. What we and our provider "+
		"have done: %s. Contact: [your contact point].\n",
		in.Discovered.UTC().Format("2 January 2006"), in.Nature, strings.Join(sc.Categories, ", "), consequences, measures)
	return b.String()
}

// Due is a notice that is due soon or late.
type Due struct {
	Incident, Tenant, Kind string
	DueAt                  time.Time
	Late                   bool
}

// Deadlines lists the notices of open incidents that are due within domain.NoticeWarning of now, or late.
func (s *Service) Deadlines(ctx context.Context, now time.Time) ([]Due, error) {
	incidents, err := s.st.Incidents(ctx)
	if err != nil {
		return nil, err
	}
	return DueNotices(incidents, now), nil
}

// DueNotices is Deadlines over incidents already read.
func DueNotices(incidents []domain.Incident, now time.Time) []Due {
	var out []Due
	for _, in := range incidents {
		if in.State != domain.IncidentOpen {
			continue
		}
		for _, t := range in.Tenants {
			for _, n := range []struct {
				kind string
				due  time.Time
				sent []string
			}{{domain.NoticeInitial, in.Discovered.Add(domain.InitialNoticeDue), in.InitialSent},
				{domain.NoticeDetailed, in.Discovered.Add(domain.DetailedNoticeDue), in.DetailedSent}} {
				if slices.Contains(n.sent, t) || now.Add(domain.NoticeWarning).Before(n.due) {
					continue
				}
				out = append(out, Due{Incident: in.ID, Tenant: t, Kind: n.kind, DueAt: n.due, Late: now.After(n.due)})
			}
		}
	}
	return out
}
