package store

import (
	"context"
	"fmt"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// leadIDsBySubject returns the IDs of the key's tenant's leads whose normalised e-mail or phone equals the
// given ones (either may be empty), oldest first. It queries the blind-index GSIs; it never scans. The
// indexes are eventually consistent: a lead stored a moment ago may be missing.
func (s *Store) leadIDsBySubject(ctx context.Context, tk Keys, email, phone string) ([]string, error) {
	tenant := tk.Tenant()
	seen := map[string]string{} // lead ID → created sort key
	lookups := []struct{ index, attr, value string }{
		{IndexByEmail, AttrEmailBI, emailIndexValue(tk, email)},
		{IndexByPhone, AttrPhoneBI, phoneIndexValue(tk, phone)},
	}
	for _, l := range lookups {
		if l.value == "" {
			continue
		}
		ex := build(expression.NewBuilder().WithKeyCondition(expression.Key(l.attr).Equal(expression.Value(l.value))))
		p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
			TableName: &s.table, IndexName: aws.String(l.index),
			KeyConditionExpression: ex.KeyCondition(), ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(),
		})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("query %s for tenant %s: %w", l.index, tenant, err)
			}
			for _, item := range page.Items {
				// Keys-only index: expiry is checked when the lead itself is read.
				var k struct {
					itemKey
					Created string `dynamodbav:"ct"`
				}
				if err := unmarshal(item, &k); err != nil {
					return nil, fmt.Errorf("query %s for tenant %s: %w", l.index, tenant, err)
				}
				if t, lead, ok := ParseLeadKey(k.PK, k.SK); ok && t == tenant {
					seen[lead] = k.Created
				}
			}
		}
	}
	ids := make([]string, 0, len(seen))
	for id := range seen {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return seen[ids[i]] < seen[ids[j]] })
	return ids, nil
}

func emailIndexValue(tk Keys, email string) string {
	if email == "" {
		return ""
	}
	return "T#" + tk.Tenant() + "#E#" + tk.BlindIndex(kindEmail, email)
}

func phoneIndexValue(tk Keys, phone string) string {
	if phone == "" {
		return ""
	}
	return "T#" + tk.Tenant() + "#P#" + tk.BlindIndex(kindPhone, phone)
}
