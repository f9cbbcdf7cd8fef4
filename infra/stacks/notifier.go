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
	"leadvault/shared/store"
)

// NotifierProps configures NewNotifier.
type NotifierProps struct {
	Stage        string
	AssetDir     string
	NotifyDomain string
	Data         *Data
	Mail         *Mail
	// Failures receives the stream batches the notifier gave up on.
	Failures *FailureQueue
}

// Notifier mails the controller about each new lead; it consumes the table
// stream (obligation E2: lead notifications run fully automated).
type Notifier struct {
	constructs.Construct
	Function awslambda.Function
	// SesEvents routes SES's events of the notifications to the function (E5).
	SesEvents awsevents.Rule
}

// SesDeliveryEvents are the SES event types recorded against a lead's notification.
var SesDeliveryEvents = []string{"Delivery", "Bounce", "Complaint", "Reject", "DeliveryDelay"}

// NewNotifier creates the notifier function and its stream event source.
func NewNotifier(scope constructs.Construct, id string, props *NotifierProps) *Notifier {
	c := constructs.NewConstruct(scope, jsii.String(id))
	b := &Notifier{}
	env := baseEnv(props.Stage, props.Data)
	env[app.EnvSentBucket] = props.Data.SentMailBucket.BucketName()
	env[app.EnvNotifyFrom] = jsii.String("notifications@" + props.NotifyDomain)
	env[app.EnvConfigurationSet] = props.Mail.ConfigurationSet.ConfigurationSetName()
	fn := newFunction(c, functionSpec{
		name:       "notifier",
		assetDir:   props.AssetDir,
		memoryMB:   256,
		timeout:    awscdk.Duration_Seconds(jsii.Number(30)),
		env:        env,
		auditTable: props.Data.Table,
	})

	// UpdateItem records when a mail of the outbox was sent (store.MarkMailSent).
	fn.addPolicy([]string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}, jsii.Strings(*props.Data.Table.TableArn()), nil)
	fn.addPolicy([]string{"dynamodb:Query"}, props.Data.TableArns(), nil)
	fn.addPolicy([]string{"kms:Decrypt"}, jsii.Strings(*props.Data.Key.KeyArn()), nil)
	// Sent-mail copies are SSE-KMS objects: the data key may be generated only through S3.
	fn.addPolicy([]string{"s3:PutObject"}, jsii.Strings(*props.Data.SentMailBucket.ArnForObjects(jsii.String("*"))), nil)
	fn.addPolicy([]string{"kms:GenerateDataKey"}, jsii.Strings(*props.Data.Key.KeyArn()), map[string]interface{}{
		"StringEquals": map[string]interface{}{"kms:ViaService": "s3." + Region + ".amazonaws.com"},
	})
	stack := awscdk.Stack_Of(c)
	fn.addPolicy([]string{"ses:SendEmail", "ses:SendRawEmail"}, &[]*string{
		stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("ses"), Resource: jsii.String("identity"), ResourceName: jsii.String(props.NotifyDomain)}),
		stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("ses"), Resource: jsii.String("configuration-set"), ResourceName: props.Mail.ConfigurationSet.ConfigurationSetName()}),
	}, nil)

	fn.Function.AddEventSource(awslambdaeventsources.NewDynamoEventSource(props.Data.Table, &awslambdaeventsources.DynamoEventSourceProps{
		StartingPosition: awslambda.StartingPosition_LATEST,
		BatchSize:        jsii.Number(10),
		// Only new leads and new mails of the outbox; forms, logs and updates do not notify.
		Filters: &[]*map[string]interface{}{
			awslambda.FilterCriteria_Filter(&map[string]interface{}{
				"eventName": awslambda.FilterRule_IsEqual("INSERT"),
				"dynamodb": map[string]interface{}{
					"Keys": map[string]interface{}{store.AttrSK: map[string]interface{}{"S": awslambda.FilterRule_IsEqual(store.SKLead)}},
				},
			}),
			awslambda.FilterCriteria_Filter(&map[string]interface{}{
				"eventName": awslambda.FilterRule_IsEqual("INSERT"),
				"dynamodb": map[string]interface{}{
					"Keys": map[string]interface{}{store.AttrSK: map[string]interface{}{"S": awslambda.FilterRule_BeginsWith(jsii.String(store.SKMailPrefix))}},
				},
			}),
		},
		RetryAttempts:           jsii.Number(5),
		BisectBatchOnError:      jsii.Bool(true),
		ReportBatchItemFailures: jsii.Bool(true),
		MaxRecordAge:            awscdk.Duration_Hours(jsii.Number(6)),
		OnFailure:               awslambdaeventsources.NewSqsDlq(props.Failures.Queue),
	}))

	// SES's events of the configuration set's mail go to the function too: each is recorded against its
	// lead's recipient log (E5). EventBridge retries a failed invocation, then parks the event.
	b.SesEvents = awsevents.NewRule(c, jsii.String("SesEvents"), &awsevents.RuleProps{
		Description: jsii.String("SES delivery, bounce, complaint, reject and delay events of Leadvault's notifications, recorded per lead"),
		EventPattern: &awsevents.EventPattern{
			Source: jsii.Strings("aws.ses"),
			Detail: &map[string]interface{}{
				"eventType": jsii.Strings(SesDeliveryEvents...),
				"mail": map[string]interface{}{
					"tags": map[string]interface{}{"ses:configuration-set": []*string{props.Mail.ConfigurationSet.ConfigurationSetName()}},
				},
			},
		},
	})
	b.SesEvents.AddTarget(awseventstargets.NewLambdaFunction(fn.Function, &awseventstargets.LambdaFunctionProps{
		RetryAttempts: jsii.Number(4), DeadLetterQueue: props.Failures.Queue, MaxEventAge: awscdk.Duration_Hours(jsii.Number(6)),
	}))

	fn.suppressWildcards("Resource * carries only xray:PutTraceSegments/PutTelemetryRecords (Tracing: ACTIVE) and dynamodb:ListStreams (stream event source); none of them supports resource-level permissions and none reads or writes data.",
		nagReason{
			id:        "AwsSolutions-IAM5",
			reason:    "Sent-mail copies are written under per-message object keys, so s3:PutObject needs the bucket's object ARN pattern; it is the only action on it.",
			appliesTo: []string{"Resource::<SentMailBucket.Arn>/*"},
		})
	suppress(fn.Function, false, nagReason{id: "Serverless-LambdaDLQ", reason: "Invoked by the DynamoDB stream event source mapping (failed batches go to its on-failure SQS destination) and by the SES-events rule, whose target has its own dead-letter queue."})
	b.Construct, b.Function = c, fn.Function
	return b
}
