package notify

import (
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"leadvault/shared/app"
	"leadvault/shared/awsconfig"
	"leadvault/shared/store"
	"leadvault/shared/vault"
)

// Required are the settings the notifier cannot start without; its stack sets each of them.
var Required = []string{app.EnvTable, app.EnvKeyID, app.EnvSentBucket, app.EnvNotifyFrom}

// FromConfig builds the notification service with its clients.
func FromConfig(cfg awsconfig.Config, s app.Settings, log *slog.Logger) (*Service, error) {
	if err := s.Require(Required...); err != nil {
		return nil, err
	}
	st := store.New(dynamodb.NewFromConfig(cfg.AWS), s.Table)
	archive := s3.NewFromConfig(cfg.AWS, func(o *s3.Options) { o.UsePathStyle = cfg.Local() })
	return New(st, vault.New(kms.NewFromConfig(cfg.AWS), s.KeyID), sesv2.NewFromConfig(cfg.AWS), archive, Config{
		From: s.NotifyFrom, ConfigurationSet: s.ConfigurationSet, Bucket: s.SentBucket, KeyID: s.KeyID,
	}, log), nil
}
