package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"leadvault/shared/domain"
)

// Billing records (obligation C3) live in their own partition, pk BILLING#<tenant>, outside the tenant's
// ("T#<tenant>…"), so a purge at the contract's end leaves them and the controller API cannot delete them:
// bookkeeping law keeps them five years after the end of the financial year of the last invoice. They are
// minimal — the billing contact and the invoices' references — and hold no lead data. The table's
// customer-managed key encrypts them at rest; they are not sealed under the tenant key, which the purge
// destroys.

func billingPK(tenant string) string { return "BILLING#" + tenant }

const (
	skBillingContact = "CONTACT"
	skInvoicePrefix  = "INV#"
)

// BillingRetentionYears is how long after the end of an invoice's financial year (the calendar year) its
// records are kept.
const BillingRetentionYears = 5

// billingExpiry is when records of an invoice issued at issued may go: the end of its year plus five years.
func billingExpiry(issued time.Time) time.Time {
	return time.Date(issued.UTC().Year()+1+BillingRetentionYears, 1, 1, 0, 0, 0, 0, time.UTC)
}

type billingContactItem struct {
	itemKey
	Tenant    string `dynamodbav:"tenant"`
	Name      string `dynamodbav:"name"`
	Email     string `dynamodbav:"email"`
	Address   string `dynamodbav:"address,omitempty"`
	VATNumber string `dynamodbav:"vat,omitempty"`
	Updated   string `dynamodbav:"updated"`
	ExpiresAt int64  `dynamodbav:"expiresAt"`
}

type invoiceItem struct {
	itemKey
	Tenant    string `dynamodbav:"tenant"`
	Number    string `dynamodbav:"number"`
	Issued    string `dynamodbav:"issued"`
	Period    string `dynamodbav:"period,omitempty"`
	ExpiresAt int64  `dynamodbav:"expiresAt"`
}

// PutBillingContact sets the tenant's billing contact. It is kept as long as the newest invoice's records,
// and at least five years after the end of the current year.
func (v *Scoped) PutBillingContact(ctx context.Context, c domain.BillingContact) error {
	if err := v.check(); err != nil {
		return err
	}
	b, err := v.Billing(ctx)
	if err != nil {
		return err
	}
	exp := billingExpiry(v.s.now())
	for _, inv := range b.Invoices {
		if e := billingExpiry(inv.IssuedOn); e.After(exp) {
			exp = e
		}
	}
	_, err = v.s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &v.s.table, Item: marshal(billingContactItem{
		itemKey: itemKey{PK: billingPK(v.tenant), SK: skBillingContact}, Tenant: v.tenant, Name: c.Name, Email: c.Email,
		Address: c.Address, VATNumber: c.VATNumber, Updated: ts(v.s.now()), ExpiresAt: exp.Unix()})})
	if err != nil {
		return fmt.Errorf("put billing contact of %s: %w", v.tenant, err)
	}
	return nil
}

// AddInvoice records an invoice's reference; the contact's hold is extended to the invoice's.
func (v *Scoped) AddInvoice(ctx context.Context, inv domain.InvoiceRef) error {
	if err := v.check(); err != nil {
		return err
	}
	if inv.Number == "" || inv.IssuedOn.IsZero() {
		return fmt.Errorf("add invoice of %s: a number and an issue date are needed", v.tenant)
	}
	exp := billingExpiry(inv.IssuedOn)
	if _, err := v.s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &v.s.table, Item: marshal(invoiceItem{
		itemKey: itemKey{PK: billingPK(v.tenant), SK: skInvoicePrefix + inv.Number}, Tenant: v.tenant, Number: inv.Number,
		Issued: inv.IssuedOn.UTC().Format(time.DateOnly), Period: inv.Period, ExpiresAt: exp.Unix()})}); err != nil {
		return fmt.Errorf("add invoice of %s: %w", v.tenant, err)
	}
	ex := build(expression.NewBuilder().WithCondition(exists().And(expression.Name(AttrExpiresAt).LessThan(expression.Value(exp.Unix())))).
		WithUpdate(expression.Set(expression.Name(AttrExpiresAt), expression.Value(exp.Unix()))))
	_, err := v.s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &v.s.table, Key: key(billingPK(v.tenant), skBillingContact),
		UpdateExpression: ex.Update(), ConditionExpression: ex.Condition(), ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values()})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("add invoice of %s: extend the contact's hold: %w", v.tenant, err)
	}
	return nil
}

// Billing returns the tenant's billing records.
func (v *Scoped) Billing(ctx context.Context) (domain.Billing, error) {
	if err := v.check(); err != nil {
		return domain.Billing{}, err
	}
	ex := build(expression.NewBuilder().WithKeyCondition(expression.Key(AttrPK).Equal(expression.Value(billingPK(v.tenant)))))
	p := dynamodb.NewQueryPaginator(v.s.db, &dynamodb.QueryInput{TableName: &v.s.table, ConsistentRead: aws.Bool(true),
		KeyConditionExpression: ex.KeyCondition(), ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values()})
	var b domain.Billing
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return b, fmt.Errorf("billing of %s: %w", v.tenant, err)
		}
		for _, item := range page.Items {
			var k itemKey
			if err := unmarshal(item, &k); err != nil {
				return b, err
			}
			if k.SK == skBillingContact {
				var c billingContactItem
				if err := unmarshal(item, &c); err != nil {
					return b, err
				}
				b.Contact = &domain.BillingContact{Name: c.Name, Email: c.Email, Address: c.Address, VATNumber: c.VATNumber}
				b.KeptUntil = unixTime(c.ExpiresAt)
				continue
			}
			var inv invoiceItem
			if err := unmarshal(item, &inv); err != nil {
				return b, err
			}
			issued, _ := time.Parse(time.DateOnly, inv.Issued)
			b.Invoices = append(b.Invoices, domain.InvoiceRef{Number: inv.Number, IssuedOn: issued, Period: inv.Period,
				KeptUntil: unixTime(inv.ExpiresAt)})
		}
	}
	return b, nil
}

func isConditionFailed(err error) bool {
	var cond *types.ConditionalCheckFailedException
	return errors.As(err, &cond)
}
