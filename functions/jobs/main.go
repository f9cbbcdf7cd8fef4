// Command jobs is the Lambda function that runs campaign-deletion jobs, driven by the table's stream
// (job items) and by a schedule that resumes unfinished ones.
package main

import (
	"log/slog"

	"leadvault/shared/app"
	"leadvault/shared/awsconfig"
	"leadvault/shared/jobs"
)

func main() {
	app.Start(func(cfg awsconfig.Config, s app.Settings, log *slog.Logger) (any, error) {
		r, err := jobs.FromConfig(cfg, s, log)
		if err != nil {
			return nil, err
		}
		return r.Handle, nil
	})
}
