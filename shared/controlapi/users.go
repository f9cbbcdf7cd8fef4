package controlapi

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"leadvault/shared/access"
	"leadvault/shared/directory"
	"leadvault/shared/domain"
	"leadvault/shared/normalize"
	"leadvault/shared/problem"
	"leadvault/shared/store"
)

type userView struct {
	UserID  string      `json:"userID"`
	Email   string      `json:"email"`
	Role    access.Role `json:"role"`
	AddedAt time.Time   `json:"addedAt"`
	AddedBy string      `json:"addedBy,omitempty"`
}

func viewUser(m domain.Member) userView {
	return userView{UserID: m.UserID, Email: m.Email, Role: m.Role, AddedAt: m.AddedAt, AddedBy: m.AddedBy}
}

// listUsers lists who may act for the tenant (S17: the yearly access review; grants are listed by
// GET /v1/access-grants).
func listUsers(c *call) error {
	members, err := c.data.Members(c.ctx)
	if err != nil {
		return err
	}
	items := make([]userView, len(members))
	ids := make([]string, len(members))
	for i, m := range members {
		items[i], ids[i] = viewUser(m), m.UserID
	}
	if err := c.record(ActionUserList, ids...); err != nil {
		return err
	}
	return c.json(http.StatusOK, list[userView]{Items: items})
}

func checkRole(r access.Role) *problem.Problem {
	if r != access.Admin && r != access.Member {
		return invalid(problem.FieldError{Field: "role", Code: "invalid", Message: "admin or member."})
	}
	return nil
}

// inviteUser creates a user of the tenant at the identity provider, which mails them a temporary
// password, and makes them a member (C1).
func inviteUser(c *call) error {
	var b struct {
		Email string      `json:"email"`
		Role  access.Role `json:"role"`
	}
	if p := c.decode(&b); p != nil {
		return p
	}
	email, err := normalize.Email(b.Email)
	if err != nil || email == "" {
		return invalid(problem.FieldError{Field: "email", Code: "invalid", Message: "A valid e-mail address."})
	}
	if p := checkRole(b.Role); p != nil {
		return p
	}
	tk, err := c.key()
	if err != nil {
		return err
	}
	// The address is the invitee's personal data: the trail names it by a tenant-keyed hash.
	if err := c.record(ActionUserInvite, "email:"+tk.Pseudonym("audit-user-email", email)); err != nil {
		return err
	}
	id, err := c.h.Directory.Invite(c.ctx, c.tenant.ID, email, b.Role)
	if errors.Is(err, directory.ErrExists) {
		return conflict("user-exists", "A user with this e-mail address exists.")
	}
	if err != nil {
		return c.upstream(err)
	}
	m := domain.Member{UserID: id, Email: email, Role: b.Role, AddedAt: c.h.Now().UTC(), AddedBy: c.caller.UserID}
	if err := c.data.PutMember(c.ctx, m); err != nil {
		// Without the membership the new identity could never act; take it back so a retry starts clean.
		if rerr := c.h.Directory.Remove(c.ctx, id); rerr != nil {
			c.h.Log.Error("could not undo an invitation", "request", c.rid, "user", id, "error", rerr.Error())
		}
		return err
	}
	c.w.Header().Set("Location", "/v1/users/"+id)
	return c.json(http.StatusCreated, viewUser(m))
}

// changeRole promotes or demotes a user; demoting the last admin is refused (C2).
func changeRole(c *call) error {
	id, ok := c.param("userID")
	if !ok {
		return notFound("No such user.")
	}
	var b struct {
		Role access.Role `json:"role"`
	}
	if p := c.decode(&b, "application/merge-patch+json"); p != nil {
		return p
	}
	if p := checkRole(b.Role); p != nil {
		return p
	}
	before, err := c.data.Member(c.ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("No such user.")
	}
	if err != nil {
		return err
	}
	if err := c.record(ActionUserRole, id, "role:"+string(b.Role)); err != nil {
		return err
	}
	if before.Role == b.Role {
		return c.json(http.StatusOK, viewUser(before))
	}
	// The membership changes first: it is what authorizes, and its transaction enforces the last-admin
	// rule; the identity provider's group (the token's claim) follows.
	after, err := c.data.SetMemberRole(c.ctx, id, b.Role)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound("No such user.")
	case errors.Is(err, store.ErrLastAdmin):
		return conflict("last-admin", "A tenant keeps at least one admin; make another user admin first.")
	case err != nil:
		return err
	}
	if err := c.h.Directory.SetRole(c.ctx, id, before.Role, b.Role); err != nil {
		if _, rerr := c.data.SetMemberRole(c.ctx, id, before.Role); rerr != nil {
			c.h.Log.Error("could not undo a role change", "request", c.rid, "user", id, "error", rerr.Error())
		}
		return c.upstream(err)
	}
	return c.json(http.StatusOK, viewUser(after))
}

// removeUser ends a user's access at once and deletes their identity; the last admin cannot be removed,
// not even by themselves (C2).
func removeUser(c *call) error {
	id, ok := c.param("userID")
	if !ok {
		return notFound("No such user.")
	}
	if _, err := c.data.Member(c.ctx, id); errors.Is(err, store.ErrNotFound) {
		return notFound("No such user.")
	} else if err != nil {
		return err
	}
	if err := c.record(ActionUserRemove, id); err != nil {
		return err
	}
	_, err := c.data.RemoveMember(c.ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound("No such user.")
	case errors.Is(err, store.ErrLastAdmin):
		return conflict("last-admin", "A tenant keeps at least one admin; make another user admin first.")
	case err != nil:
		return err
	}
	// Access ended with the membership. A failure here leaves an identity that belongs to no tenant and
	// can do nothing; it is logged for the operators rather than failing a removal that took effect.
	if err := c.h.Directory.Remove(c.ctx, id); err != nil {
		c.h.Log.Error("identity not deleted after removal", "request", c.rid, "user", id, "error", err.Error())
	}
	return c.noContent()
}

// upstream answers 502 when the identity provider fails.
func (c *call) upstream(err error) error {
	c.h.Log.Error("identity provider failed", "request", c.rid, "error", err.Error())
	return problem.New(http.StatusBadGateway, "identity-provider-failed", "Bad Gateway",
		"The identity provider did not complete the change; nothing was changed. Try again.")
}

type grantView struct {
	ID        string       `json:"id"`
	Grantee   string       `json:"grantee"`
	GrantedBy string       `json:"grantedBy"`
	Scope     access.Scope `json:"scope"`
	Reason    string       `json:"reason"`
	CreatedAt time.Time    `json:"createdAt"`
	ExpiresAt time.Time    `json:"expiresAt"`
	RevokedAt *time.Time   `json:"revokedAt,omitempty"`
	Active    bool         `json:"active"`
}

func (c *call) viewGrant(g access.Grant) grantView {
	v := grantView{ID: g.ID, Grantee: g.Grantee, GrantedBy: g.GrantedBy, Scope: g.Scope, Reason: g.Reason,
		CreatedAt: g.CreatedAt, ExpiresAt: g.ExpiresAt, Active: g.ActiveAt(c.h.Now())}
	if !g.RevokedAt.IsZero() {
		r := g.RevokedAt
		v.RevokedAt = &r
	}
	return v
}

// listGrants lists the tenant's support-access grants, ended ones included (S17).
func listGrants(c *call) error {
	grants, err := c.data.Grants(c.ctx)
	if err != nil {
		return err
	}
	items := make([]grantView, len(grants))
	ids := make([]string, len(grants))
	for i, g := range grants {
		items[i], ids[i] = c.viewGrant(g), g.ID
	}
	if err := c.record(ActionGrantList, ids...); err != nil {
		return err
	}
	return c.json(http.StatusOK, list[grantView]{Items: items})
}

// createGrant gives one support user time-boxed access to the tenant's data (M3).
func createGrant(c *call) error {
	var b struct {
		Grantee   string       `json:"grantee"`
		Scope     access.Scope `json:"scope"`
		Reason    string       `json:"reason"`
		ExpiresAt time.Time    `json:"expiresAt"`
	}
	if p := c.decode(&b); p != nil {
		return p
	}
	now := c.h.Now().UTC()
	g := access.Grant{ID: c.h.NewID(), Tenant: c.tenant.ID, Grantee: strings.TrimSpace(b.Grantee), GrantedBy: c.caller.UserID,
		Scope: b.Scope, Reason: strings.TrimSpace(b.Reason), CreatedAt: now, ExpiresAt: b.ExpiresAt.UTC()}
	var errs []problem.FieldError
	if !domain.ValidRef(g.Grantee) {
		errs = append(errs, problem.FieldError{Field: "grantee", Code: "invalid", Message: "The support user's ID."})
	}
	if g.Scope != access.Read && g.Scope != access.ReadWrite {
		errs = append(errs, problem.FieldError{Field: "scope", Code: "invalid", Message: "read or read-write."})
	}
	if g.Reason == "" || len([]rune(g.Reason)) > maxPurpose {
		errs = append(errs, problem.FieldError{Field: "reason", Code: "invalid", Message: "The reason or ticket, 1-200 characters, without personal data."})
	}
	if d := g.ExpiresAt.Sub(now); d <= 0 || d > access.MaxGrant {
		errs = append(errs, problem.FieldError{Field: "expiresAt", Code: "invalid", Message: "A time in the next 72 hours."})
	}
	if len(errs) > 0 {
		return invalid(errs...)
	}
	if err := c.record(ActionGrantCreate, "grant:"+g.ID, "grantee:"+g.Grantee); err != nil {
		return err
	}
	if err := c.data.PutGrant(c.ctx, g); err != nil {
		return err
	}
	c.w.Header().Set("Location", "/v1/access-grants/"+g.ID)
	return c.json(http.StatusCreated, c.viewGrant(g))
}

// revokeGrant ends a grant at once (S2); its record stays for the review.
func revokeGrant(c *call) error {
	id, ok := c.param("grantID")
	if !ok {
		return notFound("No such grant.")
	}
	grants, err := c.data.Grants(c.ctx)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(grants, func(g access.Grant) bool { return g.ID == id }) {
		return notFound("No such grant.")
	}
	if err := c.record(ActionGrantRevoke, "grant:"+id); err != nil {
		return err
	}
	err = c.data.RevokeGrant(c.ctx, id, c.h.Now())
	if errors.Is(err, store.ErrNotFound) {
		return notFound("No such grant.")
	}
	if err != nil {
		return err
	}
	return c.noContent()
}
