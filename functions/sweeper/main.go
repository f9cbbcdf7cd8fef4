// Command sweeper is the Lambda function on an hourly EventBridge schedule that deletes sent-mail copies
// (in eu-north-1) and raw inbound mail (in the receiving region) before their 24-hour deadline.
package main

import (
	"context"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"

	"leadvault/shared/app"
	"leadvault/shared/awsconfig"
	"leadvault/shared/sweep"
)

func main() {
	app.Start(func(cfg awsconfig.Config, s app.Settings, log *slog.Logger) (any, error) {
		sw, err := sweep.FromConfig(cfg, s, log)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, _ events.EventBridgeEvent) (any, error) { return sw.Run(ctx) }, nil
	})
}
