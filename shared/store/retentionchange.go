package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"leadvault/shared/domain"
)

// A changed retention of a form applies to the leads already stored from it: a job item (pk T#<t>#JOB, sk
// RET#<form>) queued in JOBQ records the form's new retention and how far the job got; the jobs function
// steps it on its schedule. Shortening brings the expiry of stored leads forward (the retention sweep then
// deletes them within the hour); lengthening extends only leads not yet expired, and their subject keys
// with them.

const skRetentionPrefix = "RET#"

// retentionJobItem is a retention change in progress.
type retentionJobItem struct {
	itemKey
	Form     string `dynamodbav:"form"`
	Campaign string `dynamodbav:"campaign"`
	// Campaigns are every campaign of the tenant when the change started, the form's current one first: a
	// form may have fed others before, and their leads keep its retention too. Next indexes the one after
	// Campaign.
	Campaigns []string `dynamodbav:"campaigns,omitempty"`
	Next      int      `dynamodbav:"next,omitempty"`
	Days      int      `dynamodbav:"days"`
	SpamDays  int      `dynamodbav:"spamDays"`
	Cursor    string   `dynamodbav:"cursor,omitempty"`
	Changed   int64    `dynamodbav:"changed"`
	Done      bool     `dynamodbav:"done"`
	Started   string   `dynamodbav:"started"`
}

// RetentionChange is the progress of applying a form's changed retention to its stored leads.
type RetentionChange struct {
	Tenant, Form string
	Changed      int64
	Done         bool
}

// StartRetentionChange records that form f's retention changed and queues the job that applies it to the
// leads stored from it; a job already running for the form is replaced, and restarts from the beginning
// with the newest retention.
func (v *Scoped) StartRetentionChange(ctx context.Context, f domain.Form) error {
	if err := v.same("form "+f.ID, f.TenantID); err != nil {
		return err
	}
	s := v.s
	all, err := s.campaignIDs(ctx, v.tenant)
	if err != nil {
		return fmt.Errorf("start retention change of form %s/%s: %w", v.tenant, f.ID, err)
	}
	campaigns := []string{f.CampaignID}
	for _, c := range all {
		if c != f.CampaignID {
			campaigns = append(campaigns, c)
		}
	}
	items := []types.TransactWriteItem{
		{Put: &types.Put{TableName: &s.table, Item: marshal(retentionJobItem{itemKey: itemKey{PK: jobPK(v.tenant), SK: skRetentionPrefix + f.ID},
			Form: f.ID, Campaign: f.CampaignID, Campaigns: campaigns, Next: 1, Days: f.RetentionDays, SpamDays: f.SpamRetentionDays,
			Started: ts(s.now())})}},
		{Put: &types.Put{TableName: &s.table, Item: marshal(jobQueueItem{itemKey: itemKey{PK: jobQueuePK, SK: v.tenant + "#" + skRetentionPrefix + f.ID},
			Tenant: v.tenant, Job: f.ID})}},
	}
	if _, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items}); err != nil {
		return fmt.Errorf("start retention change of form %s/%s: %w", v.tenant, f.ID, err)
	}
	return nil
}

// PendingRetentionChanges returns the unfinished retention changes of all tenants (tenant, form).
func (s *Store) PendingRetentionChanges(ctx context.Context) ([]RetentionChange, error) {
	items, err := partition[jobQueueItem](ctx, s, jobQueuePK, "", nil)
	if err != nil {
		return nil, fmt.Errorf("list pending retention changes: %w", err)
	}
	var out []RetentionChange
	for _, it := range items {
		if strings.HasPrefix(it.SK, it.Tenant+"#"+skRetentionPrefix) {
			out = append(out, RetentionChange{Tenant: it.Tenant, Form: it.Job})
		}
	}
	return out, nil
}

// RetentionChangeStep applies the form's new retention to up to max more of its stored leads (found
// through the campaign index, campaign by campaign: its current one, then every other the tenant had when
// the change started) and records the progress; call it until Done. A lead that has expired
// already is left to the sweep; a lead whose new expiry has passed gets the current hour as its expiry
// hour, so the next sweep deletes it.
func (v *Scoped) RetentionChangeStep(ctx context.Context, form string, max int) (RetentionChange, error) {
	if err := v.check(); err != nil {
		return RetentionChange{}, err
	}
	s := v.s
	var job retentionJobItem
	if err := s.getItem(ctx, jobPK(v.tenant), skRetentionPrefix+form, &job); err != nil {
		return RetentionChange{}, fmt.Errorf("retention change of form %s/%s: %w", v.tenant, form, err)
	}
	if job.Done {
		return RetentionChange{Tenant: v.tenant, Form: form, Changed: job.Changed, Done: true}, nil
	}
	started := job.Started
	f := domain.Form{RetentionDays: job.Days, SpamRetentionDays: job.SpamDays}
	now := s.now()
	cond := expression.Key(AttrCampaign).Equal(expression.Value("T#" + v.tenant + "#C#" + job.Campaign))
	if job.Cursor != "" {
		cond = cond.And(expression.Key(AttrCreated).GreaterThan(expression.Value(job.Cursor)))
	}
	ex := build(expression.NewBuilder().WithKeyCondition(cond).
		WithFilter(expression.Name(AttrForm).Equal(expression.Value(form))).
		WithProjection(expression.NamesList(expression.Name(AttrPK), expression.Name(AttrSK), expression.Name(attrSubject),
			expression.Name(AttrExpiresAt), expression.Name("createdAt"), expression.Name("spam"), expression.Name(AttrCreated))))
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{TableName: &s.table, IndexName: aws.String(IndexByCampaign),
		KeyConditionExpression: ex.KeyCondition(), FilterExpression: ex.Filter(), ProjectionExpression: ex.Projection(),
		ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(), Limit: aws.Int32(int32(max))})
	if err != nil {
		return RetentionChange{}, fmt.Errorf("retention change of form %s/%s: %w", v.tenant, form, err)
	}
	changed := int64(0)
	for _, item := range out.Items {
		var l leadItem
		if err := unmarshal(item, &l); err != nil {
			return RetentionChange{}, fmt.Errorf("retention change of form %s/%s: %w", v.tenant, form, err)
		}
		if l.ExpiresAt <= now.Unix() {
			continue // expired: the sweep's
		}
		exp := parseTS(l.CreatedAt).Add(f.Retention(l.Spam)).Unix()
		if exp == l.ExpiresAt {
			continue
		}
		ok, err := s.setLeadExpiry(ctx, l, exp, now)
		if err != nil {
			return RetentionChange{}, fmt.Errorf("retention change of form %s/%s: %w", v.tenant, form, err)
		}
		if ok {
			changed++
		}
	}
	cursor := job.Cursor
	if out.LastEvaluatedKey != nil {
		var last struct {
			Created string `dynamodbav:"ct"`
		}
		if err := unmarshal(out.LastEvaluatedKey, &last); err != nil {
			return RetentionChange{}, fmt.Errorf("retention change of form %s/%s: %w", v.tenant, form, err)
		}
		cursor = last.Created
	}
	done := out.LastEvaluatedKey == nil
	// Conditioned on the job being the one read: a newer change restarts it rather than being marked done.
	same := expression.Name("started").Equal(expression.Value(started))
	up := expression.Add(expression.Name("changed"), expression.Value(changed))
	if done && job.Next > 0 && job.Next < len(job.Campaigns) {
		// This campaign is through: on to the next one the form may have fed.
		done = false
		up = up.Set(expression.Name("campaign"), expression.Value(job.Campaigns[job.Next])).
			Set(expression.Name("next"), expression.Value(job.Next+1)).Remove(expression.Name("cursor"))
	} else if cursor != "" {
		up = up.Set(expression.Name("cursor"), expression.Value(cursor))
	}
	up = up.Set(expression.Name("done"), expression.Value(done))
	uex := build(expression.NewBuilder().WithCondition(same).WithUpdate(up))
	items := []types.TransactWriteItem{{Update: &types.Update{TableName: &s.table, Key: key(jobPK(v.tenant), skRetentionPrefix+form),
		UpdateExpression: uex.Update(), ConditionExpression: uex.Condition(), ExpressionAttributeNames: uex.Names(), ExpressionAttributeValues: uex.Values()}}}
	if done {
		items = append(items, types.TransactWriteItem{Delete: &types.Delete{TableName: &s.table,
			Key: key(jobQueuePK, v.tenant+"#"+skRetentionPrefix+form)}})
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	var cancelled *types.TransactionCanceledException
	if errors.As(err, &cancelled) {
		return RetentionChange{Tenant: v.tenant, Form: form}, nil // restarted meanwhile: the next step carries on
	}
	if err != nil {
		return RetentionChange{}, fmt.Errorf("retention change of form %s/%s: %w", v.tenant, form, err)
	}
	return RetentionChange{Tenant: v.tenant, Form: form, Changed: job.Changed + changed, Done: done}, nil
}

// setLeadExpiry gives a lead a new expiry, conditioned on it being as read; a later expiry is given to its
// subject key too (a key never expires before its leads). It reports whether the lead changed.
func (s *Store) setLeadExpiry(ctx context.Context, l leadItem, exp int64, now time.Time) (bool, error) {
	hour := ExpiryHour(time.Unix(max(exp, now.Unix()), 0))
	lex := build(expression.NewBuilder().
		WithCondition(exists().And(expression.Name(AttrExpiresAt).Equal(expression.Value(l.ExpiresAt)))).
		WithUpdate(expression.Set(expression.Name(AttrExpiresAt), expression.Value(exp)).Set(expression.Name(AttrExpiryHour), expression.Value(hour))))
	items := []types.TransactWriteItem{{Update: &types.Update{TableName: &s.table, Key: key(l.PK, l.SK),
		UpdateExpression: lex.Update(), ConditionExpression: lex.Condition(), ExpressionAttributeNames: lex.Names(), ExpressionAttributeValues: lex.Values()}}}
	tenant, _, _ := ParseLeadKey(l.PK, l.SK)
	if exp > l.ExpiresAt {
		kex := build(expression.NewBuilder().
			WithCondition(exists().And(expression.Name(AttrExpiresAt).LessThan(expression.Value(exp)))).
			WithUpdate(expression.Set(expression.Name(AttrExpiresAt), expression.Value(exp)).Set(expression.Name(AttrExpiryHour), expression.Value(ExpiryHour(time.Unix(exp, 0))))))
		items = append(items, types.TransactWriteItem{Update: &types.Update{TableName: &s.table, Key: key(subjectPK(tenant, l.Subject), skKey),
			UpdateExpression: kex.Update(), ConditionExpression: kex.Condition(), ExpressionAttributeNames: kex.Names(), ExpressionAttributeValues: kex.Values()}})
	}
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	var cancelled *types.TransactionCanceledException
	if errors.As(err, &cancelled) && len(cancelled.CancellationReasons) == 2 &&
		cancelled.CancellationReasons[0].Code != nil && *cancelled.CancellationReasons[0].Code == "None" {
		// The key outlives the new expiry already: only the lead changes.
		_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items[:1]})
		if errors.As(err, &cancelled) {
			return false, nil
		}
		return err == nil, err
	}
	if errors.As(err, &cancelled) {
		return false, nil // the lead changed or went meanwhile
	}
	return err == nil, err
}
