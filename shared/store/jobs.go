package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"leadvault/shared/ddb"
	"leadvault/shared/domain"
)

func jobPK(tenant string) string { return "T#" + tenant + "#JOB" }

// ParseJobKey returns the tenant and campaign of a campaign-deletion job item's primary key, as found in
// stream records.
func ParseJobKey(pk, sk string) (tenant, campaign string, ok bool) {
	campaign, ok = strings.CutPrefix(sk, SKJobPrefix)
	if !ok {
		return "", "", false
	}
	rest, ok := strings.CutPrefix(pk, "T#")
	if !ok {
		return "", "", false
	}
	tenant, ok = strings.CutSuffix(rest, "#JOB")
	return tenant, campaign, ok && tenant != "" && campaign != ""
}

func jobSK(campaign string) string { return SKJobPrefix + campaign }

// jobQueuePK is the partition of unfinished jobs of all tenants, so that a scheduler finds them with one
// Query rather than a Scan. Like the form and alias routes it holds no personal data: each item only
// names a tenant, a campaign and a job.
const jobQueuePK = "JOBQ"

func jobQueueSK(tenant, campaign string) string { return tenant + "#" + jobSK(campaign) }

// startCampaignDeletion records a deletion job, queues it and marks the campaign as being deleted, in
// one transaction; the work is done by DeleteCampaignStep, as often as it takes. A campaign that does
// not exist fails with ErrNotFound. Starting a job for a campaign that already has a running one returns
// that job unchanged, so a retried request is harmless; a finished job of an earlier campaign of the same
// ID is replaced.
func (s *Store) startCampaignDeletion(ctx context.Context, tenant, campaign, jobID string) (domain.CampaignDeletion, error) {
	now := ts(s.now())
	replaceable := onlyIf(absent().Or(expression.Name(AttrDone).Equal(expression.Value(true))))
	mark := build(expression.NewBuilder().WithCondition(exists()).
		WithUpdate(expression.Set(expression.Name(AttrDeleting), expression.Value(true)).Set(expression.Name(AttrJob), expression.Value(jobID))))
	items := []types.TransactWriteItem{
		{Put: &types.Put{
			TableName:           &s.table,
			Item:                marshal(jobItem{itemKey: itemKey{PK: jobPK(tenant), SK: jobSK(campaign)}, Job: jobID, Started: now, Updated: now}),
			ConditionExpression: replaceable.Condition(), ExpressionAttributeNames: replaceable.Names(),
			ExpressionAttributeValues: replaceable.Values(),
		}},
		{Update: &types.Update{
			TableName: &s.table, Key: key(tenantPK(tenant), campaignSK+campaign),
			UpdateExpression: mark.Update(), ConditionExpression: mark.Condition(),
			ExpressionAttributeNames: mark.Names(), ExpressionAttributeValues: mark.Values(),
		}},
		{Put: &types.Put{
			TableName: &s.table,
			Item: marshal(jobQueueItem{itemKey: itemKey{PK: jobQueuePK, SK: jobQueueSK(tenant, campaign)}, Tenant: tenant,
				Campaign: campaign, Job: jobID}),
		}},
	}
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	var cancelled *types.TransactionCanceledException
	if errors.As(err, &cancelled) && len(cancelled.CancellationReasons) == len(items) {
		switch {
		case ddb.Code(cancelled.CancellationReasons[0]) == "ConditionalCheckFailed":
			// A job is running.
			return s.campaignDeletion(ctx, tenant, campaign)
		case ddb.Code(cancelled.CancellationReasons[1]) == "ConditionalCheckFailed":
			// No campaign: a retry after its job finished gets that job.
			if job, err := s.campaignDeletion(ctx, tenant, campaign); err == nil && job.Done {
				return job, nil
			}
			return domain.CampaignDeletion{}, fmt.Errorf("start deletion of campaign %s/%s: %w", tenant, campaign, ErrNotFound)
		}
	}
	if err != nil {
		return domain.CampaignDeletion{}, fmt.Errorf("start deletion of campaign %s/%s: %w", tenant, campaign, err)
	}
	return s.campaignDeletion(ctx, tenant, campaign)
}

// campaignDeletion reads a deletion job.
func (s *Store) campaignDeletion(ctx context.Context, tenant, campaign string) (domain.CampaignDeletion, error) {
	var it jobItem
	if err := s.getItem(ctx, jobPK(tenant), jobSK(campaign), &it); err != nil {
		return domain.CampaignDeletion{}, fmt.Errorf("campaign deletion %s/%s: %w", tenant, campaign, err)
	}
	return it.deletion(tenant, campaign), nil
}

func (it jobItem) deletion(tenant, campaign string) domain.CampaignDeletion {
	return domain.CampaignDeletion{Tenant: tenant, Campaign: campaign, JobID: it.Job, Deleted: it.Deleted, Done: it.Done,
		StartedAt: parseTS(it.Started), UpdatedAt: parseTS(it.Updated)}
}

// PendingCampaignDeletions returns the unfinished deletion jobs of all tenants, by tenant, then campaign,
// for a scheduler to run DeleteCampaignStep on. It queries the job queue, never scans; a job leaves the
// queue in the transaction that finishes it.
func (s *Store) PendingCampaignDeletions(ctx context.Context) ([]domain.CampaignDeletion, error) {
	type ref struct{ tenant, campaign string }
	var refs []ref
	ex := build(expression.NewBuilder().WithKeyCondition(expression.Key(AttrPK).Equal(expression.Value(jobQueuePK))))
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName: &s.table, ConsistentRead: aws.Bool(true),
		KeyConditionExpression: ex.KeyCondition(), ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list pending campaign deletions: %w", err)
		}
		for _, item := range page.Items {
			var it jobQueueItem
			if err := unmarshal(item, &it); err != nil {
				return nil, fmt.Errorf("list pending campaign deletions: %w", err)
			}
			if !strings.HasPrefix(it.SK, it.Tenant+"#"+SKJobPrefix) {
				continue // another kind of job (see PendingSubjectRequests)
			}
			refs = append(refs, ref{it.Tenant, it.Campaign})
		}
	}
	// The queue entry only names the job; its progress is in the job item.
	jobs := map[string]jobItem{}
	for start := 0; start < len(refs); start += 100 {
		var keys []map[string]types.AttributeValue
		for _, r := range refs[start:min(start+100, len(refs))] {
			keys = append(keys, key(jobPK(r.tenant), jobSK(r.campaign)))
		}
		for attempt := 0; len(keys) > 0; attempt++ {
			if attempt > 0 {
				if err := ddb.Backoff(ctx, attempt); err != nil {
					return nil, fmt.Errorf("read pending campaign deletions: %w", err)
				}
			}
			out, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
				s.table: {Keys: keys, ConsistentRead: aws.Bool(true)},
			}})
			if err != nil {
				return nil, fmt.Errorf("read pending campaign deletions: %w", err)
			}
			for _, item := range out.Responses[s.table] {
				var it jobItem
				if err := unmarshal(item, &it); err != nil {
					return nil, fmt.Errorf("read pending campaign deletions: %w", err)
				}
				jobs[key2(it.PK, it.SK)] = it
			}
			keys = out.UnprocessedKeys[s.table].Keys
		}
	}
	out := make([]domain.CampaignDeletion, 0, len(refs))
	for _, r := range refs {
		if it, ok := jobs[key2(jobPK(r.tenant), jobSK(r.campaign))]; ok && !it.Done {
			out = append(out, it.deletion(r.tenant, r.campaign))
		}
	}
	return out, nil
}

// ErrSettling means a campaign deletion found nothing left but may not finish yet (see
// WithDeletionSettle); step it again later.
var ErrSettling = errors.New("campaign deletion is waiting for in-flight submissions")

// cascadeWorkers is how many transactions of one page of a campaign's leads DeleteCampaignStep runs at once.
const cascadeWorkers = 4

// deleteCampaignStep deletes up to max leads of the campaign, with their notification records and their
// references to subject keys, and records the progress; call it until Done. Lead deletions and key
// releases are atomic, in transactions of up to 100 items: a subject key whose last lead goes is deleted
// with it (crypto-shredding, E8), while a key that leads elsewhere still use stays. It is safe to run
// again after a crash, or beside another run: it only ever deletes what is still there, and counts what
// it deleted. Leads are found through the byCampaign index, which is eventually consistent, so Done is
// set only after a query finds nothing left; the same transaction deletes the campaign item and takes
// the job off the queue. A step of a done job does nothing. A campaign without a job fails with
// ErrNotFound.
func (s *Store) deleteCampaignStep(ctx context.Context, tenant, campaign string, max int) (domain.CampaignDeletion, error) {
	job, err := s.campaignDeletion(ctx, tenant, campaign)
	if err != nil || job.Done {
		return job, err
	}
	// Only what deletion needs: the lead's key, subject and expiry, not its sealed data.
	inCampaign := build(expression.NewBuilder().
		WithKeyCondition(expression.Key(AttrCampaign).Equal(expression.Value("T#" + tenant + "#C#" + campaign))).
		WithProjection(expression.NamesList(expression.Name(AttrPK), expression.Name(AttrSK), expression.Name(attrSubject),
			expression.Name(AttrExpiresAt))))
	deleted, seen := 0, 0
	for seen < max {
		out, err := s.db.Query(ctx, &dynamodb.QueryInput{
			TableName: &s.table, IndexName: aws.String(IndexByCampaign),
			KeyConditionExpression: inCampaign.KeyCondition(), ProjectionExpression: inCampaign.Projection(),
			ExpressionAttributeNames: inCampaign.Names(), ExpressionAttributeValues: inCampaign.Values(),
			Limit: aws.Int32(int32(min(1000, max-seen))),
		})
		if err != nil {
			return s.recordFailedStep(ctx, tenant, campaign, deleted, fmt.Errorf("list: %w", err))
		}
		if len(out.Items) == 0 {
			if s.now().Before(job.StartedAt.Add(s.settle)) {
				if deleted > 0 {
					if job, err = s.recordDeletion(ctx, tenant, campaign, deleted); err != nil {
						return job, err
					}
				}
				return job, ErrSettling
			}
			return s.finishDeletion(ctx, tenant, campaign, deleted)
		}
		// Stale index entries of leads already deleted count as seen, so that a step always ends.
		seen += len(out.Items)
		n, err := s.deleteLeadPage(ctx, tenant, out.Items)
		deleted += n
		if err != nil {
			return s.recordFailedStep(ctx, tenant, campaign, deleted, err)
		}
	}
	return s.recordDeletion(ctx, tenant, campaign, deleted)
}

// pageLead is a lead as the byCampaign index shows it: enough to delete it, given its subject key.
type pageLead struct {
	id, subject string
	expired     bool
}

// deleteLeadPage deletes the leads of one page of the byCampaign index and returns how many it deleted.
// A subject's leads of the page go into one transaction where they fit, since a transaction may touch
// the subject key only once; those of a subject with more leads than that go into a series of
// transactions run one after another. The page's subject keys are read once, up front; its
// transactions run cascadeWorkers at a time.
func (s *Store) deleteLeadPage(ctx context.Context, tenant string, items []map[string]types.AttributeValue) (int, error) {
	bySubject := map[string][]pageLead{}
	var order []string
	for _, it := range items {
		var li leadItem
		if err := unmarshal(it, &li); err != nil {
			return 0, fmt.Errorf("read leads of %s: %w", tenant, err)
		}
		t, lead, ok := ParseLeadKey(li.PK, li.SK)
		if !ok || t != tenant {
			continue
		}
		l := pageLead{id: lead, subject: li.Subject, expired: s.expired(it)}
		if _, ok := bySubject[l.subject]; !ok {
			order = append(order, l.subject)
		}
		bySubject[l.subject] = append(bySubject[l.subject], l)
	}
	keys := map[string]map[string]types.AttributeValue{}
	if err := s.batchGet(ctx, subjectKeys(tenant, order), keys); err != nil {
		return 0, fmt.Errorf("read subject keys: %w", err)
	}

	// A lead takes two items (lead, notification record), a subject one (its key).
	const perLead, maxItems = 2, 100
	var tasks [][][]pageLead // each task is a series of transactions, each a list of leads
	var open []pageLead
	openSubjects := 0
	for _, subject := range order {
		leads := bySubject[subject]
		if perLead*len(leads)+1 > maxItems {
			var series [][]pageLead
			for len(leads) > 0 {
				n := min(len(leads), (maxItems-1)/perLead)
				series = append(series, leads[:n])
				leads = leads[n:]
			}
			tasks = append(tasks, series)
			continue
		}
		if perLead*(len(open)+len(leads))+openSubjects+1 > maxItems {
			tasks = append(tasks, [][]pageLead{open})
			open, openSubjects = nil, 0
		}
		open = append(open, leads...)
		openSubjects++
	}
	if len(open) > 0 {
		tasks = append(tasks, [][]pageLead{open})
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		deleted  int
		firstErr error
		wg       sync.WaitGroup
	)
	sem := make(chan struct{}, cascadeWorkers)
	for _, series := range tasks {
		sem <- struct{}{}
		if ctx.Err() != nil {
			break // a transaction failed: leave the rest to the next step
		}
		wg.Go(func() {
			defer func() { <-sem }()
			for i, leads := range series {
				known := keys
				if i > 0 {
					known = nil // the series' earlier transactions changed the key
				}
				n, err := s.deleteLeads(ctx, tenant, leads, known)
				mu.Lock()
				deleted += n
				if err != nil && firstErr == nil {
					firstErr = err
					cancel()
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	return deleted, firstErr
}

func subjectKeys(tenant string, subjects []string) []map[string]types.AttributeValue {
	keys := make([]map[string]types.AttributeValue, len(subjects))
	for i, subject := range subjects {
		keys[i] = key(subjectPK(tenant, subject), skKey)
	}
	return keys
}

// deleteLeads deletes leads of one tenant, their notification records and their references to subject
// keys in one transaction, and returns how many leads it deleted. keys holds the subject key items as
// read (keyed by key2; nil to read them now). When the leads or keys are not as assumed (a lead deleted
// or rectified meanwhile, or a stale index entry; another lead of a subject stored or deleted), the
// transaction fails as a whole; deleteLeads then reads leads and keys again, skips leads already gone,
// and retries.
func (s *Store) deleteLeads(ctx context.Context, tenant string, leads []pageLead, keys map[string]map[string]types.AttributeValue) (int, error) {
	for attempt := 0; ; attempt++ {
		if keys == nil {
			keys = map[string]map[string]types.AttributeValue{}
			var subjects []string
			seen := map[string]bool{}
			for _, l := range leads {
				if !seen[l.subject] {
					seen[l.subject] = true
					subjects = append(subjects, l.subject)
				}
			}
			if err := s.batchGet(ctx, subjectKeys(tenant, subjects), keys); err != nil {
				return 0, fmt.Errorf("delete leads of %s: read subject keys: %w", tenant, err)
			}
		}
		var items []types.TransactWriteItem
		refs := map[string]int64{}
		var subjects []string
		for _, l := range leads {
			same := onlyIf(exists().And(expression.Name(attrSubject).Equal(expression.Value(l.subject))))
			items = append(items,
				types.TransactWriteItem{Delete: &types.Delete{
					TableName: &s.table, Key: key(leadPK(tenant, l.id), skLead),
					ConditionExpression: same.Condition(), ExpressionAttributeNames: same.Names(), ExpressionAttributeValues: same.Values(),
				}},
				types.TransactWriteItem{Delete: &types.Delete{TableName: &s.table, Key: key(leadPK(tenant, l.id), skNotified)}},
			)
			// An expired lead may hold no reference to its subject's current key (see DeleteLead).
			if !l.expired {
				if _, ok := refs[l.subject]; !ok {
					subjects = append(subjects, l.subject)
				}
				refs[l.subject]++
			}
		}
		for _, subject := range subjects {
			if op, ok := s.releaseKeyOp(tenant, subject, keys[key2(subjectPK(tenant, subject), skKey)], refs[subject]); ok {
				items = append(items, op)
			}
		}
		if len(leads) == 0 {
			return 0, nil
		}
		if len(items) > 100 {
			// Rectified leads brought more subjects than planned: leave the last lead to a later page.
			leads = leads[:len(leads)-1]
			continue
		}
		_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		if err == nil {
			return len(leads), nil
		}
		var cancelled *types.TransactionCanceledException
		if !errors.As(err, &cancelled) || attempt == ddb.TxAttempts-1 {
			return 0, fmt.Errorf("delete leads of %s: %w", tenant, err)
		}
		if err := ddb.Backoff(ctx, attempt); err != nil {
			return 0, fmt.Errorf("delete leads of %s: %w", tenant, err)
		}
		if leads, err = s.rereadLeads(ctx, tenant, leads); err != nil {
			return 0, fmt.Errorf("delete leads of %s: %w", tenant, err)
		}
		keys = nil
	}
}

// rereadLeads reads leads again, consistently, and returns those still there as they are now.
func (s *Store) rereadLeads(ctx context.Context, tenant string, leads []pageLead) ([]pageLead, error) {
	keys := make([]map[string]types.AttributeValue, len(leads))
	for i, l := range leads {
		keys[i] = key(leadPK(tenant, l.id), skLead)
	}
	found := map[string]map[string]types.AttributeValue{}
	if err := s.batchGet(ctx, keys, found); err != nil {
		return nil, fmt.Errorf("read leads: %w", err)
	}
	var out []pageLead
	for _, l := range leads {
		if it := found[key2(leadPK(tenant, l.id), skLead)]; it != nil {
			var li leadItem
			if err := unmarshal(it, &li); err != nil {
				return nil, fmt.Errorf("read leads: %w", err)
			}
			out = append(out, pageLead{id: l.id, subject: li.Subject, expired: s.expired(it)})
		}
	}
	return out, nil
}

// key2 is a map key for an item's primary key.
func key2(pk, sk string) string { return pk + "\x00" + sk }

// batchGet reads the items of keys, 100 at a time and consistently, into found (keyed by key2); absent
// items are missing from it. It reads only what deletion needs: keys, subject, expiry, key material and
// count.
func (s *Store) batchGet(ctx context.Context, keys []map[string]types.AttributeValue, found map[string]map[string]types.AttributeValue) error {
	proj := build(expression.NewBuilder().WithProjection(expression.NamesList(expression.Name(AttrPK), expression.Name(AttrSK),
		expression.Name(attrSubject), expression.Name(AttrExpiresAt), expression.Name(AttrWrapped), expression.Name(AttrRefs))))
	for start := 0; start < len(keys); start += 100 {
		batch := keys[start:min(start+100, len(keys))]
		for attempt := 0; len(batch) > 0; attempt++ {
			out, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
				s.table: {Keys: batch, ConsistentRead: aws.Bool(true), ProjectionExpression: proj.Projection(),
					ExpressionAttributeNames: proj.Names()},
			}})
			if err != nil {
				return err
			}
			for _, it := range out.Responses[s.table] {
				var k itemKey
				if err := unmarshal(it, &k); err != nil {
					return err
				}
				found[key2(k.PK, k.SK)] = it
			}
			batch = out.UnprocessedKeys[s.table].Keys
			if len(batch) > 0 {
				if err := ddb.Backoff(ctx, attempt); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// recordDeletion adds n deleted leads to the job's progress and to the tenant's proof of deletion, in one
// transaction.
func (s *Store) recordDeletion(ctx context.Context, tenant, campaign string, n int) (domain.CampaignDeletion, error) {
	ex := build(expression.NewBuilder().WithCondition(exists()).WithUpdate(s.progress(n)))
	items := []types.TransactWriteItem{{Update: &types.Update{
		TableName: &s.table, Key: key(jobPK(tenant), jobSK(campaign)),
		UpdateExpression: ex.Update(), ConditionExpression: ex.Condition(),
		ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(),
	}}}
	if n > 0 {
		items = append(items, s.countOp(tenant, ReasonCampaign, n, s.now()))
	}
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if err != nil {
		return domain.CampaignDeletion{}, fmt.Errorf("record deletion of campaign %s/%s: %w", tenant, campaign, err)
	}
	return s.campaignDeletion(ctx, tenant, campaign)
}

// recordFailedStep records what a failed step did delete, so the job's count stays exact, and returns
// the step's error.
func (s *Store) recordFailedStep(ctx context.Context, tenant, campaign string, n int, stepErr error) (domain.CampaignDeletion, error) {
	err := fmt.Errorf("delete campaign %s/%s: %w", tenant, campaign, stepErr)
	if n == 0 {
		return domain.CampaignDeletion{}, err
	}
	if _, recErr := s.recordDeletion(context.WithoutCancel(ctx), tenant, campaign, n); recErr != nil {
		return domain.CampaignDeletion{}, errors.Join(err, recErr)
	}
	return domain.CampaignDeletion{}, err
}

// progress is the update that adds n deleted leads to a job and records when.
func (s *Store) progress(n int) expression.UpdateBuilder {
	return expression.Add(expression.Name(AttrDeleted), expression.Value(n)).Set(expression.Name(AttrUpdated), expression.Value(ts(s.now())))
}

// finishDeletion marks the job done, deletes the campaign item and takes the job off the queue, in one
// transaction.
func (s *Store) finishDeletion(ctx context.Context, tenant, campaign string, n int) (domain.CampaignDeletion, error) {
	ex := build(expression.NewBuilder().WithCondition(exists()).
		WithUpdate(s.progress(n).Set(expression.Name(AttrDone), expression.Value(true))))
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: append([]types.TransactWriteItem{
		{Update: &types.Update{
			TableName: &s.table, Key: key(jobPK(tenant), jobSK(campaign)),
			UpdateExpression: ex.Update(), ConditionExpression: ex.Condition(),
			ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(),
		}},
		{Delete: &types.Delete{TableName: &s.table, Key: key(tenantPK(tenant), campaignSK+campaign)}},
		{Delete: &types.Delete{TableName: &s.table, Key: key(jobQueuePK, jobQueueSK(tenant, campaign))}},
	}, s.countOps(tenant, ReasonCampaign, n)...)})
	if err != nil {
		return domain.CampaignDeletion{}, fmt.Errorf("finish deletion of campaign %s/%s: %w", tenant, campaign, err)
	}
	return s.campaignDeletion(ctx, tenant, campaign)
}
