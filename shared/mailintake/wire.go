package mailintake

import (
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"leadvault/shared/app"
	"leadvault/shared/awsconfig"
	"leadvault/shared/intake"
	"leadvault/shared/store"
	"leadvault/shared/vault"
)

// Required are the settings e-mail intake cannot start without; its stack sets each of them.
var Required = []string{app.EnvTable, app.EnvKeyID, app.EnvInboundDomain}

// FromConfig builds the mail intake service with its clients. The bucket is in the function's own
// region (where SES receives); the table and the stage key may be in another (LEADVAULT_DATA_REGION).
func FromConfig(cfg awsconfig.Config, s app.Settings, log *slog.Logger) (*Service, error) {
	if err := s.Require(Required...); err != nil {
		return nil, err
	}
	data := cfg.AWS.Copy()
	if s.DataRegion != "" {
		data.Region = s.DataRegion
	}
	st := store.New(dynamodb.NewFromConfig(data), s.Table)
	svc := intake.New(st, vault.New(kms.NewFromConfig(data), s.KeyID), log)
	objects := s3.NewFromConfig(cfg.AWS, func(o *s3.Options) { o.UsePathStyle = cfg.Local() })
	return New(objects, st, svc, Config{Domain: s.InboundDomain}, log), nil
}
