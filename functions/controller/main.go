// Command controller is the Lambda function behind the controller API (ANY /v1/{proxy+}, JWT-authorized).
package main

import (
	"log/slog"

	"leadvault/shared/app"
	"leadvault/shared/awsconfig"
	"leadvault/shared/controlapi"
)

func main() {
	app.Start(func(cfg awsconfig.Config, s app.Settings, log *slog.Logger) (any, error) {
		h, err := controlapi.FromConfig(cfg, s, log)
		if err != nil {
			return nil, err
		}
		return h.Handle, nil
	})
}
