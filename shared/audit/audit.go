// Package audit keeps an append-only, hash-chained audit trail per tenant in the one table (obligations
// M4/S15): every read, export, change or deletion of personal data, every admin action and every failed
// authorization is one Record.
//
// Records hold no personal data: actor and target are IDs or blind-index hashes, Purpose is free text the
// caller is responsible for keeping free of personal data, and SourceIP is stored as given (the caller
// decides whether to pseudonymise it).
//
// # Storage
//
// All of a tenant's trail lives in one partition, pk = "T#<tenant>#AUDIT":
//
//	sk = "HEAD"                                 seq, hash, at of the newest record (never expires)
//	sk = "R#<at, UTC, fixed 9-digit nanos>#<seq, 12 digits>"   one record, expiresAt = at + retention
//
// The time comes first in the record's sort key so that List can select a time range with the key
// condition; Append assigns at ≥ the previous record's at under the head's condition, so sort-key order is
// also sequence order and Verify walks the chain with one ascending Query.
//
// # Append-only
//
// Append writes the record (attribute_not_exists) and advances the head (seq = previous seq) in one
// TransactWriteItems, so concurrent appenders can never fork or reorder the chain. The code never updates
// or deletes an audit item (the head is replaced by a conditional Put), so on AWS the functions' IAM
// policies deny UpdateItem, DeleteItem and BatchWriteItem on the audit partitions (dynamodb:LeadingKeys),
// so the trail is append-only by permission, and Verify detects anything changed behind IAM's back.
//
// # Hash
//
// Hash = hex(SHA-256(canonical encoding)), where the canonical encoding is the version tag "leadvault.audit.v1"
// followed by each of Tenant, ActorID, ActorRole, Action, len(Targets), each target, Purpose, RequestID,
// SourceIP, GrantID, At (UTC, fixed 9-digit nanoseconds), Seq, PrevHash, every one written as
// "<decimal byte length>:<bytes>". The length prefixes make the encoding unambiguous.
//
// # Expiry
//
// Records expire by TTL after the retention (default five years). An expired record is treated as absent
// whether or not DynamoDB has deleted it yet. Since records expire oldest first, the chain's expired part is
// a prefix: Verify starts at the lowest remaining sequence number (Report.StartSeq) and checks continuity from
// there. The link from that record to its expired predecessor cannot be checked, so removing the oldest
// remaining records is indistinguishable from their expiry; every other deletion shows as a gap, and
// removing the newest ones as a missing tail against the head.
package audit

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"leadvault/shared/ddb"
	"leadvault/shared/domain"
	"leadvault/shared/store"
)

// DynamoDB is the part of the DynamoDB API the audit log uses.
type DynamoDB interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

var _ DynamoDB = (*dynamodb.Client)(nil)

// Errors callers match with errors.Is.
var (
	ErrInvalid    = errors.New("invalid audit record")
	ErrBadCursor  = errors.New("invalid page cursor")
	ErrContention = errors.New("audit chain busy: too many concurrent appends")
)

// DefaultRetention is how long records are kept when New is given 0: five years, leap days included.
const DefaultRetention = (5*365 + 2) * 24 * time.Hour

// MaxPage is the largest page List returns; DefaultPage is used when Query.Limit is 0.
const (
	MaxPage     = 100
	DefaultPage = 50
)

// Field limits. Records are small and hold identifiers, not content.
const (
	maxField   = 256  // IDs, role, action, request ID, IP, grant
	maxPurpose = 1024 // free text
	maxTargets = 128  // a full page of 100 leads, plus the collection it came from
)

// Record is one audited event. Its JSON form is the one the controller API and the return archive at a contract's end show.
type Record struct {
	Tenant    string `json:"-"`
	ActorID   string `json:"actorID"`
	ActorRole string `json:"actorRole"`
	Action    string `json:"action"`
	// Targets are IDs of what was touched: lead, form or campaign IDs, blind-index hashes.
	Targets   []string `json:"targets,omitempty"`
	Purpose   string   `json:"purpose,omitempty"`
	RequestID string   `json:"requestID,omitempty"`
	SourceIP  string   `json:"sourceIP,omitempty"`
	GrantID   string   `json:"grantID,omitempty"`
	// At is when it happened; Append sets it to now when zero and never lets it go back in time.
	At time.Time `json:"at"`
	// Seq is assigned by Append: 1, 2, 3 … per tenant.
	Seq int64 `json:"seq"`
	// PrevHash is the Hash of record Seq-1 ("" for Seq 1).
	PrevHash string `json:"prevHash"`
	// Hash is the hex SHA-256 over the canonical encoding of every field above (see the package comment).
	Hash string `json:"hash"`
	// Retention is how long the record is kept: the tenant's setting, or 0 for the log's default. It sets
	// the record's expiry and is not part of the hash.
	Retention time.Duration `json:"-"`
}

// Query selects records for List. Records are returned newest first.
type Query struct {
	From, To time.Time // At in [From, To); zero = unbounded
	Actor    string    // ActorID equals
	Action   string    // Action equals
	Target   string    // Targets contains
	Limit    int       // 1-MaxPage, default DefaultPage
	Cursor   string    // from the previous page
}

// Report is the result of Verify.
type Report struct {
	// Records is how many unexpired records were walked.
	Records int64
	// StartSeq and LastSeq are the lowest and highest sequence numbers seen (0 when there are none).
	// StartSeq > 1 means the older records have expired.
	StartSeq, LastSeq int64
	// HeadSeq is the head's sequence number when Verify started.
	HeadSeq int64
	// FirstBad is the first sequence number at which the chain is broken; 0 means intact.
	FirstBad int64
	// Problem describes the first break, e.g. "gap at 17", "hash mismatch at 42", "prev-hash mismatch at 9".
	Problem string
}

// Intact reports whether Verify found no problem.
func (r Report) Intact() bool { return r.FirstBad == 0 && r.Problem == "" }

// Log appends to and reads the audit trail.
type Log struct {
	db        DynamoDB
	table     string
	retention time.Duration
	now       func() time.Time
	attempts  int
}

// New returns a Log on the named table; retention 0 means DefaultRetention.
func New(db DynamoDB, table string, retention time.Duration) *Log {
	if retention <= 0 {
		retention = DefaultRetention
	}
	return &Log{db: db, table: table, retention: retention, now: time.Now, attempts: 30}
}

// WithClock returns a copy of the log that reads time from now (tests of expiry).
func (l *Log) WithClock(now func() time.Time) *Log {
	c := *l
	c.now = now
	return &c
}

const (
	skHead    = "HEAD"
	skRecord  = "R#"
	skRecEnd  = "R$" // sorts after every "R#…"
	timeFmt   = "2006-01-02T15:04:05.000000000Z"
	hashLabel = "leadvault.audit.v1"
)

func partition(tenant string) string { return "T#" + tenant + "#AUDIT" }

func formatTime(t time.Time) string { return t.UTC().Format(timeFmt) }

func recordSK(at time.Time, seq int64) string {
	return fmt.Sprintf("%s%s#%012d", skRecord, formatTime(at), seq)
}

// Attribute names that expressions name; recordItem's and headItem's tags name every attribute.
const (
	attrSeq     = "seq"
	attrActor   = "actor"
	attrAction  = "action"
	attrTargets = "targets"
)

// recordItem is an audit record as the table holds it; TestAppend_itemFormat pins the stored format.
type recordItem struct {
	PK        string   `dynamodbav:"pk"`
	SK        string   `dynamodbav:"sk"`
	Seq       int64    `dynamodbav:"seq"`
	Hash      string   `dynamodbav:"hash"`
	At        string   `dynamodbav:"at"`
	ExpiresAt int64    `dynamodbav:"expiresAt"`
	Prev      string   `dynamodbav:"prev,omitempty"`
	Actor     string   `dynamodbav:"actor,omitempty"`
	Role      string   `dynamodbav:"role,omitempty"`
	Action    string   `dynamodbav:"action,omitempty"`
	Targets   []string `dynamodbav:"targets,omitempty"`
	Purpose   string   `dynamodbav:"purpose,omitempty"`
	Req       string   `dynamodbav:"req,omitempty"`
	IP        string   `dynamodbav:"ip,omitempty"`
	Grant     string   `dynamodbav:"grant,omitempty"`
}

// headItem is the head of a tenant's chain: the newest record's sequence number, hash and time.
type headItem struct {
	PK     string `dynamodbav:"pk"`
	SK     string `dynamodbav:"sk"`
	Seq    int64  `dynamodbav:"seq"`
	Hash   string `dynamodbav:"hash"`
	At     string `dynamodbav:"at"`
	RecExp int64  `dynamodbav:"recExp,omitempty"`
}

// itemKey is the key of an item of the table.
type itemKey struct {
	PK string `dynamodbav:"pk"`
	SK string `dynamodbav:"sk"`
}

func key(pk, sk string) map[string]types.AttributeValue { return ddb.Marshal(itemKey{PK: pk, SK: sk}) }

func (l *Log) expired(it recordItem) bool {
	return it.ExpiresAt != 0 && it.ExpiresAt <= l.now().Unix()
}

// HashRecord returns the hash of r over its canonical encoding (r.Hash itself is not included).
func HashRecord(r Record) string {
	var b strings.Builder
	field := func(s string) {
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
	}
	field(hashLabel)
	field(r.Tenant)
	field(r.ActorID)
	field(r.ActorRole)
	field(r.Action)
	field(strconv.Itoa(len(r.Targets)))
	for _, t := range r.Targets {
		field(t)
	}
	field(r.Purpose)
	field(r.RequestID)
	field(r.SourceIP)
	field(r.GrantID)
	field(formatTime(r.At))
	field(strconv.FormatInt(r.Seq, 10))
	field(r.PrevHash)
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:])
}

func validate(r Record) error {
	switch {
	case !domain.ValidID(r.Tenant):
		return fmt.Errorf("%w: tenant %q", ErrInvalid, r.Tenant)
	case r.Action == "":
		return fmt.Errorf("%w: no action", ErrInvalid)
	case len(r.Purpose) > maxPurpose:
		return fmt.Errorf("%w: purpose longer than %d bytes", ErrInvalid, maxPurpose)
	case len(r.Targets) > maxTargets:
		return fmt.Errorf("%w: more than %d targets", ErrInvalid, maxTargets)
	}
	for name, v := range map[string]string{"actor": r.ActorID, "role": r.ActorRole, "action": r.Action,
		"request ID": r.RequestID, "source IP": r.SourceIP, "grant": r.GrantID} {
		if len(v) > maxField {
			return fmt.Errorf("%w: %s longer than %d bytes", ErrInvalid, name, maxField)
		}
	}
	for _, t := range r.Targets {
		if t == "" || len(t) > maxField {
			return fmt.Errorf("%w: target %q", ErrInvalid, t)
		}
	}
	return nil
}

type head struct {
	seq  int64
	hash string
	at   time.Time
	exp  time.Time // when the head's record expires; zero for heads written before it was kept
}

func (l *Log) readHead(ctx context.Context, tenant string) (head, error) {
	out, err := l.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &l.table, Key: key(partition(tenant), skHead), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return head{}, err
	}
	return decodeHead(out.Item), nil
}

func decodeHead(item map[string]types.AttributeValue) head {
	if item == nil {
		return head{}
	}
	var it headItem
	if err := ddb.Unmarshal(item, &it); err != nil {
		// A head of the wrong shape is no head to link to; Append's condition will fail on it and Verify
		// reports the chain against it.
		return head{}
	}
	at, _ := time.Parse(time.RFC3339Nano, it.At)
	h := head{seq: it.Seq, hash: it.Hash, at: at}
	if it.RecExp > 0 {
		h.exp = time.Unix(it.RecExp, 0)
	}
	return h
}

// Append adds r to the end of its tenant's chain and returns it as stored, with Seq, PrevHash, Hash and At
// assigned. At is r.At (now when zero), raised to the previous record's At if earlier, so that the chain is
// in time order. Concurrent appends to one tenant are serialised by the head's condition and retried with
// backoff; after too many lost races Append fails with ErrContention.
func (l *Log) Append(ctx context.Context, r Record) (Record, error) {
	if err := validate(r); err != nil {
		return Record{}, err
	}
	r.Targets = append([]string(nil), r.Targets...)
	if r.At.IsZero() {
		r.At = l.now()
	}
	r.At = r.At.UTC().Round(0)
	at := r.At
	pk := partition(r.Tenant)
	h, err := l.readHead(ctx, r.Tenant)
	if err != nil {
		return Record{}, fmt.Errorf("append audit record of %s: read head: %w", r.Tenant, err)
	}
	for attempt := 0; ; attempt++ {
		r.Seq, r.PrevHash, r.At = h.seq+1, h.hash, at
		if r.At.Before(h.at) {
			r.At = h.at
		}
		r.Hash = HashRecord(r)
		// The head is replaced with a conditional Put, not updated: the functions' IAM policy denies
		// UpdateItem and DeleteItem on audit partitions, so the trail is append-only by permission.
		// The head remembers when its record expires, for Verify's missing-tail check under per-tenant
		// retention.
		cond := expression.AttributeNotExists(expression.Name(store.AttrPK))
		if h.seq != 0 {
			cond = expression.Name(attrSeq).Equal(expression.Value(h.seq))
		}
		ex, isNew := ddb.OnlyIf(cond), ddb.OnlyIf(expression.AttributeNotExists(expression.Name(store.AttrPK)))
		headPut := &types.Put{
			TableName: &l.table,
			Item: ddb.Marshal(headItem{PK: pk, SK: skHead, Seq: r.Seq, Hash: r.Hash, At: r.At.Format(time.RFC3339Nano),
				RecExp: l.expiry(r).Unix()}),
			ConditionExpression:                 ex.Condition(),
			ExpressionAttributeNames:            ex.Names(),
			ExpressionAttributeValues:           ex.Values(),
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}
		_, err = l.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Put: &types.Put{TableName: &l.table, Item: l.item(r), ConditionExpression: isNew.Condition(), ExpressionAttributeNames: isNew.Names()}},
			{Put: headPut},
		}})
		if err == nil {
			return r, nil
		}
		if !ddb.Contended(err) {
			return Record{}, fmt.Errorf("append audit record of %s: %w", r.Tenant, err)
		}
		if attempt+1 >= l.attempts {
			return Record{}, fmt.Errorf("append audit record of %s: %w (%d attempts): %w", r.Tenant, ErrContention, attempt+1, err)
		}
		// Another appender won or is writing: back off, then continue from the head as it is now (as the
		// failed condition returned it, else read again).
		if err := ddb.Backoff(ctx, attempt); err != nil {
			return Record{}, fmt.Errorf("append audit record of %s: %w", r.Tenant, err)
		}
		if cancelled := ddb.Cancelled(err); cancelled != nil && len(cancelled.CancellationReasons) == 2 && cancelled.CancellationReasons[1].Item != nil {
			h = decodeHead(cancelled.CancellationReasons[1].Item)
		} else if h, err = l.readHead(ctx, r.Tenant); err != nil {
			return Record{}, fmt.Errorf("append audit record of %s: read head: %w", r.Tenant, err)
		}
	}
}

// expiry is when r expires: after its own retention, or the log's.
func (l *Log) expiry(r Record) time.Time {
	if r.Retention > 0 {
		return r.At.Add(r.Retention)
	}
	return r.At.Add(l.retention)
}

func (l *Log) item(r Record) map[string]types.AttributeValue {
	targets := r.Targets
	if len(targets) == 0 {
		targets = nil // an empty list is left out, as the trail always did
	}
	return ddb.Marshal(recordItem{
		PK: partition(r.Tenant), SK: recordSK(r.At, r.Seq), Seq: r.Seq, Hash: r.Hash, At: formatTime(r.At),
		ExpiresAt: l.expiry(r).Unix(), Prev: r.PrevHash, Actor: r.ActorID, Role: r.ActorRole, Action: r.Action,
		Targets: targets, Purpose: r.Purpose, Req: r.RequestID, IP: r.SourceIP, Grant: r.GrantID,
	})
}

// decode reads a stored record item. An item of the wrong shape decodes as far as it can: Verify then
// reports it (its hash no longer matches), rather than the read failing.
func decode(tenant string, item map[string]types.AttributeValue) (Record, recordItem) {
	var it recordItem
	_ = ddb.Unmarshal(item, &it)
	at, _ := time.Parse(time.RFC3339Nano, it.At)
	return Record{
		Tenant: tenant, ActorID: it.Actor, ActorRole: it.Role, Action: it.Action, Targets: it.Targets,
		Purpose: it.Purpose, RequestID: it.Req, SourceIP: it.IP, GrantID: it.Grant, At: at, Seq: it.Seq,
		PrevHash: it.Prev, Hash: it.Hash,
	}, it
}

// maxQueries bounds the Queries one List call makes when filters discard most of what is read; the page
// may then be shorter than the limit, with a cursor to continue.
const maxQueries = 10

// List returns one page of a tenant's records, newest first, with At in [q.From, q.To) — selected by the
// key condition — and the actor, action and target filters applied as filter expressions. Expired records
// are never returned. The returned cursor is "" on the last page; it holds only a sort key of the tenant's
// audit partition, and the partition always comes from tenant, so a cursor cannot reach another tenant.
// A page may be shorter than the limit (even empty) while the cursor is not "".
func (l *Log) List(ctx context.Context, tenant string, q Query) ([]Record, string, error) {
	if !domain.ValidID(tenant) {
		return nil, "", fmt.Errorf("%w: tenant %q", ErrInvalid, tenant)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultPage
	}
	limit = min(limit, MaxPage)
	lo, hi := skRecord, skRecEnd
	if !q.From.IsZero() {
		lo = skRecord + formatTime(q.From)
	}
	if !q.To.IsZero() {
		// Every record at or after To sorts above "R#<To>" (its sort key continues with "#<seq>").
		hi = skRecord + formatTime(q.To)
	}
	keyCond := expression.Key(store.AttrPK).Equal(expression.Value(partition(tenant))).
		And(expression.Key(store.AttrSK).Between(expression.Value(lo), expression.Value(hi)))
	exp := expression.Name(store.AttrExpiresAt)
	filter := expression.AttributeNotExists(exp).Or(exp.GreaterThan(expression.Value(l.now().Unix())))
	if q.Actor != "" {
		filter = filter.And(expression.Name(attrActor).Equal(expression.Value(q.Actor)))
	}
	if q.Action != "" {
		filter = filter.And(expression.Name(attrAction).Equal(expression.Value(q.Action)))
	}
	if q.Target != "" {
		filter = filter.And(expression.Contains(expression.Name(attrTargets), q.Target))
	}
	ex := ddb.Build(expression.NewBuilder().WithKeyCondition(keyCond).WithFilter(filter))
	var start map[string]types.AttributeValue
	if q.Cursor != "" {
		sk, err := openCursor(q.Cursor)
		if err != nil || sk <= lo || sk >= hi {
			return nil, "", ErrBadCursor
		}
		start = key(partition(tenant), sk)
	}
	var recs []Record
	for range maxQueries {
		out, err := l.db.Query(ctx, &dynamodb.QueryInput{
			TableName:                 &l.table,
			ConsistentRead:            aws.Bool(true),
			ScanIndexForward:          aws.Bool(false),
			KeyConditionExpression:    ex.KeyCondition(),
			FilterExpression:          ex.Filter(),
			ExpressionAttributeNames:  ex.Names(),
			ExpressionAttributeValues: ex.Values(),
			ExclusiveStartKey:         start,
			Limit:                     aws.Int32(int32(limit - len(recs))),
		})
		if err != nil {
			return nil, "", fmt.Errorf("list audit records of %s: %w", tenant, err)
		}
		for _, it := range out.Items {
			r, _ := decode(tenant, it)
			recs = append(recs, r)
		}
		start = out.LastEvaluatedKey
		if start == nil || len(recs) >= limit {
			break
		}
	}
	if start == nil {
		return recs, "", nil
	}
	var last itemKey
	if err := ddb.Unmarshal(start, &last); err != nil {
		return nil, "", fmt.Errorf("list audit records of %s: read the last key: %w", tenant, err)
	}
	return recs, sealCursor(last.SK), nil
}

func sealCursor(sk string) string { return base64.RawURLEncoding.EncodeToString([]byte(sk)) }

func openCursor(c string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || !strings.HasPrefix(string(b), skRecord) {
		return "", ErrBadCursor
	}
	return string(b), nil
}

// Verify walks a tenant's whole chain in sequence order and reports the first break: a missing record
// ("gap at N"), a record whose content does not match its hash ("hash mismatch at N"), a record that does
// not link to its predecessor ("prev-hash mismatch at N"), a record stored under a key that does not match
// its content ("key mismatch at N"), a repeated or reordered sequence number ("out of order at N"), or
// records missing after the last one found while the newest should not yet have expired ("missing tail at N"). The walk starts at the lowest unexpired
// record (Report.StartSeq); see the package comment on expiry. It costs one GetItem and one Query per 1 MB
// of records.
func (l *Log) Verify(ctx context.Context, tenant string) (Report, error) {
	if !domain.ValidID(tenant) {
		return Report{}, fmt.Errorf("%w: tenant %q", ErrInvalid, tenant)
	}
	// The head first: records appended during the walk then only extend what is checked.
	h, err := l.readHead(ctx, tenant)
	if err != nil {
		return Report{}, fmt.Errorf("verify audit chain of %s: read head: %w", tenant, err)
	}
	rep := Report{HeadSeq: h.seq}
	bad := func(seq int64, problem string) {
		if rep.FirstBad == 0 {
			rep.FirstBad, rep.Problem = seq, fmt.Sprintf("%s at %d", problem, seq)
		}
	}
	ex := ddb.Build(expression.NewBuilder().WithKeyCondition(expression.Key(store.AttrPK).Equal(expression.Value(partition(tenant))).
		And(expression.Key(store.AttrSK).BeginsWith(skRecord))))
	var prev *Record
	var start map[string]types.AttributeValue
	for {
		out, err := l.db.Query(ctx, &dynamodb.QueryInput{
			TableName:                 &l.table,
			ConsistentRead:            aws.Bool(true),
			KeyConditionExpression:    ex.KeyCondition(),
			ExpressionAttributeNames:  ex.Names(),
			ExpressionAttributeValues: ex.Values(),
			ExclusiveStartKey:         start,
		})
		if err != nil {
			return Report{}, fmt.Errorf("verify audit chain of %s: %w", tenant, err)
		}
		for _, it := range out.Items {
			r, stored := decode(tenant, it)
			if l.expired(stored) {
				continue
			}
			rep.Records++
			switch {
			case prev == nil:
				rep.StartSeq = r.Seq
				if r.Seq == 1 && r.PrevHash != "" {
					bad(r.Seq, "prev-hash mismatch")
				}
			case r.Seq > prev.Seq+1:
				bad(prev.Seq+1, "gap")
			case r.Seq <= prev.Seq:
				bad(r.Seq, "out of order")
			case r.PrevHash != prev.Hash:
				bad(r.Seq, "prev-hash mismatch")
			}
			if HashRecord(r) != r.Hash {
				bad(r.Seq, "hash mismatch")
			}
			if stored.SK != recordSK(r.At, r.Seq) {
				bad(r.Seq, "key mismatch")
			}
			rep.LastSeq = r.Seq
			prev = &r
		}
		if start = out.LastEvaluatedKey; start == nil {
			break
		}
	}
	// The newest records are missing unless the head's record has itself expired (an idle trail).
	exp := h.exp
	if exp.IsZero() {
		exp = h.at.Add(l.retention)
	}
	if rep.LastSeq < h.seq && exp.After(l.now()) {
		bad(rep.LastSeq+1, "missing tail")
	}
	return rep, nil
}
