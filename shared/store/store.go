// Package store keeps Leadvault's data in one DynamoDB table.
//
// Every key of tenant data begins with "T#<tenant>#" (or is "T#<tenant>"), and every method takes the tenant
// explicitly, so no caller can reach another tenant's items. The exceptions are the routes "FORM#<formID>"
// and "ALIAS#<alias>", which map a public form ID or inbound mail alias to its tenant and hold no personal
// data. Expired items are
// never returned, whether or not DynamoDB's TTL has deleted them yet.
package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"leadvault/shared/domain"
)

// DynamoDB is the part of the DynamoDB API the store uses.
type DynamoDB interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	// Scan and BatchWriteItem serve the purge at a contract's end only (contract.go).
	Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
}

var _ DynamoDB = (*dynamodb.Client)(nil)

// Keys is what the store needs of a tenant's key to keep the tenant's leads: blind indexes and
// pseudonyms (keyed hashes) to find and page them, and sealing and opening of a record's personal data
// under its subject's key. Encryption and every key in the clear stay inside the implementation
// (*vault.TenantKey); the store persists the ciphertexts and wrapped subject keys it is given.
type Keys interface {
	Tenant() string
	BlindIndex(kind, normalised string) string
	Pseudonym(purpose, value string) string
	SealRecord(subjectID string, wrapped []byte, recordID string, plain []byte) (sealed, newWrapped []byte, err error)
	OpenRecord(subjectID string, wrapped []byte, recordID string, sealed []byte) ([]byte, error)
}

// Errors callers match with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
)

// Store reads and writes the table. Tenant data is reached only through Scoped, which checks that every
// key and item it is handed belongs to its tenant; Store itself exports only what comes before a tenant is
// known (the public form and alias routes), the tenant record, operators' provisioning, and the queue of
// pending campaign deletions.
type Store struct {
	db    DynamoDB
	table string
	now   func() time.Time
	// settle is how long after its start a campaign deletion may finish (see WithDeletionSettle).
	settle time.Duration
}

// New returns a Store for the named table.
func New(db DynamoDB, table string) *Store {
	return &Store{db: db, table: table, now: time.Now}
}

// WithClock returns a copy of the store that reads time from now (tests of expiry).
func (s *Store) WithClock(now func() time.Time) *Store {
	c := *s
	c.now = now
	return &c
}

// WithDeletionSettle returns a copy of the store whose campaign deletions finish no earlier than d after
// they started: submissions accepted by an intake instance that still had the campaign's form cached as
// enabled (for up to intake's configuration cache time) are then deleted too, rather than left behind.
func (s *Store) WithDeletionSettle(d time.Duration) *Store {
	c := *s
	c.settle = d
	return &c
}

// Key builders. Tenant IDs, form IDs and lead IDs never contain '#' (see domain.ValidID and uuid).
func tenantPK(tenant string) string           { return "T#" + tenant }
func leadPK(tenant, lead string) string       { return "T#" + tenant + "#L#" + lead }
func subjectPK(tenant, subject string) string { return "T#" + tenant + "#S#" + subject }
func idemPK(tenant, key string) string        { return "T#" + tenant + "#IDEM#" + key }
func routePK(form string) string              { return "FORM#" + form }
func aliasPK(alias string) string             { return "ALIAS#" + alias }

const (
	skTenant   = "TENANT"
	skRoute    = "ROUTE"
	skLead     = SKLead
	skKey      = "KEY"
	skIdem     = "IDEM"
	skCounter  = "RL"
	skNotified = "NOTIFIED"
	formSK     = "FORM#"
)

// ParseLeadKey returns the tenant and lead ID of a lead item's primary key, as found in stream records.
func ParseLeadKey(pk, sk string) (tenant, lead string, ok bool) {
	if sk != skLead {
		return "", "", false
	}
	rest, ok := strings.CutPrefix(pk, "T#")
	if !ok {
		return "", "", false
	}
	tenant, lead, ok = strings.Cut(rest, "#L#")
	if !ok || tenant == "" || lead == "" {
		return "", "", false
	}
	return tenant, lead, true
}

// expired reports whether an item's expiry has passed; items without expiry never expire.
func (s *Store) expired(item map[string]types.AttributeValue) bool {
	var e struct {
		ExpiresAt int64 `dynamodbav:"expiresAt"`
	}
	_ = attributevalue.UnmarshalMap(item, &e) // an expiry of the wrong type is none
	return e.ExpiresAt != 0 && e.ExpiresAt <= s.now().Unix()
}

// get reads one item with a strongly consistent read and hides expired items.
func (s *Store) get(ctx context.Context, pk, sk string) (map[string]types.AttributeValue, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: key(pk, sk), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, err
	}
	if out.Item == nil || s.expired(out.Item) {
		return nil, ErrNotFound
	}
	return out.Item, nil
}

// getItem reads one item into v with a strongly consistent read; an absent or expired item is ErrNotFound.
func (s *Store) getItem(ctx context.Context, pk, sk string, v any) error {
	item, err := s.get(ctx, pk, sk)
	if err != nil {
		return err
	}
	return unmarshal(item, v)
}

// Bounds of a tenant's audit retention.
const (
	MinAuditRetentionDays = 365
	MaxAuditRetentionDays = 10 * 365
)

// SetAuditRetention sets how long a tenant's audit records are kept from now on (records already written
// keep their expiry); 0 restores the default.
func (s *Store) SetAuditRetention(ctx context.Context, tenant string, days int) error {
	if days != 0 && (days < MinAuditRetentionDays || days > MaxAuditRetentionDays) {
		return fmt.Errorf("audit retention of %s: %d days is outside %d-%d", tenant, days, MinAuditRetentionDays, MaxAuditRetentionDays)
	}
	ex := build(expression.NewBuilder().WithCondition(exists()).
		WithUpdate(expression.Set(expression.Name(AttrAudit), expression.Value(days))))
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.table, Key: key(tenantPK(tenant), skTenant),
		UpdateExpression: ex.Update(), ConditionExpression: ex.Condition(),
		ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(),
	})
	var cond *types.ConditionalCheckFailedException
	if errors.As(err, &cond) {
		return fmt.Errorf("audit retention of %s: %w", tenant, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("audit retention of %s: %w", tenant, err)
	}
	return nil
}

// PutTenant creates a tenant; it fails with ErrExists if the ID is taken.
func (s *Store) PutTenant(ctx context.Context, t domain.Tenant) error {
	ex := onlyIf(absent())
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &s.table,
		Item: marshal(tenantItem{itemKey: itemKey{PK: tenantPK(t.ID), SK: skTenant}, Name: t.Name, Wrapped: t.WrappedKey,
			CreatedAt: ts(t.CreatedAt)}),
		ConditionExpression: ex.Condition(), ExpressionAttributeNames: ex.Names(),
	})
	var cond *types.ConditionalCheckFailedException
	if errors.As(err, &cond) {
		return fmt.Errorf("put tenant %s: %w", t.ID, ErrExists)
	}
	if err != nil {
		return fmt.Errorf("put tenant %s: %w", t.ID, err)
	}
	return nil
}

// Tenant reads a tenant.
func (s *Store) Tenant(ctx context.Context, id string) (domain.Tenant, error) {
	item, err := s.get(ctx, tenantPK(id), skTenant)
	if err != nil {
		return domain.Tenant{}, fmt.Errorf("get tenant %s: %w", id, err)
	}
	var it tenantItem
	if err := unmarshal(item, &it); err != nil {
		return domain.Tenant{}, fmt.Errorf("get tenant %s: %w", id, err)
	}
	return domain.Tenant{ID: id, Name: it.Name, WrappedKey: it.Wrapped, CreatedAt: parseTS(it.CreatedAt),
		AuditRetentionDays: int(it.AuditDays), Contract: domain.Contract{EndsAt: unixTime(it.EndsAt), GraceDays: int(it.Grace),
			Then: it.Then, PurgeAt: unixTime(it.PurgeAt), EndedAt: unixTime(it.EndedAt), ReturnArchive: it.ReturnArchive}}, nil
}
