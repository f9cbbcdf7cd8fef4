// Package subproc announces planned changes of sub-processors to every controller (Art. 28(2); S4/E13):
// the change is recorded, every tenant's admins are mailed (through the outbox the notifier sends) and the
// announcement is recorded in every tenant's audit trail.
package subproc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"leadvault/shared/audit"
	"leadvault/shared/domain"
	"leadvault/shared/store"
)

// Store is what an announcement needs of the table.
type Store interface {
	ProposeSubprocessorChange(ctx context.Context, c domain.SubprocessorChange) (domain.SubprocessorChange, error)
	TenantIDs(ctx context.Context) ([]string, error)
	Tenant(ctx context.Context, id string) (domain.Tenant, error)
	Scoped(tenant string) *store.Scoped
}

// Auditor appends to the tenants' audit trails.
type Auditor interface {
	Append(ctx context.Context, r audit.Record) (audit.Record, error)
}

// ActionProposed is the audit action of an announcement; targets: change:<id>, effective:<date>.
const ActionProposed = "subprocessor.proposed"

// Propose records the change and tells every tenant; it returns the change and how many tenants' admins
// were mailed (a tenant without admins gets the audit record only). A tenant whose mail or audit record
// fails is reported in the error; the others are told.
func Propose(ctx context.Context, st Store, trail Auditor, c domain.SubprocessorChange, operator string) (domain.SubprocessorChange, int, error) {
	c, err := st.ProposeSubprocessorChange(ctx, c)
	if err != nil {
		return c, 0, err
	}
	tenants, err := st.TenantIDs(ctx)
	if err != nil {
		return c, 0, err
	}
	what := map[string]string{"add": "add", "replace": "replace " + c.Replaces + " with", "remove": "stop using"}[c.Kind]
	text := fmt.Sprintf("Leadvault plans to %s a sub-processor, from %s:\n\n  %s, %s\n  what it does: %s\n  data: %s\n  location: %s\n\n"+
		"You may object until %s (7 days), with your reason:\n  POST /v1/subprocessors/changes/%s/objections\n"+
		"in the controller API (admins). The planned changes are at GET /v1/subprocessors/changes, the register at\n"+
		"GET /v1/subprocessors.\n\nThis mail holds no personal data.\n",
		what, c.EffectiveAt.UTC().Format("2 January 2006"), c.Name, c.Address, c.Service, c.Data, c.Location,
		c.ObjectionDeadline.UTC().Format("2 January 2006 15:04 MST"), c.ID)
	told := 0
	var errs []error
	for _, id := range tenants {
		t, err := st.Tenant(ctx, id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		v := st.Scoped(id)
		if _, err := trail.Append(ctx, audit.Record{Tenant: id, ActorID: operator, ActorRole: "operator", Action: ActionProposed,
			Targets: []string{"change:" + c.ID, "effective:" + c.EffectiveAt.UTC().Format(time.DateOnly)}, At: c.ProposedAt,
			Retention: time.Duration(t.AuditRetentionDays) * 24 * time.Hour}); err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: %w", id, err))
			continue
		}
		admins, err := v.AdminEmails(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: %w", id, err))
			continue
		}
		if len(admins) == 0 {
			continue // no one to mail (a tenant not yet onboarded); the audit record stands
		}
		m := domain.Mail{TenantID: id, ID: "subprocessor-" + c.ID, Kind: domain.MailSubprocessor, To: admins, Ref: "subprocessor:" + c.ID,
			CreatedAt: c.ProposedAt, Subject: "Planned change of sub-processors: " + strings.TrimSpace(what+" "+c.Name), Text: text}
		if err := v.QueueMail(ctx, m); err != nil && !errors.Is(err, store.ErrExists) {
			errs = append(errs, fmt.Errorf("tenant %s: %w", id, err))
			continue
		}
		told++
	}
	return c, told, errors.Join(errs...)
}
