package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"leadvault/shared/ddb"
	"leadvault/shared/domain"
)

// Subject requests live beside the campaign-deletion jobs of their tenant (pk T#<tenant>#JOB, sk
// SR#<request>), so the jobs function's stream filter wakes for both; an unfinished one is also named in
// the job queue (pk JOBQ, sk <tenant>#SR#<request>).

// SKRequestPrefix begins the sort key of every subject request item.
const SKRequestPrefix = "SR#"

// Attribute names of the subject request item that filters and updates name.
const (
	AttrState = "state"
	AttrKind  = "kind"
	AttrDue   = "due"   // epoch seconds, so that "due before" is a numeric comparison
	AttrLease = "lease" // epoch seconds until which a runner holds the request
)

// RequestLease is how long a runner holds a subject request it claimed: longer than one step takes, so a
// stream event for the claim itself finds it held, and short enough that the schedule resumes a request
// whose runner died.
const RequestLease = 5 * time.Minute

// RequestRetention is how long a subject request's record is kept after it was created: the documented
// instruction and what was done with it (M7) are evidence for as long as the audit trail's default.
const RequestRetention = 5 * 365 * 24 * time.Hour

// requestItem is a subject request (pk T#<tenant>#JOB, sk SR#<request>). It holds the subject's blind-index
// values (sbe, sbp: not the GSI attributes, so the request is never found as a lead) and drops them when
// the request finishes; the controller's note is sealed under a key of its own (nk, nw).
type requestItem struct {
	itemKey
	ID          string           `dynamodbav:"id"`
	Kind        string           `dynamodbav:"kind"`
	State       string           `dynamodbav:"state"`
	EmailBI     string           `dynamodbav:"sbe,omitempty"`
	PhoneBI     string           `dynamodbav:"sbp,omitempty"`
	Reference   string           `dynamodbav:"ref"`
	Received    string           `dynamodbav:"received"`
	Note        []byte           `dynamodbav:"note,omitempty"`
	NoteKey     []byte           `dynamodbav:"nw,omitempty"`
	Due         int64            `dynamodbav:"due"`
	Created     string           `dynamodbav:"created"`
	Updated     string           `dynamodbav:"updated"`
	By          string           `dynamodbav:"by"`
	Found       int64            `dynamodbav:"found"`
	BySource    map[string]int64 `dynamodbav:"bySource,omitempty"`
	ByCampaign  map[string]int64 `dynamodbav:"byCampaign,omitempty"`
	Notified    int64            `dynamodbav:"notified"`
	Erased      int64            `dynamodbav:"erased"`
	Result      string           `dynamodbav:"result,omitempty"`
	ResultUntil string           `dynamodbav:"resultUntil,omitempty"`
	Failure     string           `dynamodbav:"failure,omitempty"`
	Changes     []byte           `dynamodbav:"chg,omitempty"`
	Channel     string           `dynamodbav:"channel,omitempty"`
	Audit       []int64          `dynamodbav:"audit,omitempty"`
	Declined    string           `dynamodbav:"declined,omitempty"`
	Lease       int64            `dynamodbav:"lease,omitempty"`
	Attempts    int64            `dynamodbav:"attempts,omitempty"`
	ExpiresAt   int64            `dynamodbav:"expiresAt"`
}

func requestSK(id string) string { return SKRequestPrefix + id }

func requestQueueSK(tenant, id string) string { return tenant + "#" + requestSK(id) }

// ParseRequestKey returns the tenant and request ID of a subject request item's primary key, as found in
// stream records.
func ParseRequestKey(pk, sk string) (tenant, id string, ok bool) {
	id, ok = strings.CutPrefix(sk, SKRequestPrefix)
	if !ok {
		return "", "", false
	}
	rest, ok := strings.CutPrefix(pk, "T#")
	if !ok {
		return "", "", false
	}
	tenant, ok = strings.CutSuffix(rest, "#JOB")
	return tenant, id, ok && tenant != "" && id != ""
}

// noteSubject names the key a request's note and changes are sealed under; changesRecord is the record
// ID the changes are sealed as.
func noteSubject(id string) string   { return "n." + id }
func changesRecord(id string) string { return id + "#changes" }

func (v *Scoped) requestItem(tk Keys, r domain.SubjectRequest) (requestItem, error) {
	it := requestItem{
		itemKey: itemKey{PK: jobPK(v.tenant), SK: requestSK(r.ID)}, ID: r.ID, Kind: string(r.Kind), State: string(r.State),
		EmailBI: r.Subject.Email, PhoneBI: r.Subject.Phone, Reference: r.Instruction.Reference,
		Received: ts(r.Instruction.ReceivedAt), Due: r.DueAt.Unix(), Created: ts(r.CreatedAt), Updated: ts(r.UpdatedAt),
		By: r.CreatedBy, Found: r.Found.Leads, BySource: r.Found.BySource, ByCampaign: r.Found.Campaigns,
		Notified: r.Found.Notified, Erased: r.Erased, Result: r.Result, Failure: r.Failure,
		ExpiresAt: r.CreatedAt.Add(RequestRetention).Unix(), Channel: r.Channel, Declined: r.DeclineReason, Audit: r.AuditSeqs,
	}
	if !r.ResultExpires.IsZero() {
		it.ResultUntil = ts(r.ResultExpires)
	}
	if r.State.Finished() {
		it.EmailBI, it.PhoneBI = "", ""
	}
	// The note and a rectification's new values are sealed under one key of the request's own.
	seal := func(record string, plain []byte) ([]byte, error) {
		sealed, wrapped, err := tk.SealRecord(noteSubject(r.ID), it.NoteKey, record, plain)
		if err != nil {
			return nil, fmt.Errorf("seal request %s: %w", r.ID, err)
		}
		if it.NoteKey == nil {
			it.NoteKey = wrapped
		}
		return sealed, nil
	}
	var err error
	if r.Instruction.Note != "" {
		if it.Note, err = seal(r.ID, []byte(r.Instruction.Note)); err != nil {
			return requestItem{}, err
		}
	}
	if r.Changes != nil && !r.State.Finished() {
		plain, err := json.Marshal(r.Changes)
		if err != nil {
			return requestItem{}, fmt.Errorf("encode the changes of request %s: %w", r.ID, err)
		}
		if it.Changes, err = seal(changesRecord(r.ID), plain); err != nil {
			return requestItem{}, err
		}
	}
	return it, nil
}

func (it requestItem) request(tk Keys, tenant string) (domain.SubjectRequest, error) {
	r := domain.SubjectRequest{
		TenantID: tenant, ID: it.ID, Kind: domain.RequestKind(it.Kind), State: domain.RequestState(it.State),
		Subject:     domain.SubjectIndex{Email: it.EmailBI, Phone: it.PhoneBI},
		Instruction: domain.Instruction{Reference: it.Reference, ReceivedAt: parseTS(it.Received)},
		DueAt:       time.Unix(it.Due, 0).UTC(), CreatedAt: parseTS(it.Created), UpdatedAt: parseTS(it.Updated),
		CreatedBy: it.By, Erased: it.Erased, Result: it.Result, ResultExpires: parseTS(it.ResultUntil), Failure: it.Failure,
		Attempts: int(it.Attempts), Channel: it.Channel, DeclineReason: it.Declined, AuditSeqs: it.Audit,
		Found: domain.RequestFound{Leads: it.Found, BySource: it.BySource, Campaigns: it.ByCampaign, Notified: it.Notified},
	}
	if len(it.Note) > 0 && tk != nil {
		plain, err := tk.OpenRecord(noteSubject(it.ID), it.NoteKey, it.ID, it.Note)
		if err != nil {
			return domain.SubjectRequest{}, fmt.Errorf("open the note of request %s: %w", it.ID, err)
		}
		r.Instruction.Note = string(plain)
	}
	if len(it.Changes) > 0 && tk != nil {
		plain, err := tk.OpenRecord(noteSubject(it.ID), it.NoteKey, changesRecord(it.ID), it.Changes)
		if err != nil {
			return domain.SubjectRequest{}, fmt.Errorf("open the changes of request %s: %w", it.ID, err)
		}
		r.Changes = &domain.Rectification{}
		if err := json.Unmarshal(plain, r.Changes); err != nil {
			return domain.SubjectRequest{}, fmt.Errorf("decode the changes of request %s: %w", it.ID, err)
		}
	}
	return r, nil
}

// CreateSubjectRequest records a new subject request and, unless it awaits the controller's confirmation,
// queues it for the jobs function, in one transaction. With an idempotency key, a retry of the same
// request returns the request first created (created false); the same key with another request fails
// with ErrIdempotencyConflict. tk must be the tenant's key; it seals the instruction's note.
func (v *Scoped) CreateSubjectRequest(ctx context.Context, tk Keys, r domain.SubjectRequest, idem Idempotency) (domain.SubjectRequest, bool, error) {
	if err := v.key(tk); err != nil {
		return domain.SubjectRequest{}, false, err
	}
	if err := v.same("request "+r.ID, r.TenantID); err != nil {
		return domain.SubjectRequest{}, false, err
	}
	s := v.s
	it, err := v.requestItem(tk, r)
	if err != nil {
		return domain.SubjectRequest{}, false, err
	}
	fresh := onlyIf(absent())
	items := []types.TransactWriteItem{{Put: &types.Put{
		TableName: &s.table, Item: marshal(it),
		ConditionExpression: fresh.Condition(), ExpressionAttributeNames: fresh.Names(),
	}}}
	idemAt := -1
	if idem.Key != "" {
		now := s.now()
		free := onlyIf(absentOrExpired(now.Unix()))
		idemAt = len(items)
		items = append(items, types.TransactWriteItem{Put: &types.Put{
			TableName: &s.table,
			Item: marshal(idemItem{itemKey: itemKey{PK: idemPK(v.tenant, idem.Key), SK: skIdem}, Lead: r.ID,
				RequestHash: idem.RequestHash, ExpiresAt: now.Add(idem.TTL).Unix()}),
			ConditionExpression: free.Condition(), ExpressionAttributeNames: free.Names(), ExpressionAttributeValues: free.Values(),
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}})
	}
	if !r.State.Finished() {
		// Awaiting requests are queued too: the daily reminder finds them there (the runner leaves them).
		items = append(items, v.queueOp(r.ID))
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	var cancelled *types.TransactionCanceledException
	if errors.As(err, &cancelled) && idemAt >= 0 && len(cancelled.CancellationReasons) == len(items) &&
		ddb.Code(cancelled.CancellationReasons[idemAt]) == "ConditionalCheckFailed" {
		id, _, err := s.earlierSubmission(ctx, v.tenant, idem, cancelled.CancellationReasons[idemAt].Item)
		if err != nil {
			return domain.SubjectRequest{}, false, err
		}
		earlier, err := v.SubjectRequest(ctx, tk, id)
		return earlier, false, err
	}
	if err != nil {
		return domain.SubjectRequest{}, false, fmt.Errorf("create subject request %s/%s: %w", v.tenant, r.ID, err)
	}
	created, err := v.SubjectRequest(ctx, tk, r.ID)
	return created, true, err
}

func (v *Scoped) queueOp(id string) types.TransactWriteItem {
	return types.TransactWriteItem{Put: &types.Put{
		TableName: &v.s.table,
		Item: marshal(jobQueueItem{itemKey: itemKey{PK: jobQueuePK, SK: requestQueueSK(v.tenant, id)}, Tenant: v.tenant,
			Job: id}),
	}}
}

// SubjectRequest reads one of the tenant's subject requests; with tk nil its note is left out.
func (v *Scoped) SubjectRequest(ctx context.Context, tk Keys, id string) (domain.SubjectRequest, error) {
	if err := v.check(); err != nil {
		return domain.SubjectRequest{}, err
	}
	if tk != nil {
		if err := v.key(tk); err != nil {
			return domain.SubjectRequest{}, err
		}
	}
	var it requestItem
	if err := v.s.getItem(ctx, jobPK(v.tenant), requestSK(id), &it); err != nil {
		return domain.SubjectRequest{}, fmt.Errorf("subject request %s/%s: %w", v.tenant, id, err)
	}
	return it.request(tk, v.tenant)
}

// RequestQuery filters the list of subject requests; zero fields do not filter.
type RequestQuery struct {
	State     domain.RequestState
	Kind      domain.RequestKind
	DueBefore time.Time
}

// SubjectRequests lists one page of the tenant's subject requests, oldest first, without their notes. It
// queries the tenant's partition and filters there; it never scans.
func (v *Scoped) SubjectRequests(ctx context.Context, q RequestQuery, limit int, cursor string) ([]domain.SubjectRequest, string, error) {
	if err := v.check(); err != nil {
		return nil, "", err
	}
	var conds []expression.ConditionBuilder
	if q.State != "" {
		conds = append(conds, expression.Name(AttrState).Equal(expression.Value(string(q.State))))
	}
	if q.Kind != "" {
		conds = append(conds, expression.Name(AttrKind).Equal(expression.Value(string(q.Kind))))
	}
	if !q.DueBefore.IsZero() {
		conds = append(conds, expression.Name(AttrDue).LessThan(expression.Value(q.DueBefore.Unix())))
	}
	conds = append(conds, expression.Name(AttrExpiresAt).GreaterThan(expression.Value(v.s.now().Unix())))
	filter := conds[0]
	for _, c := range conds[1:] {
		filter = filter.And(c)
	}
	items, next, err := v.s.pagePartition(ctx, jobPK(v.tenant), SKRequestPrefix, &filter, limit, cursor)
	if err != nil {
		return nil, "", fmt.Errorf("list subject requests of %s: %w", v.tenant, err)
	}
	out := make([]domain.SubjectRequest, 0, len(items))
	for _, item := range items {
		var it requestItem
		if err := unmarshal(item, &it); err != nil {
			return nil, "", fmt.Errorf("list subject requests of %s: %w", v.tenant, err)
		}
		r, err := it.request(nil, v.tenant)
		if err != nil {
			return nil, "", err
		}
		out = append(out, r)
	}
	return out, next, nil
}

// SaveSubjectRequest records a request's progress (state, what was found and done), keeping its note.
// A finished request leaves the job queue in the same transaction and drops the subject's blind-index
// values. It fails with ErrNotFound for a request that does not exist.
func (v *Scoped) SaveSubjectRequest(ctx context.Context, r domain.SubjectRequest) (domain.SubjectRequest, error) {
	if err := v.same("request "+r.ID, r.TenantID); err != nil {
		return domain.SubjectRequest{}, err
	}
	s := v.s
	r.UpdatedAt = s.now()
	up := expression.Set(expression.Name(AttrState), expression.Value(string(r.State))).
		Set(expression.Name("updated"), expression.Value(ts(r.UpdatedAt))).
		Set(expression.Name("found"), expression.Value(r.Found.Leads)).
		Set(expression.Name("notified"), expression.Value(r.Found.Notified)).
		Set(expression.Name("erased"), expression.Value(r.Erased))
	setOrRemove := func(name string, val any, empty bool) {
		if empty {
			up = up.Remove(expression.Name(name))
		} else {
			up = up.Set(expression.Name(name), expression.Value(val))
		}
	}
	setOrRemove("bySource", r.Found.BySource, len(r.Found.BySource) == 0)
	setOrRemove("byCampaign", r.Found.Campaigns, len(r.Found.Campaigns) == 0)
	setOrRemove("result", r.Result, r.Result == "")
	setOrRemove("resultUntil", ts(r.ResultExpires), r.ResultExpires.IsZero())
	setOrRemove("failure", r.Failure, r.Failure == "")
	setOrRemove("attempts", r.Attempts, r.Attempts == 0)
	up = up.Remove(expression.Name(AttrLease))
	if r.State.Finished() {
		// Done with the subject: their blind indexes and a rectification's new values go.
		up = up.Remove(expression.Name("sbe")).Remove(expression.Name("sbp")).Remove(expression.Name("chg"))
	}
	setOrRemove("declined", r.DeclineReason, r.DeclineReason == "")
	setOrRemove("audit", r.AuditSeqs, len(r.AuditSeqs) == 0)
	ex := build(expression.NewBuilder().WithCondition(exists()).WithUpdate(up))
	items := []types.TransactWriteItem{{Update: &types.Update{
		TableName: &s.table, Key: key(jobPK(v.tenant), requestSK(r.ID)),
		UpdateExpression: ex.Update(), ConditionExpression: ex.Condition(),
		ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(),
	}}}
	switch {
	case r.State.Finished():
		items = append(items, types.TransactWriteItem{Delete: &types.Delete{TableName: &s.table,
			Key: key(jobQueuePK, requestQueueSK(v.tenant, r.ID))}})
	default:
		items = append(items, v.queueOp(r.ID))
	}
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	var cancelled *types.TransactionCanceledException
	if errors.As(err, &cancelled) && len(cancelled.CancellationReasons) > 0 &&
		ddb.Code(cancelled.CancellationReasons[0]) == "ConditionalCheckFailed" {
		return domain.SubjectRequest{}, fmt.Errorf("save subject request %s/%s: %w", v.tenant, r.ID, ErrNotFound)
	}
	if err != nil {
		return domain.SubjectRequest{}, fmt.Errorf("save subject request %s/%s: %w", v.tenant, r.ID, err)
	}
	return v.SubjectRequest(ctx, nil, r.ID)
}

// ClaimSubjectRequest takes one of the tenant's requests for a runner: a request that is received, or
// running without a live lease, becomes running under a lease of RequestLease, until SaveSubjectRequest.
// It returns claimed false, without error, for a request that is held, finished, awaiting the controller
// or gone, so that a second trigger of the same work does nothing.
func (v *Scoped) ClaimSubjectRequest(ctx context.Context, id string) (domain.SubjectRequest, bool, error) {
	if err := v.check(); err != nil {
		return domain.SubjectRequest{}, false, err
	}
	now := v.s.now()
	state := expression.Name(AttrState)
	free := expression.AttributeNotExists(expression.Name(AttrLease)).Or(expression.Name(AttrLease).LessThan(expression.Value(now.Unix())))
	cond := exists().And(state.In(expression.Value(string(domain.StateReceived)), expression.Value(string(domain.StateRunning)))).And(free)
	ex := build(expression.NewBuilder().WithCondition(cond).WithUpdate(
		expression.Set(state, expression.Value(string(domain.StateRunning))).
			Set(expression.Name(AttrLease), expression.Value(now.Add(RequestLease).Unix())).
			Add(expression.Name("attempts"), expression.Value(1)).
			Set(expression.Name("updated"), expression.Value(ts(now)))))
	out, err := v.s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &v.s.table, Key: key(jobPK(v.tenant), requestSK(id)),
		UpdateExpression: ex.Update(), ConditionExpression: ex.Condition(),
		ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(), ReturnValues: types.ReturnValueAllNew,
	})
	var cond2 *types.ConditionalCheckFailedException
	if errors.As(err, &cond2) {
		return domain.SubjectRequest{}, false, nil
	}
	if err != nil {
		return domain.SubjectRequest{}, false, fmt.Errorf("claim subject request %s/%s: %w", v.tenant, id, err)
	}
	var it requestItem
	if err := unmarshal(out.Attributes, &it); err != nil {
		return domain.SubjectRequest{}, false, fmt.Errorf("claim subject request %s/%s: %w", v.tenant, id, err)
	}
	r, err := it.request(nil, v.tenant)
	return r, err == nil, err
}

// RequestRef names an unfinished subject request in the job queue.
type RequestRef struct{ Tenant, ID string }

// PendingSubjectRequests returns the unfinished subject requests of all tenants, for a scheduler to carry
// on. It queries the job queue, never scans.
func (s *Store) PendingSubjectRequests(ctx context.Context) ([]RequestRef, error) {
	var refs []RequestRef
	ex := build(expression.NewBuilder().WithKeyCondition(expression.Key(AttrPK).Equal(expression.Value(jobQueuePK))))
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName: &s.table, ConsistentRead: aws.Bool(true),
		KeyConditionExpression: ex.KeyCondition(), ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list pending subject requests: %w", err)
		}
		for _, item := range page.Items {
			var it jobQueueItem
			if err := unmarshal(item, &it); err != nil {
				return nil, fmt.Errorf("list pending subject requests: %w", err)
			}
			if strings.HasPrefix(it.SK, it.Tenant+"#"+SKRequestPrefix) {
				refs = append(refs, RequestRef{Tenant: it.Tenant, ID: it.Job})
			}
		}
	}
	return refs, nil
}

// ErrNotAwaiting means a relayed request was to be confirmed or declined but is not awaiting the
// controller (it was confirmed or declined before, or was never relayed).
var ErrNotAwaiting = errors.New("subject request is not awaiting the controller")

// DecideRelayedRequest confirms one of the tenant's relayed requests (it becomes received and the jobs
// function carries it out) or, with a reason, declines it (it finishes declined, dropping the subject's
// blind indexes). A request not awaiting the controller fails with ErrNotAwaiting; an unknown one with
// ErrNotFound.
func (v *Scoped) DecideRelayedRequest(ctx context.Context, id string, confirm bool, reason string) (domain.SubjectRequest, error) {
	if err := v.check(); err != nil {
		return domain.SubjectRequest{}, err
	}
	s := v.s
	now := ts(s.now())
	up := expression.Set(expression.Name("updated"), expression.Value(now))
	if confirm {
		up = up.Set(expression.Name(AttrState), expression.Value(string(domain.StateReceived)))
	} else {
		up = up.Set(expression.Name(AttrState), expression.Value(string(domain.StateDeclined))).
			Set(expression.Name("declined"), expression.Value(reason)).
			Remove(expression.Name("sbe")).Remove(expression.Name("sbp")).Remove(expression.Name("chg"))
	}
	ex := build(expression.NewBuilder().WithUpdate(up).
		WithCondition(exists().And(expression.Name(AttrState).Equal(expression.Value(string(domain.StateAwaiting))))))
	items := []types.TransactWriteItem{{Update: &types.Update{
		TableName: &s.table, Key: key(jobPK(v.tenant), requestSK(id)),
		UpdateExpression: ex.Update(), ConditionExpression: ex.Condition(),
		ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}}}
	if !confirm {
		items = append(items, types.TransactWriteItem{Delete: &types.Delete{TableName: &s.table, Key: key(jobQueuePK, requestQueueSK(v.tenant, id))}})
	}
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	var cancelled *types.TransactionCanceledException
	if errors.As(err, &cancelled) && len(cancelled.CancellationReasons) > 0 && ddb.Code(cancelled.CancellationReasons[0]) == "ConditionalCheckFailed" {
		if cancelled.CancellationReasons[0].Item == nil {
			return domain.SubjectRequest{}, fmt.Errorf("decide request %s/%s: %w", v.tenant, id, ErrNotFound)
		}
		return domain.SubjectRequest{}, fmt.Errorf("decide request %s/%s: %w", v.tenant, id, ErrNotAwaiting)
	}
	if err != nil {
		return domain.SubjectRequest{}, fmt.Errorf("decide request %s/%s: %w", v.tenant, id, err)
	}
	return v.SubjectRequest(ctx, nil, id)
}
