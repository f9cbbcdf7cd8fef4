// Package awsconfig builds the one aws.Config every function and tool uses.
//
// In Lambda it is the region and the credentials that Lambda puts in the environment. On a developer
// machine and in tests the only difference is the endpoint: LEADVAULT_AWS_ENDPOINT points all clients at
// the local stand-ins, which sit behind one router on 127.0.0.1 (see infra/local/awsrouter).
//
// The package imports no service client and not the SDK's config package (profiles, SSO, STS, IMDS): a
// function needs none of that, and each would add to every function's size and cold start. Tools run by
// people, such as infra/ops, load the SDK's default chain themselves and wrap it with Wrap.
package awsconfig

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Region is the only region Leadvault runs in (obligation E4).
const Region = "eu-north-1"

// EndpointEnv names the environment variable that redirects every AWS client to a local endpoint.
const EndpointEnv = "LEADVAULT_AWS_ENDPOINT"

// Config is an aws.Config plus the local endpoint, if any.
type Config struct {
	AWS aws.Config
	// Endpoint is empty on AWS and the router URL locally.
	Endpoint string
}

// Local reports whether the clients talk to the local stand-ins. S3 clients then need path-style
// addressing, since the stand-in has no per-bucket host names.
func (c Config) Local() bool { return c.Endpoint != "" }

// Load reads the environment: AWS_REGION (default eu-north-1), LEADVAULT_AWS_ENDPOINT, and the credentials
// Lambda provides in AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN.
func Load(ctx context.Context) (Config, error) {
	return LoadEndpoint(ctx, os.Getenv(EndpointEnv))
}

// LoadEndpoint is Load with an explicit endpoint; tests use it to point at their own stand-ins. With an
// endpoint and no credentials in the environment, dummy ones are used: the stand-ins accept any signature.
func LoadEndpoint(_ context.Context, endpoint string) (Config, error) {
	region := os.Getenv("AWS_REGION")
	if region == "" {
		region = Region
	}
	creds := aws.Credentials{
		AccessKeyID: os.Getenv("AWS_ACCESS_KEY_ID"), SecretAccessKey: os.Getenv("AWS_SECRET_ACCESS_KEY"),
		SessionToken: os.Getenv("AWS_SESSION_TOKEN"), Source: "environment",
	}
	if creds.AccessKeyID == "" || creds.SecretAccessKey == "" {
		if endpoint == "" {
			return Config{}, errors.New("no AWS credentials in the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)")
		}
		creds = aws.Credentials{AccessKeyID: "local", SecretAccessKey: "local", Source: "leadvault-local"}
	}
	cfg := aws.Config{
		Region:      region,
		Credentials: aws.NewCredentialsCache(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil })),
	}
	return Wrap(cfg, endpoint)
}

// Wrap points an aws.Config loaded elsewhere at endpoint ("" = AWS itself).
func Wrap(cfg aws.Config, endpoint string) (Config, error) {
	if endpoint == "" {
		return Config{AWS: cfg}, nil
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return Config{}, fmt.Errorf("%s=%q is not an absolute URL", EndpointEnv, endpoint)
	}
	cfg = cfg.Copy()
	cfg.BaseEndpoint = aws.String(endpoint)
	// The stand-ins do not compute the newer flexible checksums; asking for them only where an API
	// requires them keeps the SDK from reporting mismatches against them.
	cfg.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	cfg.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	return Config{AWS: cfg, Endpoint: endpoint}, nil
}
