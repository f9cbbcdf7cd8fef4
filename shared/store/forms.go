package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"leadvault/shared/domain"
)

// PutForm creates or replaces a form. Form IDs are public and unique across tenants: another tenant's ID
// fails with ErrExists. The configuration and its route are written in one transaction.
func (s *Store) PutForm(ctx context.Context, f domain.Form) error {
	if err := f.Validate(); err != nil {
		return fmt.Errorf("put form %s: %w", f.ID, err)
	}
	cfg, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("put form %s: %w", f.ID, err)
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{
			TableName:                 &s.table,
			Item:                      map[string]types.AttributeValue{AttrPK: str(routePK(f.ID)), AttrSK: str(skRoute), "tenant": str(f.TenantID)},
			ConditionExpression:       aws.String("attribute_not_exists(pk) OR tenant = :t"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":t": str(f.TenantID)},
		}},
		{Put: &types.Put{
			TableName: &s.table,
			Item:      map[string]types.AttributeValue{AttrPK: str(tenantPK(f.TenantID)), AttrSK: str(formSK + f.ID), "cfg": str(string(cfg))},
			// A form belongs to an existing tenant.
		}},
		{ConditionCheck: &types.ConditionCheck{
			TableName:           &s.table,
			Key:                 key(tenantPK(f.TenantID), skTenant),
			ConditionExpression: aws.String("attribute_exists(pk)"),
		}},
	}})
	var cancelled *types.TransactionCanceledException
	if errors.As(err, &cancelled) {
		reasons := cancelled.CancellationReasons
		if len(reasons) == 3 && aws.ToString(reasons[2].Code) == "ConditionalCheckFailed" {
			return fmt.Errorf("put form %s: tenant %s: %w", f.ID, f.TenantID, ErrNotFound)
		}
		if len(reasons) > 0 && aws.ToString(reasons[0].Code) == "ConditionalCheckFailed" {
			return fmt.Errorf("put form %s: %w", f.ID, ErrExists)
		}
	}
	if err != nil {
		return fmt.Errorf("put form %s: %w", f.ID, err)
	}
	return nil
}

// FormByID resolves a public form ID to its tenant's configuration.
func (s *Store) FormByID(ctx context.Context, formID string) (domain.Form, error) {
	route, err := s.get(ctx, routePK(formID), skRoute)
	if err != nil {
		return domain.Form{}, fmt.Errorf("route form %s: %w", formID, err)
	}
	return s.Form(ctx, getS(route, "tenant"), formID)
}

// Form reads one of a tenant's forms.
func (s *Store) Form(ctx context.Context, tenant, formID string) (domain.Form, error) {
	item, err := s.get(ctx, tenantPK(tenant), formSK+formID)
	if err != nil {
		return domain.Form{}, fmt.Errorf("get form %s/%s: %w", tenant, formID, err)
	}
	var f domain.Form
	if err := json.Unmarshal([]byte(getS(item, "cfg")), &f); err != nil {
		return domain.Form{}, fmt.Errorf("decode form %s/%s: %w", tenant, formID, err)
	}
	if f.TenantID != tenant || f.ID != formID {
		return domain.Form{}, fmt.Errorf("form %s/%s: stored configuration names %s/%s", tenant, formID, f.TenantID, f.ID)
	}
	return f, nil
}
