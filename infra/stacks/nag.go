package stacks

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// ApplyNagChecks adds the cdk-nag AwsSolutions and Serverless packs to scope.
// Every unsuppressed finding becomes an error, warnings included, so synth
// fails until it is fixed or acknowledged with a reason next to the resource.
func ApplyNagChecks(scope constructs.IConstruct) {
	props := &cdknag.NagPackProps{
		Verbose:           jsii.Bool(true),
		AdditionalLoggers: &[]cdknag.INagLogger{&strictNagLogger{}},
	}
	awscdk.Aspects_Of(scope).Add(cdknag.NewAwsSolutionsChecks(props), nil)
	awscdk.Aspects_Of(scope).Add(cdknag.NewServerlessChecks(props), nil)
}

// strictNagLogger turns cdk-nag warnings and rule failures into errors; the
// packs' own logger already reports errors.
type strictNagLogger struct{}

// OnNonCompliance implements cdknag.INagLogger.
func (*strictNagLogger) OnNonCompliance(data *cdknag.NagLoggerNonComplianceData) {
	if data.RuleLevel != cdknag.NagMessageLevel_WARN {
		return // errors are already reported; info is informational
	}
	awscdk.Annotations_Of(data.Resource).AddError(jsii.String(fmt.Sprintf(
		"%s: %s (cdk-nag warning, fatal in Leadvault: fix it or suppress it with a reason)", *data.RuleId, *data.RuleInfo)))
}

// OnError implements cdknag.INagLogger: a rule that cannot evaluate a
// resource has not shown it compliant.
func (*strictNagLogger) OnError(data *cdknag.NagLoggerErrorData) {
	awscdk.Annotations_Of(data.Resource).AddError(jsii.String(fmt.Sprintf(
		"%s could not be evaluated: %s (suppress CdkNagValidationFailure with a reason if this is expected)", *data.RuleId, *data.ErrorMessage)))
}

// OnCompliance implements cdknag.INagLogger.
func (*strictNagLogger) OnCompliance(*cdknag.NagLoggerComplianceData) {}

// OnNotApplicable implements cdknag.INagLogger.
func (*strictNagLogger) OnNotApplicable(*cdknag.NagLoggerNotApplicableData) {}

// OnSuppressed implements cdknag.INagLogger.
func (*strictNagLogger) OnSuppressed(*cdknag.NagLoggerSuppressedData) {}

// OnSuppressedError implements cdknag.INagLogger.
func (*strictNagLogger) OnSuppressedError(*cdknag.NagLoggerSuppressedErrorData) {}

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
// it, stages included, as "construct path: message". Call it after synthesis,
// when cdk-nag has run: the CDK CLI does not fail on errors of stacks that sit
// in stages, so the app must.
func SynthErrors(scope constructs.IConstruct) []string {
	var errs []string
	for _, c := range *scope.Node().FindAll(constructs.ConstructOrder_PREORDER) {
		for _, m := range *c.Node().Metadata() {
			if *m.Type == "aws:cdk:error" {
				errs = append(errs, strings.TrimSpace(fmt.Sprintf("%s: %v", *c.Node().Path(), m.Data)))
			}
		}
	}
	return errs
}
