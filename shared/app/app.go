// Package app is what every function shares at cold start: its settings from the environment, and Start,
// which builds the handler once and hands it to the Lambda runtime. Each handler package wires its own
// clients (formapi.FromConfig, notify.FromConfig, sweep.FromConfig), so a function links only the AWS
// clients it uses; the local stack calls the same constructors.
package app

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"leadvault/shared/awsconfig"
)

// Start is a function's whole main: it loads configuration once at cold start, builds the handler with
// build, and hands it to the Lambda runtime. A failed init exits, so Lambda reports an init error.
func Start(build func(cfg awsconfig.Config, s Settings, log *slog.Logger) (any, error)) {
	log := lambdacontext.NewLogger()
	cfg, err := awsconfig.Load(context.Background())
	var s Settings
	if err == nil {
		s, err = SettingsFromEnv()
	}
	if err == nil {
		var h any
		if h, err = build(cfg, s, log); err == nil {
			lambda.Start(h)
			return
		}
	}
	log.Error("init failed", "error", err.Error())
	os.Exit(1)
}
