package controlapi_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"leadvault/infra/local/testenv"
	"leadvault/shared/controlapi"
	"leadvault/shared/domain"
)

// TestControllerAPI_walkthrough calls every endpoint as tenant a's admin, in the order a controller
// would, and checks each answer and the audit record it leaves.
func TestControllerAPI_walkthrough(t *testing.T) {
	w := newWorld(t)
	admin := w.token("acme-admin")

	// Campaigns and forms.
	w.must(201, admin, "POST", "/v1/campaigns", map[string]any{"id": "spring", "name": "Spring 2027"})
	w.must(200, admin, "POST", "/v1/campaigns", map[string]any{"id": "spring", "name": "Spring 2027"}) // a retried create
	w.must(409, admin, "POST", "/v1/campaigns", map[string]any{"id": "spring", "name": "Other"})
	w.must(422, admin, "POST", "/v1/campaigns", map[string]any{"id": "Bad ID", "name": ""})
	if r := w.must(200, admin, "GET", "/v1/campaigns/spring", nil); r.json(t)["name"] != "Spring 2027" {
		t.Errorf("GET campaign = %s; want the name Spring 2027", r.body)
	}
	w.must(200, admin, "PATCH", "/v1/campaigns/spring", map[string]any{"name": "Spring 27"})
	if got := w.must(200, admin, "GET", "/v1/campaigns", nil).items(t); len(got) != 1 || got[0]["name"] != "Spring 27" {
		t.Errorf("GET campaigns = %v; want spring renamed", got)
	}

	form := testenv.Form("acme", "contact")
	form.TenantID, form.CampaignID = "", "spring"
	w.must(201, admin, "POST", "/v1/forms", form)
	w.must(200, admin, "POST", "/v1/forms", withTenant(form, "acme")) // the same form again
	bad := form
	bad.CampaignID = "nope"
	if r := w.must(422, admin, "POST", "/v1/forms", withID(bad, "other")); !strings.Contains(string(r.body), "campaignID") {
		t.Errorf("POST form with unknown campaign = %s; want a campaignID error", r.body)
	}
	w.must(400, admin, "POST", "/v1/forms", map[string]any{"id": "x", "surprise": true})
	form.RedirectURL = "https://www.a.example/thanks"
	w.must(200, admin, "PUT", "/v1/forms/contact", form)
	if got := w.must(200, admin, "GET", "/v1/forms/contact", nil).json(t); got["redirectURL"] != form.RedirectURL || got["tenantID"] != "acme" {
		t.Errorf("GET form = %v; want the update, tenant a", got)
	}
	for field, change := range map[string]func(*domain.Form){
		"errorURL": func(f *domain.Form) { f.ErrorURL = "http://www.a.example/oops" },
		"language": func(f *domain.Form) { f.Language = "de" },
	} {
		wrong := form
		change(&wrong)
		if r := w.must(422, admin, "PUT", "/v1/forms/contact", wrong); !strings.Contains(string(r.body), `"field":"`+field+`"`) {
			t.Errorf("PUT form with a bad %s = %s; want a %s error", field, r.body, field)
		}
	}
	form.ErrorURL, form.Language = "https://www.a.example/oops", "da"
	w.must(200, admin, "PUT", "/v1/forms/contact", form)
	if got := w.must(200, admin, "GET", "/v1/forms/contact", nil).json(t); got["errorURL"] != form.ErrorURL || got["language"] != "da" {
		t.Errorf("GET form = %v; want errorURL and language kept", got)
	}
	if got := w.must(200, admin, "GET", "/v1/forms", nil).items(t); len(got) != 1 {
		t.Errorf("GET forms = %d forms; want 1", len(got))
	}

	// Leads.
	l1 := w.lead("acme", "spring", "jens@example.dk")
	l2 := w.lead("acme", "spring", "mette@example.dk")
	page := w.must(200, admin, "GET", "/v1/campaigns/spring/leads?limit=1", nil)
	if items := page.items(t); len(items) != 1 || items[0]["id"] != l2.ID || page.json(t)["next"] == nil {
		t.Fatalf("GET leads page 1 = %s; want %s and a cursor", page.body, l2.ID)
	}
	next := page.json(t)["next"].(string)
	if items := w.must(200, admin, "GET", "/v1/campaigns/spring/leads?limit=1&cursor="+next, nil).items(t); len(items) != 1 || items[0]["id"] != l1.ID {
		t.Errorf("GET leads page 2 = %v; want %s", items, l1.ID)
	}
	w.must(400, admin, "GET", "/v1/campaigns/spring/leads?cursor=forged.cursor", nil)
	w.must(400, admin, "GET", "/v1/campaigns/spring/leads?limit=1000", nil)
	if got := w.must(200, admin, "GET", "/v1/leads/"+l1.ID, nil).json(t); got["personal"].(map[string]any)["email"] != "jens@example.dk" {
		t.Errorf("GET lead = %v; want it decrypted", got)
	}
	if rec := w.last("acme"); rec.Action != controlapi.ActionLeadRead || !slices.Contains(rec.Targets, l1.ID) || rec.ActorID != w.id("acme-admin") || rec.ActorRole != "admin" {
		t.Errorf("audit after GET lead = %+v; want lead.read of %s by a-admin", rec, l1.ID)
	}
	fixed := w.must(200, admin, "PATCH", "/v1/leads/"+l1.ID, map[string]any{"email": "Jens.H@Example.DK", "message": nil}).json(t)
	if p := fixed["personal"].(map[string]any); p["email"] != "Jens.H@example.dk" || p["message"] != nil || p["name"] != "Jens Hansen" {
		t.Errorf("PATCH lead = %v; want the e-mail domain normalised, message removed, name kept", p)
	}
	w.must(422, admin, "PATCH", "/v1/leads/"+l1.ID, map[string]any{"email": "not an address"})
	// A phone number is checked by the lead's form's phoneValidation, as intake checks it.
	possible := w.must(200, admin, "PATCH", "/v1/leads/"+l1.ID, map[string]any{"phone": "12 34 56 78"}).json(t)
	if p := possible["personal"].(map[string]any); p["phone"] != "+4512345678" {
		t.Errorf("PATCH lead phone (possible) = %v; want +4512345678", p)
	}
	if flags, _ := possible["flags"].([]any); !slices.Contains(flags, any(domain.FlagPhoneUnverified)) {
		t.Errorf("PATCH lead phone (possible) flags = %v; want %s", flags, domain.FlagPhoneUnverified)
	}
	if flags := w.must(200, admin, "GET", "/v1/leads/"+l1.ID, nil).json(t)["flags"]; flags == nil {
		t.Errorf("GET lead after a possible-only phone: flags = %v; want %s stored", flags, domain.FlagPhoneUnverified)
	}
	w.must(422, admin, "PATCH", "/v1/leads/"+l1.ID, map[string]any{"phone": "123456789"})
	if r := w.must(422, admin, "PUT", "/v1/forms/contact", withPhoneValidation(form, "sometimes")); !strings.Contains(string(r.body), "phoneValidation") {
		t.Errorf("PUT form with phoneValidation sometimes = %s; want a phoneValidation error", r.body)
	}
	w.must(200, admin, "PUT", "/v1/forms/contact", withPhoneValidation(form, domain.PhoneStrict))
	w.must(422, admin, "PATCH", "/v1/leads/"+l1.ID, map[string]any{"phone": "12 34 56 78"})
	valid := w.must(200, admin, "PATCH", "/v1/leads/"+l1.ID, map[string]any{"phone": "20 12 34 56"}).json(t)
	if p := valid["personal"].(map[string]any); p["phone"] != "+4520123456" {
		t.Errorf("PATCH lead phone (strict) = %v; want +4520123456", p)
	}
	if flags := valid["flags"]; flags != nil {
		t.Errorf("PATCH lead phone to a valid number: flags = %v; want phone_unverified gone", flags)
	}
	w.must(200, admin, "PUT", "/v1/forms/contact", form)
	w.must(422, admin, "PATCH", "/v1/leads/"+l1.ID, map[string]any{"message": "CPR 010190-1234"})
	ids, err := w.st.Scoped(w.keys["acme"].Tenant()).LeadIDsBySubject(context.Background(), w.keys["acme"], "jens@example.dk", "")
	if err != nil || len(ids) != 0 {
		t.Errorf("LeadIDsBySubject(old e-mail) = %v, %v; want none: the old value is not kept", ids, err)
	}
	w.must(204, admin, "DELETE", "/v1/leads/"+l2.ID, nil)
	w.must(404, admin, "DELETE", "/v1/leads/"+l2.ID, nil)
	w.must(404, admin, "GET", "/v1/leads/"+l2.ID, nil)

	// Users.
	invited := w.must(201, admin, "POST", "/v1/users", map[string]any{"email": "Ny@A.example", "role": "member"}).json(t)
	uid := invited["userID"].(string)
	w.must(409, admin, "POST", "/v1/users", map[string]any{"email": "ny@a.example", "role": "member"})
	w.must(422, admin, "POST", "/v1/users", map[string]any{"email": "x@a.example", "role": "support"})
	if rec := w.last("acme"); rec.Action != controlapi.ActionUserInvite || strings.Contains(strings.Join(rec.Targets, " "), "@") {
		t.Errorf("audit of the invitation = %+v; want user.invite without the address", rec)
	}
	w.must(200, admin, "PATCH", "/v1/users/"+uid, map[string]any{"role": "admin"})
	if got := w.must(200, admin, "GET", "/v1/users", nil).items(t); len(got) != 5-2 {
		// a-admin, a-member and the new one
		t.Errorf("GET users = %d; want 3", len(got))
	}
	w.must(204, admin, "DELETE", "/v1/users/"+uid, nil)
	w.must(404, admin, "DELETE", "/v1/users/"+uid, nil)

	// Grants.
	g := w.must(201, admin, "POST", "/v1/access-grants", map[string]any{
		"grantee": "staff1", "scope": "read", "reason": "ticket 4711", "expiresAt": time.Now().Add(2 * time.Hour)}).json(t)
	w.must(422, admin, "POST", "/v1/access-grants", map[string]any{
		"grantee": "staff1", "scope": "read", "reason": "too long", "expiresAt": time.Now().Add(73 * time.Hour)})
	if got := w.must(200, admin, "GET", "/v1/access-grants", nil).items(t); len(got) != 1 || got[0]["active"] != true {
		t.Errorf("GET grants = %v; want one active", got)
	}
	w.must(204, admin, "DELETE", "/v1/access-grants/"+g["id"].(string), nil)
	if got := w.must(200, admin, "GET", "/v1/access-grants", nil).items(t); got[0]["active"] != false || got[0]["revokedAt"] == nil {
		t.Errorf("GET grants after revoke = %v; want it inactive and revoked", got)
	}

	// Campaign deletion: refused while a form feeds it, then a job that deletes everything.
	w.must(409, admin, "DELETE", "/v1/campaigns/spring", nil)
	w.must(200, admin, "POST", "/v1/forms/contact/disable", nil)
	job := w.must(202, admin, "DELETE", "/v1/campaigns/spring", nil)
	if job.header.Get("Location") != "/v1/campaigns/spring/deletion" || job.json(t)["jobID"] == "" {
		t.Errorf("DELETE campaign = %v %s; want 202 with a job and its Location", job.header, job.body)
	}
	again := w.must(202, admin, "DELETE", "/v1/campaigns/spring", nil)
	if again.json(t)["jobID"] != job.json(t)["jobID"] {
		t.Errorf("DELETE campaign again = %s; want the same job %s", again.body, job.body)
	}
	if _, err := w.jobs.RunToEnd(context.Background(), "acme", "spring"); err != nil {
		t.Fatal(err)
	}
	if got := w.must(200, admin, "GET", "/v1/campaigns/spring/deletion", nil).json(t); got["status"] != "done" || got["deleted"] != float64(1) {
		t.Errorf("GET deletion = %v; want done, 1 deleted", got)
	}
	w.must(404, admin, "GET", "/v1/leads/"+l1.ID, nil)
	w.must(404, admin, "GET", "/v1/campaigns/spring", nil)
	if got := w.must(200, admin, "DELETE", "/v1/campaigns/spring", nil).json(t); got["jobID"] != job.json(t)["jobID"] {
		t.Errorf("DELETE of the deleted campaign = %v; want its finished job", got)
	}
	// A new campaign under the same ID gets a job of its own.
	w.must(201, admin, "POST", "/v1/campaigns", map[string]any{"id": "spring", "name": "Spring again"})
	if got := w.must(202, admin, "DELETE", "/v1/campaigns/spring", nil).json(t); got["jobID"] == job.json(t)["jobID"] || got["status"] != "running" {
		t.Errorf("DELETE of the recreated campaign = %v; want a new running job", got)
	}

	// The audit trail.
	recs := w.must(200, admin, "GET", "/v1/audit?action=lead.read&limit=10", nil).items(t)
	if len(recs) == 0 || recs[0]["action"] != "lead.read" {
		t.Errorf("GET audit?action=lead.read = %v; want lead.read records", recs)
	}
	exp := w.must(200, admin, "GET", "/v1/audit/export", nil)
	lines := strings.Split(strings.TrimSpace(string(exp.body)), "\n")
	if exp.header.Get("Content-Type") != "application/x-ndjson" || len(lines) < 20 {
		t.Errorf("GET audit/export = %s with %d lines; want JSON lines of the whole trail", exp.header.Get("Content-Type"), len(lines))
	}
	if got := w.must(200, admin, "GET", "/v1/audit/verify", nil).json(t); got["intact"] != true {
		t.Errorf("GET audit/verify = %v; want intact", got)
	}
	for _, rec := range w.trail("acme") {
		if strings.Contains(fmt.Sprint(rec.Targets, rec.Purpose, rec.SourceIP), "@") || strings.Contains(rec.SourceIP, "127.0.0.1") {
			t.Errorf("audit record %d holds personal data: %+v", rec.Seq, rec)
		}
	}
}

func withTenant(f any, tenant string) any {
	m := toMap(f)
	m["tenantID"] = tenant
	return m
}

func withID(f any, id string) any {
	m := toMap(f)
	m["id"] = id
	return m
}

// TestAudit_tamperDetected edits one stored audit record behind the API's back; verify must say where.
func TestAudit_tamperDetected(t *testing.T) {
	w := newWorld(t)
	admin := w.token("acme-admin")
	for range 3 {
		w.must(200, admin, "GET", "/v1/forms", nil)
	}
	rec := w.trail("acme")[1]
	db := testenv.Env.AWS.DynamoDB()
	out, err := db.Query(context.Background(), &dynamodb.QueryInput{
		TableName: aws.String(w.table), KeyConditionExpression: aws.String("pk = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: "T#acme#AUDIT"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range out.Items {
		if n, ok := it["seq"].(*types.AttributeValueMemberN); ok && n.Value == fmt.Sprint(rec.Seq) && it["sk"].(*types.AttributeValueMemberS).Value != "HEAD" {
			it["action"] = &types.AttributeValueMemberS{Value: "nothing.to.see"}
			if _, err := db.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(w.table), Item: it}); err != nil {
				t.Fatal(err)
			}
		}
	}
	got := w.must(200, admin, "GET", "/v1/audit/verify", nil).json(t)
	if got["intact"] != false || got["firstBad"] != float64(rec.Seq) {
		t.Errorf("GET audit/verify after an edit of record %d = %v; want not intact, firstBad %d", rec.Seq, got, rec.Seq)
	}
}

// TestUsers_lastAdmin: a tenant always keeps an admin (C2), even against itself.
func TestUsers_lastAdmin(t *testing.T) {
	w := newWorld(t)
	admin := w.token("acme-admin")
	w.must(409, admin, "DELETE", "/v1/users/"+w.id("acme-admin"), nil)
	w.must(409, admin, "PATCH", "/v1/users/"+w.id("acme-admin"), map[string]any{"role": "member"})
	w.must(200, admin, "PATCH", "/v1/users/"+w.id("acme-member"), map[string]any{"role": "admin"})
	w.must(204, admin, "DELETE", "/v1/users/"+w.id("acme-admin"), nil)
	// The removed admin's token is still unexpired, but its owner is no user of the tenant any more (S2).
	w.must(403, admin, "GET", "/v1/forms", nil)
	if rec := w.last("acme"); rec.Action != controlapi.ActionDenied || rec.ActorID != w.id("acme-admin") {
		t.Errorf("audit after the removed user's request = %+v; want access.denied by a-admin", rec)
	}
	// The member promoted above is now the last admin; its token still says member, and its role in the
	// tenant's data decides.
	promoted := w.token("acme-member")
	w.must(200, promoted, "GET", "/v1/users", nil)
	w.must(409, promoted, "DELETE", "/v1/users/"+w.id("acme-member"), nil)
}

// TestAudit_tenantRetention: a tenant's audit retention setting sets the expiry of its new records.
func TestAudit_tenantRetention(t *testing.T) {
	w := newWorld(t)
	if err := w.st.SetAuditRetention(context.Background(), "acme", 400); err != nil {
		t.Fatal(err)
	}
	if err := w.st.SetAuditRetention(context.Background(), "acme", 30); err == nil {
		t.Errorf("SetAuditRetention(30 days) = nil; want an error (at least a year)")
	}
	w.must(200, w.token("acme-admin"), "GET", "/v1/forms", nil)
	out, err := testenv.Env.AWS.DynamoDB().Query(context.Background(), &dynamodb.QueryInput{
		TableName: aws.String(w.table), KeyConditionExpression: aws.String("pk = :p AND begins_with(sk, :r)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":p": &types.AttributeValueMemberS{Value: "T#acme#AUDIT"}, ":r": &types.AttributeValueMemberS{Value: "R#"}},
	})
	if err != nil || len(out.Items) != 1 {
		t.Fatalf("audit records = %d, %v; want 1", len(out.Items), err)
	}
	var exp int64
	fmt.Sscan(out.Items[0]["expiresAt"].(*types.AttributeValueMemberN).Value, &exp)
	if d := time.Until(time.Unix(exp, 0)); d < 399*24*time.Hour || d > 401*24*time.Hour {
		t.Errorf("audit record expires in %s; want 400 days", d)
	}
}

// withPhoneValidation returns f with its phoneValidation set.
func withPhoneValidation(f domain.Form, v domain.PhoneValidation) domain.Form {
	f.PhoneValidation = v
	return f
}

// TestRouting_problems: what the mux cannot route is a problem+json answer through the local gateway's
// real API Gateway events, and nothing is audited for it.
func TestRouting_problems(t *testing.T) {
	w := newWorld(t)
	tok := w.token("acme-admin")
	before := len(w.trail("acme"))
	cases := []struct {
		name, method, path string
		status             int
		allow              string
	}{
		{"unknown path", "GET", "/v1/nothing", 404, ""},
		{"unknown subpath", "GET", "/v1/forms/f1/nothing", 404, ""},
		{"method not allowed", "PUT", "/v1/leads/abc", 405, "DELETE, GET, PATCH"},
		{"collection method", "DELETE", "/v1/forms", 405, "GET, POST"},
		{"HEAD", "HEAD", "/v1/forms", 405, "GET, POST"},
		{"purpose with commas", "GET", "/v1/forms/", 200, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := w.do(tok, c.method, c.path, nil, controlapi.PurposeHeader, "ticket 7, follow-up")
			if r.status != c.status {
				t.Fatalf("%s %s = %d %s; want %d", c.method, c.path, r.status, r.body, c.status)
			}
			if c.status == 200 {
				return
			}
			if got := r.header.Get("Allow"); got != c.allow {
				t.Errorf("Allow = %q; want %q", got, c.allow)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type = %q; want application/problem+json", ct)
			}
		})
	}
	trail := w.trail("acme")
	if got := len(trail) - before; got != 1 {
		t.Errorf("%d audit records; want 1 (the one routed request)", got)
	}
	if p := trail[len(trail)-1].Purpose; p != "ticket 7, follow-up" {
		t.Errorf("purpose = %q; want the whole header, commas and all", p)
	}
}
