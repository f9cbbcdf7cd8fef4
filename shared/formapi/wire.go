package formapi

import (
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"leadvault/shared/app"
	"leadvault/shared/awsconfig"
	"leadvault/shared/intake"
	"leadvault/shared/store"
	"leadvault/shared/vault"
)

// Required are the settings form intake cannot start without; its stack sets each of them.
var Required = []string{app.EnvTable, app.EnvKeyID}

// FromConfig builds the intake handler with its clients.
func FromConfig(cfg awsconfig.Config, s app.Settings, log *slog.Logger) (*Handler, error) {
	if err := s.Require(Required...); err != nil {
		return nil, err
	}
	st := store.New(dynamodb.NewFromConfig(cfg.AWS), s.Table)
	return New(intake.New(st, vault.New(kms.NewFromConfig(cfg.AWS), s.KeyID), log), log), nil
}
