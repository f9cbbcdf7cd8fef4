// Package access decides what a caller of the controller API may see and do: controller staff (admin,
// member) see their own tenant's data; processor staff (support) belong to no tenant and see masked,
// operational data only, unless the tenant's admin granted them time-boxed access (obligations E9, M2,
// M3, M5, S2, S19). It has no I/O: callers load the grant and pass the time.
package access

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Role is a caller's role, from the identity provider's groups.
type Role string

// The roles.
const (
	Admin   Role = "admin"   // controller staff who manage users, forms, grants
	Member  Role = "member"  // controller staff
	Support Role = "support" // processor staff; belong to no tenant
)

// Claim names as Cognito issues them and API Gateway passes them on.
const (
	ClaimSubject  = "sub"
	ClaimUsername = "username"
	ClaimGroups   = "cognito:groups"
	ClaimTenant   = "custom:tenant_id"
)

// ErrUnauthenticated means the claims do not describe a usable caller.
var ErrUnauthenticated = errors.New("no usable identity in the token")

// Principal is an authenticated caller.
type Principal struct {
	UserID   string
	Username string
	Role     Role
	// Tenant is the caller's own tenant; empty for support staff.
	Tenant string
}

// FromClaims reads a principal from the claims API Gateway's JWT authorizer passes to the function. API
// Gateway renders every claim as a string, an array as "[a b]". The tenant comes from the token only.
func FromClaims(claims map[string]string) (Principal, error) {
	p := Principal{UserID: claims[ClaimSubject], Username: claims[ClaimUsername], Tenant: claims[ClaimTenant]}
	if p.UserID == "" {
		return Principal{}, fmt.Errorf("%w: no subject", ErrUnauthenticated)
	}
	groups := strings.Fields(strings.Trim(claims[ClaimGroups], "[]"))
	// The strongest role wins when a user is in several groups.
	for _, r := range []Role{Support, Admin, Member} {
		for _, g := range groups {
			if Role(g) == r && p.Role == "" {
				p.Role = r
			}
		}
	}
	switch {
	case p.Role == "":
		return Principal{}, fmt.Errorf("%w: no role group", ErrUnauthenticated)
	case p.Role == Support && p.Tenant != "":
		return Principal{}, fmt.Errorf("%w: support staff belong to no tenant", ErrUnauthenticated)
	case p.Role != Support && p.Tenant == "":
		return Principal{}, fmt.Errorf("%w: controller staff without a tenant", ErrUnauthenticated)
	}
	return p, nil
}

// Scope is what a grant allows.
type Scope string

// The grant scopes.
const (
	Read      Scope = "read"
	ReadWrite Scope = "read-write"
)

// MaxGrant is the longest a grant may run (M3: temporary access).
const MaxGrant = 72 * time.Hour

// Grant is a tenant admin's time-boxed permission for one support user to see the tenant's data.
type Grant struct {
	ID, Tenant, Grantee, GrantedBy string
	Scope                          Scope
	Reason                         string // the ticket or reason, required
	CreatedAt, ExpiresAt           time.Time
	RevokedAt                      time.Time // zero while not revoked
}

// Validate checks a new grant.
func (g Grant) Validate() error {
	var errs []error
	if g.Tenant == "" || g.Grantee == "" || g.GrantedBy == "" {
		errs = append(errs, errors.New("tenant, grantee and granter are required"))
	}
	if g.Scope != Read && g.Scope != ReadWrite {
		errs = append(errs, fmt.Errorf("scope %q must be read or read-write", g.Scope))
	}
	if strings.TrimSpace(g.Reason) == "" {
		errs = append(errs, errors.New("a reason or ticket is required"))
	}
	if d := g.ExpiresAt.Sub(g.CreatedAt); d <= 0 || d > MaxGrant {
		errs = append(errs, fmt.Errorf("a grant must end within %s of its start", MaxGrant))
	}
	return errors.Join(errs...)
}

// ActiveAt reports whether the grant is in force at t: started, not expired, not revoked. Expiry takes
// effect at once, whether or not the stored grant has been deleted yet (S2).
func (g Grant) ActiveAt(t time.Time) bool {
	return !t.Before(g.CreatedAt) && t.Before(g.ExpiresAt) && (g.RevokedAt.IsZero() || t.Before(g.RevokedAt))
}

// Decision is what a principal may do with a tenant's data.
type Decision struct {
	Allowed bool
	// Masked means personal data must be shown masked (see Mask*) and only operational fields.
	Masked bool
	Write  bool
	Export bool
	// GrantID names the grant used, for the audit trail; empty when none.
	GrantID string
}

// Decide says what p may do with tenant's data at now. grant is the grantee's grant for the tenant, if
// any; nil otherwise. Controller staff see only their own tenant; support staff see masked data, or —
// under an active grant — the tenant's data in clear, and never export (M5, S19).
func Decide(p Principal, tenant string, grant *Grant, now time.Time) Decision {
	switch p.Role {
	case Admin, Member:
		if p.Tenant != tenant {
			return Decision{}
		}
		return Decision{Allowed: true, Write: true, Export: true}
	case Support:
		if grant != nil && grant.Tenant == tenant && grant.Grantee == p.UserID && grant.ActiveAt(now) {
			return Decision{Allowed: true, Write: grant.Scope == ReadWrite, GrantID: grant.ID}
		}
		return Decision{Allowed: true, Masked: true}
	}
	return Decision{}
}

// MaskEmail keeps the first character of the local part and of the domain's first label, and the
// top-level domain: "jens@example.dk" → "j***@e***.dk".
func MaskEmail(email string) string {
	local, domain, ok := strings.Cut(email, "@")
	if !ok {
		return maskWord(email)
	}
	labels := strings.Split(domain, ".")
	tld := labels[len(labels)-1]
	if len(labels) == 1 {
		return maskWord(local) + "@" + maskWord(domain)
	}
	return maskWord(local) + "@" + maskWord(labels[0]) + "." + tld
}

// MaskPhone keeps the country code's plus and first two digits and the last two digits:
// "+4520123456" → "+45******56".
func MaskPhone(phone string) string {
	if len(phone) <= 5 {
		return strings.Repeat("*", len(phone))
	}
	return phone[:3] + strings.Repeat("*", len(phone)-5) + phone[len(phone)-2:]
}

// MaskName keeps each word's first letter: "Jens Hansen" → "J*** H***".
func MaskName(name string) string {
	words := strings.Fields(name)
	for i, w := range words {
		words[i] = maskWord(w)
	}
	return strings.Join(words, " ")
}

// MaskText hides free text entirely, saying only how long it was.
func MaskText(s string) string {
	if s == "" {
		return ""
	}
	return fmt.Sprintf("[%d characters hidden]", utf8.RuneCountInString(s))
}

func maskWord(w string) string {
	r, size := utf8.DecodeRuneInString(w)
	if size == 0 {
		return ""
	}
	return string(r) + "***"
}
