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

	"leadvault/shared/domain"
)

// Subject markers (pk T#<tenant>#MARK, sk E#<blind index> or P#<blind index>) say that a data subject's
// processing is restricted (Art. 18) or objected to (Art. 21), by identifier, so that a new lead of the
// subject is stored restricted too. They hold blind indexes only, and outlive an erasure: an objection
// stands until it is lifted by an explicit request.

func markPK(tenant string) string { return "T#" + tenant + "#MARK" }

// markItem is one identifier's marker.
type markItem struct {
	itemKey
	Restricted bool   `dynamodbav:"restricted,omitempty"`
	Objected   bool   `dynamodbav:"objected,omitempty"`
	Request    string `dynamodbav:"request"`
	Since      string `dynamodbav:"since"`
}

// markKeys are the marker keys of a subject's identifiers.
func markKeys(tenant string, idx domain.SubjectIndex) []map[string]types.AttributeValue {
	var keys []map[string]types.AttributeValue
	if idx.Email != "" {
		keys = append(keys, key(markPK(tenant), "E#"+idx.Email))
	}
	if idx.Phone != "" {
		keys = append(keys, key(markPK(tenant), "P#"+idx.Phone))
	}
	return keys
}

// markChecks are the condition checks a new lead's transaction makes on its subject's markers: each
// fails, returning the marker, when the identifier is marked.
func (s *Store) markChecks(tenant string, lead map[string]types.AttributeValue) []types.TransactWriteItem {
	var idx domain.SubjectIndex
	for attr, bi := range map[string]*string{AttrEmailBI: &idx.Email, AttrPhoneBI: &idx.Phone} {
		if v, ok := lead[attr].(*types.AttributeValueMemberS); ok {
			_, *bi, _ = strings.Cut(strings.TrimPrefix(v.Value, "T#"+tenant+"#"), "#")
		}
	}
	unmarked := onlyIf(absent())
	var checks []types.TransactWriteItem
	for _, k := range markKeys(tenant, idx) {
		checks = append(checks, types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
			TableName: &s.table, Key: k, ConditionExpression: unmarked.Condition(), ExpressionAttributeNames: unmarked.Names(),
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}})
	}
	return checks
}

// applyMark restricts a lead whose subject carries the marker item, flagging an objection.
func applyMark(l *domain.Lead, item map[string]types.AttributeValue) {
	var m markItem
	if item != nil {
		_ = unmarshal(item, &m)
	}
	l.Restricted = true
	if m.Objected && !slices.Contains(l.Flags, domain.FlagObjection) {
		l.Flags = append(slices.Clone(l.Flags), domain.FlagObjection)
	}
}

// MarkSubject marks the subject's identifiers as restricted, or as objected to (which restricts too),
// on request; a mark already there keeps what it had and gains what is new.
func (v *Scoped) MarkSubject(ctx context.Context, idx domain.SubjectIndex, objected bool, request string, at time.Time) error {
	if err := v.check(); err != nil {
		return err
	}
	up := expression.Set(expression.Name(AttrRestricted), expression.Value(true)).
		Set(expression.Name("request"), expression.Value(request)).Set(expression.Name("since"), expression.Value(ts(at)))
	if objected {
		up = up.Set(expression.Name("objected"), expression.Value(true))
	}
	ex := build(expression.NewBuilder().WithUpdate(up))
	for _, k := range markKeys(v.tenant, idx) {
		if _, err := v.s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &v.s.table, Key: k,
			UpdateExpression: ex.Update(), ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values()}); err != nil {
			return fmt.Errorf("mark subject of request %s/%s: %w", v.tenant, request, err)
		}
	}
	return nil
}

// UnmarkSubject removes the subject's markers: restriction and objection are lifted.
func (v *Scoped) UnmarkSubject(ctx context.Context, idx domain.SubjectIndex) error {
	if err := v.check(); err != nil {
		return err
	}
	var deletes []types.TransactWriteItem
	for _, k := range markKeys(v.tenant, idx) {
		deletes = append(deletes, types.TransactWriteItem{Delete: &types.Delete{TableName: &v.s.table, Key: k}})
	}
	if len(deletes) == 0 {
		return nil
	}
	if _, err := v.s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: deletes}); err != nil {
		return fmt.Errorf("unmark subject of %s: %w", v.tenant, err)
	}
	return nil
}

// SubjectMarks reports whether any of the subject's identifiers is marked restricted, or objected to.
func (v *Scoped) SubjectMarks(ctx context.Context, idx domain.SubjectIndex) (restricted, objected bool, err error) {
	if err := v.check(); err != nil {
		return false, false, err
	}
	for _, k := range markKeys(v.tenant, idx) {
		out, err := v.s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &v.s.table, Key: k, ConsistentRead: aws.Bool(true)})
		if err != nil {
			return false, false, fmt.Errorf("subject marks of %s: %w", v.tenant, err)
		}
		if out.Item == nil {
			continue
		}
		var m markItem
		if err := unmarshal(out.Item, &m); err != nil {
			return false, false, fmt.Errorf("subject marks of %s: %w", v.tenant, err)
		}
		restricted, objected = restricted || m.Restricted, objected || m.Objected
	}
	return restricted, objected, nil
}

// RestrictLeads marks the tenant's leads with these IDs restricted (restrict true), adding flag if not
// empty, or lifts their restriction, removing flag; leads gone meanwhile are skipped. It returns how many
// it changed.
func (v *Scoped) RestrictLeads(ctx context.Context, ids []string, restrict bool, flag string) (int, error) {
	if err := v.check(); err != nil {
		return 0, err
	}
	var up expression.UpdateBuilder
	if restrict {
		up = expression.Set(expression.Name(AttrRestricted), expression.Value(true))
		if flag != "" {
			up = up.Add(expression.Name(AttrFlags), expression.Value(&types.AttributeValueMemberSS{Value: []string{flag}}))
		}
	} else {
		up = expression.Remove(expression.Name(AttrRestricted))
		if flag != "" {
			up = up.Delete(expression.Name(AttrFlags), expression.Value(&types.AttributeValueMemberSS{Value: []string{flag}}))
		}
	}
	ex := build(expression.NewBuilder().WithCondition(exists()).WithUpdate(up))
	n := 0
	for _, id := range ids {
		_, err := v.s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &v.s.table, Key: key(leadPK(v.tenant, id), skLead),
			UpdateExpression: ex.Update(), ConditionExpression: ex.Condition(),
			ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values()})
		var cond *types.ConditionalCheckFailedException
		if errors.As(err, &cond) {
			continue
		}
		if err != nil {
			return n, fmt.Errorf("restrict leads of %s: %w", v.tenant, err)
		}
		n++
	}
	return n, nil
}
