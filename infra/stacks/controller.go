package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2authorizers"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"leadvault/shared/app"
	"leadvault/shared/layout"
)

// ControllerPath is the controller API's one route: every request under /v1
// with a valid token reaches the function, which routes, authorises roles and
// answers 404 and 405 (application/problem+json) itself.
const ControllerPath = "/v1/{proxy+}"

// Default-stage throttling of the controller API (requests per second). Its
// callers are a tenant's staff, far fewer than the public forms.
const (
	ControllerRateLimit  = 50
	ControllerBurstLimit = 100
)

// ControllerUserPoolActions are the Cognito actions the controller may call,
// on the stage's user pool only: invite users, change their group (role),
// sign them out everywhere and delete them (shared/directory).
var ControllerUserPoolActions = []string{
	"cognito-idp:AdminCreateUser", "cognito-idp:AdminAddUserToGroup", "cognito-idp:AdminRemoveUserFromGroup",
	"cognito-idp:AdminDeleteUser", "cognito-idp:AdminUserGlobalSignOut", "cognito-idp:AdminGetUser",
}

// controllerAccessLogFormat is the controller API's access log line. Unlike
// the intake API's it records the caller's source IP and user id (sub): the
// callers are authenticated controller and processor staff, and who did what
// from where is needed for security review (obligation S15). Like the
// intake's it leaves out the path, which can name a lead or campaign.
const controllerAccessLogFormat = `{"requestId":"$context.requestId","requestTime":"$context.requestTime",` +
	`"httpMethod":"$context.httpMethod","routeKey":"$context.routeKey","status":"$context.status",` +
	`"responseLength":"$context.responseLength","integrationStatus":"$context.integrationStatus",` +
	`"integrationLatency":"$context.integrationLatency","sourceIp":"$context.identity.sourceIp",` +
	`"sub":"$context.authorizer.claims.sub","authorizerError":"$context.authorizer.error"}`

// ControllerAPIProps configures NewControllerAPI.
type ControllerAPIProps struct {
	Stage    string
	AssetDir string
	Data     *Data
	// Identity issues the tokens the API accepts.
	Identity *Identity
}

// ControllerAPI is the HTTP API of the data controller's staff (and the
// processor's support staff): leads, forms, users, access grants and
// deletion jobs. It is separate from the public intake API and accepts only
// requests with a token of the stage's user pool client.
type ControllerAPI struct {
	constructs.Construct
	Function   awslambda.Function
	API        awsapigatewayv2.HttpApi
	APIStage   awsapigatewayv2.HttpStage
	AccessLog  awslogs.LogGroup
	Authorizer awsapigatewayv2authorizers.HttpJwtAuthorizer
}

// NewControllerAPI creates the controller function and its HTTP API with a
// JWT authorizer.
func NewControllerAPI(scope constructs.Construct, id string, props *ControllerAPIProps) *ControllerAPI {
	c := constructs.NewConstruct(scope, jsii.String(id))
	env := baseEnv(props.Stage, props.Data)
	env[app.EnvUserPoolID] = props.Identity.UserPool.UserPoolId()
	env[app.EnvExportBucket] = props.Data.ExportsBucket.BucketName()
	fn := newFunction(c, functionSpec{
		name:       "controller",
		assetDir:   props.AssetDir,
		memoryMB:   256,
		timeout:    awscdk.Duration_Seconds(jsii.Number(15)),
		env:        env,
		auditTable: props.Data.Table,
	})
	// TransactWriteItems is authorised per item action (Put, Update, Delete,
	// ConditionCheck); BatchGetItem per table.
	fn.addPolicy([]string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
		"dynamodb:ConditionCheckItem", "dynamodb:BatchGetItem"}, jsii.Strings(*props.Data.Table.TableArn()), nil)
	fn.addPolicy([]string{"dynamodb:Query"}, props.Data.TableArns(), nil)
	fn.addPolicy([]string{"kms:Decrypt"}, jsii.Strings(*props.Data.Key.KeyArn()), nil)
	fn.addPolicy(ControllerUserPoolActions, jsii.Strings(*props.Identity.UserPool.UserPoolArn()), nil)
	// The download links of access and export archives are signed with this
	// role's credentials: a link can read an archive and nothing else.
	fn.addPolicy([]string{"s3:GetObject"}, jsii.Strings(*props.Data.ExportsBucket.ArnForObjects(jsii.String(layout.ExportPrefix + "*"))), nil)
	fn.suppressWildcards(xrayReason, nagReason{
		id:        "AwsSolutions-IAM5",
		appliesTo: []string{"Resource::<" + LogicalIDExportsBucket + ".Arn>/" + layout.ExportPrefix + "*"},
		reason:    "Download links name archives by tenant and request, written after the policy; the prefix holds nothing else.",
	})
	suppress(fn.Function, false, nagReason{id: "Serverless-LambdaDLQ", reason: "Invoked synchronously by API Gateway only; a dead-letter queue applies to asynchronous invocations, and a failed request is answered with an HTTP error to the caller."})

	a := &ControllerAPI{Construct: c, Function: fn.Function}
	a.API = awsapigatewayv2.NewHttpApi(c, jsii.String("Api"), &awsapigatewayv2.HttpApiProps{
		Description:        jsii.String("Leadvault " + props.Stage + " controller API (staff, Cognito tokens)"),
		CreateDefaultStage: jsii.Bool(false), // created below with throttling and access logs
	})
	a.APIStage, a.AccessLog = newAPIStage(c, a.API, ControllerRateLimit, ControllerBurstLimit, controllerAccessLogFormat)
	a.Authorizer = awsapigatewayv2authorizers.NewHttpJwtAuthorizer(jsii.String("Authorizer"), props.Identity.IssuerURL,
		&awsapigatewayv2authorizers.HttpJwtAuthorizerProps{
			AuthorizerName: jsii.String("cognito"),
			IdentitySource: jsii.Strings("$request.header.Authorization"),
			// The client id: Cognito access tokens carry it as client_id, ID tokens as aud.
			JwtAudience: jsii.Strings(*props.Identity.Client.UserPoolClientId()),
		})
	a.API.AddRoutes(&awsapigatewayv2.AddRoutesOptions{
		Path:        jsii.String(ControllerPath),
		Methods:     &[]awsapigatewayv2.HttpMethod{awsapigatewayv2.HttpMethod_ANY},
		Integration: awsapigatewayv2integrations.NewHttpLambdaIntegration(jsii.String("Controller"), fn.Function, nil),
		Authorizer:  a.Authorizer,
	})
	return a
}

// URL is the API's base URL.
func (a *ControllerAPI) URL() *string { return a.APIStage.Url() }

// newAPIStage creates api's auto-deployed $default stage with throttling
// (rate requests per second, burst) and JSON access logs in a log group of
// its own, written in format.
func newAPIStage(scope constructs.Construct, api awsapigatewayv2.HttpApi, rate, burst float64, format string) (awsapigatewayv2.HttpStage, awslogs.LogGroup) {
	logs := awslogs.NewLogGroup(scope, jsii.String("AccessLogs"), &awslogs.LogGroupProps{
		Retention:     FunctionLogRetention,
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	stage := awsapigatewayv2.NewHttpStage(scope, jsii.String("DefaultStage"), &awsapigatewayv2.HttpStageProps{
		HttpApi:    api,
		StageName:  jsii.String("$default"),
		AutoDeploy: jsii.Bool(true),
		Throttle: &awsapigatewayv2.ThrottleSettings{
			RateLimit:  jsii.Number(rate),
			BurstLimit: jsii.Number(burst),
		},
		AccessLogSettings: &accessLogSettings{
			destination: awsapigatewayv2.NewLogGroupLogDestination(logs),
			format:      awsapigateway.AccessLogFormat_Custom(jsii.String(format)),
		},
	})
	return stage, logs
}
