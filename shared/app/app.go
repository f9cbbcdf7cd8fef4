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
	InboundBucket    string // LEADVAULT_INBOUND_BUCKET: where SES stores received mail
	InboundDomain    string // LEADVAULT_INBOUND_DOMAIN: mail to <alias>@this domain is routed
	// DataRegion is where the table and stage key live (LEADVAULT_DATA_REGION), when a function runs in
	// another region: e-mail intake runs where SES receives mail. "" = the function's own region.
	DataRegion string
	// UserPoolID is the Cognito user pool of the controller API's users (LEADVAULT_USER_POOL_ID).
	UserPoolID string
	// CognitoEndpoint points the Cognito client at the local stand-in (LEADVAULT_COGNITO_ENDPOINT); ""
	// on AWS.
	CognitoEndpoint string
}

// SettingsFromEnv reads Settings from the environment.
func SettingsFromEnv() Settings {
	return Settings{
		Stage: os.Getenv("LEADVAULT_STAGE"), Table: os.Getenv("LEADVAULT_TABLE"), KeyID: os.Getenv("LEADVAULT_KEY_ID"),
		SentBucket: os.Getenv("LEADVAULT_SENT_BUCKET"), NotifyFrom: os.Getenv("LEADVAULT_NOTIFY_FROM"),
		ConfigurationSet: os.Getenv("LEADVAULT_SES_CONFIGURATION_SET"),
		InboundBucket:    os.Getenv("LEADVAULT_INBOUND_BUCKET"), InboundDomain: os.Getenv("LEADVAULT_INBOUND_DOMAIN"),
		DataRegion: os.Getenv("LEADVAULT_DATA_REGION"), UserPoolID: os.Getenv("LEADVAULT_USER_POOL_ID"),
		CognitoEndpoint: os.Getenv("LEADVAULT_COGNITO_ENDPOINT"),
	}
}

// Require reports every named setting that is empty; names are the environment variables.
func (s Settings) Require(names ...string) error {
	values := map[string]string{
		"LEADVAULT_STAGE": s.Stage, "LEADVAULT_TABLE": s.Table, "LEADVAULT_KEY_ID": s.KeyID,
		"LEADVAULT_SENT_BUCKET": s.SentBucket, "LEADVAULT_NOTIFY_FROM": s.NotifyFrom,
		"LEADVAULT_SES_CONFIGURATION_SET": s.ConfigurationSet, "LEADVAULT_INBOUND_BUCKET": s.InboundBucket,
		"LEADVAULT_INBOUND_DOMAIN": s.InboundDomain, "LEADVAULT_DATA_REGION": s.DataRegion,
		"LEADVAULT_USER_POOL_ID": s.UserPoolID,
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
