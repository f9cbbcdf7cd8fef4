package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"leadvault/shared/domain"
)

// Planned changes of sub-processors (S4/E13) and the controllers' objections live in one partition, pk
// SUBPROC: a change (sk CHANGE#<id>) proposed by the operators at least a month ahead, and each tenant's
// objection to it (sk OBJ#<id>#<tenant>), accepted for 7 days after the proposal. Neither holds a data
// subject's personal data, and neither is a tenant's data: a tenant's purge leaves them as the record of
// what its controller was told and said.

const subprocPK = "SUBPROC"

// Errors of the sub-processor changes.
var (
	// ErrTooSoon means a change's effective date is less than the notice period ahead.
	ErrTooSoon = errors.New("a sub-processor change takes effect at least one month after it is proposed")
	// ErrObjectionClosed means the objection period of a change is over.
	ErrObjectionClosed = errors.New("the objection period is over")
	// ErrOutsideEU means a change would process data outside the EU without every affected controller's
	// documented instruction (S6).
	ErrOutsideEU = errors.New("a sub-processor outside the EU needs every controller's documented instruction")
)

type subprocChangeItem struct {
	itemKey
	ID        string `dynamodbav:"id"`
	Kind      string `dynamodbav:"kind"`
	Name      string `dynamodbav:"name"`
	Address   string `dynamodbav:"address"`
	Service   string `dynamodbav:"service"`
	Data      string `dynamodbav:"data"`
	Location  string `dynamodbav:"location"`
	Replaces  string `dynamodbav:"replaces,omitempty"`
	Effective string `dynamodbav:"effective"`
	Proposed  string `dynamodbav:"proposed"`
	Deadline  string `dynamodbav:"deadline"`
}

type objectionItem struct {
	itemKey
	Change string `dynamodbav:"change"`
	Tenant string `dynamodbav:"tenant"`
	Reason string `dynamodbav:"reason"`
	By     string `dynamodbav:"by"`
	At     string `dynamodbav:"at"`
}

func (it subprocChangeItem) change() domain.SubprocessorChange {
	return domain.SubprocessorChange{ID: it.ID, Kind: it.Kind, Name: it.Name, Address: it.Address, Service: it.Service, Data: it.Data,
		Location: it.Location, Replaces: it.Replaces, EffectiveAt: parseTS(it.Effective), ProposedAt: parseTS(it.Proposed),
		ObjectionDeadline: parseTS(it.Deadline)}
}

// ProposeSubprocessorChange records a planned change, effective at least domain.SubprocessorNotice after
// its proposal, open to objections until domain.ObjectionPeriod after it. A location outside the EU is
// refused (ErrOutsideEU).
func (s *Store) ProposeSubprocessorChange(ctx context.Context, c domain.SubprocessorChange) (domain.SubprocessorChange, error) {
	if c.EffectiveAt.Before(c.ProposedAt.AddDate(0, domain.SubprocessorNoticeMonths, 0)) {
		return c, fmt.Errorf("propose %s: %w (effective %s, proposed %s)", c.Name, ErrTooSoon,
			c.EffectiveAt.Format(time.DateOnly), c.ProposedAt.Format(time.DateOnly))
	}
	if !strings.HasPrefix(c.Location, "eu-") {
		// Every tenant is affected by a change of sub-processors: each must have instructed the transfer.
		tenants, err := s.TenantIDs(ctx)
		if err != nil {
			return c, err
		}
		missing, err := s.uninstructed(ctx, c.Location, tenants)
		if err != nil {
			return c, err
		}
		if len(missing) > 0 {
			return c, fmt.Errorf("propose %s in %s: %w; missing: %s", c.Name, c.Location, ErrOutsideEU, strings.Join(missing, ", "))
		}
	}
	c.ObjectionDeadline = c.ProposedAt.Add(domain.ObjectionPeriod)
	ex := onlyIf(absent())
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: marshal(subprocChangeItem{
		itemKey: itemKey{PK: subprocPK, SK: "CHANGE#" + c.ID}, ID: c.ID, Kind: c.Kind, Name: c.Name, Address: c.Address,
		Service: c.Service, Data: c.Data, Location: c.Location, Replaces: c.Replaces, Effective: ts(c.EffectiveAt),
		Proposed: ts(c.ProposedAt), Deadline: ts(c.ObjectionDeadline)}),
		ConditionExpression: ex.Condition(), ExpressionAttributeNames: ex.Names()})
	if isConditionFailed(err) {
		return c, fmt.Errorf("propose %s: %w", c.ID, ErrExists)
	}
	if err != nil {
		return c, fmt.Errorf("propose %s: %w", c.ID, err)
	}
	return c, nil
}

// SubprocessorChanges lists the proposed changes, newest first.
func (s *Store) SubprocessorChanges(ctx context.Context) ([]domain.SubprocessorChange, error) {
	items, err := partition[subprocChangeItem](ctx, s, subprocPK, "CHANGE#", nil)
	if err != nil {
		return nil, err
	}
	out := make([]domain.SubprocessorChange, 0, len(items))
	for _, it := range items {
		out = append(out, it.change())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ProposedAt.After(out[j].ProposedAt) })
	return out, nil
}

// SubprocessorChange reads one change.
func (s *Store) SubprocessorChange(ctx context.Context, id string) (domain.SubprocessorChange, error) {
	var it subprocChangeItem
	if err := s.getItem(ctx, subprocPK, "CHANGE#"+id, &it); err != nil {
		return domain.SubprocessorChange{}, fmt.Errorf("sub-processor change %s: %w", id, err)
	}
	return it.change(), nil
}

// Objections lists the objections to a change, by tenant.
func (s *Store) Objections(ctx context.Context, change string) ([]domain.Objection, error) {
	items, err := partition[objectionItem](ctx, s, subprocPK, "OBJ#"+change+"#", nil)
	if err != nil {
		return nil, err
	}
	out := make([]domain.Objection, 0, len(items))
	for _, it := range items {
		out = append(out, domain.Objection{Change: it.Change, Tenant: it.Tenant, Reason: it.Reason, By: it.By, At: parseTS(it.At)})
	}
	return out, nil
}

// Object records the tenant's objection to a change, if its period is open at o.At; a second objection
// replaces the first.
func (v *Scoped) Object(ctx context.Context, o domain.Objection) (domain.SubprocessorChange, error) {
	if err := v.check(); err != nil {
		return domain.SubprocessorChange{}, err
	}
	c, err := v.s.SubprocessorChange(ctx, o.Change)
	if err != nil {
		return c, err
	}
	if o.At.After(c.ObjectionDeadline) {
		return c, fmt.Errorf("object to %s: %w (%s)", o.Change, ErrObjectionClosed, c.ObjectionDeadline.Format(time.RFC3339))
	}
	_, err = v.s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &v.s.table, Item: marshal(objectionItem{
		itemKey: itemKey{PK: subprocPK, SK: "OBJ#" + o.Change + "#" + v.tenant}, Change: o.Change, Tenant: v.tenant,
		Reason: o.Reason, By: o.By, At: ts(o.At)})})
	if err != nil {
		return c, fmt.Errorf("object to %s: %w", o.Change, err)
	}
	return c, nil
}

// Objection returns the tenant's objection to a change, or ErrNotFound.
func (v *Scoped) Objection(ctx context.Context, change string) (domain.Objection, error) {
	if err := v.check(); err != nil {
		return domain.Objection{}, err
	}
	var it objectionItem
	if err := v.s.getItem(ctx, subprocPK, "OBJ#"+change+"#"+v.tenant, &it); err != nil {
		return domain.Objection{}, err
	}
	return domain.Objection{Change: it.Change, Tenant: it.Tenant, Reason: it.Reason, By: it.By, At: parseTS(it.At)}, nil
}

// SubprocessorChanges lists the proposed changes for the tenant's users: they are the same for every
// tenant, and the controller API reaches the table only through a tenant's view.
func (v *Scoped) SubprocessorChanges(ctx context.Context) ([]domain.SubprocessorChange, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	return v.s.SubprocessorChanges(ctx)
}

// SubprocessorChange reads one change, for the tenant's users.
func (v *Scoped) SubprocessorChange(ctx context.Context, id string) (domain.SubprocessorChange, error) {
	if err := v.check(); err != nil {
		return domain.SubprocessorChange{}, err
	}
	return v.s.SubprocessorChange(ctx, id)
}

// Transfer instructions (S6): a controller's documented instruction that its data may be processed in a
// location outside the EU (pk SUBPROC, sk INSTR#<location>#<tenant>). A sub-processor change to such a
// location is refused until every tenant has given one.

type instructionItem struct {
	itemKey
	Tenant    string `dynamodbav:"tenant"`
	Location  string `dynamodbav:"location"`
	Reference string `dynamodbav:"reference"`
	By        string `dynamodbav:"by"`
	At        string `dynamodbav:"at"`
}

// RecordTransferInstruction records the tenant's instruction for a location (a later one replaces it).
func (v *Scoped) RecordTransferInstruction(ctx context.Context, in domain.TransferInstruction) error {
	if err := v.check(); err != nil {
		return err
	}
	_, err := v.s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &v.s.table, Item: marshal(instructionItem{
		itemKey: itemKey{PK: subprocPK, SK: "INSTR#" + in.Location + "#" + v.tenant}, Tenant: v.tenant, Location: in.Location,
		Reference: in.Reference, By: in.By, At: ts(in.At)})})
	if err != nil {
		return fmt.Errorf("record transfer instruction of %s: %w", v.tenant, err)
	}
	return nil
}

// TransferInstructions lists the tenant's instructions.
func (v *Scoped) TransferInstructions(ctx context.Context) ([]domain.TransferInstruction, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	items, err := partition[instructionItem](ctx, v.s, subprocPK, "INSTR#", nil)
	if err != nil {
		return nil, err
	}
	var out []domain.TransferInstruction
	for _, it := range items {
		if it.Tenant == v.tenant {
			out = append(out, domain.TransferInstruction{Tenant: it.Tenant, Location: it.Location, Reference: it.Reference, By: it.By, At: parseTS(it.At)})
		}
	}
	return out, nil
}

// uninstructed returns the tenants among tenants that gave no instruction for location.
func (s *Store) uninstructed(ctx context.Context, location string, tenants []string) ([]string, error) {
	items, err := partition[instructionItem](ctx, s, subprocPK, "INSTR#"+location+"#", nil)
	if err != nil {
		return nil, err
	}
	given := map[string]bool{}
	for _, it := range items {
		given[it.Tenant] = true
	}
	var missing []string
	for _, t := range tenants {
		if !given[t] {
			missing = append(missing, t)
		}
	}
	return missing, nil
}
