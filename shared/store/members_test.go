package store_test

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"sync"
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

// storedAdmins reads the tenant item's admin count as stored (absent = 0).
func storedAdmins(t *testing.T, table, tenant string) int {
	t.Helper()
	out, err := testenv.Env.AWS.DynamoDB().GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: &table, ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: "T#" + tenant}, "sk": &types.AttributeValueMemberS{Value: "TENANT"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	n, ok := out.Item["admins"].(*types.AttributeValueMemberN)
	if !ok {
		return 0
	}
	v, err := strconv.Atoi(n.Value)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// checkAdmins verifies the admin count against the members' roles.
func checkAdmins(t *testing.T, f fixture, tenant string, want int) {
	t.Helper()
	members, err := f.st.Scoped(tenant).Members(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	admins := 0
	for _, m := range members {
		if m.Role == access.Admin {
			admins++
		}
	}
	if stored := storedAdmins(t, f.table, tenant); admins != want || stored != want {
		t.Errorf("%s has %d admin members and a count of %d; want %d", tenant, admins, stored, want)
	}
}

func putMembers(t *testing.T, f fixture, tenant string, ms ...domain.Member) {
	t.Helper()
	for _, m := range ms {
		if err := f.st.Scoped(tenant).PutMember(context.Background(), m); err != nil {
			t.Fatalf("PutMember(%s/%s) = %v", tenant, m.UserID, err)
		}
	}
}

func TestPutMember(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	added := time.Date(2026, 11, 3, 8, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		tenant string
		m      domain.Member
		want   error
	}{
		{"admin", "acme", domain.Member{UserID: "u-admin", Email: "Boss@Acme.DK", Role: access.Admin, AddedAt: added, AddedBy: "operator"}, nil},
		{"member", "acme", domain.Member{UserID: "u-member", Email: "staff@acme.dk", Role: access.Member, AddedBy: "u-admin"}, nil},
		{"duplicate", "acme", domain.Member{UserID: "u-member", Email: "other@acme.dk", Role: access.Admin}, store.ErrExists},
		{"same user in another tenant", "globex", domain.Member{UserID: "u-member", Email: "staff@acme.dk", Role: access.Admin}, nil},
		{"unknown tenant", "nobody", domain.Member{UserID: "u-x", Email: "x@acme.dk", Role: access.Admin}, store.ErrNotFound},
		{"support staff", "acme", domain.Member{UserID: "u-s", Email: "s@leadvault.dk", Role: access.Support}, domain.ErrInvalidConfig},
		{"no role", "acme", domain.Member{UserID: "u-s", Email: "s@acme.dk"}, domain.ErrInvalidConfig},
		{"no user ID", "acme", domain.Member{Email: "s@acme.dk", Role: access.Member}, domain.ErrInvalidConfig},
		{"bad e-mail", "acme", domain.Member{UserID: "u-s", Email: "not an address", Role: access.Member}, domain.ErrInvalidConfig},
	}
	for _, tt := range tests {
		if err := f.st.Scoped(tt.tenant).PutMember(ctx, tt.m); !errors.Is(err, tt.want) {
			t.Errorf("PutMember(%s: %s/%q) = %v; want %v", tt.name, tt.tenant, tt.m.UserID, err, tt.want)
		}
	}
	got, err := f.st.Scoped("acme").Member(ctx, "u-admin")
	want := domain.Member{UserID: "u-admin", Email: "boss@acme.dk", Role: access.Admin, AddedAt: added, AddedBy: "operator"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Member(u-admin) = %+v, %v; want %+v", got, err, want)
	}
	if got, err := f.st.Scoped("acme").Member(ctx, "u-member"); err != nil || got.Role != access.Member || got.AddedAt.IsZero() {
		t.Errorf("Member(u-member) = %+v, %v; want a member with AddedAt defaulted", got, err)
	}
	if _, err := f.st.Scoped("acme").Member(ctx, "u-s"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Member(refused) = %v; want ErrNotFound", err)
	}
	checkAdmins(t, f, "acme", 1)
	checkAdmins(t, f, "globex", 1)
}

func TestMembers_ordered(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	putMembers(t, f, "acme",
		domain.Member{UserID: "u3", Email: "carl@acme.dk", Role: access.Member},
		domain.Member{UserID: "u2", Email: "anna@acme.dk", Role: access.Admin},
		domain.Member{UserID: "u1", Email: "anna@acme.dk", Role: access.Member}, // same address, two accounts
		domain.Member{UserID: "u4", Email: "bo@acme.dk", Role: access.Member},
	)
	putMembers(t, f, "globex", domain.Member{UserID: "g1", Email: "aaa@globex.dk", Role: access.Admin})
	got, err := f.st.Scoped("acme").Members(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range got {
		ids = append(ids, m.UserID)
	}
	if want := []string{"u1", "u2", "u4", "u3"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("Members(acme) = %v; want %v (by e-mail, then ID)", ids, want)
	}
	if got, err := f.st.Scoped("nobody").Members(ctx); err != nil || len(got) != 0 {
		t.Errorf("Members(unknown tenant) = %v, %v; want none", got, err)
	}
}

func TestSetMemberRole(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	putMembers(t, f, "acme",
		domain.Member{UserID: "a1", Email: "a1@acme.dk", Role: access.Admin},
		domain.Member{UserID: "m1", Email: "m1@acme.dk", Role: access.Member},
	)
	putMembers(t, f, "globex", domain.Member{UserID: "g1", Email: "g1@globex.dk", Role: access.Member})
	tests := []struct {
		name, tenant, user string
		role               access.Role
		want               error
		admins             int
	}{
		{"demote the only admin", "acme", "a1", access.Member, store.ErrLastAdmin, 1},
		{"same role", "acme", "m1", access.Member, nil, 1},
		{"promote", "acme", "m1", access.Admin, nil, 2},
		{"same role as admin", "acme", "m1", access.Admin, nil, 2},
		{"demote one of two", "acme", "a1", access.Member, nil, 1},
		{"demote the new only admin", "acme", "m1", access.Member, store.ErrLastAdmin, 1},
		{"unknown member", "acme", "nobody", access.Admin, store.ErrNotFound, 1},
		{"another tenant's member", "acme", "g1", access.Admin, store.ErrNotFound, 1},
		{"support role", "acme", "a1", access.Support, domain.ErrInvalidConfig, 1},
	}
	for _, tt := range tests {
		got, err := f.st.Scoped(tt.tenant).SetMemberRole(ctx, tt.user, tt.role)
		if !errors.Is(err, tt.want) {
			t.Errorf("SetMemberRole(%s: %q, %s) = %v; want %v", tt.name, tt.user, tt.role, err, tt.want)
		}
		if err == nil && (got.UserID != tt.user || got.Role != tt.role || got.Email == "") {
			t.Errorf("SetMemberRole(%s: %q, %s) = %+v; want the member with its new role", tt.name, tt.user, tt.role, got)
		}
		checkAdmins(t, f, "acme", tt.admins)
	}
	if got, _ := f.st.Scoped("globex").Member(ctx, "g1"); got.Role != access.Member {
		t.Errorf("globex/g1 role = %s; want member (untouched)", got.Role)
	}
}

func TestRemoveMember(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	putMembers(t, f, "acme",
		domain.Member{UserID: "a1", Email: "a1@acme.dk", Role: access.Admin},
		domain.Member{UserID: "a2", Email: "a2@acme.dk", Role: access.Admin},
		domain.Member{UserID: "m1", Email: "m1@acme.dk", Role: access.Member, AddedBy: "a1"},
	)
	tests := []struct {
		name, user string
		want       error
		admins     int
	}{
		{"member", "m1", nil, 2},
		{"again", "m1", store.ErrNotFound, 2},
		{"one of two admins", "a2", nil, 1},
		{"last admin", "a1", store.ErrLastAdmin, 1},
		{"unknown", "nobody", store.ErrNotFound, 1},
	}
	for _, tt := range tests {
		got, err := f.st.Scoped("acme").RemoveMember(ctx, tt.user)
		if !errors.Is(err, tt.want) {
			t.Errorf("RemoveMember(%s: %q) = %v; want %v", tt.name, tt.user, err, tt.want)
		}
		if err == nil {
			if got.UserID != tt.user || got.Email != tt.user+"@acme.dk" {
				t.Errorf("RemoveMember(%q) = %+v; want the removed member", tt.user, got)
			}
			if _, err := f.st.Scoped("acme").Member(ctx, tt.user); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Member(%q) after removal = %v; want ErrNotFound", tt.user, err)
			}
		}
		checkAdmins(t, f, "acme", tt.admins)
	}
	if got, err := f.st.Scoped("acme").Member(ctx, "a1"); err != nil || got.Role != access.Admin {
		t.Errorf("Member(last admin) = %+v, %v; want kept as admin", got, err)
	}
}

// TestMembers_concurrentLastAdmin races two changes that would each remove one of the last two admins:
// exactly one may win, whatever the interleaving.
func TestMembers_concurrentLastAdmin(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	demote := func(user string) error {
		_, err := f.st.Scoped("acme").SetMemberRole(ctx, user, access.Member)
		return err
	}
	remove := func(user string) error {
		_, err := f.st.Scoped("acme").RemoveMember(ctx, user)
		return err
	}
	races := []struct {
		name         string
		first, other func(string) error
	}{
		{"demote both", demote, demote},
		{"remove both", remove, remove},
		{"demote and remove", demote, remove},
	}
	for round := range 12 {
		race := races[round%len(races)]
		a, b := "a"+strconv.Itoa(round), "b"+strconv.Itoa(round)
		putMembers(t, f, "acme",
			domain.Member{UserID: a, Email: a + "@acme.dk", Role: access.Admin},
			domain.Member{UserID: b, Email: b + "@acme.dk", Role: access.Admin},
		)
		// Leave only this round's two admins: earlier rounds' survivors are demoted.
		members, err := f.st.Scoped("acme").Members(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range members {
			if m.Role == access.Admin && m.UserID != a && m.UserID != b {
				if _, err := f.st.Scoped("acme").SetMemberRole(ctx, m.UserID, access.Member); err != nil {
					t.Fatalf("round %d: demote %s: %v", round, m.UserID, err)
				}
			}
		}
		checkAdmins(t, f, "acme", 2)

		start := make(chan struct{})
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i, do := range []func(string) error{race.first, race.other} {
			user := []string{a, b}[i]
			wg.Go(func() {
				<-start
				errs[i] = do(user)
			})
		}
		close(start)
		wg.Wait()
		won, refused := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case errors.Is(err, store.ErrLastAdmin):
				refused++
			default:
				t.Errorf("round %d (%s): unexpected error %v", round, race.name, err)
			}
		}
		if won != 1 || refused != 1 {
			t.Errorf("round %d (%s): errors %v; want one success and one ErrLastAdmin", round, race.name, errs)
		}
		checkAdmins(t, f, "acme", 1)
	}
}
