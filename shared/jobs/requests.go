package jobs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"leadvault/shared/audit"
	"leadvault/shared/domain"
	"leadvault/shared/export"
	"leadvault/shared/layout"
	"leadvault/shared/metrics"
	"leadvault/shared/store"
	"leadvault/shared/vault"
)

// Keys unwraps tenant keys.
type Keys interface {
	TenantKey(ctx context.Context, tenantID string, wrapped []byte) (*vault.TenantKey, error)
}

// Objects writes archives and deletes sent-mail copies (S3).
type Objects interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, opts ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
	// ListObjectsV2 finds a purged tenant's objects.
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
}

// Auditor appends to a tenant's audit trail, and reads it for a return archive.
type Auditor interface {
	Append(ctx context.Context, r audit.Record) (audit.Record, error)
	List(ctx context.Context, tenant string, q audit.Query) ([]audit.Record, string, error)
}

var (
	_ Keys    = (*vault.Vault)(nil)
	_ Objects = (*s3.Client)(nil)
	_ Auditor = (*audit.Log)(nil)
)

// The audit actions of the jobs function; its records name it as actor.
const (
	ActionSubjectRequestDone   = "subject-request.done"   // targets: request:<id>, kind:<kind>, found:<n>, erased:<n>
	ActionSubjectRequestFailed = "subject-request.failed" // targets: request:<id>, kind:<kind>
	ActorJobs                  = "leadvault-jobs"
	RoleSystem                 = "system"
)

// RequestConfig is where subject requests put and find things.
type RequestConfig struct {
	// ExportBucket receives access and export archives; SentBucket holds the copies of sent mail an
	// erasure deletes; KeyID is the KMS key the archives are encrypted under.
	ExportBucket, SentBucket, KeyID string
	// Processor and StorageLocation are the processing facts an archive states.
	Processor, StorageLocation string
}

// MaxRequestAttempts is how many times a subject request is tried before it is failed for good.
const MaxRequestAttempts = 5

// WithSubjectRequests lets the runner carry out data-subject requests besides campaign deletions.
func (r *Runner) WithSubjectRequests(keys Keys, objects Objects, log Auditor, cfg RequestConfig) *Runner {
	r.keys, r.objects, r.audit, r.reqCfg = keys, objects, log, cfg
	return r
}

// RunRequest carries out one step of a subject request, if no other runner holds it: an access or export
// request in one step, an erasure StepSize leads at a time, each step's saved progress triggering the next
// on the stream. A failed step leaves the request to the schedule once its lease lapses; after
// MaxRequestAttempts it is failed, with a reason that holds no personal data.
func (r *Runner) RunRequest(ctx context.Context, tenant, id string) error {
	if r.keys == nil {
		return fmt.Errorf("subject request %s/%s: the runner was not given subject requests", tenant, id)
	}
	v := r.store.Scoped(tenant)
	req, claimed, err := v.ClaimSubjectRequest(ctx, id)
	if err != nil || !claimed {
		return err
	}
	start := time.Now()
	t, err := r.store.Tenant(ctx, tenant)
	if err != nil {
		return fmt.Errorf("subject request %s/%s: read tenant: %w", tenant, id, err)
	}
	if req.Attempts > MaxRequestAttempts {
		req.State, req.Failure = domain.StateFailed, fmt.Sprintf("gave up after %d attempts", MaxRequestAttempts)
		r.log.Error("subject request failed", "tenant", tenant, "request", id, "kind", string(req.Kind), "attempts", req.Attempts)
		seq, err := r.recordFinished(ctx, t, req)
		if err != nil {
			return err
		}
		req.AuditSeqs = append(req.AuditSeqs, seq)
		_, err = v.SaveSubjectRequest(ctx, req)
		return err
	}
	next, err := r.requestStep(ctx, v, t, req)
	if err != nil {
		// The lease stays: a retry of this stream record finds the request held, and the schedule takes it
		// up again when the lease lapses.
		r.log.Error("subject request step failed", "tenant", tenant, "request", id, "kind", string(req.Kind), "error", err.Error())
		return fmt.Errorf("subject request %s/%s: %w", tenant, id, err)
	}
	next.Attempts = 0
	if next.State.Finished() {
		// Recorded first: a save that fails after it is retried, and the trail then shows the step twice
		// rather than a finished request without its record.
		seq, err := r.recordFinished(ctx, t, next)
		if err != nil {
			return err
		}
		next.AuditSeqs = append(next.AuditSeqs, seq)
	}
	saved, err := v.SaveSubjectRequest(ctx, next)
	if err != nil {
		return fmt.Errorf("subject request %s/%s: %w", tenant, id, err)
	}
	r.log.Info("subject request step", "tenant", tenant, "request", id, "kind", string(saved.Kind), "state", string(saved.State),
		"found", saved.Found.Leads, "erased", saved.Erased, "ms", time.Since(start).Milliseconds())
	return nil
}

// RunRequestToEnd steps one subject request until it is finished (tests and the operator CLI).
func (r *Runner) RunRequestToEnd(ctx context.Context, tenant, id string) (domain.SubjectRequest, error) {
	for {
		if err := r.RunRequest(ctx, tenant, id); err != nil {
			return domain.SubjectRequest{}, err
		}
		req, err := r.store.Scoped(tenant).SubjectRequest(ctx, nil, id)
		if err != nil || req.State.Finished() || req.State == domain.StateAwaiting {
			return req, err
		}
	}
}

// recordFinished appends the finished request to the tenant's audit trail, without personal data.
func (r *Runner) recordFinished(ctx context.Context, t domain.Tenant, req domain.SubjectRequest) (int64, error) {
	action, targets := ActionSubjectRequestDone, []string{"request:" + req.ID, "kind:" + string(req.Kind),
		fmt.Sprintf("found:%d", req.Found.Leads), fmt.Sprintf("erased:%d", req.Erased)}
	if req.State == domain.StateFailed {
		action, targets = ActionSubjectRequestFailed, targets[:2]
	}
	rec, err := r.audit.Append(ctx, audit.Record{Tenant: t.ID, ActorID: ActorJobs, ActorRole: RoleSystem, Action: action,
		Targets: targets, Retention: time.Duration(t.AuditRetentionDays) * 24 * time.Hour})
	if err != nil {
		return 0, fmt.Errorf("subject request %s/%s: audit: %w", t.ID, req.ID, err)
	}
	return rec.Seq, nil
}

func (r *Runner) requestStep(ctx context.Context, v *store.Scoped, t domain.Tenant, req domain.SubjectRequest) (domain.SubjectRequest, error) {
	tk, err := r.keys.TenantKey(ctx, t.ID, t.WrappedKey)
	if err != nil {
		return req, fmt.Errorf("tenant key: %w", err)
	}
	ids, err := v.LeadsOfSubject(ctx, req.Subject)
	if err != nil {
		return req, err
	}
	switch req.Kind {
	case domain.KindAccess, domain.KindExport:
		return r.exportSubject(ctx, v, tk, t, req, ids)
	case domain.KindErasure:
		return r.eraseSubject(ctx, v, tk, req, ids)
	case domain.KindRestriction, domain.KindObjection:
		return r.restrictSubject(ctx, v, tk, req, ids)
	case domain.KindLiftRestriction:
		return r.liftRestriction(ctx, v, tk, req, ids)
	case domain.KindRectification:
		return r.rectifySubject(ctx, v, tk, req, ids)
	}
	req.State, req.Failure = domain.StateFailed, fmt.Sprintf("requests of kind %q are not carried out", req.Kind)
	return req, nil
}

// restrictSubject restricts every lead of the subject (Art. 18) — for an objection (Art. 21) flagged so —
// and marks the subject's identifiers, so that new leads arrive restricted; the recipients of leads
// already sent are told (Art. 19).
func (r *Runner) restrictSubject(ctx context.Context, v *store.Scoped, tk *vault.TenantKey, req domain.SubjectRequest, ids []string) (domain.SubjectRequest, error) {
	leads, notified, err := v.SubjectRecords(ctx, tk, ids)
	if err != nil {
		return req, err
	}
	req.Found = found(leads, notified)
	objected := req.Kind == domain.KindObjection
	if err := v.MarkSubject(ctx, req.Subject, objected, req.ID, time.Now().UTC()); err != nil {
		return req, err
	}
	flag := ""
	if objected {
		flag = domain.FlagObjection
	}
	if _, err := v.RestrictLeads(ctx, ids, true, flag); err != nil {
		return req, err
	}
	if err := r.noticeRecipients(ctx, v, req, leads, notified, "restricted"); err != nil {
		return req, err
	}
	req.State = domain.StateDone
	return req, nil
}

// liftRestriction lifts the restriction and any objection of the subject: the markers go, the leads are
// usable again (the lifting is recorded in the request and the audit trail).
func (r *Runner) liftRestriction(ctx context.Context, v *store.Scoped, tk *vault.TenantKey, req domain.SubjectRequest, ids []string) (domain.SubjectRequest, error) {
	leads, notified, err := v.SubjectRecords(ctx, tk, ids)
	if err != nil {
		return req, err
	}
	req.Found = found(leads, notified)
	if err := v.UnmarkSubject(ctx, req.Subject); err != nil {
		return req, err
	}
	if _, err := v.RestrictLeads(ctx, ids, false, domain.FlagObjection); err != nil {
		return req, err
	}
	req.State = domain.StateDone
	return req, nil
}

// rectifySubject sets the request's new values in every lead of the subject (Art. 16); the old values are
// not kept. The recipients of leads already sent are told (Art. 19).
func (r *Runner) rectifySubject(ctx context.Context, v *store.Scoped, tk *vault.TenantKey, req domain.SubjectRequest, ids []string) (domain.SubjectRequest, error) {
	full, err := v.SubjectRequest(ctx, tk, req.ID)
	if err != nil {
		return req, err
	}
	if full.Changes == nil || full.Changes.Empty() {
		req.State, req.Failure = domain.StateFailed, "the request names no new values"
		return req, nil
	}
	leads, notified, err := v.SubjectRecords(ctx, tk, ids)
	if err != nil {
		return req, err
	}
	req.Found = found(leads, notified)
	for _, l := range leads {
		p, flags := full.Changes.Apply(l.Personal, l.Flags)
		if _, err := v.RectifyLead(ctx, tk, l.ID, p, flags); err != nil && !errors.Is(err, store.ErrNotFound) {
			return req, err
		}
	}
	if err := r.noticeRecipients(ctx, v, req, leads, notified, "rectified"); err != nil {
		return req, err
	}
	req.State = domain.StateDone
	return req, nil
}

// noticeRecipients queues, for each lead that was already sent, a notice to its recipients that the lead
// was rectified, erased or restricted (Art. 19), through the notifier's SES path. The notice names the lead
// and what happened, nothing of the person; its ID makes a retried step queue nothing twice.
func (r *Runner) noticeRecipients(ctx context.Context, v *store.Scoped, req domain.SubjectRequest, leads []domain.Lead, notified map[string]domain.Notification, what string) error {
	ask := map[string]string{
		"erased":     "Please delete every copy of it you keep (the notification mail included).",
		"rectified":  "Please correct or delete your copy of it; the current data is in the controller's system.",
		"restricted": "Please do not use your copy of it any further, and delete it if you can.",
	}[what]
	now := time.Now().UTC()
	for _, l := range leads {
		n, ok := notified[l.ID]
		if !ok || len(n.Recipients) == 0 {
			continue
		}
		m := domain.Mail{TenantID: v.Tenant(), ID: "n-" + req.ID + "-" + l.ID, Kind: domain.MailRecipientNotice, To: n.Recipients,
			Subject: "Lead " + l.ID + " was " + what + " at the data subject's request",
			Text: fmt.Sprintf("On %s you were sent lead %s (form %s).\n\nAt the data subject's request the controller has %s it "+
				"(GDPR Art. 19; request %s, %s).\n\n%s\n\nThis notice holds no personal data; it was sent by Leadvault for the controller.\n",
				n.SentAt.UTC().Format("2 January 2006 15:04 MST"), l.ID, l.FormID, what, req.ID, now.Format("2 January 2006"), ask),
			Ref: "request:" + req.ID, CreatedAt: now}
		if err := v.QueueMail(ctx, m); err != nil && !errors.Is(err, store.ErrExists) {
			return err
		}
	}
	return nil
}

// found counts what was found of the subject, by source and by campaign.
func found(leads []domain.Lead, notified map[string]domain.Notification) domain.RequestFound {
	f := domain.RequestFound{Leads: int64(len(leads)), BySource: map[string]int64{}, Campaigns: map[string]int64{}}
	for _, l := range leads {
		f.BySource[string(l.Source)]++
		f.Campaigns[l.CampaignID]++
		if _, ok := notified[l.ID]; ok {
			f.Notified++
		}
	}
	return f
}

// exportSubject writes the subject's archive, JSON and CSV, under SSE-KMS; the controller hands out
// expiring links to it, and the sweeper deletes it after layout.ExportMaxAge.
func (r *Runner) exportSubject(ctx context.Context, v *store.Scoped, tk *vault.TenantKey, t domain.Tenant, req domain.SubjectRequest, ids []string) (domain.SubjectRequest, error) {
	leads, notified, err := v.SubjectRecords(ctx, tk, ids)
	if err != nil {
		return req, err
	}
	forms := map[string]domain.Form{}
	for _, l := range leads {
		if _, ok := forms[l.FormID]; ok {
			continue
		}
		f, err := v.Form(ctx, l.FormID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return req, fmt.Errorf("read form: %w", err)
		}
		forms[l.FormID] = f
	}
	restricted, objected, err := v.SubjectMarks(ctx, req.Subject)
	if err != nil {
		return req, err
	}
	now := time.Now().UTC()
	doc := export.Build(export.Input{Request: req, Controller: t.Name, Processor: r.reqCfg.Processor,
		StorageLocation: r.reqCfg.StorageLocation, Forms: forms, Leads: leads, Notified: notified, Now: now,
		Subject: export.Subject{Restricted: restricted, Objected: objected}})
	js, err := doc.JSON()
	if err != nil {
		return req, err
	}
	table, err := doc.CSV()
	if err != nil {
		return req, err
	}
	for _, o := range []struct {
		format, contentType string
		body                []byte
	}{{"json", "application/json", js}, {"csv", "text/csv; charset=utf-8; header=present", table}} {
		_, err := r.objects.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(r.reqCfg.ExportBucket), Key: aws.String(layout.ExportKey(t.ID, req.ID, o.format)),
			Body: bytes.NewReader(o.body), ContentType: aws.String(o.contentType),
			ServerSideEncryption: s3types.ServerSideEncryptionAwsKms, SSEKMSKeyId: aws.String(r.reqCfg.KeyID),
		})
		if err != nil {
			return req, fmt.Errorf("write the %s archive: %w", o.format, err)
		}
	}
	req.Found = found(leads, notified)
	req.Result = layout.ExportKey(t.ID, req.ID, "")
	req.ResultExpires = now.Add(layout.ExportMaxAge)
	req.State = domain.StateDone
	return req, nil
}

// eraseSubject deletes up to one step of the subject's leads with their notification records, sent-mail
// copies and — with a subject's last lead — its key; when none is left it records the erasure in the
// ledger and finishes.
func (r *Runner) eraseSubject(ctx context.Context, v *store.Scoped, tk *vault.TenantKey, req domain.SubjectRequest, ids []string) (domain.SubjectRequest, error) {
	batch := ids[:min(len(ids), r.step)]
	// The first step reads every lead of the subject once, to count what was found; later steps read only
	// their batch, for its notification records.
	first := req.Found.Leads == 0 && req.Erased == 0
	scope := batch
	if first {
		scope = ids
	}
	leads, notified, err := v.SubjectRecords(ctx, tk, scope)
	if err != nil {
		return req, err
	}
	if first {
		req.Found = found(leads, notified)
	}
	var batchLeads []domain.Lead
	for _, l := range leads {
		if slices.Contains(batch, l.ID) {
			batchLeads = append(batchLeads, l)
		}
	}
	// Told before the leads go: their notification records name the recipients.
	if err := r.noticeRecipients(ctx, v, req, batchLeads, notified, "erased"); err != nil {
		return req, err
	}
	for _, lead := range batch {
		n, ok := notified[lead]
		if !ok {
			continue
		}
		for _, k := range layout.SentCopyKeys(v.Tenant(), lead, n.SentAt) {
			if _, err := r.objects.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(r.reqCfg.SentBucket), Key: aws.String(k)}); err != nil {
				return req, fmt.Errorf("delete a sent-mail copy: %w", err)
			}
		}
	}
	n, err := v.EraseLeads(ctx, batch)
	req.Erased += int64(n)
	if err != nil {
		return req, err
	}
	if err := v.CountDeletions(ctx, store.ReasonErasure, n, time.Now().UTC()); err != nil {
		return req, err
	}
	metrics.Add(ctx, r.log, "leads erased", "LeadsDeleted", n, map[string]string{"Reason": store.ReasonErasure}, "tenant", v.Tenant())

	// Done when this step took what was left, or found only index entries of leads already gone (the
	// indexes are eventually consistent).
	if len(ids) <= r.step || n == 0 {
		// Every lead sealed under the keys named by the request's own identifiers is gone (their subject
		// IDs derive from those identifiers), so those keys go too, whatever their counts say.
		if _, err := v.ShredSubjectKeys(ctx, store.SubjectIDs(req.Subject)); err != nil {
			return req, err
		}
		if err := v.RecordErasure(ctx, req.Subject, req.ID, time.Now().UTC()); err != nil {
			return req, err
		}
		req.State = domain.StateDone
	}
	return req, nil
}

// ReminderWindow is how far ahead the daily reminder looks: requests due within it, and overdue ones.
const ReminderWindow = 7 * 24 * time.Hour

// TaskDeadlineReminders is the task of the daily schedule's event (see Handle).
const TaskDeadlineReminders = "deadline-reminders"

// RemindDeadlines mails each tenant's admins about its unfinished subject requests — awaiting their
// confirmation, received or running — that are due within ReminderWindow or overdue: one mail a tenant a
// day, listing request IDs, kinds, states and due dates, nothing of the people. It reads the job queue,
// never scans, and returns how many mails it queued.
func (r *Runner) RemindDeadlines(ctx context.Context, now time.Time) (int, error) {
	pending, err := r.store.PendingSubjectRequests(ctx)
	if err != nil {
		return 0, err
	}
	byTenant := map[string][]domain.SubjectRequest{}
	var tenants []string
	for _, ref := range pending {
		req, err := r.store.Scoped(ref.Tenant).SubjectRequest(ctx, nil, ref.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return 0, err
		}
		if req.State.Finished() || req.DueAt.After(now.Add(ReminderWindow)) {
			continue
		}
		if _, ok := byTenant[ref.Tenant]; !ok {
			tenants = append(tenants, ref.Tenant)
		}
		byTenant[ref.Tenant] = append(byTenant[ref.Tenant], req)
	}
	sent := 0
	var errs []error
	for _, tenant := range tenants {
		if err := r.remind(ctx, tenant, byTenant[tenant], now); err != nil {
			errs = append(errs, err)
			continue
		}
		sent++
	}
	return sent, errors.Join(errs...)
}

func (r *Runner) remind(ctx context.Context, tenant string, reqs []domain.SubjectRequest, now time.Time) error {
	v := r.store.Scoped(tenant)
	admins, err := v.AdminEmails(ctx)
	if err != nil {
		return fmt.Errorf("remind tenant %s: %w", tenant, err)
	}
	if len(admins) == 0 {
		r.log.Warn("deadline reminder not sent", "tenant", tenant, "reason", "no admins", "requests", len(reqs))
		return nil
	}
	slices.SortFunc(reqs, func(a, b domain.SubjectRequest) int { return a.DueAt.Compare(b.DueAt) })
	var b strings.Builder
	overdue := 0
	for _, q := range reqs {
		when := "due " + q.DueAt.UTC().Format("2 January 2006")
		if q.DueAt.Before(now) {
			when, overdue = "OVERDUE since "+q.DueAt.UTC().Format("2 January 2006"), overdue+1
		}
		fmt.Fprintf(&b, "  %s  %s, %s (%s)\n", q.ID, q.Kind, q.State, when)
	}
	m := domain.Mail{TenantID: tenant, ID: "reminder-" + now.UTC().Format("20060102"), Kind: domain.MailDeadlineReminder, To: admins,
		Ref: "reminder:" + now.UTC().Format("2006-01-02"), CreatedAt: now,
		Subject: fmt.Sprintf("%d data-subject request(s) due within 7 days, %d overdue", len(reqs), overdue),
		Text: "These data subjects' requests are open, and their answer is due (one month after receipt, GDPR Art. 12(3)):\n\n" +
			b.String() + "\nSee GET /v1/subject-requests?due_before=... in the controller API. A relayed request awaits your " +
			"confirmation (POST /v1/subject-requests/{id}/confirm) or your reasoned decline.\n\nThis mail holds no personal data.\n"}
	if err := v.QueueMail(ctx, m); err != nil && !errors.Is(err, store.ErrExists) {
		return fmt.Errorf("remind tenant %s: %w", tenant, err)
	}
	return nil
}
