package controlapi_test

import (
	"context"
	"encoding/base64"
	"slices"
	"strings"
	"testing"
	"time"

	"leadvault/infra/local/devissuer"
	"leadvault/shared/access"
	"leadvault/shared/domain"
	"leadvault/shared/store"
)

// TestIsolation_matrix calls every endpoint as tenant a's admin with tenant b's IDs: each must answer 404
// (or, for lists, none of b's data), b's data must be unchanged and b's audit trail must show nothing.
func TestIsolation_matrix(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.campaign("acme", "own")
	w.campaign("bravo", "bcamp")
	bForm := w.form("bravo", "bform", "bcamp")
	bLead := w.lead("bravo", "bcamp", "b-person@example.dk")
	bGrant := access.Grant{ID: "bgrant", Tenant: "bravo", Grantee: "staff1", GrantedBy: "bravo-admin", Scope: access.Read,
		Reason: "ticket", CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
	if err := w.st.Scoped(bGrant.Tenant).PutGrant(ctx, bGrant); err != nil {
		t.Fatal(err)
	}
	bReq := domain.SubjectRequest{TenantID: "bravo", ID: "breq", Kind: domain.KindAccess, State: domain.StateAwaiting,
		Subject: store.IndexSubject(w.keys["bravo"], "b-person@example.dk", ""), DueAt: time.Now().AddDate(0, 1, 0),
		Instruction: domain.Instruction{Reference: "b", ReceivedAt: time.Now()}, CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if _, _, err := w.st.Scoped("bravo").CreateSubjectRequest(ctx, w.keys["bravo"], bReq, store.Idempotency{}); err != nil {
		t.Fatal(err)
	}
	before := len(w.trail("bravo"))
	admin := w.token("acme-admin")
	patchLead := map[string]any{"name": "Changed"}
	tests := []struct {
		method, path string
		body         any
		want         int
	}{
		{"GET", "/v1/forms/bform", nil, 404},
		{"PUT", "/v1/forms/bform", withID(withTenant(bForm, "acme"), "bform"), 404},
		{"POST", "/v1/forms/bform/disable", nil, 404},
		{"GET", "/v1/campaigns/bcamp", nil, 404},
		{"PATCH", "/v1/campaigns/bcamp", map[string]any{"name": "x"}, 404},
		{"DELETE", "/v1/campaigns/bcamp", nil, 404},
		{"GET", "/v1/campaigns/bcamp/deletion", nil, 404},
		{"GET", "/v1/campaigns/bcamp/leads", nil, 404},
		{"GET", "/v1/leads/" + bLead.ID, nil, 404},
		{"PATCH", "/v1/leads/" + bLead.ID, patchLead, 404},
		{"DELETE", "/v1/leads/" + bLead.ID, nil, 404},
		{"PATCH", "/v1/users/" + w.id("bravo-member"), map[string]any{"role": "admin"}, 404},
		{"DELETE", "/v1/users/" + w.id("bravo-member"), nil, 404},
		{"DELETE", "/v1/access-grants/bgrant", nil, 404},
		{"GET", "/v1/subject-requests/breq", nil, 404},
		{"GET", "/v1/subject-requests/breq/result", nil, 404},
		{"POST", "/v1/subject-requests/breq/confirm", nil, 404},
		{"POST", "/v1/subject-requests/breq/decline", map[string]any{"reason": "no"}, 404},
		// A form naming b as its tenant is refused; b's tenant named in the header is refused.
		{"POST", "/v1/forms", withID(withTenant(bForm, "bravo"), "sneaky"), 422},
		{"GET", "/v1/forms", nil, 403},
	}
	for _, tc := range tests {
		var headers []string
		if tc.want == 403 {
			headers = []string{"Leadvault-Tenant", "bravo"}
		}
		if r := w.do(admin, tc.method, tc.path, tc.body, headers...); r.status != tc.want || strings.Contains(string(r.body), "b-person") {
			t.Errorf("%s %s as a's admin = %d %s; want %d and none of b's data", tc.method, tc.path, r.status, r.body, tc.want)
		}
	}
	// a's own audit trail names the IDs a tried; the other lists show nothing of b's.
	for _, path := range []string{"/v1/forms", "/v1/campaigns", "/v1/users", "/v1/access-grants", "/v1/subject-requests"} {
		r := w.must(200, admin, "GET", path, nil)
		for _, bID := range []string{"breq", "bform", "bcamp", w.id("bravo-member"), w.id("bravo-admin"), "bgrant", bLead.ID, "b-person"} {
			if strings.Contains(string(r.body), bID) {
				t.Errorf("GET %s as a's admin shows b's %s: %s", path, bID, r.body)
			}
		}
	}
	if after := w.trail("bravo"); len(after) != before {
		t.Errorf("b's audit trail grew from %d to %d records: %+v", before, len(after), after[before:])
	}
	if _, err := w.st.Scoped(w.keys["bravo"].Tenant()).Lead(ctx, w.keys["bravo"], bLead.ID); err != nil {
		t.Errorf("b's lead after a's attempts: %v", err)
	}
	if m, err := w.st.Scoped("bravo").Member(ctx, w.id("bravo-member")); err != nil || m.Role != access.Member {
		t.Errorf("b's member after a's attempts = %+v, %v; want unchanged", m, err)
	}
	if g, err := w.st.Scoped("bravo").ActiveGrant(ctx, "staff1"); err != nil || g.ID != "bgrant" {
		t.Errorf("b's grant after a's attempts = %+v, %v; want still active", g, err)
	}
	if f, err := w.st.Scoped("bravo").Form(ctx, "bform"); err != nil || !f.Enabled {
		t.Errorf("b's form after a's attempts = %+v, %v; want enabled", f, err)
	}
}

// TestRoles_matrix checks what each kind of caller may do with tenant a's data: admins, members, support
// staff without, with and after a grant, and callers whose token API Gateway refuses.
func TestRoles_matrix(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.campaign("acme", "spring")
	lead := w.lead("acme", "spring", "jens@example.dk")
	now := time.Now()
	grants := []access.Grant{
		{ID: "g-read", Grantee: "staff-read", Scope: access.Read, CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
		{ID: "g-rw", Grantee: "staff-rw", Scope: access.ReadWrite, CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
		{ID: "g-expired", Grantee: "staff-expired", Scope: access.ReadWrite, CreatedAt: now.Add(-3 * time.Hour), ExpiresAt: now.Add(-time.Hour)},
		{ID: "g-revoked", Grantee: "staff-revoked", Scope: access.ReadWrite, CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
		// A grant of tenant b gives nothing in tenant a.
		{ID: "g-other", Tenant: "bravo", Grantee: "staff-other", Scope: access.ReadWrite, CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
	}
	for _, g := range grants {
		if g.Tenant == "" {
			g.Tenant = "acme"
		}
		g.GrantedBy, g.Reason = g.Tenant+"-admin", "ticket 1"
		if err := w.st.Scoped(g.Tenant).PutGrant(ctx, g); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.st.Scoped("acme").RevokeGrant(ctx, "g-revoked", now); err != nil {
		t.Fatal(err)
	}

	type want struct{ list, patch, users, grant, export, requests, erase int }
	const masked, clear = "masked", "personal"
	tests := []struct {
		user  string
		shows string // what a lead list holds
		want  want
	}{
		{"acme-admin", clear, want{200, 200, 200, 201, 200, 200, 202}},
		{"acme-member", clear, want{200, 200, 403, 403, 403, 200, 403}},
		{"staff-none", masked, want{200, 403, 403, 403, 403, 403, 403}},
		{"staff-read", clear, want{200, 403, 403, 403, 403, 403, 403}},
		{"staff-rw", clear, want{200, 200, 403, 403, 403, 403, 403}},
		{"staff-expired", masked, want{200, 403, 403, 403, 403, 403, 403}},
		{"staff-revoked", masked, want{200, 403, 403, 403, 403, 403, 403}},
		{"staff-other", masked, want{200, 403, 403, 403, 403, 403, 403}},
	}
	grantBody := map[string]any{"grantee": "staff-x", "scope": "read", "reason": "ticket 2", "expiresAt": now.Add(time.Hour)}
	for _, tc := range tests {
		t.Run(tc.user, func(t *testing.T) {
			tok := w.token(tc.user)
			h := []string{"Leadvault-Tenant", "acme"}
			r := w.do(tok, "GET", "/v1/campaigns/spring/leads", nil, h...)
			if r.status != tc.want.list || !strings.Contains(string(r.body), `"`+tc.shows+`"`) {
				t.Fatalf("GET leads as %s = %d %s; want %d showing %s", tc.user, r.status, r.body, tc.want.list, tc.shows)
			}
			if tc.shows == masked && (strings.Contains(string(r.body), "jens@") || !strings.Contains(string(r.body), "j***@e***.dk")) {
				t.Errorf("GET leads as %s = %s; want the e-mail masked as j***@e***.dk", tc.user, r.body)
			}
			if rec := w.last("acme"); rec.Action != "lead.list" || rec.ActorID != w.id(tc.user) || (strings.HasPrefix(tc.user, "staff-r") && tc.user != "staff-revoked" && rec.GrantID == "") {
				t.Errorf("audit after GET leads as %s = %+v; want lead.list by them, with the grant used", tc.user, rec)
			}
			cases := []struct {
				method, path string
				body         any
				want         int
			}{
				{"PATCH", "/v1/leads/" + lead.ID, map[string]any{"company": "Firma " + tc.user}, tc.want.patch},
				{"GET", "/v1/users", nil, tc.want.users},
				{"POST", "/v1/access-grants", grantBody, tc.want.grant},
				{"GET", "/v1/audit/export", nil, tc.want.export},
				{"GET", "/v1/subject-requests", nil, tc.want.requests},
				{"POST", "/v1/subject-requests", exportBody("erasure", "nobody@example.dk", ""), tc.want.erase},
			}
			for _, c := range cases {
				if r := w.do(tok, c.method, c.path, c.body, h...); r.status != c.want {
					t.Errorf("%s %s as %s = %d %s; want %d", c.method, c.path, tc.user, r.status, r.body, c.want)
				}
				if c.want == 403 {
					if rec := w.last("acme"); rec.Action != "access.denied" || rec.ActorID != w.id(tc.user) || !slices.Contains(rec.Targets, c.method+" "+routeOf(c.path)) {
						t.Errorf("audit after refused %s %s as %s = %+v; want access.denied", c.method, c.path, tc.user, rec)
					}
				}
			}
		})
	}

	t.Run("support without a tenant header", func(t *testing.T) {
		w.must(400, w.token("staff-read"), "GET", "/v1/forms", nil)
	})
	t.Run("support naming an unknown tenant", func(t *testing.T) {
		w.must(404, w.token("staff-read"), "GET", "/v1/forms", nil, "Leadvault-Tenant", "nosuch")
	})

	// Tokens API Gateway's JWT authorizer refuses never reach the function: 401, nothing audited.
	before := len(w.trail("acme"))
	other, err := devissuer.New("https://cognito-idp.eu-north-1.amazonaws.com/eu-north-1_other", nil)
	if err != nil {
		t.Fatal(err)
	}
	wrongIssuer, _ := other.Mint(devissuer.Claims{Subject: "acme-admin", TenantID: "acme", Groups: []string{"admin"}})
	expired, _ := w.issuer.Mint(devissuer.Claims{Subject: "acme-admin", TenantID: "acme", Groups: []string{"admin"}, ExpiresIn: -time.Minute})
	good := w.token("acme-admin")
	parts := strings.Split(good, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), `"acme"`, `"bravo"`, 1)))
	tampered := strings.Join(parts, ".")
	noGroup, _ := w.issuer.Mint(devissuer.Claims{Subject: "acme-admin", TenantID: "acme"})
	for name, tok := range map[string]string{"no token": "", "wrong issuer": wrongIssuer, "expired": expired, "tampered": tampered, "no group": noGroup} {
		if r := w.do(tok, "GET", "/v1/forms", nil); r.status != 401 {
			t.Errorf("GET /v1/forms with %s = %d %s; want 401", name, r.status, r.body)
		}
	}
	if after := len(w.trail("acme")); after != before {
		t.Errorf("audit trail grew by %d for refused tokens; want 0", after-before)
	}
}

// routeOf maps a concrete path of the matrix to its route pattern.
func routeOf(path string) string {
	if strings.HasPrefix(path, "/v1/leads/") {
		return "/v1/leads/{leadID}"
	}
	return path
}
