// Package stacks defines Leadvault's AWS infrastructure as CDK constructs: the
// stateful stack (key, table, buckets, mail configuration) and the stateless
// stack (intake API, notifier, sweeper) that together form one deployment stage.
package stacks

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Region is the only AWS region Leadvault may be deployed to (obligation E4:
// hosted at AWS in Sweden).
const Region = "eu-north-1"

// Project is the value of the project tag on every resource.
const Project = "leadvault"

// FunctionNames lists the Lambda functions whose code NewStage expects as
// <AssetDir>/<name>.zip.
var FunctionNames = []string{"intake", "notifier", "sweeper"}

// StageProps configures one deployment stage.
type StageProps struct {
	// Account is the AWS account id; empty leaves the stacks account-agnostic.
	Account string
	// Region must be eu-north-1.
	Region string
	// NotifyDomain is the SES-verified domain notifications are sent from.
	NotifyDomain string
	// AssetDir holds intake.zip, notifier.zip and sweeper.zip (built by make build).
	AssetDir string
}

var (
	stageNameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,30}$`)
	accountRE   = regexp.MustCompile(`^[0-9]{12}$`)
	domainRE    = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)
)

// Validate reports the first problem that would make a stage undeployable or
// break an obligation, before any construct is created.
func (p StageProps) Validate() error {
	if p.Region != Region {
		return fmt.Errorf("region %q is not allowed: Leadvault runs only in %s (obligation E4)", p.Region, Region)
	}
	if p.Account != "" && !accountRE.MatchString(p.Account) {
		return fmt.Errorf("account %q is not a 12-digit AWS account id", p.Account)
	}
	if !domainRE.MatchString(p.NotifyDomain) {
		return fmt.Errorf("notify domain %q is not a lower-case DNS name", p.NotifyDomain)
	}
	if p.AssetDir == "" {
		return errors.New("asset dir is empty")
	}
	for _, fn := range FunctionNames {
		zip := filepath.Join(p.AssetDir, fn+".zip")
		if _, err := os.Stat(zip); err != nil {
			return fmt.Errorf("function code %s is missing (run make build): %w", zip, err)
		}
	}
	return nil
}

// NewStage creates the stage name (e.g. staging, production) with its stateful
// and stateless stacks, tagged and checked by cdk-nag (see ApplyNagChecks). It
// returns an error, and creates nothing, if props are invalid; in particular
// for any region other than eu-north-1.
func NewStage(scope constructs.Construct, name string, props StageProps) (awscdk.Stage, error) {
	if !stageNameRE.MatchString(name) {
		return nil, fmt.Errorf("stage name %q must match %s", name, stageNameRE)
	}
	if err := props.Validate(); err != nil {
		return nil, fmt.Errorf("stage %s: %w", name, err)
	}
	env := &awscdk.Environment{Region: jsii.String(props.Region)}
	if props.Account != "" {
		env.Account = jsii.String(props.Account)
	}
	stage := awscdk.NewStage(scope, jsii.String(name), &awscdk.StageProps{Env: env})
	tags := map[string]*string{"project": jsii.String(Project), "stage": jsii.String(name)}
	for k, v := range tags {
		awscdk.Tags_Of(stage).Add(jsii.String(k), v, nil)
	}
	// Here, not on the app: aspects do not cross into nested stages.
	ApplyNagChecks(stage)

	stateful := NewStatefulStack(stage, "Stateful", &StatefulStackProps{
		StackProps: awscdk.StackProps{
			Description: jsii.String(fmt.Sprintf("Leadvault %s: personal data stores (key, table, buckets) and mail evidence; retained on delete", name)),
			// Stack tags are explicit because @aws-cdk/core:explicitStackTags ignores Tags.Of for stacks.
			Tags:                  &tags,
			TerminationProtection: jsii.Bool(true),
		},
	})
	NewStatelessStack(stage, "Stateless", &StatelessStackProps{
		StackProps: awscdk.StackProps{
			Description: jsii.String(fmt.Sprintf("Leadvault %s: intake API, notifier and sweeper functions", name)),
			Tags:        &tags,
		},
		Stage:        name,
		NotifyDomain: props.NotifyDomain,
		AssetDir:     props.AssetDir,
		Data:         stateful.Data,
		Mail:         stateful.Mail,
	})
	return stage, nil
}
