package store

import (
	"context"
	"crypto/hmac"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"leadvault/shared/ddb"
	"leadvault/shared/domain"
)

// ErrBadCursor means a page cursor was not issued for this query.
var ErrBadCursor = errors.New("invalid page cursor")

// Page asks for one page of a campaign's leads, newest first, created in [From, To).
type Page struct {
	From, To time.Time // zero = unbounded
	Limit    int       // 1-100, default 50
	Cursor   string
}

// MaxPage is the largest page.
const MaxPage = 100

// leadsByCampaign lists one page of a campaign's leads, decrypted, newest first. A page costs one Query on
// the byCampaign index and one BatchGetItem for the subject keys it needs. Expired leads are never
// returned. The returned cursor, "" on the last page, is bound to the tenant, campaign and range.
func (s *Store) leadsByCampaign(ctx context.Context, tk Keys, campaign string, p Page) ([]domain.Lead, string, error) {
	tenant := tk.Tenant()
	limit := p.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, MaxPage)
	scope := fmt.Sprintf("%s|%s|%d|%d", tenant, campaign, p.From.Unix(), p.To.Unix())
	keyCond := expression.Key(AttrCampaign).Equal(expression.Value("T#" + tenant + "#C#" + campaign))
	// ct is "<createdAt>#<id>": everything created before To sorts below To itself.
	created := expression.Key(AttrCreated)
	switch {
	case !p.From.IsZero() && !p.To.IsZero():
		keyCond = keyCond.And(created.Between(expression.Value(sortKeyTime(p.From)), expression.Value(sortKeyTime(p.To))))
	case !p.From.IsZero():
		keyCond = keyCond.And(created.GreaterThanEqual(expression.Value(sortKeyTime(p.From))))
	case !p.To.IsZero():
		keyCond = keyCond.And(created.LessThanEqual(expression.Value(sortKeyTime(p.To))))
	}
	ex := build(expression.NewBuilder().WithKeyCondition(keyCond).
		WithFilter(expression.Name(AttrExpiresAt).GreaterThan(expression.Value(s.now().Unix()))))
	in := &dynamodb.QueryInput{
		TableName: &s.table, IndexName: aws.String(IndexByCampaign), ScanIndexForward: aws.Bool(false),
		Limit:                  aws.Int32(int32(limit)),
		KeyConditionExpression: ex.KeyCondition(), FilterExpression: ex.Filter(),
		ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(),
	}
	if p.Cursor != "" {
		start, err := openCursor(tk, scope, p.Cursor)
		if err != nil {
			return nil, "", err
		}
		in.ExclusiveStartKey = start
	}
	out, err := s.db.Query(ctx, in)
	if err != nil {
		return nil, "", fmt.Errorf("list campaign %s/%s: %w", tenant, campaign, err)
	}
	leads, err := s.openLeads(ctx, tk, out.Items)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if out.LastEvaluatedKey != nil {
		next = sealCursor(tk, scope, out.LastEvaluatedKey)
	}
	return leads, next, nil
}

// openLeads decrypts lead items of one tenant, fetching their subject keys in one BatchGetItem.
func (s *Store) openLeads(ctx context.Context, tk Keys, items []map[string]types.AttributeValue) ([]domain.Lead, error) {
	tenant := tk.Tenant()
	type decoded struct {
		lead   domain.Lead
		sealed []byte
	}
	subjects := map[string]bool{}
	var keys []map[string]types.AttributeValue
	all := make([]decoded, 0, len(items))
	for _, it := range items {
		l, sealed, err := decodeLead(it)
		if err != nil {
			return nil, fmt.Errorf("read leads of %s: %w", tenant, err)
		}
		all = append(all, decoded{l, sealed})
		if sub := l.SubjectID; !subjects[sub] {
			subjects[sub] = true
			keys = append(keys, key(subjectPK(tenant, sub), skKey))
		}
	}
	wrapped := map[string][]byte{}
	for len(keys) > 0 {
		out, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
			s.table: {Keys: keys, ConsistentRead: aws.Bool(true)},
		}})
		if err != nil {
			return nil, fmt.Errorf("read subject keys of %s: %w", tenant, err)
		}
		for _, it := range out.Responses[s.table] {
			var k subjectKeyItem
			if err := unmarshal(it, &k); err != nil {
				return nil, fmt.Errorf("read subject keys of %s: %w", tenant, err)
			}
			if !s.expired(it) {
				wrapped[strings.TrimPrefix(k.PK, "T#"+tenant+"#S#")] = k.Wrapped
			}
		}
		keys = out.UnprocessedKeys[s.table].Keys
	}
	leads := make([]domain.Lead, 0, len(items))
	for _, d := range all {
		l := d.lead
		w, ok := wrapped[l.SubjectID]
		if !ok {
			continue // shredded: nothing readable is left
		}
		plain, err := tk.OpenRecord(l.SubjectID, w, l.ID, d.sealed)
		if err != nil {
			return nil, fmt.Errorf("open lead %s/%s: %w", tenant, l.ID, err)
		}
		if err := json.Unmarshal(plain, &l.Personal); err != nil {
			return nil, fmt.Errorf("decode lead %s/%s: %w", tenant, l.ID, err)
		}
		leads = append(leads, l)
	}
	return leads, nil
}

// sealCursor encodes a LastEvaluatedKey with a MAC over it and the query's scope, so a client can only
// hand back cursors this store issued for the same tenant, campaign and range.
func sealCursor(tk Keys, scope string, last map[string]types.AttributeValue) string {
	var plain map[string]string
	_ = attributevalue.UnmarshalMap(last, &plain) // the index's keys are strings
	b, _ := json.Marshal(plain)
	body := base64.RawURLEncoding.EncodeToString(b)
	return body + "." + tk.Pseudonym("cursor", scope+"|"+body)
}

func openCursor(tk Keys, scope, cursor string) (map[string]types.AttributeValue, error) {
	body, mac, ok := strings.Cut(cursor, ".")
	if !ok || !hmac.Equal([]byte(mac), []byte(tk.Pseudonym("cursor", scope+"|"+body))) {
		return nil, ErrBadCursor
	}
	b, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return nil, ErrBadCursor
	}
	var plain map[string]string
	if err := json.Unmarshal(b, &plain); err != nil {
		return nil, ErrBadCursor
	}
	return marshal(plain), nil
}

// deleteLead deletes one lead and its notification record, and gives up the lead's reference to its
// subject key: when no other lead of the subject is sealed under the key, the same transaction deletes
// the key (crypto-shredding, E8), so that copies of the lead in backups become unreadable too; a key
// that other leads of the subject still use stays. A lead that has expired but is not yet removed by TTL
// is deleted without touching the key: that key may since have been replaced by a new one, to which the
// lead holds no reference.
func (s *Store) deleteLead(ctx context.Context, tenant, leadID string) error {
	for attempt := 0; ; attempt++ {
		item, err := s.getRaw(ctx, leadPK(tenant, leadID), skLead)
		if err != nil {
			return fmt.Errorf("delete lead %s/%s: %w", tenant, leadID, err)
		}
		if item == nil {
			return fmt.Errorf("delete lead %s/%s: %w", tenant, leadID, ErrNotFound)
		}
		var lead leadItem
		if err := unmarshal(item, &lead); err != nil {
			return fmt.Errorf("delete lead %s/%s: %w", tenant, leadID, err)
		}
		subject := lead.Subject
		// The subject decides which key loses a reference: a rectification in between moves the lead.
		ex := onlyIf(exists().And(expression.Name(attrSubject).Equal(expression.Value(subject))))
		items := []types.TransactWriteItem{
			{Delete: &types.Delete{
				TableName: &s.table, Key: key(leadPK(tenant, leadID), skLead),
				ConditionExpression: ex.Condition(), ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(),
			}},
			{Delete: &types.Delete{TableName: &s.table, Key: key(leadPK(tenant, leadID), skNotified)}},
		}
		if !s.expired(item) {
			keyItem, err := s.getRaw(ctx, subjectPK(tenant, subject), skKey)
			if err != nil {
				return fmt.Errorf("delete lead %s/%s: read subject key: %w", tenant, leadID, err)
			}
			if op, ok := s.releaseKeyOp(tenant, subject, keyItem, 1); ok {
				items = append(items, op)
			}
		}
		items = append(items, s.countOps(tenant, ReasonLead, 1)...)
		_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		if err == nil {
			return nil
		}
		var cancelled *types.TransactionCanceledException
		if !errors.As(err, &cancelled) || attempt == ddb.TxAttempts-1 {
			return fmt.Errorf("delete lead %s/%s: %w", tenant, leadID, err)
		}
		// The lead or its key changed since they were read (the lead deleted or rectified, a lead of the
		// same subject stored or deleted), or a concurrent transaction held them: read again and retry.
		if r := cancelled.CancellationReasons; len(r) == 0 || ddb.Code(r[0]) != "ConditionalCheckFailed" {
			if err := ddb.Backoff(ctx, attempt); err != nil {
				return fmt.Errorf("delete lead %s/%s: %w", tenant, leadID, err)
			}
		}
	}
}
