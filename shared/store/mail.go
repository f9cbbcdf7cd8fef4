package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"leadvault/shared/domain"
)

// Mail items (pk T#<tenant>#MAIL, sk MAIL#<id>) are an outbox: writing one wakes the notifier through the
// table's stream (its filter matches SKMailPrefix), which sends it through SES and records when.

// SKMailPrefix begins the sort key of every mail item.
const SKMailPrefix = "MAIL#"

// MailRetention is how long a mail item is kept as the record of what was sent: as long as a grant's
// record (400 days).
const MailRetention = 400 * 24 * time.Hour

func mailPK(tenant string) string { return "T#" + tenant + "#MAIL" }

// mailItem is a mail in the outbox.
type mailItem struct {
	itemKey
	ID        string   `dynamodbav:"id"`
	Kind      string   `dynamodbav:"kind"`
	To        []string `dynamodbav:"to,stringset"`
	Subject   string   `dynamodbav:"subject"`
	Text      string   `dynamodbav:"text"`
	Ref       string   `dynamodbav:"ref,omitempty"`
	Created   string   `dynamodbav:"created"`
	SentAt    string   `dynamodbav:"sentAt,omitempty"`
	MessageID string   `dynamodbav:"msg,omitempty"`
	ExpiresAt int64    `dynamodbav:"expiresAt"`
}

// ParseMailKey returns the tenant and mail ID of a mail item's primary key, as found in stream records.
func ParseMailKey(pk, sk string) (tenant, id string, ok bool) {
	id, ok = strings.CutPrefix(sk, SKMailPrefix)
	if !ok {
		return "", "", false
	}
	rest, ok := strings.CutPrefix(pk, "T#")
	if !ok {
		return "", "", false
	}
	tenant, ok = strings.CutSuffix(rest, "#MAIL")
	return tenant, id, ok && tenant != "" && id != ""
}

// QueueMail puts a mail of the tenant in the outbox. A mail whose ID is already there is left as it is
// (ErrExists), so a retried step queues nothing twice.
func (v *Scoped) QueueMail(ctx context.Context, m domain.Mail) error {
	if err := v.same("mail "+m.ID, m.TenantID); err != nil {
		return err
	}
	if len(m.To) == 0 {
		return fmt.Errorf("queue mail %s/%s: no recipients", v.tenant, m.ID)
	}
	ex := onlyIf(absent())
	_, err := v.s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &v.s.table,
		Item: marshal(mailItem{itemKey: itemKey{PK: mailPK(v.tenant), SK: SKMailPrefix + m.ID}, ID: m.ID, Kind: m.Kind, To: m.To,
			Subject: m.Subject, Text: m.Text, Ref: m.Ref, Created: ts(m.CreatedAt), ExpiresAt: m.CreatedAt.Add(MailRetention).Unix()}),
		ConditionExpression: ex.Condition(), ExpressionAttributeNames: ex.Names(),
	})
	var cond *types.ConditionalCheckFailedException
	if errors.As(err, &cond) {
		return fmt.Errorf("queue mail %s/%s: %w", v.tenant, m.ID, ErrExists)
	}
	if err != nil {
		return fmt.Errorf("queue mail %s/%s: %w", v.tenant, m.ID, err)
	}
	return nil
}

// Mail reads one of the tenant's mails.
func (v *Scoped) Mail(ctx context.Context, id string) (domain.Mail, error) {
	if err := v.check(); err != nil {
		return domain.Mail{}, err
	}
	var it mailItem
	if err := v.s.getItem(ctx, mailPK(v.tenant), SKMailPrefix+id, &it); err != nil {
		return domain.Mail{}, fmt.Errorf("mail %s/%s: %w", v.tenant, id, err)
	}
	return domain.Mail{TenantID: v.tenant, ID: it.ID, Kind: it.Kind, To: it.To, Subject: it.Subject, Text: it.Text, Ref: it.Ref,
		CreatedAt: parseTS(it.Created), SentAt: parseTS(it.SentAt), MessageID: it.MessageID}, nil
}

// MailsAbout lists the tenant's mails whose Ref is ref (e.g. the notices of one request), oldest first.
func (v *Scoped) MailsAbout(ctx context.Context, ref string) ([]domain.Mail, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	filter := expression.Name("ref").Equal(expression.Value(ref))
	var out []domain.Mail
	for cursor := ""; ; {
		items, next, err := v.s.pagePartition(ctx, mailPK(v.tenant), SKMailPrefix, &filter, MaxPage, cursor)
		if err != nil {
			return nil, fmt.Errorf("mails of %s about %s: %w", v.tenant, ref, err)
		}
		for _, item := range items {
			var it mailItem
			if err := unmarshal(item, &it); err != nil {
				return nil, fmt.Errorf("mails of %s about %s: %w", v.tenant, ref, err)
			}
			out = append(out, domain.Mail{TenantID: v.tenant, ID: it.ID, Kind: it.Kind, To: it.To, Subject: it.Subject, Text: it.Text,
				Ref: it.Ref, CreatedAt: parseTS(it.Created), SentAt: parseTS(it.SentAt), MessageID: it.MessageID})
		}
		if cursor = next; cursor == "" {
			return out, nil
		}
	}
}

// MarkMailSent records that SES accepted one of the tenant's mails.
func (v *Scoped) MarkMailSent(ctx context.Context, id, messageID string, at time.Time) error {
	if err := v.check(); err != nil {
		return err
	}
	ex := build(expression.NewBuilder().WithCondition(exists()).WithUpdate(
		expression.Set(expression.Name("sentAt"), expression.Value(ts(at))).Set(expression.Name("msg"), expression.Value(messageID))))
	_, err := v.s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &v.s.table, Key: key(mailPK(v.tenant), SKMailPrefix+id),
		UpdateExpression: ex.Update(), ConditionExpression: ex.Condition(),
		ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(),
	})
	if err != nil {
		return fmt.Errorf("mark mail %s/%s sent: %w", v.tenant, id, err)
	}
	return nil
}
