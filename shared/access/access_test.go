package access

import (
	"errors"
	"testing"
	"time"
)

func TestFromClaims(t *testing.T) {
	tests := []struct {
		name   string
		claims map[string]string
		want   Principal
		err    bool
	}{
		{"admin", map[string]string{"sub": "u1", "username": "ann", "cognito:groups": "[admin]", "custom:tenant_id": "acme"}, Principal{"u1", "ann", Admin, "acme"}, false},
		{"member and admin", map[string]string{"sub": "u2", "cognito:groups": "[member admin]", "custom:tenant_id": "acme"}, Principal{UserID: "u2", Role: Admin, Tenant: "acme"}, false},
		{"member", map[string]string{"sub": "u3", "cognito:groups": "[member]", "custom:tenant_id": "acme"}, Principal{UserID: "u3", Role: Member, Tenant: "acme"}, false},
		{"support", map[string]string{"sub": "s1", "cognito:groups": "[support]"}, Principal{UserID: "s1", Role: Support}, false},
		{"support with tenant", map[string]string{"sub": "s1", "cognito:groups": "[support]", "custom:tenant_id": "acme"}, Principal{}, true},
		{"staff without tenant", map[string]string{"sub": "u1", "cognito:groups": "[admin]"}, Principal{}, true},
		{"no group", map[string]string{"sub": "u1", "custom:tenant_id": "acme"}, Principal{}, true},
		{"unknown group", map[string]string{"sub": "u1", "cognito:groups": "[root]", "custom:tenant_id": "acme"}, Principal{}, true},
		{"no subject", map[string]string{"cognito:groups": "[admin]", "custom:tenant_id": "acme"}, Principal{}, true},
	}
	for _, tt := range tests {
		got, err := FromClaims(tt.claims)
		if got != tt.want || (err != nil) != tt.err || (err != nil && !errors.Is(err, ErrUnauthenticated)) {
			t.Errorf("FromClaims(%s) = %+v, %v; want %+v, error %v", tt.name, got, err, tt.want, tt.err)
		}
	}
}

func TestDecide(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	admin := Principal{UserID: "u1", Role: Admin, Tenant: "acme"}
	member := Principal{UserID: "u2", Role: Member, Tenant: "acme"}
	support := Principal{UserID: "s1", Role: Support}
	grant := &Grant{ID: "g1", Tenant: "acme", Grantee: "s1", GrantedBy: "u1", Scope: Read, Reason: "ticket 42",
		CreatedAt: now.Add(-time.Hour), ExpiresAt: now.Add(time.Hour)}
	rw := *grant
	rw.Scope = ReadWrite
	expired := *grant
	expired.ExpiresAt = now
	revoked := *grant
	revoked.RevokedAt = now.Add(-time.Minute)
	otherTenant := *grant
	otherTenant.Tenant = "globex"
	otherGrantee := *grant
	otherGrantee.Grantee = "s2"
	tests := []struct {
		name string
		p    Principal
		g    *Grant
		want Decision
	}{
		{"admin own tenant", admin, nil, Decision{Allowed: true, Write: true, Export: true}},
		{"member own tenant", member, nil, Decision{Allowed: true, Write: true, Export: true}},
		{"admin other tenant", Principal{UserID: "u9", Role: Admin, Tenant: "globex"}, nil, Decision{}},
		{"support without grant", support, nil, Decision{Allowed: true, Masked: true}},
		{"support with read grant", support, grant, Decision{Allowed: true, GrantID: "g1"}},
		{"support with read-write grant", support, &rw, Decision{Allowed: true, Write: true, GrantID: "g1"}},
		{"support with expired grant", support, &expired, Decision{Allowed: true, Masked: true}},
		{"support with revoked grant", support, &revoked, Decision{Allowed: true, Masked: true}},
		{"support with another tenant's grant", support, &otherTenant, Decision{Allowed: true, Masked: true}},
		{"support with another user's grant", support, &otherGrantee, Decision{Allowed: true, Masked: true}},
		{"no role", Principal{UserID: "x", Tenant: "acme"}, nil, Decision{}},
	}
	for _, tt := range tests {
		if got := Decide(tt.p, "acme", tt.g, now); got != tt.want {
			t.Errorf("Decide(%s) = %+v; want %+v", tt.name, got, tt.want)
		}
	}
}

func TestGrantValidate(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	ok := Grant{Tenant: "acme", Grantee: "s1", GrantedBy: "u1", Scope: Read, Reason: "ticket 42", CreatedAt: now, ExpiresAt: now.Add(72 * time.Hour)}
	if err := ok.Validate(); err != nil {
		t.Errorf("Validate(72 h read grant) = %v; want nil", err)
	}
	for name, change := range map[string]func(*Grant){
		"too long":   func(g *Grant) { g.ExpiresAt = now.Add(73 * time.Hour) },
		"ends first": func(g *Grant) { g.ExpiresAt = now },
		"no reason":  func(g *Grant) { g.Reason = " " },
		"bad scope":  func(g *Grant) { g.Scope = "admin" },
		"no grantee": func(g *Grant) { g.Grantee = "" },
	} {
		g := ok
		change(&g)
		if err := g.Validate(); err == nil {
			t.Errorf("Validate(%s) = nil; want an error", name)
		}
	}
}

func TestMask(t *testing.T) {
	tests := []struct{ got, want string }{
		{MaskEmail("jens@example.dk"), "j***@e***.dk"},
		{MaskEmail("søren@mail.example.co.uk"), "s***@m***.uk"},
		{MaskEmail("nodomain"), "n***"},
		{MaskPhone("+4520123456"), "+45******56"},
		{MaskPhone("123"), "***"},
		{MaskName("Jens  Hansen"), "J*** H***"},
		{MaskName("Ærlig Øster"), "Æ*** Ø***"},
		{MaskText("Hej, ring mig"), "[13 characters hidden]"},
		{MaskText(""), ""},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("Mask = %q; want %q", tt.got, tt.want)
		}
	}
}
