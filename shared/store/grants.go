package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"leadvault/shared/access"
)

// GrantRecordRetention is how long a grant's record outlives its end: long enough for the yearly review of
// who had access (S17).
const GrantRecordRetention = 400 * 24 * time.Hour

func grantPK(tenant string) string { return "T#" + tenant + "#GRANT" }

const grantSK = "G#"

// putGrant stores a new grant; the ID must be unused.
func (s *Store) putGrant(ctx context.Context, g access.Grant) error {
	if err := g.Validate(); err != nil {
		return fmt.Errorf("put grant %s: %w", g.ID, err)
	}
	item := marshal(grantItem{itemKey: itemKey{PK: grantPK(g.Tenant), SK: grantSK + g.ID}, ID: g.ID, Grantee: g.Grantee,
		By: g.GrantedBy, Scope: string(g.Scope), Reason: g.Reason, Start: g.CreatedAt.Unix(), End: g.ExpiresAt.Unix(),
		ExpiresAt: g.ExpiresAt.Add(GrantRecordRetention).Unix()})
	ex := onlyIf(absent())
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: item,
		ConditionExpression: ex.Condition(), ExpressionAttributeNames: ex.Names()})
	var cond *types.ConditionalCheckFailedException
	if errors.As(err, &cond) {
		return fmt.Errorf("put grant %s: %w", g.ID, ErrExists)
	}
	if err != nil {
		return fmt.Errorf("put grant %s: %w", g.ID, err)
	}
	return nil
}

// revokeGrant ends a grant at once; revoking an ended or revoked grant changes nothing.
func (s *Store) revokeGrant(ctx context.Context, tenant, id string, at time.Time) error {
	revoked := expression.Name(AttrRevoked)
	ex := build(expression.NewBuilder().WithCondition(exists().And(expression.AttributeNotExists(revoked))).
		WithUpdate(expression.Set(revoked, expression.Value(at.Unix()))))
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.table, Key: key(grantPK(tenant), grantSK+id),
		UpdateExpression: ex.Update(), ConditionExpression: ex.Condition(),
		ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(),
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

// grants lists a tenant's grants, newest first, ended and revoked ones included (for review).
func (s *Store) grants(ctx context.Context, tenant string) ([]access.Grant, error) {
	var out []access.Grant
	ex := build(expression.NewBuilder().WithKeyCondition(inPartition(grantPK(tenant), grantSK)).
		WithFilter(expression.Name(AttrExpiresAt).GreaterThan(expression.Value(s.now().Unix()))))
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName:              &s.table,
		KeyConditionExpression: ex.KeyCondition(), FilterExpression: ex.Filter(),
		ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list grants of %s: %w", tenant, err)
		}
		for _, item := range page.Items {
			var it grantItem
			if err := unmarshal(item, &it); err != nil {
				return nil, fmt.Errorf("list grants of %s: %w", tenant, err)
			}
			out = append(out, it.grant(tenant))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
	return out, nil
}

// activeGrant returns the grant under which grantee may see tenant's data now, or ErrNotFound. Several
// active grants: the one that allows most (read-write), then ends latest.
func (s *Store) activeGrant(ctx context.Context, tenant, grantee string) (access.Grant, error) {
	all, err := s.grants(ctx, tenant)
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

// grantItem is a support-access grant (pk T#<tenant>#GRANT, sk G#<grant>); times are epoch seconds.
type grantItem struct {
	itemKey
	ID        string `dynamodbav:"id"`
	Grantee   string `dynamodbav:"grantee"`
	By        string `dynamodbav:"by"`
	Scope     string `dynamodbav:"scope"`
	Reason    string `dynamodbav:"reason"`
	Start     int64  `dynamodbav:"start"`
	End       int64  `dynamodbav:"end"`
	ExpiresAt int64  `dynamodbav:"expiresAt"`
	Revoked   int64  `dynamodbav:"revoked,omitempty"`
}

func (it grantItem) grant(tenant string) access.Grant {
	g := access.Grant{
		ID: it.ID, Tenant: tenant, Grantee: it.Grantee, GrantedBy: it.By, Scope: access.Scope(it.Scope), Reason: it.Reason,
		CreatedAt: time.Unix(it.Start, 0).UTC(), ExpiresAt: time.Unix(it.End, 0).UTC(),
	}
	if it.Revoked != 0 {
		g.RevokedAt = time.Unix(it.Revoked, 0).UTC()
	}
	return g
}
