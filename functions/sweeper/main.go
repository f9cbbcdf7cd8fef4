// Command sweeper is the Lambda function on an hourly EventBridge schedule that deletes sent-mail copies
// older than their deadline.
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
		return func(ctx context.Context, _ events.EventBridgeEvent) (any, error) { return sw.SentMail(ctx) }, nil
	})
}
