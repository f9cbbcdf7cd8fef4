package jobs

import (
	"context"
	"fmt"
	"time"

	"leadvault/shared/metrics"
	"leadvault/shared/store"
)

// TaskRetentionSweep is the task of the hourly retention schedule's event (see Handle).
const TaskRetentionSweep = "retention-sweep"

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
