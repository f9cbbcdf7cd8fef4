package sweep_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"leadvault/infra/local/testenv"
	"leadvault/shared/app"
	"leadvault/shared/layout"
	"leadvault/shared/sweep"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

func TestRun_deadlines(t *testing.T) {
	ctx := context.Background()
	client := testenv.Env.AWS.S3()
	sent, inbound, exports := testenv.Bucket(t), testenv.Bucket(t), testenv.Bucket(t)
	put := func(bucket, key string) {
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String(key), Body: strings.NewReader("x")}); err != nil {
			t.Fatal(err)
		}
	}
	put(sent, layout.SentPrefix+"2026/11/23/12/acme/a.eml")
	put(sent, layout.SentPrefix+"2026/11/23/12/acme/b.eml")
	put(sent, "other/keep.txt")
	put(inbound, layout.InboundPrefix+"o3vrnil0e2ic28trm7dfhrc2v0clambda4nbp0g01")
	put(inbound, layout.QuarantinePrefix+"q1")
	put(exports, layout.ExportKey("acme", "req-1", "csv"))
	// The sweeper built as the functions build it, from their settings.
	sw, err := sweep.FromConfig(testenv.Env.AWS.Config, app.Settings{SentBucket: sent, InboundBucket: inbound, ExportBucket: exports}, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		age     time.Duration
		deleted int
	}{
		{"young objects stay", 22 * time.Hour, 0},
		{"objects nearing a day go", 23*time.Hour + time.Minute, 4},
		{"subject archives stay for most of a week", 6 * 24 * time.Hour, 0},
		{"subject archives nearing a week go", 7*24*time.Hour - 59*time.Minute, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := sw.WithClock(func() time.Time { return time.Now().Add(tt.age) }).Run(ctx)
			if err != nil || rep.Deleted != tt.deleted {
				t.Errorf("Run() = %+v, %v; want %d deleted", rep, err, tt.deleted)
			}
		})
	}
	for _, b := range []string{sent, inbound, exports} {
		for _, prefix := range []string{layout.SentPrefix, layout.InboundPrefix, layout.QuarantinePrefix, layout.ExportPrefix} {
			out, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(b), Prefix: aws.String(prefix)})
			if err != nil || len(out.Contents) != 0 {
				t.Errorf("%s/%s holds %d objects (%v); want none", b, prefix, len(out.Contents), err)
			}
		}
	}
	if _, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &sent, Key: aws.String("other/keep.txt")}); err != nil {
		t.Errorf("object outside the swept prefixes was touched: %v", err)
	}
}

func TestFromConfig_needsABucket(t *testing.T) {
	if _, err := sweep.FromConfig(testenv.Env.AWS.Config, app.Settings{}, slog.New(slog.NewJSONHandler(io.Discard, nil))); err == nil {
		t.Errorf("FromConfig(no buckets) = nil error; want one naming the variables")
	}
}
