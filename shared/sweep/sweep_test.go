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
	"leadvault/shared/sweep"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

func TestSentMail(t *testing.T) {
	ctx := context.Background()
	client := testenv.Env.AWS.S3()
	bucket := testenv.Bucket(t)
	for _, key := range []string{"sent/2026/11/23/12/acme/a.eml", "sent/2026/11/23/12/acme/b.eml", "other/keep.txt"} {
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String(key), Body: strings.NewReader("x")}); err != nil {
			t.Fatal(err)
		}
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	tests := []struct {
		name    string
		age     time.Duration
		deleted int
		left    int
	}{
		{"young copies stay", 22 * time.Hour, 0, 2},
		{"copies reaching a day go", 23*time.Hour + time.Minute, 2, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := sweep.New(client, bucket, log).WithClock(func() time.Time { return time.Now().Add(tt.age) })
			rep, err := s.SentMail(ctx)
			if err != nil || rep.Deleted != tt.deleted {
				t.Errorf("SentMail() = %+v, %v; want %d deleted", rep, err, tt.deleted)
			}
			out, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: aws.String("sent/")})
			if err != nil || len(out.Contents) != tt.left {
				t.Errorf("sent copies left = %d, %v; want %d", len(out.Contents), err, tt.left)
			}
		})
	}
	if _, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: aws.String("other/keep.txt")}); err != nil {
		t.Errorf("object outside sent/ was touched: %v", err)
	}
}
