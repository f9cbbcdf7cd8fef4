package stacks

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// ApplyNagChecks adds the cdk-nag AwsSolutions and Serverless packs to scope.
// Every unsuppressed finding is fatal, warnings included: SynthErrors reports
// the packs' warnings as errors, so synth fails until the finding is fixed or
// acknowledged with a reason next to the resource.
func ApplyNagChecks(scope constructs.IConstruct) {
	// No Go logger: cdk-nag calls every logger for every rule and resource, and
	// each call into Go is a round trip to the jsii process (~100,000 per app,
	// about 80% of synth time). The packs' annotations carry the same findings.
	props := &cdknag.NagPackProps{Verbose: jsii.Bool(true)}
	awscdk.Aspects_Of(scope).Add(cdknag.NewAwsSolutionsChecks(props), nil)
	awscdk.Aspects_Of(scope).Add(cdknag.NewServerlessChecks(props), nil)
}

// nagWarningRE matches the warnings of the applied packs: rule findings
// ("AwsSolutions-IAM5[...]: ...") and rules that could not evaluate a resource
// ("CdkNagValidationFailure[rule]: ..."), which have not shown it compliant.
var nagWarningRE = regexp.MustCompile(`^(AwsSolutions-|Serverless-|CdkNagValidationFailure\b)`)

// nagReason acknowledges one cdk-nag rule. appliesTo narrows it to the listed
// findings (e.g. "Resource::*"); empty means the whole rule.
type nagReason struct {
	id, reason string
	appliesTo  []string
}

// suppress acknowledges cdk-nag findings on c (and its children if
// applyToChildren).
func suppress(c constructs.IConstruct, applyToChildren bool, reasons ...nagReason) {
	s := make([]*cdknag.NagPackSuppression, 0, len(reasons))
	for _, r := range reasons {
		ns := &cdknag.NagPackSuppression{Id: jsii.String(r.id), Reason: jsii.String(r.reason)}
		if len(r.appliesTo) > 0 {
			at := make([]interface{}, 0, len(r.appliesTo))
			for _, a := range r.appliesTo {
				at = append(at, a)
			}
			ns.AppliesTo = &at
		}
		s = append(s, ns)
	}
	cdknag.NagSuppressions_AddResourceSuppressions(c, &s, jsii.Bool(applyToChildren))
}

// SynthErrors returns the error annotations of scope and everything below
// it, stages included, and its cdk-nag warnings, as "construct path: message".
// Call it after synthesis, when cdk-nag has run: the CDK CLI does not fail on
// errors of stacks that sit in stages, and never on warnings, so the app must.
func SynthErrors(scope constructs.IConstruct) []string {
	var errs []string
	for _, c := range *scope.Node().FindAll(constructs.ConstructOrder_PREORDER) {
		for _, m := range *c.Node().Metadata() {
			msg := strings.TrimSpace(fmt.Sprint(m.Data))
			switch {
			case *m.Type == "aws:cdk:error":
			case *m.Type == "aws:cdk:warning" && nagWarningRE.MatchString(msg):
				msg += " (cdk-nag warning, fatal in Leadvault: fix it or suppress it with a reason)"
			default:
				continue
			}
			errs = append(errs, *c.Node().Path()+": "+msg)
		}
	}
	return errs
}
