// Package jobs runs the long work the controller API starts and answers with a job ID: today, deleting a
// campaign with every lead in it and their keys (obligation E8), for any size of campaign.
//
// A job is a DynamoDB item (see store.StartCampaignDeletion). Two triggers drive it, and either alone
// finishes it:
//   - the table's stream: the job item's insert and every progress update (a MODIFY) invoke the runner,
//     which does one bounded step, whose progress update triggers the next — so a job runs step after
//     step without anyone waiting, and a failed step is retried by the event source mapping;
//   - a schedule: Resume steps every unfinished job on the queue (pk JOBQ), which picks up anything a
//     stream failure or a dead-lettered record left behind.
//
// Steps are idempotent (they delete only what is still there and count only what they deleted), so a
// step run twice, or by both triggers at once, is harmless.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"leadvault/shared/domain"
	"leadvault/shared/store"
)

// StepSize is how many leads one step deletes: about 10 transactions of up to 100 items per 1000 leads,
// a few seconds on DynamoDB, far inside the function's timeout.
const StepSize = 1000

// Store is what the runner needs from the store.
type Store interface {
	// Scoped is the only way to a tenant's data; the runner steps one tenant's campaign at a time.
	Scoped(tenant string) *store.Scoped
	PendingCampaignDeletions(ctx context.Context) ([]domain.CampaignDeletion, error)
	PendingSubjectRequests(ctx context.Context) ([]store.RequestRef, error)
	Tenant(ctx context.Context, id string) (domain.Tenant, error)
	SweepExpired(ctx context.Context, now time.Time) (store.SweepReport, error)
	PendingRetentionChanges(ctx context.Context) ([]store.RetentionChange, error)
	PendingContracts(ctx context.Context, now time.Time) ([]store.ContractDue, error)
	Incidents(ctx context.Context) ([]domain.Incident, error)
}

var _ Store = (*store.Store)(nil)

// Runner runs jobs.
type Runner struct {
	store Store
	log   *slog.Logger
	step  int
	// Subject requests (see WithSubjectRequests); nil keys: campaign deletions only.
	keys    Keys
	objects Objects
	audit   Auditor
	reqCfg  RequestConfig
	// Contracts' ends and purges (see WithContracts).
	contracts ContractConfig
}

// New returns a Runner that deletes step leads per step (0 = StepSize).
func New(st Store, log *slog.Logger, step int) *Runner {
	if step <= 0 {
		step = StepSize
	}
	return &Runner{store: st, log: log, step: step}
}

// JobKey reports whether a stream record's keys are a campaign-deletion job's, and whose.
func JobKey(pk, sk string) (tenant, campaign string, ok bool) { return store.ParseJobKey(pk, sk) }

// HandleStream does one step of each job named in a batch of stream records (the event source mapping's
// filter passes job items only; anything else is skipped). A failed step fails the batch, so the event
// source mapping retries it.
func (r *Runner) HandleStream(ctx context.Context, ev events.DynamoDBEvent) error {
	seen := map[string]bool{}
	var errs []error
	for _, rec := range ev.Records {
		if rec.EventName == string(events.DynamoDBOperationTypeRemove) {
			continue
		}
		pk, sk := rec.Change.Keys[store.AttrPK].String(), rec.Change.Keys[store.AttrSK].String()
		if seen[pk+"/"+sk] {
			continue
		}
		seen[pk+"/"+sk] = true
		if tenant, campaign, ok := JobKey(pk, sk); ok {
			if err := r.step1(ctx, tenant, campaign); err != nil {
				errs = append(errs, err)
			}
		} else if tenant, id, ok := store.ParseRequestKey(pk, sk); ok && r.keys != nil {
			if err := r.RunRequest(ctx, tenant, id); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// Resume steps every unfinished job once; each step's progress then keeps the job going on the stream.
// It is the schedule's handler.
func (r *Runner) Resume(ctx context.Context) (int, error) {
	pending, err := r.store.PendingCampaignDeletions(ctx)
	if err != nil {
		return 0, err
	}
	var errs []error
	for _, j := range pending {
		if err := r.step1(ctx, j.Tenant, j.Campaign); err != nil {
			errs = append(errs, err)
		}
	}
	n := len(pending)
	if _, err := r.ApplyRetentionChanges(ctx, RetentionBudget); err != nil {
		errs = append(errs, err)
	}
	if r.keys != nil {
		requests, err := r.store.PendingSubjectRequests(ctx)
		if err != nil {
			return n, errors.Join(append(errs, err)...)
		}
		for _, q := range requests {
			if err := r.RunRequest(ctx, q.Tenant, q.ID); err != nil {
				errs = append(errs, err)
			}
		}
		n += len(requests)
	}
	return n, errors.Join(errs...)
}

// RunToEnd steps one job until it is done (tests and the operator CLI).
func (r *Runner) RunToEnd(ctx context.Context, tenant, campaign string) (domain.CampaignDeletion, error) {
	for {
		job, err := r.settled(ctx, tenant, campaign)
		if err != nil || job.Done {
			return job, err
		}
	}
}

// SettlePoll is how often a job that is waiting to finish (store.ErrSettling) is tried again.
const SettlePoll = 2 * time.Second

// settled does one step; a job that waits to finish is tried again every SettlePoll until it finishes or
// ctx is within its last 10 seconds (then the schedule finishes it).
func (r *Runner) settled(ctx context.Context, tenant, campaign string) (domain.CampaignDeletion, error) {
	for {
		job, err := r.store.Scoped(tenant).DeleteCampaignStep(ctx, campaign, r.step)
		if !errors.Is(err, store.ErrSettling) {
			return job, err
		}
		if d, ok := ctx.Deadline(); ok && time.Until(d) < SettlePoll+10*time.Second {
			return job, nil
		}
		select {
		case <-ctx.Done():
			return job, ctx.Err()
		case <-time.After(SettlePoll):
		}
	}
}

func (r *Runner) step1(ctx context.Context, tenant, campaign string) error {
	start := time.Now()
	job, err := r.settled(ctx, tenant, campaign)
	if errors.Is(err, store.ErrNotFound) {
		return nil // a job record that has gone: nothing to do
	}
	if err != nil {
		r.log.Error("campaign deletion step failed", "tenant", tenant, "campaign", campaign, "error", err.Error())
		return fmt.Errorf("delete campaign %s/%s: %w", tenant, campaign, err)
	}
	r.log.Info("campaign deletion step", "tenant", tenant, "campaign", campaign, "job", job.JobID,
		"deleted", job.Deleted, "done", job.Done, "ms", time.Since(start).Milliseconds())
	return nil
}
