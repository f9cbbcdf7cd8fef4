// Command email-intake is the Lambda function that S3 invokes for each mail SES stores in the inbound
// bucket; it turns the mail into a lead of the form whose alias it was sent to.
package main

import (
	"log/slog"

	"leadvault/shared/app"
	"leadvault/shared/awsconfig"
	"leadvault/shared/mailintake"
)

func main() {
	app.Start(func(cfg awsconfig.Config, s app.Settings, log *slog.Logger) (any, error) {
		m, err := mailintake.FromConfig(cfg, s, log)
		if err != nil {
			return nil, err
		}
		return m.Handle, nil
	})
}
