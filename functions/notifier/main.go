// Command notifier is the Lambda function on the table's stream that e-mails new leads to the form's
// recipients, and records SES's delivery events of those mails against their leads.
package main

import (
	"log/slog"

	"leadvault/shared/app"
	"leadvault/shared/awsconfig"
	"leadvault/shared/notify"
)

func main() {
	app.Start(func(cfg awsconfig.Config, s app.Settings, log *slog.Logger) (any, error) {
		n, err := notify.FromConfig(cfg, s, log)
		if err != nil {
			return nil, err
		}
		return n.Handle, nil
	})
}
