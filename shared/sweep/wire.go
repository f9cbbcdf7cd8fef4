package sweep

import (
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"leadvault/shared/app"
	"leadvault/shared/awsconfig"
	"leadvault/shared/layout"
)

// FromConfig builds the sweeper of the buckets its environment names: sent-mail copies (in eu-north-1)
// and raw inbound mail, live and quarantined (in the receiving region).
func FromConfig(cfg awsconfig.Config, s app.Settings, log *slog.Logger) (*Sweeper, error) {
	var targets []Target
	if s.SentBucket != "" {
		targets = append(targets, Target{Bucket: s.SentBucket, Prefix: layout.SentPrefix, MaxAge: MaxAge})
	}
	if s.ExportBucket != "" {
		targets = append(targets, Target{Bucket: s.ExportBucket, Prefix: layout.ExportPrefix, MaxAge: layout.ExportMaxAge})
	}
	if s.InboundBucket != "" {
		targets = append(targets,
			Target{Bucket: s.InboundBucket, Prefix: layout.InboundPrefix, MaxAge: MaxAge},
			Target{Bucket: s.InboundBucket, Prefix: layout.QuarantinePrefix, MaxAge: MaxAge})
	}
	if len(targets) == 0 {
		return nil, fmt.Errorf("environment variable %s or %s must be set", app.EnvSentBucket, app.EnvInboundBucket)
	}
	return New(s3.NewFromConfig(cfg.AWS, func(o *s3.Options) { o.UsePathStyle = cfg.Local() }), targets, log), nil
}
