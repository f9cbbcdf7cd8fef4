package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"leadvault/shared/access"
	"leadvault/shared/ddb"
	"leadvault/shared/domain"
)

// ErrLastAdmin means a change would leave the tenant without an admin (obligation C2).
var ErrLastAdmin = errors.New("the tenant's last admin cannot be removed or demoted")

// memberSK prefixes a member item's sort key in the tenant partition.
const memberSK = "USER#"

// The tenant item's count of admin members (AttrAdmins): every membership change that adds or removes an
// admin updates it in the same transaction, and a decrement is conditional on it staying above zero, so
// concurrent demotions cannot both pass a check made before either was written.

// memberAttempts bounds how often a role change is retried after losing a race on the member item or a
// transaction conflict on the tenant item.
const memberAttempts = 8

func validateMember(m domain.Member) error {
	var errs []error
	if m.UserID == "" || len(m.UserID) > 128 || strings.ContainsFunc(m.UserID, unicode.IsControl) {
		errs = append(errs, fmt.Errorf("%w: user id must be 1-128 bytes without control characters", domain.ErrInvalidConfig))
	}
	if len(m.Email) > 254 || !strings.Contains(m.Email, "@") || strings.ContainsFunc(m.Email, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) {
		errs = append(errs, fmt.Errorf("%w: e-mail address %q is not usable", domain.ErrInvalidConfig, m.Email))
	}
	if err := validateRole(m.Role); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// validateRole admits the roles of controller staff; support staff belong to no tenant.
func validateRole(r access.Role) error {
	if r != access.Admin && r != access.Member {
		return fmt.Errorf("%w: role %q must be %s or %s", domain.ErrInvalidConfig, r, access.Admin, access.Member)
	}
	return nil
}

// putMember adds a member to an existing tenant (ErrNotFound otherwise); a user who is already a member
// fails with ErrExists. The e-mail address is stored lower-cased; AddedAt defaults to now.
func (s *Store) putMember(ctx context.Context, tenant string, m domain.Member) error {
	m.Email = strings.ToLower(m.Email)
	if err := validateMember(m); err != nil {
		return fmt.Errorf("put member %s/%s: %w", tenant, m.UserID, err)
	}
	if m.AddedAt.IsZero() {
		m.AddedAt = s.now()
	}
	isNew := onlyIf(absent())
	items := []types.TransactWriteItem{
		s.tenantCheck(tenant),
		{Put: &types.Put{
			TableName: &s.table,
			Item: marshal(memberItem{itemKey: itemKey{PK: tenantPK(tenant), SK: memberSK + m.UserID}, ID: m.UserID, Email: m.Email,
				Role: string(m.Role), Added: ts(m.AddedAt), AddedBy: m.AddedBy}),
			ConditionExpression: isNew.Condition(), ExpressionAttributeNames: isNew.Names(),
		}},
	}
	if m.Role == access.Admin {
		items[0] = s.adminCount(tenant, +1)
	}
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	var cancelled *types.TransactionCanceledException
	if errors.As(err, &cancelled) && len(cancelled.CancellationReasons) == len(items) {
		switch {
		case ddb.Code(cancelled.CancellationReasons[0]) == "ConditionalCheckFailed":
			return fmt.Errorf("put member %s/%s: tenant %s: %w", tenant, m.UserID, tenant, ErrNotFound)
		case ddb.Code(cancelled.CancellationReasons[1]) == "ConditionalCheckFailed":
			return fmt.Errorf("put member %s/%s: %w", tenant, m.UserID, ErrExists)
		}
	}
	if err != nil {
		return fmt.Errorf("put member %s/%s: %w", tenant, m.UserID, err)
	}
	return nil
}

// member reads one of a tenant's members.
func (s *Store) member(ctx context.Context, tenant, userID string) (domain.Member, error) {
	item, err := s.get(ctx, tenantPK(tenant), memberSK+userID)
	if err != nil {
		return domain.Member{}, fmt.Errorf("get member %s/%s: %w", tenant, userID, err)
	}
	return decodeMember(item)
}

// members lists all of a tenant's members, ordered by e-mail address, then user ID.
func (s *Store) members(ctx context.Context, tenant string) ([]domain.Member, error) {
	var out []domain.Member
	ex := build(expression.NewBuilder().WithKeyCondition(inPartition(tenantPK(tenant), memberSK)))
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName: &s.table, ConsistentRead: aws.Bool(true),
		KeyConditionExpression: ex.KeyCondition(), ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list members of %s: %w", tenant, err)
		}
		for _, item := range page.Items {
			m, err := decodeMember(item)
			if err != nil {
				return nil, fmt.Errorf("list members of %s: %w", tenant, err)
			}
			out = append(out, m)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Email != out[j].Email {
			return out[i].Email < out[j].Email
		}
		return out[i].UserID < out[j].UserID
	})
	return out, nil
}

// setMemberRole changes a member's role and returns the member; setting the role it has changes nothing.
// Demoting the last admin fails with ErrLastAdmin.
func (s *Store) setMemberRole(ctx context.Context, tenant, userID string, role access.Role) (domain.Member, error) {
	if err := validateRole(role); err != nil {
		return domain.Member{}, fmt.Errorf("set role of member %s/%s: %w", tenant, userID, err)
	}
	m, err := s.changeMember(ctx, tenant, userID, func(cur domain.Member) []types.TransactWriteItem {
		if cur.Role == role {
			return nil
		}
		delta := int64(+1)
		if cur.Role == access.Admin {
			delta = -1
		}
		ex := build(expression.NewBuilder().WithCondition(roleIs(cur.Role)).
			WithUpdate(expression.Set(expression.Name(AttrRole), expression.Value(string(role)))))
		return []types.TransactWriteItem{
			s.adminCount(tenant, delta),
			{Update: &types.Update{
				TableName: &s.table, Key: key(tenantPK(tenant), memberSK+userID),
				UpdateExpression: ex.Update(), ConditionExpression: ex.Condition(),
				ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(),
			}},
		}
	})
	if err != nil {
		return domain.Member{}, fmt.Errorf("set role of member %s/%s: %w", tenant, userID, err)
	}
	m.Role = role
	return m, nil
}

// removeMember removes a member and returns what was removed; removing the last admin fails with
// ErrLastAdmin.
func (s *Store) removeMember(ctx context.Context, tenant, userID string) (domain.Member, error) {
	m, err := s.changeMember(ctx, tenant, userID, func(cur domain.Member) []types.TransactWriteItem {
		// The role condition keeps the count right if the member is promoted or demoted meanwhile.
		ex := onlyIf(roleIs(cur.Role))
		remove := types.TransactWriteItem{Delete: &types.Delete{
			TableName: &s.table, Key: key(tenantPK(tenant), memberSK+userID),
			ConditionExpression: ex.Condition(), ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(),
		}}
		if cur.Role == access.Admin {
			return []types.TransactWriteItem{s.adminCount(tenant, -1), remove}
		}
		return []types.TransactWriteItem{s.tenantCheck(tenant), remove}
	})
	if err != nil {
		return domain.Member{}, fmt.Errorf("remove member %s/%s: %w", tenant, userID, err)
	}
	return m, nil
}

// changeMember reads the member, writes the transaction plan makes of it (nothing if plan returns no
// items) and returns the member as read. The plan's first item is on the tenant item, its second on the
// member item. Losing a race on the member item, or a transaction conflict, re-reads and plans again.
func (s *Store) changeMember(ctx context.Context, tenant, userID string, plan func(cur domain.Member) []types.TransactWriteItem) (domain.Member, error) {
	for attempt := 1; ; attempt++ {
		cur, err := s.member(ctx, tenant, userID)
		if err != nil {
			return domain.Member{}, err
		}
		items := plan(cur)
		if len(items) == 0 {
			return cur, nil
		}
		_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		if err == nil {
			return cur, nil
		}
		var cancelled *types.TransactionCanceledException
		if !errors.As(err, &cancelled) || len(cancelled.CancellationReasons) != len(items) {
			return domain.Member{}, err
		}
		tenantCode, memberCode := ddb.Code(cancelled.CancellationReasons[0]), ddb.Code(cancelled.CancellationReasons[1])
		switch {
		case memberCode == "ConditionalCheckFailed":
			// Changed or removed since it was read: decide again on what it is now.
		case tenantCode == "ConditionalCheckFailed" && cur.Role == access.Admin:
			return domain.Member{}, ErrLastAdmin
		case tenantCode == "ConditionalCheckFailed":
			return domain.Member{}, fmt.Errorf("tenant %s: %w", tenant, ErrNotFound)
		case tenantCode == "TransactionConflict" || memberCode == "TransactionConflict":
			// Another membership change of the tenant is in flight; its outcome decides ours.
		default:
			return domain.Member{}, err
		}
		if attempt == memberAttempts {
			return domain.Member{}, err
		}
		if err := ddb.Backoff(ctx, attempt); err != nil {
			return domain.Member{}, err
		}
	}
}

// tenantCheck requires the tenant item to exist.
func (s *Store) tenantCheck(tenant string) types.TransactWriteItem {
	ex := onlyIf(exists())
	return types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
		TableName: &s.table, Key: key(tenantPK(tenant), skTenant),
		ConditionExpression: ex.Condition(), ExpressionAttributeNames: ex.Names(),
	}}
}

// roleIs is the condition that a member item still has role r.
func roleIs(r access.Role) expression.ConditionBuilder {
	return expression.Name(AttrRole).Equal(expression.Value(string(r)))
}

// adminCount adds delta to the tenant's admin count. A decrement requires another admin to remain; an
// absent count is no admin, which fails that comparison as it should.
func (s *Store) adminCount(tenant string, delta int64) types.TransactWriteItem {
	admins := expression.Name(AttrAdmins)
	cond := exists()
	if delta < 0 {
		cond = admins.GreaterThan(expression.Value(-delta))
	}
	ex := build(expression.NewBuilder().WithCondition(cond).WithUpdate(expression.Add(admins, expression.Value(delta))))
	return types.TransactWriteItem{Update: &types.Update{
		TableName: &s.table, Key: key(tenantPK(tenant), skTenant),
		UpdateExpression: ex.Update(), ConditionExpression: ex.Condition(),
		ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(),
	}}
}

func decodeMember(item map[string]types.AttributeValue) (domain.Member, error) {
	var it memberItem
	if err := unmarshal(item, &it); err != nil {
		return domain.Member{}, err
	}
	return domain.Member{UserID: it.ID, Email: it.Email, Role: access.Role(it.Role), AddedAt: parseTS(it.Added), AddedBy: it.AddedBy}, nil
}
