package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdaeventsources"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"leadvault/shared/app"
	"leadvault/shared/jobs"
	"leadvault/shared/layout"
	"leadvault/shared/posture"
	"leadvault/shared/store"
)

// JobKeyPrefix begins the sort key of every campaign-deletion job item and
// RequestKeyPrefix that of every subject request; the stream filter wakes the
// jobs function for those items only.
const (
	JobKeyPrefix     = store.SKJobPrefix
	RequestKeyPrefix = store.SKRequestPrefix
)

// RemindersCron is when the daily schedule has the jobs function mail each
// tenant's admins about data-subject requests due within 7 days or overdue
// (06:00 UTC: before the working day in the EU).
var RemindersCron = awsevents.CronOptions{Minute: jsii.String("0"), Hour: jsii.String("6")}

// JobsResumeMinutes is how often the schedule resumes unfinished jobs: one
// whose stream invocations failed, or that ran out of time.
const JobsResumeMinutes = 15

// JobsProps configures NewJobs.
type JobsProps struct {
	Stage    string
	AssetDir string
	Data     *Data
	// Identity is the user pool whose accounts a tenant's purge deletes.
	Identity *Identity
	// Failures receives stream records and schedule events the function gave
	// up on.
	Failures *FailureQueue
}

// Jobs runs campaign-deletion jobs (obligation E8): the controller API
// records a job, the table stream drives it step by step, and a schedule
// resumes every unfinished one (the queue, pk "JOBQ") until it is done.
type Jobs struct {
	constructs.Construct
	Function awslambda.Function
	Rule     awsevents.Rule
	// Reminders is the daily rule of the subject-request deadline reminders.
	Reminders awsevents.Rule
	// Retention is the hourly rule of the retention sweep.
	Retention awsevents.Rule
}

// JobsUserPoolActions are the Cognito actions a tenant's purge calls to delete
// its users' sign-in accounts.
var JobsUserPoolActions = []string{"cognito-idp:AdminUserGlobalSignOut", "cognito-idp:AdminDeleteUser"}

// RetentionSweepMinutes is how often the retention sweep runs: leads go within
// an hour of their expiry, not when DynamoDB's TTL gets to them (days).
const RetentionSweepMinutes = posture.RetentionSweepMinutes

// NewJobs creates the jobs function, its stream event source and its
// schedule.
func NewJobs(scope constructs.Construct, id string, props *JobsProps) *Jobs {
	c := constructs.NewConstruct(scope, jsii.String(id))
	env := baseEnv(props.Stage, props.Data)
	env[app.EnvExportBucket] = props.Data.ExportsBucket.BucketName()
	env[app.EnvSentBucket] = props.Data.SentMailBucket.BucketName()
	if props.Identity != nil {
		env[app.EnvUserPoolID] = props.Identity.UserPool.UserPoolId()
	}
	fn := newFunction(c, functionSpec{
		name:       "jobs",
		assetDir:   props.AssetDir,
		memoryMB:   512,
		timeout:    awscdk.Duration_Minutes(jsii.Number(5)),
		env:        env,
		dlq:        props.Failures.Queue, // failed asynchronous (schedule) invocations
		auditTable: props.Data.Table,
	})
	// Deleting a campaign (shared/store.DeleteCampaignStep): Query its leads
	// (byCampaign), re-read them and the job items of the queue (BatchGetItem),
	// delete leads and release subject keys in transactions (Delete, Update,
	// ConditionCheck), record progress and take the job off the queue.
	// TransactWriteItems is authorised per item action. BatchWriteItem is for
	// bulk deletes without transactions.
	fn.addPolicy([]string{"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
		"dynamodb:ConditionCheckItem", "dynamodb:BatchWriteItem"}, jsii.Strings(*props.Data.Table.TableArn()), nil)
	fn.addPolicy([]string{"dynamodb:Query"}, props.Data.TableArns(), nil)
	// Subject requests: tenant keys (Decrypt), archives written under SSE-KMS
	// (GenerateDataKey only through S3), sent-mail copies an erasure deletes.
	fn.addPolicy([]string{"kms:Decrypt"}, jsii.Strings(*props.Data.Key.KeyArn()), nil)
	fn.addPolicy([]string{"kms:GenerateDataKey"}, jsii.Strings(*props.Data.Key.KeyArn()), map[string]interface{}{
		"StringEquals": map[string]interface{}{"kms:ViaService": "s3." + Region + ".amazonaws.com"},
	})
	fn.addPolicy([]string{"s3:PutObject", "s3:DeleteObject"}, jsii.Strings(
		*props.Data.ExportsBucket.ArnForObjects(jsii.String(layout.ExportPrefix + "*")),
		*props.Data.ExportsBucket.ArnForObjects(jsii.String(layout.ReturnPrefix + "*"))), nil)
	fn.addPolicy([]string{"s3:DeleteObject"}, jsii.Strings(*props.Data.SentMailBucket.ArnForObjects(jsii.String(layout.SentPrefix + "*"))), nil)
	// A tenant's purge (contract end): a walk of the table, the only proof
	// that nothing of the tenant is left; the listing of its objects; the
	// deletion of its users' sign-in accounts.
	fn.addPolicy([]string{"dynamodb:Scan"}, jsii.Strings(*props.Data.Table.TableArn()), nil)
	fn.addPolicy([]string{"s3:ListBucket"}, jsii.Strings(*props.Data.ExportsBucket.BucketArn(), *props.Data.SentMailBucket.BucketArn()), nil)
	if props.Identity != nil {
		fn.addPolicy(JobsUserPoolActions, jsii.Strings(*props.Identity.UserPool.UserPoolArn()), nil)
	}

	fn.Function.AddEventSource(awslambdaeventsources.NewDynamoEventSource(props.Data.Table, &awslambdaeventsources.DynamoEventSourceProps{
		StartingPosition: awslambda.StartingPosition_LATEST,
		// One job per invocation: a job can take the whole timeout.
		BatchSize: jsii.Number(1),
		// Campaign deletions and subject requests (see jobsFilter).
		Filters: &[]*map[string]interface{}{jobsFilter(JobKeyPrefix), jobsFilter(RequestKeyPrefix)},
		// Few retries: the schedule resumes the job anyway.
		RetryAttempts:      jsii.Number(2),
		BisectBatchOnError: jsii.Bool(true),
		MaxRecordAge:       awscdk.Duration_Hours(jsii.Number(1)),
		OnFailure:          awslambdaeventsources.NewSqsDlq(props.Failures.Queue),
	}))

	rule := awsevents.NewRule(c, jsii.String("Schedule"), &awsevents.RuleProps{
		Description: jsii.String("Runs the Leadvault jobs function: resumes unfinished campaign deletions and subject requests"),
		Schedule:    awsevents.Schedule_Rate(awscdk.Duration_Minutes(jsii.Number(JobsResumeMinutes))),
	})
	rule.AddTarget(awseventstargets.NewLambdaFunction(fn.Function, &awseventstargets.LambdaFunctionProps{
		RetryAttempts:   jsii.Number(2),
		DeadLetterQueue: props.Failures.Queue,
		// A resume older than the next one is pointless.
		MaxEventAge: awscdk.Duration_Minutes(jsii.Number(JobsResumeMinutes)),
	}))

	reminders := awsevents.NewRule(c, jsii.String("Reminders"), &awsevents.RuleProps{
		Description: jsii.String("Runs the Leadvault jobs function daily: mails tenants' admins about data-subject requests due within 7 days or overdue"),
		Schedule:    awsevents.Schedule_Cron(&RemindersCron),
	})
	reminders.AddTarget(awseventstargets.NewLambdaFunction(fn.Function, &awseventstargets.LambdaFunctionProps{
		Event:           awsevents.RuleTargetInput_FromObject(map[string]any{"task": jobs.TaskDeadlineReminders}),
		RetryAttempts:   jsii.Number(2),
		DeadLetterQueue: props.Failures.Queue,
		MaxEventAge:     awscdk.Duration_Hours(jsii.Number(6)),
	}))

	retention := awsevents.NewRule(c, jsii.String("Retention"), &awsevents.RuleProps{
		Description: jsii.String("Runs the Leadvault jobs function's retention sweep: deletes leads and subject keys whose retention ran out"),
		Schedule:    awsevents.Schedule_Rate(awscdk.Duration_Minutes(jsii.Number(RetentionSweepMinutes))),
	})
	retention.AddTarget(awseventstargets.NewLambdaFunction(fn.Function, &awseventstargets.LambdaFunctionProps{
		Event:           awsevents.RuleTargetInput_FromObject(map[string]any{"task": jobs.TaskRetentionSweep}),
		RetryAttempts:   jsii.Number(2),
		DeadLetterQueue: props.Failures.Queue,
		MaxEventAge:     awscdk.Duration_Minutes(jsii.Number(RetentionSweepMinutes)),
	}))

	fn.suppressWildcards("Resource * carries only xray:PutTraceSegments/PutTelemetryRecords (Tracing: ACTIVE) and dynamodb:ListStreams (stream event source); none of them supports resource-level permissions and none reads or writes data.",
		nagReason{
			id: "AwsSolutions-IAM5",
			appliesTo: []string{"Resource::<" + LogicalIDExportsBucket + ".Arn>/" + layout.ExportPrefix + "*",
				"Resource::<" + LogicalIDExportsBucket + ".Arn>/" + layout.ReturnPrefix + "*", "Resource::<" + LogicalIDSentMailBucket + ".Arn>/" + layout.SentPrefix + "*"},
			reason: "Archives are written under the exports and contract-returns prefixes with keys named by tenant and request or time, and an erasure or a tenant's purge deletes sent-mail copies named by hour, tenant and lead: the objects are not known when the policy is written.",
		})
	return &Jobs{Construct: c, Function: fn.Function, Rule: rule, Reminders: reminders, Retention: retention}
}

// jobsFilter passes the insert or update of an item whose sort key begins with
// prefix: a job recorded, or its progress recorded, so each step's update
// triggers the next (shared/jobs). Not the removal of an item.
func jobsFilter(prefix string) *map[string]interface{} {
	return awslambda.FilterCriteria_Filter(&map[string]interface{}{
		"eventName": awslambda.FilterRule_Or(jsii.String("INSERT"), jsii.String("MODIFY")),
		"dynamodb": map[string]interface{}{
			"Keys": map[string]interface{}{store.AttrSK: map[string]interface{}{"S": awslambda.FilterRule_BeginsWith(jsii.String(prefix))}},
		},
	})
}
