package audit_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"leadvault/infra/local/testenv"
	"leadvault/shared/audit"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

type fixture struct {
	log   *audit.Log
	db    *dynamodb.Client
	table string
}

func setup(t *testing.T) fixture {
	t.Helper()
	table := testenv.Table(t)
	db := testenv.Env.AWS.DynamoDB()
	return fixture{log: audit.New(db, table, 0), db: db, table: table}
}

func rec(tenant string, i int) audit.Record {
	return audit.Record{
		Tenant: tenant, ActorID: fmt.Sprintf("u%d", i%3), ActorRole: "admin", Action: []string{"lead.read", "lead.export", "lead.delete"}[i%3],
		Targets: []string{fmt.Sprintf("lead-%d", i), "campaign-spring"}, Purpose: "support ticket 12",
		RequestID: fmt.Sprintf("req-%d", i), SourceIP: "192.0.2.1",
	}
}

func appendN(t *testing.T, l *audit.Log, tenant string, n int) []audit.Record {
	t.Helper()
	var out []audit.Record
	for i := range n {
		r, err := l.Append(context.Background(), rec(tenant, i))
		if err != nil {
			t.Fatalf("Append(%d) error = %v", i, err)
		}
		out = append(out, r)
	}
	return out
}

func verify(t *testing.T, l *audit.Log, tenant string) audit.Report {
	t.Helper()
	rep, err := l.Verify(context.Background(), tenant)
	if err != nil {
		t.Fatalf("Verify(%s) error = %v", tenant, err)
	}
	return rep
}

// recordKey finds the table key of the record with the given sequence number.
func recordKey(t *testing.T, f fixture, tenant string, seq int64) map[string]types.AttributeValue {
	t.Helper()
	out, err := f.db.Query(context.Background(), &dynamodb.QueryInput{
		TableName:              &f.table,
		KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :r)"),
		FilterExpression:       aws.String("seq = :seq"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: "T#" + tenant + "#AUDIT"}, ":r": &types.AttributeValueMemberS{Value: "R#"},
			":seq": &types.AttributeValueMemberN{Value: fmt.Sprint(seq)},
		},
	})
	if err != nil || len(out.Items) != 1 {
		t.Fatalf("find record %d: %v, %d items", seq, err, len(out.Items))
	}
	return map[string]types.AttributeValue{"pk": out.Items[0]["pk"], "sk": out.Items[0]["sk"]}
}

func TestAppend_chainOf50(t *testing.T) {
	f := setup(t)
	recs := appendN(t, f.log, "acme", 50)
	for i, r := range recs {
		if r.Seq != int64(i+1) {
			t.Errorf("Append(%d).Seq = %d; want %d", i, r.Seq, i+1)
		}
		if i > 0 && r.PrevHash != recs[i-1].Hash {
			t.Errorf("Append(%d).PrevHash = %q; want %q", i, r.PrevHash, recs[i-1].Hash)
		}
		if i > 0 && r.At.Before(recs[i-1].At) {
			t.Errorf("Append(%d).At = %v before previous %v", i, r.At, recs[i-1].At)
		}
		if r.Hash != audit.HashRecord(r) || len(r.Hash) != 64 {
			t.Errorf("Append(%d).Hash = %q; want %q", i, r.Hash, audit.HashRecord(r))
		}
	}
	if recs[0].PrevHash != "" {
		t.Errorf("first PrevHash = %q; want empty", recs[0].PrevHash)
	}
	rep := verify(t, f.log, "acme")
	want := audit.Report{Records: 50, StartSeq: 1, LastSeq: 50, HeadSeq: 50}
	if rep != want {
		t.Errorf("Verify(acme) = %+v; want %+v", rep, want)
	}
	// What List returns is exactly what Append returned.
	got, _, err := f.log.List(context.Background(), "acme", audit.Query{Limit: 1})
	if err != nil || len(got) != 1 {
		t.Fatalf("List(limit 1) = %v, %v", got, err)
	}
	last := recs[49]
	if g := got[0]; g.Hash != last.Hash || !g.At.Equal(last.At) || !slices.Equal(g.Targets, last.Targets) || g.Purpose != last.Purpose ||
		g.RequestID != last.RequestID || g.SourceIP != last.SourceIP || g.ActorRole != last.ActorRole || audit.HashRecord(g) != g.Hash {
		t.Errorf("List()[0] = %+v; want %+v", g, last)
	}
}

func TestAppend_invalid(t *testing.T) {
	f := setup(t)
	long := string(make([]byte, 2000))
	tests := []struct {
		name string
		r    audit.Record
	}{
		{"noTenant", audit.Record{Action: "x"}},
		{"hashInTenant", audit.Record{Tenant: "a#b", Action: "x"}},
		{"noAction", audit.Record{Tenant: "acme"}},
		{"longPurpose", audit.Record{Tenant: "acme", Action: "x", Purpose: long}},
		{"emptyTarget", audit.Record{Tenant: "acme", Action: "x", Targets: []string{""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := f.log.Append(context.Background(), tt.r); !errors.Is(err, audit.ErrInvalid) {
				t.Errorf("Append(%+v) error = %v; want %v", tt.r, err, audit.ErrInvalid)
			}
		})
	}
}

func TestAppend_atNeverGoesBack(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	now := time.Now().UTC()
	r := rec("acme", 0)
	r.At = now
	first, err := f.log.Append(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	r.At = now.Add(-time.Hour)
	second, err := f.log.Append(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if !second.At.Equal(first.At) {
		t.Errorf("Append(an hour earlier).At = %v; want %v", second.At, first.At)
	}
	if rep := verify(t, f.log, "acme"); !rep.Intact() {
		t.Errorf("Verify(acme) = %+v; want intact", rep)
	}
}

func TestAppend_concurrent(t *testing.T) {
	f := setup(t)
	const workers, each = 8, 8
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				if _, err := f.log.Append(context.Background(), rec("acme", w*each+i)); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Append() error = %v", err)
	}
	rep := verify(t, f.log, "acme")
	want := audit.Report{Records: workers * each, StartSeq: 1, LastSeq: workers * each, HeadSeq: workers * each}
	if rep != want {
		t.Errorf("Verify(acme) = %+v; want %+v", rep, want)
	}
}

func listAll(t *testing.T, l *audit.Log, tenant string, q audit.Query) []audit.Record {
	t.Helper()
	var all []audit.Record
	for pages := 0; ; pages++ {
		page, next, err := l.List(context.Background(), tenant, q)
		if err != nil {
			t.Fatalf("List(%+v) error = %v", q, err)
		}
		if q.Limit > 0 && len(page) > q.Limit {
			t.Errorf("List(%+v) returned %d records; want ≤ %d", q, len(page), q.Limit)
		}
		all = append(all, page...)
		if next == "" {
			return all
		}
		if pages > 100 {
			t.Fatalf("List(%+v) does not end", q)
		}
		q.Cursor = next
	}
}

func seqs(recs []audit.Record) []int64 {
	out := make([]int64, len(recs))
	for i, r := range recs {
		out[i] = r.Seq
	}
	return out
}

func TestList_filters(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	base := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	for i := range 12 {
		r := rec("acme", i)
		r.At = base.Add(time.Duration(i) * time.Hour)
		if _, err := f.log.Append(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	appendN(t, f.log, "globex", 5) // another tenant, same actors and targets
	tests := []struct {
		name string
		q    audit.Query
		want []int64
	}{
		{"all", audit.Query{}, []int64{12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1}},
		{"allPaged", audit.Query{Limit: 5}, []int64{12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1}},
		{"fromTo", audit.Query{From: base.Add(2 * time.Hour), To: base.Add(5 * time.Hour)}, []int64{5, 4, 3}},
		{"from", audit.Query{From: base.Add(10 * time.Hour)}, []int64{12, 11}},
		{"to", audit.Query{To: base.Add(2 * time.Hour)}, []int64{2, 1}},
		{"toBetween", audit.Query{To: base.Add(2*time.Hour + time.Nanosecond)}, []int64{3, 2, 1}},
		{"actor", audit.Query{Actor: "u1"}, []int64{11, 8, 5, 2}},
		{"actorPaged", audit.Query{Actor: "u1", Limit: 1}, []int64{11, 8, 5, 2}},
		{"action", audit.Query{Action: "lead.delete"}, []int64{12, 9, 6, 3}},
		{"target", audit.Query{Target: "lead-4"}, []int64{5}},
		{"sharedTarget", audit.Query{Target: "campaign-spring", Limit: 7}, []int64{12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1}},
		{"combined", audit.Query{Actor: "u0", Action: "lead.read", From: base.Add(3 * time.Hour), Limit: 2}, []int64{10, 7, 4}},
		{"none", audit.Query{Actor: "nobody", Limit: 3}, []int64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := seqs(listAll(t, f.log, "acme", tt.q))
			if !slices.Equal(got, tt.want) {
				t.Errorf("List(acme, %+v) = %v; want %v", tt.q, got, tt.want)
			}
		})
	}
}

func TestList_badCursor(t *testing.T) {
	f := setup(t)
	appendN(t, f.log, "acme", 3)
	for _, c := range []string{"!!", "SEVBRA", "eHl6"} { // not base64, "HEAD", "xyz"
		if _, _, err := f.log.List(context.Background(), "acme", audit.Query{Cursor: c}); !errors.Is(err, audit.ErrBadCursor) {
			t.Errorf("List(cursor %q) error = %v; want %v", c, err, audit.ErrBadCursor)
		}
	}
}

func TestVerify_tamper(t *testing.T) {
	tests := []struct {
		name    string
		tamper  func(t *testing.T, f fixture)
		bad     int64
		problem string
	}{
		{"editedAction", func(t *testing.T, f fixture) {
			_, err := f.db.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{
				TableName: &f.table, Key: recordKey(t, f, "acme", 7),
				UpdateExpression:          aws.String("SET #a = :a"),
				ExpressionAttributeNames:  map[string]string{"#a": "action"},
				ExpressionAttributeValues: map[string]types.AttributeValue{":a": &types.AttributeValueMemberS{Value: "lead.noop"}},
			})
			if err != nil {
				t.Fatal(err)
			}
		}, 7, "hash mismatch at 7"},
		{"rehashedEdit", func(t *testing.T, f fixture) {
			// Whoever edits a record and fixes its hash still breaks the next record's link.
			_, err := f.db.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{
				TableName: &f.table, Key: recordKey(t, f, "acme", 4),
				UpdateExpression:          aws.String("SET #h = :h"),
				ExpressionAttributeNames:  map[string]string{"#h": "hash"},
				ExpressionAttributeValues: map[string]types.AttributeValue{":h": &types.AttributeValueMemberS{Value: "00"}},
			})
			if err != nil {
				t.Fatal(err)
			}
		}, 4, "hash mismatch at 4"},
		{"deletedMiddle", func(t *testing.T, f fixture) {
			if _, err := f.db.DeleteItem(context.Background(), &dynamodb.DeleteItemInput{TableName: &f.table, Key: recordKey(t, f, "acme", 5)}); err != nil {
				t.Fatal(err)
			}
		}, 5, "gap at 5"},
		{"deletedLast", func(t *testing.T, f fixture) {
			if _, err := f.db.DeleteItem(context.Background(), &dynamodb.DeleteItemInput{TableName: &f.table, Key: recordKey(t, f, "acme", 10)}); err != nil {
				t.Fatal(err)
			}
		}, 10, "missing tail at 10"},
		{"expiredMiddle", func(t *testing.T, f fixture) {
			_, err := f.db.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{
				TableName: &f.table, Key: recordKey(t, f, "acme", 3),
				UpdateExpression:          aws.String("SET expiresAt = :e"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":e": &types.AttributeValueMemberN{Value: "1000"}},
			})
			if err != nil {
				t.Fatal(err)
			}
		}, 3, "gap at 3"},
		{"prevHashEdited", func(t *testing.T, f fixture) {
			_, err := f.db.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{
				TableName: &f.table, Key: recordKey(t, f, "acme", 9),
				UpdateExpression:          aws.String("SET prev = :p"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: "ff"}},
			})
			if err != nil {
				t.Fatal(err)
			}
		}, 9, "prev-hash mismatch at 9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := setup(t)
			appendN(t, f.log, "acme", 10)
			tt.tamper(t, f)
			rep := verify(t, f.log, "acme")
			if rep.FirstBad != tt.bad || rep.Problem != tt.problem {
				t.Errorf("Verify(acme) = %+v; want FirstBad %d, Problem %q", rep, tt.bad, tt.problem)
			}
		})
	}
}

func TestVerify_empty(t *testing.T) {
	f := setup(t)
	rep := verify(t, f.log, "acme")
	if rep != (audit.Report{}) {
		t.Errorf("Verify(empty) = %+v; want zero", rep)
	}
}

func TestTenants_isolated(t *testing.T) {
	f := setup(t)
	a := appendN(t, f.log, "acme", 4)
	b := appendN(t, f.log, "globex", 2)
	if a[0].Hash == b[0].Hash {
		t.Errorf("first records of two tenants share a hash")
	}
	if rep := verify(t, f.log, "globex"); rep != (audit.Report{Records: 2, StartSeq: 1, LastSeq: 2, HeadSeq: 2}) {
		t.Errorf("Verify(globex) = %+v; want 2 intact records", rep)
	}
	got := listAll(t, f.log, "globex", audit.Query{Target: "lead-3"})
	if len(got) != 0 {
		t.Errorf("List(globex, target of acme) = %v; want none", got)
	}
	for _, r := range listAll(t, f.log, "globex", audit.Query{Limit: 1}) {
		if r.Tenant != "globex" {
			t.Errorf("List(globex) returned a record of %s", r.Tenant)
		}
	}
	// A cursor from acme's listing used for globex pages through globex only.
	_, next, err := f.log.List(context.Background(), "acme", audit.Query{Limit: 1})
	if err != nil || next == "" {
		t.Fatalf("List(acme, limit 1) = %q, %v", next, err)
	}
	page, _, err := f.log.List(context.Background(), "globex", audit.Query{Cursor: next})
	if err != nil {
		t.Fatalf("List(globex, acme cursor) error = %v", err)
	}
	for _, r := range page {
		if r.Tenant != "globex" || r.Hash == a[2].Hash {
			t.Errorf("List(globex, acme cursor) returned %+v", r)
		}
	}
}

func TestExpiry_notListed(t *testing.T) {
	f := setup(t)
	old := time.Now().AddDate(-6, 0, 0)
	oldLog := f.log.WithClock(func() time.Time { return old })
	appendN(t, oldLog, "acme", 3) // expired five years after old, i.e. a year ago
	fresh := appendN(t, f.log, "acme", 2)
	got := listAll(t, f.log, "acme", audit.Query{})
	if want := []int64{5, 4}; !slices.Equal(seqs(got), want) {
		t.Errorf("List(acme) = %v; want %v", seqs(got), want)
	}
	got = listAll(t, f.log, "acme", audit.Query{From: old.Add(-time.Hour), To: old.Add(time.Hour)})
	if len(got) != 0 {
		t.Errorf("List(acme, around the expired records) = %v; want none", seqs(got))
	}
	rep := verify(t, f.log, "acme")
	if want := (audit.Report{Records: 2, StartSeq: 4, LastSeq: 5, HeadSeq: 5}); rep != want {
		t.Errorf("Verify(acme) = %+v; want %+v", rep, want)
	}
	// The old clock still sees them all, and the chain links across.
	if rep := verify(t, oldLog, "acme"); rep.Records != 5 || !rep.Intact() {
		t.Errorf("Verify(acme, old clock) = %+v; want 5 intact", rep)
	}
	// A trail whose records have all expired is intact, not truncated.
	appendN(t, oldLog, "globex", 2)
	if rep := verify(t, f.log, "globex"); rep != (audit.Report{HeadSeq: 2}) {
		t.Errorf("Verify(globex, all expired) = %+v; want %+v", rep, audit.Report{HeadSeq: 2})
	}
	if fresh[0].PrevHash == "" {
		t.Errorf("first fresh record has no PrevHash")
	}
}

// TestExpiry_perTenantRetention: a record kept for a tenant's shorter retention expires then, and its
// trail is intact rather than truncated once its newest record has expired.
func TestExpiry_perTenantRetention(t *testing.T) {
	f := setup(t)
	for i := range 2 {
		r := rec("short", i)
		r.Retention = 400 * 24 * time.Hour
		if _, err := f.log.Append(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	appendN(t, f.log, "default", 2)
	later := f.log.WithClock(func() time.Time { return time.Now().AddDate(2, 0, 0) })
	if got := listAll(t, later, "short", audit.Query{}); len(got) != 0 {
		t.Errorf("List(short) two years on = %v; want none (400-day retention)", seqs(got))
	}
	if rep := verify(t, later, "short"); rep != (audit.Report{HeadSeq: 2}) {
		t.Errorf("Verify(short) two years on = %+v; want %+v", rep, audit.Report{HeadSeq: 2})
	}
	if got := listAll(t, later, "default", audit.Query{}); len(got) != 2 {
		t.Errorf("List(default) two years on = %v; want both (five-year retention)", seqs(got))
	}
}
