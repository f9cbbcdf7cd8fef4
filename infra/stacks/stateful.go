package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// StatefulStackProps configures NewStatefulStack.
type StatefulStackProps struct {
	awscdk.StackProps
	// Stage is the stage name passed to the tokenclaims function as
	// LEADVAULT_STAGE.
	Stage string
	// AssetDir holds tokenclaims.zip, the user pool's trigger.
	AssetDir string
}

// StatefulStack holds everything that must survive a redeploy: the data key,
// the leads table, the sent-mail buckets, the mail delivery evidence, the
// user pool and the table's backups. Those are retained when the stack is deleted; the user pool's
// pre-token-generation trigger (function, role, log group), which lives here
// because the pool refers to it, holds no state and is not.
type StatefulStack struct {
	awscdk.Stack
	Data     *Data
	Mail     *Mail
	Identity *Identity
	Backup   *Backup
}

// NewStatefulStack creates the stateful stack.
func NewStatefulStack(scope constructs.Construct, id string, props *StatefulStackProps) *StatefulStack {
	if props == nil {
		props = &StatefulStackProps{}
	}
	stack := awscdk.NewStack(scope, jsii.String(id), &props.StackProps)
	s := &StatefulStack{
		Stack:    stack,
		Data:     NewData(stack, "Data", nil),
		Mail:     NewMail(stack, "Mail", nil),
		Identity: NewIdentity(stack, "Identity", &IdentityProps{Stage: props.Stage, AssetDir: props.AssetDir}),
	}
	s.Backup = NewBackup(stack, "Backup", &BackupProps{Data: s.Data})
	// The operators' CLI (infra/ops) needs these to onboard tenants, forms and staff.
	for name, out := range map[string]struct{ value, description string }{
		"TableName":        {*s.Data.Table.TableName(), "LEADVAULT_TABLE for infra/ops"},
		"DataKeyArn":       {*s.Data.Key.KeyArn(), "LEADVAULT_KEY_ID for infra/ops"},
		"SentMailBucket":   {*s.Data.SentMailBucket.BucketName(), "where copies of sent notifications live for at most 24 hours"},
		"UserPoolId":       {*s.Identity.UserPool.UserPoolId(), "Cognito user pool of the controller API's users (LEADVAULT_USER_POOL_ID)"},
		"UserPoolClientId": {*s.Identity.Client.UserPoolClientId(), "App client the sign-in page uses; the controller API accepts only its tokens"},
		"BackupVaultName":  {*s.Backup.Vault.BackupVaultName(), "AWS Backup vault of the table's daily backups (35 days, its own KMS key)"},
		"RestoreRoleArn":   {*s.Backup.RestoreRole.RoleArn(), "Role the operators assume (with MFA) to run ops restore"},
	} {
		awscdk.NewCfnOutput(stack, jsii.String(name), &awscdk.CfnOutputProps{
			Value: jsii.String(out.value), Description: jsii.String(out.description),
		})
	}
	return s
}
