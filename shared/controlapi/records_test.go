package controlapi_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"leadvault/shared/domain"
	"leadvault/shared/incident"
	"leadvault/shared/posture"
	"leadvault/shared/store"
	"leadvault/shared/subproc"
)

// TestProcessingRecord_followsTheForms: the record of processing is built from the tenant's live forms,
// field by field; changing a form (a new field mapped, a recipient, a shorter retention) changes the
// record; Markdown by Accept, other types 406; members may not read it.
func TestProcessingRecord_followsTheForms(t *testing.T) {
	w := newWorld(t)
	w.campaign("acme", "spring")
	f := w.form("acme", "contact", "spring")
	admin := w.token("acme-admin")
	rec := w.must(200, admin, "GET", "/v1/records/processing", nil).json(t)
	acts := rec["processingActivities"].([]any)
	if len(acts) != 1 {
		t.Fatalf("activities = %v; want the one form", acts)
	}
	a := acts[0].(map[string]any)
	cats := strings.Join(toStrings(a["categoriesOfPersonalData"]), "; ")
	if a["form"] != "contact" || a["campaign"] != "spring" || a["retentionDays"] != float64(domain.DefaultRetentionDays) ||
		!strings.Contains(cats, "e-mail address") || strings.Contains(cats, "custom field city") {
		t.Errorf("activity = %v", a)
	}
	if tr := rec["transfers"].(map[string]any); tr["outsideEU"] != false || tr["inboundMailRegion"] != posture.DefaultInboundRegion {
		t.Errorf("transfers = %v; want none outside the EU, the inbound region named", tr)
	}
	if p := rec["processor"].(map[string]any); p["name"] != posture.Processor.Name || p["contact"] == "" {
		t.Errorf("processor = %v", p)
	}
	if n := len(rec["securityMeasures"].([]any)); n != len(posture.Measures()) {
		t.Errorf("securityMeasures has %d entries; want the measures document's %d", n, len(posture.Measures()))
	}

	// A changed form changes the record.
	f.Fields["city"] = domain.CustomPrefix + "city"
	f.Recipients = []string{"leads@acme.example"}
	f.RetentionDays = 90
	w.must(200, admin, "PUT", "/v1/forms/contact", f)
	a = w.must(200, admin, "GET", "/v1/records/processing", nil).json(t)["processingActivities"].([]any)[0].(map[string]any)
	if !strings.Contains(strings.Join(toStrings(a["categoriesOfPersonalData"]), ";"), "custom field city") || a["retentionDays"] != 90.0 ||
		strings.Join(toStrings(a["recipients"]), ",") != "leads@acme.example" {
		t.Errorf("after the change the activity = %v; want the new field, 90 days and the recipient", a)
	}

	md := w.must(200, admin, "GET", "/v1/records/processing", nil, "Accept", "text/markdown")
	if ct := md.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/markdown") || !strings.Contains(string(md.body), "| contact | spring |") {
		t.Errorf("Markdown record = %s %s", ct, md.body)
	}
	w.must(406, admin, "GET", "/v1/records/processing", nil, "Accept", "text/csv")
	w.must(403, w.token("acme-member"), "GET", "/v1/records/processing", nil)
	if rec := w.last("acme"); rec.Action != "processing-record.read" && rec.Action != "access.denied" {
		t.Errorf("audit = %+v", rec)
	}
}

// TestMeasuresAndSubprocessors_served: any user of the tenant reads the measures (JSON or Markdown, the
// same text as docs/measures.md) and the register of sub-processors.
func TestMeasuresAndSubprocessors_served(t *testing.T) {
	w := newWorld(t)
	member := w.token("acme-member")
	m := w.must(200, member, "GET", "/v1/measures", nil).json(t)
	if n := len(m["measures"].([]any)); n != len(posture.Measures()) {
		t.Errorf("measures = %d entries; want %d", n, len(posture.Measures()))
	}
	if md := w.must(200, member, "GET", "/v1/measures", nil, "Accept", "text/markdown"); string(md.body) != posture.MeasuresMarkdown() {
		t.Errorf("Markdown measures differ from posture.MeasuresMarkdown()")
	}
	sp := w.must(200, member, "GET", "/v1/subprocessors", nil).json(t)["subprocessors"].([]any)
	if len(sp) != len(posture.Subprocessors()) || !strings.Contains(sp[0].(map[string]any)["name"].(string), "Amazon Web Services") {
		t.Errorf("subprocessors = %v", sp)
	}
}

// TestSubprocessorChange_noticeAndObjection: a change less than a month ahead is refused; a change a month
// ahead is mailed to every tenant's admins and recorded in their trails; an admin's objection on day 6 is
// accepted, on day 8 refused with the deadline; the operators see the objections.
func TestSubprocessorChange_noticeAndObjection(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	change := domain.SubprocessorChange{ID: "chg-1", Kind: "add", Name: "Mailer GmbH", Address: "Berlin", Service: "e-mail delivery",
		Data: "notification e-mails", Location: "eu-central-1", ProposedAt: now, EffectiveAt: now.AddDate(0, 0, 20)}
	if _, _, err := subproc.Propose(ctx, w.st, w.audit, change, "operator:test"); !errors.Is(err, store.ErrTooSoon) {
		t.Fatalf("Propose(20 days ahead) = %v; want ErrTooSoon", err)
	}
	outside := change
	outside.ID, outside.EffectiveAt, outside.Location = "chg-us", now.AddDate(0, 2, 0), "us-east-1"
	if _, _, err := subproc.Propose(ctx, w.st, w.audit, outside, "operator:test"); !errors.Is(err, store.ErrOutsideEU) {
		t.Fatalf("Propose(us-east-1) = %v; want ErrOutsideEU", err)
	}
	// S6: a transfer outside the EU needs every controller's documented instruction.
	w.must(422, w.token("acme-admin"), "POST", "/v1/transfer-instructions", map[string]any{"location": "eu-west-1", "reference": "x"})
	w.must(403, w.token("acme-member"), "POST", "/v1/transfer-instructions", map[string]any{"location": "us-east-1", "reference": "SCC 2026-04"})
	w.must(201, w.token("acme-admin"), "POST", "/v1/transfer-instructions", map[string]any{"location": "us-east-1", "reference": "SCC 2026-04"})
	if _, _, err := subproc.Propose(ctx, w.st, w.audit, outside, "operator:test"); !errors.Is(err, store.ErrOutsideEU) || !strings.Contains(err.Error(), "bravo") {
		t.Fatalf("Propose(us-east-1, acme instructed) = %v; want refused, naming bravo", err)
	}
	w.must(201, w.token("bravo-admin"), "POST", "/v1/transfer-instructions", map[string]any{"location": "us-east-1", "reference": "DPA annex 3"})
	if items := w.must(200, w.token("bravo-admin"), "GET", "/v1/transfer-instructions", nil).items(t); len(items) != 1 || items[0]["reference"] != "DPA annex 3" {
		t.Errorf("bravo's instructions = %v", items)
	}
	if _, _, err := subproc.Propose(ctx, w.st, w.audit, outside, "operator:test"); err != nil {
		t.Fatalf("Propose(us-east-1, every tenant instructed) = %v; want accepted", err)
	}
	change.EffectiveAt = now.AddDate(0, 1, 1)
	c, told, err := subproc.Propose(ctx, w.st, w.audit, change, "operator:test")
	if err != nil || told != 2 || !c.ObjectionDeadline.Equal(now.Add(7*24*time.Hour)) {
		t.Fatalf("Propose() = %+v, %d, %v; want both tenants told, deadline in 7 days", c, told, err)
	}
	for _, tenant := range []string{"acme", "bravo"} {
		m, err := w.st.Scoped(tenant).Mail(ctx, "subprocessor-chg-1")
		if err != nil || len(m.To) != 1 || !strings.Contains(m.Text, "Mailer GmbH") || !strings.Contains(m.Text, "/v1/subprocessors/changes/chg-1/objections") {
			t.Errorf("%s notice = %+v, %v", tenant, m, err)
		}
		if rec := w.last(tenant); rec.Action != subproc.ActionProposed {
			t.Errorf("%s audit = %+v; want %s", tenant, rec, subproc.ActionProposed)
		}
	}

	admin := w.token("acme-admin")
	w.clock = func() time.Time { return now.Add(6 * 24 * time.Hour) }
	w.must(403, w.token("acme-member"), "POST", "/v1/subprocessors/changes/chg-1/objections", map[string]any{"reason": "no"})
	w.must(422, admin, "POST", "/v1/subprocessors/changes/chg-1/objections", map[string]any{"reason": " "})
	w.must(201, admin, "POST", "/v1/subprocessors/changes/chg-1/objections", map[string]any{"reason": "Our DPA forbids new recipients of customer data."})
	items := w.must(200, w.token("acme-member"), "GET", "/v1/subprocessors/changes", nil).items(t)
	var chg1 map[string]any
	for _, it := range items {
		if it["id"] == "chg-1" {
			chg1 = it
		}
	}
	if len(items) != 2 || chg1 == nil || chg1["objectionOpen"] != true || chg1["objection"] == nil {
		t.Errorf("changes on day 6 = %v; want open, with acme's objection", items)
	}
	w.clock = func() time.Time { return now.Add(8 * 24 * time.Hour) }
	p := w.must(409, w.token("bravo-admin"), "POST", "/v1/subprocessors/changes/chg-1/objections", map[string]any{"reason": "late"}).json(t)
	if !strings.HasSuffix(p["type"].(string), "objection-closed") || !strings.Contains(p["detail"].(string), now.Add(7*24*time.Hour).Format(time.RFC3339)) {
		t.Errorf("objection on day 8 = %v; want 409 naming the deadline", p)
	}
	objs, err := w.st.Objections(ctx, "chg-1")
	if err != nil || len(objs) != 1 || objs[0].Tenant != "acme" {
		t.Errorf("Objections() = %+v, %v; want acme's", objs, err)
	}
	w.must(404, admin, "POST", "/v1/subprocessors/changes/nope/objections", map[string]any{"reason": "x"})
}

// TestGetLead_deliveryEvidence: a lead's readers see its notification and what SES reported of it (E5);
// support staff without a grant see the recipients masked.
func TestGetLead_deliveryEvidence(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.campaign("acme", "spring")
	l := w.lead("acme", "spring", "jens@example.dk")
	w.notify(l, "sales@acme.example")
	n, err := w.st.Scoped("acme").Notified(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.st.Scoped("acme").RecordDelivery(ctx, l.ID, n.MessageID, domain.Delivery{Event: "Bounce", Recipients: []string{"sales@acme.example"},
		At: time.Now(), Detail: "Permanent/General"}); err != nil {
		t.Fatal(err)
	}
	got := w.must(200, w.token("acme-member"), "GET", "/v1/leads/"+l.ID, nil).json(t)
	nv, _ := got["notification"].(map[string]any)
	if nv == nil || nv["messageId"] != n.MessageID || len(nv["deliveries"].([]any)) != 1 {
		t.Fatalf("lead = %v; want its notification with the bounce", got)
	}
	if d := nv["deliveries"].([]any)[0].(map[string]any); d["event"] != "Bounce" || d["detail"] != "Permanent/General" {
		t.Errorf("delivery = %v", d)
	}
	staff := w.must(200, w.token("staff-1"), "GET", "/v1/leads/"+l.ID, nil, "Leadvault-Tenant", "acme").json(t)
	if r := staff["notification"].(map[string]any)["recipients"].([]any)[0].(string); strings.Contains(r, "sales@") {
		t.Errorf("support without a grant sees recipient %q; want it masked", r)
	}
}

// TestIncidents_adminsReadTheirOwn: an incident that affects acme is readable by acme's admins with its
// scope and notices; bravo's admins do not see it; members may not read incidents.
func TestIncidents_adminsReadTheirOwn(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.campaign("acme", "spring")
	w.form("acme", "contact", "spring")
	w.lead("acme", "spring", "jens@example.dk")
	svc := incident.New(w.st, w.audit, "operator:test")
	now := time.Now().UTC()
	if _, _, err := svc.Open(ctx, incident.Opening{ID: "inc-7", Nature: "Lost laptop", Discovered: now, Tenants: []string{"acme"}}, now); err != nil {
		t.Fatal(err)
	}
	admin := w.token("acme-admin")
	items := w.must(200, admin, "GET", "/v1/incidents", nil).items(t)
	if len(items) != 1 || items[0]["id"] != "inc-7" || items[0]["scope"].(map[string]any)["approxLeads"] != 1.0 {
		t.Fatalf("incidents = %v", items)
	}
	got := w.must(200, admin, "GET", "/v1/incidents/inc-7", nil).json(t)
	if n := got["notices"].([]any); len(n) != 1 || !strings.Contains(n[0].(map[string]any)["text"].(string), "Art. 33") {
		t.Errorf("incident = %v; want the initial notice with its drafts", got)
	}
	w.must(404, w.token("bravo-admin"), "GET", "/v1/incidents/inc-7", nil)
	if items := w.must(200, w.token("bravo-admin"), "GET", "/v1/incidents", nil).items(t); len(items) != 0 {
		t.Errorf("bravo sees %v", items)
	}
	w.must(403, w.token("acme-member"), "GET", "/v1/incidents", nil)
}
