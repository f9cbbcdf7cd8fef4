package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// FailureQueue is a dead-letter queue with an alarm that fires as soon as one
// message is in it.
type FailureQueue struct {
	constructs.Construct
	Queue awssqs.Queue
	Alarm awscloudwatch.Alarm
}

// NewFailureQueue creates the queue and its depth alarm; what names what
// failed, for the alarm description. Messages are failure metadata (stream
// batch positions, scheduler and EventBridge events, S3 event records of
// inbound mail: bucket, object key, size), never lead data, so SQS-managed
// encryption suffices.
func NewFailureQueue(scope constructs.Construct, id, what string) *FailureQueue {
	c := constructs.NewConstruct(scope, jsii.String(id))
	f := &FailureQueue{Construct: c}
	f.Queue = awssqs.NewQueue(c, jsii.String("Queue"), &awssqs.QueueProps{
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
	})
	suppress(f.Queue, false, nagReason{id: "Serverless-SQSRedrivePolicy",
		reason: "This queue is itself a dead-letter queue; a redrive target for it would only move the problem. Its depth alarm is the signal."})
	f.Alarm = awscloudwatch.NewAlarm(c, jsii.String("DepthAlarm"), &awscloudwatch.AlarmProps{
		AlarmDescription: jsii.String("Messages in a Leadvault dead-letter queue: " + what + " failed after all retries"),
		Metric: f.Queue.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{
			Period:    awscdk.Duration_Minutes(jsii.Number(1)),
			Statistic: jsii.String("Maximum"),
		}),
		Threshold:          jsii.Number(1),
		EvaluationPeriods:  jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	return f
}

// allowEventBridge lets EventBridge put undeliverable events of ruleArn into
// the queue.
func (f *FailureQueue) allowEventBridge(ruleArn *string) {
	f.Queue.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("events.amazonaws.com"), nil)},
		Actions:    jsii.Strings("sqs:SendMessage"),
		Resources:  jsii.Strings(*f.Queue.QueueArn()),
		Conditions: &map[string]interface{}{"ArnEquals": map[string]interface{}{"aws:SourceArn": ruleArn}},
	}))
}
