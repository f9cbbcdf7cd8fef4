package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"leadvault/shared/app"
	"leadvault/shared/awsconfig"
	"leadvault/shared/backup"
	"leadvault/shared/store"
)

// restoreUsage documents the backup commands in the CLI's usage.
const restoreUsage = `
  backup [-prefix <p>]        write a logical backup of the table to LEADVAULT_BACKUP_BUCKET (DynamoDB's export
                              format, SSE-KMS); on AWS, AWS Backup and PITR take the backups, this is a portable copy
  restore -to <time> -into <table> [-from latest|<manifest-summary key>] [-prefix <p>]
                              restore the table as it was at -to into a new table: PITR on AWS, or a logical backup
                              with -from; then replay the live erasure and purge ledgers, count, verify every audit
                              chain, and print what to switch (docs/runbook.md)
  restore -restored -into <table>
                              the same steps for a table restored by other means (an AWS Backup recovery point)`

// backupPrefix is where logical backups go in the backup bucket.
const backupPrefix = "backups"

// takeBackup is `backup`.
func takeBackup(ctx context.Context, cfg awsconfig.Config, s app.Settings, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	prefix := fs.String("prefix", backupPrefix, "")
	if err := fs.Parse(args[1:]); err != nil || fs.NArg() != 0 {
		return errUsage
	}
	if err := s.Require(app.EnvBackupBucket); err != nil {
		return err
	}
	began := time.Now()
	sum, err := backup.Export(ctx, dynamodb.NewFromConfig(cfg.AWS), objectsOf(cfg), s.Table, s.BackupBucket, *prefix, s.KeyID, began)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "backup of %s: %d items in s3://%s/%s (SSE-KMS), %s\n", s.Table, sum.ItemCount, s.BackupBucket, backup.SummaryKey(sum),
		time.Since(began).Round(time.Millisecond))
	return nil
}

func objectsOf(cfg awsconfig.Config) *s3.Client {
	return s3.NewFromConfig(cfg.AWS, func(o *s3.Options) { o.UsePathStyle = cfg.Local() })
}

// restore is `restore`.
func restore(ctx context.Context, cfg awsconfig.Config, s app.Settings, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	to, into := fs.String("to", "", ""), fs.String("into", "", "")
	from, prefix := fs.String("from", "", ""), fs.String("prefix", backupPrefix, "")
	// -restored finishes a table restored by other means (an AWS Backup recovery point, the console).
	restored := fs.Bool("restored", false, "")
	if err := fs.Parse(args[1:]); err != nil || fs.NArg() != 0 || *into == "" || (*to == "" && !*restored) {
		return errUsage
	}
	if *restored {
		if *into == s.Table {
			return errors.New("-into must name the restored table, not the live one")
		}
		rep, err := backup.Finish(ctx, dynamodb.NewFromConfig(cfg.AWS), store.New(dynamodb.NewFromConfig(cfg.AWS), s.Table), *into,
			backup.Options{Settings: !cfg.Local(), Began: time.Now()})
		printReport(out, "a restore outside ops ("+*into+")", rep)
		return err
	}
	at, err := parseWhen(*to)
	if err != nil {
		return fmt.Errorf("-to: %w", err)
	}
	if *into == s.Table {
		return errors.New("-into must name a new table, not the live one")
	}
	if cfg.Local() && *from == "" {
		*from = "latest" // DynamoDB Local has no point-in-time recovery
	}
	db := dynamodb.NewFromConfig(cfg.AWS)
	live := store.New(db, s.Table)
	began := time.Now()
	opts := backup.Options{Began: began}
	source := ""
	if *from != "" {
		if err := s.Require(app.EnvBackupBucket); err != nil {
			return err
		}
		objects := objectsOf(cfg)
		var sum backup.Summary
		if *from == "latest" {
			sum, err = backup.Latest(ctx, objects, s.BackupBucket, *prefix, at)
		} else {
			sum, err = backup.ReadSummary(ctx, objects, s.BackupBucket, *from)
		}
		if err != nil {
			return err
		}
		if _, err := backup.Import(ctx, db, objects, sum, *into); err != nil {
			return err
		}
		source = fmt.Sprintf("logical backup %s (taken %s)", backup.SummaryKey(sum), sum.StartTime.Format(time.RFC3339))
	} else {
		if err := backup.RestorePITR(ctx, db, s.Table, *into, s.KeyID, at, 3*time.Hour); err != nil {
			return err
		}
		opts.Settings = true
		source = "point-in-time recovery of " + s.Table + " at " + at.Format(time.RFC3339)
	}
	rep, err := backup.Finish(ctx, db, live, *into, opts)
	printReport(out, source, rep)
	return err
}

func printReport(out io.Writer, source string, rep backup.Report) {
	fmt.Fprintf(out, "restored %s from %s\n", rep.Table, source)
	fmt.Fprintf(out, "  items                %d\n  erasures replayed    %d (%d leads deleted)\n  purges replayed      %d (%d items deleted)\n",
		rep.Items, rep.ErasuresReplayed, rep.LeadsErased, rep.PurgesReplayed, rep.ItemsPurged)
	var broken []string
	for _, t := range rep.Tenants {
		if !t.Intact {
			broken = append(broken, t.Tenant+": "+t.Problem)
		}
	}
	fmt.Fprintf(out, "  audit chains         %d walked, %d broken %s\n", len(rep.Tenants), len(broken), strings.Join(broken, "; "))
	fmt.Fprintf(out, "  took                 %s\n", rep.Took.Round(time.Second))
	if !rep.OK() {
		fmt.Fprintln(out, "DO NOT SWITCH: an audit chain does not verify.")
		return
	}
	fmt.Fprintf(out, "To switch (docs/runbook.md, \"Switching to the restored table\"): stop intake (disable the stage's intake route),\n"+
		"take the stateful stack's LeadsTable out of CloudFormation and import %s in its place (cdk import),\n"+
		"redeploy the stateless stack so the functions and the stream mappings use it, re-enable intake, and\n"+
		"replay any submissions the clients retried meanwhile (they are idempotent).\n", rep.Table)
}
