package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The retention sweep deletes leads and subject keys within an hour of their expiry, instead of whenever
// DynamoDB's TTL gets to them (typically days; TTL stays as the backstop). It reads the sparse byExpiry
// index hour by hour — only what expires carries its key — so its requests are bounded by what expired,
// never by the table. A checkpoint item (pk SWEEP, sk RETENTION) holds the last hour swept to the end.

// ExpiryHour is the byExpiry index key of an expiry time: its UTC hour.
func ExpiryHour(t time.Time) string { return t.UTC().Format("2006-01-02T15") }

// SweepLookback is how far back the first sweep starts, when there is no checkpoint yet.
const SweepLookback = 72 * time.Hour

// sweepSettle is how long after an hour has ended the sweep still reads it: the index is eventually
// consistent, and an hour checkpointed too early would leave a lead written just before to TTL.
const sweepSettle = time.Hour

const sweepPK, sweepSK = "SWEEP", "RETENTION"

// sweepItem is the sweep's checkpoint.
type sweepItem struct {
	itemKey
	Hour string `dynamodbav:"hour"`
}

// SweepReport is what one sweep did.
type SweepReport struct {
	// Hours is how many expiry hours it read; Queries how many index pages.
	Hours, Queries int
	// Leads and Keys are how many leads (with their notification records) and subject keys it deleted,
	// Leads also by tenant.
	Leads, Keys int
	ByTenant    map[string]int
}

// SweepExpired deletes every lead and subject key whose expiry has passed at now, from the hour after the
// checkpoint to now's hour, and moves the checkpoint past each hour it finished. A lead goes with its
// notification record and its reference to its subject key; a key goes when its own expiry has passed (a key
// expires with the last lead sealed under it). It is safe to run again, or beside TTL.
func (s *Store) SweepExpired(ctx context.Context, now time.Time) (SweepReport, error) {
	rep := SweepReport{ByTenant: map[string]int{}}
	var cp sweepItem
	start := now.Add(-SweepLookback).UTC().Truncate(time.Hour)
	if err := s.getItem(ctx, sweepPK, sweepSK, &cp); err == nil {
		if t, err := time.Parse("2006-01-02T15", cp.Hour); err == nil {
			start = t.Add(time.Hour)
		}
	} else if !errors.Is(err, ErrNotFound) {
		return rep, fmt.Errorf("sweep: read checkpoint: %w", err)
	}
	current := now.UTC().Truncate(time.Hour)
	for h := start; !h.After(current); h = h.Add(time.Hour) {
		if err := s.sweepHour(ctx, h, now, &rep); err != nil {
			return rep, err
		}
		rep.Hours++
		if !h.Add(time.Hour + sweepSettle).After(now) {
			// Everything of this hour has expired, long enough ago to be in the index, and is gone: later
			// runs start after it.
			if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table,
				Item: marshal(sweepItem{itemKey: itemKey{PK: sweepPK, SK: sweepSK}, Hour: ExpiryHour(h)})}); err != nil {
				return rep, fmt.Errorf("sweep: checkpoint: %w", err)
			}
		}
	}
	return rep, nil
}

// sweepHour deletes what of expiry hour h has expired at now.
func (s *Store) sweepHour(ctx context.Context, h, now time.Time, rep *SweepReport) error {
	ex := build(expression.NewBuilder().
		WithKeyCondition(expression.Key(AttrExpiryHour).Equal(expression.Value(ExpiryHour(h)))).
		WithFilter(expression.Name(AttrExpiresAt).LessThanEqual(expression.Value(now.Unix()))))
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName: &s.table, IndexName: aws.String(IndexByExpiry), FilterExpression: ex.Filter(),
		KeyConditionExpression: ex.KeyCondition(), ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("sweep hour %s: %w", ExpiryHour(h), err)
		}
		rep.Queries++
		leads := map[string][]map[string]types.AttributeValue{}
		var tenants []string
		for _, it := range page.Items {
			var k itemKey
			if err := unmarshal(it, &k); err != nil {
				return fmt.Errorf("sweep hour %s: %w", ExpiryHour(h), err)
			}
			if tenant, _, ok := ParseLeadKey(k.PK, k.SK); ok {
				if _, seen := leads[tenant]; !seen {
					tenants = append(tenants, tenant)
				}
				leads[tenant] = append(leads[tenant], it)
				continue
			}
			if k.SK == skKey {
				deleted, err := s.deleteExpiredKey(ctx, k, now)
				if err != nil {
					return fmt.Errorf("sweep hour %s: %w", ExpiryHour(h), err)
				}
				if deleted {
					rep.Keys++
				}
			}
		}
		for _, tenant := range tenants {
			n, err := s.deleteLeadPage(ctx, tenant, leads[tenant])
			rep.Leads += n
			rep.ByTenant[tenant] += n
			if err != nil {
				return fmt.Errorf("sweep hour %s: %w", ExpiryHour(h), err)
			}
		}
	}
	return nil
}

// deleteExpiredKey deletes a subject key whose expiry has passed; one a new lead extended meanwhile stays.
func (s *Store) deleteExpiredKey(ctx context.Context, k itemKey, now time.Time) (bool, error) {
	ex := onlyIf(expression.Name(AttrExpiresAt).LessThanEqual(expression.Value(now.Unix())))
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{{Delete: &types.Delete{
		TableName: &s.table, Key: key(k.PK, k.SK),
		ConditionExpression: ex.Condition(), ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(),
	}}}})
	var cancelled *types.TransactionCanceledException
	if errors.As(err, &cancelled) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("delete expired key: %w", err)
	}
	return true, nil
}

// BackfillExpiryHours gives every lead and subject key stored before expiry hours existed its expiry hour,
// so the retention sweep finds it rather than leaving it to TTL; it returns how many items it changed. A
// Scan, run once per deployment by the operators (`ops migrate expiry-hours`); running it again changes
// nothing. Each update is conditioned on the expiry it read, so a concurrent change is not overwritten.
func (s *Store) BackfillExpiryHours(ctx context.Context) (int, error) {
	sk, xh, exp := expression.Name(AttrSK), expression.Name(AttrExpiryHour), expression.Name(AttrExpiresAt)
	ex := build(expression.NewBuilder().
		WithFilter(expression.Or(sk.Equal(expression.Value(skLead)), sk.Equal(expression.Value(skKey))).
			And(expression.AttributeNotExists(xh)).And(expression.AttributeExists(exp))).
		WithProjection(expression.NamesList(expression.Name(AttrPK), sk, exp)))
	p := dynamodb.NewScanPaginator(s.db, &dynamodb.ScanInput{TableName: &s.table, FilterExpression: ex.Filter(),
		ProjectionExpression: ex.Projection(), ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values()})
	// An item that has expired already gets the current hour, which the next sweep reads whatever its
	// checkpoint (as setLeadExpiry does).
	now := s.now()
	changed := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return changed, fmt.Errorf("backfill expiry hours: %w", err)
		}
		for _, item := range page.Items {
			var it struct {
				itemKey
				ExpiresAt int64 `dynamodbav:"expiresAt"`
			}
			if err := unmarshal(item, &it); err != nil || it.ExpiresAt == 0 {
				continue
			}
			uex := build(expression.NewBuilder().
				WithCondition(exp.Equal(expression.Value(it.ExpiresAt)).And(expression.AttributeNotExists(xh))).
				WithUpdate(expression.Set(xh, expression.Value(ExpiryHour(time.Unix(max(it.ExpiresAt, now.Unix()), 0))))))
			_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.table, Key: key(it.PK, it.SK),
				UpdateExpression: uex.Update(), ConditionExpression: uex.Condition(),
				ExpressionAttributeNames: uex.Names(), ExpressionAttributeValues: uex.Values()})
			if isConditionFailed(err) {
				continue // changed meanwhile, by a writer that sets the hour itself
			}
			if err != nil {
				return changed, fmt.Errorf("backfill expiry hours: %w", err)
			}
			changed++
		}
	}
	return changed, nil
}
