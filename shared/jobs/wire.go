package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"leadvault/shared/app"
	"leadvault/shared/audit"
	"leadvault/shared/awsconfig"
	"leadvault/shared/directory"
	"leadvault/shared/store"
	"leadvault/shared/vault"
)

// Required are the settings the jobs function cannot start without; its stack sets each of them.
var Required = []string{app.EnvTable, app.EnvKeyID, app.EnvExportBucket, app.EnvSentBucket}

// FromConfig builds the Runner with AWS clients, once per cold start.
func FromConfig(cfg awsconfig.Config, s app.Settings, log *slog.Logger) (*Runner, error) {
	if err := s.Require(Required...); err != nil {
		return nil, err
	}
	db := dynamodb.NewFromConfig(cfg.AWS)
	st := store.New(db, s.Table).WithDeletionSettle(DeletionSettle)
	objects := s3.NewFromConfig(cfg.AWS, func(o *s3.Options) { o.UsePathStyle = cfg.Local() })
	trail := audit.New(db, s.Table, 0)
	var contracts ContractConfig
	if s.UserPoolID != "" {
		idp := cognitoidentityprovider.NewFromConfig(cfg.AWS, func(o *cognitoidentityprovider.Options) {
			if s.CognitoEndpoint != "" {
				o.BaseEndpoint = &s.CognitoEndpoint
			}
		})
		contracts.Directory = directory.New(idp, s.UserPoolID)
	}
	return New(st, log, 0).WithSubjectRequests(vault.New(kms.NewFromConfig(cfg.AWS), s.KeyID), objects, trail, RequestConfig{
		ExportBucket: s.ExportBucket, SentBucket: s.SentBucket, KeyID: s.KeyID,
		Processor: Processor, StorageLocation: StorageLocation(cfg.AWS.Region),
	}).WithContracts(contracts), nil
}

// Processor is the processor as an access archive names it.
const Processor = "Leadvault (data processor for the controller named above)"

// StorageLocation says where the data is kept, as an access archive states it.
func StorageLocation(region string) string {
	place := region
	if region == awsconfig.Region {
		place += " (Stockholm, Sweden, EU)"
	}
	return "Amazon Web Services, region " + place + "; encrypted at rest under keys of the processor"
}

// DeletionSettle is how long after its start a campaign deletion may finish: longer than intake caches a
// form's configuration (30 s), so that a lead accepted just before the campaign's forms were disabled is
// deleted too. The controller refuses to delete a campaign that an enabled form still feeds.
const DeletionSettle = 35 * time.Second

// ErrUnknownEvent means the function was invoked with neither a stream batch nor a scheduled event.
var ErrUnknownEvent = errors.New("neither a DynamoDB stream batch nor a scheduled event")

// Handle is the function's entry point for both its triggers: a batch from the table's stream, or the
// schedule's EventBridge event.
func (r *Runner) Handle(ctx context.Context, raw json.RawMessage) error {
	var probe struct {
		Records    *[]json.RawMessage `json:"Records"` // present, even empty, in every stream batch
		Source     string             `json:"source"`
		DetailType string             `json:"detail-type"`
		Task       string             `json:"task"` // the daily schedule's constant input
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return fmt.Errorf("decode event: %w", err)
	}
	switch {
	case probe.Records != nil:
		var ev events.DynamoDBEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			return fmt.Errorf("decode stream batch: %w", err)
		}
		return r.HandleStream(ctx, ev)
	case probe.Task == TaskRetentionSweep:
		return r.RetentionRun(ctx, time.Now().UTC())
	case probe.Task == TaskIncidentDeadlines:
		_, err := r.WatchIncidents(ctx, time.Now().UTC())
		return err
	case probe.Task == TaskDeadlineReminders:
		if r.keys == nil {
			return fmt.Errorf("deadline reminders: the runner was not given subject requests")
		}
		n, err := r.RemindDeadlines(ctx, time.Now().UTC())
		r.log.Info("deadline reminders queued", "tenants", n)
		return err
	case probe.Source == "aws.events" && probe.DetailType == "Scheduled Event":
		n, err := r.Resume(ctx)
		r.log.Info("resumed pending jobs", "jobs", n)
		return err
	}
	r.log.Error("rejected an event", "error", ErrUnknownEvent.Error())
	return ErrUnknownEvent
}
