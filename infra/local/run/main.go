// Command run is `make run`: the whole Leadvault stack on 127.0.0.1, with data kept under .leadvault/.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"leadvault/infra/local/awsrouter"
	"leadvault/infra/local/stack"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "make run:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	addr, smtpAddr := os.Getenv("LEADVAULT_HTTP_ADDR"), os.Getenv("LEADVAULT_SMTP_ADDR")
	faults := os.Getenv(awsrouter.FaultsEnv)
	if _, _, err := awsrouter.ParseFaults(faults); err != nil {
		return fmt.Errorf("%s: %w", awsrouter.FaultsEnv, err)
	}
	dataDir, err := filepath.Abs(".leadvault/data")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return err
	}
	logFile, err := os.OpenFile(".leadvault/standins.log", os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open stand-in log: %w", err)
	}
	defer logFile.Close()
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	s, err := stack.Start(ctx, stack.Options{Addr: addr, SMTPAddr: smtpAddr, DataDir: dataDir, Log: log, StandinLog: logFile})
	if err != nil {
		return err
	}
	defer s.Close()
	// Faults start once the stack is provisioned and seeded, so only the running stack feels them.
	if err := s.Standins.Faults.SetSpec(faults); err != nil {
		return fmt.Errorf("%s: %w", awsrouter.FaultsEnv, err)
	}
	if faults != "" {
		fmt.Printf("Fault injection on (%s=%q).\n", awsrouter.FaultsEnv, faults)
	}
	if err := s.WriteEnv(".leadvault/env"); err != nil {
		return fmt.Errorf("write .leadvault/env: %w", err)
	}
	token, err := s.AdminToken()
	if err != nil {
		return fmt.Errorf("mint admin token: %w", err)
	}
	sb := s.Standins
	fmt.Printf(`Leadvault is running locally (data in .leadvault/data, stand-in output in .leadvault/standins.log).

  Demo form         %[1]s/demo/            (plain HTML post → 303)
  fetch() variant   %[1]s/demo/fetch.html  (JSON → 201)
  Intake API        POST %[1]s/v1/forms/demo-contact/submissions
  Inbound mail      smtp://%[8]s  (mail to demo-contact@%[9]s becomes a lead)
  Sent mail (SES)   %[2]s
  AWS endpoint      %[3]s   (DynamoDB %[4]s, KMS %[5]s, S3 %[6]s, SES %[7]s)
  Controller API    %[1]s/v1/...  (JWT-authorized; docs/openapi.yaml), e.g.
                    curl -H "Authorization: Bearer $TOKEN" %[1]s/v1/campaigns/demo/leads
  Token issuer      %[10]s  (JWKS at %[10]s/.well-known/jwks.json; Cognito's stand-in)
  User pool         %[1]s%[12]s  (Cognito's admin API and sign-in, for the same SDK client)
  Admin token       demo tenant, 12 h:  %[11]s
  More tokens       make token ROLE=member TENANT=demo NAME=alice   (ROLE=support: processor staff)
  Schedules         sweeper hourly (sent-mail copies and raw mail older than 24 h); campaign
                    deletions run off the table's stream, unfinished ones are resumed hourly
  Functions         make invoke FN=intake EVENT=events/intake/urlencoded.json

Ctrl-C stops everything.
`, s.GatewayURL, sb.SESStoreURL, sb.Endpoint, sb.DynamoDBURL, sb.KMSURL, sb.S3URL, sb.SESURL, s.SMTPAddr, stack.InboundDomain, s.Issuer.URL(), token, stack.CognitoPath)
	select {
	case <-ctx.Done():
		fmt.Println("\nstopping…")
		return nil
	case <-s.Done():
		// Never keep serving half alive: report the stand-in by name and stop everything else.
		return fmt.Errorf("%w; stopping the stack (its output is in .leadvault/standins.log)", s.Err())
	}
}
