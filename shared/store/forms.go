package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"leadvault/shared/ddb"
	"leadvault/shared/domain"
)

// putForm creates or replaces a form. Form IDs and inbound aliases are public and unique across tenants:
// another tenant's ID or alias fails with ErrExists. The configuration, its route and its alias route are
// written in one transaction; an alias the form no longer uses is released in the same transaction.
func (s *Store) putForm(ctx context.Context, f domain.Form) error {
	if err := f.Validate(); err != nil {
		return fmt.Errorf("put form %s: %w", f.ID, err)
	}
	cfg, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("put form %s: %w", f.ID, err)
	}
	previous, err := s.form(ctx, f.TenantID, f.ID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("put form %s: %w", f.ID, err)
	}
	tenantIs := expression.Name(AttrTenant).Equal(expression.Value(f.TenantID))
	owned := tenantIs.And(expression.Name(AttrForm).Equal(expression.Value(f.ID)))
	route, tenantThere := onlyIf(absent().Or(tenantIs)), onlyIf(exists())
	items := []types.TransactWriteItem{
		{Put: &types.Put{
			TableName:           &s.table,
			Item:                marshal(routeItem{itemKey: itemKey{PK: routePK(f.ID), SK: skRoute}, Tenant: f.TenantID}),
			ConditionExpression: route.Condition(), ExpressionAttributeNames: route.Names(), ExpressionAttributeValues: route.Values(),
		}},
		{Put: &types.Put{
			TableName: &s.table,
			Item:      marshal(formItem{itemKey: itemKey{PK: tenantPK(f.TenantID), SK: formSK + f.ID}, Config: string(cfg)}),
		}},
		// A form belongs to an existing tenant.
		{ConditionCheck: &types.ConditionCheck{
			TableName: &s.table, Key: key(tenantPK(f.TenantID), skTenant),
			ConditionExpression: tenantThere.Condition(), ExpressionAttributeNames: tenantThere.Names(),
		}},
	}
	if f.InboundAlias != "" {
		ex := onlyIf(absent().Or(owned))
		items = append(items, types.TransactWriteItem{Put: &types.Put{
			TableName:           &s.table,
			Item:                marshal(routeItem{itemKey: itemKey{PK: aliasPK(f.InboundAlias), SK: skRoute}, Tenant: f.TenantID, Form: f.ID}),
			ConditionExpression: ex.Condition(), ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(),
		}})
	}
	if old := previous.InboundAlias; old != "" && old != f.InboundAlias {
		ex := onlyIf(owned)
		items = append(items, types.TransactWriteItem{Delete: &types.Delete{
			TableName: &s.table, Key: key(aliasPK(old), skRoute),
			ConditionExpression: ex.Condition(), ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(),
		}})
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	var cancelled *types.TransactionCanceledException
	if errors.As(err, &cancelled) && len(cancelled.CancellationReasons) == len(items) {
		reasons := cancelled.CancellationReasons
		switch {
		case ddb.Code(reasons[2]) == "ConditionalCheckFailed":
			return fmt.Errorf("put form %s: tenant %s: %w", f.ID, f.TenantID, ErrNotFound)
		case ddb.Code(reasons[0]) == "ConditionalCheckFailed":
			return fmt.Errorf("put form %s: form ID taken: %w", f.ID, ErrExists)
		case len(reasons) > 3 && ddb.Code(reasons[3]) == "ConditionalCheckFailed" && f.InboundAlias != "":
			return fmt.Errorf("put form %s: inbound alias %s taken: %w", f.ID, f.InboundAlias, ErrExists)
		}
	}
	if err != nil {
		return fmt.Errorf("put form %s: %w", f.ID, err)
	}
	return nil
}

// FormByAlias resolves an inbound mail alias to its form.
func (s *Store) FormByAlias(ctx context.Context, alias string) (domain.Form, error) {
	var route routeItem
	if err := s.getItem(ctx, aliasPK(alias), skRoute, &route); err != nil {
		return domain.Form{}, fmt.Errorf("route alias %s: %w", alias, err)
	}
	return s.form(ctx, route.Tenant, route.Form)
}

// FormByID resolves a public form ID to its tenant's configuration.
func (s *Store) FormByID(ctx context.Context, formID string) (domain.Form, error) {
	var route routeItem
	if err := s.getItem(ctx, routePK(formID), skRoute, &route); err != nil {
		return domain.Form{}, fmt.Errorf("route form %s: %w", formID, err)
	}
	return s.form(ctx, route.Tenant, formID)
}

// form reads one of a tenant's forms.
func (s *Store) form(ctx context.Context, tenant, formID string) (domain.Form, error) {
	var it formItem
	if err := s.getItem(ctx, tenantPK(tenant), formSK+formID, &it); err != nil {
		return domain.Form{}, fmt.Errorf("get form %s/%s: %w", tenant, formID, err)
	}
	var f domain.Form
	if err := json.Unmarshal([]byte(it.Config), &f); err != nil {
		return domain.Form{}, fmt.Errorf("decode form %s/%s: %w", tenant, formID, err)
	}
	if f.TenantID != tenant || f.ID != formID {
		return domain.Form{}, fmt.Errorf("form %s/%s: stored configuration names %s/%s", tenant, formID, f.TenantID, f.ID)
	}
	return f, nil
}

// forms lists one page of a tenant's forms in ID order, enabled or not; the cursor works as for Campaigns.
func (s *Store) forms(ctx context.Context, tenant string, limit int, cursor string) ([]domain.Form, string, error) {
	items, next, err := s.pageTenant(ctx, tenant, formSK, limit, cursor)
	if err != nil {
		return nil, "", fmt.Errorf("list forms of %s: %w", tenant, err)
	}
	out := make([]domain.Form, 0, len(items))
	for _, item := range items {
		var it formItem
		var f domain.Form
		if err := unmarshal(item, &it); err != nil {
			return nil, "", fmt.Errorf("list forms of %s: %w", tenant, err)
		}
		if err := json.Unmarshal([]byte(it.Config), &f); err != nil {
			return nil, "", fmt.Errorf("decode form %s/%s: %w", tenant, it.SK, err)
		}
		if f.TenantID != tenant {
			return nil, "", fmt.Errorf("form %s/%s: stored configuration names tenant %s", tenant, f.ID, f.TenantID)
		}
		out = append(out, f)
	}
	return out, next, nil
}
