package stacks

import (
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// FunctionLogRetention is how long function logs are kept. They hold no
// personal data (the functions log ids, never lead fields).
const FunctionLogRetention = awslogs.RetentionDays_THREE_MONTHS

// functionSpec describes one Go Lambda function built into <assetDir>/<name>.zip.
type functionSpec struct {
	name     string
	assetDir string
	memoryMB float64
	timeout  awscdk.Duration
	env      map[string]*string
	// dlq receives failed asynchronous invocations; nil for synchronously
	// invoked functions.
	dlq awssqs.IQueue
	// auditTable is the stage's table: the role is denied rewriting its audit
	// trail (see denyAuditRewrite). Every function of the stateless and
	// inbound stacks names it, whether or not it is granted access to the
	// table, so no later grant can open the trail. Only the user pool's
	// tokenclaims trigger leaves it nil: its role has no data action at all.
	auditTable awsdynamodb.ITable
}

// lambdaFunction is a function with its own role and log group.
type lambdaFunction struct {
	Function awslambda.Function
	Role     awsiam.Role
	LogGroup awslogs.LogGroup
}

// newFunction creates spec's function under scope with an explicit log group
// and a role of its own that may write only to that log group.
func newFunction(scope constructs.Construct, spec functionSpec) *lambdaFunction {
	f := &lambdaFunction{}
	f.LogGroup = awslogs.NewLogGroup(scope, jsii.String("Logs"), &awslogs.LogGroupProps{
		Retention:     FunctionLogRetention,
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	// An explicit role instead of the L2 default, whose AWS-managed
	// AWSLambdaBasicExecutionRole allows logging to every log group.
	f.Role = awsiam.NewRole(scope, jsii.String("Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("Execution role of the Leadvault " + spec.name + " function"),
	})
	f.LogGroup.GrantWrite(f.Role)
	f.Function = awslambda.NewFunction(scope, jsii.String("Function"), &awslambda.FunctionProps{
		Runtime:         awslambda.Runtime_PROVIDED_AL2023(),
		Architecture:    awslambda.Architecture_ARM_64(),
		Handler:         jsii.String("bootstrap"),
		Code:            awslambda.Code_FromAsset(jsii.String(filepath.Join(spec.assetDir, spec.name+".zip")), nil),
		Description:     jsii.String("Leadvault " + spec.name),
		MemorySize:      jsii.Number(spec.memoryMB),
		Timeout:         spec.timeout,
		Tracing:         awslambda.Tracing_ACTIVE,
		LogGroup:        f.LogGroup,
		LoggingFormat:   awslambda.LoggingFormat_JSON,
		Role:            f.Role,
		Environment:     &spec.env,
		DeadLetterQueue: spec.dlq,
	})
	if spec.auditTable != nil {
		f.denyAuditRewrite(spec.auditTable)
	}
	return f
}

// AuditPartitionPattern matches the partition keys of the audit trail,
// "T#<tenant>#AUDIT" (shared/audit; tenant ids contain no "#").
const AuditPartitionPattern = "T#*#AUDIT"

// AuditRewriteActions are the DynamoDB actions that could change or remove an
// existing item. Each is authorised per item, also inside TransactWriteItems
// (an Update there is an UpdateItem) and BatchWriteItem.
var AuditRewriteActions = []string{
	"dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem",
	"dynamodb:PartiQLUpdate", "dynamodb:PartiQLDelete",
}

// denyAuditRewrite makes the audit trail in table append-only for f's role
// (obligations M4/S15): an explicit Deny of AuditRewriteActions on items
// whose partition key matches AuditPartitionPattern, which no Allow can
// override. shared/audit writes records and their head with conditional Puts
// only; records leave the table only by TTL (the retention), which IAM does
// not govern.
func (f *lambdaFunction) denyAuditRewrite(table awsdynamodb.ITable) {
	f.Function.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("DenyAuditTrailRewrite"),
		Effect:    awsiam.Effect_DENY,
		Actions:   jsii.Strings(AuditRewriteActions...),
		Resources: jsii.Strings(*table.TableArn()),
		Conditions: &map[string]interface{}{
			"ForAnyValue:StringLike": map[string]interface{}{"dynamodb:LeadingKeys": []string{AuditPartitionPattern}},
		},
	}))
}

// addPolicy grants actions on resources to f's role.
func (f *lambdaFunction) addPolicy(actions []string, resources *[]*string, conditions map[string]interface{}) {
	props := &awsiam.PolicyStatementProps{Actions: jsii.Strings(actions...), Resources: resources}
	if conditions != nil {
		props.Conditions = &conditions
	}
	f.Function.AddToRolePolicy(awsiam.NewPolicyStatement(props))
}

// xrayReason explains the Resource "*" statement that Tracing: ACTIVE adds.
const xrayReason = "xray:PutTraceSegments and xray:PutTelemetryRecords (added by Tracing: ACTIVE) support no resource-level permissions, so AWS requires Resource *; no data action is granted on *."

// suppressWildcards acknowledges the Resource "*" finding on f's role policy
// with starReason, plus any further findings in extra.
func (f *lambdaFunction) suppressWildcards(starReason string, extra ...nagReason) {
	reasons := append([]nagReason{{id: "AwsSolutions-IAM5", reason: starReason, appliesTo: []string{"Resource::*"}}}, extra...)
	suppress(f.Role, true, reasons...)
}
