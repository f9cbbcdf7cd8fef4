package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"leadvault/shared/app"
)

// SubmissionsPath is the public web-form route; the function answers CORS
// preflight and 405 itself.
const SubmissionsPath = "/v1/forms/{formID}/submissions"

// Default-stage throttling of the intake API (requests per second).
const (
	IntakeRateLimit  = 100
	IntakeBurstLimit = 200
)

// intakeAccessLogFormat is the API access log line. It leaves out the source
// IP and user agent: they are personal data of the form's visitor.
const intakeAccessLogFormat = `{"requestId":"$context.requestId","requestTime":"$context.requestTime",` +
	`"httpMethod":"$context.httpMethod","routeKey":"$context.routeKey","status":"$context.status",` +
	`"responseLength":"$context.responseLength","integrationStatus":"$context.integrationStatus",` +
	`"integrationLatency":"$context.integrationLatency"}`

// IntakeAPIProps configures NewIntakeAPI.
type IntakeAPIProps struct {
	Stage    string
	AssetDir string
	Data     *Data
}

// IntakeAPI is the public HTTP API in front of the intake function.
type IntakeAPI struct {
	constructs.Construct
	Function  awslambda.Function
	API       awsapigatewayv2.HttpApi
	APIStage  awsapigatewayv2.HttpStage
	AccessLog awslogs.LogGroup
}

// NewIntakeAPI creates the intake function and the HTTP API route to it.
func NewIntakeAPI(scope constructs.Construct, id string, props *IntakeAPIProps) *IntakeAPI {
	c := constructs.NewConstruct(scope, jsii.String(id))
	fn := newFunction(c, functionSpec{
		name:       "intake",
		assetDir:   props.AssetDir,
		memoryMB:   256,
		timeout:    awscdk.Duration_Seconds(jsii.Number(10)),
		env:        baseEnv(props.Stage, props.Data),
		auditTable: props.Data.Table,
	})
	// TransactWriteItems is authorised per item action (Put, Update, ConditionCheck).
	fn.addPolicy([]string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem"},
		jsii.Strings(*props.Data.Table.TableArn()), nil)
	fn.addPolicy([]string{"dynamodb:Query"}, props.Data.TableArns(), nil)
	fn.addPolicy([]string{"kms:Decrypt"}, jsii.Strings(*props.Data.Key.KeyArn()), nil)
	fn.suppressWildcards(xrayReason)
	suppress(fn.Function, false, nagReason{id: "Serverless-LambdaDLQ", reason: "Invoked synchronously by API Gateway only; a dead-letter queue applies to asynchronous invocations, and a failed submission is answered with an HTTP error to the form."})

	a := &IntakeAPI{Construct: c, Function: fn.Function}
	a.API = awsapigatewayv2.NewHttpApi(c, jsii.String("Api"), &awsapigatewayv2.HttpApiProps{
		Description:        jsii.String("Leadvault " + props.Stage + " public lead intake"),
		CreateDefaultStage: jsii.Bool(false), // created below with throttling and access logs
	})
	a.APIStage, a.AccessLog = newAPIStage(c, a.API, IntakeRateLimit, IntakeBurstLimit, intakeAccessLogFormat)
	routes := a.API.AddRoutes(&awsapigatewayv2.AddRoutesOptions{
		Path:        jsii.String(SubmissionsPath),
		Methods:     &[]awsapigatewayv2.HttpMethod{awsapigatewayv2.HttpMethod_ANY},
		Integration: awsapigatewayv2integrations.NewHttpLambdaIntegration(jsii.String("Intake"), fn.Function, nil),
	})
	for _, r := range *routes {
		suppress(r, true, nagReason{id: "AwsSolutions-APIG4", reason: "Public web-form intake: anonymous visitors submit leads. Protected by the per-form origin check in the function and by stage throttling."})
	}
	return a
}

// URL is the API's base URL.
func (a *IntakeAPI) URL() *string { return a.APIStage.Url() }

// accessLogSettings implements awsapigatewayv2.IAccessLogSettings, an
// interface (not a struct) in the Go binding.
type accessLogSettings struct {
	destination awsapigatewayv2.IAccessLogDestination
	format      awsapigateway.AccessLogFormat
}

// Destination implements awsapigatewayv2.IAccessLogSettings.
func (s *accessLogSettings) Destination() awsapigatewayv2.IAccessLogDestination {
	return s.destination
}

// Format implements awsapigatewayv2.IAccessLogSettings.
func (s *accessLogSettings) Format() awsapigateway.AccessLogFormat { return s.format }

// baseEnv is the environment every function gets.
func baseEnv(stage string, d *Data) map[string]*string {
	return map[string]*string{
		app.EnvStage: jsii.String(stage),
		app.EnvTable: d.Table.TableName(),
		app.EnvKeyID: d.Key.KeyArn(),
	}
}
