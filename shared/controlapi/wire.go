package controlapi

import (
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"leadvault/shared/app"
	"leadvault/shared/audit"
	"leadvault/shared/awsconfig"
	"leadvault/shared/directory"
	"leadvault/shared/presign"
	"leadvault/shared/store"
	"leadvault/shared/vault"
)

// Required are the settings the controller cannot start without; its stack sets each of them.
var Required = []string{app.EnvTable, app.EnvKeyID, app.EnvUserPoolID, app.EnvExportBucket}

// FromConfig builds the Handler with AWS clients, once per cold start.
func FromConfig(cfg awsconfig.Config, s app.Settings, log *slog.Logger) (*Handler, error) {
	if err := s.Require(Required...); err != nil {
		return nil, err
	}
	db := dynamodb.NewFromConfig(cfg.AWS)
	idp := cognitoidentityprovider.NewFromConfig(cfg.AWS, func(o *cognitoidentityprovider.Options) {
		if s.CognitoEndpoint != "" {
			o.BaseEndpoint = &s.CognitoEndpoint
		}
	})
	return New(Deps{
		Store:     store.New(db, s.Table),
		Keys:      vault.New(kms.NewFromConfig(cfg.AWS), s.KeyID),
		Audit:     audit.New(db, s.Table, 0),
		Directory: directory.New(idp, s.UserPoolID),
		// Links are signed here, with the function's own credentials, without linking the S3 client.
		Links:        presign.New(cfg.AWS, cfg.Endpoint),
		ExportBucket: s.ExportBucket,
		Log:          log,
	}), nil
}
