package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"leadvault/infra/local/testenv"
	"leadvault/shared/access"
	"leadvault/shared/store"
)

func TestGrants(t *testing.T) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	st := store.New(testenv.Env.AWS.DynamoDB(), testenv.Table(t)).WithClock(func() time.Time { return now })
	grant := func(id, grantee string, scope access.Scope, lasts time.Duration) access.Grant {
		return access.Grant{ID: id, Tenant: "acme", Grantee: grantee, GrantedBy: "admin-1", Scope: scope,
			Reason: "ticket 42", CreatedAt: now.Add(-time.Minute), ExpiresAt: now.Add(lasts)}
	}
	for _, g := range []access.Grant{
		grant("g1", "s1", access.Read, time.Hour),
		grant("g2", "s1", access.ReadWrite, 2*time.Hour),
		grant("g3", "s2", access.Read, time.Hour),
	} {
		if err := st.Scoped(g.Tenant).PutGrant(ctx, g); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Scoped("acme").PutGrant(ctx, grant("g1", "s9", access.Read, time.Hour)); !errors.Is(err, store.ErrExists) {
		t.Errorf("PutGrant(reused ID) = %v; want ErrExists", err)
	}
	if err := st.Scoped("acme").PutGrant(ctx, grant("g4", "s1", access.Read, 73*time.Hour)); err == nil {
		t.Errorf("PutGrant(73 h) = nil; want refused (at most 72 h)")
	}
	if g, err := st.Scoped("acme").ActiveGrant(ctx, "s1"); err != nil || g.ID != "g2" {
		t.Errorf("ActiveGrant(s1) = %s, %v; want g2 (read-write wins)", g.ID, err)
	}
	// Revocation ends the grant at once.
	if err := st.Scoped("acme").RevokeGrant(ctx, "g2", now.Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if g, err := st.Scoped("acme").ActiveGrant(ctx, "s1"); err != nil || g.ID != "g1" {
		t.Errorf("ActiveGrant(s1) after revoking g2 = %s, %v; want g1", g.ID, err)
	}
	if err := st.Scoped("acme").RevokeGrant(ctx, "g2", now); err != nil {
		t.Errorf("RevokeGrant(again) = %v; want nil", err)
	}
	if err := st.Scoped("acme").RevokeGrant(ctx, "nope", now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RevokeGrant(unknown) = %v; want ErrNotFound", err)
	}
	// Expiry ends a grant at its end, not when TTL deletes the item.
	later := st.WithClock(func() time.Time { return now.Add(90 * time.Minute) })
	if _, err := later.Scoped("acme").ActiveGrant(ctx, "s1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ActiveGrant(s1) after its end = %v; want ErrNotFound", err)
	}
	// The record stays listed for the access review, revoked and ended ones included.
	all, err := later.Scoped("acme").Grants(ctx)
	if err != nil || len(all) != 3 {
		t.Errorf("Grants() = %d, %v; want all 3 for the review", len(all), err)
	}
	if _, err := st.Scoped("globex").ActiveGrant(ctx, "s2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ActiveGrant(other tenant) = %v; want ErrNotFound", err)
	}
}
