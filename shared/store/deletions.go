package store

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Proof of deletion: per tenant and day, how many leads were deleted and why (pk T#<tenant>#DELSTATS, sk
// the day, one number attribute per reason). No personal data, no IDs: counts only. Kept as long as the
// audit trail's default.

// The reasons a lead is deleted.
const (
	ReasonRetention   = "retention"    // its retention ran out (the sweep)
	ReasonErasure     = "erasure"      // a data subject's erasure request
	ReasonCampaign    = "campaign"     // its campaign was deleted
	ReasonLead        = "lead"         // the controller deleted it
	ReasonContractEnd = "contract-end" // the tenant's contract ended
)

// DeletionReasons are the reasons, in the order reports list them.
var DeletionReasons = []string{ReasonRetention, ReasonErasure, ReasonCampaign, ReasonLead, ReasonContractEnd}

func statsPK(tenant string) string { return "T#" + tenant + "#DELSTATS" }

func statsDay(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// countOp is the update that adds n deletions for reason to the tenant's count of at's day.
func (s *Store) countOp(tenant, reason string, n int, at time.Time) types.TransactWriteItem {
	ex := build(expression.NewBuilder().WithUpdate(expression.Add(expression.Name(reason), expression.Value(n)).
		Set(expression.Name(AttrExpiresAt), expression.Value(at.Add(RequestRetention).Unix()))))
	return types.TransactWriteItem{Update: &types.Update{
		TableName: &s.table, Key: key(statsPK(tenant), statsDay(at)),
		UpdateExpression: ex.Update(), ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(),
	}}
}

// CountDeletions adds n deletions for reason to the tenant's proof of deletion of at's day.
func (v *Scoped) CountDeletions(ctx context.Context, reason string, n int, at time.Time) error {
	if err := v.check(); err != nil {
		return err
	}
	if n <= 0 {
		return nil
	}
	op := v.s.countOp(v.tenant, reason, n, at).Update
	if _, err := v.s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: op.TableName, Key: op.Key,
		UpdateExpression: op.UpdateExpression, ExpressionAttributeNames: op.ExpressionAttributeNames,
		ExpressionAttributeValues: op.ExpressionAttributeValues}); err != nil {
		return fmt.Errorf("count deletions of %s: %w", v.tenant, err)
	}
	return nil
}

// DeletionDay is one day's proof of deletion: leads deleted by reason.
type DeletionDay struct {
	Day      string
	ByReason map[string]int64
}

// DeletionReport returns the tenant's days with deletions from from to to (dates, inclusive), oldest
// first. It queries the tenant's partition, never scans.
func (v *Scoped) DeletionReport(ctx context.Context, from, to time.Time) ([]DeletionDay, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	ex := build(expression.NewBuilder().WithKeyCondition(expression.Key(AttrPK).Equal(expression.Value(statsPK(v.tenant))).
		And(expression.Key(AttrSK).Between(expression.Value(statsDay(from)), expression.Value(statsDay(to))))))
	p := dynamodb.NewQueryPaginator(v.s.db, &dynamodb.QueryInput{TableName: &v.s.table,
		KeyConditionExpression: ex.KeyCondition(), ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values()})
	var days []DeletionDay
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("deletion report of %s: %w", v.tenant, err)
		}
		for _, item := range page.Items {
			var raw map[string]any
			if err := unmarshal(item, &raw); err != nil {
				return nil, fmt.Errorf("deletion report of %s: %w", v.tenant, err)
			}
			d := DeletionDay{Day: fmt.Sprint(raw[AttrSK]), ByReason: map[string]int64{}}
			for _, r := range DeletionReasons {
				if n, ok := raw[r].(float64); ok {
					d.ByReason[r] = int64(n)
				}
			}
			days = append(days, d)
		}
	}
	return days, nil
}

// countOps is countOp as of now for n > 0, nothing otherwise.
func (s *Store) countOps(tenant, reason string, n int) []types.TransactWriteItem {
	if n <= 0 {
		return nil
	}
	return []types.TransactWriteItem{s.countOp(tenant, reason, n, s.now())}
}
