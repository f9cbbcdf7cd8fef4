package jobs

import (
	"context"
	"time"

	"leadvault/shared/incident"
	"leadvault/shared/metrics"
)

// The metrics of the deadline watch; the stack's alarms mail the operators on them.
const (
	MetricIncidentDueSoon = "IncidentNoticesDueSoon"
	MetricIncidentLate    = "IncidentNoticesLate"
)

// TaskIncidentDeadlines is the task of the schedule that watches breach notices' deadlines (see Handle).
const TaskIncidentDeadlines = "incident-deadlines"

// WatchIncidents reports every notice of an open incident that is due within 2 hours or late: a WARN line
// per notice (ids only) and the EMF metrics IncidentNoticesDueSoon and IncidentNoticesLate, on which the
// stack's alarms mail the operators.
func (r *Runner) WatchIncidents(ctx context.Context, now time.Time) ([]incident.Due, error) {
	all, err := r.store.Incidents(ctx)
	if err != nil {
		return nil, err
	}
	due := incident.DueNotices(all, now)
	soon, late := 0, 0
	for _, d := range due {
		if d.Late {
			late++
		} else {
			soon++
		}
		r.log.WarnContext(ctx, "breach notice due", "incident", d.Incident, "tenant", d.Tenant, "kind", d.Kind,
			"dueAt", d.DueAt.Format(time.RFC3339), "late", d.Late)
	}
	metrics.Add(ctx, r.log, "incident deadlines", MetricIncidentDueSoon, soon, nil)
	metrics.Add(ctx, r.log, "incident deadlines", MetricIncidentLate, late, nil)
	return due, nil
}
