package stacks

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsbackup"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/customresources"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"leadvault/shared/posture"
)

// Stable logical IDs of the backup resources (retained: a backup vault holds
// the recovery points, and its key is needed to restore them).
const (
	LogicalIDBackupKey   = "BackupKey"
	LogicalIDBackupVault = "BackupVault"
	LogicalIDRestoreRole = "RestoreRole"
)

// NotBackedUp names every stateful store that holds personal data and is not
// in the backup plan, with the reason. Everything else that holds personal data
// (the table: leads, keys, audit trail, ledgers) is backed up.
var NotBackedUp = map[string]string{
	LogicalIDSentMailBucket: "copies of sent notifications, deleted within 24 hours (E11): a backup would keep them longer than promised, and a lost copy is only a copy",
	LogicalIDExportsBucket:  "archives of subject requests (7 days) and return archives (until the purge), each rebuilt from the table on request",
	LogicalIDInboundBucket:  "raw inbound mail, deleted within seconds of becoming a lead (a day if quarantined): a backup would outlive the promise, and SES redelivers nothing",
	LogicalIDUserPool:       "Cognito user pools have no backup; the tenant's members (the authority for access) are in the table, and users are invited again after a loss",
}

// BackupAdvancedFeatureTypes are the AWS Backup resource types whose opt-in and
// "advanced" management the stack turns on: only with advanced DynamoDB backup
// are the table's backups encrypted with the vault's key rather than the table's.
var BackupAdvancedFeatureTypes = []string{"DynamoDB"}

// BackupProps configures NewBackup.
type BackupProps struct {
	// Data is the stage's data: its table is backed up.
	Data *Data
}

// Backup is the table's backups: a daily AWS Backup plan kept 35 days in a
// vault under its own customer-managed key, on top of the table's PITR (35
// days), with advanced DynamoDB backup enabled so the vault's key encrypts
// them; and the operators' restore role, the only principal besides AWS Backup
// that may use the key.
type Backup struct {
	constructs.Construct
	Key         awskms.Key
	Vault       awsbackup.BackupVault
	Plan        awsbackup.BackupPlan
	ServiceRole awsiam.Role
	RestoreRole awsiam.Role
}

// NewBackup creates the backup vault, its key, the plan and the restore role.
func NewBackup(scope constructs.Construct, id string, props *BackupProps) *Backup {
	c := constructs.NewConstruct(scope, jsii.String(id))
	b := &Backup{Construct: c}
	stack := awscdk.Stack_Of(c)

	// AWS Backup's role for this plan: backing up and restoring the table.
	b.ServiceRole = awsiam.NewRole(c, jsii.String("ServiceRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("backup.amazonaws.com"), nil),
		Description: jsii.String("AWS Backup's role for the Leadvault table's backups"),
	})
	// What AWS Backup's managed backup and restore policies allow for DynamoDB, for this table only (no AWS
	// managed policies in this app: they grow with every service AWS Backup learns).
	tableArn := *props.Data.Table.TableArn()
	b.ServiceRole.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("dynamodb:DescribeTable", "dynamodb:CreateBackup", "dynamodb:ListTagsOfResource", "dynamodb:StartAwsBackupJob"),
		Resources: jsii.Strings(tableArn),
	}))
	b.ServiceRole.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("dynamodb:DescribeBackup", "dynamodb:DeleteBackup"),
		Resources: jsii.Strings(tableArn + "/backup/*"),
	}))
	b.ServiceRole.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("dynamodb:RestoreTableFromAwsBackup", "dynamodb:RestoreTableFromBackup"),
		Resources: jsii.Strings(fmt.Sprintf("arn:aws:dynamodb:%s:%s:table/*", Region, *stack.Account())),
	}))
	// The operators' restore role: assumed by people of this account with MFA, for `ops restore`.
	b.RestoreRole = awsiam.NewRole(c, jsii.String("RestoreRole"), &awsiam.RoleProps{
		AssumedBy: awsiam.NewAccountRootPrincipal().WithConditions(&map[string]interface{}{
			"Bool": map[string]interface{}{"aws:MultiFactorAuthPresent": "true"},
		}),
		Description:        jsii.String("Leadvault operators: restore the table from PITR or a backup (ops restore); MFA required"),
		MaxSessionDuration: awscdk.Duration_Hours(jsii.Number(4)),
	})
	overrideLogicalID(b.RestoreRole, LogicalIDRestoreRole)

	keyUse := []string{"kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey", "kms:CreateGrant"}
	policy := awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{Statements: &[]awsiam.PolicyStatement{
		// The account administers the key but cannot use it: no kms:Decrypt or Encrypt here.
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("AccountAdministersOnly"),
			Principals: &[]awsiam.IPrincipal{awsiam.NewAccountRootPrincipal()},
			Actions: jsii.Strings("kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*",
				"kms:Revoke*", "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource", "kms:UntagResource",
				"kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion"),
			Resources: jsii.Strings("*"),
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("BackupServiceAndRestoreRoleUse"),
			Principals: &[]awsiam.IPrincipal{b.ServiceRole, b.RestoreRole},
			Actions:    jsii.Strings(keyUse...),
			Resources:  jsii.Strings("*"),
		}),
	}})
	b.Key = awskms.NewKey(c, jsii.String("Key"), &awskms.KeyProps{
		Description:       jsii.String("Leadvault backup vault key: encrypts the table's backups (AWS Backup, advanced DynamoDB backup)"),
		EnableKeyRotation: jsii.Bool(posture.KeyRotation),
		Alias:             jsii.String("alias/" + *stack.StackName() + "-backup"),
		Policy:            policy,
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
	})
	overrideLogicalID(b.Key, LogicalIDBackupKey)
	// The key in both the role's policy and the key policy, or jobs "succeed" without a backup.
	for _, r := range []awsiam.Role{b.ServiceRole, b.RestoreRole} {
		r.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{Actions: jsii.Strings(keyUse...),
			Resources: jsii.Strings(*b.Key.KeyArn())}))
	}
	b.RestoreRole.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("dynamodb:RestoreTableToPointInTime", "dynamodb:DescribeContinuousBackups", "dynamodb:DescribeTable",
			"dynamodb:UpdateTable", "dynamodb:UpdateTimeToLive", "dynamodb:UpdateContinuousBackups"),
		Resources: jsii.Strings(*props.Data.Table.TableArn(), fmt.Sprintf("arn:aws:dynamodb:%s:%s:table/*", Region, *stack.Account())),
	}))
	b.RestoreRole.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("backup:StartRestoreJob", "backup:DescribeRestoreJob", "backup:ListRecoveryPointsByBackupVault"),
		Resources: jsii.Strings("*"),
	}))
	b.RestoreRole.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("iam:PassRole"), Resources: jsii.Strings(*b.ServiceRole.RoleArn()),
	}))

	b.Vault = awsbackup.NewBackupVault(c, jsii.String("Vault"), &awsbackup.BackupVaultProps{
		EncryptionKey: b.Key,
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	overrideLogicalID(b.Vault, LogicalIDBackupVault)

	b.Plan = awsbackup.NewBackupPlan(c, jsii.String("Plan"), &awsbackup.BackupPlanProps{
		BackupVault: b.Vault,
		BackupPlanRules: &[]awsbackup.BackupPlanRule{awsbackup.NewBackupPlanRule(&awsbackup.BackupPlanRuleProps{
			RuleName:           jsii.String("daily"),
			ScheduleExpression: awsevents.Schedule_Cron(&BackupCron),
			DeleteAfter:        awscdk.Duration_Days(jsii.Number(posture.BackupRetentionDays)),
			StartWindow:        awscdk.Duration_Hours(jsii.Number(1)),
			CompletionWindow:   awscdk.Duration_Hours(jsii.Number(4)),
			// No copy actions: backups stay in this region's vault, in the EU.
		})},
	})
	b.Plan.AddSelection(jsii.String("Table"), &awsbackup.BackupSelectionOptions{
		Resources:                  &[]awsbackup.BackupResource{awsbackup.BackupResource_FromDynamoDbTable(props.Data.Table)},
		Role:                       b.ServiceRole,
		DisableDefaultBackupPolicy: jsii.Bool(true),
	})

	// AWS Backup's region setting, which CloudFormation has no resource for: opt in to DynamoDB and let
	// AWS Backup manage it with its advanced features, so the vault's key encrypts the backups.
	settings := map[string]interface{}{
		"ResourceTypeOptInPreference":      map[string]bool{},
		"ResourceTypeManagementPreference": map[string]bool{},
	}
	for _, t := range BackupAdvancedFeatureTypes {
		settings["ResourceTypeOptInPreference"].(map[string]bool)[t] = true
		settings["ResourceTypeManagementPreference"].(map[string]bool)[t] = true
	}
	call := &customresources.AwsSdkCall{
		Service: jsii.String("Backup"), Action: jsii.String("updateRegionSettings"), Parameters: settings,
		PhysicalResourceId: customresources.PhysicalResourceId_Of(jsii.String("backup-region-settings-" + Region)),
	}
	// The provider function's own role and log group, so it runs without AWS managed policies and its logs
	// expire like the functions'.
	providerLogs := awslogs.NewLogGroup(c, jsii.String("ProviderLogs"), &awslogs.LogGroupProps{
		Retention: FunctionLogRetention, RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	providerRole := awsiam.NewRole(c, jsii.String("ProviderRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("Runs the custom resource that enables AWS Backup's advanced DynamoDB backup"),
	})
	providerRole.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents"), Resources: jsii.Strings(*providerLogs.LogGroupArn()),
	}))
	advanced := customresources.NewAwsCustomResource(c, jsii.String("AdvancedDynamoDBBackup"), &customresources.AwsCustomResourceProps{
		Role:     providerRole,
		LogGroup: providerLogs,
		OnCreate: call, OnUpdate: call,
		Policy: customresources.AwsCustomResourcePolicy_FromStatements(&[]awsiam.PolicyStatement{
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Actions: jsii.Strings("backup:UpdateRegionSettings"), Resources: jsii.Strings("*"),
			}),
		}),
		InstallLatestAwsSdk: jsii.Bool(false),
		Timeout:             awscdk.Duration_Minutes(jsii.Number(2)),
		MemorySize:          jsii.Number(128),
	})
	advanced.Node().AddDependency(b.Vault)
	// CDK's provider function for AwsCustomResource (one per stack), run by CloudFormation at deploy time.
	if provider := stack.Node().TryFindChild(jsii.String(awsCustomResourceProviderID)); provider != nil {
		suppress(provider, true,
			nagReason{id: "Serverless-LambdaDLQ", reason: "Invoked synchronously by CloudFormation at deploy time; a failure fails the deployment, nothing is queued"},
			nagReason{id: "Serverless-LambdaTracing", reason: "One AWS API call at deploy time (backup:UpdateRegionSettings); nothing to trace"},
			nagReason{id: "Serverless-LambdaDefaultMemorySize", reason: "CDK's provider function; its memory is set on the AwsCustomResource (128 MB)"})
	}

	suppress(b.RestoreRole, true, nagReason{id: "AwsSolutions-IAM5",
		reason: "A restore creates a table whose name the operator chooses at restore time (table/*, this account and region only); AWS Backup's restore-job actions have no resource-level permissions",
		appliesTo: []string{"Resource::*", "Action::kms:ReEncrypt*", "Action::kms:GenerateDataKey*",
			fmt.Sprintf("Resource::arn:aws:dynamodb:%s:<AWS::AccountId>:table/*", Region)}})
	suppress(b.ServiceRole, true, nagReason{id: "AwsSolutions-IAM5",
		reason: "The key-use actions on the backup key alone (kms:ReEncrypt* and kms:GenerateDataKey* are the documented forms for envelope encryption); the table's backups (named by AWS at backup time); restores into a table named at restore time, in this account and region",
		appliesTo: []string{"Action::kms:ReEncrypt*", "Action::kms:GenerateDataKey*", "Resource::<" + LogicalIDLeadsTable + ".Arn>/backup/*",
			fmt.Sprintf("Resource::arn:aws:dynamodb:%s:<AWS::AccountId>:table/*", Region)}})
	suppress(advanced, true, nagReason{id: "AwsSolutions-IAM5",
		reason:    "backup:UpdateRegionSettings has no resource-level permissions; it is the only action of this custom resource",
		appliesTo: []string{"Resource::*"}})
	return b
}

// awsCustomResourceProviderID is the construct ID of the singleton function CDK's AwsCustomResource runs on.
const awsCustomResourceProviderID = "AWS679f53fac002430cb0da5b7982bd2287"

// BackupCron is when the daily backup starts: posture.BackupScheduleUTC.
var BackupCron = func() awsevents.CronOptions {
	hour, minute, _ := strings.Cut(posture.BackupScheduleUTC, ":")
	return awsevents.CronOptions{Minute: jsii.String(strings.TrimLeft(minute, "0") + map[bool]string{true: "0"}[strings.Trim(minute, "0") == ""]),
		Hour: jsii.String(strings.TrimLeft(hour, "0") + map[bool]string{true: "0"}[strings.Trim(hour, "0") == ""])}
}()
