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

	"leadvault/shared/domain"
)

// Breach incidents (S9, S8): the operators' record (pk INCIDENTS, sk <id>: what, when, which tenants, which
// were sent which notice) and each affected tenant's own view (pk T#<t>#INC, sk <id>: its scope and the
// notices it was sent, appended, never overwritten). No personal data: counts, IDs and categories.

const incidentsPK = "INCIDENTS"

func incidentPK(tenant string) string { return "T#" + tenant + "#INC" }

type incidentItem struct {
	itemKey
	ID         string   `dynamodbav:"id"`
	Nature     string   `dynamodbav:"nature"`
	Discovered string   `dynamodbav:"discovered"`
	From       string   `dynamodbav:"from,omitempty"`
	To         string   `dynamodbav:"to,omitempty"`
	Actors     []string `dynamodbav:"actors,omitempty"`
	Tenants    []string `dynamodbav:"tenants,omitempty"`
	State      string   `dynamodbav:"state"`
	Opened     string   `dynamodbav:"opened"`
	Closed     string   `dynamodbav:"closed,omitempty"`
	// Initial and Detailed are the tenants sent each notice (operators' record only).
	Initial  []string `dynamodbav:"initial,stringset,omitempty"`
	Detailed []string `dynamodbav:"detailed,stringset,omitempty"`
	// The tenant's view only.
	Scope   *scopeItem   `dynamodbav:"scope,omitempty"`
	Notices []noticeItem `dynamodbav:"notices,omitempty"`
}

type scopeItem struct {
	Forms, Campaigns, Categories []string
	Leads, Notifications         int
	Subjects                     int
	Access                       map[string]int
}

type noticeItem struct {
	Kind string `dynamodbav:"kind"`
	At   string `dynamodbav:"at"`
	Text string `dynamodbav:"text"`
}

func (it incidentItem) incident() domain.Incident {
	in := domain.Incident{ID: it.ID, Nature: it.Nature, Discovered: parseTS(it.Discovered), From: parseTS(it.From), To: parseTS(it.To),
		Actors: it.Actors, Tenants: it.Tenants, State: it.State, OpenedAt: parseTS(it.Opened), ClosedAt: parseTS(it.Closed),
		InitialSent: it.Initial, DetailedSent: it.Detailed}
	if it.Scope != nil {
		in.Scope = domain.IncidentScope{Forms: it.Scope.Forms, Campaigns: it.Scope.Campaigns, Categories: it.Scope.Categories,
			Leads: it.Scope.Leads, Notifications: it.Scope.Notifications, Subjects: it.Scope.Subjects, Access: it.Scope.Access}
	}
	for _, n := range it.Notices {
		in.Notices = append(in.Notices, domain.IncidentNotice{Kind: n.Kind, At: parseTS(n.At), Text: n.Text})
	}
	return in
}

// PutIncident records a new incident for the operators and, per affected tenant, its scope there.
func (s *Store) PutIncident(ctx context.Context, in domain.Incident, scopes map[string]domain.IncidentScope) error {
	base := incidentItem{ID: in.ID, Nature: in.Nature, Discovered: ts(in.Discovered), Actors: in.Actors, Tenants: in.Tenants,
		State: domain.IncidentOpen, Opened: ts(in.OpenedAt)}
	if !in.From.IsZero() {
		base.From, base.To = ts(in.From), ts(in.To)
	}
	ops := base
	ops.itemKey = itemKey{PK: incidentsPK, SK: in.ID}
	ex := onlyIf(absent())
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: marshal(ops),
		ConditionExpression: ex.Condition(), ExpressionAttributeNames: ex.Names()}); err != nil {
		if isConditionFailed(err) {
			return fmt.Errorf("put incident %s: %w", in.ID, ErrExists)
		}
		return fmt.Errorf("put incident %s: %w", in.ID, err)
	}
	for _, t := range in.Tenants {
		sc := scopes[t]
		it := base
		it.itemKey, it.Tenants = itemKey{PK: incidentPK(t), SK: in.ID}, nil
		it.Scope = &scopeItem{Forms: sc.Forms, Campaigns: sc.Campaigns, Categories: sc.Categories, Leads: sc.Leads,
			Notifications: sc.Notifications, Subjects: sc.Subjects, Access: sc.Access}
		if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: marshal(it)}); err != nil {
			return fmt.Errorf("put incident %s of %s: %w", in.ID, t, err)
		}
	}
	return nil
}

// Incidents lists the operators' incidents, newest first.
func (s *Store) Incidents(ctx context.Context) ([]domain.Incident, error) {
	items, err := partition[incidentItem](ctx, s, incidentsPK, "", nil)
	if err != nil {
		return nil, err
	}
	out := make([]domain.Incident, 0, len(items))
	for _, it := range items {
		out = append(out, it.incident())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Discovered.After(out[j].Discovered) })
	return out, nil
}

// Incident reads the operators' record of an incident.
func (s *Store) Incident(ctx context.Context, id string) (domain.Incident, error) {
	var it incidentItem
	if err := s.getItem(ctx, incidentsPK, id, &it); err != nil {
		return domain.Incident{}, fmt.Errorf("incident %s: %w", id, err)
	}
	return it.incident(), nil
}

// AppendNotice appends a notice to the tenant's view of an incident and, for an initial or detailed
// notice, records in the operators' record that the tenant was sent it.
func (v *Scoped) AppendNotice(ctx context.Context, incident string, n domain.IncidentNotice) error {
	if err := v.check(); err != nil {
		return err
	}
	list := expression.Name("notices")
	ex := build(expression.NewBuilder().WithCondition(exists()).WithUpdate(expression.Set(list,
		expression.ListAppend(expression.IfNotExists(list, expression.Value([]noticeItem{})),
			expression.Value([]noticeItem{{Kind: n.Kind, At: ts(n.At), Text: n.Text}})))))
	if _, err := v.s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &v.s.table, Key: key(incidentPK(v.tenant), incident),
		UpdateExpression: ex.Update(), ConditionExpression: ex.Condition(),
		ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values()}); err != nil {
		if isConditionFailed(err) {
			return fmt.Errorf("notice of incident %s to %s: %w", incident, v.tenant, ErrNotFound)
		}
		return fmt.Errorf("notice of incident %s to %s: %w", incident, v.tenant, err)
	}
	if n.Kind != domain.NoticeInitial && n.Kind != domain.NoticeDetailed {
		return nil
	}
	set := build(expression.NewBuilder().WithUpdate(expression.Add(expression.Name(n.Kind), expression.Value(&types.AttributeValueMemberSS{Value: []string{v.tenant}}))))
	_, err := v.s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &v.s.table, Key: key(incidentsPK, incident),
		UpdateExpression: set.Update(), ExpressionAttributeNames: set.Names(), ExpressionAttributeValues: set.Values()})
	if err != nil {
		return fmt.Errorf("notice of incident %s to %s: %w", incident, v.tenant, err)
	}
	return nil
}

// CloseIncident marks an incident closed in the operators' record and every affected tenant's view.
func (s *Store) CloseIncident(ctx context.Context, id string, at time.Time) error {
	in, err := s.Incident(ctx, id)
	if err != nil {
		return err
	}
	ex := build(expression.NewBuilder().WithCondition(exists()).
		WithUpdate(expression.Set(expression.Name("state"), expression.Value(domain.IncidentClosed)).Set(expression.Name("closed"), expression.Value(ts(at)))))
	for _, pk := range append([]string{incidentsPK}, tenantIncidentPKs(in.Tenants)...) {
		if _, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.table, Key: key(pk, id),
			UpdateExpression: ex.Update(), ConditionExpression: ex.Condition(),
			ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values()}); err != nil {
			return fmt.Errorf("close incident %s: %w", id, err)
		}
	}
	return nil
}

func tenantIncidentPKs(tenants []string) []string {
	out := make([]string, 0, len(tenants))
	for _, t := range tenants {
		out = append(out, incidentPK(t))
	}
	return out
}

// Incidents lists the incidents that concern the tenant, newest first, with their scope there and the
// notices it was sent.
func (v *Scoped) Incidents(ctx context.Context) ([]domain.Incident, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	items, err := partition[incidentItem](ctx, v.s, incidentPK(v.tenant), "", nil)
	if err != nil {
		return nil, err
	}
	out := make([]domain.Incident, 0, len(items))
	for _, it := range items {
		out = append(out, it.incident())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Discovered.After(out[j].Discovered) })
	return out, nil
}

// Incident reads the tenant's view of an incident.
func (v *Scoped) Incident(ctx context.Context, id string) (domain.Incident, error) {
	if err := v.check(); err != nil {
		return domain.Incident{}, err
	}
	var it incidentItem
	if err := v.s.getItem(ctx, incidentPK(v.tenant), id, &it); err != nil {
		return domain.Incident{}, fmt.Errorf("incident %s of %s: %w", id, v.tenant, err)
	}
	return it.incident(), nil
}

// CampaignLeads counts a campaign's leads created in [from, to] and their distinct subjects: the scope of
// an incident. One query of the campaign index per page, projecting the subject only.
func (v *Scoped) CampaignLeads(ctx context.Context, campaign string, from, to time.Time) (leads, subjects int, err error) {
	if err := v.check(); err != nil {
		return 0, 0, err
	}
	cond := expression.Key(AttrCampaign).Equal(expression.Value("T#" + v.tenant + "#C#" + campaign)).
		And(expression.Key(AttrCreated).Between(expression.Value(sortKeyTime(from)), expression.Value(sortKeyTime(to)+"~")))
	ex := build(expression.NewBuilder().WithKeyCondition(cond).WithProjection(expression.NamesList(expression.Name(attrSubject))))
	p := dynamodb.NewQueryPaginator(v.s.db, &dynamodb.QueryInput{TableName: &v.s.table, IndexName: aws.String(IndexByCampaign),
		KeyConditionExpression: ex.KeyCondition(), ProjectionExpression: ex.Projection(),
		ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values()})
	seen := map[string]bool{}
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return leads, len(seen), fmt.Errorf("count leads of %s/%s: %w", v.tenant, campaign, err)
		}
		for _, item := range page.Items {
			var it struct {
				Subject string `dynamodbav:"subj"`
			}
			_ = unmarshal(item, &it)
			seen[it.Subject] = true
			leads++
		}
	}
	return leads, len(seen), nil
}
