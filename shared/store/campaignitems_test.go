package store_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"leadvault/infra/local/testenv"
	"leadvault/shared/access"
	"leadvault/shared/domain"
	"leadvault/shared/store"
)

// markCampaignDeleting sets the flags a campaign deletion sets on the campaign item (the agreed layout).
func markCampaignDeleting(t *testing.T, table, tenant, id, job string) {
	t.Helper()
	_, err := testenv.Env.AWS.DynamoDB().UpdateItem(context.Background(), &dynamodb.UpdateItemInput{
		TableName: &table,
		Key: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: "T#" + tenant}, "sk": &types.AttributeValueMemberS{Value: "CAMP#" + id},
		},
		UpdateExpression: aws.String("SET deleting = :t, job = :j"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":t": &types.AttributeValueMemberBOOL{Value: true}, ":j": &types.AttributeValueMemberS{Value: job},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestPutCampaign(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	created := time.Date(2026, 11, 2, 10, 0, 0, 123456789, time.UTC)
	if err := f.st.Scoped("acme").PutCampaign(ctx, domain.Campaign{ID: "spring", Name: "Spring sale", CreatedAt: created}); err != nil {
		t.Fatalf("PutCampaign(spring) = %v; want nil", err)
	}
	tests := []struct {
		name   string
		tenant string
		c      domain.Campaign
		want   error
	}{
		{"duplicate", "acme", domain.Campaign{ID: "spring", Name: "Again"}, store.ErrExists},
		{"same ID in another tenant", "globex", domain.Campaign{ID: "spring", Name: "Theirs"}, nil},
		{"unknown tenant", "nobody", domain.Campaign{ID: "spring", Name: "Orphan"}, store.ErrNotFound},
		{"bad ID", "acme", domain.Campaign{ID: "Spring!", Name: "x"}, domain.ErrInvalidConfig},
		{"ID with separator", "acme", domain.Campaign{ID: "a#b", Name: "x"}, domain.ErrInvalidConfig},
		{"empty name", "acme", domain.Campaign{ID: "autumn"}, domain.ErrInvalidConfig},
		{"long name", "acme", domain.Campaign{ID: "autumn", Name: strings.Repeat("é", 201)}, domain.ErrInvalidConfig},
		{"control character", "acme", domain.Campaign{ID: "autumn", Name: "a\nb"}, domain.ErrInvalidConfig},
		{"longest name", "acme", domain.Campaign{ID: "winter", Name: strings.Repeat("é", 200)}, nil},
	}
	for _, tt := range tests {
		if err := f.st.Scoped(tt.tenant).PutCampaign(ctx, tt.c); !errors.Is(err, tt.want) {
			t.Errorf("PutCampaign(%s: %s/%q) = %v; want %v", tt.name, tt.tenant, tt.c.ID, err, tt.want)
		}
	}
	got, err := f.st.Scoped("acme").Campaign(ctx, "spring")
	want := domain.Campaign{ID: "spring", Name: "Spring sale", CreatedAt: created}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Campaign(spring) = %+v, %v; want %+v", got, err, want)
	}
	if got, err := f.st.Scoped("globex").Campaign(ctx, "spring"); err != nil || got.Name != "Theirs" {
		t.Errorf("Campaign(globex/spring) = %+v, %v; want the other tenant's own", got, err)
	}
	if _, err := f.st.Scoped("acme").Campaign(ctx, "autumn"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Campaign(never stored) = %v; want ErrNotFound", err)
	}
}

func TestCampaign_deleting(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	if err := f.st.Scoped("acme").PutCampaign(ctx, domain.Campaign{ID: "spring", Name: "Spring"}); err != nil {
		t.Fatal(err)
	}
	markCampaignDeleting(t, f.table, "acme", "spring", "job-1")
	got, err := f.st.Scoped("acme").Campaign(ctx, "spring")
	if err != nil || !got.Deleting || got.DeletionJob != "job-1" {
		t.Errorf("Campaign(being deleted) = %+v, %v; want Deleting with job-1", got, err)
	}
	if _, err := f.st.Scoped("acme").RenameCampaign(ctx, "spring", "New"); !errors.Is(err, store.ErrDeleting) {
		t.Errorf("RenameCampaign(being deleted) = %v; want ErrDeleting", err)
	}
	if got, _ := f.st.Scoped("acme").Campaign(ctx, "spring"); got.Name != "Spring" {
		t.Errorf("name after refused rename = %q; want %q", got.Name, "Spring")
	}
	if err := f.st.Scoped("acme").PutCampaign(ctx, domain.Campaign{ID: "spring", Name: "Spring"}); !errors.Is(err, store.ErrExists) {
		t.Errorf("PutCampaign(being deleted) = %v; want ErrExists", err)
	}
}

func TestRenameCampaign(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	if err := f.st.Scoped("acme").PutCampaign(ctx, domain.Campaign{ID: "spring", Name: "Spring"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		tenant, id, name string
		want             error
	}{
		{"acme", "spring", "Spring 2027", nil},
		{"acme", "autumn", "Autumn", store.ErrNotFound},
		{"globex", "spring", "Hijack", store.ErrNotFound},
		{"acme", "spring", "", domain.ErrInvalidConfig},
		{"acme", "spring", "tab\there", domain.ErrInvalidConfig},
	}
	for _, tt := range tests {
		got, err := f.st.Scoped(tt.tenant).RenameCampaign(ctx, tt.id, tt.name)
		if !errors.Is(err, tt.want) {
			t.Errorf("RenameCampaign(%s/%s, %q) = %v; want %v", tt.tenant, tt.id, tt.name, err, tt.want)
		}
		if err == nil && (got.ID != tt.id || got.Name != tt.name || got.CreatedAt.IsZero()) {
			t.Errorf("RenameCampaign(%s/%s, %q) = %+v; want the renamed campaign", tt.tenant, tt.id, tt.name, got)
		}
	}
	if got, err := f.st.Scoped("acme").Campaign(ctx, "spring"); err != nil || got.Name != "Spring 2027" {
		t.Errorf("Campaign(spring) = %+v, %v; want name %q", got, err, "Spring 2027")
	}
	if _, err := f.st.Scoped("globex").Campaign(ctx, "spring"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Campaign(globex/spring) = %v; want ErrNotFound (rename must not create)", err)
	}
}

func TestCampaigns_paging(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	var want []string
	for _, id := range []string{"c5", "c1", "c7", "c3", "c2", "c6", "c4"} {
		if err := f.st.Scoped("acme").PutCampaign(ctx, domain.Campaign{ID: id, Name: "Campaign " + id}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i <= 7; i++ {
		want = append(want, fmt.Sprintf("c%d", i))
	}
	// Other items of the tenant partition and other tenants' campaigns stay out of the listing.
	if err := f.st.Scoped("globex").PutCampaign(ctx, domain.Campaign{ID: "c0", Name: "Theirs"}); err != nil {
		t.Fatal(err)
	}
	if err := f.st.Scoped("acme").PutForm(ctx, testenv.Form("acme", "contact")); err != nil {
		t.Fatal(err)
	}
	if err := f.st.Scoped("acme").PutMember(ctx, domain.Member{UserID: "u1", Email: "a@acme.dk", Role: access.Admin}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		limit int
		sizes []int
	}{
		{3, []int{3, 3, 1}},
		{7, []int{7}}, // a full last page has no cursor to an empty one
		{0, []int{7}}, // default 50
		{1000, []int{7}},
	}
	for _, tt := range tests {
		var got []string
		var sizes []int
		cursor := ""
		for page := 0; ; page++ {
			cs, next, err := f.st.Scoped("acme").Campaigns(ctx, tt.limit, cursor)
			if err != nil {
				t.Fatalf("Campaigns(limit %d, page %d) = %v", tt.limit, page, err)
			}
			sizes = append(sizes, len(cs))
			for _, c := range cs {
				got = append(got, c.ID)
				if c.Name != "Campaign "+c.ID || c.CreatedAt.IsZero() {
					t.Errorf("Campaigns() returned %+v; want its name and creation time", c)
				}
			}
			if next == "" {
				break
			}
			if page > 10 {
				t.Fatalf("Campaigns(limit %d) does not end", tt.limit)
			}
			cursor = next
		}
		if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(sizes, tt.sizes) {
			t.Errorf("Campaigns(limit %d) = %v in pages %v; want %v in pages %v", tt.limit, got, sizes, want, tt.sizes)
		}
	}
	if cs, next, err := f.st.Scoped("nobody").Campaigns(ctx, 10, ""); err != nil || len(cs) != 0 || next != "" {
		t.Errorf("Campaigns(unknown tenant) = %v, %q, %v; want none", cs, next, err)
	}
}

func TestCampaigns_badCursor(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	for _, id := range []string{"c1", "c2", "c3"} {
		if err := f.st.Scoped("acme").PutCampaign(ctx, domain.Campaign{ID: id, Name: id}); err != nil {
			t.Fatal(err)
		}
	}
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, cursor := range []string{"not base64!", enc("FORM#contact"), enc("USER#u1"), enc("TENANT"), enc("CAMP#"), enc("camp#c1")} {
		if _, _, err := f.st.Scoped("acme").Campaigns(ctx, 2, cursor); !errors.Is(err, store.ErrBadCursor) {
			t.Errorf("Campaigns(cursor %q) = %v; want ErrBadCursor", cursor, err)
		}
	}
	// A cursor holds no tenant: another tenant's cursor only positions the caller in its own partition.
	_, next, err := f.st.Scoped("acme").Campaigns(ctx, 2, "")
	if err != nil || next == "" {
		t.Fatalf("Campaigns(acme, 2) = %q, %v; want a cursor", next, err)
	}
	if cs, _, err := f.st.Scoped("globex").Campaigns(ctx, 2, next); err != nil || len(cs) != 0 {
		t.Errorf("Campaigns(globex, acme's cursor) = %v, %v; want none of acme's", cs, err)
	}
}

func TestForms_paging(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	for _, id := range []string{"f-c", "f-a", "f-e", "f-b", "f-d"} {
		form := testenv.Form("acme", id)
		form.Enabled = id != "f-b" // disabled forms are listed too
		if err := f.st.Scoped(form.TenantID).PutForm(ctx, form); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"f-a", "f-b", "f-c", "f-d", "f-e"}
	if err := f.st.Scoped("globex").PutForm(ctx, testenv.Form("globex", "globex-form")); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"spring", "summer"} {
		if err := f.st.Scoped("acme").PutCampaign(ctx, domain.Campaign{ID: id, Name: id}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	var sizes []int
	cursor := ""
	for page := 0; ; page++ {
		forms, next, err := f.st.Scoped("acme").Forms(ctx, 2, cursor)
		if err != nil {
			t.Fatalf("Forms(page %d) = %v", page, err)
		}
		sizes = append(sizes, len(forms))
		for _, form := range forms {
			got = append(got, form.ID)
			if form.TenantID != "acme" || form.Enabled != (form.ID != "f-b") || len(form.Fields) == 0 {
				t.Errorf("Forms() returned %+v; want acme's stored configuration", form)
			}
		}
		if next == "" {
			break
		}
		if page > 10 {
			t.Fatal("Forms() does not end")
		}
		cursor = next
	}
	if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(sizes, []int{2, 2, 1}) {
		t.Errorf("Forms(limit 2) = %v in pages %v; want %v in pages [2 2 1]", got, sizes, want)
	}
	_, campaignCursor, err := f.st.Scoped("acme").Campaigns(ctx, 1, "")
	if err != nil || campaignCursor == "" {
		t.Fatalf("Campaigns(acme, 1) = %q, %v; want a cursor", campaignCursor, err)
	}
	for _, cursor := range []string{"%%%", base64.RawURLEncoding.EncodeToString([]byte("CAMP#spring")), campaignCursor} {
		if _, _, err := f.st.Scoped("acme").Forms(ctx, 2, cursor); !errors.Is(err, store.ErrBadCursor) {
			t.Errorf("Forms(cursor %q) = %v; want ErrBadCursor", cursor, err)
		}
	}
}
