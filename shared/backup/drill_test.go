package backup_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"leadvault/infra/local/testenv"
	"leadvault/shared/audit"
	"leadvault/shared/backup"
	"leadvault/shared/domain"
	"leadvault/shared/store"
	"leadvault/shared/vault"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// TestEncodeItem_roundTrip: every attribute type survives DynamoDB JSON and back.
func TestEncodeItem_roundTrip(t *testing.T) {
	item := map[string]types.AttributeValue{
		"s": &types.AttributeValueMemberS{Value: "Jens Ærø \"x\""}, "n": &types.AttributeValueMemberN{Value: "-12.5"},
		"b": &types.AttributeValueMemberB{Value: []byte{0, 1, 255}}, "t": &types.AttributeValueMemberBOOL{Value: true},
		"null": &types.AttributeValueMemberNULL{Value: true}, "ss": &types.AttributeValueMemberSS{Value: []string{"a", "b"}},
		"ns": &types.AttributeValueMemberNS{Value: []string{"1", "2"}}, "bs": &types.AttributeValueMemberBS{Value: [][]byte{{1}, {2, 3}}},
		"m": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"k": &types.AttributeValueMemberS{Value: "v"}}},
		"l": &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberN{Value: "1"}, &types.AttributeValueMemberS{Value: "x"}}},
	}
	line, err := backup.EncodeItem(item)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(line), `{"Item":{`) || !strings.Contains(string(line), `"b":{"B":"AAH/"}`) {
		t.Errorf("EncodeItem() = %s; want DynamoDB export JSON", line)
	}
	back, err := backup.DecodeItem(line)
	if err != nil {
		t.Fatal(err)
	}
	var a, b map[string]any
	_ = attributevalue.UnmarshalMap(item, &a)
	_ = attributevalue.UnmarshalMap(back, &b)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("round trip = %v; want %v", b, a)
	}
	for _, bad := range []string{`{}`, `{"Item":{"x":{}}}`, `not json`} {
		if _, err := backup.DecodeItem([]byte(bad)); err == nil {
			t.Errorf("DecodeItem(%s) = nil error", bad)
		}
	}
}

// clone writes n copies of a stored lead under new IDs (each sealed under its own ID, with a blind index of
// its own), 25 to a request: many leads fast.
func clone(t *testing.T, table string, tk *vault.TenantKey, leadID string, n int) {
	t.Helper()
	ctx := context.Background()
	db := testenv.Env.AWS.DynamoDB()
	tenant := tk.Tenant()
	get := func(pk, sk string) map[string]types.AttributeValue {
		out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: sk}}})
		if err != nil || out.Item == nil {
			t.Fatalf("get %s/%s: %v", pk, sk, err)
		}
		return out.Item
	}
	item := get("T#"+tenant+"#L#"+leadID, store.SKLead)
	subject := item["subj"].(*types.AttributeValueMemberS).Value
	wrapped := get("T#"+tenant+"#S#"+subject, "KEY")["wk"].(*types.AttributeValueMemberB).Value
	plain, err := tk.OpenRecord(subject, wrapped, leadID, item["pd"].(*types.AttributeValueMemberB).Value)
	if err != nil {
		t.Fatal(err)
	}
	var batch []types.WriteRequest
	flush := func() {
		for len(batch) > 0 {
			out, err := db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: batch}})
			if err != nil {
				t.Fatal(err)
			}
			batch = out.UnprocessedItems[table]
		}
	}
	created := item["ct"].(*types.AttributeValueMemberS).Value
	for i := range n {
		id := fmt.Sprintf("%s-c%05d", leadID[:8], i)
		c := make(map[string]types.AttributeValue, len(item))
		for k, v := range item {
			c[k] = v
		}
		sealed, _, err := tk.SealRecord(subject, wrapped, id, plain)
		if err != nil {
			t.Fatal(err)
		}
		c["pk"], c["id"], c["pd"] = &types.AttributeValueMemberS{Value: "T#" + tenant + "#L#" + id}, &types.AttributeValueMemberS{Value: id}, &types.AttributeValueMemberB{Value: sealed}
		c["ct"] = &types.AttributeValueMemberS{Value: created[:30] + "#" + id}
		c["bie"] = &types.AttributeValueMemberS{Value: "T#" + tenant + "#E#other-" + id}
		delete(c, "bip")
		batch = append(batch, types.WriteRequest{PutRequest: &types.PutRequest{Item: c}})
		if len(batch) == 25 {
			flush()
		}
	}
	flush()
}

// TestRestoreDrill_10000Leads restores a table of 10,000 leads from a logical backup taken before a
// subject's erasure and a tenant's purge, and proves: every surviving lead decrypts, the erased subject
// and the purged tenant do not come back, every audit chain verifies. It logs how long each step took
// (docs/runbook.md quotes them).
func TestRestoreDrill_10000Leads(t *testing.T) {
	ctx := context.Background()
	db := testenv.Env.AWS.DynamoDB()
	table := testenv.Table(t)
	st := store.New(db, table)
	v := testenv.Vault()
	trail := audit.New(db, table, 0)
	acme, bravo := testenv.Tenant(t, st, v, "acme"), testenv.Tenant(t, st, v, "bravo")
	now := time.Now().UTC()
	put := func(tk *vault.TenantKey, email string) domain.Lead {
		t.Helper()
		l := domain.Lead{TenantID: tk.Tenant(), ID: fmt.Sprintf("%08x-lead", time.Now().UnixNano()&0xffffffff), FormID: "contact",
			CampaignID: "spring", Source: domain.SourceForm, CreatedAt: now.Add(-time.Hour), ExpiresAt: now.AddDate(1, 0, 0),
			Personal: domain.Personal{Name: "Person", Email: email}}
		if _, _, err := st.Scoped(tk.Tenant()).PutLead(ctx, tk, l, store.Idempotency{}); err != nil {
			t.Fatal(err)
		}
		return l
	}
	for _, tk := range []*vault.TenantKey{acme, bravo} {
		if err := st.Scoped(tk.Tenant()).PutCampaign(ctx, domain.Campaign{ID: "spring", Name: "Spring", CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if _, err := trail.Append(ctx, audit.Record{Tenant: tk.Tenant(), ActorID: "u1", ActorRole: "admin", Action: "lead.read",
				Targets: []string{fmt.Sprintf("lead:%d", i)}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	var jens []domain.Lead
	for range 5 {
		jens = append(jens, put(acme, "jens@example.dk"))
	}
	karen := put(acme, "karen@example.dk")
	clone(t, table, acme, karen.ID, 8_994) // acme: 5 of jens, 8,995 of others; with bravo's 1,000: 10,000
	clone(t, table, bravo, put(bravo, "bo@example.dk").ID, 999)

	// The backup, then an erasure and a purge on the live table.
	bucket := testenv.Bucket(t)
	began := time.Now()
	sum, err := backup.Export(ctx, db, testenv.Env.AWS.S3(), table, bucket, "backups", testenv.Env.Standins.KeyARN, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	exportTook := time.Since(began)
	ids, err := st.Scoped("acme").LeadIDsBySubject(ctx, acme, "jens@example.dk", "")
	if err != nil || len(ids) != 5 {
		t.Fatalf("jens's leads = %v, %v", ids, err)
	}
	if _, err := st.Scoped("acme").EraseLeads(ctx, ids); err != nil {
		t.Fatal(err)
	}
	if err := st.Scoped("acme").RecordErasure(ctx, store.IndexSubject(acme, "jens@example.dk", ""), "req-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	purge(t, st, "bravo")

	// The restore, as ops restore does it locally.
	began = time.Now()
	latest, err := backup.Latest(ctx, testenv.Env.AWS.S3(), bucket, "backups", time.Now())
	if err != nil || latest.ExportArn != sum.ExportArn {
		t.Fatalf("Latest() = %+v, %v; want the export", latest, err)
	}
	restored := testenv.Name("restored")
	n, err := backup.Import(ctx, db, testenv.Env.AWS.S3(), latest, restored)
	if err != nil {
		t.Fatal(err)
	}
	importTook := time.Since(began)
	rep, err := backup.Finish(ctx, db, st, restored, backup.Options{Began: began})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("items %d; export %s, import %s, replay and checks %s, restore in all %s", n, exportTook.Round(time.Millisecond),
		importTook.Round(time.Millisecond), (rep.Took - importTook).Round(time.Millisecond), rep.Took.Round(time.Millisecond))
	if rep.ErasuresReplayed != 1 || rep.LeadsErased != 5 || rep.PurgesReplayed != 1 || rep.ItemsPurged < 1000 || !rep.OK() || len(rep.Tenants) != 2 {
		t.Errorf("Finish() = %+v; want jens's 5 leads erased, bravo purged, both chains intact", rep)
	}

	rs := store.New(db, restored)
	if ids, err := rs.Scoped("acme").LeadIDsBySubject(ctx, acme, "jens@example.dk", ""); err != nil || len(ids) != 0 {
		t.Errorf("jens in the restored table = %v, %v; want erased", ids, err)
	}
	for _, l := range jens {
		if _, err := rs.Scoped("acme").Lead(ctx, acme, l.ID); err == nil {
			t.Errorf("erased lead %s came back", l.ID)
		}
	}
	survivors := 0
	for cursor := ""; ; {
		page, next, err := rs.Scoped("acme").LeadsByCampaign(ctx, acme, "spring", store.Page{Limit: store.MaxPage, Cursor: cursor})
		if err != nil {
			t.Fatalf("reading the restored leads: %v (every surviving lead must decrypt)", err)
		}
		for _, l := range page {
			if l.Personal.Name != "Person" {
				t.Fatalf("restored lead %s decrypts to %+v", l.ID, l.Personal)
			}
		}
		survivors += len(page)
		if cursor = next; cursor == "" {
			break
		}
	}
	if survivors != 8_995 {
		t.Errorf("restored acme leads = %d; want 8,995 (9,000 less jens's 5)", survivors)
	}
	if _, err := rs.Tenant(ctx, "bravo"); err == nil {
		t.Error("the purged tenant came back")
	}
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String(restored)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Items {
			pk := it["pk"].(*types.AttributeValueMemberS).Value
			if strings.HasPrefix(pk, "T#bravo") && pk != "T#bravo#AUDIT" && pk != "T#bravo#DELSTATS" {
				t.Fatalf("the purged tenant's %s is in the restored table", pk)
			}
		}
	}
}

// purge ends a tenant's contract long ago and runs its purge to the end, as the jobs function does.
func purge(t *testing.T, st *store.Store, tenant string) {
	t.Helper()
	ctx := context.Background()
	v := st.Scoped(tenant)
	if err := v.EndContract(ctx, domain.Contract{EndsAt: time.Now().AddDate(0, 0, -31), GraceDays: 30, Then: domain.ContractThenDelete}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		p, err := v.PurgeStep(ctx, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case p.Phase == store.PurgePhaseNotice:
			if _, err := v.RecordPurge(ctx); err != nil {
				t.Fatal(err)
			}
		case p.Done:
			return
		}
	}
	t.Fatal("the purge does not finish")
}
