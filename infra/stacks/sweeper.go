package stacks

import (
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"leadvault/shared/app"
)

// SweepTarget is a bucket whose objects under Prefixes the sweeper deletes
// before their 24-hour deadline (obligation E11).
type SweepTarget struct {
	// EnvVar tells the function the bucket: LEADVAULT_SENT_BUCKET or
	// LEADVAULT_INBOUND_BUCKET (see shared/sweep.FromConfig).
	EnvVar     string
	BucketName *string
	BucketArn  *string
	Prefixes   []string
	// ObjectsFinding returns the cdk-nag appliesTo token of the object ARN
	// pattern of a prefix, as cdk-nag renders it for this bucket.
	ObjectsFinding func(prefix string) string
}

// SweeperProps configures NewSweeper.
type SweeperProps struct {
	Stage    string
	AssetDir string
	Targets  []SweepTarget
	// Failures receives schedule events that could not be delivered or
	// processed.
	Failures *FailureQueue
	// AuditTable is the stage's table. The sweeper has no access to it, but
	// like every function it is denied rewriting its audit trail.
	AuditTable awsdynamodb.ITable
}

// Sweeper deletes objects older than 24 hours on a schedule: sent-mail
// copies in eu-north-1, raw inbound mail in the receiving region. S3
// lifecycle rules back it up but run lazily, up to a day late.
type Sweeper struct {
	constructs.Construct
	Function awslambda.Function
	Rule     awsevents.Rule
}

// NewSweeper creates a sweeper function and its hourly schedule.
func NewSweeper(scope constructs.Construct, id string, props *SweeperProps) *Sweeper {
	c := constructs.NewConstruct(scope, jsii.String(id))
	env := map[string]*string{app.EnvStage: jsii.String(props.Stage)}
	for _, t := range props.Targets {
		env[t.EnvVar] = t.BucketName
	}
	fn := newFunction(c, functionSpec{
		name:     "sweeper",
		assetDir: props.AssetDir,
		memoryMB: 128, // lists and deletes keys only
		timeout:  awscdk.Duration_Minutes(jsii.Number(5)),
		env:      env,
		// Asynchronous invocations that fail all Lambda retries land here too.
		dlq:        props.Failures.Queue,
		auditTable: props.AuditTable,
	})
	var findings []nagReason
	for _, t := range props.Targets {
		fn.addPolicy([]string{"s3:ListBucket"}, jsii.Strings(*t.BucketArn), map[string]interface{}{
			"StringEquals": map[string]interface{}{"s3:prefix": t.Prefixes},
		})
		for _, p := range t.Prefixes {
			fn.addPolicy([]string{"s3:DeleteObject"}, jsii.Strings(*t.BucketArn+"/"+p+"*"), nil)
			findings = append(findings, nagReason{
				id: "AwsSolutions-IAM5",
				reason: "The sweeper deletes any object under " + p + " older than 24 h, so s3:DeleteObject needs that prefix's object ARN pattern; " +
					"it is the only action there and no other prefix is reachable.",
				appliesTo: []string{t.ObjectsFinding(p)},
			})
		}
	}
	fn.suppressWildcards(xrayReason, findings...)

	var what []string
	for _, t := range props.Targets {
		what = append(what, strings.Join(t.Prefixes, ", "))
	}
	rule := awsevents.NewRule(c, jsii.String("Schedule"), &awsevents.RuleProps{
		Description: jsii.String("Runs the Leadvault sweeper: deletes objects under " + strings.Join(what, ", ") + " older than 24 h"),
		// Hourly, and objects go an hour before their deadline, so none outlives 24 h (E11).
		Schedule: awsevents.Schedule_Rate(awscdk.Duration_Hours(jsii.Number(1))),
	})
	rule.AddTarget(awseventstargets.NewLambdaFunction(fn.Function, &awseventstargets.LambdaFunctionProps{
		RetryAttempts:   jsii.Number(2),
		DeadLetterQueue: props.Failures.Queue,
		// A sweep older than the next one is pointless.
		MaxEventAge: awscdk.Duration_Hours(jsii.Number(1)),
	}))
	return &Sweeper{Construct: c, Function: fn.Function, Rule: rule}
}
