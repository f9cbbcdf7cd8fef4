// Command app is the Leadvault CDK app: it synthesizes the staging and
// production stages (run it through `npx cdk synth`, see cdk.json).
//
// Context: -c notifyDomain=<domain> (default leadvault.example),
// -c assetDir=<dir with <name>.zip for each of stacks.FunctionNames, as make
// build writes them> (default dist), -c inboundRegion=<region SES receives
// mail in> (default eu-west-1; see stacks.InboundRegions) and
// -c inboundDomain=<domain whose mail becomes leads> (default
// in.<notifyDomain>), -c operatorEmail=<address for the operators' alerts>
// (default none: the topic has no subscription).
// It exits non-zero if a stage cannot be built or synthesis reports an error,
// including every unsuppressed cdk-nag finding.
package main

import (
	"fmt"
	"log"
	"os"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"leadvault/infra/stacks"
)

// stageNames are deployed in this order: staging first, so every change runs
// on a test site before production (obligation E6).
var stageNames = []string{"staging", "production"}

func main() {
	log.SetFlags(0)
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	domain, err := contextString(app, "notifyDomain", "leadvault.example")
	if err != nil {
		return err
	}
	assetDir, err := contextString(app, "assetDir", "dist")
	if err != nil {
		return err
	}
	// Empty means the stage default (see stacks.StageProps).
	inboundRegion, err := contextString(app, "inboundRegion", "")
	if err != nil {
		return err
	}
	inboundDomain, err := contextString(app, "inboundDomain", "")
	if err != nil {
		return err
	}
	operatorEmail, err := contextString(app, "operatorEmail", "")
	if err != nil {
		return err
	}
	props := stacks.StageProps{
		OperatorEmail: operatorEmail,
		Account:       os.Getenv("CDK_DEFAULT_ACCOUNT"),
		Region:        stacks.Region,
		NotifyDomain:  domain,
		AssetDir:      assetDir,
		InboundRegion: inboundRegion,
		InboundDomain: inboundDomain,
	}
	// NewStage also applies the cdk-nag packs to each stage: aspects added to
	// the app would not reach the stacks inside the stages.
	for _, name := range stageNames {
		if _, err := stacks.NewStage(app, name, props); err != nil {
			return err
		}
	}
	app.Synth(nil)
	if errs := stacks.SynthErrors(app); len(errs) > 0 {
		return fmt.Errorf("synthesis reported %d error(s):\n  %s", len(errs), strings.Join(errs, "\n  "))
	}
	return nil
}

// contextString returns the context value key as a string, or def if unset.
func contextString(app awscdk.App, key, def string) (string, error) {
	v := app.Node().TryGetContext(jsii.String(key))
	if v == nil {
		return def, nil
	}
	s, ok := v.(string)
	if !ok || s == "" {
		return "", fmt.Errorf("context %s must be a non-empty string, got %v", key, v)
	}
	return s, nil
}
