package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"leadvault/shared/app"
	"leadvault/shared/layout"
)

// StatelessStackProps configures NewStatelessStack.
type StatelessStackProps struct {
	awscdk.StackProps
	// Stage is the stage name passed to the functions as LEADVAULT_STAGE.
	Stage        string
	NotifyDomain string
	// OperatorEmail receives the operators' alerts by e-mail (see StageProps).
	OperatorEmail string
	AssetDir      string
	// Data, Mail and Identity come from the stage's StatefulStack.
	Data     *Data
	Mail     *Mail
	Identity *Identity
}

// StatelessStack holds the functions and the APIs; it can be destroyed and
// recreated without losing data.
type StatelessStack struct {
	awscdk.Stack
	Intake     *IntakeAPI
	Controller *ControllerAPI
	Notifier   *Notifier
	Sweeper    *Sweeper
	Jobs       *Jobs
	Alerts     *Alerts
	// Failures is the dead-letter queue shared by the notifier, the sweeper
	// and the jobs function.
	Failures *FailureQueue
}

// NewStatelessStack creates the stateless stack.
func NewStatelessStack(scope constructs.Construct, id string, props *StatelessStackProps) *StatelessStack {
	stack := awscdk.NewStack(scope, jsii.String(id), &props.StackProps)
	s := &StatelessStack{Stack: stack}
	s.Failures = NewFailureQueue(stack, "Failures", "a notification, sweep or campaign-deletion job")
	s.Intake = NewIntakeAPI(stack, "Intake", &IntakeAPIProps{
		Stage: props.Stage, AssetDir: props.AssetDir, Data: props.Data,
	})
	s.Notifier = NewNotifier(stack, "Notifier", &NotifierProps{
		Stage: props.Stage, AssetDir: props.AssetDir, NotifyDomain: props.NotifyDomain,
		Data: props.Data, Mail: props.Mail, Failures: s.Failures,
	})
	s.Controller = NewControllerAPI(stack, "Controller", &ControllerAPIProps{
		Stage: props.Stage, AssetDir: props.AssetDir, Data: props.Data, Identity: props.Identity,
	})
	s.Jobs = NewJobs(stack, "Jobs", &JobsProps{
		Stage: props.Stage, AssetDir: props.AssetDir, Data: props.Data, Identity: props.Identity, Failures: s.Failures,
	})
	s.Alerts = NewAlerts(stack, "Alerts", &AlertsProps{Jobs: s.Jobs, Failures: s.Failures, Email: props.OperatorEmail})
	s.Sweeper = NewSweeper(stack, "Sweeper", &SweeperProps{
		Stage: props.Stage, AssetDir: props.AssetDir, Failures: s.Failures, AuditTable: props.Data.Table,
		Targets: []SweepTarget{{
			EnvVar: app.EnvSentBucket, BucketName: props.Data.SentMailBucket.BucketName(),
			BucketArn: props.Data.SentMailBucket.BucketArn(), Prefixes: []string{layout.SentPrefix},
			ObjectsFinding: func(p string) string { return "Resource::<" + LogicalIDSentMailBucket + ".Arn>/" + p + "*" },
		}, {
			EnvVar: app.EnvExportBucket, BucketName: props.Data.ExportsBucket.BucketName(),
			BucketArn: props.Data.ExportsBucket.BucketArn(), Prefixes: []string{layout.ExportPrefix},
			ObjectsFinding: func(p string) string { return "Resource::<" + LogicalIDExportsBucket + ".Arn>/" + p + "*" },
		}},
	})
	awscdk.NewCfnOutput(stack, jsii.String("IntakeApiUrl"), &awscdk.CfnOutputProps{
		Description: jsii.String("Base URL of the public intake API; forms POST to v1/forms/{formID}/submissions"),
		Value:       s.Intake.URL(),
	})
	awscdk.NewCfnOutput(stack, jsii.String("ControllerApiUrl"), &awscdk.CfnOutputProps{
		Description: jsii.String("Base URL of the controller API; staff call v1/... with a user pool token (Authorization header)"),
		Value:       s.Controller.URL(),
	})
	return s
}
