// Command ops is the operators' CLI: it onboards controllers (tenants) and their forms on a stage.
//
//	go run ./infra/ops tenant create <id> <name>
//	go run ./infra/ops tenant admin <id> <e-mail>
//	go run ./infra/ops staff invite <e-mail>
//	go run ./infra/ops tenant audit-retention <id> <days>
//	go run ./infra/ops audit verify <tenant>
//	go run ./infra/ops form put <form.json>
//	go run ./infra/ops form get <formID>
//	go run ./infra/ops tenant end <id> -on <date> -grace <days> -then delete|return
//	go run ./infra/ops processor wind-up -confirm yes
//	go run ./infra/ops subject-request relay <tenant> -kind <kind> -received <time> -channel <how> [-email <e-mail>] [-phone <number>]
//
// It reads the same environment as the functions (LEADVAULT_TABLE, LEADVAULT_KEY_ID, LEADVAULT_USER_POOL_ID,
// AWS credentials; the stage's stack outputs name the table, key and user pool). With -local it uses the stack `make run` started.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/google/uuid"

	"leadvault/infra/local/envfile"
	"leadvault/shared/access"
	"leadvault/shared/app"
	"leadvault/shared/audit"
	"leadvault/shared/awsconfig"
	"leadvault/shared/directory"
	"leadvault/shared/domain"
	"leadvault/shared/normalize"
	"leadvault/shared/posture"
	"leadvault/shared/provision"
	"leadvault/shared/relay"
	"leadvault/shared/store"
	"leadvault/shared/vault"
)

const usage = `usage: ops [-local] <command>
  tenant create <id> <name>   create a tenant with a fresh tenant key (idempotent)
  tenant admin <id> <e-mail>  invite a tenant's first admin (Cognito mails a temporary password)
  tenant audit-retention <id> <days>
                              keep the tenant's audit records this long (365-3650; 0 = 5 years)
  staff invite <e-mail>       invite a processor support user (no tenant; sees data masked unless granted)
  audit verify <tenant>       check the tenant's audit hash chain; exits 1 on a gap or edit
  form put <form.json>        create or replace a form (see docs/architecture.md and shared/domain.Form)
  form get <formID>           print a form's configuration
  subject-request relay <tenant> -kind <kind> -received <RFC 3339 time> -channel <how> [-email <e-mail>] [-phone <number> [-region DK]]
                              record a data subject's request that reached the processor: it awaits the
                              controller's confirmation and the tenant's admins are mailed (the identifiers
                              are never printed or logged)` + contractUsage + restoreUsage + subprocessorUsage + incidentUsage + `
  measures                    print the technical and organisational measures (docs/measures.md) as configured
  subprocessors               print the register of sub-processors (docs/subprocessors.json, the public document)
  record <tenant>             print the record of processing activities for a controller (Art. 30(2)), from its live forms`

func main() {
	local := flag.Bool("local", false, "use the local stack of `make run` (reads .leadvault/env)")
	flag.Usage = func() { fmt.Fprintln(os.Stderr, usage) }
	flag.Parse()
	if *local {
		if err := loadEnvFile(envfile.Path); err != nil {
			fmt.Fprintln(os.Stderr, "ops: start `make run` first:", err)
			os.Exit(1)
		}
	}
	ctx := context.Background()
	// People run this CLI, so it takes the SDK's whole credential chain (profiles, SSO), unlike a function.
	var cfg awsconfig.Config
	sdk, err := config.LoadDefaultConfig(ctx, config.WithRegion(awsconfig.Region))
	if err == nil {
		cfg, err = awsconfig.Wrap(sdk, os.Getenv(awsconfig.EndpointEnv))
	}
	var s app.Settings
	if err == nil {
		s, err = app.SettingsFromEnv()
	}
	if err == nil {
		err = run(ctx, cfg, s, flag.Args(), os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ops:", err)
		os.Exit(1)
	}
}

var errUsage = errors.New(usage)

func run(ctx context.Context, cfg awsconfig.Config, s app.Settings, args []string, out io.Writer) error {
	if len(args) == 1 && (args[0] == "measures" || args[0] == "subprocessors") {
		// Documents generated from the code: no table needed.
		doc := map[string]func() string{"measures": posture.MeasuresMarkdown, "subprocessors": posture.SubprocessorsJSON}[args[0]]
		_, err := io.WriteString(out, doc())
		return err
	}
	if err := s.Require(app.EnvTable, app.EnvKeyID); err != nil {
		return fmt.Errorf("%w (the stage's stack outputs), or use -local", err)
	}
	db := dynamodb.NewFromConfig(cfg.AWS)
	st := store.New(db, s.Table)
	keys := vault.New(kms.NewFromConfig(cfg.AWS), s.KeyID)
	if len(args) > 0 {
		// One-word commands with flags.
		switch args[0] {
		case "backup":
			return takeBackup(ctx, cfg, s, args, out)
		case "restore":
			return restore(ctx, cfg, s, args, out)
		case "record":
			return processingRecord(ctx, st, args, out)
		case "subprocessor":
			return subprocessor(ctx, st, audit.New(db, s.Table, 0), args, out)
		case "incident":
			return incidents(ctx, st, audit.New(db, s.Table, 0), args, out)
		}
	}
	switch strings.Join(first(args, 2), " ") {
	case "tenant create":
		if len(args) != 4 {
			return errUsage
		}
		created, err := provision.EnsureTenant(ctx, st, keys, args[2], args[3], time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "tenant %s %s\n", args[2], map[bool]string{true: "created", false: "exists"}[created])
		return nil
	case "form put":
		if len(args) != 3 {
			return errUsage
		}
		b, err := os.ReadFile(args[2])
		if err != nil {
			return err
		}
		var f domain.Form
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			return fmt.Errorf("%s: %w", args[2], err)
		}
		// A form feeds a campaign; the controller API lists and deletes leads by campaign.
		err = st.Scoped(f.TenantID).PutCampaign(ctx, domain.Campaign{ID: f.CampaignID, Name: f.CampaignID, CreatedAt: time.Now()})
		if err != nil && !errors.Is(err, store.ErrExists) {
			return err
		}
		if err := st.Scoped(f.TenantID).PutForm(ctx, f); err != nil {
			return err
		}
		fmt.Fprintf(out, "form %s of tenant %s stored (enabled: %t)\n", f.ID, f.TenantID, f.Enabled)
		return nil
	case "audit verify":
		if len(args) != 3 {
			return errUsage
		}
		rep, err := audit.New(db, s.Table, 0).Verify(ctx, args[2])
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "tenant %s: %d records walked (seq %d-%d, head %d)\n", args[2], rep.Records, rep.StartSeq, rep.LastSeq, rep.HeadSeq)
		if !rep.Intact() {
			return fmt.Errorf("audit chain of %s is broken: %s", args[2], rep.Problem)
		}
		fmt.Fprintln(out, "intact")
		return nil
	case "tenant audit-retention":
		if len(args) != 4 {
			return errUsage
		}
		days, err := strconv.Atoi(args[3])
		if err != nil {
			return errUsage
		}
		if err := st.SetAuditRetention(ctx, args[2], days); err != nil {
			return err
		}
		fmt.Fprintf(out, "tenant %s keeps audit records %d days (0 = five years)\n", args[2], days)
		return nil
	case "tenant admin", "staff invite":
		want := map[string]int{"tenant admin": 4, "staff invite": 3}[strings.Join(first(args, 2), " ")]
		if len(args) != want {
			return errUsage
		}
		if s.UserPoolID == "" {
			return fmt.Errorf("%w (the stage's stack output UserPoolId), or use -local", s.Require(app.EnvUserPoolID))
		}
		dir := directory.New(cognitoidentityprovider.NewFromConfig(cfg.AWS, func(o *cognitoidentityprovider.Options) {
			if s.CognitoEndpoint != "" {
				o.BaseEndpoint = &s.CognitoEndpoint
			}
		}), s.UserPoolID)
		email, err := normalize.Email(args[len(args)-1])
		if err != nil || email == "" {
			return errors.New("the last argument must be an e-mail address")
		}
		if args[0] == "staff" {
			id, err := dir.InviteStaff(ctx, email)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "support user %s invited\n", id)
			return nil
		}
		tenant := args[2]
		if _, err := st.Tenant(ctx, tenant); err != nil {
			return err
		}
		id, err := dir.Invite(ctx, tenant, email, access.Admin)
		if err != nil {
			return err
		}
		if err := st.Scoped(tenant).PutMember(ctx, domain.Member{UserID: id, Email: email, Role: access.Admin, AddedAt: time.Now(), AddedBy: "ops"}); err != nil {
			return err
		}
		fmt.Fprintf(out, "admin %s of tenant %s invited\n", id, tenant)
		return nil
	case "subject-request relay":
		if len(args) < 3 {
			return errUsage
		}
		fs := flag.NewFlagSet("relay", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		kind := fs.String("kind", "", "")
		received := fs.String("received", "", "")
		channel := fs.String("channel", "", "")
		email, phone, region := fs.String("email", "", ""), fs.String("phone", "", ""), fs.String("region", "", "")
		if err := fs.Parse(args[3:]); err != nil || fs.NArg() != 0 {
			return errUsage
		}
		at, err := time.Parse(time.RFC3339, *received)
		if err != nil {
			return fmt.Errorf("-received must be an RFC 3339 time, e.g. 2026-12-03T09:00:00Z")
		}
		operator := "operator"
		if u := os.Getenv("USER"); u != "" {
			operator = "operator:" + u
		}
		r, err := relay.Relay(ctx, st, keys, audit.New(db, s.Table, 0), relay.Request{Tenant: args[2], Kind: domain.RequestKind(*kind),
			Received: at, Channel: *channel, Email: *email, Phone: *phone, Region: *region, Operator: operator},
			uuid.Must(uuid.NewV7()).String(), time.Now().UTC())
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "request %s of tenant %s awaits the controller (due %s); its admins are mailed\n", r.ID, r.TenantID, r.DueAt.Format(time.RFC3339))
		return nil
	case "tenant end":
		return endContract(ctx, st, args, out)
	case "tenant status":
		return contractStatus(ctx, st, args, out)
	case "billing contact", "billing invoice":
		return billing(ctx, st, args, out)
	case "processor wind-up":
		return windUp(ctx, st, args, out)
	case "migrate expiry-hours":
		n, err := st.BackfillExpiryHours(ctx)
		fmt.Fprintf(out, "%d leads and subject keys given their expiry hour\n", n)
		return err
	case "form get":
		if len(args) != 3 {
			return errUsage
		}
		f, err := st.FormByID(ctx, args[2])
		if err != nil {
			return err
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(f)
	}
	return errUsage
}

func first(args []string, n int) []string {
	if len(args) < n {
		return args
	}
	return args[:n]
}

// loadEnvFile sets the variables of the local stack's env file that are not already set.
func loadEnvFile(path string) error {
	vars, err := envfile.Read(path)
	if err != nil {
		return err
	}
	for k, v := range vars {
		if os.Getenv(k) == "" {
			os.Setenv(k, v)
		}
	}
	return nil
}
