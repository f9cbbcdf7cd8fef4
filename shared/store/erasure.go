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
	"leadvault/shared/posture"
)

// The erasure ledger (Art. 17 erasure that survives a restore): for every identifier erased on a subject
// request, its keyed blind-index value, its tenant and when it was erased, in one partition (pk ERASED, sk
// <tenant>#<E|P>#<blind index>). It holds no personal data, and an entry lives only as long as a restore can
// bring the erased data back; a restore replays it (ReplayErasures), so the people erased stay erased.

// PITRWindow and BackupRetention are how far back the table can be restored: point-in-time recovery's
// window and the retention of the daily backups (infra/stacks configures both from these).
const (
	PITRWindow      = posture.PITRWindowDays * 24 * time.Hour
	BackupRetention = posture.BackupRetentionDays * 24 * time.Hour
)

// ErasureLedgerRetention is how long a ledger entry is kept: as long as the oldest restorable copy can hold
// what was erased, and a day more.
const ErasureLedgerRetention = PITRWindow + BackupRetention + 24*time.Hour

const erasedPK = "ERASED"

// erasureItem is one ledger entry.
type erasureItem struct {
	itemKey
	Tenant    string `dynamodbav:"tenant"`
	Kind      string `dynamodbav:"kind"` // E (e-mail) or P (phone)
	Index     string `dynamodbav:"bi"`
	ErasedAt  string `dynamodbav:"erasedAt"`
	Request   string `dynamodbav:"request"`
	ExpiresAt int64  `dynamodbav:"expiresAt"`
}

// Erasure is one entry of the erasure ledger: an identifier of a tenant's data subject, by its blind-index
// value alone (Subject has one field set), erased at ErasedAt on request Request.
type Erasure struct {
	Tenant   string
	Subject  domain.SubjectIndex
	ErasedAt time.Time
	Request  string
}

// eraseBatch is how many leads one erasure transaction deletes: each takes two items (lead, notification
// record) and each subject one (its key), within DynamoDB's 100.
const eraseBatch = 33

// EraseLeads deletes the tenant's leads with these IDs, their notification records and their references to
// subject keys; a key whose last lead goes is deleted with it (crypto-shredding). Leads already gone are
// skipped. It returns how many it deleted.
func (v *Scoped) EraseLeads(ctx context.Context, ids []string) (int, error) {
	if err := v.check(); err != nil {
		return 0, err
	}
	return v.s.eraseLeads(ctx, v.tenant, ids)
}

func (s *Store) eraseLeads(ctx context.Context, tenant string, ids []string) (int, error) {
	deleted := 0
	for start := 0; start < len(ids); start += eraseBatch {
		var batch []pageLead
		for _, id := range ids[start:min(start+eraseBatch, len(ids))] {
			batch = append(batch, pageLead{id: id})
		}
		leads, err := s.rereadLeads(ctx, tenant, batch)
		if err != nil {
			return deleted, fmt.Errorf("erase leads of %s: %w", tenant, err)
		}
		n, err := s.deleteLeads(ctx, tenant, leads, nil)
		deleted += n
		if err != nil {
			return deleted, fmt.Errorf("erase leads of %s: %w", tenant, err)
		}
	}
	return deleted, nil
}

// RecordErasure adds the subject's identifiers to the erasure ledger, as erased at at by request.
func (v *Scoped) RecordErasure(ctx context.Context, idx domain.SubjectIndex, request string, at time.Time) error {
	if err := v.check(); err != nil {
		return err
	}
	var items []types.TransactWriteItem
	for _, e := range []struct{ kind, bi string }{{"E", idx.Email}, {"P", idx.Phone}} {
		if e.bi == "" {
			continue
		}
		items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: &v.s.table, Item: marshal(erasureItem{
			itemKey: itemKey{PK: erasedPK, SK: v.tenant + "#" + e.kind + "#" + e.bi}, Tenant: v.tenant, Kind: e.kind,
			Index: e.bi, ErasedAt: ts(at), Request: request, ExpiresAt: at.Add(ErasureLedgerRetention).Unix(),
		})}})
	}
	if len(items) == 0 {
		return nil
	}
	if _, err := v.s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items}); err != nil {
		return fmt.Errorf("record erasure of request %s/%s: %w", v.tenant, request, err)
	}
	return nil
}

// ErasureLedger returns every unexpired entry of the erasure ledger, by tenant. It queries one partition,
// never scans.
func (s *Store) ErasureLedger(ctx context.Context) ([]Erasure, error) {
	live := expression.Name(AttrExpiresAt).GreaterThan(expression.Value(s.now().Unix()))
	items, err := partition[erasureItem](ctx, s, erasedPK, "", &live)
	if err != nil {
		return nil, fmt.Errorf("read the erasure ledger: %w", err)
	}
	var out []Erasure
	for _, it := range items {
		e := Erasure{Tenant: it.Tenant, ErasedAt: parseTS(it.ErasedAt), Request: it.Request}
		switch it.Kind {
		case "E":
			e.Subject.Email = it.Index
		case "P":
			e.Subject.Phone = it.Index
		default:
			continue
		}
		out = append(out, e)
	}
	return out, nil
}

// ReplayReport is what ReplayErasures did.
type ReplayReport struct {
	// Entries is how many ledger entries were replayed; Erased how many leads they deleted.
	Entries, Erased int
}

// ReplayErasures carries out the erasure ledger of the live table on this store's table, typically one
// restored from a backup or a point in time: every lead an entry's identifier finds that was created at or
// before its erasure is deleted, with its notification record and — with its subject's last lead — its
// subject key, so the person is neither findable nor readable. Leads that arrived after the erasure stay:
// they are a new request of the person's own. Running it twice does nothing more.
func (s *Store) ReplayErasures(ctx context.Context, ledger []Erasure) (ReplayReport, error) {
	var rep ReplayReport
	for _, e := range ledger {
		if !domain.ValidID(e.Tenant) || strings.Contains(e.Subject.Email+e.Subject.Phone, "#") {
			return rep, fmt.Errorf("replay erasures: a ledger entry of tenant %q is malformed", e.Tenant)
		}
		ids, err := s.leadsByIndex(ctx, e.Tenant, e.Subject, e.ErasedAt)
		if err != nil {
			return rep, fmt.Errorf("replay erasure of request %s/%s: %w", e.Tenant, e.Request, err)
		}
		n, err := s.eraseLeads(ctx, e.Tenant, ids)
		rep.Erased += n
		if err != nil {
			return rep, fmt.Errorf("replay erasure of request %s/%s: %w", e.Tenant, e.Request, err)
		}
		rep.Entries++
	}
	return rep, nil
}

// ShredSubjectKeys deletes the tenant's subject keys of these subject IDs outright, whatever their
// reference counts say: an erasure has deleted every lead of the subject, and a count can be higher than
// the leads left (a lead the retention sweep removed after it expired gives up no reference, since its key
// may have been replaced meanwhile). It returns how many keys it deleted.
func (v *Scoped) ShredSubjectKeys(ctx context.Context, subjects []string) (int, error) {
	if err := v.check(); err != nil {
		return 0, err
	}
	n := 0
	for _, subject := range subjects {
		if strings.ContainsAny(subject, "#") || subject == "" {
			continue
		}
		ex := onlyIf(exists())
		_, err := v.s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{{Delete: &types.Delete{
			TableName: &v.s.table, Key: key(subjectPK(v.tenant, subject), skKey), ConditionExpression: ex.Condition(), ExpressionAttributeNames: ex.Names(),
		}}}})
		var cancelled *types.TransactionCanceledException
		if errors.As(err, &cancelled) {
			continue // already gone
		}
		if err != nil {
			return n, fmt.Errorf("shred subject keys of %s: %w", v.tenant, err)
		}
		n++
	}
	return n, nil
}

// SubjectIDs are the subject-key IDs derived from a subject's identifiers (see SubjectID): every lead sealed
// under one of them carries that identifier.
func SubjectIDs(idx domain.SubjectIndex) []string {
	var ids []string
	if idx.Email != "" {
		ids = append(ids, "e."+idx.Email)
	}
	if idx.Phone != "" {
		ids = append(ids, "p."+idx.Phone)
	}
	return ids
}
