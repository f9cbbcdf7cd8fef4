package store

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"leadvault/shared/ddb"
	"leadvault/shared/domain"
)

// ErrDeleting means the campaign is being deleted and can no longer be changed.
var ErrDeleting = errors.New("campaign is being deleted")

// campaignSK prefixes a campaign item's sort key in the tenant partition.
const campaignSK = "CAMP#"

// maxCampaignName is the longest campaign name, in characters.
const maxCampaignName = 200

// validateCampaign checks what a caller may choose: the ID and the name.
func validateCampaign(c domain.Campaign) error {
	if !domain.ValidID(c.ID) {
		return fmt.Errorf("%w: campaign id %q must be 2-63 lower-case letters, digits or hyphens", domain.ErrInvalidConfig, c.ID)
	}
	return validateCampaignName(c.Name)
}

func validateCampaignName(name string) error {
	if n := utf8.RuneCountInString(name); n == 0 || n > maxCampaignName || !utf8.ValidString(name) {
		return fmt.Errorf("%w: campaign name must be 1-%d characters of valid UTF-8", domain.ErrInvalidConfig, maxCampaignName)
	}
	if strings.ContainsFunc(name, unicode.IsControl) {
		return fmt.Errorf("%w: campaign name must not contain control characters", domain.ErrInvalidConfig)
	}
	return nil
}

// putCampaign creates a campaign of an existing tenant (ErrNotFound otherwise); a taken ID fails with
// ErrExists. CreatedAt defaults to now.
func (s *Store) putCampaign(ctx context.Context, tenant string, c domain.Campaign) error {
	if err := validateCampaign(c); err != nil {
		return fmt.Errorf("put campaign %s/%s: %w", tenant, c.ID, err)
	}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = s.now()
	}
	isNew := onlyIf(absent())
	items := []types.TransactWriteItem{
		s.tenantCheck(tenant),
		{Put: &types.Put{
			TableName: &s.table,
			Item: marshal(campaignItem{itemKey: itemKey{PK: tenantPK(tenant), SK: campaignSK + c.ID},
				ID: c.ID, Name: c.Name, Created: ts(c.CreatedAt)}),
			ConditionExpression: isNew.Condition(), ExpressionAttributeNames: isNew.Names(),
		}},
	}
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	var cancelled *types.TransactionCanceledException
	if errors.As(err, &cancelled) && len(cancelled.CancellationReasons) == len(items) {
		switch {
		case ddb.Code(cancelled.CancellationReasons[0]) == "ConditionalCheckFailed":
			return fmt.Errorf("put campaign %s/%s: tenant %s: %w", tenant, c.ID, tenant, ErrNotFound)
		case ddb.Code(cancelled.CancellationReasons[1]) == "ConditionalCheckFailed":
			return fmt.Errorf("put campaign %s/%s: %w", tenant, c.ID, ErrExists)
		}
	}
	if err != nil {
		return fmt.Errorf("put campaign %s/%s: %w", tenant, c.ID, err)
	}
	return nil
}

// renameCampaign renames a campaign and returns it; a campaign being deleted fails with ErrDeleting.
func (s *Store) renameCampaign(ctx context.Context, tenant, id, name string) (domain.Campaign, error) {
	if err := validateCampaignName(name); err != nil {
		return domain.Campaign{}, fmt.Errorf("rename campaign %s/%s: %w", tenant, id, err)
	}
	deleting := expression.Name(AttrDeleting)
	ex := build(expression.NewBuilder().
		WithCondition(exists().And(expression.AttributeNotExists(deleting).Or(deleting.Equal(expression.Value(false))))).
		WithUpdate(expression.Set(expression.Name(AttrName), expression.Value(name))))
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.table, Key: key(tenantPK(tenant), campaignSK+id),
		UpdateExpression: ex.Update(), ConditionExpression: ex.Condition(),
		ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(),
		ReturnValues: types.ReturnValueAllNew,
	})
	var cond *types.ConditionalCheckFailedException
	if errors.As(err, &cond) {
		// Either missing or being deleted; the read tells which.
		if _, err := s.get(ctx, tenantPK(tenant), campaignSK+id); err != nil {
			return domain.Campaign{}, fmt.Errorf("rename campaign %s/%s: %w", tenant, id, err)
		}
		return domain.Campaign{}, fmt.Errorf("rename campaign %s/%s: %w", tenant, id, ErrDeleting)
	}
	if err != nil {
		return domain.Campaign{}, fmt.Errorf("rename campaign %s/%s: %w", tenant, id, err)
	}
	return decodeCampaign(out.Attributes)
}

// campaign reads one of a tenant's campaigns.
func (s *Store) campaign(ctx context.Context, tenant, id string) (domain.Campaign, error) {
	item, err := s.get(ctx, tenantPK(tenant), campaignSK+id)
	if err != nil {
		return domain.Campaign{}, fmt.Errorf("get campaign %s/%s: %w", tenant, id, err)
	}
	return decodeCampaign(item)
}

// campaigns lists one page of a tenant's campaigns in ID order; the returned cursor is "" on the last page.
// A limit outside 1-MaxPage means 50 (below) or MaxPage (above).
func (s *Store) campaigns(ctx context.Context, tenant string, limit int, cursor string) ([]domain.Campaign, string, error) {
	items, next, err := s.pageTenant(ctx, tenant, campaignSK, limit, cursor)
	if err != nil {
		return nil, "", fmt.Errorf("list campaigns of %s: %w", tenant, err)
	}
	out := make([]domain.Campaign, 0, len(items))
	for _, it := range items {
		c, err := decodeCampaign(it)
		if err != nil {
			return nil, "", fmt.Errorf("list campaigns of %s: %w", tenant, err)
		}
		out = append(out, c)
	}
	return out, next, nil
}

func decodeCampaign(item map[string]types.AttributeValue) (domain.Campaign, error) {
	var it campaignItem
	if err := unmarshal(item, &it); err != nil {
		return domain.Campaign{}, err
	}
	return domain.Campaign{ID: it.ID, Name: it.Name, CreatedAt: parseTS(it.Created), Deleting: it.Deleting, DeletionJob: it.Job}, nil
}

// pageTenant reads one page of the tenant partition's items whose sort key starts with prefix, in sort
// key order. The cursor is the last returned sort key, base64url-encoded: it carries no tenant, so it
// cannot lead into another tenant's partition, and one that names another kind of item is refused.
func (s *Store) pageTenant(ctx context.Context, tenant, prefix string, limit int, cursor string) ([]map[string]types.AttributeValue, string, error) {
	return s.pagePartition(ctx, tenantPK(tenant), prefix, nil, limit, cursor)
}

// pagePartition is pageTenant for any partition pk of one tenant, with an optional filter. A filtered page
// may take several queries: DynamoDB applies Limit before the filter.
func (s *Store) pagePartition(ctx context.Context, pk, prefix string, filter *expression.ConditionBuilder, limit int, cursor string) ([]map[string]types.AttributeValue, string, error) {
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, MaxPage)
	b := expression.NewBuilder().WithKeyCondition(inPartition(pk, prefix))
	if filter != nil {
		b = b.WithFilter(*filter)
	}
	ex := build(b)
	in := &dynamodb.QueryInput{
		TableName: &s.table, ConsistentRead: aws.Bool(true), FilterExpression: ex.Filter(),
		KeyConditionExpression: ex.KeyCondition(), ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(),
	}
	if cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(cursor)
		if err != nil || len(b) <= len(prefix) || !strings.HasPrefix(string(b), prefix) {
			return nil, "", ErrBadCursor
		}
		in.ExclusiveStartKey = key(pk, string(b))
	}
	// Asking for one item more than the page tells whether another page follows, so the last page never
	// comes with a cursor to an empty one.
	var items []map[string]types.AttributeValue
	for {
		in.Limit = aws.Int32(int32(limit + 1 - len(items)))
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, "", err
		}
		items = append(items, out.Items...)
		if len(items) > limit || out.LastEvaluatedKey == nil {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	if len(items) <= limit {
		return items, "", nil
	}
	items = items[:limit]
	var last itemKey
	if err := unmarshal(items[limit-1], &last); err != nil {
		return nil, "", err
	}
	return items, base64.RawURLEncoding.EncodeToString([]byte(last.SK)), nil
}
