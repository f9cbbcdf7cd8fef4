// Package testenv gives integration tests real stand-ins: one set per test binary (started in TestMain),
// and a fresh table and bucket per test, reached through the same aws-sdk-go-v2 clients as in Lambda.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"leadvault/infra/local/awsclients"
	"leadvault/infra/local/standins"
	"leadvault/shared/awsconfig"
	"leadvault/shared/domain"
	"leadvault/shared/provision"
	"leadvault/shared/store"
	"leadvault/shared/vault"
)

// Env is the running environment; set by Main.
var Env struct {
	Standins *standins.Stack
	AWS      awsclients.Clients
}

// Main starts the stand-ins, runs the package's tests and stops them. Use it as TestMain's body:
//
//	func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
func Main(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sb, err := standins.Start(ctx, standins.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "testenv: start stand-ins:", err)
		return 1
	}
	defer sb.Close()
	Env.Standins = sb
	cfg, err := awsconfig.LoadEndpoint(ctx, sb.Endpoint)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testenv:", err)
		return 1
	}
	Env.AWS = awsclients.Clients{Config: cfg}
	code := m.Run()
	if err := sb.Err(); err != nil {
		// A stand-in died during the tests: say which, since the failures it caused only show symptoms.
		fmt.Fprintln(os.Stderr, "testenv:", err)
		return 1
	}
	return code
}

// Name returns a unique resource name with a readable prefix.
func Name(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// Table creates a fresh table, exactly as the local stack does, and returns its name.
func Table(t testing.TB) string {
	t.Helper()
	name := Name("t")
	if err := store.CreateTable(context.Background(), Env.AWS.DynamoDB(), name); err != nil {
		t.Fatalf("create table: %v", err)
	}
	return name
}

// Bucket creates a fresh bucket and returns its name.
func Bucket(t testing.TB) string {
	t.Helper()
	name := Name("b")
	_, err := Env.AWS.S3().CreateBucket(context.Background(), &s3.CreateBucketInput{
		Bucket:                    aws.String(name),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(awsconfig.Region)},
	})
	if err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	return name
}

// Vault returns a vault on the stand-in stage key.
func Vault(opts ...vault.Option) *vault.Vault {
	return vault.New(Env.AWS.KMS(), Env.Standins.KeyARN, opts...)
}

// Tenant creates a tenant with a real wrapped key in st and returns its unwrapped key.
func Tenant(t testing.TB, st *store.Store, v *vault.Vault, id string) *vault.TenantKey {
	t.Helper()
	ctx := context.Background()
	if _, err := provision.EnsureTenant(ctx, st, v, id, "Tenant "+id, time.Now()); err != nil {
		t.Fatalf("create tenant %s: %v", id, err)
	}
	ten, err := st.Tenant(ctx, id)
	if err != nil {
		t.Fatalf("read tenant %s: %v", id, err)
	}
	tk, err := v.TenantKey(ctx, id, ten.WrappedKey)
	if err != nil {
		t.Fatalf("unwrap tenant key %s: %v", id, err)
	}
	return tk
}

// Form returns a valid form of tenant for tests to adjust and store.
func Form(tenant, id string) domain.Form {
	return domain.Form{
		ID: id, TenantID: tenant, CampaignID: "spring", Enabled: true,
		Fields: map[string]string{
			"name": domain.FieldName, "email": domain.FieldEmail, "phone": domain.FieldPhone,
			"message": domain.FieldMessage, "company": domain.FieldCompany, "budget": "custom:budget",
		},
		Required:       []string{domain.FieldName, domain.FieldEmail},
		AllowedOrigins: []string{"https://www.acme.dk"},
		Honeypot:       "_gotcha",
		RedirectURL:    "https://www.acme.dk/thanks",
		Consent:        &domain.Consent{Field: "consent", Text: "I agree to be contacted.", Version: "v1", Required: true},
		Recipients:     []string{"sales@acme.dk"},
		FreeTextPolicy: domain.PolicyReject,
	}
}
