package controlapi_test

import (
	"strings"
	"testing"

	"leadvault/shared/domain"
	"leadvault/shared/posture"
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
