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
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"leadvault/shared/ddb"
	"leadvault/shared/domain"
	"leadvault/shared/vault"
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

// LeadsByCampaign lists one page of a campaign's leads, decrypted, newest first. A page costs one Query on
// the byCampaign index and one BatchGetItem for the subject keys it needs. Expired leads are never
// returned. The returned cursor, "" on the last page, is bound to the tenant, campaign and range.
func (s *Store) LeadsByCampaign(ctx context.Context, tk *vault.TenantKey, campaign string, p Page) ([]domain.Lead, string, error) {
	tenant := tk.Tenant()
	limit := p.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, MaxPage)
	scope := fmt.Sprintf("%s|%s|%d|%d", tenant, campaign, p.From.Unix(), p.To.Unix())
	in := &dynamodb.QueryInput{
		TableName: &s.table, IndexName: aws.String(IndexByCampaign), ScanIndexForward: aws.Bool(false),
		Limit:                    aws.Int32(int32(limit)),
		KeyConditionExpression:   aws.String("camp = :c"),
		FilterExpression:         aws.String("expiresAt > :now"),
		ExpressionAttributeNames: map[string]string{},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":c": str("T#" + tenant + "#C#" + campaign), ":now": num(s.now().Unix()),
		},
	}
	switch {
	case !p.From.IsZero() && !p.To.IsZero():
		in.KeyConditionExpression = aws.String("camp = :c AND ct BETWEEN :from AND :to")
	case !p.From.IsZero():
		in.KeyConditionExpression = aws.String("camp = :c AND ct >= :from")
	case !p.To.IsZero():
		in.KeyConditionExpression = aws.String("camp = :c AND ct <= :to")
	}
	if !p.From.IsZero() {
		in.ExpressionAttributeValues[":from"] = str(sortKeyTime(p.From))
	}
	if !p.To.IsZero() {
		// ct is "<createdAt>#<id>": everything created before To sorts below To itself.
		in.ExpressionAttributeValues[":to"] = str(sortKeyTime(p.To))
	}
	if len(in.ExpressionAttributeNames) == 0 {
		in.ExpressionAttributeNames = nil
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
func (s *Store) openLeads(ctx context.Context, tk *vault.TenantKey, items []map[string]types.AttributeValue) ([]domain.Lead, error) {
	tenant := tk.Tenant()
	subjects := map[string]bool{}
	var keys []map[string]types.AttributeValue
	for _, it := range items {
		if sub := getS(it, "subj"); !subjects[sub] {
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
			if !s.expired(it) {
				wrapped[strings.TrimPrefix(getS(it, AttrPK), "T#"+tenant+"#S#")] = getB(it, "wk")
			}
		}
		keys = out.UnprocessedKeys[s.table].Keys
	}
	leads := make([]domain.Lead, 0, len(items))
	for _, it := range items {
		l := decodeLead(it)
		w, ok := wrapped[l.SubjectID]
		if !ok {
			continue // shredded: nothing readable is left
		}
		sk, err := tk.OpenSubjectKey(l.SubjectID, w)
		if err != nil {
			return nil, fmt.Errorf("open lead %s/%s: %w", tenant, l.ID, err)
		}
		plain, err := sk.Open(getB(it, "pd"), vault.RecordAAD(tenant, l.ID))
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
func sealCursor(tk *vault.TenantKey, scope string, last map[string]types.AttributeValue) string {
	plain := map[string]string{}
	for k := range last {
		plain[k] = getS(last, k)
	}
	b, _ := json.Marshal(plain)
	body := base64.RawURLEncoding.EncodeToString(b)
	return body + "." + tk.Pseudonym("cursor", scope+"|"+body)
}

func openCursor(tk *vault.TenantKey, scope, cursor string) (map[string]types.AttributeValue, error) {
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
	out := map[string]types.AttributeValue{}
	for k, v := range plain {
		out[k] = str(v)
	}
	return out, nil
}

// DeleteLead deletes one lead and its notification record, and gives up the lead's reference to its
// subject key: when no other lead of the subject is sealed under the key, the same transaction deletes
// the key (crypto-shredding, E8), so that copies of the lead in backups become unreadable too; a key
// that other leads of the subject still use stays. A lead that has expired but is not yet removed by TTL
// is deleted without touching the key: that key may since have been replaced by a new one, to which the
// lead holds no reference.
func (s *Store) DeleteLead(ctx context.Context, tenant, leadID string) error {
	for attempt := 0; ; attempt++ {
		item, err := s.getRaw(ctx, leadPK(tenant, leadID), skLead)
		if err != nil {
			return fmt.Errorf("delete lead %s/%s: %w", tenant, leadID, err)
		}
		if item == nil {
			return fmt.Errorf("delete lead %s/%s: %w", tenant, leadID, ErrNotFound)
		}
		subject := getS(item, "subj")
		items := []types.TransactWriteItem{
			{Delete: &types.Delete{
				TableName: &s.table, Key: key(leadPK(tenant, leadID), skLead),
				// The subject decides which key loses a reference: a rectification in between moves the lead.
				ConditionExpression:       aws.String("attribute_exists(pk) AND subj = :subj"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":subj": str(subject)},
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
