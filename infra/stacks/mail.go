package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsses"
	"github.com/aws/aws-cdk-go/awscdk/v2/interfaces/interfacesawsevents"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// MailProps configures NewMail. It is empty today.
type MailProps struct{}

// Mail is the outbound-mail configuration: an SES configuration set whose
// delivery, bounce, complaint and reject events are kept as delivery evidence
// (obligation E5).
type Mail struct {
	constructs.Construct
	// ConfigurationSet must be named in every SendEmail call.
	ConfigurationSet awsses.ConfigurationSet
	// DeliveryLog keeps one line per SES event for a year.
	DeliveryLog awslogs.LogGroup
	// Rule routes the configuration set's events from the default bus to DeliveryLog.
	Rule awsevents.Rule
	// Failures catches events EventBridge could not write to DeliveryLog.
	Failures *FailureQueue
}

// NewMail creates the SES configuration set, its EventBridge event
// destination and the rule that logs those events.
func NewMail(scope constructs.Construct, id string, _ *MailProps) *Mail {
	c := constructs.NewConstruct(scope, jsii.String(id))
	m := &Mail{Construct: c}

	m.ConfigurationSet = awsses.NewConfigurationSet(c, jsii.String("ConfigurationSet"), &awsses.ConfigurationSetProps{
		// Refuse to hand mail to a receiving server without TLS (obligation T2).
		TlsPolicy: awsses.ConfigurationSetTlsPolicy_REQUIRE,
	})
	// Open and click events are deliberately not published: they need tracking
	// pixels and rewritten links (obligation E3).
	m.ConfigurationSet.AddEventDestination(jsii.String("ToEventBridge"), &awsses.ConfigurationSetEventDestinationOptions{
		// SES can only publish to the default bus.
		Destination: awsses.EventDestination_EventBus(awsevents.EventBus_FromEventBusName(c, jsii.String("DefaultBus"), jsii.String("default"))),
		Events: &[]awsses.EmailSendingEvent{
			awsses.EmailSendingEvent_DELIVERY,
			awsses.EmailSendingEvent_BOUNCE,
			awsses.EmailSendingEvent_COMPLAINT,
			awsses.EmailSendingEvent_REJECT,
		},
	})

	m.DeliveryLog = awslogs.NewLogGroup(c, jsii.String("DeliveryLog"), &awslogs.LogGroupProps{
		Retention: awslogs.RetentionDays_ONE_YEAR,
		// Evidence of delivery must outlive a stack replacement.
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	m.Failures = NewFailureQueue(c, "DeliveryLogFailures", "a delivery-log write")
	suppress(m.Failures.Queue, false, nagReason{id: "AwsSolutions-SQS3",
		reason: "This queue is the dead-letter queue of the SES-events rule target; cdk-nag recognises only SQS redrive and Lambda DeadLetterConfig as DLQ uses."})

	m.Rule = awsevents.NewRule(c, jsii.String("SesEvents"), &awsevents.RuleProps{
		Description: jsii.String("SES delivery/bounce/complaint/reject events of the Leadvault configuration set, kept as delivery evidence"),
		EventPattern: &awsevents.EventPattern{
			Source: jsii.Strings("aws.ses"),
			Detail: &map[string]interface{}{
				"mail": map[string]interface{}{
					"tags": map[string]interface{}{
						"ses:configuration-set": []*string{m.ConfigurationSet.ConfigurationSetName()},
					},
				},
			},
		},
	})
	m.Rule.AddTarget(&logGroupTarget{logGroup: m.DeliveryLog, dlq: m.Failures})
	return m
}

// logGroupTarget delivers rule events to a log group. It replaces
// awseventstargets.CloudWatchLogGroup, which grants EventBridge access through
// a Lambda-backed custom resource (Node runtime, wildcard IAM); a native
// AWS::Logs::ResourcePolicy does the same without one.
type logGroupTarget struct {
	logGroup awslogs.LogGroup
	dlq      *FailureQueue
}

// Bind implements awsevents.IRuleTarget.
func (t *logGroupTarget) Bind(rule interfacesawsevents.IRuleRef, _ *string) *awsevents.RuleTargetConfig {
	ruleArn := rule.RuleRef().RuleArn
	t.logGroup.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("events.amazonaws.com"), nil)},
		Actions:    jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents"),
		Resources:  jsii.Strings(*t.logGroup.LogGroupArn()),
	}))
	t.dlq.allowEventBridge(ruleArn)
	return &awsevents.RuleTargetConfig{
		Arn: awscdk.Stack_Of(t.logGroup).FormatArn(&awscdk.ArnComponents{
			Service:      jsii.String("logs"),
			Resource:     jsii.String("log-group"),
			ResourceName: t.logGroup.LogGroupName(),
			ArnFormat:    awscdk.ArnFormat_COLON_RESOURCE_NAME,
		}),
		// Only the event type, SES message id and event id: enough to prove
		// delivery together with the notifier's recipient log, without logging
		// recipients, subject or headers (obligation E5: who, never content).
		Input: awseventstargets.LogGroupTargetInput_FromObjectV2(&awseventstargets.LogGroupTargetInputOptions{
			Timestamp: awsevents.EventField_Time(),
			Message: jsii.String(*awsevents.EventField_DetailType() +
				" messageId=" + *awsevents.EventField_FromPath(jsii.String("$.detail.mail.messageId")) +
				" eventId=" + *awsevents.EventField_EventId()),
		}),
		DeadLetterConfig: &awsevents.CfnRule_DeadLetterConfigProperty{Arn: t.dlq.Queue.QueueArn()},
		TargetResource:   t.logGroup,
	}
}
