package sweep

import (
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"leadvault/shared/app"
	"leadvault/shared/awsconfig"
)

// FromConfig builds the sweeper with its client.
func FromConfig(cfg awsconfig.Config, s app.Settings, log *slog.Logger) (*Sweeper, error) {
	if err := s.Require("LEADVAULT_SENT_BUCKET"); err != nil {
		return nil, err
	}
	return New(s3.NewFromConfig(cfg.AWS, func(o *s3.Options) { o.UsePathStyle = cfg.Local() }), s.SentBucket, log), nil
}
