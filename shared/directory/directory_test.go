package directory_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
	"github.com/google/uuid"

	"leadvault/infra/local/cognitolocal"
	"leadvault/infra/local/devissuer"
	"leadvault/shared/access"
	"leadvault/shared/directory"
)

const poolID = "eu-north-1_local"

var issuer = sync.OnceValues(func() (*devissuer.Issuer, error) {
	return devissuer.New("http://127.0.0.1:9229/local_pool", nil)
})

// pool is a cognitolocal pool on 127.0.0.1 and a real SDK client for it.
type pool struct {
	c       *cip.Client
	mu      sync.Mutex
	invites []cognitolocal.Invitation
}

func newPool(t *testing.T) *pool {
	t.Helper()
	iss, err := issuer()
	if err != nil {
		t.Fatal(err)
	}
	p := &pool{}
	srv, err := cognitolocal.New(poolID, iss, cognitolocal.Options{Deliver: func(inv cognitolocal.Invitation) {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.invites = append(p.invites, inv)
	}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	p.c = cip.New(cip.Options{
		Region:           "eu-north-1",
		BaseEndpoint:     aws.String(hs.URL),
		Credentials:      aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider("test", "test", "")),
		RetryMaxAttempts: 1,
	})
	return p
}

func (p *pool) invitations() []cognitolocal.Invitation {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.invites)
}

// user returns the user's attributes and groups, or the AdminGetUser error.
func (p *pool) user(t *testing.T, name string) (map[string]string, []string, error) {
	t.Helper()
	out, err := p.c.AdminGetUser(t.Context(), &cip.AdminGetUserInput{UserPoolId: aws.String(poolID), Username: aws.String(name)})
	if err != nil {
		return nil, nil, err
	}
	attrs := map[string]string{}
	for _, a := range out.UserAttributes {
		attrs[aws.ToString(a.Name)] = aws.ToString(a.Value)
	}
	gs, err := p.c.AdminListGroupsForUser(t.Context(), &cip.AdminListGroupsForUserInput{UserPoolId: aws.String(poolID), Username: aws.String(name)})
	if err != nil {
		t.Fatalf("AdminListGroupsForUser(%q) = %v", name, err)
	}
	var groups []string
	for _, g := range gs.Groups {
		groups = append(groups, aws.ToString(g.GroupName))
	}
	return attrs, groups, nil
}

func isNotFound(err error) bool {
	_, ok := errors.AsType[*types.UserNotFoundException](err)
	return ok
}

func TestInvite_controllerRoles(t *testing.T) {
	p := newPool(t)
	d := directory.New(p.c, poolID)
	for i, role := range []access.Role{access.Admin, access.Member} {
		email := string(role) + "@tenant.example"
		id, err := d.Invite(t.Context(), "t-1", email, role)
		if err != nil {
			t.Fatalf("Invite(t-1, %q, %s) = %v", email, role, err)
		}
		if _, err := uuid.Parse(id); err != nil {
			t.Errorf("Invite(t-1, %q, %s) = %q; want a UUID", email, role, id)
		}
		attrs, groups, err := p.user(t, id)
		if err != nil {
			t.Fatalf("AdminGetUser(%q) = %v", id, err)
		}
		if attrs["sub"] != id || attrs["email"] != email || attrs["email_verified"] != "true" || attrs["custom:tenant_id"] != "t-1" {
			t.Errorf("Invite(t-1, %q, %s): attributes %v", email, role, attrs)
		}
		if !slices.Equal(groups, []string{string(role)}) {
			t.Errorf("Invite(t-1, %q, %s): groups %v; want [%s]", email, role, groups, role)
		}
		inv := p.invitations()
		if len(inv) != i+1 || inv[i].Sub != id || inv[i].Email != email || inv[i].TemporaryPassword == "" {
			t.Errorf("Invite(t-1, %q, %s): invitations %+v; want one e-mailed to them", email, role, inv)
		}
	}
}

func TestInviteStaff_supportWithoutTenant(t *testing.T) {
	p := newPool(t)
	d := directory.New(p.c, poolID)
	id, err := d.InviteStaff(t.Context(), "sam@processor.example")
	if err != nil {
		t.Fatalf("InviteStaff = %v", err)
	}
	attrs, groups, err := p.user(t, id)
	if err != nil {
		t.Fatalf("AdminGetUser(%q) = %v", id, err)
	}
	if _, ok := attrs["custom:tenant_id"]; ok || attrs["email"] != "sam@processor.example" {
		t.Errorf("InviteStaff: attributes %v; want the e-mail and no tenant", attrs)
	}
	if !slices.Equal(groups, []string{"support"}) {
		t.Errorf("InviteStaff: groups %v; want [support]", groups)
	}
}

func TestInvite_exists(t *testing.T) {
	p := newPool(t)
	d := directory.New(p.c, poolID)
	if _, err := d.Invite(t.Context(), "t-1", "jens@example.dk", access.Member); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		invite func() (string, error)
	}{
		{"same tenant", func() (string, error) { return d.Invite(t.Context(), "t-1", "jens@example.dk", access.Admin) }},
		{"other tenant, other case", func() (string, error) { return d.Invite(t.Context(), "t-2", "Jens@Example.DK", access.Member) }},
		{"staff", func() (string, error) { return d.InviteStaff(t.Context(), "jens@example.dk") }},
	}
	for _, tt := range tests {
		id, err := tt.invite()
		if !errors.Is(err, directory.ErrExists) || id != "" {
			t.Errorf("%s: Invite = %q, %v; want ErrExists", tt.name, id, err)
		}
		if _, ok := errors.AsType[*types.UsernameExistsException](err); !ok {
			t.Errorf("%s: Invite = %v; want it to wrap UsernameExistsException", tt.name, err)
		}
		if err != nil && strings.Contains(strings.ToLower(err.Error()), "jens") {
			t.Errorf("%s: error %q holds the e-mail address", tt.name, err)
		}
	}
}

func TestInvite_invalidArguments(t *testing.T) {
	p := newPool(t)
	d := directory.New(p.c, poolID)
	tests := []struct {
		name, tenant, email string
		role                access.Role
	}{
		{"support via Invite", "t-1", "a@example.dk", access.Support},
		{"unknown role", "t-1", "a@example.dk", access.Role("owner")},
		{"no tenant", "", "a@example.dk", access.Admin},
		{"no e-mail", "t-1", "", access.Admin},
	}
	for _, tt := range tests {
		if id, err := d.Invite(t.Context(), tt.tenant, tt.email, tt.role); err == nil {
			t.Errorf("Invite(%q, %q, %q) = %q, nil; want an error", tt.tenant, tt.email, tt.role, id)
		}
	}
	if _, _, err := p.user(t, "a@example.dk"); !isNotFound(err) {
		t.Errorf("AdminGetUser after rejected invites = %v; want UserNotFoundException", err)
	}
}

// faulty is a CognitoAPI that passes calls to a real client, but can send group changes to a group the
// pool does not have, and fail deletes.
type faulty struct {
	*cip.Client
	badGroup   bool
	failDelete bool

	mu    sync.Mutex
	calls []string
}

func (f *faulty) record(call string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
}

func (f *faulty) AdminAddUserToGroup(ctx context.Context, in *cip.AdminAddUserToGroupInput, opts ...func(*cip.Options)) (*cip.AdminAddUserToGroupOutput, error) {
	f.record("add " + aws.ToString(in.GroupName))
	if f.badGroup {
		c := *in
		c.GroupName = aws.String("no-such-group")
		in = &c
	}
	return f.Client.AdminAddUserToGroup(ctx, in, opts...)
}

func (f *faulty) AdminRemoveUserFromGroup(ctx context.Context, in *cip.AdminRemoveUserFromGroupInput, opts ...func(*cip.Options)) (*cip.AdminRemoveUserFromGroupOutput, error) {
	f.record("remove " + aws.ToString(in.GroupName))
	return f.Client.AdminRemoveUserFromGroup(ctx, in, opts...)
}

func (f *faulty) AdminDeleteUser(ctx context.Context, in *cip.AdminDeleteUserInput, opts ...func(*cip.Options)) (*cip.AdminDeleteUserOutput, error) {
	f.record("delete")
	if f.failDelete {
		return nil, errors.New("delete failed")
	}
	return f.Client.AdminDeleteUser(ctx, in, opts...)
}

func TestInvite_compensatesFailedGroupAdd(t *testing.T) {
	p := newPool(t)
	f := &faulty{Client: p.c, badGroup: true}
	d := directory.New(f, poolID)
	id, err := d.Invite(t.Context(), "t-1", "jens@example.dk", access.Admin)
	if _, ok := errors.AsType[*types.ResourceNotFoundException](err); !ok || id != "" {
		t.Fatalf("Invite with a failing group add = %q, %v; want ResourceNotFoundException", id, err)
	}
	if strings.Contains(err.Error(), "jens") {
		t.Errorf("error %q holds the e-mail address", err)
	}
	if _, _, err := p.user(t, "jens@example.dk"); !isNotFound(err) {
		t.Errorf("AdminGetUser after compensation = %v; want UserNotFoundException", err)
	}
	if want := []string{"add admin", "delete"}; !slices.Equal(f.calls, want) {
		t.Errorf("calls = %v; want %v", f.calls, want)
	}
	p.mu.Lock()
	sent := len(p.invites)
	p.mu.Unlock()
	if sent != 0 {
		t.Errorf("%d invitations mailed for a user deleted again; want none", sent)
	}
	// The address is free for a retry, which mails one invitation.
	if _, err := directory.New(p.c, poolID).Invite(t.Context(), "t-1", "jens@example.dk", access.Admin); err != nil {
		t.Errorf("Invite after compensation = %v", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.invites) != 1 || p.invites[0].Email != "jens@example.dk" {
		t.Errorf("invitations after the retry = %+v; want one to the invitee", p.invites)
	}
}

func TestInvite_compensationFailsToo(t *testing.T) {
	p := newPool(t)
	d := directory.New(&faulty{Client: p.c, badGroup: true, failDelete: true}, poolID)
	ctx, cancel := context.WithCancel(t.Context())
	_, err := d.Invite(ctx, "t-1", "jens@example.dk", access.Member)
	cancel()
	if _, ok := errors.AsType[*types.ResourceNotFoundException](err); !ok || !strings.Contains(err.Error(), "delete failed") {
		t.Errorf("Invite = %v; want both the group error and the delete error", err)
	}
}

func TestSetRole_movesGroups(t *testing.T) {
	p := newPool(t)
	f := &faulty{Client: p.c}
	d := directory.New(f, poolID)
	id, err := d.Invite(t.Context(), "t-1", "jens@example.dk", access.Admin)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		from, to access.Role
		want     []string
		calls    []string
	}{
		{access.Admin, access.Member, []string{"member"}, []string{"add member", "remove admin"}},
		{access.Member, access.Member, []string{"member"}, nil},
		{access.Member, access.Admin, []string{"admin"}, []string{"add admin", "remove member"}},
	}
	for _, tt := range tests {
		f.calls = nil
		if err := d.SetRole(t.Context(), id, tt.from, tt.to); err != nil {
			t.Fatalf("SetRole(%s, %s) = %v", tt.from, tt.to, err)
		}
		if _, groups, _ := p.user(t, id); !slices.Equal(groups, tt.want) {
			t.Errorf("SetRole(%s, %s): groups %v; want %v", tt.from, tt.to, groups, tt.want)
		}
		if !slices.Equal(f.calls, tt.calls) {
			t.Errorf("SetRole(%s, %s): calls %v; want %v (add first)", tt.from, tt.to, f.calls, tt.calls)
		}
	}
	if err := d.SetRole(t.Context(), uuid.NewString(), access.Admin, access.Member); !isNotFound(err) {
		t.Errorf("SetRole(unknown user) = %v; want UserNotFoundException", err)
	}
	for _, r := range []access.Role{access.Support, "owner"} {
		if err := d.SetRole(t.Context(), id, access.Admin, r); err == nil {
			t.Errorf("SetRole(admin, %q) = nil; want an error", r)
		}
	}
	if err := d.SetRole(t.Context(), "", access.Admin, access.Member); err == nil {
		t.Error(`SetRole("") = nil; want an error`)
	}
}

func TestRemove_idempotent(t *testing.T) {
	p := newPool(t)
	d := directory.New(p.c, poolID)
	id, err := d.Invite(t.Context(), "t-1", "jens@example.dk", access.Member)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := d.Remove(t.Context(), id); err != nil {
			t.Fatalf("Remove(%q) #%d = %v; want nil", id, i+1, err)
		}
	}
	if _, _, err := p.user(t, id); !isNotFound(err) {
		t.Errorf("AdminGetUser after Remove = %v; want UserNotFoundException", err)
	}
	// Other errors are errors.
	err = directory.New(p.c, "eu-north-1_other").Remove(t.Context(), uuid.NewString())
	if _, ok := errors.AsType[*types.ResourceNotFoundException](err); !ok {
		t.Errorf("Remove in an unknown pool = %v; want ResourceNotFoundException", err)
	}
}
