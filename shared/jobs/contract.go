package jobs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
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
)

// The end of a contract (S20, M6, E8b, S10): on the contract's end the tenant's admins are told it is
// read-only until the purge, and — if the tenant chose "return" — handed an archive of everything it
// holds; at the purge everything of the tenant goes, its users' sign-in accounts last but for the tenant
// key, after a final record of what was deleted has been mailed to its admins.

// The audit actions of a contract's end.
const (
	ActionContractEnded  = "contract.ended"  // targets: then:<delete|return>, archive:<key>, purge:<date>
	ActionContractPurged = "contract.purged" // targets: <kind>:<count> of what was deleted
)

// ContractBudget bounds the contract work of one scheduled run, so the rest of the run has time left.
const ContractBudget = 3 * time.Minute

// FinalMailWait is how long a purge waits for its final record to be sent before the accounts go anyway;
// the record stays in the purge ledger for the operators.
const FinalMailWait = 24 * time.Hour

// Directory removes the tenant's users' sign-in accounts at the purge.
type Directory interface {
	Remove(ctx context.Context, userID string) error
}

// ContractConfig is what a contract's end needs beyond subject requests' configuration.
type ContractConfig struct {
	// Directory is the identity provider; nil leaves sign-in accounts alone (a stack without Cognito).
	Directory Directory
}

// WithContracts lets the runner carry out contracts' ends and purges.
func (r *Runner) WithContracts(cfg ContractConfig) *Runner {
	r.contracts = cfg
	return r
}

// ContractReport is what RunContracts did.
type ContractReport struct {
	Ended, Purged int
	// Waiting is how many purges wait for their final record to be sent.
	Waiting int
}

// RunContracts carries out every contract whose work is due at now, within budget: an end (notice,
// archive), or a purge's steps. What is not finished continues on the next run.
func (r *Runner) RunContracts(ctx context.Context, now time.Time, budget time.Duration) (ContractReport, error) {
	var rep ContractReport
	due, err := r.store.PendingContracts(ctx, now)
	if err != nil {
		return rep, err
	}
	deadline := time.Now().Add(budget)
	var errs []error
	for _, d := range due {
		if time.Now().After(deadline) {
			break
		}
		t, err := r.store.Tenant(ctx, d.Tenant)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if t.Contract.EndedAt.IsZero() {
			if err := r.EndContract(ctx, t, now); err != nil {
				errs = append(errs, err)
				continue
			}
			rep.Ended++
			continue
		}
		done, err := r.Purge(ctx, t, now, time.Until(deadline))
		switch {
		case err != nil:
			errs = append(errs, err)
		case done:
			rep.Purged++
		default:
			rep.Waiting++
		}
	}
	return rep, errors.Join(errs...)
}

// EndContract carries out the end of a tenant's contract: the return archive if the tenant chose it, the
// notice to its admins, the audit record. Run again after a failure it writes the archive again and
// queues no second mail.
func (r *Runner) EndContract(ctx context.Context, t domain.Tenant, now time.Time) error {
	v := r.store.Scoped(t.ID)
	archive := ""
	if t.Contract.Then == domain.ContractThenReturn {
		key, counts, err := r.writeReturnArchive(ctx, v, t, now)
		if err != nil {
			return fmt.Errorf("end the contract of %s: %w", t.ID, err)
		}
		archive = key
		r.log.Info("return archive written", "tenant", t.ID, "leads", counts["leads"], "campaigns", counts["campaigns"])
	}
	admins, err := v.AdminEmails(ctx)
	if err != nil {
		return fmt.Errorf("end the contract of %s: %w", t.ID, err)
	}
	purge := t.Contract.PurgeAt.UTC().Format("2 January 2006 15:04 MST")
	text := "The contract for " + t.Name + " with Leadvault ended on " + t.Contract.EndsAt.UTC().Format("2 January 2006 15:04 MST") + ".\n\n" +
		"Until " + purge + " your account is read-only: your forms take no more submissions, and your admins can still\n" +
		"sign in, read and export everything, and delete leads and campaigns. Then everything of your account is deleted:\n" +
		"leads, forms, campaigns, users and keys (GDPR Art. 28(3)(g)). You receive a final record of what was deleted.\n\n"
	if archive != "" {
		text += "As you chose, your data is returned: the archive of every lead of every campaign, your forms, campaigns,\n" +
			"users and audit trail (JSON, and the leads as CSV) is ready. An admin downloads it, until " + purge + ", with\n" +
			"  GET /v1/contract/return?format=json\n  GET /v1/contract/return?format=csv\n" +
			"in the controller API; each download hands out a link that expires after 15 minutes.\n\n"
	}
	text += "To close the account earlier, an admin calls POST /v1/contract/close (see GET /v1/contract).\n\nThis mail holds no personal data.\n"
	if len(admins) > 0 {
		m := domain.Mail{TenantID: t.ID, ID: "contract-end", Kind: domain.MailContractEnd, To: admins, Ref: "contract:end", CreatedAt: now,
			Subject: "Your Leadvault contract has ended: read-only until " + t.Contract.PurgeAt.UTC().Format(time.DateOnly), Text: text}
		if err := v.QueueMail(ctx, m); err != nil && !errors.Is(err, store.ErrExists) {
			return fmt.Errorf("end the contract of %s: %w", t.ID, err)
		}
	} else {
		r.log.Warn("contract end notice not sent", "tenant", t.ID, "reason", "no admins")
	}
	targets := []string{"then:" + t.Contract.Then, "purge:" + t.Contract.PurgeAt.UTC().Format(time.RFC3339)}
	if archive != "" {
		targets = append(targets, "archive:"+archive)
	}
	if err := r.appendAudit(ctx, t, ActionContractEnded, targets, now); err != nil {
		return fmt.Errorf("end the contract of %s: %w", t.ID, err)
	}
	return v.ContractEnded(ctx, archive, now)
}

// ReturnArchiveKey is where a tenant's return archive lives in the exports bucket, without the format's
// extension.
func ReturnArchiveKey(tenant string, at time.Time) string {
	return layout.ReturnPrefix + tenant + "/" + at.UTC().Format("20060102T150405Z")
}

// writeReturnArchive writes everything the tenant holds to the exports bucket as JSON and CSV, under
// SSE-KMS, and returns the objects' key without extension.
func (r *Runner) writeReturnArchive(ctx context.Context, v *store.Scoped, t domain.Tenant, now time.Time) (string, map[string]int, error) {
	if r.keys == nil || r.objects == nil {
		return "", nil, errors.New("the runner has no keys or bucket for archives")
	}
	tk, err := r.keys.TenantKey(ctx, t.ID, t.WrappedKey)
	if err != nil {
		return "", nil, err
	}
	in := export.TenantInput{Tenant: t, Processor: r.reqCfg.Processor, StorageLocation: r.reqCfg.StorageLocation, Now: now,
		Notified: map[string]domain.Notification{}}
	if in.Forms, err = v.AllForms(ctx); err != nil {
		return "", nil, err
	}
	for cursor := ""; ; {
		page, next, err := v.Campaigns(ctx, store.MaxPage, cursor)
		if err != nil {
			return "", nil, err
		}
		in.Campaigns = append(in.Campaigns, page...)
		if cursor = next; cursor == "" {
			break
		}
	}
	for _, c := range in.Campaigns {
		for cursor := ""; ; {
			page, next, err := v.LeadsByCampaign(ctx, tk, c.ID, store.Page{Limit: store.MaxPage, Cursor: cursor})
			if err != nil {
				return "", nil, err
			}
			ids := make([]string, 0, len(page))
			for _, l := range page {
				ids = append(ids, l.ID)
			}
			// Read again as a subject export reads them, with their notification records.
			leads, notified, err := v.SubjectRecords(ctx, tk, ids)
			if err != nil {
				return "", nil, err
			}
			in.Leads = append(in.Leads, leads...)
			for id, n := range notified {
				in.Notified[id] = n
			}
			if cursor = next; cursor == "" {
				break
			}
		}
	}
	if in.Members, err = v.Members(ctx); err != nil {
		return "", nil, err
	}
	if r.audit != nil {
		for cursor := ""; ; {
			page, next, err := r.audit.List(ctx, t.ID, audit.Query{Limit: audit.MaxPage, Cursor: cursor})
			if err != nil {
				return "", nil, err
			}
			in.Audit = append(in.Audit, page...)
			if cursor = next; cursor == "" {
				break
			}
		}
		slices.Reverse(in.Audit) // oldest first, as the chain runs
	}
	doc := export.BuildTenant(in)
	js, err := doc.JSON()
	if err != nil {
		return "", nil, err
	}
	table, err := doc.CSV()
	if err != nil {
		return "", nil, err
	}
	key := ReturnArchiveKey(t.ID, now)
	for _, o := range []struct {
		format, contentType string
		body                []byte
	}{{"json", "application/json", js}, {"csv", "text/csv; charset=utf-8; header=present", table}} {
		if _, err := r.objects.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(r.reqCfg.ExportBucket), Key: aws.String(key + "." + o.format),
			Body: bytes.NewReader(o.body), ContentType: aws.String(o.contentType),
			ServerSideEncryption: s3types.ServerSideEncryptionAwsKms, SSEKMSKeyId: aws.String(r.reqCfg.KeyID),
		}); err != nil {
			return "", nil, fmt.Errorf("write the %s return archive: %w", o.format, err)
		}
	}
	return key, doc.Counts, nil
}

// Purge steps the purge of a tenant whose purge is due: its data, then (once) its objects in S3 and the
// final record mailed to its admins, then — once that mail is sent, or FinalMailWait later — its users'
// sign-in accounts, members and mail, and the tenant item with its key. It reports whether the tenant is
// gone.
func (r *Runner) Purge(ctx context.Context, t domain.Tenant, now time.Time, budget time.Duration) (bool, error) {
	v := r.store.Scoped(t.ID)
	deadline := time.Now().Add(budget)
	for {
		phase, err := v.PurgePhase(ctx)
		if err != nil {
			return false, err
		}
		if phase == store.PurgePhaseAccounts {
			// The accounts go only after their holders were told what was deleted.
			if ready, err := r.finalRecordSent(ctx, v, now); err != nil || !ready {
				return false, err
			}
			if err := r.removeAccounts(ctx, v); err != nil {
				return false, err
			}
		}
		p, err := v.PurgeStep(ctx, time.Until(deadline))
		if err != nil {
			return false, err
		}
		switch {
		case p.Phase == store.PurgePhaseNotice:
			if err := r.deleteObjects(ctx, t.ID, now); err != nil {
				return false, err
			}
			rec, err := v.RecordPurge(ctx)
			if err != nil {
				return false, err
			}
			if err := r.mailFinalRecord(ctx, v, t, rec); err != nil {
				return false, err
			}
			dims := map[string]string{"Reason": store.ReasonContractEnd}
			metrics.Add(ctx, r.log, "tenant purge", "LeadsDeleted", int(rec.Counts["leads"]), dims, "tenant", t.ID)
			metrics.Add(ctx, r.log, "tenant purge", "SubjectKeysDeleted", int(rec.Counts["subjectKeys"]), dims, "tenant", t.ID)
			continue
		case p.Done && phase == store.PurgePhaseAccounts:
			counts := make([]string, 0, len(p.Counts))
			for _, k := range slices.Sorted(maps.Keys(p.Counts)) {
				counts = append(counts, fmt.Sprintf("%s:%d", k, p.Counts[k]))
			}
			if err := r.appendAudit(ctx, t, ActionContractPurged, counts, now); err != nil {
				return true, err
			}
			r.log.Info("tenant purged", "tenant", t.ID, "leads", p.Counts["leads"], "items", strings.Join(counts, ","))
			return true, nil
		}
		if time.Now().After(deadline) {
			return false, nil
		}
	}
}

// deleteObjects deletes the tenant's objects in S3: its subject-request archives, its return archive and
// copies of mail sent in the last day (older ones the sweeper has already deleted).
func (r *Runner) deleteObjects(ctx context.Context, tenant string, now time.Time) error {
	if r.objects == nil {
		return nil
	}
	type place struct{ bucket, prefix string }
	places := []place{{r.reqCfg.ExportBucket, layout.ExportPrefix + tenant + "/"}, {r.reqCfg.ExportBucket, layout.ReturnPrefix + tenant + "/"}}
	for h := 0; h <= 25; h++ {
		places = append(places, place{r.reqCfg.SentBucket, layout.SentHourPrefix(now.Add(-time.Duration(h)*time.Hour)) + tenant + "/"})
	}
	for _, p := range places {
		if p.bucket == "" {
			continue
		}
		pages := s3.NewListObjectsV2Paginator(r.objects, &s3.ListObjectsV2Input{Bucket: aws.String(p.bucket), Prefix: aws.String(p.prefix)})
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				return fmt.Errorf("list %s: %w", p.prefix, err)
			}
			for _, o := range page.Contents {
				if _, err := r.objects.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(p.bucket), Key: o.Key}); err != nil {
					return fmt.Errorf("delete %s: %w", aws.ToString(o.Key), err)
				}
			}
		}
	}
	return nil
}

const finalMailID = "contract-purged"

// mailFinalRecord queues the final record to the tenant's admins: what was deleted and when, no personal
// data.
func (r *Runner) mailFinalRecord(ctx context.Context, v *store.Scoped, t domain.Tenant, rec store.Purge) error {
	admins, err := v.AdminEmails(ctx)
	if err != nil || len(admins) == 0 {
		return err
	}
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(rec.Counts)) {
		fmt.Fprintf(&b, "  %-22s %d\n", k, rec.Counts[k])
	}
	text := "Final record: the data Leadvault processed for " + t.Name + " (account " + t.ID + ") has been deleted.\n\n" +
		"Contract ended: " + rec.EndsAt.UTC().Format(time.RFC3339) + "\nDeleted:        " + rec.PurgedAt.UTC().Format(time.RFC3339) + "\n" +
		"Your choice:    " + rec.Then + "\n\nWhat was deleted, by kind:\n" + b.String()
	if len(rec.Campaigns) > 0 {
		text += "\nCampaigns deleted with the account, on record (" + fmt.Sprint(len(rec.Campaigns)) + "): " + strings.Join(rec.Campaigns, ", ") + "\n"
	}
	text += "\nNext your users' sign-in accounts are deleted. Kept under their own legal retention, without the data above:\n" +
		"the audit trail of your account (hash-chained; identifiers only), the daily counts of deletions, and the billing\n" +
		"records bookkeeping law requires (5 years). Backups that still hold your data expire within 35 days, and a restore\n" +
		"from one deletes your account again before it is used.\n\nThis mail holds no personal data.\n"
	m := domain.Mail{TenantID: t.ID, ID: finalMailID, Kind: domain.MailContractPurged, To: admins, Ref: "contract:purged", CreatedAt: rec.PurgedAt,
		Subject: "Final record: your Leadvault account's data has been deleted", Text: text}
	if err := v.QueueMail(ctx, m); err != nil && !errors.Is(err, store.ErrExists) {
		return err
	}
	return nil
}

// finalRecordSent reports whether the purge may delete the accounts: the final record was sent, or
// could not be within FinalMailWait.
func (r *Runner) finalRecordSent(ctx context.Context, v *store.Scoped, now time.Time) (bool, error) {
	m, err := v.Mail(ctx, finalMailID)
	if errors.Is(err, store.ErrNotFound) {
		return true, nil // no admins to tell
	}
	if err != nil {
		return false, err
	}
	if !m.SentAt.IsZero() {
		return true, nil
	}
	if now.Sub(m.CreatedAt) > FinalMailWait {
		r.log.Warn("final record not sent; deleting the accounts anyway", "tenant", v.Tenant(), "queued", m.CreatedAt)
		return true, nil
	}
	return false, nil
}

// removeAccounts deletes the tenant's users' sign-in accounts; the purge deletes their member items next.
func (r *Runner) removeAccounts(ctx context.Context, v *store.Scoped) error {
	if r.contracts.Directory == nil {
		return nil
	}
	members, err := v.Members(ctx)
	if err != nil {
		return err
	}
	for _, m := range members {
		if err := r.contracts.Directory.Remove(ctx, m.UserID); err != nil {
			return fmt.Errorf("remove the sign-in account of %s/%s: %w", v.Tenant(), m.UserID, err)
		}
	}
	return nil
}

// appendAudit appends a record of the jobs function to the tenant's trail.
func (r *Runner) appendAudit(ctx context.Context, t domain.Tenant, action string, targets []string, now time.Time) error {
	if r.audit == nil {
		return nil
	}
	_, err := r.audit.Append(ctx, audit.Record{Tenant: t.ID, ActorID: ActorJobs, ActorRole: RoleSystem, Action: action, Targets: targets,
		At: now, Retention: time.Duration(t.AuditRetentionDays) * 24 * time.Hour})
	return err
}
