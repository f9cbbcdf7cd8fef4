package stacks_test

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/jsii-runtime-go"

	"leadvault/infra/stacks"
)

func TestNag_noUnsuppressedFindings(t *testing.T) {
	f := getFixture(t)
	// The fixture has synthesized every stage, so cdk-nag has annotated them;
	// SynthErrors is the check the app runs before it exits (an error, or an
	// unsuppressed cdk-nag warning, fails synth). Reading the annotations this
	// way costs no further synthesis, unlike assertions.Annotations_FromStack.
	for _, stage := range stageNames {
		for _, e := range stacks.SynthErrors(f.stages[stage]) {
			t.Errorf("%s: %s", stage, e)
		}
	}
}

// wantSuppressed is every acknowledged cdk-nag finding of a stage: rule, path
// below the stage and, for granular suppressions, the finding. A new
// suppression must be added here, i.e. reviewed.
var wantSuppressed = []string{
	"AwsSolutions-APIG4 Stateless/Intake/Api/ANY--v1--forms--{formID}--submissions/Resource",
	"AwsSolutions-COG2 Stateful/Identity/UserPool/Resource",
	"AwsSolutions-IAM5 Inbound/EmailIntake/Role/DefaultPolicy/Resource [Resource::*]",
	"AwsSolutions-IAM5 Inbound/EmailIntake/Role/DefaultPolicy/Resource [Resource::arn:aws:s3:::leadvault-<stage>-inbound-<AWS::AccountId>-eu-west-1/inbound/*]",
	"AwsSolutions-IAM5 Inbound/EmailIntake/Role/DefaultPolicy/Resource [Resource::arn:aws:s3:::leadvault-<stage>-inbound-<AWS::AccountId>-eu-west-1/quarantine/*]",
	"AwsSolutions-IAM5 Inbound/Sweeper/Role/DefaultPolicy/Resource [Resource::*]",
	"AwsSolutions-IAM5 Inbound/Sweeper/Role/DefaultPolicy/Resource [Resource::arn:aws:s3:::leadvault-<stage>-inbound-<AWS::AccountId>-eu-west-1/inbound/*]",
	"AwsSolutions-IAM5 Inbound/Sweeper/Role/DefaultPolicy/Resource [Resource::arn:aws:s3:::leadvault-<stage>-inbound-<AWS::AccountId>-eu-west-1/quarantine/*]",
	// The table's backups: AWS Backup's own service-role policies, key use, restores into tables named at
	// restore time, and CDK's provider function of the region-settings custom resource.
	"AwsSolutions-IAM5 Stateful/Backup/AdvancedDynamoDBBackup/CustomResourcePolicy/Resource [Resource::*]",
	"AwsSolutions-IAM5 Stateful/Backup/RestoreRole/DefaultPolicy/Resource [Action::kms:GenerateDataKey*]",
	"AwsSolutions-IAM5 Stateful/Backup/RestoreRole/DefaultPolicy/Resource [Action::kms:ReEncrypt*]",
	"AwsSolutions-IAM5 Stateful/Backup/RestoreRole/DefaultPolicy/Resource [Resource::*]",
	"AwsSolutions-IAM5 Stateful/Backup/RestoreRole/DefaultPolicy/Resource [Resource::arn:aws:dynamodb:eu-north-1:<AWS::AccountId>:table/*]",
	"AwsSolutions-IAM5 Stateful/Backup/ServiceRole/DefaultPolicy/Resource [Action::kms:GenerateDataKey*]",
	"AwsSolutions-IAM5 Stateful/Backup/ServiceRole/DefaultPolicy/Resource [Action::kms:ReEncrypt*]",
	"AwsSolutions-IAM5 Stateful/Backup/ServiceRole/DefaultPolicy/Resource [Resource::<LeadsTable.Arn>/backup/*]",
	"AwsSolutions-IAM5 Stateful/Backup/ServiceRole/DefaultPolicy/Resource [Resource::arn:aws:dynamodb:eu-north-1:<AWS::AccountId>:table/*]",
	"Serverless-LambdaDLQ Stateful/AWS679f53fac002430cb0da5b7982bd2287/Resource",
	"Serverless-LambdaTracing Stateful/AWS679f53fac002430cb0da5b7982bd2287/Resource",
	"AwsSolutions-IAM5 Stateful/Identity/TokenClaims/Role/DefaultPolicy/Resource [Resource::*]",
	"AwsSolutions-IAM5 Stateless/Controller/Role/DefaultPolicy/Resource [Resource::*]",
	"AwsSolutions-IAM5 Stateless/Controller/Role/DefaultPolicy/Resource [Resource::<ExportsBucket.Arn>/subject-requests/*]",
	"AwsSolutions-IAM5 Stateless/Intake/Role/DefaultPolicy/Resource [Resource::*]",
	"AwsSolutions-IAM5 Stateless/Jobs/Role/DefaultPolicy/Resource [Resource::*]",
	"AwsSolutions-IAM5 Stateless/Jobs/Role/DefaultPolicy/Resource [Resource::<ExportsBucket.Arn>/contract-returns/*]",
	"AwsSolutions-IAM5 Stateless/Jobs/Role/DefaultPolicy/Resource [Resource::<ExportsBucket.Arn>/subject-requests/*]",
	"AwsSolutions-IAM5 Stateless/Jobs/Role/DefaultPolicy/Resource [Resource::<SentMailBucket.Arn>/sent/*]",
	"AwsSolutions-IAM5 Stateless/Notifier/Role/DefaultPolicy/Resource [Resource::*]",
	"AwsSolutions-IAM5 Stateless/Notifier/Role/DefaultPolicy/Resource [Resource::<SentMailBucket.Arn>/*]",
	"AwsSolutions-IAM5 Stateless/Sweeper/Role/DefaultPolicy/Resource [Resource::*]",
	"AwsSolutions-IAM5 Stateless/Sweeper/Role/DefaultPolicy/Resource [Resource::<ExportsBucket.Arn>/subject-requests/*]",
	"AwsSolutions-IAM5 Stateless/Sweeper/Role/DefaultPolicy/Resource [Resource::<SentMailBucket.Arn>/sent/*]",
	"AwsSolutions-SQS3 Stateful/Mail/DeliveryLogFailures/Queue/Resource",
	"Serverless-LambdaDLQ Inbound/EmailIntake/Function/Resource",
	"Serverless-LambdaDLQ Stateful/Identity/TokenClaims/Function/Resource",
	"Serverless-LambdaDLQ Stateless/Controller/Function/Resource",
	"Serverless-LambdaDLQ Stateless/Intake/Function/Resource",
	"Serverless-LambdaDLQ Stateless/Notifier/Function/Resource",
	"Serverless-SQSRedrivePolicy Inbound/Failures/Queue/Resource",
	"Serverless-SQSRedrivePolicy Stateful/Mail/DeliveryLogFailures/Queue/Resource",
	"Serverless-SQSRedrivePolicy Stateless/Failures/Queue/Resource",
}

func TestNag_suppressionsAreKnown(t *testing.T) {
	getFixture(t)
	for _, stage := range stageNames {
		reports, err := filepath.Glob(filepath.Join(testOutDir, "*-"+stage+"-"+stage+"-*-NagReport.csv"))
		if err != nil {
			t.Fatal(err)
		}
		if len(reports) != 2*len(stackIDs) {
			t.Fatalf("%s: found nag reports %v; want one per pack and stack (did the packs run?)", stage, reports)
		}
		var got []string
		for _, path := range reports {
			rows, err := readCSV(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, row := range rows[1:] { // Rule ID,Resource ID,Compliance,Exception Reason,...
				if row[2] != "Suppressed" {
					continue
				}
				s := row[0] + " " + strings.TrimPrefix(row[1], stage+"/")
				if strings.HasPrefix(row[3], "[") {
					// Findings that name a stage's resource are the same in every stage.
					s += " " + strings.ReplaceAll(row[3][:strings.Index(row[3], "]")+1], "leadvault-"+stage+"-", "leadvault-<stage>-")
				}
				got = append(got, s)
			}
		}
		sort.Strings(got)
		want := slices.Sorted(slices.Values(wantSuppressed))
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s suppressed findings =\n  %s\nwant\n  %s", stage, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
		}
	}
}

// readCSV reads a whole CSV file.
func readCSV(path string) ([][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return csv.NewReader(f).ReadAll()
}

func TestApplyNagChecks_warningIsFatal(t *testing.T) {
	app, err := newTestApp(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// As under `cdk synth`: synthesis records errors instead of throwing.
	app.Node().SetContext(jsii.String("@aws-cdk/core:appMode"), "process")
	stack := awscdk.NewStack(app, jsii.String("Probe"), &awscdk.StackProps{
		Env: &awscdk.Environment{Region: jsii.String(stacks.Region)},
	})
	// Infinite retention is only a cdk-nag warning (Serverless-CloudWatchLogGroupRetentionPeriod).
	awslogs.NewLogGroup(stack, jsii.String("Forever"), &awslogs.LogGroupProps{
		Retention:     awslogs.RetentionDays_INFINITE,
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	stacks.ApplyNagChecks(app)

	app.Synth(nil)
	errs := stacks.SynthErrors(app)
	const (
		wantPrefix = "Probe/Forever/Resource: Serverless-CloudWatchLogGroupRetentionPeriod: The CloudWatch Log Group does not have an explicit retention policy defined."
		wantSuffix = "(cdk-nag warning, fatal in Leadvault: fix it or suppress it with a reason)"
	)
	found := false
	for _, e := range errs {
		found = found || strings.HasPrefix(e, wantPrefix) && strings.HasSuffix(e, wantSuffix)
	}
	if !found {
		t.Errorf("SynthErrors() = %q; want an error starting %q and ending %q", errs, wantPrefix, wantSuffix)
	}
}
