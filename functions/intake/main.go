// Command intake is the Lambda function behind POST /v1/forms/{formID}/submissions.
package main

import (
	"log/slog"

	"leadvault/shared/app"
	"leadvault/shared/awsconfig"
	"leadvault/shared/formapi"
)

func main() {
	app.Start(func(cfg awsconfig.Config, s app.Settings, log *slog.Logger) (any, error) {
		h, err := formapi.FromConfig(cfg, s, log)
		if err != nil {
			return nil, err
		}
		return h.Handle, nil
	})
}
