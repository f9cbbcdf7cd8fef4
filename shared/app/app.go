// Package app is what every function shares at cold start: its settings from the environment, and Start,
// which builds the handler once and hands it to the Lambda runtime. Each handler package wires its own
// clients (formapi.FromConfig, notify.FromConfig, sweep.FromConfig), so a function links only the AWS
// clients it uses; the local stack calls the same constructors.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"leadvault/shared/awsconfig"
)

// Settings are the functions' environment.
type Settings struct {
	Stage            string // LEADVAULT_STAGE
	Table            string // LEADVAULT_TABLE
	KeyID            string // LEADVAULT_KEY_ID: the stage CMK
	SentBucket       string // LEADVAULT_SENT_BUCKET
	NotifyFrom       string // LEADVAULT_NOTIFY_FROM
	ConfigurationSet string // LEADVAULT_SES_CONFIGURATION_SET (optional)
}

// SettingsFromEnv reads Settings from the environment.
func SettingsFromEnv() Settings {
	return Settings{
		Stage: os.Getenv("LEADVAULT_STAGE"), Table: os.Getenv("LEADVAULT_TABLE"), KeyID: os.Getenv("LEADVAULT_KEY_ID"),
		SentBucket: os.Getenv("LEADVAULT_SENT_BUCKET"), NotifyFrom: os.Getenv("LEADVAULT_NOTIFY_FROM"),
		ConfigurationSet: os.Getenv("LEADVAULT_SES_CONFIGURATION_SET"),
	}
}

// Require reports every named setting that is empty; names are the environment variables.
func (s Settings) Require(names ...string) error {
	values := map[string]string{
		"LEADVAULT_STAGE": s.Stage, "LEADVAULT_TABLE": s.Table, "LEADVAULT_KEY_ID": s.KeyID,
		"LEADVAULT_SENT_BUCKET": s.SentBucket, "LEADVAULT_NOTIFY_FROM": s.NotifyFrom,
		"LEADVAULT_SES_CONFIGURATION_SET": s.ConfigurationSet,
	}
	var errs []error
	for _, n := range names {
		if values[n] == "" {
			errs = append(errs, fmt.Errorf("environment variable %s is not set", n))
		}
	}
	return errors.Join(errs...)
}

// Start is a function's whole main: it loads configuration once at cold start, builds the handler with
// build, and hands it to the Lambda runtime. A failed init exits, so Lambda reports an init error.
func Start(build func(cfg awsconfig.Config, s Settings, log *slog.Logger) (any, error)) {
	log := lambdacontext.NewLogger()
	cfg, err := awsconfig.Load(context.Background())
	if err == nil {
		var h any
		if h, err = build(cfg, SettingsFromEnv(), log); err == nil {
			lambda.Start(h)
			return
		}
	}
	log.Error("init failed", "error", err.Error())
	os.Exit(1)
}
