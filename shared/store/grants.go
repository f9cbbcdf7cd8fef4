package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"leadvault/shared/access"
)

// GrantRecordRetention is how long a grant's record outlives its end: long enough for the yearly review of
// who had access (S17).
const GrantRecordRetention = 400 * 24 * time.Hour

func grantPK(tenant string) string { return "T#" + tenant + "#GRANT" }

const grantSK = "G#"

// PutGrant stores a new grant; the ID must be unused.
func (s *Store) PutGrant(ctx context.Context, g access.Grant) error {
	if err := g.Validate(); err != nil {
		return fmt.Errorf("put grant %s: %w", g.ID, err)
	}
	item := map[string]types.AttributeValue{
		AttrPK: str(grantPK(g.Tenant)), AttrSK: str(grantSK + g.ID),
		"id": str(g.ID), "grantee": str(g.Grantee), "by": str(g.GrantedBy), "scope": str(string(g.Scope)),
		"reason": str(g.Reason), "start": num(g.CreatedAt.Unix()), "end": num(g.ExpiresAt.Unix()),
		AttrExpiresAt: num(g.ExpiresAt.Add(GrantRecordRetention).Unix()),
	}
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)")})
	var cond *types.ConditionalCheckFailedException
	if errors.As(err, &cond) {
		return fmt.Errorf("put grant %s: %w", g.ID, ErrExists)
	}
	if err != nil {
		return fmt.Errorf("put grant %s: %w", g.ID, err)
	}
	return nil
}

// RevokeGrant ends a grant at once; revoking an ended or revoked grant changes nothing.
func (s *Store) RevokeGrant(ctx context.Context, tenant, id string, at time.Time) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.table, Key: key(grantPK(tenant), grantSK+id),
		UpdateExpression:          aws.String("SET revoked = :at"),
		ConditionExpression:       aws.String("attribute_exists(pk) AND attribute_not_exists(revoked)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":at": num(at.Unix())},
	})
	var cond *types.ConditionalCheckFailedException
	if errors.As(err, &cond) {
		if _, err := s.get(ctx, grantPK(tenant), grantSK+id); err != nil {
			return fmt.Errorf("revoke grant %s/%s: %w", tenant, id, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("revoke grant %s/%s: %w", tenant, id, err)
	}
	return nil
}

// Grants lists a tenant's grants, newest first, ended and revoked ones included (for review).
func (s *Store) Grants(ctx context.Context, tenant string) ([]access.Grant, error) {
	var out []access.Grant
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName:                 &s.table,
		KeyConditionExpression:    aws.String("pk = :pk AND begins_with(sk, :g)"),
		FilterExpression:          aws.String("expiresAt > :now"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(grantPK(tenant)), ":g": str(grantSK), ":now": num(s.now().Unix())},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list grants of %s: %w", tenant, err)
		}
		for _, item := range page.Items {
			out = append(out, decodeGrant(tenant, item))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
	return out, nil
}

// ActiveGrant returns the grant under which grantee may see tenant's data now, or ErrNotFound. Several
// active grants: the one that allows most (read-write), then ends latest.
func (s *Store) ActiveGrant(ctx context.Context, tenant, grantee string) (access.Grant, error) {
	all, err := s.Grants(ctx, tenant)
	if err != nil {
		return access.Grant{}, err
	}
	now := s.now()
	var best *access.Grant
	for i, g := range all {
		if g.Grantee != grantee || !g.ActiveAt(now) {
			continue
		}
		if best == nil || (g.Scope == access.ReadWrite && best.Scope != access.ReadWrite) ||
			(g.Scope == best.Scope && g.ExpiresAt.After(best.ExpiresAt)) {
			best = &all[i]
		}
	}
	if best == nil {
		return access.Grant{}, fmt.Errorf("active grant of %s for %s: %w", grantee, tenant, ErrNotFound)
	}
	return *best, nil
}

func decodeGrant(tenant string, item map[string]types.AttributeValue) access.Grant {
	g := access.Grant{
		ID: getS(item, "id"), Tenant: tenant, Grantee: getS(item, "grantee"), GrantedBy: getS(item, "by"),
		Scope: access.Scope(getS(item, "scope")), Reason: getS(item, "reason"),
		CreatedAt: time.Unix(getN(item, "start"), 0).UTC(), ExpiresAt: time.Unix(getN(item, "end"), 0).UTC(),
	}
	if r := getN(item, "revoked"); r != 0 {
		g.RevokedAt = time.Unix(r, 0).UTC()
	}
	return g
}
