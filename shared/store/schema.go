package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"leadvault/shared/ddb"
)

// Attribute and index names of the single table; infra/stacks builds the AWS table from the same names.
const (
	AttrPK        = "pk"
	AttrSK        = "sk"
	AttrExpiresAt = "expiresAt" // TTL attribute, epoch seconds
	AttrEmailBI   = "bie"
	AttrPhoneBI   = "bip"
	AttrCampaign  = "camp"
	AttrCreated   = "ct"

	// Attribute names that conditions and updates name; the item types below name every attribute in
	// their tags.
	AttrRefs       = "refs"       // subject key: leads sealed under it
	AttrWrapped    = "wk"         // subject key: the wrapped key
	AttrAdmins     = "admins"     // tenant: number of admin members
	AttrAudit      = "auditDays"  // tenant: audit retention
	AttrName       = "name"       // tenant, campaign
	AttrDeleting   = "deleting"   // campaign
	AttrJob        = "job"        // campaign, deletion job
	AttrRole       = "role"       // member
	AttrTenant     = "tenant"     // route, lead
	AttrForm       = "form"       // alias route, lead
	AttrRevoked    = "revoked"    // grant
	AttrCount      = "n"          // rate-limit counter
	AttrDeleted    = "deleted"    // deletion job
	AttrDone       = "done"       // deletion job
	AttrUpdated    = "updated"    // deletion job
	AttrPersonal   = "pd"         // lead: sealed personal data
	AttrFlags      = "flags"      // lead
	AttrRH         = "rh"         // idempotency record: request hash
	AttrRestricted = "restricted" // lead, subject marker

	// SKLead is the sort key of every lead item and SKJobPrefix begins that of every campaign-deletion
	// job item: the stream filters of the notifier and the jobs function match them.
	SKLead      = "LEAD"
	SKJobPrefix = "DELCAMP#"

	IndexByEmail    = "byEmail"
	IndexByPhone    = "byPhone"
	IndexByCampaign = "byCampaign"
	// IndexByExpiry is sparse: only leads carry its key, the hour they expire in (AttrExpiryHour), so the
	// retention sweep queries what expired, hour by hour, never the table.
	IndexByExpiry  = "byExpiry"
	AttrExpiryHour = "xh"
)

// Index describes a global secondary index.
type Index struct {
	Name, PartitionKey, SortKey string
	// KeysOnly is true when the index projects only keys; Include lists the other attributes it projects;
	// with neither it projects all attributes.
	KeysOnly bool
	Include  []string
}

// Indexes are the table's global secondary indexes.
var Indexes = []Index{
	{Name: IndexByEmail, PartitionKey: AttrEmailBI, SortKey: AttrCreated, KeysOnly: true},
	{Name: IndexByPhone, PartitionKey: AttrPhoneBI, SortKey: AttrCreated, KeysOnly: true},
	{Name: IndexByCampaign, PartitionKey: AttrCampaign, SortKey: AttrCreated},
	{Name: IndexByExpiry, PartitionKey: AttrExpiryHour, SortKey: AttrPK, Include: []string{attrSubject, AttrExpiresAt}},
}

// gsi is the index as CreateTable and UpdateTable take it.
func (ix Index) gsi() types.GlobalSecondaryIndex {
	proj := &types.Projection{ProjectionType: types.ProjectionTypeAll}
	switch {
	case ix.KeysOnly:
		proj.ProjectionType = types.ProjectionTypeKeysOnly
	case len(ix.Include) > 0:
		proj.ProjectionType, proj.NonKeyAttributes = types.ProjectionTypeInclude, ix.Include
	}
	return types.GlobalSecondaryIndex{
		IndexName: aws.String(ix.Name),
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(ix.PartitionKey), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(ix.SortKey), KeyType: types.KeyTypeRange},
		},
		Projection: proj,
	}
}

// TableAdmin is the part of the DynamoDB API that creating a table needs.
type TableAdmin interface {
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	UpdateTimeToLive(ctx context.Context, in *dynamodb.UpdateTimeToLiveInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error)
	UpdateTable(ctx context.Context, in *dynamodb.UpdateTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateTableOutput, error)
}

// addIndexes creates, one at a time as DynamoDB requires, the indexes of Indexes an existing table lacks.
func addIndexes(ctx context.Context, db TableAdmin, name string, defs []types.AttributeDefinition) error {
	out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	if err != nil {
		return fmt.Errorf("describe table %s: %w", name, err)
	}
	have := map[string]bool{}
	for _, g := range out.Table.GlobalSecondaryIndexes {
		have[aws.ToString(g.IndexName)] = true
	}
	for _, ix := range Indexes {
		if have[ix.Name] {
			continue
		}
		g := ix.gsi()
		_, err := db.UpdateTable(ctx, &dynamodb.UpdateTableInput{TableName: aws.String(name), AttributeDefinitions: defs,
			GlobalSecondaryIndexUpdates: []types.GlobalSecondaryIndexUpdate{{Create: &types.CreateGlobalSecondaryIndexAction{
				IndexName: g.IndexName, KeySchema: g.KeySchema, Projection: g.Projection}}}})
		if err != nil {
			return fmt.Errorf("add index %s to table %s: %w", ix.Name, name, err)
		}
	}
	return nil
}

// CreateTable creates the table as the CDK app defines it (keys, indexes, stream, TTL) unless it exists.
// On AWS the table comes from CloudFormation; this is for the local stack and tests.
func CreateTable(ctx context.Context, db TableAdmin, name string) error {
	defs := []types.AttributeDefinition{
		{AttributeName: aws.String(AttrPK), AttributeType: types.ScalarAttributeTypeS},
		{AttributeName: aws.String(AttrSK), AttributeType: types.ScalarAttributeTypeS},
		{AttributeName: aws.String(AttrCreated), AttributeType: types.ScalarAttributeTypeS},
	}
	var gsis []types.GlobalSecondaryIndex
	for _, ix := range Indexes {
		defs = append(defs, types.AttributeDefinition{AttributeName: aws.String(ix.PartitionKey), AttributeType: types.ScalarAttributeTypeS})
		gsis = append(gsis, ix.gsi())
	}
	_, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: defs,
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(AttrPK), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(AttrSK), KeyType: types.KeyTypeRange},
		},
		GlobalSecondaryIndexes: gsis,
		StreamSpecification:    &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeKeysOnly},
	})
	var exists *types.ResourceInUseException
	if errors.As(err, &exists) {
		// A table of an earlier version (make run's persistent data) gains the indexes added since.
		return addIndexes(ctx, db, name, defs)
	}
	if err != nil {
		return fmt.Errorf("create table %s: %w", name, err)
	}
	if err := dynamodb.NewTableExistsWaiter(db).Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, time.Minute); err != nil {
		return fmt.Errorf("wait for table %s: %w", name, err)
	}
	_, err = db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName:               aws.String(name),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String(AttrExpiresAt), Enabled: aws.Bool(true)},
	})
	// The SDK retries a call whose answer was lost (a busy machine, a slow endpoint); the retry of one that
	// took effect is told TTL is on already, which is what was asked.
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode() == "ValidationException" && strings.Contains(apiErr.ErrorMessage(), "already enabled") {
		err = nil
	}
	if err != nil {
		return fmt.Errorf("enable ttl on %s: %w", name, err)
	}
	return nil
}

// The items of the table, one type per kind, marshalled by attributevalue: the tags are the attribute
// names, and TestItemFormat_golden pins what is stored, so a deployed table stays readable. Times are
// RFC 3339 strings in UTC (ts), epoch seconds where DynamoDB compares or expires them.

// itemKey is the primary key of any item.
type itemKey struct {
	PK string `dynamodbav:"pk"`
	SK string `dynamodbav:"sk"`
}

// tenantItem is a tenant (pk T#<tenant>, sk TENANT).
type tenantItem struct {
	itemKey
	Name      string `dynamodbav:"name"`
	Wrapped   []byte `dynamodbav:"tk"`
	CreatedAt string `dynamodbav:"createdAt"`
	AuditDays int64  `dynamodbav:"auditDays,omitempty"`
	Admins    int64  `dynamodbav:"admins,omitempty"`
	// The contract's end (see contract.go), in epoch seconds so that conditions can compare them.
	EndsAt        int64  `dynamodbav:"endsAt,omitempty"`
	Grace         int64  `dynamodbav:"grace,omitempty"`
	Then          string `dynamodbav:"then,omitempty"`
	PurgeAt       int64  `dynamodbav:"purgeAt,omitempty"`
	EndedAt       int64  `dynamodbav:"endedAt,omitempty"`
	ReturnArchive string `dynamodbav:"returnArchive,omitempty"`
}

// memberItem is a member of a tenant (pk T#<tenant>, sk USER#<user>).
type memberItem struct {
	itemKey
	ID      string `dynamodbav:"id"`
	Email   string `dynamodbav:"email"`
	Role    string `dynamodbav:"role"`
	Added   string `dynamodbav:"added"`
	AddedBy string `dynamodbav:"by"`
}

// campaignItem is a campaign (pk T#<tenant>, sk CAMP#<campaign>).
type campaignItem struct {
	itemKey
	ID       string `dynamodbav:"id"`
	Name     string `dynamodbav:"name"`
	Created  string `dynamodbav:"created"`
	Deleting bool   `dynamodbav:"deleting"`
	Job      string `dynamodbav:"job,omitempty"`
}

// formItem is a form's configuration as JSON (pk T#<tenant>, sk FORM#<form>).
type formItem struct {
	itemKey
	Config string `dynamodbav:"cfg"`
}

// routeItem maps a public form ID (pk FORM#<form>) or an inbound alias (pk ALIAS#<alias>, with Form) to
// its tenant.
type routeItem struct {
	itemKey
	Tenant string `dynamodbav:"tenant"`
	Form   string `dynamodbav:"form,omitempty"`
}

// counterItem is a rate-limit window's counter.
type counterItem struct {
	itemKey
	N         int64 `dynamodbav:"n"`
	ExpiresAt int64 `dynamodbav:"expiresAt"`
}

// marshal, unmarshal, build and onlyIf are package ddb's, shared with the audit log.
var (
	marshal   = ddb.Marshal
	unmarshal = ddb.Unmarshal
	build     = ddb.Build
	onlyIf    = ddb.OnlyIf
)

// key is the primary key of the item pk/sk.
func key(pk, sk string) map[string]types.AttributeValue { return marshal(itemKey{PK: pk, SK: sk}) }

// inPartition is the key condition for the items of partition pk whose sort key begins with prefix.
func inPartition(pk, prefix string) expression.KeyConditionBuilder {
	return expression.Key(AttrPK).Equal(expression.Value(pk)).And(expression.Key(AttrSK).BeginsWith(prefix))
}

// exists and absent are the conditions that the item is there, or is not.
func exists() expression.ConditionBuilder { return expression.AttributeExists(expression.Name(AttrPK)) }
func absent() expression.ConditionBuilder {
	return expression.AttributeNotExists(expression.Name(AttrPK))
}

// notExpiredOrAbsent is the condition for writing an item whose previous, expired version may linger.
func absentOrExpired(now int64) expression.ConditionBuilder {
	return absent().Or(expression.Name(AttrExpiresAt).LessThanEqual(expression.Value(now)))
}

// ts is how the store writes a time that is not compared by DynamoDB: RFC 3339 with nanoseconds, UTC.
func ts(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// parseTS reads what ts wrote; anything else is the zero time.
func parseTS(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

// leadItem is a lead (pk T#<tenant>#L#<lead>, sk LEAD). Its personal data is sealed (pd); the blind
// indexes (bie, bip) and the campaign index (camp, ct) are what the GSIs are keyed on.
type leadItem struct {
	itemKey
	Version       int64             `dynamodbav:"v"`
	Tenant        string            `dynamodbav:"tenant"`
	ID            string            `dynamodbav:"id"`
	Form          string            `dynamodbav:"form"`
	Campaign      string            `dynamodbav:"campaign"`
	CampaignIndex string            `dynamodbav:"camp"`
	Created       string            `dynamodbav:"ct"`
	CreatedAt     string            `dynamodbav:"createdAt"`
	ExpiresAt     int64             `dynamodbav:"expiresAt"`
	Source        string            `dynamodbav:"src"`
	Spam          bool              `dynamodbav:"spam"`
	Subject       string            `dynamodbav:"subj"`
	Personal      []byte            `dynamodbav:"pd"`
	EmailBI       string            `dynamodbav:"bie,omitempty"`
	PhoneBI       string            `dynamodbav:"bip,omitempty"`
	Consent       *consentItem      `dynamodbav:"consent,omitempty"`
	Flags         []string          `dynamodbav:"flags,stringset,omitempty"`
	Meta          map[string]string `dynamodbav:"meta,omitempty"`
	Restricted    bool              `dynamodbav:"restricted,omitempty"`
	ExpiryHour    string            `dynamodbav:"xh,omitempty"`
}

// attributes is the lead item as MarshalMap would make it from the tags above, built directly: a lead item
// is written on every submission, and attributevalue's reflection took 12 µs an item, a quarter of
// intake's in-process work (docs/benchmarks.md). TestLeadItem_attributesMatchTags holds the two equal for
// every shape of lead, so the tags stay the schema.
func (it leadItem) attributes() map[string]types.AttributeValue {
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	n := func(v int64) types.AttributeValue {
		return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
	}
	m := make(map[string]types.AttributeValue, 21)
	m[AttrPK], m[AttrSK] = s(it.PK), s(it.SK)
	m["v"], m["tenant"], m["id"], m["form"], m["campaign"] = n(it.Version), s(it.Tenant), s(it.ID), s(it.Form), s(it.Campaign)
	m[AttrCampaign], m[AttrCreated], m["createdAt"] = s(it.CampaignIndex), s(it.Created), s(it.CreatedAt)
	m[AttrExpiresAt], m["src"], m["spam"] = n(it.ExpiresAt), s(it.Source), &types.AttributeValueMemberBOOL{Value: it.Spam}
	m[attrSubject], m[AttrPersonal] = s(it.Subject), &types.AttributeValueMemberB{Value: it.Personal}
	if it.EmailBI != "" {
		m[AttrEmailBI] = s(it.EmailBI)
	}
	if it.PhoneBI != "" {
		m[AttrPhoneBI] = s(it.PhoneBI)
	}
	if c := it.Consent; c != nil {
		m["consent"] = &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
			"given": &types.AttributeValueMemberBOOL{Value: c.Given}, "version": s(c.Version), "givenAt": s(c.GivenAt), "source": s(c.Source),
		}}
	}
	if len(it.Flags) > 0 {
		m[AttrFlags] = &types.AttributeValueMemberSS{Value: it.Flags}
	}
	if len(it.Meta) > 0 {
		meta := make(map[string]types.AttributeValue, len(it.Meta))
		for k, v := range it.Meta {
			meta[k] = s(v)
		}
		m["meta"] = &types.AttributeValueMemberM{Value: meta}
	}
	if it.Restricted {
		m[AttrRestricted] = &types.AttributeValueMemberBOOL{Value: true}
	}
	if it.ExpiryHour != "" {
		m[AttrExpiryHour] = s(it.ExpiryHour)
	}
	return m
}

// attrSubject is the lead attribute naming its subject key.
const attrSubject = "subj"

// consentItem is the consent a lead was given with, inside the lead item.
type consentItem struct {
	Given   bool   `dynamodbav:"given"`
	Version string `dynamodbav:"version"`
	GivenAt string `dynamodbav:"givenAt"`
	Source  string `dynamodbav:"source"`
}

// subjectKeyItem is a data subject's wrapped key (pk T#<tenant>#S#<subject>, sk KEY). Refs counts the
// leads sealed under it; nil for keys written before counts existed.
type subjectKeyItem struct {
	itemKey
	Wrapped   []byte `dynamodbav:"wk"`
	ExpiresAt int64  `dynamodbav:"expiresAt"`
	Refs      *int64 `dynamodbav:"refs,omitempty"`
	// ExpiryHour puts the key in the byExpiry index, so the retention sweep finds it when it expires.
	ExpiryHour string `dynamodbav:"xh,omitempty"`
}

// idemItem is a submission's idempotency record (pk T#<tenant>#IDEM#<key>, sk IDEM).
type idemItem struct {
	itemKey
	Lead        string `dynamodbav:"lead"`
	RequestHash string `dynamodbav:"rh"`
	ExpiresAt   int64  `dynamodbav:"expiresAt"`
}

// notificationItem is a lead's notification record (pk T#<tenant>#L#<lead>, sk NOTIFIED).
type notificationItem struct {
	itemKey
	MessageID  string         `dynamodbav:"msg"`
	To         []string       `dynamodbav:"to,stringset"`
	SentAt     string         `dynamodbav:"sentAt"`
	ExpiresAt  int64          `dynamodbav:"expiresAt"`
	Deliveries []deliveryItem `dynamodbav:"deliveries,omitempty"`
}

// deliveryItem is one SES event of a notification, appended to its recipient-log item (E5).
type deliveryItem struct {
	Event  string   `dynamodbav:"event"`
	To     []string `dynamodbav:"to,omitempty"`
	At     string   `dynamodbav:"at"`
	Detail string   `dynamodbav:"detail,omitempty"`
}

// jobItem is a campaign deletion job (pk T#<tenant>#JOB, sk DELCAMP#<campaign>).
type jobItem struct {
	itemKey
	Job     string `dynamodbav:"job"`
	Deleted int64  `dynamodbav:"deleted"`
	Done    bool   `dynamodbav:"done"`
	Started string `dynamodbav:"started"`
	Updated string `dynamodbav:"updated"`
}

// jobQueueItem names an unfinished job in the queue partition (pk JOBQ).
type jobQueueItem struct {
	itemKey
	Tenant   string `dynamodbav:"tenant"`
	Campaign string `dynamodbav:"campaign,omitempty"` // a campaign deletion's; a subject request's has none
	Job      string `dynamodbav:"job"`
}

// partition reads every item of partition pk whose sort key begins with skPrefix ("" for all), strongly
// consistent, that filter (if not nil; non-key attributes only) keeps, as T: the queues and ledgers
// (CONTRACTS, PURGED, ERASED, JOBQ, SUBPROC) that schedulers, restores and operators read whole.
func partition[T any](ctx context.Context, s *Store, pk, skPrefix string, filter *expression.ConditionBuilder) ([]T, error) {
	key := expression.Key(AttrPK).Equal(expression.Value(pk))
	if skPrefix != "" {
		key = inPartition(pk, skPrefix)
	}
	b := expression.NewBuilder().WithKeyCondition(key)
	if filter != nil {
		b = b.WithFilter(*filter)
	}
	ex := build(b)
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{TableName: &s.table, ConsistentRead: aws.Bool(true),
		KeyConditionExpression: ex.KeyCondition(), FilterExpression: ex.Filter(),
		ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values()})
	var out []T
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("read partition %s: %w", pk, err)
		}
		for _, item := range page.Items {
			var it T
			if err := unmarshal(item, &it); err != nil {
				return nil, fmt.Errorf("read partition %s: %w", pk, err)
			}
			out = append(out, it)
		}
	}
	return out, nil
}
