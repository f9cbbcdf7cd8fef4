package controlapi_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"leadvault/shared/access"
	"leadvault/shared/export"
	"leadvault/shared/store"
)

func exportBody(kind, email, phone string) map[string]any {
	subject := map[string]any{}
	if email != "" {
		subject["email"] = email
	}
	if phone != "" {
		subject["phone"] = phone
	}
	return map[string]any{"kind": kind, "subject": subject,
		"instruction": map[string]any{"reference": "DPO-114", "receivedAt": "2026-11-30T09:12:00Z", "note": "Letter from Jens Hansen"}}
}

// noRedirect is a client that shows a redirect rather than following it.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func (w *world) download(token, id, format string) *http.Response {
	w.t.Helper()
	req, _ := http.NewRequest("GET", w.url+"/v1/subject-requests/"+id+"/result?format="+format, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := noRedirect.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	return res
}

func TestSubjectRequests_exportThenErase(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.campaign("acme", "spring")
	mine := []string{w.lead("acme", "spring", "Jens@Example.dk").ID, w.lead("acme", "spring", "jens@example.dk").ID}
	other := w.lead("acme", "spring", "karen@example.dk")
	admin := w.token("acme-admin")

	// Identifiers as a person would type them: upper case, a national phone number.
	r := w.must(202, admin, "POST", "/v1/subject-requests", exportBody("export", " JENS@example.DK ", ""))
	created := r.json(t)
	id := created["id"].(string)
	if created["state"] != "received" || created["dueAt"] != "2026-12-30T09:12:00Z" || r.header.Get("Location") != "/v1/subject-requests/"+id {
		t.Errorf("POST export = %s, Location %q; want received, due a month after receipt", r.body, r.header.Get("Location"))
	}
	if strings.Contains(string(r.body), "jens@") || strings.Contains(string(r.body), "JENS") {
		t.Errorf("the answer echoes the subject's identifier: %s", r.body)
	}
	if rec := w.last("acme"); rec.Action != "subject-request.create" || !slices.Contains(rec.Targets, "request:"+id) {
		t.Errorf("audit after POST = %+v; want subject-request.create", rec)
	}
	w.must(409, admin, "GET", "/v1/subject-requests/"+id+"/result", nil)
	if _, err := w.jobs.RunRequestToEnd(ctx, "acme", id); err != nil {
		t.Fatal(err)
	}
	got := w.must(200, admin, "GET", "/v1/subject-requests/"+id, nil).json(t)
	found := got["found"].(map[string]any)
	if got["state"] != "done" || found["leads"] != 2.0 || got["instruction"].(map[string]any)["note"] != "Letter from Jens Hansen" {
		t.Fatalf("GET request = %v; want done, 2 leads found, the note", got)
	}
	// The request names its records in the trail: its creation and its end.
	seqs := got["auditRecords"].([]any)
	actions := map[float64]string{}
	for _, rec := range w.trail("acme") {
		actions[float64(rec.Seq)] = rec.Action
	}
	if len(seqs) != 2 || actions[seqs[0].(float64)] != "subject-request.create" || actions[seqs[1].(float64)] != "subject-request.done" {
		t.Errorf("auditRecords = %v (%v); want the create and done records", seqs, actions)
	}
	result := got["result"].(map[string]any)
	if result["csv"] != "/v1/subject-requests/"+id+"/result?format=csv" {
		t.Errorf("result = %v", result)
	}

	for _, format := range []string{"json", "csv"} {
		res := w.download(admin, id, format)
		res.Body.Close()
		link := res.Header.Get("Location")
		if res.StatusCode != http.StatusSeeOther || !strings.Contains(link, "X-Amz-Signature=") || !strings.Contains(link, "X-Amz-Expires=900") {
			t.Fatalf("download %s = %d, Location %q; want 303 to a 15-minute presigned link", format, res.StatusCode, link)
		}
		if rec := w.last("acme"); rec.Action != "subject-request.download" || !slices.Contains(rec.Targets, "format:"+format) {
			t.Errorf("audit after download = %+v", rec)
		}
		// The link works from a browser or curl: a plain GET, no token.
		file, err := http.Get(link)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(file.Body)
		file.Body.Close()
		if file.StatusCode != 200 {
			t.Fatalf("GET %s link = %d %s", format, file.StatusCode, body)
		}
		switch format {
		case "json":
			var doc export.Document
			if err := json.Unmarshal(body, &doc); err != nil || len(doc.Leads) != 2 {
				t.Errorf("JSON archive = %d leads, %v; want 2", len(doc.Leads), err)
			}
			for _, l := range doc.Leads {
				if !slices.Contains(mine, l.ID) || l.Fields["name"] != "Jens Hansen" {
					t.Errorf("JSON archive lead %s %v; want only the subject's", l.ID, l.Fields)
				}
			}
		case "csv":
			rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(body, []byte("\ufeff")))).ReadAll()
			if err != nil || len(rows) != 3 || !bytes.HasPrefix(body, []byte("\ufeff")) {
				t.Errorf("CSV archive = %d rows, %v; want BOM, header and 2 rows", len(rows), err)
			}
		}
	}

	erase := w.must(202, admin, "POST", "/v1/subject-requests", exportBody("erasure", "jens@example.dk", "")).json(t)
	if _, err := w.jobs.RunRequestToEnd(ctx, "acme", erase["id"].(string)); err != nil {
		t.Fatal(err)
	}
	done := w.must(200, admin, "GET", "/v1/subject-requests/"+erase["id"].(string), nil).json(t)
	if done["state"] != "done" || done["erased"] != 2.0 || done["result"] != nil {
		t.Errorf("erasure = %v; want done, 2 erased, no archive", done)
	}
	for _, lead := range mine {
		w.must(404, admin, "GET", "/v1/leads/"+lead, nil)
	}
	w.must(200, admin, "GET", "/v1/leads/"+other.ID, nil)
	w.must(404, admin, "GET", "/v1/subject-requests/"+erase["id"].(string)+"/result", nil)

	// The archive of the earlier export is gone with its seven days.
	w.clock = func() time.Time { return time.Now().Add(8 * 24 * time.Hour) }
	w.must(410, admin, "GET", "/v1/subject-requests/"+id+"/result", nil)
	if again := w.must(200, admin, "GET", "/v1/subject-requests/"+id, nil).json(t); again["result"] != nil {
		t.Errorf("an expired request still shows its archive: %v", again["result"])
	}
}

func TestCreateSubjectRequest_problems(t *testing.T) {
	w := newWorld(t)
	admin := w.token("acme-admin")
	body := func(edit func(m map[string]any)) map[string]any {
		m := exportBody("access", "jens@example.dk", "")
		edit(m)
		return m
	}
	instr := func(m map[string]any) map[string]any { return m["instruction"].(map[string]any) }
	tests := []struct {
		name   string
		body   any
		status int
		field  string
	}{
		{"unknown kind", body(func(m map[string]any) { m["kind"] = "forget" }), 422, "kind"},
		{"rectification without changes", body(func(m map[string]any) { m["kind"] = "rectification" }), 422, "changes"},
		{"rectification changing nothing", body(func(m map[string]any) { m["kind"], m["changes"] = "rectification", map[string]any{"name": " "} }), 422, "changes"},
		{"rectification to a bad e-mail", body(func(m map[string]any) { m["kind"], m["changes"] = "rectification", map[string]any{"email": "x@"} }), 422, "changes.email"},
		{"changes on another kind", body(func(m map[string]any) { m["changes"] = map[string]any{"name": "X"} }), 422, "changes"},
		{"no identifier", body(func(m map[string]any) { m["subject"] = map[string]any{} }), 422, "subject"},
		{"bad e-mail", body(func(m map[string]any) { m["subject"] = map[string]any{"email": "jens@"} }), 422, "subject.email"},
		{"bad phone", body(func(m map[string]any) { m["subject"] = map[string]any{"phone": "12"} }), 422, "subject.phone"},
		{"no reference", body(func(m map[string]any) { instr(m)["reference"] = " " }), 422, "instruction.reference"},
		{"receipt not a time", body(func(m map[string]any) { instr(m)["receivedAt"] = "30/11/2026" }), 422, "instruction.receivedAt"},
		{"receipt in the future", body(func(m map[string]any) { instr(m)["receivedAt"] = time.Now().Add(time.Hour).Format(time.RFC3339) }), 422, "instruction.receivedAt"},
		{"note too long", body(func(m map[string]any) { instr(m)["note"] = strings.Repeat("x", 2001) }), 422, "instruction.note"},
		{"unknown field", body(func(m map[string]any) { m["subjects"] = 1 }), 400, ""},
	}
	for _, tt := range tests {
		r := w.do(admin, "POST", "/v1/subject-requests", tt.body)
		if r.status != tt.status || r.header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: %d %s; want %d problem+json", tt.name, r.status, r.body, tt.status)
			continue
		}
		if tt.field != "" && !strings.Contains(string(r.body), `"field":"`+tt.field+`"`) {
			t.Errorf("%s: %s; want an error for %s", tt.name, r.body, tt.field)
		}
	}
	// A phone number in national form is read in the given region; DK by default.
	w.must(202, admin, "POST", "/v1/subject-requests", exportBody("access", "", "20 12 34 56"))

	key := []string{"Idempotency-Key", "dpo-114"}
	first := w.must(202, admin, "POST", "/v1/subject-requests", exportBody("access", "jens@example.dk", ""), key...).json(t)
	again := w.must(202, admin, "POST", "/v1/subject-requests", exportBody("access", "jens@example.dk", ""), key...).json(t)
	if first["id"] != again["id"] {
		t.Errorf("retry with the same Idempotency-Key made a second request: %v, %v", first["id"], again["id"])
	}
	if r := w.do(admin, "POST", "/v1/subject-requests", exportBody("erasure", "jens@example.dk", ""), key...); r.status != 422 || !strings.Contains(string(r.body), "idempotency-key-reused") {
		t.Errorf("same key, other request = %d %s; want 422 idempotency-key-reused", r.status, r.body)
	}

	list := w.must(200, admin, "GET", "/v1/subject-requests?kind=access&limit=1", nil)
	if items := list.items(t); len(items) != 1 || !strings.Contains(string(list.body), `"next"`) {
		t.Errorf("GET list?kind=access&limit=1 = %s; want one item and a next cursor", list.body)
	}
	for _, q := range []string{"state=finished", "kind=forget", "due_before=tomorrow", "cursor=bm9wZQ"} {
		if r := w.do(admin, "GET", "/v1/subject-requests?"+q, nil); r.status != 400 {
			t.Errorf("GET list?%s = %d %s; want 400", q, r.status, r.body)
		}
	}
	if items := w.must(200, admin, "GET", "/v1/subject-requests?due_before=2026-12-01T00:00:00Z", nil).items(t); len(items) != 0 {
		t.Errorf("due before 1 Dec = %d requests; want none (all due 30 Dec)", len(items))
	}
	if items := w.must(200, admin, "GET", "/v1/subject-requests?due_before=2027-01-01T00:00:00Z&state=received", nil).items(t); len(items) != 2 {
		t.Errorf("due before 1 Jan, received = %d requests; want 2 (the retry made none)", len(items))
	}
}

func TestSubjectRequests_rolesAndIsolation(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	now := time.Now()
	if err := w.st.Scoped("acme").PutGrant(ctx, access.Grant{ID: "g-rw", Tenant: "acme", Grantee: "staff-rw", GrantedBy: "acme-admin",
		Scope: access.ReadWrite, Reason: "ticket", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		user          string
		access, erase int
	}{
		{"acme-admin", 202, 202},
		{"acme-member", 202, 403},
		{"staff-rw", 403, 403},
		{"staff-none", 403, 403},
	}
	for _, tt := range tests {
		tok := w.token(tt.user)
		for kind, want := range map[string]int{"access": tt.access, "erasure": tt.erase} {
			r := w.do(tok, "POST", "/v1/subject-requests", exportBody(kind, "jens@example.dk", ""), "Leadvault-Tenant", "acme")
			if r.status != want {
				t.Errorf("POST %s as %s = %d %s; want %d", kind, tt.user, r.status, r.body, want)
			}
			if want == 403 {
				if rec := w.last("acme"); rec.Action != "access.denied" || rec.ActorID != w.id(tt.user) {
					t.Errorf("audit after refused %s as %s = %+v; want access.denied", kind, tt.user, rec)
				}
			}
		}
		if r := w.do(tok, "GET", "/v1/subject-requests", nil, "Leadvault-Tenant", "acme"); (r.status == 200) != strings.HasPrefix(tt.user, "acme-") {
			t.Errorf("GET list as %s = %d", tt.user, r.status)
		}
	}

	// Tenant b's request is a 404 to a's admin, exactly like an unknown one, and leaves b's trail alone.
	bReq := w.must(202, w.token("bravo-admin"), "POST", "/v1/subject-requests", exportBody("access", "jens@example.dk", "")).json(t)
	if _, err := w.jobs.RunRequestToEnd(ctx, "bravo", bReq["id"].(string)); err != nil {
		t.Fatal(err)
	}
	before := len(w.trail("bravo"))
	admin := w.token("acme-admin")
	for _, path := range []string{"/v1/subject-requests/" + bReq["id"].(string), "/v1/subject-requests/" + bReq["id"].(string) + "/result",
		"/v1/subject-requests/no-such-request"} {
		if r := w.do(admin, "GET", path, nil); r.status != 404 {
			t.Errorf("GET %s as a's admin = %d %s; want 404", path, r.status, r.body)
		}
	}
	if list := w.must(200, admin, "GET", "/v1/subject-requests", nil); strings.Contains(string(list.body), bReq["id"].(string)) {
		t.Errorf("a's list shows b's request: %s", list.body)
	}
	if after := len(w.trail("bravo")); after != before {
		t.Errorf("b's audit trail grew by %d", after-before)
	}
	if _, err := w.st.Scoped("acme").SubjectRequest(ctx, nil, bReq["id"].(string)); err == nil {
		t.Errorf("b's request readable in a's scope")
	} else if !strings.Contains(err.Error(), store.ErrNotFound.Error()) {
		t.Errorf("b's request in a's scope: %v; want not found", err)
	}
}
