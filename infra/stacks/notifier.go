package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
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
}

// NewNotifier creates the notifier function and its stream event source.
func NewNotifier(scope constructs.Construct, id string, props *NotifierProps) *Notifier {
	c := constructs.NewConstruct(scope, jsii.String(id))
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

	fn.suppressWildcards("Resource * carries only xray:PutTraceSegments/PutTelemetryRecords (Tracing: ACTIVE) and dynamodb:ListStreams (stream event source); none of them supports resource-level permissions and none reads or writes data.",
		nagReason{
			id:        "AwsSolutions-IAM5",
			reason:    "Sent-mail copies are written under per-message object keys, so s3:PutObject needs the bucket's object ARN pattern; it is the only action on it.",
			appliesTo: []string{"Resource::<SentMailBucket.Arn>/*"},
		})
	suppress(fn.Function, false, nagReason{id: "Serverless-LambdaDLQ", reason: "Invoked synchronously by the DynamoDB stream event source mapping; failed batches go to its on-failure SQS destination instead."})
	return &Notifier{Construct: c, Function: fn.Function}
}
