package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"leadvault/shared/ddb"
	"leadvault/shared/domain"
)

// The end of a contract (obligations S20, M6, E8b, S10, S5): the tenant item carries the contract's end
// (numbers, epoch seconds, so that intake's transaction can compare them with now), and a queue item (pk
// CONTRACTS, sk the tenant) tells the jobs function when it next has something to do: carry out the end
// (notice, return archive), then purge. The purge deletes every item of the tenant except its audit trail
// and its proof of deletion, which follow their own retention and hold no personal data, and leaves a
// final record in the purge ledger (pk PURGED), which a restore replays so a purged tenant stays purged.

const (
	contractQueuePK = "CONTRACTS"
	purgedPK        = "PURGED"
)

// Attribute names of the contract on the tenant item.
const (
	attrEndsAt  = "endsAt"
	attrPurgeAt = "purgeAt"
)

// PurgeRetention is how long the purge ledger keeps its final record of a tenant: as long as the audit
// trail's default, and never shorter than the oldest restorable copy could still hold the tenant.
const PurgeRetention = 5 * 365 * 24 * time.Hour

var (
	// ErrContractEnded means the tenant's contract has ended: its data is read-only until the purge.
	ErrContractEnded = errors.New("the tenant's contract has ended")
	// ErrCampaignsRemain means closing the account was refused because campaigns still exist (E8b).
	ErrCampaignsRemain = errors.New("campaigns remain")
	// ErrContractActive means a step needs an ended contract, and the contract has not ended.
	ErrContractActive = errors.New("the tenant's contract has not ended")
)

// contractQueueItem says when the jobs function next has work on a tenant's contract.
type contractQueueItem struct {
	itemKey
	Tenant string `dynamodbav:"tenant"`
	Due    int64  `dynamodbav:"due"`
	// Phase and Cursor carry a purge over several runs: "data" deletes the tenant's data, "accounts"
	// (after the final record is mailed) its members, mail and the tenant item; Cursor is the scan's
	// position.
	Phase  string            `dynamodbav:"phase,omitempty"`
	Cursor map[string]string `dynamodbav:"cursor,omitempty"`
	// Counts is what the purge deleted so far, by kind of item.
	Counts map[string]int64 `dynamodbav:"counts,omitempty"`
	// Campaigns are the campaigns the tenant had when the purge started; the final record names them.
	Campaigns []string `dynamodbav:"campaigns,omitempty"`
}

// Purge is a tenant's final record in the purge ledger: what was deleted and when, with no personal data.
type Purge struct {
	Tenant    string
	EndsAt    time.Time
	PurgedAt  time.Time
	Then      string
	Campaigns []string
	// Counts says how many items of each kind were deleted (leads, subject keys, forms, …).
	Counts map[string]int64
}

// purgeItem is a Purge in the ledger.
type purgeItem struct {
	itemKey
	Tenant    string           `dynamodbav:"tenant"`
	EndsAt    string           `dynamodbav:"endsAt"`
	PurgedAt  string           `dynamodbav:"purgedAt"`
	Then      string           `dynamodbav:"then"`
	Campaigns []string         `dynamodbav:"campaigns,omitempty"`
	Counts    map[string]int64 `dynamodbav:"counts"`
	ExpiresAt int64            `dynamodbav:"expiresAt"`
}

// unixTime is the time of epoch seconds sec; 0 is the zero time.
func unixTime(sec int64) time.Time {
	if sec == 0 {
		return time.Time{}
	}
	return time.Unix(sec, 0).UTC()
}

// contractOpen is the transaction item that lets a lead in only while the tenant's contract has not ended:
// checked inside intake's one transaction, it takes effect at the second the contract ends, whatever an
// intake instance has cached, so nothing is accepted after the end that the return archive could miss.
func (s *Store) contractOpen(tenant string, now time.Time) types.TransactWriteItem {
	ends := expression.Name(attrEndsAt)
	ex := onlyIf(exists().And(expression.AttributeNotExists(ends).Or(ends.GreaterThan(expression.Value(now.Unix())))))
	return types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
		TableName: &s.table, Key: key(tenantPK(tenant), skTenant),
		ConditionExpression: ex.Condition(), ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(),
	}}
}

// EndContract sets the end of the tenant's contract: read-only from c.EndsAt for c.GraceDays, then
// deleted, returned first if c.Then says so. Setting it again before the end replaces it; once the end has
// been carried out it can no longer move (ErrContractEnded).
func (v *Scoped) EndContract(ctx context.Context, c domain.Contract) error {
	if err := v.check(); err != nil {
		return err
	}
	if c.GraceDays < domain.MinGraceDays || c.GraceDays > domain.MaxGraceDays {
		return fmt.Errorf("end contract of %s: a grace period of %d days is outside %d-%d", v.tenant, c.GraceDays, domain.MinGraceDays, domain.MaxGraceDays)
	}
	if c.Then != domain.ContractThenDelete && c.Then != domain.ContractThenReturn {
		return fmt.Errorf("end contract of %s: then must be delete or return, not %q", v.tenant, c.Then)
	}
	purgeAt := c.EndsAt.AddDate(0, 0, c.GraceDays)
	ex := build(expression.NewBuilder().
		WithCondition(exists().And(expression.AttributeNotExists(expression.Name("endedAt")))).
		WithUpdate(expression.Set(expression.Name(attrEndsAt), expression.Value(c.EndsAt.Unix())).
			Set(expression.Name("grace"), expression.Value(c.GraceDays)).
			Set(expression.Name("then"), expression.Value(c.Then)).
			Set(expression.Name(attrPurgeAt), expression.Value(purgeAt.Unix()))))
	_, err := v.s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: &types.Update{TableName: &v.s.table, Key: key(tenantPK(v.tenant), skTenant),
			UpdateExpression: ex.Update(), ConditionExpression: ex.Condition(),
			ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(),
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld}},
		{Put: &types.Put{TableName: &v.s.table, Item: marshal(contractQueueItem{
			itemKey: itemKey{PK: contractQueuePK, SK: v.tenant}, Tenant: v.tenant, Due: c.EndsAt.Unix()})}},
	}})
	if c := ddb.Cancelled(err); c != nil && len(c.CancellationReasons) > 0 && ddb.Code(c.CancellationReasons[0]) == "ConditionalCheckFailed" {
		if c.CancellationReasons[0].Item == nil {
			return fmt.Errorf("end contract of %s: %w", v.tenant, ErrNotFound)
		}
		return fmt.Errorf("end contract of %s: %w", v.tenant, ErrContractEnded)
	}
	if err != nil {
		return fmt.Errorf("end contract of %s: %w", v.tenant, err)
	}
	return nil
}

// CloseContract brings the purge of a tenant whose contract has ended forward to now: its admins close the
// account before the grace period is over. With campaigns still present it is refused with
// ErrCampaignsRemain unless deleteCampaigns is set, in which case the purge deletes them, on record (E8b).
// It returns the campaigns the purge will delete.
func (v *Scoped) CloseContract(ctx context.Context, deleteCampaigns bool) ([]string, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	now := v.s.now()
	t, err := v.s.Tenant(ctx, v.tenant)
	if err != nil {
		return nil, err
	}
	if t.Contract.State(now) != domain.ContractEnded {
		return nil, fmt.Errorf("close the account of %s: %w", v.tenant, ErrContractActive)
	}
	campaigns, err := v.s.campaignIDs(ctx, v.tenant)
	if err != nil {
		return nil, fmt.Errorf("close the account of %s: %w", v.tenant, err)
	}
	if len(campaigns) > 0 && !deleteCampaigns {
		return campaigns, fmt.Errorf("close the account of %s: %d: %w", v.tenant, len(campaigns), ErrCampaignsRemain)
	}
	if !t.Contract.PurgeAt.After(now) {
		return campaigns, nil
	}
	err = v.updateContract(ctx, expression.Set(expression.Name(attrPurgeAt), expression.Value(now.Unix())), now)
	if err != nil {
		return campaigns, fmt.Errorf("close the account of %s: %w", v.tenant, err)
	}
	return campaigns, nil
}

// updateContract applies up to the tenant item and makes the contract's queue item due at due, in one
// transaction; both must exist.
func (v *Scoped) updateContract(ctx context.Context, up expression.UpdateBuilder, due time.Time) error {
	ex := build(expression.NewBuilder().WithCondition(exists()).WithUpdate(up))
	q := build(expression.NewBuilder().WithCondition(exists()).
		WithUpdate(expression.Set(expression.Name("due"), expression.Value(due.Unix()))))
	_, err := v.s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: &types.Update{TableName: &v.s.table, Key: key(tenantPK(v.tenant), skTenant),
			UpdateExpression: ex.Update(), ConditionExpression: ex.Condition(),
			ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values()}},
		{Update: &types.Update{TableName: &v.s.table, Key: key(contractQueuePK, v.tenant),
			UpdateExpression: q.Update(), ConditionExpression: q.Condition(),
			ExpressionAttributeNames: q.Names(), ExpressionAttributeValues: q.Values()}},
	}})
	return err
}

// campaignIDs lists the IDs of all of a tenant's campaigns.
func (s *Store) campaignIDs(ctx context.Context, tenant string) ([]string, error) {
	var ids []string
	cursor := ""
	for {
		page, next, err := s.campaigns(ctx, tenant, MaxPage, cursor)
		if err != nil {
			return nil, err
		}
		for _, c := range page {
			ids = append(ids, c.ID)
		}
		if next == "" {
			return ids, nil
		}
		cursor = next
	}
}

// ContractEnded records that the end of the tenant's contract was carried out (its admins told, the
// return archive written under archive, if any); the queue item is then due at the purge.
func (v *Scoped) ContractEnded(ctx context.Context, archive string, at time.Time) error {
	if err := v.check(); err != nil {
		return err
	}
	t, err := v.s.Tenant(ctx, v.tenant)
	if err != nil {
		return err
	}
	up := expression.Set(expression.Name("endedAt"), expression.Value(at.Unix()))
	if archive != "" {
		up = up.Set(expression.Name("returnArchive"), expression.Value(archive))
	}
	if err := v.updateContract(ctx, up, t.Contract.PurgeAt); err != nil {
		return fmt.Errorf("record the end of the contract of %s: %w", v.tenant, err)
	}
	return nil
}

// ContractDue is a tenant whose contract has work due.
type ContractDue struct {
	Tenant string
	Due    time.Time
	// Phase is the purge's phase once it started ("data", "accounts"), else "".
	Phase string
}

// PendingContracts lists the tenants whose contract has work due at or before now: its end to carry out,
// or its purge to start or continue. One Query of the queue partition.
func (s *Store) PendingContracts(ctx context.Context, now time.Time) ([]ContractDue, error) {
	due := expression.Name("due").LessThanEqual(expression.Value(now.Unix()))
	items, err := partition[contractQueueItem](ctx, s, contractQueuePK, "", &due)
	if err != nil {
		return nil, fmt.Errorf("pending contracts: %w", err)
	}
	out := make([]ContractDue, 0, len(items))
	for _, it := range items {
		out = append(out, ContractDue{Tenant: it.Tenant, Due: unixTime(it.Due), Phase: it.Phase})
	}
	return out, nil
}

// The phases of a purge.
const (
	PurgePhaseData     = "data"     // delete the tenant's data: leads, keys, forms, campaigns, grants, jobs, …
	PurgePhaseNotice   = "notice"   // the final record is written and mailed; waiting for it to be sent
	PurgePhaseAccounts = "accounts" // delete the members (their sign-in accounts first), the mail, the tenant
)

// PurgeProgress is where a tenant's purge stands after a step.
type PurgeProgress struct {
	Phase string
	// Campaigns are the campaigns the tenant had when the purge started.
	Campaigns []string
	Counts    map[string]int64
	// Done is true when the scan of the phase went through the whole table.
	Done bool
}

// kindOf names the kind of a tenant's item for the purge's counts.
func kindOf(tenant, pk, sk string) string {
	rest := strings.TrimPrefix(pk, "T#"+tenant)
	switch {
	case strings.HasPrefix(pk, "FORM#"), strings.HasPrefix(pk, "ALIAS#"):
		return "formRoutes"
	case pk == erasedPK:
		return "erasureLedger"
	case pk == jobQueuePK:
		return "queuedJobs"
	case rest == "" && strings.HasPrefix(sk, formSK):
		return "forms"
	case rest == "" && strings.HasPrefix(sk, campaignSK):
		return "campaigns"
	case rest == "" && strings.HasPrefix(sk, "USER#"):
		return "members"
	case rest == "":
		return "tenant"
	case strings.HasPrefix(rest, "#L#") && sk == skLead:
		return "leads"
	case strings.HasPrefix(rest, "#L#"):
		return "notificationRecords"
	case strings.HasPrefix(rest, "#S#"):
		return "subjectKeys"
	}
	kind, _, _ := strings.Cut(strings.TrimPrefix(rest, "#"), "#")
	if name, ok := partitionKinds[kind]; ok {
		return name
	}
	return strings.ToLower(kind)
}

// partitionKinds name the tenant's other partitions (T#<t>#<KIND>…) in the purge's counts.
var partitionKinds = map[string]string{
	"IDEM": "idempotencyRecords", "RL": "rateCounters", "JOB": "jobsAndRequests", "GRANT": "accessGrants",
	"MARK": "subjectMarkers", "MAIL": "mails",
}

// kept reports whether the purge leaves an item: the audit trail and the proof of deletion follow their
// own retention and hold no personal data.
func kept(tenant, pk string) bool {
	return pk == "T#"+tenant+"#AUDIT" || pk == statsPK(tenant)
}

// accountItem reports whether an item belongs to the purge's last phase: the members (whose sign-in
// accounts go with them), the mail outbox that carries the final record to them, and the tenant item
// with the tenant key, deleted last so that anything left behind is unreadable.
func accountItem(tenant, pk, sk string) bool {
	return (pk == tenantPK(tenant) && (sk == skTenant || strings.HasPrefix(sk, "USER#"))) || pk == mailPK(tenant)
}

// tenantFilter matches every item of a tenant, wherever it lives.
func tenantFilter(tenant string) expression.ConditionBuilder {
	pk, sk, owner := expression.Name(AttrPK), expression.Name(AttrSK), expression.Name("tenant")
	return pk.Equal(expression.Value(tenantPK(tenant))).
		Or(pk.BeginsWith("T#" + tenant + "#")).
		Or(expression.Or(pk.BeginsWith("FORM#"), pk.BeginsWith("ALIAS#")).And(owner.Equal(expression.Value(tenant)))).
		Or(expression.Or(pk.Equal(expression.Value(erasedPK)), pk.Equal(expression.Value(jobQueuePK))).And(sk.BeginsWith(tenant + "#")))
}

// purgeScan deletes, from where cursor left off, the tenant's items that sel selects, until the scan has
// gone through the table or until the deadline; it adds what it deleted to counts and returns the scan's
// position ("" when it went through the table). A Scan, not a Query: a purge is rare, and only a walk of
// the whole table proves that nothing of the tenant is left, whichever partition it lives in.
func (s *Store) purgeScan(ctx context.Context, tenant string, cursor map[string]types.AttributeValue,
	sel func(pk, sk string) bool, counts map[string]int64, deadline time.Time) (map[string]types.AttributeValue, error) {
	ex := build(expression.NewBuilder().WithFilter(tenantFilter(tenant)).
		WithProjection(expression.NamesList(expression.Name(AttrPK), expression.Name(AttrSK))))
	for {
		out, err := s.db.Scan(ctx, &dynamodb.ScanInput{TableName: &s.table, ExclusiveStartKey: cursor, ConsistentRead: aws.Bool(true),
			FilterExpression: ex.Filter(), ProjectionExpression: ex.Projection(),
			ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values()})
		if err != nil {
			return cursor, fmt.Errorf("purge %s: scan: %w", tenant, err)
		}
		var keys []itemKey
		for _, item := range out.Items {
			var k itemKey
			if err := unmarshal(item, &k); err != nil {
				return cursor, fmt.Errorf("purge %s: %w", tenant, err)
			}
			if !kept(tenant, k.PK) && sel(k.PK, k.SK) {
				keys = append(keys, k)
			}
		}
		if err := s.batchDelete(ctx, keys); err != nil {
			return cursor, fmt.Errorf("purge %s: %w", tenant, err)
		}
		for _, k := range keys {
			counts[kindOf(tenant, k.PK, k.SK)]++
		}
		cursor = out.LastEvaluatedKey
		if len(cursor) == 0 || time.Now().After(deadline) {
			return cursor, nil
		}
	}
}

// batchDelete deletes items by key, 25 to a request, retrying what DynamoDB leaves unprocessed.
func (s *Store) batchDelete(ctx context.Context, keys []itemKey) error {
	for start := 0; start < len(keys); start += 25 {
		var writes []types.WriteRequest
		for _, k := range keys[start:min(start+25, len(keys))] {
			writes = append(writes, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: key(k.PK, k.SK)}})
		}
		req := map[string][]types.WriteRequest{s.table: writes}
		for attempt := 0; len(req) > 0; attempt++ {
			if attempt > 0 {
				if err := ddb.Backoff(ctx, attempt); err != nil {
					return err
				}
			}
			out, err := s.db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: req})
			if err != nil {
				return fmt.Errorf("batch delete: %w", err)
			}
			req = out.UnprocessedItems
		}
	}
	return nil
}

// PurgeStep does one step of the purge of a tenant whose purge is due, within budget: the data phase
// deletes everything of the tenant but its accounts, its audit trail and its proof of deletion; once it
// has gone through the table, the caller writes the final record (RecordPurge) and mails it; the accounts
// phase then deletes the members, the mail and, last, the tenant item with the tenant key. Steps are
// idempotent and resume where the last one stopped.
func (v *Scoped) PurgeStep(ctx context.Context, budget time.Duration) (PurgeProgress, error) {
	if err := v.check(); err != nil {
		return PurgeProgress{}, err
	}
	var q contractQueueItem
	if err := v.s.getItem(ctx, contractQueuePK, v.tenant, &q); err != nil {
		return PurgeProgress{}, fmt.Errorf("purge %s: %w", v.tenant, err)
	}
	if q.Phase == "" {
		t, err := v.s.Tenant(ctx, v.tenant)
		if err != nil {
			return PurgeProgress{}, fmt.Errorf("purge %s: %w", v.tenant, err)
		}
		if t.Contract.PurgeAt.IsZero() || t.Contract.PurgeAt.After(v.s.now()) {
			return PurgeProgress{}, fmt.Errorf("purge %s: %w", v.tenant, ErrContractActive)
		}
		if q.Campaigns, err = v.s.campaignIDs(ctx, v.tenant); err != nil {
			return PurgeProgress{}, fmt.Errorf("purge %s: %w", v.tenant, err)
		}
		q.Phase = PurgePhaseData
	}
	if q.Counts == nil {
		q.Counts = map[string]int64{}
	}
	prog := PurgeProgress{Phase: q.Phase, Counts: q.Counts, Campaigns: q.Campaigns}
	if q.Phase == PurgePhaseNotice {
		return prog, nil
	}
	var cursor map[string]types.AttributeValue
	if len(q.Cursor) > 0 {
		cursor = key(q.Cursor[AttrPK], q.Cursor[AttrSK])
	}
	sel := func(pk, sk string) bool { return !accountItem(v.tenant, pk, sk) }
	if q.Phase == PurgePhaseAccounts {
		// The members and the mail, and anything a step that was still running wrote behind the data
		// phase's scan: this second walk leaves nothing but the tenant item, deleted last below.
		sel = func(pk, sk string) bool { return !(pk == tenantPK(v.tenant) && sk == skTenant) }
	}
	before := q.Counts["leads"]
	cursor, err := v.s.purgeScan(ctx, v.tenant, cursor, sel, q.Counts, time.Now().Add(budget))
	if n := q.Counts["leads"] - before; n > 0 {
		if cerr := v.CountDeletions(ctx, ReasonContractEnd, int(n), v.s.now()); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}
	prog.Done = len(cursor) == 0 && err == nil
	q.Cursor = nil
	if len(cursor) > 0 {
		var k itemKey
		_ = unmarshal(cursor, &k)
		q.Cursor = map[string]string{AttrPK: k.PK, AttrSK: k.SK}
	}
	if prog.Done && q.Phase == PurgePhaseData {
		q.Phase = PurgePhaseNotice
	}
	if prog.Done && q.Phase == PurgePhaseAccounts {
		// The tenant item, with the tenant key, goes last, and the queue item with it.
		if derr := v.s.batchDelete(ctx, []itemKey{{PK: tenantPK(v.tenant), SK: skTenant}, {PK: contractQueuePK, SK: v.tenant}}); derr != nil {
			return prog, fmt.Errorf("purge %s: %w", v.tenant, derr)
		}
		q.Counts["tenant"]++
		if uerr := v.s.updatePurgeCounts(ctx, v.tenant, q.Counts); uerr != nil {
			return prog, uerr
		}
		return prog, err
	}
	prog.Phase = q.Phase
	if _, perr := v.s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &v.s.table, Item: marshal(q)}); perr != nil {
		err = errors.Join(err, fmt.Errorf("purge %s: save progress: %w", v.tenant, perr))
	}
	return prog, err
}

// PurgePhase returns the phase of the tenant's purge: "" before it starts, then PurgePhaseData,
// PurgePhaseNotice, PurgePhaseAccounts.
func (v *Scoped) PurgePhase(ctx context.Context) (string, error) {
	if err := v.check(); err != nil {
		return "", err
	}
	var q contractQueueItem
	if err := v.s.getItem(ctx, contractQueuePK, v.tenant, &q); err != nil {
		return "", fmt.Errorf("purge phase of %s: %w", v.tenant, err)
	}
	return q.Phase, nil
}

// RecordPurge writes the tenant's final record to the purge ledger once the data phase is done, and moves
// the purge on to its accounts phase. It returns the record, which the caller mails to the tenant's
// admins before their accounts go.
func (v *Scoped) RecordPurge(ctx context.Context) (Purge, error) {
	if err := v.check(); err != nil {
		return Purge{}, err
	}
	var q contractQueueItem
	if err := v.s.getItem(ctx, contractQueuePK, v.tenant, &q); err != nil {
		return Purge{}, fmt.Errorf("record the purge of %s: %w", v.tenant, err)
	}
	if q.Phase != PurgePhaseNotice {
		return Purge{}, fmt.Errorf("record the purge of %s: in phase %q, not %q", v.tenant, q.Phase, PurgePhaseNotice)
	}
	t, err := v.s.Tenant(ctx, v.tenant)
	if err != nil {
		return Purge{}, fmt.Errorf("record the purge of %s: %w", v.tenant, err)
	}
	now := v.s.now()
	campaigns := q.Campaigns
	p := Purge{Tenant: v.tenant, EndsAt: t.Contract.EndsAt, PurgedAt: now, Then: t.Contract.Then, Campaigns: campaigns, Counts: q.Counts}
	q.Phase = PurgePhaseAccounts
	_, err = v.s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: &v.s.table, Item: marshal(purgeItem{itemKey: itemKey{PK: purgedPK, SK: v.tenant}, Tenant: v.tenant,
			EndsAt: ts(p.EndsAt), PurgedAt: ts(now), Then: p.Then, Campaigns: campaigns, Counts: q.Counts,
			ExpiresAt: now.Add(PurgeRetention).Unix()})}},
		{Put: &types.Put{TableName: &v.s.table, Item: marshal(q)}},
	}})
	if err != nil {
		return Purge{}, fmt.Errorf("record the purge of %s: %w", v.tenant, err)
	}
	return p, nil
}

// updatePurgeCounts adds the accounts phase's counts to the tenant's final record.
func (s *Store) updatePurgeCounts(ctx context.Context, tenant string, counts map[string]int64) error {
	ex := build(expression.NewBuilder().WithCondition(exists()).
		WithUpdate(expression.Set(expression.Name("counts"), expression.Value(counts))))
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.table, Key: key(purgedPK, tenant),
		UpdateExpression: ex.Update(), ConditionExpression: ex.Condition(),
		ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values()})
	if err != nil {
		return fmt.Errorf("purge %s: final counts: %w", tenant, err)
	}
	return nil
}

// PurgeLedger lists the final records of purged tenants. A restore reads it from the live table and
// replays it on the restored one (ReplayPurges).
func (s *Store) PurgeLedger(ctx context.Context) ([]Purge, error) {
	items, err := partition[purgeItem](ctx, s, purgedPK, "", nil)
	if err != nil {
		return nil, fmt.Errorf("read the purge ledger: %w", err)
	}
	out := make([]Purge, 0, len(items))
	for _, it := range items {
		out = append(out, it.purge())
	}
	return out, nil
}

// Purged returns a tenant's final record, or ErrNotFound if it was not purged.
func (s *Store) Purged(ctx context.Context, tenant string) (Purge, error) {
	var it purgeItem
	if err := s.getItem(ctx, purgedPK, tenant, &it); err != nil {
		return Purge{}, fmt.Errorf("purge record of %s: %w", tenant, err)
	}
	return it.purge(), nil
}

func (it purgeItem) purge() Purge {
	return Purge{Tenant: it.Tenant, EndsAt: parseTS(it.EndsAt), PurgedAt: parseTS(it.PurgedAt), Then: it.Then,
		Campaigns: it.Campaigns, Counts: it.Counts}
}

// ReplayPurges purges, from this store's table (typically one restored from a backup or a point in
// time), every tenant in the ledger read from the live table: all their items but the audit trail and the
// proof of deletion, the tenant key last. It copies the ledger's records into the table, so the restored
// table remembers them, and returns how many items it deleted. Running it twice does nothing more.
func (s *Store) ReplayPurges(ctx context.Context, ledger []Purge) (int, error) {
	deleted := 0
	for _, p := range ledger {
		if !domain.ValidID(p.Tenant) {
			return deleted, fmt.Errorf("replay purges: a ledger entry names a malformed tenant %q", p.Tenant)
		}
		counts := map[string]int64{}
		all := func(pk, sk string) bool { return !(pk == tenantPK(p.Tenant) && sk == skTenant) }
		var cursor map[string]types.AttributeValue
		for {
			var err error
			if cursor, err = s.purgeScan(ctx, p.Tenant, cursor, all, counts, time.Now().Add(time.Hour)); err != nil {
				return deleted, fmt.Errorf("replay the purge of %s: %w", p.Tenant, err)
			}
			if len(cursor) == 0 {
				break
			}
		}
		if err := s.batchDelete(ctx, []itemKey{{PK: tenantPK(p.Tenant), SK: skTenant}, {PK: contractQueuePK, SK: p.Tenant}}); err != nil {
			return deleted, fmt.Errorf("replay the purge of %s: %w", p.Tenant, err)
		}
		for _, n := range counts {
			deleted += int(n)
		}
		if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: marshal(purgeItem{
			itemKey: itemKey{PK: purgedPK, SK: p.Tenant}, Tenant: p.Tenant, EndsAt: ts(p.EndsAt), PurgedAt: ts(p.PurgedAt), Then: p.Then,
			Campaigns: p.Campaigns, Counts: p.Counts, ExpiresAt: p.PurgedAt.Add(PurgeRetention).Unix()})}); err != nil {
			return deleted, fmt.Errorf("replay the purge of %s: %w", p.Tenant, err)
		}
	}
	return deleted, nil
}

// TenantIDs lists every tenant in the table. A Scan, for the operators' rare commands over all tenants
// (the processor winding up, a restore's checks); nothing on a request's path calls it.
func (s *Store) TenantIDs(ctx context.Context) ([]string, error) {
	ex := build(expression.NewBuilder().
		WithFilter(expression.Name(AttrSK).Equal(expression.Value(skTenant)).And(expression.Name(AttrPK).BeginsWith("T#"))).
		WithProjection(expression.NamesList(expression.Name(AttrPK))))
	p := dynamodb.NewScanPaginator(s.db, &dynamodb.ScanInput{TableName: &s.table, FilterExpression: ex.Filter(),
		ProjectionExpression: ex.Projection(), ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values()})
	var ids []string
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list tenants: %w", err)
		}
		for _, item := range page.Items {
			var k itemKey
			if err := unmarshal(item, &k); err != nil {
				return nil, fmt.Errorf("list tenants: %w", err)
			}
			ids = append(ids, strings.TrimPrefix(k.PK, "T#"))
		}
	}
	slices.Sort(ids)
	return ids, nil
}
