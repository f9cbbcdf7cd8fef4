package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// SweeperProps configures NewSweeper.
type SweeperProps struct {
	Stage    string
	AssetDir string
	Data     *Data
	// Failures receives schedule events that could not be delivered or
	// processed.
	Failures *FailureQueue
}

// Sweeper deletes sent-mail copies older than 24 hours on a schedule.
type Sweeper struct {
	constructs.Construct
	Function awslambda.Function
	Rule     awsevents.Rule
}

// NewSweeper creates the sweeper function and its hourly schedule.
func NewSweeper(scope constructs.Construct, id string, props *SweeperProps) *Sweeper {
	c := constructs.NewConstruct(scope, jsii.String(id))
	env := baseEnv(props.Stage, props.Data)
	env["LEADVAULT_SENT_BUCKET"] = props.Data.SentMailBucket.BucketName()
	fn := newFunction(c, functionSpec{
		name:     "sweeper",
		assetDir: props.AssetDir,
		memoryMB: 128, // lists and deletes keys only
		timeout:  awscdk.Duration_Minutes(jsii.Number(5)),
		env:      env,
		// Asynchronous invocations that fail all Lambda retries land here too.
		dlq: props.Failures.Queue,
	})
	fn.addPolicy([]string{"s3:ListBucket"}, jsii.Strings(*props.Data.SentMailBucket.BucketArn()), nil)
	fn.addPolicy([]string{"s3:DeleteObject"}, jsii.Strings(*props.Data.SentMailBucket.ArnForObjects(jsii.String("*"))), nil)
	fn.suppressWildcards(xrayReason, nagReason{
		id:        "AwsSolutions-IAM5",
		reason:    "The sweeper deletes any sent-mail copy older than 24 h, so s3:DeleteObject needs the bucket's object ARN pattern; it is the only action on it.",
		appliesTo: []string{"Resource::<SentMailBucket.Arn>/*"},
	})

	rule := awsevents.NewRule(c, jsii.String("Schedule"), &awsevents.RuleProps{
		Description: jsii.String("Runs the Leadvault sweeper: deletes sent-mail copies older than 24 h"),
		// Hourly, so no copy outlives 24 h by more than an hour (obligation E11).
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
