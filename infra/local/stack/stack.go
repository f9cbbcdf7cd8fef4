// Package stack runs Leadvault on one machine: the AWS stand-ins, the functions' handlers behind a local
// API Gateway, the table's stream driving the notifier, and the schedules. `make run` and the end-to-end
// tests both start it, so what a developer clicks is what the tests check.
package stack

import (
	"context"
	"crypto/rsa"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"leadvault/infra/local/awsclients"
	"leadvault/infra/local/cognitolocal"
	"leadvault/infra/local/devissuer"
	"leadvault/infra/local/envfile"
	"leadvault/infra/local/gateway"
	"leadvault/infra/local/sesinbound"
	"leadvault/infra/local/smtpd"
	"leadvault/infra/local/standins"
	"leadvault/infra/local/streams"
	"leadvault/shared/access"
	"leadvault/shared/app"
	"leadvault/shared/awsconfig"
	"leadvault/shared/controlapi"
	"leadvault/shared/domain"
	"leadvault/shared/formapi"
	"leadvault/shared/jobs"
	"leadvault/shared/mailintake"
	"leadvault/shared/notify"
	"leadvault/shared/provision"
	"leadvault/shared/store"
	"leadvault/shared/sweep"
	"leadvault/shared/vault"
)

//go:embed web
var web embed.FS

// Names of the local resources (on AWS, CloudFormation generates them).
const (
	Table      = "leadvault-local"
	SentBucket = "leadvault-sent-local"
	// ExportBucket holds the archives of access and export requests.
	ExportBucket = "leadvault-exports-local"
	// BackupBucket holds the logical backups of `ops -local backup` (DynamoDB Local has no PITR or AWS Backup).
	BackupBucket = "leadvault-backups-local"
	// InboundBucket and InboundDomain stand in for SES receiving: mail to <alias>@InboundDomain.
	InboundBucket = "leadvault-inbound-local"
	InboundDomain = "in.localhost"
	// InboundRegion is where SES receives mail for the stages (see infra/stacks): the local S3 events say so.
	InboundRegion   = "eu-west-1"
	DefaultSMTPAddr = "127.0.0.1:2525"
	DemoTenant      = "demo"
	NotifyFrom      = "Leadvault <notifications@leadvault.localhost>"
	DefaultAddr     = "127.0.0.1:8080"
	// IntakeRoute is the HTTP API route of the intake function, as in infra/stacks.
	IntakeRoute = "/v1/forms/{formID}/submissions"
	// IssuerPath is where the development token issuer (Cognito's stand-in) lives on the gateway.
	IssuerPath = "/local-issuer"
	// IssuerKeyFile names the issuer's signing key inside the data directory.
	IssuerKeyFile = "devissuer.pem"
	// CognitoPath is where the user pool's stand-in (Cognito's admin API and sign-in) lives on the gateway;
	// CognitoFile keeps its users inside the data directory.
	CognitoPath = "/local-cognito"
	CognitoFile = "cognito-users.json"
	// UserPoolID names the local user pool.
	UserPoolID = "eu-north-1_local"
	// ControllerRoute is the controller API's route, as in infra/stacks.
	ControllerRoute = "/v1/{proxy+}"
	// DemoAdmin is the demo tenant's first admin: `make run` prints a token for this user.
	DemoAdmin = "demo-admin"
)

// Options configure a local stack.
type Options struct {
	// Addr is the gateway's listen address; "" = DefaultAddr. Use "127.0.0.1:0" for a free port.
	Addr string
	// SMTPAddr is the inbound mail listener's address; "" = DefaultSMTPAddr.
	SMTPAddr string
	// DataDir keeps data across restarts; "" keeps nothing after Close (see standins.Options.DataDir).
	DataDir string
	// Log receives the stack's and the handlers' JSON logs; StandinLog the stand-ins' own output.
	Log        *slog.Logger
	StandinLog io.Writer
	// SweepEvery is the sweeper's schedule; 0 = hourly as on AWS.
	SweepEvery time.Duration
	// AsyncRetryDelay is the wait before each retry of an asynchronous invocation (email-intake);
	// 0 = DefaultAsyncRetryDelay. Lambda waits about one and then two minutes; locally it is shorter.
	AsyncRetryDelay time.Duration
}

// Retry policies of infra/stacks, modelled locally.
const (
	// NotifierRetryAttempts is the notifier's event source mapping's MaximumRetryAttempts: a record
	// is tried 1+NotifierRetryAttempts times before it goes to the on-failure destination.
	NotifierRetryAttempts = 5
	// AsyncRetryAttempts is Lambda's retry count for asynchronous invocations (email-intake).
	AsyncRetryAttempts = 2
	// DefaultAsyncRetryDelay is the local wait before the first retry of an asynchronous invocation;
	// the second waits twice as long.
	DefaultAsyncRetryDelay = 500 * time.Millisecond
)

// DeadLetter is one event that went to a function's on-failure destination after all its attempts.
type DeadLetter struct {
	// Function is "notifier" or "email-intake".
	Function string
	// Attempts is how often the event was tried.
	Attempts int
	// Stream is the stream record (notifier), S3 the S3 event (email-intake).
	Stream events.DynamoDBEventRecord
	S3     events.S3Event
	// Err is the last error, if the invocation returned one.
	Err string
}

// Stack is a running local Leadvault.
type Stack struct {
	GatewayURL string
	// SMTPAddr is where the local "MX" listens for mail to <alias>@InboundDomain.
	SMTPAddr string
	Standins *standins.Stack
	AWS      awsclients.Clients
	Settings app.Settings
	Store    *store.Store
	Vault    *vault.Vault
	Sweeper  *sweep.Sweeper
	// Issuer mints tokens as Cognito would for the controller API; its JWKS is served by the gateway.
	Issuer *devissuer.Issuer
	// IssuerKey is the path of the issuer's key when data persists ("" otherwise).
	IssuerKey string
	// Cognito stands in for the user pool: the controller API invites and removes users there.
	Cognito *cognitolocal.Server
	// Jobs runs campaign deletions, driven by the table's stream and the schedule as on AWS.
	Jobs *jobs.Runner

	dlqMu sync.Mutex
	dlq   []DeadLetter
	// invocations counts the asynchronous invocations still running or waiting for a retry.
	invocations sync.WaitGroup

	server *http.Server
	smtp   *smtpd.Server
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// Start brings the stack up and seeds the demo tenant and form. Close stops it.
func Start(ctx context.Context, o Options) (_ *Stack, err error) {
	if o.Addr == "" {
		o.Addr = DefaultAddr
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	if o.SMTPAddr == "" {
		o.SMTPAddr = DefaultSMTPAddr
	}
	if o.SweepEvery == 0 {
		o.SweepEvery = time.Hour
	}
	if o.AsyncRetryDelay == 0 {
		o.AsyncRetryDelay = DefaultAsyncRetryDelay
	}
	if host, _, err := net.SplitHostPort(o.Addr); err != nil || (host != "127.0.0.1" && host != "localhost") {
		return nil, fmt.Errorf("gateway address %q: the local stack listens on 127.0.0.1 only", o.Addr)
	}
	sb, err := standins.Start(ctx, standins.Options{DataDir: o.DataDir, Log: o.StandinLog})
	if err != nil {
		return nil, fmt.Errorf("start stand-ins: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	s := &Stack{Standins: sb, cancel: cancel}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	cfg, err := awsconfig.LoadEndpoint(ctx, sb.Endpoint)
	if err != nil {
		return nil, err
	}
	s.AWS = awsclients.Clients{Config: cfg}
	s.Settings = app.Settings{Stage: "local", Table: Table, KeyID: sb.KeyARN, SentBucket: SentBucket, ExportBucket: ExportBucket,
		NotifyFrom: NotifyFrom, InboundBucket: InboundBucket, InboundDomain: InboundDomain}
	if err := s.provision(ctx); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("gateway listen: %w", err)
	}
	s.GatewayURL = "http://" + ln.Addr().String()
	s.Settings.UserPoolID, s.Settings.CognitoEndpoint = UserPoolID, s.GatewayURL+CognitoPath
	if err := s.seed(ctx); err != nil {
		ln.Close()
		return nil, err
	}

	intakeHandler, err := formapi.FromConfig(cfg, s.Settings, o.Log)
	if err != nil {
		ln.Close()
		return nil, err
	}
	notifier, err := notify.FromConfig(cfg, s.Settings, o.Log)
	if err != nil {
		ln.Close()
		return nil, err
	}
	if s.Sweeper, err = sweep.FromConfig(cfg, s.Settings, o.Log); err != nil {
		ln.Close()
		return nil, err
	}
	mailIntake, err := mailintake.FromConfig(cfg, s.Settings, o.Log)
	if err != nil {
		ln.Close()
		return nil, err
	}
	// What SES receiving does on AWS: accept mail for the inbound domain, store it under inbound/ with
	// SSE-KMS, and invoke email-intake with the S3 event, asynchronously and with Lambda's retries.
	receiver := sesinbound.New(sesinbound.Options{
		S3: s.AWS.S3(), Bucket: InboundBucket, Prefix: mailintake.InboundPrefix, KMSKeyID: sb.KeyARN,
		Region: InboundRegion, Invoke: s.invokeAsync(runCtx, "email-intake", mailIntake.Handle, o.AsyncRetryDelay, o.Log), Log: o.Log,
	})
	if s.smtp, err = smtpd.Start(smtpd.Options{Addr: o.SMTPAddr, Domain: InboundDomain, Deliver: receiver.Deliver, Log: o.Log}); err != nil {
		ln.Close()
		return nil, fmt.Errorf("start smtp listener: %w", err)
	}
	s.SMTPAddr = s.smtp.Addr()

	var key *rsa.PrivateKey
	if o.DataDir != "" {
		s.IssuerKey = filepath.Join(o.DataDir, IssuerKeyFile)
		if key, err = devissuer.LoadOrCreateKey(s.IssuerKey); err != nil {
			ln.Close()
			return nil, err
		}
	}
	if s.Issuer, err = devissuer.New(s.GatewayURL+IssuerPath, key); err != nil {
		ln.Close()
		return nil, err
	}

	cognitoFile := ""
	if o.DataDir != "" {
		cognitoFile = filepath.Join(o.DataDir, CognitoFile)
	}
	if s.Cognito, err = cognitolocal.New(UserPoolID, s.Issuer, cognitolocal.Options{File: cognitoFile, Logger: o.Log,
		Deliver: func(inv cognitolocal.Invitation) { o.Log.Info("invitation e-mail (not sent locally)", "user", inv.Sub) }}); err != nil {
		ln.Close()
		return nil, err
	}
	controller, err := controlapi.FromConfig(cfg, s.Settings, o.Log)
	if err != nil {
		ln.Close()
		return nil, err
	}
	if s.Jobs, err = jobs.FromConfig(cfg, s.Settings, o.Log); err != nil {
		ln.Close()
		return nil, err
	}

	api := gateway.New([]gateway.Route{
		{Method: "ANY", Path: IntakeRoute, Handler: intakeHandler.Handle},
		{Method: "ANY", Path: ControllerRoute, Handler: controller.Handle, Authorizer: &gateway.JWTAuthorizer{
			Issuer: s.Issuer.URL(), Audience: []string{devissuer.DefaultClientID}, Keys: s.Issuer.Key,
		}},
	}, gateway.Options{Log: o.Log})
	mux := http.NewServeMux()
	mux.Handle("/v1/", api)
	mux.Handle(IssuerPath+"/", s.Issuer.Handler())
	cognito := http.StripPrefix(CognitoPath, s.Cognito)
	mux.Handle(CognitoPath, cognito)
	mux.Handle(CognitoPath+"/", cognito)
	mux.Handle("/demo/", demoPages())
	mux.Handle("/{$}", http.RedirectHandler("/demo/", http.StatusFound))
	s.server = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			o.Log.Error("gateway stopped", "error", err.Error())
		}
	}()

	table, err := s.AWS.DynamoDB().DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(Table)})
	if err != nil {
		return nil, fmt.Errorf("describe table: %w", err)
	}
	s.wg.Add(3)
	go func() {
		defer s.wg.Done()
		// Like the event source mapping (batch size 1, no partial batch responses): a failed step is retried.
		step := func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			return events.DynamoDBEventResponse{}, s.Jobs.HandleStream(ctx, ev)
		}
		err := streams.Run(runCtx, s.AWS.DynamoDBStreams(), step, streams.Options{
			StreamARN: aws.ToString(table.Table.LatestStreamArn), Log: o.Log, BatchSize: 1, Filter: JobsFilter,
		})
		if err != nil && runCtx.Err() == nil {
			o.Log.Error("jobs stream poller stopped", "error", err.Error())
		}
	}()
	go func() {
		defer s.wg.Done()
		err := streams.Run(runCtx, s.AWS.DynamoDBStreams(), notifier.HandleStream, streams.Options{
			// From the oldest record kept, like a new event source mapping at TRIM_HORIZON: nothing inserted
			// before the poller got its iterators is missed, and replays are harmless because the notifier
			// sends once per lead.
			StreamARN: aws.ToString(table.Table.LatestStreamArn), Log: o.Log,
			Filter: NotifierFilter, MaxAttempts: 1 + NotifierRetryAttempts,
			OnDeadLetter: func(r events.DynamoDBEventRecord) {
				s.deadLetter(DeadLetter{Function: "notifier", Attempts: 1 + NotifierRetryAttempts, Stream: r})
			},
		})
		if err != nil && runCtx.Err() == nil {
			o.Log.Error("stream poller stopped", "error", err.Error())
		}
	}()
	go func() {
		defer s.wg.Done()
		s.schedule(runCtx, o.SweepEvery, o.Log)
	}()
	return s, nil
}

// invokeAsync models Lambda's asynchronous invocation of h: the caller gets nil at once; h runs in the
// background and, when it fails, is retried AsyncRetryAttempts times (after delay, then twice delay)
// before the event goes to the on-failure destination (DeadLetters).
func (s *Stack) invokeAsync(ctx context.Context, function string, h func(context.Context, events.S3Event) error, delay time.Duration, log *slog.Logger) func(context.Context, events.S3Event) error {
	return func(_ context.Context, ev events.S3Event) error {
		s.invocations.Add(1)
		go func() {
			defer s.invocations.Done()
			wait := delay
			for attempt := 1; ; attempt++ {
				err := h(ctx, ev)
				if err == nil || ctx.Err() != nil {
					return
				}
				if attempt > AsyncRetryAttempts {
					log.Error("asynchronous invocation failed; event sent to the on-failure destination",
						"function", function, "attempts", attempt, "error", err.Error())
					s.deadLetter(DeadLetter{Function: function, Attempts: attempt, S3: ev, Err: err.Error()})
					return
				}
				log.Warn("asynchronous invocation failed; retrying", "function", function, "attempt", attempt, "error", err.Error())
				select {
				case <-ctx.Done():
					return
				case <-time.After(wait):
				}
				wait *= 2
			}
		}()
		return nil
	}
}

func (s *Stack) deadLetter(d DeadLetter) {
	s.dlqMu.Lock()
	defer s.dlqMu.Unlock()
	s.dlq = append(s.dlq, d)
}

// DeadLetters returns what went to the functions' on-failure destinations so far.
func (s *Stack) DeadLetters() []DeadLetter {
	s.dlqMu.Lock()
	defer s.dlqMu.Unlock()
	return slices.Clone(s.dlq)
}

// WaitInvocations waits until no asynchronous invocation is running or waiting for a retry.
func (s *Stack) WaitInvocations() { s.invocations.Wait() }

// NotifierFilter is the event source mapping's filter of infra/stacks: inserted lead and mail items.
func NotifierFilter(r events.DynamoDBEventRecord) bool {
	sk := r.Change.Keys[store.AttrSK].String()
	return r.EventName == string(events.DynamoDBOperationTypeInsert) && (sk == store.SKLead || strings.HasPrefix(sk, store.SKMailPrefix))
}

// JobsFilter is the jobs function's event source mapping filter of infra/stacks: inserted and updated
// campaign-deletion job items and subject requests.
func JobsFilter(r events.DynamoDBEventRecord) bool {
	sk := r.Change.Keys[store.AttrSK].String()
	return (r.EventName == string(events.DynamoDBOperationTypeInsert) || r.EventName == string(events.DynamoDBOperationTypeModify)) &&
		(strings.HasPrefix(sk, store.SKJobPrefix) || strings.HasPrefix(sk, store.SKRequestPrefix))
}

// provision creates the table and buckets as CloudFormation would on AWS.
func (s *Stack) provision(ctx context.Context) error {
	if err := store.CreateTable(ctx, s.AWS.DynamoDB(), Table); err != nil {
		return err
	}
	for _, bucket := range []string{SentBucket, ExportBucket, InboundBucket, BackupBucket} {
		_, err := s.AWS.S3().CreateBucket(ctx, &s3.CreateBucketInput{
			Bucket:                    aws.String(bucket),
			CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(awsconfig.Region)},
		})
		var owned *s3types.BucketAlreadyOwnedByYou
		var exists *s3types.BucketAlreadyExists
		if err != nil && !errors.As(err, &owned) && !errors.As(err, &exists) && !strings.Contains(err.Error(), "BucketAlreadyExists") {
			return fmt.Errorf("create bucket %s: %w", bucket, err)
		}
	}
	s.Store = store.New(s.AWS.DynamoDB(), Table)
	s.Vault = vault.New(s.AWS.KMS(), s.Settings.KeyID)
	return nil
}

// seed creates the demo tenant and (re)writes the demo form so its origins match this gateway.
func (s *Stack) seed(ctx context.Context) error {
	if _, err := provision.EnsureTenant(ctx, s.Store, s.Vault, DemoTenant, "Demo ApS", time.Now()); err != nil {
		return fmt.Errorf("seed tenant: %w", err)
	}
	form := provision.DemoForm(DemoTenant, s.GatewayURL)
	err := s.Store.Scoped(DemoTenant).PutCampaign(ctx, domain.Campaign{ID: form.CampaignID, Name: "Demo", CreatedAt: time.Now()})
	if err != nil && !errors.Is(err, store.ErrExists) {
		return fmt.Errorf("seed campaign: %w", err)
	}
	if err := s.Store.Scoped(form.TenantID).PutForm(ctx, form); err != nil {
		return fmt.Errorf("seed form: %w", err)
	}
	err = s.Store.Scoped(DemoTenant).PutMember(ctx, domain.Member{UserID: DemoAdmin, Email: "admin@demo.localhost", Role: access.Admin, AddedAt: time.Now()})
	if err != nil && !errors.Is(err, store.ErrExists) {
		return fmt.Errorf("seed admin: %w", err)
	}
	return nil
}

// schedule runs the sweeper and the jobs function's resumption like the EventBridge rules do: at start and
// then every period; the daily deadline reminders ride along (one mail a tenant a day, whatever the period).
func (s *Stack) schedule(ctx context.Context, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := s.Sweeper.Run(ctx); err != nil && ctx.Err() == nil {
			log.Error("scheduled sweep failed", "error", err.Error())
		}
		if _, err := s.Jobs.Resume(ctx); err != nil && ctx.Err() == nil {
			log.Error("scheduled job resumption failed", "error", err.Error())
		}
		if err := s.Jobs.RetentionRun(ctx, time.Now().UTC()); err != nil && ctx.Err() == nil {
			log.Error("scheduled retention sweep failed", "error", err.Error())
		}
		if _, err := s.Jobs.WatchIncidents(ctx, time.Now().UTC()); err != nil && ctx.Err() == nil {
			log.Error("scheduled incident deadlines failed", "error", err.Error())
		}
		if _, err := s.Jobs.RemindDeadlines(ctx, time.Now().UTC()); err != nil && ctx.Err() == nil {
			log.Error("scheduled deadline reminders failed", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func demoPages() http.Handler {
	sub, _ := fs.Sub(web, "web")
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The demo pages hold themselves to what Leadvault promises its customers' sites: no third-party
		// code, no cookies (E3).
		w.Header().Set("Content-Security-Policy", "default-src 'self'; form-action 'self'; frame-ancestors 'none'")
		w.Header().Set("Referrer-Policy", "strict-origin-when-cross-origin")
		files.ServeHTTP(w, r)
	})
}

// AdminToken mints an access token for the demo tenant's admin, valid for 12 hours.
func (s *Stack) AdminToken() (string, error) {
	return s.Issuer.Mint(devissuer.Claims{Subject: DemoAdmin, Username: DemoAdmin, TenantID: DemoTenant,
		Groups: []string{"admin"}, ExpiresIn: 12 * time.Hour})
}

// WriteEnv writes the environment a function needs to reach this stack (used by `make invoke`).
func (s *Stack) WriteEnv(path string) error {
	lines := append(s.Standins.Env(),
		app.EnvStage+"=local", app.EnvTable+"="+Table, app.EnvSentBucket+"="+SentBucket, app.EnvExportBucket+"="+ExportBucket, app.EnvBackupBucket+"="+BackupBucket,
		app.EnvNotifyFrom+"="+NotifyFrom, app.EnvInboundBucket+"="+InboundBucket, app.EnvInboundDomain+"="+InboundDomain,
		envfile.IssuerEnv+"="+s.Issuer.URL(), envfile.IssuerKeyEnv+"="+s.IssuerKey,
		app.EnvUserPoolID+"="+UserPoolID, app.EnvCognitoEndpoint+"="+s.Settings.CognitoEndpoint)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
}

// Done is closed when one of the AWS stand-ins has failed (exited, or stopped serving) and the stand-ins
// have been stopped; the stack is then only half alive and its owner must Close it. Err says which.
func (s *Stack) Done() <-chan struct{} { return s.Standins.Done() }

// Err names the stand-in that failed and how, once Done is closed; nil before.
func (s *Stack) Err() error { return s.Standins.Err() }

// Close stops everything the stack started. It is safe to call more than once.
func (s *Stack) Close() {
	s.once.Do(func() {
		s.cancel()
		if s.smtp != nil {
			_ = s.smtp.Close()
		}
		if s.server != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = s.server.Shutdown(ctx)
			cancel()
		}
		s.wg.Wait()
		s.invocations.Wait()
		_ = s.Standins.Close()
	})
}
