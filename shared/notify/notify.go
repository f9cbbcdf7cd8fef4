// Package notify tells a form's recipients about a new lead by e-mail (obligation E2). It keeps a copy of
// the sent message for at most 24 hours (E11) and a recipient log of who was told, when, and SES's message
// ID (E5), never the content.
package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"leadvault/shared/domain"
	"leadvault/shared/layout"
	"leadvault/shared/store"
	"leadvault/shared/vault"
)

// Store is what the notifier needs from the table.
type Store interface {
	Tenant(ctx context.Context, id string) (domain.Tenant, error)
	// Scoped is the only way to the tenant's data (leads, forms, notification records).
	Scoped(tenant string) *store.Scoped
}

// Keys unwraps tenant keys.
type Keys interface {
	TenantKey(ctx context.Context, tenantID string, wrapped []byte) (*vault.TenantKey, error)
}

// Mailer sends e-mail (SES v2).
type Mailer interface {
	SendEmail(ctx context.Context, in *sesv2.SendEmailInput, opts ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error)
}

// Archive keeps the short-lived copies of sent mail (S3).
type Archive interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

var (
	_ Store   = (*store.Store)(nil)
	_ Keys    = (*vault.Vault)(nil)
	_ Mailer  = (*sesv2.Client)(nil)
	_ Archive = (*s3.Client)(nil)
)

// SentPrefix is where copies of sent mail live in the sent-mail bucket.
const SentPrefix = layout.SentPrefix

// Config names where mail comes from and where copies go.
type Config struct {
	From             string // e.g. "Leadvault <notifications@example.com>"
	ConfigurationSet string // SES configuration set that publishes delivery events; "" locally
	Bucket           string
	KeyID            string // KMS key for the copies (SSE-KMS)
}

// Service sends lead notifications.
type Service struct {
	store   Store
	keys    Keys
	mailer  Mailer
	archive Archive
	cfg     Config
	log     *slog.Logger
	now     func() time.Time
}

// New returns a notification Service.
func New(st Store, keys Keys, mailer Mailer, archive Archive, cfg Config, log *slog.Logger) *Service {
	return &Service{store: st, keys: keys, mailer: mailer, archive: archive, cfg: cfg, log: log, now: time.Now}
}

// Notify sends the notification for one lead once. A lead that is spam, gone (deleted or expired), already
// notified, or whose form has no recipients is skipped without error.
func (s *Service) Notify(ctx context.Context, tenantID, leadID string) error {
	if _, err := s.store.Scoped(tenantID).Notified(ctx, leadID); err == nil {
		return nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("notify %s/%s: %w", tenantID, leadID, err)
	}
	t, err := s.store.Tenant(ctx, tenantID)
	if errors.Is(err, store.ErrNotFound) {
		// The tenant was purged (its contract ended) after the lead arrived: the lead is gone with it.
		s.log.InfoContext(ctx, "notification skipped", "tenant", tenantID, "lead", leadID, "reason", "tenant gone")
		return nil
	}
	if err != nil {
		return fmt.Errorf("notify %s/%s: %w", tenantID, leadID, err)
	}
	tk, err := s.keys.TenantKey(ctx, tenantID, t.WrappedKey)
	if err != nil {
		return fmt.Errorf("notify %s/%s: %w", tenantID, leadID, err)
	}
	lead, err := s.store.Scoped(tenantID).Lead(ctx, tk, leadID)
	if errors.Is(err, store.ErrNotFound) {
		s.log.InfoContext(ctx, "notification skipped", "tenant", tenantID, "lead", leadID, "reason", "lead gone")
		return nil
	}
	if err != nil {
		return fmt.Errorf("notify %s/%s: %w", tenantID, leadID, err)
	}
	if lead.Spam {
		s.log.InfoContext(ctx, "notification skipped", "tenant", tenantID, "lead", leadID, "reason", "spam")
		return nil
	}
	if lead.Restricted {
		// Art. 18 and 21: the subject restricted or objected to the processing; the lead is kept, not used.
		s.log.InfoContext(ctx, "notification skipped", "tenant", tenantID, "lead", leadID, "reason", "restricted")
		return nil
	}
	form, err := s.store.Scoped(tenantID).Form(ctx, lead.FormID)
	if err != nil {
		return fmt.Errorf("notify %s/%s: %w", tenantID, leadID, err)
	}
	if len(form.Recipients) == 0 {
		s.log.InfoContext(ctx, "notification skipped", "tenant", tenantID, "lead", leadID, "reason", "no recipients")
		return nil
	}
	now := s.now().UTC()
	raw := Render(s.cfg.From, form, lead, now)
	// The copy goes first: a retry after a failed send overwrites the same key.
	copyKey := layout.SentCopyKey(tenantID, leadID, now)
	_, err = s.archive.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &s.cfg.Bucket, Key: &copyKey, Body: bytes.NewReader(raw), ContentType: aws.String("message/rfc822"),
		ServerSideEncryption: s3types.ServerSideEncryptionAwsKms, SSEKMSKeyId: aws.String(s.cfg.KeyID),
	})
	if err != nil {
		return fmt.Errorf("notify %s/%s: keep copy: %w", tenantID, leadID, err)
	}
	in := &sesv2.SendEmailInput{
		Content:          &sestypes.EmailContent{Raw: &sestypes.RawMessage{Data: raw}},
		Destination:      &sestypes.Destination{ToAddresses: form.Recipients},
		FromEmailAddress: aws.String(s.cfg.From),
		// SES's events of this mail carry these, so they find the lead's recipient log (HandleSESEvent).
		EmailTags: []sestypes.MessageTag{{Name: aws.String(TagTenant), Value: aws.String(tenantID)}, {Name: aws.String(TagLead), Value: aws.String(leadID)}},
	}
	if s.cfg.ConfigurationSet != "" {
		in.ConfigurationSetName = aws.String(s.cfg.ConfigurationSet)
	}
	out, err := s.mailer.SendEmail(ctx, in)
	if err != nil {
		return fmt.Errorf("notify %s/%s: send: %w", tenantID, leadID, err)
	}
	n := domain.Notification{TenantID: tenantID, LeadID: leadID, MessageID: aws.ToString(out.MessageId),
		Recipients: form.Recipients, SentAt: now, ExpiresAt: lead.ExpiresAt}
	if err := s.store.Scoped(tenantID).PutNotification(ctx, n); err != nil && !errors.Is(err, store.ErrExists) {
		return fmt.Errorf("notify %s/%s: record: %w", tenantID, leadID, err)
	}
	s.log.InfoContext(ctx, "notification sent", "tenant", tenantID, "lead", leadID, "messageId", n.MessageID, "recipients", len(form.Recipients))
	return nil
}

// SendMail sends one mail of the outbox (see store.QueueMail) once, as plain text, and records SES's
// message ID; a mail already sent is skipped.
func (s *Service) SendMail(ctx context.Context, tenantID, id string) error {
	v := s.store.Scoped(tenantID)
	m, err := v.Mail(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("mail %s/%s: %w", tenantID, id, err)
	}
	if !m.SentAt.IsZero() {
		return nil
	}
	in := &sesv2.SendEmailInput{
		Content: &sestypes.EmailContent{Simple: &sestypes.Message{
			Subject: &sestypes.Content{Data: aws.String(m.Subject), Charset: aws.String("UTF-8")},
			Body:    &sestypes.Body{Text: &sestypes.Content{Data: aws.String(m.Text), Charset: aws.String("UTF-8")}},
			Headers: []sestypes.MessageHeader{{Name: aws.String("Auto-Submitted"), Value: aws.String("auto-generated")}},
		}},
		Destination:      &sestypes.Destination{ToAddresses: m.To},
		FromEmailAddress: aws.String(s.cfg.From),
	}
	if s.cfg.ConfigurationSet != "" {
		in.ConfigurationSetName = aws.String(s.cfg.ConfigurationSet)
	}
	out, err := s.mailer.SendEmail(ctx, in)
	if err != nil {
		return fmt.Errorf("mail %s/%s: send: %w", tenantID, id, err)
	}
	if err := v.MarkMailSent(ctx, id, aws.ToString(out.MessageId), s.now().UTC()); err != nil {
		return fmt.Errorf("mail %s/%s: %w", tenantID, id, err)
	}
	s.log.InfoContext(ctx, "mail sent", "tenant", tenantID, "mail", id, "kind", m.Kind, "messageId", aws.ToString(out.MessageId), "recipients", len(m.To))
	return nil
}

// HandleStream is the DynamoDB stream adapter: one notification per inserted lead, with failed records
// reported back so only they are retried (ReportBatchItemFailures).
func (s *Service) HandleStream(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	var resp events.DynamoDBEventResponse
	for _, r := range ev.Records {
		if r.EventName != string(events.DynamoDBOperationTypeInsert) {
			continue
		}
		pk, sk := r.Change.Keys[store.AttrPK].String(), r.Change.Keys[store.AttrSK].String()
		if tenant, id, ok := store.ParseMailKey(pk, sk); ok {
			if err := s.SendMail(ctx, tenant, id); err != nil {
				s.log.ErrorContext(ctx, "mail failed", "tenant", tenant, "mail", id, "error", err.Error())
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: r.Change.SequenceNumber})
			}
			continue
		}
		tenant, lead, ok := store.ParseLeadKey(pk, sk)
		if !ok {
			continue
		}
		if err := s.Notify(ctx, tenant, lead); err != nil {
			s.log.ErrorContext(ctx, "notification failed", "tenant", tenant, "lead", lead, "error", err.Error())
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: r.Change.SequenceNumber})
		}
	}
	return resp, nil
}

var labels = map[string]string{
	domain.FieldName: "Name", domain.FieldEmail: "E-mail", domain.FieldPhone: "Phone",
	domain.FieldAddress: "Address", domain.FieldCompany: "Company", domain.FieldMessage: "Message",
}

// Render builds the notification as a MIME message. The subject names only the form; the personal data
// stays in the body, which reaches only the recipients the controller chose.
func Render(from string, f domain.Form, l domain.Lead, now time.Time) []byte {
	var b bytes.Buffer
	header := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	header("From", from)
	header("To", strings.Join(f.Recipients, ", "))
	if addr, err := mail.ParseAddress(l.Personal.Email); err == nil {
		header("Reply-To", (&mail.Address{Name: l.Personal.Name, Address: addr.Address}).String())
	}
	header("Subject", mime.QEncoding.Encode("utf-8", "New lead via form "+f.ID))
	header("Date", now.Format(time.RFC1123Z))
	header("Message-ID", "<"+l.ID+".notify@leadvault>")
	header("Auto-Submitted", "auto-generated")
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")

	qp := quotedprintable.NewWriter(&b)
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(qp, "%s: %s\r\n", k, strings.ReplaceAll(v, "\n", "\r\n    "))
		}
	}
	fmt.Fprintf(qp, "A new lead arrived through form %s (campaign %s).\r\n\r\n", f.ID, f.CampaignID)
	for _, field := range l.Personal.Fields() {
		label, ok := labels[field.Name]
		if !ok {
			label = strings.TrimPrefix(field.Name, domain.CustomPrefix)
		}
		line(label, field.Value)
	}
	for _, a := range l.Personal.Attachments {
		line("Attachment", fmt.Sprintf("%s (%d bytes; not kept by Leadvault)", a.Name, a.Size))
	}
	if c := l.Consent; c != nil {
		line("Consent", fmt.Sprintf("given=%t, text version %s", c.Given, c.Version))
	}
	if l.Source == domain.SourceEmail {
		line("Received", "by e-mail to "+l.Meta["via"])
	}
	for _, fl := range l.Flags {
		line("Flag", fl)
	}
	fmt.Fprintf(qp, "\r\nLead ID: %s\r\nReceived: %s\r\n", l.ID, l.CreatedAt.UTC().Format(time.RFC3339))
	qp.Close()
	return b.Bytes()
}
