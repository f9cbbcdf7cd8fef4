package jobs_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"leadvault/infra/local/testenv"
	"leadvault/shared/audit"
	"leadvault/shared/domain"
	"leadvault/shared/export"
	"leadvault/shared/incident"
	"leadvault/shared/jobs"
	"leadvault/shared/layout"
	"leadvault/shared/store"
	"leadvault/shared/vault"
)

type requestFixture struct {
	st                   *store.Store
	tk                   *vault.TenantKey
	runner               *jobs.Runner
	exports, sent, table string
	jens, karen          []domain.Lead
}

func setupRequests(t *testing.T, tenant string, step int) requestFixture {
	t.Helper()
	ctx := context.Background()
	table := testenv.Table(t)
	st := store.New(testenv.Env.AWS.DynamoDB(), table)
	v := testenv.Vault()
	f := requestFixture{st: st, table: table, tk: testenv.Tenant(t, st, v, tenant), exports: testenv.Bucket(t), sent: testenv.Bucket(t)}
	form := testenv.Form(tenant, "contact")
	form.RetentionDays = 180
	form.Consent = &domain.Consent{Field: "consent", Text: "I må kontakte mig", Version: "v1"}
	if err := st.Scoped(tenant).PutForm(ctx, form); err != nil {
		t.Fatal(err)
	}
	base := time.Now().UTC().Add(-time.Hour)
	mk := func(id string, src domain.Source, p domain.Personal, i int) domain.Lead {
		at := base.Add(time.Duration(i) * time.Minute)
		return domain.Lead{TenantID: tenant, ID: id, FormID: "contact", CampaignID: "spring", Source: src, CreatedAt: at,
			ExpiresAt: at.AddDate(0, 6, 0), Personal: p, Consent: &domain.ConsentRecord{Given: true, Version: "v1", GivenAt: at, Source: "form:contact"}}
	}
	f.jens = []domain.Lead{
		mk("jens-1", domain.SourceForm, domain.Personal{Name: "Jens Ærø", Email: "jens@example.dk", Message: "Ring, tak"}, 0),
		mk("jens-2", domain.SourceForm, domain.Personal{Name: "Jens", Phone: "+4520123456"}, 1),
		mk("jens-3", domain.SourceEmail, domain.Personal{Email: "jens@example.dk", Message: "Mail om tilbud"}, 2),
	}
	f.karen = []domain.Lead{mk("karen-1", domain.SourceForm, domain.Personal{Name: "Karen", Email: "karen@example.dk"}, 0)}
	for _, l := range append(append([]domain.Lead{}, f.jens...), f.karen...) {
		if _, _, err := st.Scoped(tenant).PutLead(ctx, f.tk, l, store.Idempotency{}); err != nil {
			t.Fatal(err)
		}
	}
	sentAt := base.Add(time.Minute)
	if err := st.Scoped(tenant).PutNotification(ctx, domain.Notification{TenantID: tenant, LeadID: "jens-1", MessageID: "m-1",
		Recipients: []string{"sales@acme.dk"}, SentAt: sentAt, ExpiresAt: f.jens[0].ExpiresAt}); err != nil {
		t.Fatal(err)
	}
	if _, err := testenv.Env.AWS.S3().PutObject(ctx, &s3.PutObjectInput{Bucket: &f.sent,
		Key: aws.String(layout.SentCopyKey(tenant, "jens-1", sentAt)), Body: strings.NewReader("From: x\r\n\r\nJens")}); err != nil {
		t.Fatal(err)
	}
	f.runner = jobs.New(st, slog.New(slog.NewJSONHandler(io.Discard, nil)), step).WithSubjectRequests(v, testenv.Env.AWS.S3(), audit.New(testenv.Env.AWS.DynamoDB(), table, 0),
		jobs.RequestConfig{ExportBucket: f.exports, SentBucket: f.sent, KeyID: "alias/leadvault-local", Processor: jobs.Processor,
			StorageLocation: jobs.StorageLocation("eu-north-1")})
	return f
}

func (f requestFixture) request(t *testing.T, kind domain.RequestKind, email, phone string) domain.SubjectRequest {
	t.Helper()
	now := time.Now().UTC()
	r := domain.SubjectRequest{TenantID: f.tk.Tenant(), ID: "req-" + string(kind) + "-" + now.Format("150405.000000000"), Kind: kind,
		State: domain.StateReceived, Subject: store.IndexSubject(f.tk, email, phone),
		Instruction: domain.Instruction{Reference: "T-1", ReceivedAt: now}, DueAt: domain.DueAfter(now), CreatedAt: now, UpdatedAt: now}
	r, _, err := f.st.Scoped(f.tk.Tenant()).CreateSubjectRequest(context.Background(), f.tk, r, store.Idempotency{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (f requestFixture) object(t *testing.T, bucket, key string) ([]byte, error) {
	t.Helper()
	out, err := testenv.Env.AWS.S3().GetObject(context.Background(), &s3.GetObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	return io.ReadAll(out.Body)
}

func TestRunRequest_exportThenErase(t *testing.T) {
	ctx := context.Background()
	f := setupRequests(t, "acme", 2)
	access := f.request(t, domain.KindExport, "jens@example.dk", "+4520123456")
	done, err := f.runner.RunRequestToEnd(ctx, "acme", access.ID)
	if err != nil || done.State != domain.StateDone {
		t.Fatalf("export = %+v, %v; want done", done, err)
	}
	if done.Found.Leads != 3 || done.Found.BySource["form"] != 2 || done.Found.BySource["email"] != 1 ||
		done.Found.Campaigns["spring"] != 3 || done.Found.Notified != 1 {
		t.Errorf("export found %+v; want 3 leads (2 form, 1 mail), 1 notified", done.Found)
	}
	js, err := f.object(t, f.exports, layout.ExportKey("acme", access.ID, "json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc export.Document
	if err := json.Unmarshal(js, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Leads) != 3 || doc.Leads[0].Fields["name"] != "Jens Ærø" || doc.Leads[0].Consent.Text != "I må kontakte mig" ||
		len(doc.Leads[0].Recipients) != 1 || doc.Processing.Purposes[0].RetentionDays != 180 {
		t.Errorf("JSON archive = %s", js)
	}
	for _, l := range doc.Leads {
		if strings.HasPrefix(l.ID, "karen") {
			t.Errorf("the archive holds another subject's lead %s", l.ID)
		}
	}
	table, err := f.object(t, f.exports, layout.ExportKey("acme", access.ID, "csv"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(table, []byte("\ufeff")))).ReadAll()
	if err != nil || len(rows) != 4 || !bytes.HasPrefix(table, []byte("\ufeff")) {
		t.Errorf("CSV archive = %d rows, %v; want a BOM, a header and 3 rows", len(rows), err)
	}

	erase := f.request(t, domain.KindErasure, "jens@example.dk", "+4520123456")
	done, err = f.runner.RunRequestToEnd(ctx, "acme", erase.ID)
	if err != nil || done.State != domain.StateDone || done.Erased != 3 || done.Found.Leads != 3 || !done.Subject.Empty() {
		t.Fatalf("erasure = %+v, %v; want done, 3 erased in steps of 2, the subject's index dropped", done, err)
	}
	if ids, err := f.st.Scoped("acme").LeadsOfSubject(ctx, erase.Subject); err != nil || len(ids) != 0 {
		t.Errorf("after erasure LeadsOfSubject = %v, %v; want none", ids, err)
	}
	if _, err := f.st.Scoped("acme").Lead(ctx, f.tk, "karen-1"); err != nil {
		t.Errorf("Karen's lead = %v; want kept", err)
	}
	var copies []string
	for _, k := range layout.SentCopyKeys("acme", "jens-1", f.jens[0].CreatedAt.Add(time.Minute)) {
		if _, err := f.object(t, f.sent, k); err == nil {
			copies = append(copies, k)
		}
	}
	if len(copies) != 0 {
		t.Errorf("sent-mail copies left after erasure: %v", copies)
	}
	recs, _, err := audit.New(testenv.Env.AWS.DynamoDB(), f.table, 0).List(ctx, "acme", audit.Query{Action: jobs.ActionSubjectRequestDone})
	if err != nil || len(recs) != 2 || recs[0].ActorID != jobs.ActorJobs || !slices.Contains(recs[0].Targets, "erased:3") {
		t.Errorf("subject-request.done records = %+v, %v; want the export's and the erasure's, without personal data", recs, err)
	}
	for _, rec := range recs {
		for _, target := range rec.Targets {
			if strings.Contains(target, "@") || strings.Contains(target, "+45") {
				t.Errorf("audit target %q holds personal data", target)
			}
		}
	}
	ledger, err := f.st.ErasureLedger(ctx)
	if err != nil || len(ledger) != 2 || ledger[0].Request != erase.ID {
		t.Errorf("ErasureLedger() = %+v, %v; want the e-mail and phone of request %s", ledger, err, erase.ID)
	}

	again := f.request(t, domain.KindAccess, "jens@example.dk", "")
	done, err = f.runner.RunRequestToEnd(ctx, "acme", again.ID)
	if err != nil || done.State != domain.StateDone || done.Found.Leads != 0 {
		t.Errorf("access after erasure = %+v, %v; want done with nothing found", done, err)
	}
}

// TestRunRequest_nobody: a request for someone the tenant holds nothing of finishes done with zero found,
// in the same shape as any other.
func TestRunRequest_nobody(t *testing.T) {
	ctx := context.Background()
	f := setupRequests(t, "acme", 0)
	for _, kind := range []domain.RequestKind{domain.KindAccess, domain.KindErasure} {
		r := f.request(t, kind, "nobody@example.dk", "")
		done, err := f.runner.RunRequestToEnd(ctx, "acme", r.ID)
		if err != nil || done.State != domain.StateDone || done.Found.Leads != 0 || done.Erased != 0 {
			t.Errorf("%s of nobody = %+v, %v; want done, nothing found", kind, done, err)
		}
	}
}

// TestHandle_subjectRequestFixture runs the request events/jobs/subject-request.json names from its stream
// record; a second delivery of the record, or the saved progress's own record, does nothing more.
func TestHandle_subjectRequestFixture(t *testing.T) {
	ctx := context.Background()
	f := setupRequests(t, "demo", 0)
	now := time.Now().UTC()
	r := domain.SubjectRequest{TenantID: "demo", ID: "0193a5b2-7c4e-7f00-8a1b-2c3d4e5f6a7b", Kind: domain.KindAccess,
		State: domain.StateReceived, Subject: store.IndexSubject(f.tk, "karen@example.dk", ""), DueAt: domain.DueAfter(now),
		Instruction: domain.Instruction{Reference: "T-2", ReceivedAt: now}, CreatedAt: now, UpdatedAt: now}
	if _, _, err := f.st.Scoped("demo").CreateSubjectRequest(ctx, f.tk, r, store.Idempotency{}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := f.runner.Handle(ctx, fixture(t, "subject-request.json")); err != nil {
			t.Fatalf("Handle(subject-request.json) = %v", err)
		}
	}
	got, err := f.st.Scoped("demo").SubjectRequest(ctx, nil, r.ID)
	if err != nil || got.State != domain.StateDone || got.Found.Leads != 1 {
		t.Errorf("after the stream record = %+v, %v; want done, Karen's 1 lead found", got, err)
	}
	if pending, err := f.st.PendingSubjectRequests(ctx); err != nil || len(pending) != 0 {
		t.Errorf("PendingSubjectRequests() = %v, %v; want none", pending, err)
	}
}

// TestRunRequest_leaseAndSchedule: a runner that died mid-step leaves its lease; the schedule carries the
// request on only after the lease lapses.
func TestRunRequest_leaseAndSchedule(t *testing.T) {
	ctx := context.Background()
	f := setupRequests(t, "acme", 0)
	r := f.request(t, domain.KindAccess, "karen@example.dk", "")
	if _, claimed, err := f.st.Scoped("acme").ClaimSubjectRequest(ctx, r.ID); err != nil || !claimed {
		t.Fatalf("claim = %v, %v", claimed, err) // the runner that then died
	}
	if n, err := f.runner.Resume(ctx); err != nil || n != 1 {
		t.Fatalf("Resume() = %d, %v; want the request seen", n, err)
	}
	if got, _ := f.st.Scoped("acme").SubjectRequest(ctx, nil, r.ID); got.State != domain.StateRunning {
		t.Errorf("state under a live lease = %s; want running, untouched", got.State)
	}
	later := jobs.New(f.st.WithClock(func() time.Time { return time.Now().Add(store.RequestLease + time.Minute) }),
		slog.New(slog.NewJSONHandler(io.Discard, nil)), 0).WithSubjectRequests(testenv.Vault(), testenv.Env.AWS.S3(), audit.New(testenv.Env.AWS.DynamoDB(), f.table, 0),
		jobs.RequestConfig{ExportBucket: f.exports, SentBucket: f.sent, KeyID: "alias/leadvault-local"})
	if _, err := later.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.st.Scoped("acme").SubjectRequest(ctx, nil, r.ID); got.State != domain.StateDone || got.Found.Leads != 1 {
		t.Errorf("after the lease lapsed = %+v; want done", got)
	}
	if err := f.runner.RunRequest(ctx, "acme", "no-such-request"); err != nil {
		t.Errorf("RunRequest(unknown) = %v; want nil", err)
	}
	if err := jobs.New(f.st, slog.New(slog.NewJSONHandler(io.Discard, nil)), 0).RunRequest(ctx, "acme", r.ID); err == nil {
		t.Errorf("RunRequest without subject requests = %v; want an error", err)
	}
}

// TestRemindDeadlines_fixture: the daily schedule's event (events/jobs/deadline-reminders.json) mails each
// tenant's admins once a day about its open requests due within 7 days or overdue, none of the others.
func TestRemindDeadlines_fixture(t *testing.T) {
	ctx := context.Background()
	f := setupRequests(t, "acme", 0)
	if err := f.st.Scoped("acme").PutMember(ctx, domain.Member{UserID: "u-admin", Email: "admin@acme.example", Role: "admin", AddedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := f.st.Scoped("acme").PutMember(ctx, domain.Member{UserID: "u-member", Email: "member@acme.example", Role: "member", AddedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	for _, c := range []struct {
		id       string
		received time.Time
		state    domain.RequestState
	}{
		{"due-soon", now.AddDate(0, -1, 3), domain.StateAwaiting},
		{"overdue", now.AddDate(0, -1, -2), domain.StateReceived},
		{"due-later", now.AddDate(0, 0, -1), domain.StateAwaiting},
	} {
		r := domain.SubjectRequest{TenantID: "acme", ID: c.id, Kind: domain.KindAccess, State: c.state,
			Subject: store.IndexSubject(f.tk, "x@example.dk", ""), Instruction: domain.Instruction{Reference: "r", ReceivedAt: c.received},
			DueAt: domain.DueAfter(c.received), CreatedAt: now, UpdatedAt: now}
		if _, _, err := f.st.Scoped("acme").CreateSubjectRequest(ctx, f.tk, r, store.Idempotency{}); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if err := f.runner.Handle(ctx, fixture(t, "deadline-reminders.json")); err != nil {
			t.Fatalf("Handle(deadline-reminders.json) = %v", err)
		}
	}
	mails, err := f.st.Scoped("acme").MailsAbout(ctx, "reminder:"+now.Format("2006-01-02"))
	if err != nil || len(mails) != 1 {
		t.Fatalf("reminders = %+v, %v; want one today", mails, err)
	}
	m := mails[0]
	if !slices.Equal(m.To, []string{"admin@acme.example"}) || !strings.Contains(m.Text, "due-soon") || !strings.Contains(m.Text, "OVERDUE") ||
		strings.Contains(m.Text, "due-later") || !strings.Contains(m.Subject, "1 overdue") {
		t.Errorf("reminder = %+v; want the admin told of due-soon and the overdue one, not due-later", m)
	}
}

// TestHandle_retentionSweepFixture: the retention schedule's event (events/jobs/retention-sweep.json)
// deletes what expired and counts it in the tenant's proof of deletion, beside the erasures counted by
// the erasure requests and the campaign deletions by their jobs.
func TestHandle_retentionSweepFixture(t *testing.T) {
	ctx := context.Background()
	f := setupRequests(t, "acme", 0)
	now := time.Now().UTC()
	past := f.st.WithClock(func() time.Time { return now.Add(-2 * time.Hour) })
	for i := range 3 {
		l := domain.Lead{TenantID: "acme", ID: "expired-" + string(rune('a'+i)), FormID: "contact", CampaignID: "spring", Source: domain.SourceForm,
			CreatedAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-time.Hour), Personal: domain.Personal{Email: "gone@example.dk"}}
		if _, _, err := past.Scoped("acme").PutLead(ctx, f.tk, l, store.Idempotency{Key: l.ID, RequestHash: "h", TTL: time.Hour}); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.runner.Handle(ctx, fixture(t, "retention-sweep.json")); err != nil {
		t.Fatalf("Handle(retention-sweep.json) = %v", err)
	}
	// The index is eventually consistent: the next run (the schedule runs again) takes what the first missed.
	if err := f.runner.Handle(ctx, fixture(t, "retention-sweep.json")); err != nil {
		t.Fatalf("Handle(retention-sweep.json) = %v", err)
	}
	erase := f.request(t, domain.KindErasure, "jens@example.dk", "+4520123456")
	if _, err := f.runner.RunRequestToEnd(ctx, "acme", erase.ID); err != nil {
		t.Fatal(err)
	}
	days, err := f.st.Scoped("acme").DeletionReport(ctx, now, now)
	if err != nil || len(days) != 1 || days[0].ByReason[store.ReasonRetention] != 3 || days[0].ByReason[store.ReasonErasure] != 3 {
		t.Errorf("proof of deletion = %+v, %v; want 3 by retention, 3 by erasure today", days, err)
	}
}

// TestHandle_incidentDeadlinesFixture: the deadline schedule's event (events/jobs/incident-deadlines.json)
// finds an open incident's detailed notice due within two hours, and later late.
func TestHandle_incidentDeadlinesFixture(t *testing.T) {
	ctx := context.Background()
	f := setupRequests(t, "acme", 0)
	trail := audit.New(testenv.Env.AWS.DynamoDB(), f.table, 0)
	discovered := time.Now().UTC().Add(-35 * time.Hour)
	if _, _, err := incident.New(f.st, trail, "operator:test").Open(ctx, incident.Opening{ID: "inc-1", Nature: "test",
		Discovered: discovered, Tenants: []string{"acme"}}, discovered); err != nil {
		t.Fatal(err)
	}
	if err := f.runner.Handle(ctx, fixture(t, "incident-deadlines.json")); err != nil {
		t.Fatalf("Handle(incident-deadlines.json) = %v", err)
	}
	due, err := f.runner.WatchIncidents(ctx, time.Now().UTC())
	if err != nil || len(due) != 1 || due[0].Kind != domain.NoticeDetailed || due[0].Late {
		t.Errorf("WatchIncidents() = %+v, %v; want the detailed notice due soon", due, err)
	}
	if due, _ := f.runner.WatchIncidents(ctx, time.Now().UTC().Add(2*time.Hour)); len(due) != 1 || !due[0].Late {
		t.Errorf("WatchIncidents(2 h later) = %+v; want it late", due)
	}
}
