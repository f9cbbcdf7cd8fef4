package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdadestinations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"leadvault/shared/app"
)

// Asynchronous invocation settings of email-intake: S3 events are retried
// twice, and dropped to the on-failure destination after that or once older
// than EmailIntakeMaxEventAge (6 h: well inside the 1-day expiry of the mail).
const (
	EmailIntakeRetryAttempts = 2
	EmailIntakeMaxEventAge   = 6 // hours
)

// EmailIntakeProps configures NewEmailIntake.
type EmailIntakeProps struct {
	Stage    string
	AssetDir string
	// Data is the stateful data in eu-north-1; its values cross regions.
	Data *Data
	// Inbound is the mail path whose bucket notifies the function.
	Inbound *InboundMail
	// Failures receives the events of invocations that failed all retries.
	Failures *FailureQueue
}

// EmailIntake turns each mail SES stores under InboundPrefix into a lead: the
// bucket invokes the function asynchronously on ObjectCreated.
type EmailIntake struct {
	constructs.Construct
	Function awslambda.Function
	// Permission lets the inbound bucket invoke Function.
	Permission awslambda.CfnPermission
}

// NewEmailIntake creates the email-intake function, its permissions and the
// inbound bucket's notification to it.
func NewEmailIntake(scope constructs.Construct, id string, props *EmailIntakeProps) *EmailIntake {
	c := constructs.NewConstruct(scope, jsii.String(id))
	stack := awscdk.Stack_Of(c)
	in := props.Inbound
	env := baseEnv(props.Stage, props.Data)
	// The table and the data key stay in eu-north-1; the function runs in the inbound region.
	env[app.EnvDataRegion] = jsii.String(Region)
	env[app.EnvInboundBucket] = jsii.String(in.BucketName)
	env[app.EnvInboundDomain] = jsii.String(in.Domain)
	fn := newFunction(c, functionSpec{
		name:     "email-intake",
		assetDir: props.AssetDir,
		// SES stores messages of up to 40 MB; parsing one takes at most twice that.
		memoryMB:   512,
		timeout:    awscdk.Duration_Minutes(jsii.Number(2)),
		env:        env,
		auditTable: props.Data.Table,
	})

	// Raw mail: read and delete under inbound/, write only under quarantine/
	// (a copy of unparseable mail). Object ARNs come from the fixed bucket name:
	// the function must not depend on the bucket (see InboundBucketName).
	fn.addPolicy([]string{"s3:GetObject", "s3:DeleteObject"}, jsii.Strings(*in.objectArn(InboundPrefix)), nil)
	fn.addPolicy([]string{"s3:PutObject"}, jsii.Strings(*in.objectArn(QuarantinePrefix)), nil)
	// Raw mail is SSE-KMS (the bucket default): the inbound key is usable only
	// through S3, to read mail and to write the quarantine copy.
	viaS3 := map[string]interface{}{
		"StringEquals": map[string]interface{}{"kms:ViaService": "s3." + *stack.Region() + ".amazonaws.com"},
	}
	fn.addPolicy([]string{"kms:Decrypt", "kms:GenerateDataKey"}, jsii.Strings(*in.Key.KeyArn()), viaS3)
	in.Key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Principals: &[]awsiam.IPrincipal{fn.Role},
		Actions:    jsii.Strings("kms:Decrypt"),
		Resources:  jsii.Strings("*"), // in a key policy: this key
	}), nil)
	// Leads are stored like web-form leads: TransactWriteItems is authorised
	// per item action (Put, Update, ConditionCheck); tenant keys are wrapped
	// by the data key.
	fn.addPolicy([]string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem"},
		jsii.Strings(*props.Data.Table.TableArn()), nil)
	fn.addPolicy([]string{"dynamodb:Query"}, props.Data.TableArns(), nil)
	fn.addPolicy([]string{"kms:Decrypt"}, jsii.Strings(*props.Data.Key.KeyArn()), nil)

	fn.Function.ConfigureAsyncInvoke(&awslambda.EventInvokeConfigOptions{
		RetryAttempts: jsii.Number(EmailIntakeRetryAttempts),
		MaxEventAge:   awscdk.Duration_Hours(jsii.Number(EmailIntakeMaxEventAge)),
		OnFailure:     awslambdadestinations.NewSqsDestination(props.Failures.Queue),
	})

	// The notification is set on the CfnBucket with a plain invoke permission
	// instead of bucket.AddEventNotification, which deploys CDK's
	// BucketNotificationsHandler custom resource: a Lambda function whose role
	// has the AWS-managed AWSLambdaBasicExecutionRole and
	// s3:PutBucketNotification on Resource "*".
	e := &EmailIntake{Construct: c, Function: fn.Function}
	e.Permission = awslambda.NewCfnPermission(c, jsii.String("InvokeFromInboundBucket"), &awslambda.CfnPermissionProps{
		Action:        jsii.String("lambda:InvokeFunction"),
		FunctionName:  fn.Function.FunctionArn(),
		Principal:     jsii.String("s3.amazonaws.com"),
		SourceAccount: stack.Account(),
		SourceArn:     in.bucketArn(),
	})
	bucket := in.Bucket.Node().DefaultChild().(awss3.CfnBucket)
	bucket.SetNotificationConfiguration(&awss3.CfnBucket_NotificationConfigurationProperty{
		LambdaConfigurations: []interface{}{&awss3.CfnBucket_LambdaConfigurationProperty{
			Event:    jsii.String("s3:ObjectCreated:*"),
			Function: fn.Function.FunctionArn(),
			Filter: &awss3.CfnBucket_NotificationFilterProperty{S3Key: &awss3.CfnBucket_S3KeyFilterProperty{
				Rules: []interface{}{&awss3.CfnBucket_FilterRuleProperty{Name: jsii.String("prefix"), Value: jsii.String(InboundPrefix)}},
			}},
		}},
	})
	bucket.AddResourceDependency(e.Permission, jsii.String("S3 checks that it may invoke the function when the notification is set"))

	fn.suppressWildcards(xrayReason,
		nagReason{
			id:        "AwsSolutions-IAM5",
			reason:    "Raw mail is stored under one object key per SES message id, so reading and deleting it needs the object ARN pattern of the inbound/ prefix; no other prefix of the bucket is readable.",
			appliesTo: []string{inboundObjectsFinding(in, InboundPrefix)},
		},
		nagReason{
			id:        "AwsSolutions-IAM5",
			reason:    "Unparseable mail is copied to quarantine/<SES message id>, so s3:PutObject needs the object ARN pattern of the quarantine/ prefix; it is the only action there.",
			appliesTo: []string{inboundObjectsFinding(in, QuarantinePrefix)},
		})
	suppress(fn.Function, false, nagReason{id: "Serverless-LambdaDLQ",
		reason: "Invoked asynchronously by S3 only; failed invocations go to the on-failure destination of its EventInvokeConfig (Serverless-LambdaAsyncFailureDestination), which carries the error with the event, so a DeadLetterConfig would duplicate it."})
	return e
}

// inboundObjectsFinding is how cdk-nag names the object ARN pattern of prefix
// in the inbound bucket when it reports it.
func inboundObjectsFinding(in *InboundMail, prefix string) string {
	stack := awscdk.Stack_Of(in.Construct)
	account := *stack.Account()
	if *awscdk.Token_IsUnresolved(jsii.String(account)) {
		account = "<AWS::AccountId>"
	}
	return "Resource::arn:" + *stack.Partition() + ":s3:::" + InboundBucketName(in.stage, account, *stack.Region()) + "/" + prefix + "*"
}
