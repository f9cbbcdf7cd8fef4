package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"leadvault/shared/audit"
	"leadvault/shared/metrics"
	"leadvault/shared/store"
)

// TaskRetentionSweep is the task of the hourly retention schedule's event (see Handle).
const TaskRetentionSweep = "retention-sweep"

// RetentionRun is the half-hourly retention task: the sweep, then the contracts' ends and purges that are
// due.
func (r *Runner) RetentionRun(ctx context.Context, now time.Time) error {
	_, err := r.SweepRetention(ctx, now)
	rep, cerr := r.RunContracts(ctx, now, ContractBudget)
	r.log.Info("contracts", "ended", rep.Ended, "purged", rep.Purged, "waiting", rep.Waiting)
	return errors.Join(err, cerr)
}

// SweepRetention deletes what expired (store.SweepExpired), adds it to each tenant's proof of deletion and
// reports it as the LeadsDeleted metric (Reason retention) and SubjectKeysDeleted.
func (r *Runner) SweepRetention(ctx context.Context, now time.Time) (store.SweepReport, error) {
	rep, err := r.store.SweepExpired(ctx, now)
	for tenant, n := range rep.ByTenant {
		if cerr := r.store.Scoped(tenant).CountDeletions(ctx, store.ReasonRetention, n, now); cerr != nil && err == nil {
			err = cerr
		}
	}
	metrics.Add(ctx, r.log, "retention sweep", "LeadsDeleted", rep.Leads, map[string]string{"Reason": store.ReasonRetention},
		"hours", rep.Hours, "queries", rep.Queries, "tenants", len(rep.ByTenant))
	metrics.Add(ctx, r.log, "retention sweep", "SubjectKeysDeleted", rep.Keys, map[string]string{"Reason": store.ReasonRetention})
	if err != nil {
		return rep, fmt.Errorf("retention sweep: %w", err)
	}
	return rep, nil
}

// RetentionBudget is how long one scheduled run spends applying changed retentions; what is left goes on
// at the next run.
const RetentionBudget = 3 * time.Minute

// ApplyRetentionChanges steps every pending retention change (a form's changed retention applied to its
// stored leads) until it is done or budget has passed, and returns how many leads got a new expiry.
func (r *Runner) ApplyRetentionChanges(ctx context.Context, budget time.Duration) (int64, error) {
	pending, err := r.store.PendingRetentionChanges(ctx)
	if err != nil {
		return 0, err
	}
	deadline := time.Now().Add(budget)
	var changed int64
	for _, p := range pending {
		for time.Now().Before(deadline) {
			c, err := r.store.Scoped(p.Tenant).RetentionChangeStep(ctx, p.Form, r.step)
			if err != nil {
				return changed, fmt.Errorf("retention change of form %s/%s: %w", p.Tenant, p.Form, err)
			}
			if c.Done {
				changed += c.Changed
				r.log.Info("retention change applied", "tenant", p.Tenant, "form", p.Form, "leads", c.Changed)
				if r.audit != nil {
					if _, err := r.audit.Append(ctx, audit.Record{Tenant: p.Tenant, ActorID: ActorJobs, ActorRole: RoleSystem,
						Action: ActionRetentionApplied, Targets: []string{"form:" + p.Form, fmt.Sprintf("leads:%d", c.Changed)}}); err != nil {
						return changed, err
					}
				}
				break
			}
		}
	}
	return changed, nil
}

// ActionRetentionApplied is the audit action of a form's changed retention applied to its stored leads.
const ActionRetentionApplied = "retention.applied"
