package cognitolocal_test

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
	"github.com/aws/smithy-go"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"leadvault/infra/local/cognitolocal"
	"leadvault/infra/local/devissuer"
)

const (
	poolID    = "eu-north-1_local"
	issuerURL = "http://127.0.0.1:9229/local_pool"
	goodPass  = "Corr3ct-Horse-Battery"
	wrongPass = "Wr0ng-Horse-Battery"
)

// issuer is shared: generating an RSA key per test is slow.
var issuer = sync.OnceValues(func() (*devissuer.Issuer, error) { return devissuer.New(issuerURL, nil) })

// clock is a settable clock for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a server on 127.0.0.1 and an SDK client for it.
type env struct {
	srv   *cognitolocal.Server
	url   string
	c     *cip.Client
	clock *clock
	logs  *bytes.Buffer

	mu      sync.Mutex
	invites []cognitolocal.Invitation
}

func (e *env) invitations() []cognitolocal.Invitation {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.invites)
}

// newEnv starts a server with opts (Now, Logger and Deliver are filled in) and returns a client for it.
func newEnv(t *testing.T, opts cognitolocal.Options) *env {
	t.Helper()
	iss, err := issuer()
	if err != nil {
		t.Fatal(err)
	}
	e := &env{clock: &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}, logs: &bytes.Buffer{}}
	opts.Now = e.clock.Now
	opts.Logger = slog.New(slog.NewJSONHandler(e.logs, nil))
	opts.Deliver = func(inv cognitolocal.Invitation) {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.invites = append(e.invites, inv)
	}
	if e.srv, err = cognitolocal.New(poolID, iss, opts); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(e.srv)
	t.Cleanup(hs.Close)
	e.url = hs.URL
	e.c = newClient(hs.URL)
	return e
}

func newClient(endpoint string) *cip.Client {
	return cip.New(cip.Options{
		Region:           "eu-north-1",
		BaseEndpoint:     aws.String(endpoint),
		Credentials:      aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider("test", "test", "")),
		RetryMaxAttempts: 1,
	})
}

// is returns a check that err is, or wraps, the SDK error type T.
func is[T error]() func(error) bool {
	return func(err error) bool { _, ok := errors.AsType[T](err); return ok }
}

// message returns the API error message of err, or "".
func message(err error) string {
	if ae, ok := errors.AsType[smithy.APIError](err); ok {
		return ae.ErrorMessage()
	}
	return ""
}

// createUser creates a user with email and tenant and returns their sub.
func (e *env) createUser(t *testing.T, email, tenant string) string {
	t.Helper()
	attrs := []types.AttributeType{
		{Name: aws.String("email"), Value: aws.String(email)},
		{Name: aws.String("email_verified"), Value: aws.String("true")},
	}
	if tenant != "" {
		attrs = append(attrs, types.AttributeType{Name: aws.String("custom:tenant_id"), Value: aws.String(tenant)})
	}
	out, err := e.c.AdminCreateUser(t.Context(), &cip.AdminCreateUserInput{
		UserPoolId: aws.String(poolID), Username: aws.String(email), UserAttributes: attrs,
		DesiredDeliveryMediums: []types.DeliveryMediumType{types.DeliveryMediumTypeEmail},
	})
	if err != nil {
		t.Fatalf("AdminCreateUser(%q) = %v", email, err)
	}
	return aws.ToString(out.User.Username)
}

// confirmedUser creates a user with the permanent password goodPass in group and returns their sub.
func (e *env) confirmedUser(t *testing.T, email, tenant, group string) string {
	t.Helper()
	sub := e.createUser(t, email, tenant)
	if _, err := e.c.AdminSetUserPassword(t.Context(), &cip.AdminSetUserPasswordInput{
		UserPoolId: aws.String(poolID), Username: aws.String(sub), Password: aws.String(goodPass), Permanent: true,
	}); err != nil {
		t.Fatalf("AdminSetUserPassword: %v", err)
	}
	if group != "" {
		if _, err := e.c.AdminAddUserToGroup(t.Context(), &cip.AdminAddUserToGroupInput{
			UserPoolId: aws.String(poolID), Username: aws.String(sub), GroupName: aws.String(group),
		}); err != nil {
			t.Fatalf("AdminAddUserToGroup: %v", err)
		}
	}
	return sub
}

func (e *env) signIn(ctx context.Context, username, password string) (*cip.InitiateAuthOutput, error) {
	return e.c.InitiateAuth(ctx, &cip.InitiateAuthInput{
		AuthFlow: types.AuthFlowTypeUserPasswordAuth, ClientId: aws.String("client"),
		AuthParameters: map[string]string{"USERNAME": username, "PASSWORD": password},
	})
}

func attrMap(list []types.AttributeType) map[string]string {
	m := map[string]string{}
	for _, a := range list {
		m[aws.ToString(a.Name)] = aws.ToString(a.Value)
	}
	return m
}

func TestAdminCreateUser_emailAsUsername(t *testing.T) {
	e := newEnv(t, cognitolocal.Options{})
	out, err := e.c.AdminCreateUser(t.Context(), &cip.AdminCreateUserInput{
		UserPoolId: aws.String(poolID), Username: aws.String("Jens@Example.dk"),
		UserAttributes: []types.AttributeType{
			{Name: aws.String("email"), Value: aws.String("Jens@Example.dk")},
			{Name: aws.String("email_verified"), Value: aws.String("true")},
			{Name: aws.String("custom:tenant_id"), Value: aws.String("t-1")},
		},
		DesiredDeliveryMediums: []types.DeliveryMediumType{types.DeliveryMediumTypeEmail},
	})
	if err != nil {
		t.Fatalf("AdminCreateUser = %v", err)
	}
	u := out.User
	sub := aws.ToString(u.Username)
	if _, err := uuid.Parse(sub); err != nil {
		t.Errorf("Username = %q; want a UUID", sub)
	}
	want := map[string]string{"sub": sub, "email": "Jens@Example.dk", "email_verified": "true", "custom:tenant_id": "t-1"}
	if got := attrMap(u.Attributes); !reflect.DeepEqual(got, want) {
		t.Errorf("Attributes = %v; want %v", got, want)
	}
	if u.UserStatus != types.UserStatusTypeForceChangePassword || !u.Enabled {
		t.Errorf("UserStatus, Enabled = %s, %v; want FORCE_CHANGE_PASSWORD, true", u.UserStatus, u.Enabled)
	}
	if !aws.ToTime(u.UserCreateDate).Equal(e.clock.Now()) {
		t.Errorf("UserCreateDate = %v; want %v", u.UserCreateDate, e.clock.Now())
	}
	inv := e.invitations()
	if len(inv) != 1 || inv[0].Sub != sub || inv[0].Email != "Jens@Example.dk" || inv[0].TemporaryPassword == "" {
		t.Fatalf("invitations = %+v; want one to the new user", inv)
	}
	// The generated temporary password works, and leads to the new-password challenge.
	res, err := e.signIn(t.Context(), "jens@example.dk", inv[0].TemporaryPassword)
	if err != nil || res.ChallengeName != types.ChallengeNameTypeNewPasswordRequired {
		t.Errorf("InitiateAuth(temporary password) = %v, %v; want NEW_PASSWORD_REQUIRED", res, err)
	}
}

func TestAdminCreateUser_cases(t *testing.T) {
	e := newEnv(t, cognitolocal.Options{})
	e.createUser(t, "taken@example.dk", "t-1")
	tests := []struct {
		name    string
		in      cip.AdminCreateUserInput
		check   func(error) bool // nil: success
		invites int              // invitations this call delivers
	}{
		{name: "duplicate, other case", in: cip.AdminCreateUserInput{Username: aws.String("TAKEN@example.dk")}, check: is[*types.UsernameExistsException]()},
		{name: "username not an e-mail", in: cip.AdminCreateUserInput{Username: aws.String("jens")}, check: is[*types.InvalidParameterException]()},
		{name: "unknown attribute", in: cip.AdminCreateUserInput{Username: aws.String("a@example.dk"),
			UserAttributes: []types.AttributeType{{Name: aws.String("custom:role"), Value: aws.String("x")}}}, check: is[*types.InvalidParameterException]()},
		{name: "e-mail differs from username", in: cip.AdminCreateUserInput{Username: aws.String("a@example.dk"),
			UserAttributes: []types.AttributeType{{Name: aws.String("email"), Value: aws.String("b@example.dk")}}}, check: is[*types.InvalidParameterException]()},
		{name: "weak temporary password", in: cip.AdminCreateUserInput{Username: aws.String("a@example.dk"), TemporaryPassword: aws.String("password")},
			check: is[*types.InvalidPasswordException]()},
		{name: "other pool", in: cip.AdminCreateUserInput{UserPoolId: aws.String("eu-north-1_other"), Username: aws.String("a@example.dk")},
			check: is[*types.ResourceNotFoundException]()},
		{name: "given temporary password", in: cip.AdminCreateUserInput{Username: aws.String("b@example.dk"), TemporaryPassword: aws.String("Temp-Pass1-long"),
			DesiredDeliveryMediums: []types.DeliveryMediumType{types.DeliveryMediumTypeEmail}}, invites: 1},
		{name: "suppressed invitation", in: cip.AdminCreateUserInput{Username: aws.String("c@example.dk"), MessageAction: types.MessageActionTypeSuppress,
			DesiredDeliveryMediums: []types.DeliveryMediumType{types.DeliveryMediumTypeEmail}}},
		{name: "resend", in: cip.AdminCreateUserInput{Username: aws.String("c@example.dk"), MessageAction: types.MessageActionTypeResend,
			DesiredDeliveryMediums: []types.DeliveryMediumType{types.DeliveryMediumTypeEmail}}, invites: 1},
		{name: "resend to nobody", in: cip.AdminCreateUserInput{Username: aws.String("d@example.dk"), MessageAction: types.MessageActionTypeResend},
			check: is[*types.UserNotFoundException]()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.in.UserPoolId == nil {
				tt.in.UserPoolId = aws.String(poolID)
			}
			before := len(e.invitations())
			_, err := e.c.AdminCreateUser(t.Context(), &tt.in)
			if tt.check == nil && err != nil || tt.check != nil && !tt.check(err) {
				t.Fatalf("AdminCreateUser(%q) = %v", aws.ToString(tt.in.Username), err)
			}
			if got := len(e.invitations()) - before; got != tt.invites {
				t.Errorf("AdminCreateUser(%q) delivered %d invitations; want %d", aws.ToString(tt.in.Username), got, tt.invites)
			}
		})
	}
	if inv := e.invitations(); len(inv) < 2 || inv[1].TemporaryPassword != "Temp-Pass1-long" {
		t.Errorf("invitation with a given temporary password = %+v", inv)
	}
	if _, err := e.c.AdminCreateUser(t.Context(), &cip.AdminCreateUserInput{UserPoolId: aws.String(poolID), Username: aws.String("taken@example.dk")}); message(err) != "An account with the given email already exists." {
		t.Errorf("duplicate message = %q", message(err))
	}
}

func TestAdminGetUser_bySubOrEmail(t *testing.T) {
	e := newEnv(t, cognitolocal.Options{})
	sub := e.createUser(t, "jens@example.dk", "t-1")
	for _, name := range []string{sub, "jens@example.dk", "JENS@example.DK"} {
		out, err := e.c.AdminGetUser(t.Context(), &cip.AdminGetUserInput{UserPoolId: aws.String(poolID), Username: aws.String(name)})
		if err != nil {
			t.Fatalf("AdminGetUser(%q) = %v", name, err)
		}
		if aws.ToString(out.Username) != sub || attrMap(out.UserAttributes)["custom:tenant_id"] != "t-1" || out.UserStatus != types.UserStatusTypeForceChangePassword {
			t.Errorf("AdminGetUser(%q) = %s %v %s", name, aws.ToString(out.Username), attrMap(out.UserAttributes), out.UserStatus)
		}
	}
	for _, name := range []string{uuid.NewString(), "nobody@example.dk"} {
		_, err := e.c.AdminGetUser(t.Context(), &cip.AdminGetUserInput{UserPoolId: aws.String(poolID), Username: aws.String(name)})
		if !is[*types.UserNotFoundException]()(err) {
			t.Errorf("AdminGetUser(%q) = %v; want UserNotFoundException", name, err)
		}
	}
}

func TestAdminDeleteUser_thenGone(t *testing.T) {
	e := newEnv(t, cognitolocal.Options{})
	sub := e.createUser(t, "jens@example.dk", "t-1")
	in := &cip.AdminDeleteUserInput{UserPoolId: aws.String(poolID), Username: aws.String(sub)}
	if _, err := e.c.AdminDeleteUser(t.Context(), in); err != nil {
		t.Fatalf("AdminDeleteUser(%q) = %v; want nil", sub, err)
	}
	if _, err := e.c.AdminDeleteUser(t.Context(), in); !is[*types.UserNotFoundException]()(err) {
		t.Errorf("AdminDeleteUser(%q) again = %v; want UserNotFoundException", sub, err)
	}
	if _, err := e.c.AdminGetUser(t.Context(), &cip.AdminGetUserInput{UserPoolId: aws.String(poolID), Username: aws.String("jens@example.dk")}); !is[*types.UserNotFoundException]()(err) {
		t.Errorf("AdminGetUser after delete = %v; want UserNotFoundException", err)
	}
	// The address is free again.
	e.createUser(t, "jens@example.dk", "t-1")
}

func TestGroups_addListRemove(t *testing.T) {
	e := newEnv(t, cognitolocal.Options{})
	sub := e.createUser(t, "jens@example.dk", "t-1")
	ctx := t.Context()
	list := func(limit int32, next *string) ([]string, *string) {
		t.Helper()
		in := &cip.AdminListGroupsForUserInput{UserPoolId: aws.String(poolID), Username: aws.String(sub), NextToken: next}
		if limit > 0 {
			in.Limit = aws.Int32(limit)
		}
		out, err := e.c.AdminListGroupsForUser(ctx, in)
		if err != nil {
			t.Fatalf("AdminListGroupsForUser = %v", err)
		}
		var names []string
		for _, g := range out.Groups {
			if aws.ToString(g.UserPoolId) != poolID {
				t.Errorf("group %s in pool %q", aws.ToString(g.GroupName), aws.ToString(g.UserPoolId))
			}
			names = append(names, aws.ToString(g.GroupName))
		}
		return names, out.NextToken
	}
	if got, _ := list(0, nil); len(got) != 0 {
		t.Errorf("groups of a new user = %v; want none", got)
	}
	for _, g := range []string{"member", "admin", "admin"} { // adding twice is fine
		if _, err := e.c.AdminAddUserToGroup(ctx, &cip.AdminAddUserToGroupInput{UserPoolId: aws.String(poolID), Username: aws.String(sub), GroupName: aws.String(g)}); err != nil {
			t.Fatalf("AdminAddUserToGroup(%q) = %v", g, err)
		}
	}
	if got, _ := list(0, nil); !slices.Equal(got, []string{"admin", "member"}) {
		t.Errorf("groups = %v; want [admin member]", got)
	}
	first, next := list(1, nil)
	second, last := list(1, next)
	if !slices.Equal(first, []string{"admin"}) || next == nil || !slices.Equal(second, []string{"member"}) || last != nil {
		t.Errorf("pages = %v %v, %v %v; want [admin] [member] and no third", first, aws.ToString(next), second, aws.ToString(last))
	}
	if _, err := e.c.AdminRemoveUserFromGroup(ctx, &cip.AdminRemoveUserFromGroupInput{UserPoolId: aws.String(poolID), Username: aws.String(sub), GroupName: aws.String("admin")}); err != nil {
		t.Fatalf("AdminRemoveUserFromGroup = %v", err)
	}
	if got, _ := list(0, nil); !slices.Equal(got, []string{"member"}) {
		t.Errorf("groups after remove = %v; want [member]", got)
	}

	errs := []struct {
		user, group string
		check       func(error) bool
	}{
		{sub, "owner", is[*types.ResourceNotFoundException]()},
		{uuid.NewString(), "admin", is[*types.UserNotFoundException]()},
	}
	for _, tt := range errs {
		_, err := e.c.AdminAddUserToGroup(ctx, &cip.AdminAddUserToGroupInput{UserPoolId: aws.String(poolID), Username: aws.String(tt.user), GroupName: aws.String(tt.group)})
		if !tt.check(err) {
			t.Errorf("AdminAddUserToGroup(%q, %q) = %v", tt.user, tt.group, err)
		}
		_, err = e.c.AdminRemoveUserFromGroup(ctx, &cip.AdminRemoveUserFromGroupInput{UserPoolId: aws.String(poolID), Username: aws.String(tt.user), GroupName: aws.String(tt.group)})
		if !tt.check(err) {
			t.Errorf("AdminRemoveUserFromGroup(%q, %q) = %v", tt.user, tt.group, err)
		}
	}
	if _, err := e.c.AdminListGroupsForUser(ctx, &cip.AdminListGroupsForUserInput{UserPoolId: aws.String(poolID), Username: aws.String("nobody@example.dk")}); !is[*types.UserNotFoundException]()(err) {
		t.Errorf("AdminListGroupsForUser(unknown) = %v; want UserNotFoundException", err)
	}
}

func TestAdminUserGlobalSignOut_knownAndUnknown(t *testing.T) {
	e := newEnv(t, cognitolocal.Options{})
	sub := e.createUser(t, "jens@example.dk", "t-1")
	if _, err := e.c.AdminUserGlobalSignOut(t.Context(), &cip.AdminUserGlobalSignOutInput{UserPoolId: aws.String(poolID), Username: aws.String(sub)}); err != nil {
		t.Errorf("AdminUserGlobalSignOut(%q) = %v; want nil", sub, err)
	}
	name := uuid.NewString()
	if _, err := e.c.AdminUserGlobalSignOut(t.Context(), &cip.AdminUserGlobalSignOutInput{UserPoolId: aws.String(poolID), Username: aws.String(name)}); !is[*types.UserNotFoundException]()(err) {
		t.Errorf("AdminUserGlobalSignOut(%q) = %v; want UserNotFoundException", name, err)
	}
}

func TestAdminSetUserPassword_status(t *testing.T) {
	e := newEnv(t, cognitolocal.Options{})
	sub := e.createUser(t, "jens@example.dk", "t-1")
	tests := []struct {
		password  string
		permanent bool
		check     func(error) bool
		status    types.UserStatusType
	}{
		{password: "Exactly12ch!", permanent: true, status: types.UserStatusTypeConfirmed},
		{password: "Another-Pass2", permanent: false, status: types.UserStatusTypeForceChangePassword},
		{password: "Only11chr!A", check: is[*types.InvalidPasswordException]()},
		{password: "all-lower-case-1", check: is[*types.InvalidPasswordException]()},
		{password: "ALL-UPPER-CASE-1", check: is[*types.InvalidPasswordException]()},
		{password: "No-Digits-Here", check: is[*types.InvalidPasswordException]()},
		{password: "NoSymbol1Here", check: is[*types.InvalidPasswordException]()},
	}
	for _, tt := range tests {
		_, err := e.c.AdminSetUserPassword(t.Context(), &cip.AdminSetUserPasswordInput{
			UserPoolId: aws.String(poolID), Username: aws.String(sub), Password: aws.String(tt.password), Permanent: tt.permanent,
		})
		if tt.check != nil {
			if !tt.check(err) {
				t.Errorf("AdminSetUserPassword(%q) = %v; want InvalidPasswordException", tt.password, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("AdminSetUserPassword(%q) = %v", tt.password, err)
		}
		out, err := e.c.AdminGetUser(t.Context(), &cip.AdminGetUserInput{UserPoolId: aws.String(poolID), Username: aws.String(sub)})
		if err != nil || out.UserStatus != tt.status {
			t.Errorf("after AdminSetUserPassword(%q, %v): status %v, %v; want %s", tt.password, tt.permanent, out.UserStatus, err, tt.status)
		}
	}
	_, err := e.c.AdminSetUserPassword(t.Context(), &cip.AdminSetUserPasswordInput{
		UserPoolId: aws.String(poolID), Username: aws.String("nobody@example.dk"), Password: aws.String(goodPass), Permanent: true,
	})
	if !is[*types.UserNotFoundException]()(err) {
		t.Errorf("AdminSetUserPassword(unknown) = %v; want UserNotFoundException", err)
	}
}

// jwksKey fetches the issuer's JWKS as a client would and returns its one key.
func jwksKey(t *testing.T, iss *devissuer.Issuer) (string, *rsa.PublicKey) {
	t.Helper()
	hs := httptest.NewServer(iss.Handler())
	defer hs.Close()
	resp, err := http.Get(hs.URL + "/local_pool" + devissuer.JWKSPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct{ Kid, N, E string } `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("JWKS: %v, %d keys", err, len(set.Keys))
	}
	n, err1 := base64.RawURLEncoding.DecodeString(set.Keys[0].N)
	ex, err2 := base64.RawURLEncoding.DecodeString(set.Keys[0].E)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	return set.Keys[0].Kid, &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(ex).Int64())}
}

func TestInitiateAuth_accessToken(t *testing.T) {
	e := newEnv(t, cognitolocal.Options{ClientID: "client", AccessTokenValidity: 15 * time.Minute})
	sub := e.confirmedUser(t, "jens@example.dk", "t-1", "admin")
	staff := e.confirmedUser(t, "sam@processor.example", "", "support")
	iss, _ := issuer()
	kid, pub := jwksKey(t, iss)

	tests := []struct {
		username, sub, tenant string
		groups                []any
	}{
		{"jens@example.dk", sub, "t-1", []any{"admin"}},
		{"JENS@EXAMPLE.DK", sub, "t-1", []any{"admin"}},
		{sub, sub, "t-1", []any{"admin"}},
		{"sam@processor.example", staff, "", []any{"support"}},
	}
	for _, tt := range tests {
		out, err := e.signIn(t.Context(), tt.username, goodPass)
		if err != nil {
			t.Fatalf("InitiateAuth(%q) = %v; want tokens", tt.username, err)
		}
		r := out.AuthenticationResult
		if r == nil || out.ChallengeName != "" {
			t.Fatalf("InitiateAuth(%q) = challenge %q; want tokens", tt.username, out.ChallengeName)
		}
		if r.ExpiresIn != 900 || aws.ToString(r.TokenType) != "Bearer" || r.IdToken != nil || r.RefreshToken != nil {
			t.Errorf("InitiateAuth(%q) = ExpiresIn %d, TokenType %q, id/refresh %v/%v", tt.username, r.ExpiresIn, aws.ToString(r.TokenType), r.IdToken != nil, r.RefreshToken != nil)
		}
		claims := jwt.MapClaims{}
		_, err = jwt.ParseWithClaims(aws.ToString(r.AccessToken), claims, func(tok *jwt.Token) (any, error) {
			if tok.Header["kid"] != kid {
				return nil, fmt.Errorf("kid %v, JWKS has %s", tok.Header["kid"], kid)
			}
			return pub, nil
		}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(issuerURL), jwt.WithExpirationRequired())
		if err != nil {
			t.Fatalf("InitiateAuth(%q): access token does not verify: %v", tt.username, err)
		}
		want := map[string]any{
			"sub": tt.sub, "username": tt.sub, "cognito:groups": tt.groups, "client_id": "client", "token_use": "access",
		}
		if tt.tenant != "" {
			want["custom:tenant_id"] = tt.tenant
		}
		for k, v := range want {
			if !reflect.DeepEqual(claims[k], v) {
				t.Errorf("InitiateAuth(%q): claim %s = %#v; want %#v", tt.username, k, claims[k], v)
			}
		}
		if exp, _ := claims.GetExpirationTime(); exp == nil || time.Until(exp.Time) > 15*time.Minute || time.Until(exp.Time) < 14*time.Minute {
			t.Errorf("InitiateAuth(%q): exp %v; want in 15 minutes", tt.username, exp)
		}
		if tt.tenant == "" && claims["custom:tenant_id"] != nil {
			t.Errorf("InitiateAuth(%q): custom:tenant_id = %v; want none", tt.username, claims["custom:tenant_id"])
		}
	}
}

func TestInitiateAuth_newPasswordRequired(t *testing.T) {
	e := newEnv(t, cognitolocal.Options{})
	sub := e.createUser(t, "jens@example.dk", "t-1")
	temp := e.invitations()[0].TemporaryPassword
	out, err := e.signIn(t.Context(), "jens@example.dk", temp)
	if err != nil {
		t.Fatalf("InitiateAuth(temporary password) = %v", err)
	}
	if out.ChallengeName != types.ChallengeNameTypeNewPasswordRequired || out.AuthenticationResult != nil || aws.ToString(out.Session) == "" || out.ChallengeParameters["USER_ID_FOR_SRP"] != sub {
		t.Errorf("InitiateAuth(temporary password) = %q, %v, session %q, %v; want NEW_PASSWORD_REQUIRED", out.ChallengeName, out.AuthenticationResult, aws.ToString(out.Session), out.ChallengeParameters)
	}
	e.clock.Advance(cognitolocal.TemporaryPasswordValidity + time.Second)
	if _, err := e.signIn(t.Context(), "jens@example.dk", temp); !is[*types.NotAuthorizedException]()(err) || !strings.Contains(message(err), "Temporary password has expired") {
		t.Errorf("InitiateAuth(expired temporary password) = %v; want NotAuthorizedException", err)
	}
}

func TestInitiateAuth_errors(t *testing.T) {
	e := newEnv(t, cognitolocal.Options{ClientID: "client"})
	e.confirmedUser(t, "jens@example.dk", "t-1", "member")
	tests := []struct {
		name  string
		in    cip.InitiateAuthInput
		check func(error) bool
		msg   string
	}{
		{"unknown user", cip.InitiateAuthInput{AuthFlow: types.AuthFlowTypeUserPasswordAuth, ClientId: aws.String("client"),
			AuthParameters: map[string]string{"USERNAME": "nobody@example.dk", "PASSWORD": goodPass}}, is[*types.NotAuthorizedException](), "Incorrect username or password."},
		{"other client", cip.InitiateAuthInput{AuthFlow: types.AuthFlowTypeUserPasswordAuth, ClientId: aws.String("other"),
			AuthParameters: map[string]string{"USERNAME": "jens@example.dk", "PASSWORD": goodPass}}, is[*types.ResourceNotFoundException](), ""},
		{"SRP flow", cip.InitiateAuthInput{AuthFlow: types.AuthFlowTypeUserSrpAuth, ClientId: aws.String("client"),
			AuthParameters: map[string]string{"USERNAME": "jens@example.dk", "SRP_A": "00"}}, is[*types.InvalidParameterException](), ""},
		{"no password", cip.InitiateAuthInput{AuthFlow: types.AuthFlowTypeUserPasswordAuth, ClientId: aws.String("client"),
			AuthParameters: map[string]string{"USERNAME": "jens@example.dk"}}, is[*types.InvalidParameterException](), ""},
	}
	for _, tt := range tests {
		_, err := e.c.InitiateAuth(t.Context(), &tt.in)
		if !tt.check(err) || tt.msg != "" && message(err) != tt.msg {
			t.Errorf("InitiateAuth(%s) = %v", tt.name, err)
		}
	}
}

// attempt is one step of a lockout scenario: wait, then sign in with the password.
type attempt struct {
	wait     time.Duration
	password string
	want     string // "" for tokens, or the NotAuthorizedException message
}

func runAttempts(t *testing.T, e *env, username string, steps []attempt) {
	t.Helper()
	for i, st := range steps {
		e.clock.Advance(st.wait)
		out, err := e.signIn(t.Context(), username, st.password)
		switch {
		case st.want == "" && (err != nil || out.AuthenticationResult == nil):
			t.Fatalf("step %d: InitiateAuth(%q) = %v; want tokens", i, st.password, err)
		case st.want != "" && (!is[*types.NotAuthorizedException]()(err) || message(err) != st.want):
			t.Fatalf("step %d (after %v): InitiateAuth(%q) = %v; want NotAuthorizedException %q", i, st.wait, st.password, err, st.want)
		}
	}
}

const (
	incorrect = "Incorrect username or password."
	exceeded  = "Password attempts exceeded"
)

func TestInitiateAuth_lockout(t *testing.T) {
	five := slices.Repeat([]attempt{{0, wrongPass, incorrect}}, 5)
	tests := []struct {
		name  string
		steps []attempt
	}{
		{"four failures do not lock", append(slices.Clone(five[:4]), attempt{0, goodPass, ""})},
		{"five failures, each incorrect, then locked for 1s", append(slices.Clone(five), attempt{0, goodPass, exceeded})},
		{"sixth attempt within the 1s lockout, right password", append(slices.Clone(five), attempt{999 * time.Millisecond, goodPass, exceeded})},
		{"sixth attempt after the lockout, right password works and resets", append(slices.Clone(five),
			attempt{time.Second, goodPass, ""},
			// reset: five more failures before the next lockout
			attempt{0, wrongPass, incorrect}, attempt{0, wrongPass, incorrect}, attempt{0, wrongPass, incorrect},
			attempt{0, wrongPass, incorrect}, attempt{0, wrongPass, incorrect}, attempt{0, goodPass, exceeded})},
		{"doubling: 1s, 2s, 4s", append(slices.Clone(five),
			attempt{time.Second, wrongPass, incorrect}, // 6th failure: 2s
			attempt{1999 * time.Millisecond, goodPass, exceeded},
			attempt{time.Millisecond, wrongPass, incorrect}, // 7th failure: 4s
			attempt{3 * time.Second, wrongPass, exceeded},   // does not count, does not extend
			attempt{999 * time.Millisecond, goodPass, exceeded},
			attempt{time.Millisecond, goodPass, ""})},
		{"attempts while locked do not extend the lockout", append(slices.Clone(five),
			attempt{500 * time.Millisecond, wrongPass, exceeded}, attempt{499 * time.Millisecond, wrongPass, exceeded},
			attempt{time.Millisecond, goodPass, ""})},
		{"15 quiet minutes after a lockout reset it", append(slices.Clone(five),
			attempt{time.Second, wrongPass, incorrect}, // 6th failure, 2s
			attempt{cognitolocal.LockoutReset, wrongPass, incorrect},
			attempt{0, wrongPass, incorrect}, attempt{0, wrongPass, incorrect}, attempt{0, wrongPass, incorrect},
			attempt{0, wrongPass, incorrect}, // 5th failure since the reset: 1s
			attempt{999 * time.Millisecond, goodPass, exceeded}, attempt{time.Millisecond, goodPass, ""})},
		{"no reset before a lockout, however long the pause", append(slices.Clone(five[:4]),
			attempt{time.Hour, wrongPass, incorrect}, attempt{0, goodPass, exceeded})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, cognitolocal.Options{})
			e.confirmedUser(t, "jens@example.dk", "t-1", "member")
			runAttempts(t, e, "jens@example.dk", tt.steps)
		})
	}
}

func TestInitiateAuth_lockoutDoublesToCap(t *testing.T) {
	e := newEnv(t, cognitolocal.Options{})
	sub := e.confirmedUser(t, "jens@example.dk", "t-1", "member")
	runAttempts(t, e, sub, slices.Repeat([]attempt{{0, wrongPass, incorrect}}, 4))
	for n := 5; n <= 16; n++ {
		want := min(time.Duration(1<<(n-5))*time.Second, cognitolocal.MaxLockout)
		// The n-th failure locks the user for want: locked just before, free at want.
		runAttempts(t, e, sub, []attempt{{0, wrongPass, incorrect}, {want - time.Millisecond, wrongPass, exceeded}})
		e.clock.Advance(time.Millisecond)
		if n == 16 {
			runAttempts(t, e, sub, []attempt{{0, goodPass, ""}})
		}
	}
}

func TestInitiateAuth_logsSubOnly(t *testing.T) {
	e := newEnv(t, cognitolocal.Options{})
	sub := e.confirmedUser(t, "jens@example.dk", "t-1", "member")
	runAttempts(t, e, "jens@example.dk", append(slices.Repeat([]attempt{{0, wrongPass, incorrect}}, 5), attempt{0, goodPass, exceeded}))
	_, _ = e.signIn(t.Context(), "nobody@example.dk", wrongPass)

	var records []map[string]any
	for line := range strings.Lines(e.logs.String()) {
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		records = append(records, r)
	}
	if len(records) != 7 {
		t.Fatalf("%d log records; want 7 (5 wrong, 1 locked, 1 unknown):\n%s", len(records), e.logs)
	}
	for i, r := range records[:6] {
		if r["sub"] != sub || r["level"] != "WARN" {
			t.Errorf("record %d = %v; want sub %s at WARN", i, r, sub)
		}
	}
	if records[4]["locked_for"] == nil || records[5]["reason"] != "locked out" || records[6]["sub"] != nil {
		t.Errorf("records = %v", records)
	}
	for _, secret := range []string{"jens", "nobody", wrongPass, goodPass} {
		if strings.Contains(e.logs.String(), secret) {
			t.Errorf("log contains %q:\n%s", secret, e.logs)
		}
	}
}

func TestServeHTTP_protocol(t *testing.T) {
	e := newEnv(t, cognitolocal.Options{})
	tests := []struct {
		name, method, path, target, body string
		status                           int
		errType                          string
	}{
		{"no target", "POST", "/", "", "{}", 400, "UnknownOperationException"},
		{"other service", "POST", "/", "DynamoDB_20120810.GetItem", "{}", 400, "UnknownOperationException"},
		{"unimplemented operation", "POST", "/", "AWSCognitoIdentityProviderService.RespondToAuthChallenge", "{}", 400, "UnknownOperationException"},
		{"bad JSON", "POST", "/", "AWSCognitoIdentityProviderService.AdminGetUser", "{", 400, "SerializationException"},
		{"empty body", "POST", "/", "AWSCognitoIdentityProviderService.AdminGetUser", "", 400, "ResourceNotFoundException"},
		{"GET", "GET", "/", "AWSCognitoIdentityProviderService.AdminGetUser", "", 405, ""},
		{"other path", "POST", "/x", "AWSCognitoIdentityProviderService.AdminGetUser", "{}", 404, ""},
		{"ok", "POST", "/", "AWSCognitoIdentityProviderService.AdminUserGlobalSignOut", `{"UserPoolId":"` + poolID + `","Username":"nobody@example.dk"}`, 400, "UserNotFoundException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), tt.method, e.url+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-amz-json-1.1")
			if tt.target != "" {
				req.Header.Set("X-Amz-Target", tt.target)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Fatalf("%s %s %s = %d %s; want %d", tt.method, tt.path, tt.target, resp.StatusCode, body, tt.status)
			}
			if tt.errType == "" {
				return
			}
			var eb struct {
				Type    string `json:"__type"`
				Message string `json:"message"`
			}
			if err := json.Unmarshal(body, &eb); err != nil || eb.Type != tt.errType || eb.Message == "" {
				t.Errorf("%s %s = %s; want __type %s and a message", tt.method, tt.target, body, tt.errType)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
				t.Errorf("Content-Type = %q", ct)
			}
		})
	}
}

func TestServeHTTP_underPathPrefix(t *testing.T) {
	iss, err := issuer()
	if err != nil {
		t.Fatal(err)
	}
	s, err := cognitolocal.New(poolID, iss, cognitolocal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The SDK posts to the BaseEndpoint's path as it is, with or without a trailing slash.
	mux := http.NewServeMux()
	mux.Handle("/local-cognito", http.StripPrefix("/local-cognito", s))
	mux.Handle("/local-cognito/", http.StripPrefix("/local-cognito", s))
	hs := httptest.NewServer(mux)
	defer hs.Close()
	for _, base := range []string{hs.URL + "/local-cognito", hs.URL + "/local-cognito/"} {
		c := newClient(base)
		name := fmt.Sprintf("u%d@example.dk", len(base))
		out, err := c.AdminCreateUser(t.Context(), &cip.AdminCreateUserInput{UserPoolId: aws.String(poolID), Username: aws.String(name)})
		if err != nil {
			t.Fatalf("AdminCreateUser via %s = %v", base, err)
		}
		if _, err := c.AdminGetUser(t.Context(), &cip.AdminGetUserInput{UserPoolId: aws.String(poolID), Username: out.User.Username}); err != nil {
			t.Errorf("AdminGetUser via %s = %v", base, err)
		}
	}
}

func TestFile_persistsAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "state", "cognito.json")
	e := newEnv(t, cognitolocal.Options{File: file})
	sub := e.confirmedUser(t, "jens@example.dk", "t-1", "admin")
	runAttempts(t, e, sub, []attempt{{0, wrongPass, incorrect}})

	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v; want 0600", fi.Mode().Perm())
	}
	data, _ := os.ReadFile(file)
	if bytes.Contains(data, []byte(goodPass)) {
		t.Error("file holds the password in clear")
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "state", ".*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}

	iss, _ := issuer()
	again, err := cognitolocal.New(poolID, iss, cognitolocal.Options{File: file})
	if err != nil {
		t.Fatalf("New(%q) again = %v", file, err)
	}
	hs := httptest.NewServer(again)
	defer hs.Close()
	c := newClient(hs.URL)
	out, err := c.InitiateAuth(t.Context(), &cip.InitiateAuthInput{
		AuthFlow: types.AuthFlowTypeUserPasswordAuth, ClientId: aws.String("client"),
		AuthParameters: map[string]string{"USERNAME": "jens@example.dk", "PASSWORD": goodPass},
	})
	if err != nil || out.AuthenticationResult == nil {
		t.Fatalf("InitiateAuth after restart = %v", err)
	}
	groups, err := c.AdminListGroupsForUser(t.Context(), &cip.AdminListGroupsForUserInput{UserPoolId: aws.String(poolID), Username: aws.String(sub)})
	if err != nil || len(groups.Groups) != 1 || aws.ToString(groups.Groups[0].GroupName) != "admin" {
		t.Errorf("groups after restart = %v, %v", groups, err)
	}

	if _, err := cognitolocal.New("eu-north-1_other", iss, cognitolocal.Options{File: file}); err == nil {
		t.Error("New with another pool's file succeeded")
	}
	if err := os.WriteFile(file, []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := cognitolocal.New(poolID, iss, cognitolocal.Options{File: file}); err == nil {
		t.Error("New with a corrupt file succeeded")
	}
}

func TestFile_failedWriteKeepsState(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	e := newEnv(t, cognitolocal.Options{File: filepath.Join(dir, "cognito.json")})
	sub := e.createUser(t, "jens@example.dk", "t-1")
	// Replace the directory with a file, so the next save cannot write (even as root).
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := e.c.AdminDeleteUser(t.Context(), &cip.AdminDeleteUserInput{UserPoolId: aws.String(poolID), Username: aws.String(sub)})
	if !is[*types.InternalErrorException]()(err) {
		t.Fatalf("AdminDeleteUser with an unwritable file = %v; want InternalErrorException", err)
	}
	if _, err := e.c.AdminGetUser(t.Context(), &cip.AdminGetUserInput{UserPoolId: aws.String(poolID), Username: aws.String(sub)}); err != nil {
		t.Errorf("AdminGetUser after the failed delete = %v; want the user still there", err)
	}
}

func TestNew_errors(t *testing.T) {
	iss, _ := issuer()
	if _, err := cognitolocal.New("", iss, cognitolocal.Options{}); err == nil {
		t.Error(`New("") succeeded`)
	}
	if _, err := cognitolocal.New(poolID, nil, cognitolocal.Options{}); err == nil {
		t.Error("New without an issuer succeeded")
	}
	if _, err := cognitolocal.New(poolID, iss, cognitolocal.Options{AccessTokenValidity: -time.Second}); err == nil {
		t.Error("New with a negative token validity succeeded")
	}
	s, err := cognitolocal.New(poolID, iss, cognitolocal.Options{})
	if err != nil || s.PoolID() != poolID {
		t.Errorf("New(%q).PoolID() = %v, %v", poolID, s, err)
	}
}
