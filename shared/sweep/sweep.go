// Package sweep deletes what must not outlive its deadline. S3 lifecycle rules expire sent-mail copies
// after a day, but lifecycle runs lazily (objects can linger past the day); this sweep makes the 24-hour
// promise (obligation E11) hold on its own schedule.
package sweep

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"leadvault/shared/notify"
)

// SentMailMaxAge is how long a copy of a sent notification may exist.
const SentMailMaxAge = 24 * time.Hour

// S3 is the part of the S3 API the sweep uses.
type S3 interface {
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	DeleteObjects(ctx context.Context, in *s3.DeleteObjectsInput, opts ...func(*s3.Options)) (*s3.DeleteObjectsOutput, error)
}

var _ S3 = (*s3.Client)(nil)

// Sweeper runs the sweeps.
type Sweeper struct {
	s3     S3
	bucket string
	log    *slog.Logger
	now    func() time.Time
}

// New returns a Sweeper for the sent-mail bucket.
func New(client S3, sentBucket string, log *slog.Logger) *Sweeper {
	return &Sweeper{s3: client, bucket: sentBucket, log: log, now: time.Now}
}

// WithClock returns the sweeper reading time from now (tests).
func (s *Sweeper) WithClock(now func() time.Time) *Sweeper {
	s.now = now
	return s
}

// Report counts what a sweep did.
type Report struct {
	Examined, Deleted int
}

// SentMail deletes copies of sent mail older than SentMailMaxAge. The sweep runs hourly, so no copy lives
// longer than a day; with a margin of one run the copies are deleted after 23 hours.
func (s *Sweeper) SentMail(ctx context.Context) (Report, error) {
	cutoff := s.now().Add(-SentMailMaxAge + time.Hour)
	var rep Report
	p := s3.NewListObjectsV2Paginator(s.s3, &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: aws.String(notify.SentPrefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return rep, fmt.Errorf("list sent mail: %w", err)
		}
		var old []types.ObjectIdentifier
		for _, o := range page.Contents {
			rep.Examined++
			if o.LastModified != nil && o.LastModified.Before(cutoff) {
				old = append(old, types.ObjectIdentifier{Key: o.Key})
			}
		}
		if len(old) == 0 {
			continue
		}
		out, err := s.s3.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: &s.bucket, Delete: &types.Delete{Objects: old, Quiet: aws.Bool(true)}})
		if err != nil {
			return rep, fmt.Errorf("delete sent mail: %w", err)
		}
		if len(out.Errors) > 0 {
			return rep, fmt.Errorf("delete sent mail: %d of %d objects failed, first: %s", len(out.Errors), len(old), aws.ToString(out.Errors[0].Code))
		}
		rep.Deleted += len(old)
	}
	s.log.InfoContext(ctx, "sent mail swept", "examined", rep.Examined, "deleted", rep.Deleted)
	return rep, nil
}
