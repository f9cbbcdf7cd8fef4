package controlapi_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"leadvault/shared/audit"
	"leadvault/shared/domain"
	"leadvault/shared/relay"
	"leadvault/shared/store"
)

// run creates a subject request as the acme admin and has the jobs function carry it out.
func (w *world) run(body map[string]any) map[string]any {
	w.t.Helper()
	admin := w.token("acme-admin")
	created := w.must(202, admin, "POST", "/v1/subject-requests", body).json(w.t)
	if _, err := w.jobs.RunRequestToEnd(context.Background(), "acme", created["id"].(string)); err != nil {
		w.t.Fatal(err)
	}
	return w.must(200, admin, "GET", "/v1/subject-requests/"+created["id"].(string), nil).json(w.t)
}

// notify records that a lead was sent to recipients, as the notifier does.
func (w *world) notify(l domain.Lead, to ...string) {
	w.t.Helper()
	if err := w.st.Scoped(l.TenantID).PutNotification(context.Background(), domain.Notification{TenantID: l.TenantID, LeadID: l.ID,
		MessageID: "m-" + l.ID, Recipients: to, SentAt: time.Now().UTC(), ExpiresAt: l.ExpiresAt}); err != nil {
		w.t.Fatal(err)
	}
}

// TestSubjectRequests_restrictObjectLift: restriction keeps the subject's leads but hides them from members
// (admins see them marked), tells the recipients of a lead already sent (Art. 19), and makes new leads of
// the subject arrive restricted; an objection does the same with a flag; lifting ends both.
func TestSubjectRequests_restrictObjectLift(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.campaign("acme", "spring")
	sent := w.lead("acme", "spring", "jens@example.dk")
	other := w.lead("acme", "spring", "jens@example.dk")
	w.notify(sent, "sales@acme.example")
	admin, member := w.token("acme-admin"), w.token("acme-member")

	done := w.run(exportBody("restriction", "jens@example.dk", ""))
	if done["state"] != "done" || done["found"].(map[string]any)["leads"] != 2.0 {
		t.Fatalf("restriction = %v", done)
	}
	if got := w.must(200, admin, "GET", "/v1/leads/"+sent.ID, nil).json(t); got["restricted"] != true {
		t.Errorf("admin's view of a restricted lead = %v; want it marked restricted", got)
	}
	w.must(404, member, "GET", "/v1/leads/"+sent.ID, nil)
	w.must(404, member, "PATCH", "/v1/leads/"+other.ID, map[string]any{"name": "x"})
	if list := w.must(200, member, "GET", "/v1/campaigns/spring/leads", nil); strings.Contains(string(list.body), sent.ID) {
		t.Errorf("member's list shows a restricted lead: %s", list.body)
	}
	if list := w.must(200, admin, "GET", "/v1/campaigns/spring/leads", nil); !strings.Contains(string(list.body), sent.ID) {
		t.Errorf("admin's list misses a restricted lead: %s", list.body)
	}
	notices, err := w.st.Scoped("acme").MailsAbout(ctx, "request:"+done["id"].(string))
	if err != nil || len(notices) != 1 || !slices.Equal(notices[0].To, []string{"sales@acme.example"}) ||
		!strings.Contains(notices[0].Text, sent.ID) || strings.Contains(notices[0].Text, "jens") || notices[0].Kind != domain.MailRecipientNotice {
		t.Errorf("Art. 19 notices = %+v, %v; want one to the lead's recipients naming the lead and nothing of the person", notices, err)
	}
	later := w.lead("acme", "spring", "jens@example.dk")
	if got := w.must(200, admin, "GET", "/v1/leads/"+later.ID, nil).json(t); got["restricted"] != true {
		t.Errorf("a new lead of a restricted subject = %v; want it stored restricted", got)
	}

	w.run(exportBody("objection", "jens@example.dk", ""))
	flagged := w.lead("acme", "spring", "jens@example.dk")
	if got := w.must(200, admin, "GET", "/v1/leads/"+flagged.ID, nil).json(t); got["restricted"] != true ||
		!slices.Contains(toStrings(got["flags"]), domain.FlagObjection) {
		t.Errorf("a new lead after an objection = %v; want restricted and flagged", got)
	}

	w.run(exportBody("lift-restriction", "jens@example.dk", ""))
	for _, id := range []string{sent.ID, other.ID, later.ID, flagged.ID} {
		if got := w.must(200, member, "GET", "/v1/leads/"+id, nil).json(t); got["restricted"] == true ||
			slices.Contains(toStrings(got["flags"]), domain.FlagObjection) {
			t.Errorf("lead %s after lifting = %v; want usable again", id, got)
		}
	}
	if got := w.lead("acme", "spring", "jens@example.dk"); w.must(200, member, "GET", "/v1/leads/"+got.ID, nil).json(t)["restricted"] == true {
		t.Errorf("a new lead after lifting is restricted")
	}
}

func toStrings(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// TestSubjectRequests_rectification sets new values in every lead of the subject, keeps no old ones, tells
// the recipients of a lead already sent, and drops the new values from the request once done.
func TestSubjectRequests_rectification(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.campaign("acme", "spring")
	a, b := w.lead("acme", "spring", "jens@example.dk"), w.lead("acme", "spring", "jens@example.dk")
	w.notify(a, "sales@acme.example", "boss@acme.example")
	body := exportBody("rectification", "jens@example.dk", "")
	body["changes"] = map[string]any{"name": "Jens Hansen-Ørsted", "phone": "+45 31 23 45 67"}
	done := w.run(body)
	if done["state"] != "done" {
		t.Fatalf("rectification = %v", done)
	}
	admin := w.token("acme-admin")
	for _, id := range []string{a.ID, b.ID} {
		p := w.must(200, admin, "GET", "/v1/leads/"+id, nil).json(t)["personal"].(map[string]any)
		if p["name"] != "Jens Hansen-Ørsted" || p["phone"] != "+4531234567" || p["email"] != "jens@example.dk" {
			t.Errorf("lead %s after rectification = %v; want the new name and phone, the e-mail kept", id, p)
		}
	}
	notices, err := w.st.Scoped("acme").MailsAbout(ctx, "request:"+done["id"].(string))
	if err != nil || len(notices) != 1 || len(notices[0].To) != 2 || !strings.Contains(notices[0].Subject, "rectified") {
		t.Errorf("Art. 19 notices = %+v, %v; want one to both recipients of the lead sent", notices, err)
	}
	full, err := w.st.Scoped("acme").SubjectRequest(ctx, w.keys["acme"], done["id"].(string))
	if err != nil || full.Changes != nil {
		t.Errorf("request after done = %+v, %v; want its new values dropped", full.Changes, err)
	}
}

// TestSubjectRequests_relayed: a request that reached the processor awaits the controller, whose admins
// are mailed; an admin confirms it (then it runs) or declines it with a reason; members may not decide.
func TestSubjectRequests_relayed(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.campaign("acme", "spring")
	w.lead("acme", "spring", "jens@example.dk")
	relayOne := func(kind domain.RequestKind) domain.SubjectRequest {
		t.Helper()
		r, err := relay.Relay(ctx, w.st, w.vault, w.audit, relay.Request{Tenant: "acme", Kind: kind, Received: time.Now().Add(-time.Hour),
			Channel: "letter", Email: "jens@example.dk", Operator: "operator:test"}, "rel-"+string(kind), time.Now().UTC())
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r := relayOne(domain.KindAccess)
	admin, member := w.token("acme-admin"), w.token("acme-member")
	got := w.must(200, admin, "GET", "/v1/subject-requests/"+r.ID, nil).json(t)
	if got["state"] != "awaiting-controller" || got["channel"] != "letter" {
		t.Errorf("relayed request = %v; want awaiting-controller by letter", got)
	}
	mails, err := w.st.Scoped("acme").MailsAbout(ctx, "request:"+r.ID)
	if err != nil || len(mails) != 1 || mails[0].Kind != domain.MailRelayedRequest || !slices.Contains(mails[0].To, "admin@acme.example") ||
		slices.Contains(mails[0].To, "member@acme.example") || strings.Contains(mails[0].Text, "jens") {
		t.Errorf("relay mail = %+v, %v; want one to the admins, without personal data", mails, err)
	}
	if rec := w.trail("acme"); !slices.ContainsFunc(rec, func(x audit.Record) bool { return x.Action == relay.ActionRelay }) {
		t.Errorf("no %s record in the trail", relay.ActionRelay)
	}
	// The runner leaves an awaiting request alone.
	if err := w.jobs.RunRequest(ctx, "acme", r.ID); err != nil {
		t.Fatal(err)
	}
	w.must(403, member, "POST", "/v1/subject-requests/"+r.ID+"/confirm", nil)
	if got := w.must(200, admin, "POST", "/v1/subject-requests/"+r.ID+"/confirm", nil).json(t); got["state"] != "received" {
		t.Errorf("confirm = %v; want received", got)
	}
	w.must(409, admin, "POST", "/v1/subject-requests/"+r.ID+"/confirm", nil)
	done, err := w.jobs.RunRequestToEnd(ctx, "acme", r.ID)
	if err != nil || done.State != domain.StateDone || done.Found.Leads != 1 {
		t.Errorf("confirmed request run = %+v, %v; want done with 1 lead found", done, err)
	}

	d := relayOne(domain.KindErasure)
	w.must(422, admin, "POST", "/v1/subject-requests/"+d.ID+"/decline", map[string]any{"reason": " "})
	got = w.must(200, admin, "POST", "/v1/subject-requests/"+d.ID+"/decline", map[string]any{"reason": "Identity not verified"}).json(t)
	if got["state"] != "declined" || got["declineReason"] != "Identity not verified" {
		t.Errorf("decline = %v", got)
	}
	w.must(409, admin, "POST", "/v1/subject-requests/"+d.ID+"/decline", map[string]any{"reason": "again"})
	w.must(404, admin, "POST", "/v1/subject-requests/no-such/confirm", nil)
	if ids, _ := w.st.Scoped("acme").LeadsOfSubject(ctx, store.IndexSubject(w.keys["acme"], "jens@example.dk", "")); len(ids) != 1 {
		t.Errorf("a declined erasure erased: %d leads left; want 1", len(ids))
	}
	if _, err := relay.Relay(ctx, w.st, w.vault, w.audit, relay.Request{Tenant: "acme", Kind: "forget", Channel: "", Email: "x@"}, "bad", time.Now()); err == nil ||
		!strings.Contains(err.Error(), "kind") || !strings.Contains(err.Error(), "channel") || !strings.Contains(err.Error(), "subject.email") {
		t.Errorf("Relay(bad request) = %v; want every problem named", err)
	}
}

// TestRetentionReport_adminsOnly: the proof of deletion per day and reason, for admins; bad ranges are 400.
func TestRetentionReport_adminsOnly(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.campaign("acme", "spring")
	l := w.lead("acme", "spring", "jens@example.dk")
	admin := w.token("acme-admin")
	w.must(204, admin, "DELETE", "/v1/leads/"+l.ID, nil)
	if err := w.st.Scoped("acme").CountDeletions(ctx, store.ReasonRetention, 4, time.Now()); err != nil {
		t.Fatal(err)
	}
	got := w.must(200, admin, "GET", "/v1/retention/report", nil).json(t)
	totals := got["totals"].(map[string]any)
	if totals["lead"] != 1.0 || totals["retention"] != 4.0 || got["total"] != 5.0 || len(got["days"].([]any)) != 1 {
		t.Errorf("report = %v; want today's 1 lead deletion and 4 by retention", got)
	}
	if rec := w.last("acme"); rec.Action != "retention.report" {
		t.Errorf("audit = %+v; want retention.report", rec)
	}
	w.must(403, w.token("acme-member"), "GET", "/v1/retention/report", nil)
	for _, q := range []string{"from=yesterday", "from=2026-12-05&to=2026-12-01", "from=2020-01-01&to=2026-12-01"} {
		w.must(400, admin, "GET", "/v1/retention/report?"+q, nil)
	}
	if got := w.must(200, admin, "GET", "/v1/retention/report?from=2020-01-01&to=2020-01-31", nil).json(t); got["total"] != 0.0 {
		t.Errorf("empty range = %v; want zero", got)
	}
}

// TestUpdateForm_retentionAppliesToStoredLeads: an admin shortens a form's retention; the jobs function's
// schedule applies it to the leads already stored and records that in the trail.
func TestUpdateForm_retentionAppliesToStoredLeads(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.campaign("acme", "spring")
	f := w.form("acme", "contact", "spring")
	l := w.lead("acme", "spring", "jens@example.dk")
	admin := w.token("acme-admin")
	f.RetentionDays = 30
	w.must(200, admin, "PUT", "/v1/forms/contact", f)
	if p, err := w.st.PendingRetentionChanges(ctx); err != nil || len(p) != 1 || p[0].Form != "contact" {
		t.Fatalf("pending retention changes = %v, %v; want the form's", p, err)
	}
	if _, err := w.jobs.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	got := w.must(200, admin, "GET", "/v1/leads/"+l.ID, nil).json(t)
	if want := l.CreatedAt.Add(30 * 24 * time.Hour).UTC().Truncate(time.Second).Format(time.RFC3339); got["expiresAt"] != want {
		t.Errorf("lead expiresAt = %v; want %s (30 days after it came)", got["expiresAt"], want)
	}
	if !slices.ContainsFunc(w.trail("acme"), func(r audit.Record) bool { return r.Action == "retention.applied" }) {
		t.Errorf("no retention.applied record in the trail")
	}
	// An update that keeps the retention starts no job.
	f.Recipients = []string{"other@acme.example"}
	w.must(200, admin, "PUT", "/v1/forms/contact", f)
	if p, _ := w.st.PendingRetentionChanges(ctx); len(p) != 0 {
		t.Errorf("pending after an update without a retention change = %v", p)
	}
}
