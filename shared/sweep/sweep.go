// Package sweep deletes what must not outlive its deadline. S3 lifecycle rules expire sent-mail copies
// and raw inbound mail after a day, but lifecycle runs lazily (objects can linger a day more); this hourly
// sweep makes the 24-hour promise (obligation E11) hold on its own schedule.
package sweep

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// MaxAge is how long a copy of a sent notification or a raw inbound mail may exist.
const MaxAge = 24 * time.Hour

// schedule is how often the sweep runs; objects are deleted one period before their deadline.
const schedule = time.Hour

// Target is one set of objects with a deadline.
type Target struct {
	Bucket, Prefix string
	MaxAge         time.Duration
}

// S3 is the part of the S3 API the sweep uses.
type S3 interface {
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	DeleteObjects(ctx context.Context, in *s3.DeleteObjectsInput, opts ...func(*s3.Options)) (*s3.DeleteObjectsOutput, error)
}

var _ S3 = (*s3.Client)(nil)

// Sweeper runs the sweeps.
type Sweeper struct {
	s3      S3
	targets []Target
	log     *slog.Logger
	now     func() time.Time
}

// New returns a Sweeper of the given targets.
func New(client S3, targets []Target, log *slog.Logger) *Sweeper {
	return &Sweeper{s3: client, targets: targets, log: log, now: time.Now}
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

// Run sweeps every target. An object is deleted once it is within one schedule period of its deadline,
// so with an hourly run nothing outlives its MaxAge.
func (s *Sweeper) Run(ctx context.Context) (Report, error) {
	var total Report
	for _, t := range s.targets {
		rep, err := s.sweep(ctx, t)
		total.Examined += rep.Examined
		total.Deleted += rep.Deleted
		if err != nil {
			return total, err
		}
		s.log.InfoContext(ctx, "swept", "bucket", t.Bucket, "prefix", t.Prefix, "examined", rep.Examined, "deleted", rep.Deleted)
	}
	return total, nil
}

func (s *Sweeper) sweep(ctx context.Context, t Target) (Report, error) {
	cutoff := s.now().Add(-t.MaxAge + schedule)
	var rep Report
	p := s3.NewListObjectsV2Paginator(s.s3, &s3.ListObjectsV2Input{Bucket: &t.Bucket, Prefix: aws.String(t.Prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return rep, fmt.Errorf("list %s/%s: %w", t.Bucket, t.Prefix, err)
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
		out, err := s.s3.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: &t.Bucket, Delete: &types.Delete{Objects: old, Quiet: aws.Bool(true)}})
		if err != nil {
			return rep, fmt.Errorf("delete in %s/%s: %w", t.Bucket, t.Prefix, err)
		}
		if len(out.Errors) > 0 {
			return rep, fmt.Errorf("delete in %s/%s: %d of %d objects failed, first: %s", t.Bucket, t.Prefix, len(out.Errors), len(old), aws.ToString(out.Errors[0].Code))
		}
		rep.Deleted += len(old)
	}
	return rep, nil
}
