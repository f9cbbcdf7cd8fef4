package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscognito"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"leadvault/shared/access"
	"leadvault/shared/app"
)

// Stable CloudFormation logical IDs of the identity resources (see the
// stateful ones in data.go for why they are pinned). A replaced user pool
// loses every user, password and MFA device; a replaced group loses its
// members; a replaced client gets a new client ID that every sign-in page and
// the controller API's authorizer know.
const (
	LogicalIDUserPool       = "UserPool"
	LogicalIDUserPoolClient = "UserPoolClient"
)

// UserPoolGroups are the user pool's groups, one per role of the controller
// API (shared/access), by the logical ID each group's resource keeps.
var UserPoolGroups = []struct {
	LogicalID   string
	Name        access.Role
	Description string
}{
	{"UserPoolGroupAdmin", access.Admin, "Controller staff who manage their tenant's users, forms and access grants"},
	{"UserPoolGroupMember", access.Member, "Controller staff who work with their tenant's leads"},
	{"UserPoolGroupSupport", access.Support, "Processor staff: belong to no tenant, see masked operational data unless a tenant admin grants time-boxed access"},
}

// TenantAttribute is the custom attribute holding a user's tenant; tokens
// carry it as the claim "custom:" + TenantAttribute (access.ClaimTenant).
const TenantAttribute = "tenant_id"

// Token lifetimes of the app client.
const (
	AccessTokenValidityMinutes = 15
	IDTokenValidityMinutes     = 15
	RefreshTokenValidityHours  = 12
)

// Password policy of the user pool.
const (
	PasswordMinLength          = 12
	TempPasswordValidityInDays = 3
)

// IdentityProps configures NewIdentity.
type IdentityProps struct {
	// Stage is the stage name passed to the tokenclaims function as
	// LEADVAULT_STAGE.
	Stage string
	// AssetDir holds tokenclaims.zip.
	AssetDir string
}

// Identity is the user directory of the controller API: a Cognito user pool
// whose users are invited by admins (no self sign-up), sign in with their
// e-mail address and belong to one of the groups in UserPoolGroups. The pool
// and its groups are retained when the stack is deleted.
type Identity struct {
	constructs.Construct
	UserPool awscognito.UserPool
	// TokenClaims is the pool's pre-token-generation trigger (event version
	// V2_0): it copies custom:tenant_id into access tokens, which Cognito
	// otherwise gives custom attributes only in ID tokens, and the
	// controller API's authorizer takes access tokens.
	TokenClaims awslambda.Function
	// Client is the app client the sign-in page uses; the controller API
	// accepts only its tokens.
	Client awscognito.UserPoolClient
	Groups []awscognito.CfnUserPoolGroup
	// IssuerURL is the issuer (iss claim) of the pool's tokens,
	// https://cognito-idp.<region>.amazonaws.com/<pool id>.
	IssuerURL *string
}

// NewIdentity creates the user pool with its pre-token-generation trigger,
// its groups and its app client. props is required: it names the trigger's
// code.
func NewIdentity(scope constructs.Construct, id string, props *IdentityProps) *Identity {
	c := constructs.NewConstruct(scope, jsii.String(id))
	i := &Identity{Construct: c}

	i.UserPool = awscognito.NewUserPool(c, jsii.String("UserPool"), &awscognito.UserPoolProps{
		// Admins invite users (AdminCreateUser); nobody signs up on their own.
		SelfSignUpEnabled: jsii.Bool(false),
		SignInAliases:     &awscognito.SignInAliases{Email: jsii.Bool(true)},
		AutoVerify:        &awscognito.AutoVerifiedAttrs{Email: jsii.Bool(true)},
		// A changed address takes effect only once verified, so a signed-in
		// user cannot move their sign-in to an address they do not control.
		KeepOriginal: &awscognito.KeepOriginalAttrs{Email: jsii.Bool(true)},
		StandardAttributes: &awscognito.StandardAttributes{
			Email: &awscognito.StandardAttribute{Required: jsii.Bool(true), Mutable: jsii.Bool(true)},
		},
		// Set once by AdminCreateUser; immutable, and not in the app client's
		// write attributes, so no user can move to another tenant.
		CustomAttributes: &map[string]awscognito.ICustomAttribute{
			TenantAttribute: awscognito.NewStringAttribute(&awscognito.StringAttributeProps{
				MinLen: jsii.Number(1), MaxLen: jsii.Number(64), Mutable: jsii.Bool(false),
			}),
		},
		Mfa:             awscognito.Mfa_OPTIONAL,
		MfaSecondFactor: &awscognito.MfaSecondFactor{Otp: jsii.Bool(true), Sms: jsii.Bool(false)},
		PasswordPolicy: &awscognito.PasswordPolicy{
			MinLength:            jsii.Number(PasswordMinLength),
			RequireLowercase:     jsii.Bool(true),
			RequireUppercase:     jsii.Bool(true),
			RequireDigits:        jsii.Bool(true),
			RequireSymbols:       jsii.Bool(true),
			TempPasswordValidity: awscdk.Duration_Days(jsii.Number(TempPasswordValidityInDays)),
		},
		AccountRecovery: awscognito.AccountRecovery_EMAIL_ONLY,
		// Threat protection (formerly advanced security, ENFORCED): risk-based
		// blocking of sign-ins with compromised credentials or from unusual
		// places. Independently of it, Cognito's built-in lockout applies
		// (obligation S18): after 5 consecutive failed sign-ins each further
		// attempt is delayed, starting at 1 s and doubling up to about 15
		// minutes, until a sign-in succeeds after a lockout or 15 minutes pass
		// without attempts.
		FeaturePlan:                  awscognito.FeaturePlan_PLUS,
		StandardThreatProtectionMode: awscognito.StandardThreatProtectionMode_FULL_FUNCTION,
		DeletionProtection:           jsii.Bool(true),
		RemovalPolicy:                awscdk.RemovalPolicy_RETAIN,
	})
	overrideLogicalID(i.UserPool, LogicalIDUserPool)
	suppress(i.UserPool, false, nagReason{id: "AwsSolutions-COG2",
		reason: "MFA is optional by decision: every user may enrol a TOTP authenticator (no SMS), and threat protection (PLUS, FULL_FUNCTION) challenges risky sign-ins; requiring it would lock invited users out until they own an authenticator app."})

	i.TokenClaims = newTokenClaims(c, props)
	// V2_0 (feature plan Essentials or Plus) lets the trigger change access
	// tokens; V1_0 reaches ID tokens only. The L2 also grants
	// cognito-idp.amazonaws.com lambda:InvokeFunction for this pool only.
	i.UserPool.AddTrigger(awscognito.UserPoolOperation_PRE_TOKEN_GENERATION_CONFIG(), i.TokenClaims, awscognito.LambdaVersion_V2_0)

	for _, g := range UserPoolGroups {
		group := awscognito.NewCfnUserPoolGroup(c, jsii.String(g.LogicalID), &awscognito.CfnUserPoolGroupProps{
			UserPoolId:  i.UserPool.UserPoolId(),
			GroupName:   jsii.String(string(g.Name)),
			Description: jsii.String(g.Description),
		})
		group.ApplyRemovalPolicy(awscdk.RemovalPolicy_RETAIN, nil)
		group.OverrideLogicalId(jsii.String(g.LogicalID))
		i.Groups = append(i.Groups, group)
	}

	i.Client = i.UserPool.AddClient(jsii.String("Client"), &awscognito.UserPoolClientOptions{
		// A browser sign-in page: a secret could not be kept.
		GenerateSecret: jsii.Bool(false),
		// SRP only (the password never leaves the browser); refresh is always allowed.
		AuthFlows: &awscognito.AuthFlow{UserSrp: jsii.Bool(true)},
		// No hosted UI, so no OAuth flows (the L2 would otherwise enable
		// implicit and code grants with an example.com callback).
		DisableOAuth:               jsii.Bool(true),
		PreventUserExistenceErrors: jsii.Bool(true),
		EnableTokenRevocation:      jsii.Bool(true),
		AccessTokenValidity:        awscdk.Duration_Minutes(jsii.Number(AccessTokenValidityMinutes)),
		IdTokenValidity:            awscdk.Duration_Minutes(jsii.Number(IDTokenValidityMinutes)),
		RefreshTokenValidity:       awscdk.Duration_Hours(jsii.Number(RefreshTokenValidityHours)),
		ReadAttributes: awscognito.NewClientAttributes().
			WithStandardAttributes(&awscognito.StandardAttributesMask{Email: jsii.Bool(true), EmailVerified: jsii.Bool(true)}).
			WithCustomAttributes(jsii.String(TenantAttribute)),
		// Not the tenant: users cannot change the tenant they belong to.
		WriteAttributes: awscognito.NewClientAttributes().
			WithStandardAttributes(&awscognito.StandardAttributesMask{Email: jsii.Bool(true)}),
	})
	overrideLogicalID(i.Client, LogicalIDUserPoolClient)
	// Spelled out, as Cognito documents the iss claim, rather than the pool's
	// ProviderURL attribute, so the authorizer's issuer is plain to read.
	i.IssuerURL = jsii.String("https://cognito-idp." + *awscdk.Stack_Of(c).Region() + ".amazonaws.com/" + *i.UserPool.UserPoolId())
	return i
}

// newTokenClaims creates the tokenclaims function. It lives here, in the
// stateful stack with the pool, because the pool names it and it is granted
// to the pool: in the stateless stack the two stacks would reference each
// other. Its role may write its own log group and traces, nothing else: it
// reads only the event Cognito hands it, so it has no data access (and no
// audit-trail Deny, which only guards roles that could reach the table).
func newTokenClaims(scope constructs.Construct, props *IdentityProps) awslambda.Function {
	c := constructs.NewConstruct(scope, jsii.String("TokenClaims"))
	fn := newFunction(c, functionSpec{
		name:     "tokenclaims",
		assetDir: props.AssetDir,
		memoryMB: 128,
		// Cognito waits at most 5 s for a trigger, then fails the sign-in.
		timeout: awscdk.Duration_Seconds(jsii.Number(5)),
		env:     map[string]*string{app.EnvStage: jsii.String(props.Stage)},
	})
	fn.suppressWildcards(xrayReason)
	suppress(fn.Function, false, nagReason{id: "Serverless-LambdaDLQ",
		reason: "Invoked synchronously by Cognito while it issues tokens; a dead-letter queue applies to asynchronous invocations, and a failed invocation fails that sign-in or token refresh and is reported to the client."})
	return fn.Function
}
