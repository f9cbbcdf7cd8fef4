package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/uuid"

	"leadvault/infra/local/testenv"
	"leadvault/shared/domain"
	"leadvault/shared/notify"
	"leadvault/shared/store"
	"leadvault/shared/vault"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

type env struct {
	svc    *notify.Service
	st     *store.Store
	tk     *vault.TenantKey
	bucket string
}

func setup(t *testing.T) env {
	t.Helper()
	st := store.New(testenv.Env.AWS.DynamoDB(), testenv.Table(t))
	v := testenv.Vault()
	tk := testenv.Tenant(t, st, v, "acme")
	if err := st.Scoped("acme").PutForm(context.Background(), testenv.Form("acme", "contact")); err != nil {
		t.Fatal(err)
	}
	bucket := testenv.Bucket(t)
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	svc := notify.New(st, v, testenv.Env.AWS.SES(), testenv.Env.AWS.S3(), notify.Config{
		From: "Leadvault <notifications@leadvault.localhost>", Bucket: bucket, KeyID: testenv.Env.Standins.KeyARN,
	}, log)
	return env{svc: svc, st: st, tk: tk, bucket: bucket}
}

func (e env) putLead(t *testing.T, spam bool) domain.Lead {
	t.Helper()
	now := time.Now().UTC()
	l := domain.Lead{
		TenantID: "acme", ID: uuid.Must(uuid.NewV7()).String(), FormID: "contact", CampaignID: "spring",
		Source: domain.SourceForm, CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour), Spam: spam,
		Personal: domain.Personal{Name: "Jens Hansen", Email: "jens@example.dk", Phone: "+4520123456", Message: "Ring venligst"},
	}
	if _, _, err := e.st.Scoped(e.tk.Tenant()).PutLead(context.Background(), e.tk, l, store.Idempotency{Key: l.ID, RequestHash: l.ID, TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	return l
}

type sentMail struct {
	MessageID   string `json:"messageId"`
	Subject     string `json:"subject"`
	Destination struct {
		To []string `json:"to"`
	} `json:"destination"`
	Body struct {
		Text string `json:"text"`
	} `json:"body"`
}

func sent(t *testing.T, messageID string) []sentMail {
	t.Helper()
	resp, err := http.Get(testenv.Env.Standins.SESStoreURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var store struct{ Emails []sentMail }
	if err := json.NewDecoder(resp.Body).Decode(&store); err != nil {
		t.Fatal(err)
	}
	var out []sentMail
	for _, m := range store.Emails {
		if m.MessageID == messageID {
			out = append(out, m)
		}
	}
	return out
}

func TestNotify_sendsOnceAndLogsRecipients(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	lead := e.putLead(t, false)
	if err := e.svc.Notify(ctx, "acme", lead.ID); err != nil {
		t.Fatalf("Notify() error = %v", err)
	}
	rec, err := e.st.Scoped("acme").Notified(ctx, lead.ID)
	if err != nil {
		t.Fatalf("Notified() error = %v", err)
	}
	if len(rec.Recipients) != 1 || rec.Recipients[0] != "sales@acme.dk" || rec.MessageID == "" || !rec.ExpiresAt.Equal(lead.ExpiresAt.Truncate(time.Second)) {
		t.Errorf("recipient log = %+v; want sales@acme.dk, a message ID, kept as long as the lead", rec)
	}
	mails := sent(t, rec.MessageID)
	if len(mails) != 1 {
		t.Fatalf("SES got %d mails with id %s; want 1", len(mails), rec.MessageID)
	}
	m := mails[0]
	if m.Destination.To[0] != "sales@acme.dk" || !strings.Contains(m.Body.Text, "Jens Hansen") || !strings.Contains(m.Body.Text, lead.ID) {
		t.Errorf("mail = %+v; want to sales@acme.dk with the lead summary", m)
	}
	if strings.Contains(m.Subject, "Jens") {
		t.Errorf("subject %q carries personal data; want the form only", m.Subject)
	}

	// A redelivered stream record sends nothing more.
	if err := e.svc.Notify(ctx, "acme", lead.ID); err != nil {
		t.Fatal(err)
	}
	again, _ := e.st.Scoped("acme").Notified(ctx, lead.ID)
	if again.MessageID != rec.MessageID {
		t.Errorf("second Notify() changed the record: %q → %q", rec.MessageID, again.MessageID)
	}

	// The copy of the sent mail is kept encrypted with the stage key.
	list, err := testenv.Env.AWS.S3().ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &e.bucket, Prefix: aws.String(notify.SentPrefix)})
	if err != nil || len(list.Contents) != 1 {
		t.Fatalf("sent copies = %v, %v; want 1", list, err)
	}
	head, err := testenv.Env.AWS.S3().HeadObject(ctx, &s3.HeadObjectInput{Bucket: &e.bucket, Key: list.Contents[0].Key})
	if err != nil || head.ServerSideEncryption != "aws:kms" || aws.ToString(head.SSEKMSKeyId) != testenv.Env.Standins.KeyARN {
		t.Errorf("sent copy encryption = %v %v, %v; want aws:kms with the stage key", head.ServerSideEncryption, aws.ToString(head.SSEKMSKeyId), err)
	}
}

func TestNotify_skips(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	spam := e.putLead(t, true)
	if err := e.svc.Notify(ctx, "acme", spam.ID); err != nil {
		t.Fatalf("Notify(spam) error = %v", err)
	}
	if _, err := e.st.Scoped("acme").Notified(ctx, spam.ID); err == nil {
		t.Errorf("spam lead was notified; want skipped")
	}
	if err := e.svc.Notify(ctx, "acme", "no-such-lead"); err != nil {
		t.Errorf("Notify(deleted lead) error = %v; want nil (nothing to tell)", err)
	}
}

func TestHandleStream_reportsFailuresOnly(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	good := e.putLead(t, false)
	if err := e.st.PutTenant(ctx, domain.Tenant{ID: "ghost", Name: "Ghost", WrappedKey: []byte("not a wrapped key"), CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("../../events/notifier/insert.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev events.DynamoDBEvent
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	tmpl := ev.Records[0]
	record := func(pk, seq string) events.DynamoDBEventRecord {
		r := tmpl
		r.Change.Keys = map[string]events.DynamoDBAttributeValue{"pk": events.NewStringAttribute(pk), "sk": events.NewStringAttribute("LEAD")}
		r.Change.SequenceNumber = seq
		return r
	}
	ev.Records = []events.DynamoDBEventRecord{
		record("T#acme#L#"+good.ID, "1"),
		record("T#ghost#L#whatever", "2"), // a tenant key KMS cannot unwrap: a real failure, to be retried
		record("FORM#junk", "3"),          // not a lead: ignored
	}
	resp, err := e.svc.HandleStream(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "2" {
		t.Errorf("BatchItemFailures = %+v; want only sequence 2", resp.BatchItemFailures)
	}
	if _, err := e.st.Scoped("acme").Notified(ctx, good.ID); err != nil {
		t.Errorf("good record not notified: %v", err)
	}
}

func TestRender_headers(t *testing.T) {
	f := testenv.Form("acme", "contact")
	l := domain.Lead{ID: "L1", CreatedAt: time.Unix(0, 0), Personal: domain.Personal{Name: "Ann \"x\" <y>", Email: "ann@example.dk", Message: "line1\nline2\r\nBcc: evil@example.com"}}
	raw := string(notify.Render("Leadvault <n@l.localhost>", f, l, time.Unix(0, 0)))
	head, _, _ := strings.Cut(raw, "\r\n\r\n")
	if strings.Contains(head, "evil@example.com") || strings.Count(head, "Bcc") > 0 {
		t.Errorf("Render() let body text into the header:\n%s", head)
	}
	if !strings.Contains(head, "Reply-To: ") || !strings.Contains(head, "<ann@example.dk>") {
		t.Errorf("Render() header has no Reply-To for the lead:\n%s", head)
	}
}

// TestNotify_restrictedLeadSkipped: a restricted lead (Art. 18, 21) is kept but nobody is told of it.
func TestNotify_restrictedLeadSkipped(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	lead := e.putLead(t, false)
	if _, err := e.st.Scoped("acme").RestrictLeads(ctx, []string{lead.ID}, true, domain.FlagObjection); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Notify(ctx, "acme", lead.ID); err != nil {
		t.Fatalf("Notify(restricted) = %v", err)
	}
	if _, err := e.st.Scoped("acme").Notified(ctx, lead.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a restricted lead was notified: %v", err)
	}
}

// TestSendMail_outboxStream: a mail written to the outbox is sent once, off its stream record, through SES,
// and its message ID recorded.
func TestSendMail_outboxStream(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	m := domain.Mail{TenantID: "acme", ID: "n-req-1-lead-1", Kind: domain.MailRecipientNotice, To: []string{"sales@acme.dk"},
		Subject: "Lead lead-1 was erased at the data subject's request", Text: "Please delete every copy of it.", Ref: "request:req-1",
		CreatedAt: time.Now().UTC()}
	if err := e.st.Scoped("acme").QueueMail(ctx, m); err != nil {
		t.Fatal(err)
	}
	if err := e.st.Scoped("acme").QueueMail(ctx, m); !errors.Is(err, store.ErrExists) {
		t.Errorf("QueueMail(again) = %v; want ErrExists", err)
	}
	rec := events.DynamoDBEventRecord{EventName: "INSERT", Change: events.DynamoDBStreamRecord{SequenceNumber: "1", Keys: map[string]events.DynamoDBAttributeValue{
		store.AttrPK: events.NewStringAttribute("T#acme#MAIL"), store.AttrSK: events.NewStringAttribute(store.SKMailPrefix + m.ID)}}}
	for range 2 {
		resp, err := e.svc.HandleStream(ctx, events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{rec}})
		if err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("HandleStream = %+v, %v", resp, err)
		}
	}
	got, err := e.st.Scoped("acme").Mail(ctx, m.ID)
	if err != nil || got.MessageID == "" || got.SentAt.IsZero() {
		t.Fatalf("mail after the stream = %+v, %v; want sent", got, err)
	}
	mails := sent(t, got.MessageID)
	if len(mails) != 1 || mails[0].Subject != m.Subject || !strings.Contains(mails[0].Body.Text, "delete every copy") || mails[0].Destination.To[0] != "sales@acme.dk" {
		t.Errorf("SES received %+v; want the notice once", mails)
	}
}

// TestHandleSESEvent_fixtures: SES's delivery and bounce events (events/notifier/ses-*.json, as
// EventBridge delivers them) are appended to the lead's recipient log by the tags the notifier sets, without
// the SMTP text; an event of another message or of no lead is dropped, not retried.
func TestHandleSESEvent_fixtures(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	const lead, msg = "01938b6e-0000-7000-8000-000000000001", "0100018c3f2a9b7e-5e1c2d3f-aaaa-bbbb-cccc-000000000000-000000"
	if err := e.st.Scoped("acme").PutNotification(ctx, domain.Notification{TenantID: "acme", LeadID: lead, MessageID: msg,
		Recipients: []string{"sales@acme.dk"}, SentAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"ses-delivery", "ses-bounce"} {
		raw, err := os.ReadFile("../../events/notifier/" + f + ".json")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Handle(ctx, raw); err != nil {
			t.Fatalf("Handle(%s) = %v", f, err)
		}
	}
	n, err := e.st.Scoped("acme").Notified(ctx, lead)
	if err != nil || len(n.Deliveries) != 2 {
		t.Fatalf("Notified() = %+v, %v; want two delivery events", n, err)
	}
	if d := n.Deliveries[0]; d.Event != "Delivery" || d.Detail != "smtp 250" || d.Recipients[0] != "sales@acme.dk" || d.At.IsZero() {
		t.Errorf("delivery = %+v", d)
	}
	if d := n.Deliveries[1]; d.Event != "Bounce" || d.Detail != "Permanent/General" {
		t.Errorf("bounce = %+v", d)
	}
	other := []byte(`{"source":"aws.ses","detail":{"eventType":"Delivery","mail":{"messageId":"x","tags":{"tenant":["acme"],"lead":["` + lead + `"]}},"delivery":{"recipients":["a@b.dk"],"smtpResponse":"250 ok"}}}`)
	outbox := []byte(`{"source":"aws.ses","detail":{"eventType":"Delivery","mail":{"messageId":"y","tags":{}},"delivery":{"recipients":["a@b.dk"]}}}`)
	for _, raw := range [][]byte{other, outbox} {
		if _, err := e.svc.Handle(ctx, raw); err != nil {
			t.Errorf("Handle(%s) = %v; want dropped without error", raw, err)
		}
	}
	if n, _ := e.st.Scoped("acme").Notified(ctx, lead); len(n.Deliveries) != 2 {
		t.Errorf("an event of another message was recorded: %+v", n.Deliveries)
	}
}

// TestNotify_tenantGone: a lead's insert that reaches the notifier after its tenant was purged is skipped,
// not retried into the dead-letter queue.
func TestNotify_tenantGone(t *testing.T) {
	e := setup(t)
	if err := e.svc.Notify(context.Background(), "purged-tenant", "01938b6e-0000-7000-8000-000000000009"); err != nil {
		t.Errorf("Notify(purged tenant) = %v; want skipped", err)
	}
}
