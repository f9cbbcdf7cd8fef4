// Command token mints an access token from the development issuer of the stack `make run` started, as
// Cognito would for a user of the controller API:
//
//	make token ROLE=member TENANT=demo NAME=alice
//	go run ./infra/local/token -role support -user bob          (processor staff: no tenant)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"leadvault/infra/local/devissuer"
	"leadvault/infra/local/envfile"
	"leadvault/shared/access"
	"leadvault/shared/app"
	"leadvault/shared/awsconfig"
	"leadvault/shared/domain"
	"leadvault/shared/store"
)

func main() {
	if err := run(os.Args[1:], envfile.Path, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "token:", err)
		os.Exit(1)
	}
}

func run(args []string, envFile string, out io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	role := fs.String("role", "admin", "admin, member or support")
	tenant := fs.String("tenant", "demo", "the user's tenant (ignored for support, who belong to none)")
	user := fs.String("user", "", "the username (default: <role>-<tenant>)")
	ttl := fs.Duration("ttl", time.Hour, "how long the token is valid")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch *role {
	case "admin", "member":
	case "support":
		*tenant = ""
	default:
		return fmt.Errorf("role %q: want admin, member or support", *role)
	}
	if *user == "" {
		*user = strings.TrimSuffix(*role+"-"+*tenant, "-")
	}
	env, err := envfile.Read(envFile)
	if err != nil {
		return fmt.Errorf("start `make run` first: %w", err)
	}
	url, keyPath := env[envfile.IssuerEnv], env[envfile.IssuerKeyEnv]
	if url == "" || keyPath == "" {
		return errors.New("the running stack has no persistent issuer key; start it with `make run`")
	}
	key, err := devissuer.LoadOrCreateKey(keyPath)
	if err != nil {
		return err
	}
	iss, err := devissuer.New(url, key)
	if err != nil {
		return err
	}
	tok, err := iss.Mint(devissuer.Claims{Subject: *user, Username: *user, TenantID: *tenant, Groups: []string{*role}, ExpiresIn: *ttl})
	if err != nil {
		return err
	}
	// The tenant's membership, not the token, authorizes controller staff: make the user a member in the
	// role asked for, unless they are one already (then their stored role applies).
	if *role != "support" && env[awsconfig.EndpointEnv] != "" && env[app.EnvTable] != "" {
		if err := register(env, *tenant, *user, access.Role(*role)); err != nil {
			return err
		}
	}
	_, err = fmt.Fprintln(out, tok)
	return err
}

// register makes user a member of tenant in the running stack's table.
func register(env map[string]string, tenant, user string, role access.Role) error {
	db := dynamodb.New(dynamodb.Options{
		Region: awsconfig.Region, BaseEndpoint: aws.String(env[awsconfig.EndpointEnv]),
		Credentials: credentials.NewStaticCredentialsProvider(env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], ""),
	})
	st := store.New(db, env[app.EnvTable])
	err := st.Scoped(tenant).PutMember(context.Background(), domain.Member{UserID: user, Email: user + "@" + tenant + ".localhost", Role: role, AddedAt: time.Now(), AddedBy: "make token"})
	if err != nil && !errors.Is(err, store.ErrExists) {
		return fmt.Errorf("make %s a member of %s: %w", user, tenant, err)
	}
	return nil
}
