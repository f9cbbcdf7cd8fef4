package presign_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"leadvault/infra/local/testenv"
	"leadvault/shared/presign"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

func TestGetURL_downloadsFromTheStandIn(t *testing.T) {
	ctx := context.Background()
	bucket := testenv.Bucket(t)
	key := "subject-requests/acme/req-1.csv"
	body := []byte("\ufefflead_id,name\r\nl1,Søren\r\n")
	if _, err := testenv.Env.AWS.S3().PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: bytes.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
	cfg := testenv.Env.AWS.Config
	s := presign.New(cfg.AWS, cfg.Endpoint)
	link, err := s.GetURL(ctx, bucket, key, "subject-export-req-1.csv", time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(link)
	for _, p := range []string{"X-Amz-Signature", "X-Amz-Credential", "X-Amz-Expires"} {
		if u.Query().Get(p) == "" {
			t.Errorf("link has no %s: %s", p, link)
		}
	}
	if u.Query().Get("X-Amz-Expires") != "3600" {
		t.Errorf("X-Amz-Expires = %q; want 3600", u.Query().Get("X-Amz-Expires"))
	}
	res, err := http.Get(link) // as a browser or curl would: no SDK, no headers
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	got, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || !bytes.Equal(got, body) {
		t.Errorf("GET link = %d %q; want 200 and the object", res.StatusCode, got)
	}
}

func TestGetURL_cases(t *testing.T) {
	creds := aws.Config{Region: "eu-north-1", Credentials: aws.NewCredentialsCache(aws.CredentialsProviderFunc(
		func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret"}, nil
		}))}
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name, endpoint string
		expires        time.Duration
		wantPrefix     string
		wantErr        bool
	}{
		{"AWS, virtual-hosted", "", 24 * time.Hour, "https://exports.s3.eu-north-1.amazonaws.com/subject-requests/acme/r.json?", false},
		{"local, path-style", "http://127.0.0.1:4566/", time.Hour, "http://127.0.0.1:4566/exports/subject-requests/acme/r.json?", false},
		{"longer than S3 allows", "", 8 * 24 * time.Hour, "", true},
		{"no expiry", "", 0, "", true},
	}
	for _, tt := range tests {
		link, err := presign.New(creds, tt.endpoint).GetURL(context.Background(), "exports", "subject-requests/acme/r.json", "r.json", tt.expires, now)
		if (err != nil) != tt.wantErr || !strings.HasPrefix(link, tt.wantPrefix) {
			t.Errorf("%s: GetURL() = %q, %v; want prefix %q, error %v", tt.name, link, err, tt.wantPrefix, tt.wantErr)
		}
		if err == nil && !strings.Contains(link, "X-Amz-Date=20261203T120000Z") {
			t.Errorf("%s: link not signed at now: %s", tt.name, link)
		}
	}
}

// TestGetURL_sameAsTheS3Presigner holds the links to what the SDK's own S3 presigner makes for the same
// object, credentials and time, signature included: the stand-in does not check signatures, AWS does.
func TestGetURL_sameAsTheS3Presigner(t *testing.T) {
	ctx := context.Background()
	cfg := aws.Config{Region: "eu-north-1", Credentials: aws.NewCredentialsCache(aws.CredentialsProviderFunc(
		func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", SessionToken: "tok"}, nil
		}))}
	bucket, key, name := "leadvault-exports", "subject-requests/acme/0193-req.json", "subject-export-0193-req.json"
	want, err := s3.NewPresignClient(s3.NewFromConfig(cfg)).PresignGetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key,
		ResponseContentDisposition: aws.String(`attachment; filename=` + name)}, s3.WithPresignExpires(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	wu, _ := url.Parse(want.URL)
	at, err := time.Parse("20060102T150405Z", wu.Query().Get("X-Amz-Date"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := presign.New(cfg, "").GetURL(ctx, bucket, key, name, time.Hour, at)
	if err != nil {
		t.Fatal(err)
	}
	gu, _ := url.Parse(got)
	if gu.Host != wu.Host || gu.Path != wu.Path {
		t.Errorf("link = %s%s; S3 presigner's = %s%s", gu.Host, gu.Path, wu.Host, wu.Path)
	}
	for p := range wu.Query() {
		if gu.Query().Get(p) != wu.Query().Get(p) {
			t.Errorf("%s = %q; S3 presigner's = %q", p, gu.Query().Get(p), wu.Query().Get(p))
		}
	}
}
