package incident_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"leadvault/infra/local/testenv"
	"leadvault/shared/access"
	"leadvault/shared/audit"
	"leadvault/shared/domain"
	"leadvault/shared/incident"
	"leadvault/shared/notify"
	"leadvault/shared/store"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// TestIncident_endToEnd: open → the scope matches what was seeded (forms, campaigns, approximate subjects
// and records, categories, what the named actor did) → the initial notice with every Art. 33(3) element is
// in the outbox and the tenant's view → the deadline watch warns when the detailed notice nears and when it
// is late → the detailed notice → nothing due → closed.
func TestIncident_endToEnd(t *testing.T) {
	ctx := context.Background()
	db := testenv.Env.AWS.DynamoDB()
	table := testenv.Table(t)
	st := store.New(db, table)
	v := testenv.Vault()
	trail := audit.New(db, table, 0)
	acme := testenv.Tenant(t, st, v, "acme")
	testenv.Tenant(t, st, v, "bravo")
	discovered := time.Now().UTC().Truncate(time.Second)
	if err := st.Scoped("acme").PutForm(ctx, testenv.Form("acme", "contact")); err != nil {
		t.Fatal(err)
	}
	if err := st.Scoped("acme").PutMember(ctx, domain.Member{UserID: "u-admin", Email: "admin@acme.dk", Role: access.Admin, AddedAt: discovered}); err != nil {
		t.Fatal(err)
	}
	for i, email := range []string{"jens@example.dk", "jens@example.dk", "karen@example.dk"} {
		at := discovered.Add(-time.Duration(i+1) * time.Hour)
		l := domain.Lead{TenantID: "acme", ID: uuid.Must(uuid.NewV7()).String(), FormID: "contact", CampaignID: "spring",
			Source: domain.SourceForm, CreatedAt: at, ExpiresAt: at.AddDate(1, 0, 0), Personal: domain.Personal{Email: email}}
		if _, _, err := st.WithClock(func() time.Time { return at }).Scoped("acme").PutLead(ctx, acme, l, store.Idempotency{Key: l.ID, RequestHash: "h", TTL: time.Minute}); err != nil {
			t.Fatal(err)
		}
	}
	for _, action := range []string{"lead.read", "lead.read", "audit.export"} {
		if _, err := trail.Append(ctx, audit.Record{Tenant: "acme", ActorID: "u-staff", ActorRole: "support", Action: action,
			At: discovered.Add(-30 * time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}

	svc := incident.New(st, trail, "operator:test")
	in, scopes, err := svc.Open(ctx, incident.Opening{ID: "inc-1", Nature: "A support account's password was phished",
		Discovered: discovered, From: discovered.Add(-24 * time.Hour), To: discovered, Actors: []string{"u-staff"}}, discovered)
	if err != nil {
		t.Fatal(err)
	}
	sc := scopes["acme"]
	if len(in.Tenants) != 1 || in.Tenants[0] != "acme" || sc.Leads != 3 || sc.Subjects != 2 || sc.Notifications != 3 ||
		strings.Join(sc.Campaigns, ",") != "spring" || !strings.Contains(strings.Join(sc.Categories, ","), "e-mail address") ||
		sc.Access["lead.read"] != 2 || sc.Access["audit.export"] != 1 {
		t.Fatalf("Open() = %+v, scope %+v; want acme only: 3 leads of 2 subjects, 3 notification records, the reads and the export", in, sc)
	}
	view, err := st.Scoped("acme").Incident(ctx, "inc-1")
	if err != nil || len(view.Notices) != 1 || view.Notices[0].Kind != domain.NoticeInitial {
		t.Fatalf("acme's view = %+v, %v; want the initial notice", view, err)
	}
	mails, err := st.Scoped("acme").MailsAbout(ctx, "incident:inc-1")
	if err != nil || len(mails) != 1 || mails[0].To[0] != "admin@acme.dk" {
		t.Fatalf("mails = %+v, %v; want the initial notice to the admin", mails, err)
	}
	for _, want := range []string{"1. Nature of the breach: A support account's password was phished", "about 2", "about 3 leads",
		"e-mail address", "3. Contact point", "4. Likely consequences", "5. Measures", "lead.read ×2", "Draft of your notice to the supervisory authority",
		"(Art. 34)"} {
		if !strings.Contains(mails[0].Text, want) {
			t.Errorf("initial notice lacks %q:\n%s", want, mails[0].Text)
		}
	}
	if strings.Contains(mails[0].Text, "jens@") {
		t.Error("the notice names a data subject")
	}
	// The notifier sends it through SES (the stand-in), as it sends every mail of the outbox.
	sender := notify.New(st, v, testenv.Env.AWS.SES(), testenv.Env.AWS.S3(), notify.Config{From: "Leadvault <notifications@leadvault.localhost>",
		Bucket: testenv.Bucket(t), KeyID: testenv.Env.Standins.KeyARN}, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err := sender.SendMail(ctx, "acme", mails[0].ID); err != nil {
		t.Fatal(err)
	}
	sentMail, err := st.Scoped("acme").Mail(ctx, mails[0].ID)
	if err != nil || sentMail.MessageID == "" {
		t.Fatalf("outbox mail after sending = %+v, %v", sentMail, err)
	}
	if body := sesText(t, sentMail.MessageID); !strings.Contains(body, "1. Nature of the breach") || !strings.Contains(body, "5. Measures") {
		t.Errorf("the SES stand-in holds %q; want the notice", body)
	}
	if _, err := st.Scoped("bravo").Incident(ctx, "inc-1"); err == nil {
		t.Error("bravo, with nothing in the window, has the incident")
	}

	due := func(at time.Time) []incident.Due {
		t.Helper()
		d, err := svc.Deadlines(ctx, at)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if d := due(discovered.Add(time.Hour)); len(d) != 0 {
		t.Errorf("due an hour in = %+v; want nothing (the initial notice went out)", d)
	}
	if d := due(discovered.Add(35 * time.Hour)); len(d) != 1 || d[0].Kind != domain.NoticeDetailed || d[0].Late {
		t.Errorf("due at 35 h = %+v; want the detailed notice due soon", d)
	}
	if d := due(discovered.Add(37 * time.Hour)); len(d) != 1 || !d[0].Late {
		t.Errorf("due at 37 h = %+v; want the detailed notice late", d)
	}
	if err := svc.Notice(ctx, "inc-1", domain.NoticeDetailed, "Contact data may be used for phishing.", "The account was locked; passwords reset.",
		discovered.Add(30*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if d := due(discovered.Add(37 * time.Hour)); len(d) != 0 {
		t.Errorf("due after the detailed notice = %+v; want nothing", d)
	}
	if view, _ := st.Scoped("acme").Incident(ctx, "inc-1"); len(view.Notices) != 2 || !strings.Contains(view.Notices[1].Text, "passwords reset") {
		t.Errorf("notices = %+v; want the detailed one appended", view.Notices)
	}
	if err := svc.Close(ctx, "inc-1", discovered.Add(40*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if in, _ := st.Incident(ctx, "inc-1"); in.State != domain.IncidentClosed {
		t.Errorf("state = %s; want closed", in.State)
	}
	recs, _, _ := trail.List(ctx, "acme", audit.Query{Action: incident.ActionNotice})
	if len(recs) != 2 {
		t.Errorf("acme's trail has %d notice records; want 2", len(recs))
	}
}

// sesText returns the text of the mail the SES stand-in accepted as messageID.
func sesText(t *testing.T, messageID string) string {
	t.Helper()
	resp, err := http.Get(testenv.Env.Standins.SESStoreURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		Emails []struct {
			MessageID string `json:"messageId"`
			Body      struct {
				Text string `json:"text"`
			} `json:"body"`
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	for _, m := range got.Emails {
		if m.MessageID == messageID {
			return m.Body.Text
		}
	}
	return ""
}
