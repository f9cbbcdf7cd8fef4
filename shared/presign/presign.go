// Package presign makes time-limited download links to S3 objects with the SDK's SigV4 signer alone, so
// that a function which only hands out links (the controller) does not link the whole S3 client. The
// links are what the S3 client's presigner makes: a GET with the signature in the query, an unsigned
// payload, virtual-hosted on AWS and path-style against a local endpoint.
package presign

import (
	"context"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// MaxExpiry is the longest a SigV4 presigned link may live (S3's limit: seven days).
const MaxExpiry = 7 * 24 * time.Hour

// Signer makes download links for one region and endpoint.
type Signer struct {
	creds    aws.CredentialsProvider
	region   string
	endpoint string // "" on AWS; the local endpoint otherwise
	signer   *v4.Signer
}

// New returns a Signer for cfg; endpoint is the local stand-in's base URL, or "" on AWS.
func New(cfg aws.Config, endpoint string) *Signer {
	return &Signer{creds: cfg.Credentials, region: cfg.Region, endpoint: strings.TrimRight(endpoint, "/"),
		// S3 signs the path as sent, without the second escaping other services use.
		signer: v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })}
}

// GetURL returns a link that downloads bucket/key until now+expires, as an attachment named filename.
func (s *Signer) GetURL(ctx context.Context, bucket, key, filename string, expires time.Duration, now time.Time) (string, error) {
	if expires <= 0 || expires > MaxExpiry {
		return "", fmt.Errorf("presign %s/%s: expiry %s outside (0, %s]", bucket, key, expires, MaxExpiry)
	}
	segments := strings.Split(key, "/")
	for i, seg := range segments {
		segments[i] = url.PathEscape(seg)
	}
	path := strings.Join(segments, "/")
	u := "https://" + bucket + ".s3." + s.region + ".amazonaws.com/" + path
	if s.endpoint != "" {
		u = s.endpoint + "/" + bucket + "/" + path
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", fmt.Errorf("presign %s/%s: %w", bucket, key, err)
	}
	q := req.URL.Query()
	q.Set("X-Amz-Expires", strconv.Itoa(int(expires/time.Second)))
	q.Set("x-id", "GetObject") // as the S3 client's presigner sends it, so the two make the same link
	if filename != "" {
		q.Set("response-content-disposition", mime.FormatMediaType("attachment", map[string]string{"filename": filename}))
	}
	req.URL.RawQuery = q.Encode()
	creds, err := s.creds.Retrieve(ctx)
	if err != nil {
		return "", fmt.Errorf("presign %s/%s: credentials: %w", bucket, key, err)
	}
	signed, _, err := s.signer.PresignHTTP(ctx, creds, req, "UNSIGNED-PAYLOAD", "s3", s.region, now.UTC())
	if err != nil {
		return "", fmt.Errorf("presign %s/%s: %w", bucket, key, err)
	}
	return signed, nil
}
