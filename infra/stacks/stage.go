// Package stacks defines Leadvault's AWS infrastructure as CDK constructs: the
// stateful stack (key, table, buckets, mail configuration, user pool and its
// token trigger), the stateless stack (intake and controller APIs, notifier,
// sweeper, jobs) and the inbound stack (SES receiving, inbound bucket,
// email-intake) that together form one deployment stage.
package stacks

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"leadvault/shared/posture"
)

// Region is the AWS region of Leadvault's data and of everything but the
// inbound mail path (obligation E4: hosted at AWS in Sweden).
const Region = posture.Region

// DefaultInboundRegion is where SES receives mail unless StageProps says
// otherwise: the AWS material we can read lists SES classic email receiving in
// the EU for eu-west-1 (Ireland) and not for eu-north-1.
const DefaultInboundRegion = posture.DefaultInboundRegion

// InboundRegions are the regions the inbound stack may be deployed to; each is
// a processing location for raw inbound mail only (obligations E4, S21).
// eu-north-1 is listed for the day SES offers receiving there, which takes
// Ireland off the path.
var InboundRegions = posture.InboundRegions

// Project is the value of the project tag on every resource.
const Project = "leadvault"

// FunctionNames lists the Lambda functions whose code NewStage expects as
// <AssetDir>/<name>.zip.
var FunctionNames = []string{"intake", "notifier", "sweeper", "email-intake", "controller", "jobs", "tokenclaims"}

// StageProps configures one deployment stage.
type StageProps struct {
	// Account is the AWS account id; empty leaves the stacks account-agnostic.
	Account string
	// Region must be eu-north-1.
	Region string
	// NotifyDomain is the SES-verified domain notifications are sent from.
	NotifyDomain string
	// AssetDir holds <name>.zip for each of FunctionNames (built by make build).
	AssetDir string
	// InboundRegion is where SES receives mail and the raw mail is stored and
	// parsed; it must be one of InboundRegions. Empty means DefaultInboundRegion.
	InboundRegion string
	// InboundDomain is the domain whose mail becomes leads (<alias>@InboundDomain);
	// its MX record points at InboundRegion. Empty means "in." + NotifyDomain.
	InboundDomain string
	// OperatorEmail receives the operators' alerts (breach notices due or late); empty creates the topic
	// without a subscription.
	OperatorEmail string
}

// inboundRegion returns InboundRegion or its default.
func (p StageProps) inboundRegion() string {
	if p.InboundRegion == "" {
		return DefaultInboundRegion
	}
	return p.InboundRegion
}

// inboundDomain returns InboundDomain or its default.
func (p StageProps) inboundDomain() string {
	if p.InboundDomain == "" {
		return "in." + p.NotifyDomain
	}
	return p.InboundDomain
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
	if !slices.Contains(InboundRegions, p.inboundRegion()) {
		return fmt.Errorf("inbound region %q is not allowed: raw inbound mail may be processed only in %s (obligations E4, S21)",
			p.InboundRegion, strings.Join(InboundRegions, ", "))
	}
	if !domainRE.MatchString(p.inboundDomain()) {
		return fmt.Errorf("inbound domain %q is not a lower-case DNS name", p.InboundDomain)
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
// and stateless stacks in eu-north-1 and its inbound stack in the inbound
// region, tagged and checked by cdk-nag (see ApplyNagChecks). It returns an
// error, and creates nothing, if props are invalid; in particular for any
// region other than eu-north-1 and any inbound region not in InboundRegions.
func NewStage(scope constructs.Construct, name string, props StageProps) (awscdk.Stage, error) {
	if !stageNameRE.MatchString(name) {
		return nil, fmt.Errorf("stage name %q must match %s", name, stageNameRE)
	}
	if err := props.Validate(); err != nil {
		return nil, fmt.Errorf("stage %s: %w", name, err)
	}
	// Checked with a 12-digit stand-in when the account is left to deploy time.
	account := props.Account
	if account == "" {
		account = "000000000000"
	}
	if n := len(InboundBucketName(name, account, props.inboundRegion())); n > maxBucketNameLength {
		return nil, fmt.Errorf("stage %s: name too long: the inbound bucket name would have %d characters, S3 allows %d", name, n, maxBucketNameLength)
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
			Description: jsii.String(fmt.Sprintf("Leadvault %s: personal data stores (key, table, buckets), mail evidence and the staff user pool; retained on delete", name)),
			// Stack tags are explicit because @aws-cdk/core:explicitStackTags ignores Tags.Of for stacks.
			Tags:                  &tags,
			TerminationProtection: jsii.Bool(true),
		},
		Stage:    name,
		AssetDir: props.AssetDir,
	})
	NewStatelessStack(stage, "Stateless", &StatelessStackProps{
		StackProps: awscdk.StackProps{
			Description: jsii.String(fmt.Sprintf("Leadvault %s: intake and controller APIs, notifier, sweeper and jobs functions", name)),
			Tags:        &tags,
		},
		Stage:         name,
		OperatorEmail: props.OperatorEmail,
		NotifyDomain:  props.NotifyDomain,
		AssetDir:      props.AssetDir,
		Data:          stateful.Data,
		Mail:          stateful.Mail,
		Identity:      stateful.Identity,
	})
	inboundEnv := &awscdk.Environment{Region: jsii.String(props.inboundRegion()), Account: env.Account}
	NewInboundStack(stage, "Inbound", &InboundStackProps{
		StackProps: awscdk.StackProps{
			Description: jsii.String(fmt.Sprintf("Leadvault %s: SES receiving for %s, raw inbound mail (kept at most a day) and the email-intake function", name, props.inboundDomain())),
			Env:         inboundEnv,
			Tags:        &tags,
			// The table name and key ARN come from the stateful stack in
			// eu-north-1, as Fn::GetStackOutput lookups (see InboundStack).
			CrossRegionReferences: jsii.Bool(true),
			// It holds the retained key and raw-mail bucket, and deleting it
			// would silently stop mail intake.
			TerminationProtection: jsii.Bool(true),
		},
		Stage:    name,
		Domain:   props.inboundDomain(),
		AssetDir: props.AssetDir,
		Data:     stateful.Data,
	})
	return stage, nil
}
