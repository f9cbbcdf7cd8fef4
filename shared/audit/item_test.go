package audit_test

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"leadvault/shared/audit"
)

// TestAppend_itemFormat pins the stored items, attribute by attribute: deployed tables hold records in
// this format and must stay readable and verifiable, whatever marshals them.
func TestAppend_itemFormat(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	n := func(v int64) types.AttributeValue {
		return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
	}
	cases := []struct {
		name string
		in   audit.Record
	}{
		{"every field", audit.Record{Tenant: "acme", ActorID: "u1", ActorRole: "admin", Action: "lead.read",
			Targets: []string{"l1", "l2"}, Purpose: "ticket 7", RequestID: "rid", SourceIP: "ip:abc", GrantID: "g1",
			Retention: 400 * 24 * time.Hour}},
		{"only what is required", audit.Record{Tenant: "acme", ActorID: "u1", ActorRole: "member", Action: "form.list"}},
		{"empty target list", audit.Record{Tenant: "acme", ActorID: "u1", ActorRole: "member", Action: "form.list", Targets: []string{}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := f.log.Append(ctx, c.in)
			if err != nil {
				t.Fatal(err)
			}
			pk := "T#acme#AUDIT"
			sk := fmt.Sprintf("R#%s#%012d", r.At.UTC().Format("2006-01-02T15:04:05.000000000Z"), r.Seq)
			retention := c.in.Retention
			if retention == 0 {
				retention = audit.DefaultRetention
			}
			want := map[string]types.AttributeValue{
				"pk": s(pk), "sk": s(sk), "seq": n(r.Seq), "hash": s(r.Hash),
				"at": s(r.At.UTC().Format("2006-01-02T15:04:05.000000000Z")), "expiresAt": n(r.At.Add(retention).Unix()),
				"actor": s(c.in.ActorID), "role": s(c.in.ActorRole), "action": s(c.in.Action),
			}
			if r.PrevHash != "" {
				want["prev"] = s(r.PrevHash)
			}
			for k, v := range map[string]string{"purpose": c.in.Purpose, "req": c.in.RequestID, "ip": c.in.SourceIP, "grant": c.in.GrantID} {
				if v != "" {
					want[k] = s(v)
				}
			}
			if len(c.in.Targets) > 0 {
				var l []types.AttributeValue
				for _, x := range c.in.Targets {
					l = append(l, s(x))
				}
				want["targets"] = &types.AttributeValueMemberL{Value: l}
			}
			got := getItem(t, f, pk, sk)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("record item =\n%#v\nwant\n%#v", got, want)
			}
			head := getItem(t, f, pk, "HEAD")
			wantHead := map[string]types.AttributeValue{
				"pk": s(pk), "sk": s("HEAD"), "seq": n(r.Seq), "hash": s(r.Hash),
				"at": s(r.At.Format(time.RFC3339Nano)), "recExp": n(r.At.Add(retention).Unix()),
			}
			if !reflect.DeepEqual(head, wantHead) {
				t.Errorf("head item =\n%#v\nwant\n%#v", head, wantHead)
			}
		})
	}
}

func getItem(t *testing.T, f fixture, pk, sk string) map[string]types.AttributeValue {
	t.Helper()
	out, err := f.db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(f.table),
		Key:            map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: sk}},
		ConsistentRead: aws.Bool(true)})
	if err != nil || out.Item == nil {
		t.Fatalf("GetItem(%s, %s) = %v, %v", pk, sk, out, err)
	}
	return out.Item
}
