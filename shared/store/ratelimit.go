package store

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// RateWindow is the length of a fixed rate-limit window.
const RateWindow = time.Minute

// countHit adds one hit to a tenant's fixed-window counter named scope and returns the count so far in
// the current window and when the window ends. Counters expire by TTL a window after they close; since
// the window start is part of the key, an old counter is never read again.
func (s *Store) countHit(ctx context.Context, tenant, scope string) (count int64, windowEnd time.Time, err error) {
	now := s.now()
	start := now.Truncate(RateWindow)
	end := start.Add(RateWindow)
	pk := fmt.Sprintf("T#%s#RL#%s#%d", tenant, scope, start.Unix())
	ex := build(expression.NewBuilder().WithUpdate(expression.Add(expression.Name(AttrCount), expression.Value(1)).
		Set(expression.Name(AttrExpiresAt), expression.Value(end.Add(RateWindow).Unix()))))
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.table, Key: key(pk, skCounter),
		UpdateExpression: ex.Update(), ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(),
		ReturnValues: types.ReturnValueUpdatedNew,
	})
	if err != nil {
		return 0, end, fmt.Errorf("count hit %s/%s: %w", tenant, scope, err)
	}
	var c counterItem
	if err := unmarshal(out.Attributes, &c); err != nil {
		return 0, end, fmt.Errorf("count hit %s/%s: %w", tenant, scope, err)
	}
	return c.N, end, nil
}
