package store

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"leadvault/shared/ddb"
	"leadvault/shared/domain"
)

// leadIDsBySubject returns the IDs of the key's tenant's leads whose normalised e-mail or phone equals the
// given ones (either may be empty), oldest first. It queries the blind-index GSIs; it never scans. The
// indexes are eventually consistent: a lead stored a moment ago may be missing.
func (s *Store) leadIDsBySubject(ctx context.Context, tk Keys, email, phone string) ([]string, error) {
	return s.leadsByIndex(ctx, tk.Tenant(), IndexSubject(tk, email, phone), time.Time{})
}

// IndexSubject returns the blind-index values under which the table finds the data subject with these
// normalised identifiers (either may be empty).
func IndexSubject(tk Keys, email, phone string) domain.SubjectIndex {
	var idx domain.SubjectIndex
	if email != "" {
		idx.Email = emailIndex(tk, email)
	}
	if phone != "" {
		idx.Phone = tk.BlindIndex(kindPhone, phone)
	}
	return idx
}

// LeadsOfSubject returns the IDs of the tenant's leads found under a subject's blind-index values, oldest
// first, by querying the blind-index GSIs (never a scan): a request costs the same whatever the table holds.
func (v *Scoped) LeadsOfSubject(ctx context.Context, idx domain.SubjectIndex) ([]string, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	return v.s.leadsByIndex(ctx, v.tenant, idx, time.Time{})
}

// leadsByIndex returns the IDs of the tenant's leads under idx, oldest first; with until set, only those
// created at or before it.
func (s *Store) leadsByIndex(ctx context.Context, tenant string, idx domain.SubjectIndex, until time.Time) ([]string, error) {
	seen := map[string]string{} // lead ID → created sort key
	lookups := []struct{ index, attr, value string }{
		{IndexByEmail, AttrEmailBI, indexValue(tenant, "E", idx.Email)},
		{IndexByPhone, AttrPhoneBI, indexValue(tenant, "P", idx.Phone)},
	}
	for _, l := range lookups {
		if l.value == "" {
			continue
		}
		cond := expression.Key(l.attr).Equal(expression.Value(l.value))
		if !until.IsZero() {
			// Created sort keys are "<fixed-width time>#<lead>": every key of that instant sorts below "~".
			cond = cond.And(expression.Key(AttrCreated).LessThanEqual(expression.Value(sortKeyTime(until) + "~")))
		}
		ex := build(expression.NewBuilder().WithKeyCondition(cond))
		p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
			TableName: &s.table, IndexName: aws.String(l.index),
			KeyConditionExpression: ex.KeyCondition(), ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(),
		})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("query %s for tenant %s: %w", l.index, tenant, err)
			}
			for _, item := range page.Items {
				// Keys-only index: expiry is checked when the lead itself is read.
				var k struct {
					itemKey
					Created string `dynamodbav:"ct"`
				}
				if err := unmarshal(item, &k); err != nil {
					return nil, fmt.Errorf("query %s for tenant %s: %w", l.index, tenant, err)
				}
				if t, lead, ok := ParseLeadKey(k.PK, k.SK); ok && t == tenant {
					seen[lead] = k.Created
				}
			}
		}
	}
	ids := make([]string, 0, len(seen))
	for id := range seen {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return seen[ids[i]] < seen[ids[j]] })
	return ids, nil
}

func indexValue(tenant, kind, bi string) string {
	if bi == "" {
		return ""
	}
	return "T#" + tenant + "#" + kind + "#" + bi
}

func emailIndexValue(tk Keys, email string) string {
	if email == "" {
		return ""
	}
	return indexValue(tk.Tenant(), "E", emailIndex(tk, email))
}

func phoneIndexValue(tk Keys, phone string) string {
	if phone == "" {
		return ""
	}
	return indexValue(tk.Tenant(), "P", tk.BlindIndex(kindPhone, phone))
}

// SubjectRecords reads and decrypts the tenant's leads with these IDs, with their notification records
// (keyed by lead ID), 50 leads to a BatchGetItem; leads gone or shredded meanwhile are left out. tk must be
// the tenant's key.
func (v *Scoped) SubjectRecords(ctx context.Context, tk Keys, ids []string) ([]domain.Lead, map[string]domain.Notification, error) {
	if err := v.key(tk); err != nil {
		return nil, nil, err
	}
	s, tenant := v.s, v.tenant
	var leads []domain.Lead
	notified := map[string]domain.Notification{}
	for start := 0; start < len(ids); start += 50 {
		var keys []map[string]types.AttributeValue
		for _, id := range ids[start:min(start+50, len(ids))] {
			keys = append(keys, key(leadPK(tenant, id), skLead), key(leadPK(tenant, id), skNotified))
		}
		var items []map[string]types.AttributeValue
		for attempt := 0; len(keys) > 0; attempt++ {
			if attempt > 0 {
				if err := ddb.Backoff(ctx, attempt); err != nil {
					return nil, nil, fmt.Errorf("read leads of %s: %w", tenant, err)
				}
			}
			out, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
				s.table: {Keys: keys, ConsistentRead: aws.Bool(true)},
			}})
			if err != nil {
				return nil, nil, fmt.Errorf("read leads of %s: %w", tenant, err)
			}
			for _, it := range out.Responses[s.table] {
				if s.expired(it) {
					continue
				}
				var k itemKey
				if err := unmarshal(it, &k); err != nil {
					return nil, nil, fmt.Errorf("read leads of %s: %w", tenant, err)
				}
				_, lead, _ := ParseLeadKey(k.PK, skLead)
				if k.SK != skNotified {
					items = append(items, it)
					continue
				}
				var n notificationItem
				if err := unmarshal(it, &n); err != nil {
					return nil, nil, fmt.Errorf("read notifications of %s: %w", tenant, err)
				}
				notified[lead] = domain.Notification{TenantID: tenant, LeadID: lead, MessageID: n.MessageID, Recipients: n.To,
					SentAt: parseTS(n.SentAt), ExpiresAt: time.Unix(n.ExpiresAt, 0).UTC()}
			}
			keys = out.UnprocessedKeys[s.table].Keys
		}
		opened, err := s.openLeads(ctx, tk, items)
		if err != nil {
			return nil, nil, err
		}
		leads = append(leads, opened...)
	}
	sort.Slice(leads, func(i, j int) bool { return leads[i].CreatedAt.Before(leads[j].CreatedAt) })
	return leads, notified, nil
}
