// Package relay records a data subject's request that reached the processor instead of the controller
// (obligation S7, last sentence): it is stored awaiting the controller's confirmation, the tenant's admins
// are mailed at once (no personal data: "a request is waiting", with its ID), and the tenant's audit trail
// records it. The controller then confirms it (POST /v1/subject-requests/{id}/confirm) or declines it.
package relay

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"leadvault/shared/audit"
	"leadvault/shared/domain"
	"leadvault/shared/normalize"
	"leadvault/shared/store"
	"leadvault/shared/vault"
)

// Store is what relaying needs from the table.
type Store interface {
	Tenant(ctx context.Context, id string) (domain.Tenant, error)
	Scoped(tenant string) *store.Scoped
}

// Keys unwraps tenant keys.
type Keys interface {
	TenantKey(ctx context.Context, tenantID string, wrapped []byte) (*vault.TenantKey, error)
}

// Auditor appends to a tenant's audit trail.
type Auditor interface {
	Append(ctx context.Context, r audit.Record) (audit.Record, error)
}

// Request is a data subject's request as the processor received it.
type Request struct {
	Tenant string
	Kind   domain.RequestKind
	// Received is when the processor received it; Channel how (e-mail, letter, phone, …).
	Received time.Time
	Channel  string
	// Email, Phone and Region name the subject (see normalize.Subject); they are never logged.
	Email, Phone, Region string
	// Operator is who recorded it.
	Operator string
}

// ActionRelay is the audit action of a relayed request.
const ActionRelay = "subject-request.relay"

// ErrInvalid wraps what is wrong with a Request.
var ErrInvalid = errors.New("invalid relayed request")

// Relay records req awaiting the controller and mails the tenant's admins.
func Relay(ctx context.Context, st Store, keys Keys, trail Auditor, req Request, id string, now time.Time) (domain.SubjectRequest, error) {
	var problems []string
	if !req.Kind.Valid() {
		problems = append(problems, fmt.Sprintf("kind %q is not one of the request kinds", req.Kind))
	}
	if req.Kind == domain.KindRectification {
		problems = append(problems, "a rectification names new values: relay it as access and let the controller rectify")
	}
	channel := normalize.SingleLine(req.Channel)
	if channel == "" {
		problems = append(problems, "the channel it came by is required")
	}
	if req.Received.IsZero() || req.Received.After(now.Add(5*time.Minute)) {
		problems = append(problems, "the time it was received is required and may not lie in the future")
	}
	email, phone, errs := normalize.Subject(req.Email, req.Phone, req.Region)
	for _, e := range errs {
		problems = append(problems, e.Field+" "+e.Message)
	}
	if len(problems) > 0 {
		return domain.SubjectRequest{}, fmt.Errorf("%w: %s", ErrInvalid, strings.Join(problems, "; "))
	}
	t, err := st.Tenant(ctx, req.Tenant)
	if err != nil {
		return domain.SubjectRequest{}, fmt.Errorf("relay to tenant %s: %w", req.Tenant, err)
	}
	tk, err := keys.TenantKey(ctx, t.ID, t.WrappedKey)
	if err != nil {
		return domain.SubjectRequest{}, fmt.Errorf("relay to tenant %s: %w", req.Tenant, err)
	}
	v := st.Scoped(t.ID)
	admins, err := v.AdminEmails(ctx)
	if err != nil {
		return domain.SubjectRequest{}, fmt.Errorf("relay to tenant %s: %w", req.Tenant, err)
	}
	if len(admins) == 0 {
		return domain.SubjectRequest{}, fmt.Errorf("relay to tenant %s: the tenant has no admin to tell", req.Tenant)
	}
	received := req.Received.UTC()
	r := domain.SubjectRequest{TenantID: t.ID, ID: id, Kind: req.Kind, State: domain.StateAwaiting,
		Subject:     store.IndexSubject(tk, email, phone),
		Instruction: domain.Instruction{Reference: "relayed by the processor (" + channel + ")", ReceivedAt: received},
		DueAt:       domain.DueAfter(received), CreatedAt: now, UpdatedAt: now, CreatedBy: req.Operator, Channel: channel}
	rec, err := trail.Append(ctx, audit.Record{Tenant: t.ID, ActorID: req.Operator, ActorRole: "operator", Action: ActionRelay,
		Targets:   []string{"request:" + id, "kind:" + string(req.Kind), "channel:" + channel},
		Retention: time.Duration(t.AuditRetentionDays) * 24 * time.Hour})
	if err != nil {
		return domain.SubjectRequest{}, fmt.Errorf("relay to tenant %s: audit: %w", req.Tenant, err)
	}
	r.AuditSeqs = []int64{rec.Seq}
	created, _, err := v.CreateSubjectRequest(ctx, tk, r, store.Idempotency{})
	if err != nil {
		return domain.SubjectRequest{}, err
	}
	m := domain.Mail{TenantID: t.ID, ID: "relay-" + id, Kind: domain.MailRelayedRequest, To: admins, Ref: "request:" + id, CreatedAt: now,
		Subject: "A data subject's request awaits your decision (" + string(req.Kind) + ")",
		Text: fmt.Sprintf("A data subject's %s request reached Leadvault, your processor, by %s on %s.\n\n"+
			"Request: %s\nDue (one month after receipt, GDPR Art. 12(3)): %s\n\n"+
			"Confirm it to have it carried out, or decline it with your reason, in the controller API:\n"+
			"  POST /v1/subject-requests/%s/confirm\n  POST /v1/subject-requests/%s/decline\n\n"+
			"This mail holds no personal data; the request shows what was received.\n",
			req.Kind, channel, received.Format("2 January 2006 15:04 MST"), id, created.DueAt.Format("2 January 2006"), id, id)}
	if err := v.QueueMail(ctx, m); err != nil && !errors.Is(err, store.ErrExists) {
		return created, err
	}
	return created, nil
}
