// Command tokenclaims is the user pool's pre-token-generation trigger: it puts the tenant into access
// tokens.
package main

import (
	"log/slog"

	"leadvault/shared/app"
	"leadvault/shared/awsconfig"
	"leadvault/shared/tokenclaims"
)

func main() {
	app.Start(func(_ awsconfig.Config, _ app.Settings, log *slog.Logger) (any, error) {
		return tokenclaims.New(log).Handle, nil
	})
}
