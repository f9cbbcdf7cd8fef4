package cognitolocal

import (
	"context"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"log/slog"
	"maps"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"leadvault/infra/local/devissuer"
	"leadvault/shared/access"
)

// User statuses, as Cognito names them.
const (
	statusConfirmed           = "CONFIRMED"
	statusForceChangePassword = "FORCE_CHANGE_PASSWORD"
)

// Attribute names.
const (
	attrSub           = "sub"
	attrEmail         = "email"
	attrEmailVerified = "email_verified"
	attrTenant        = access.ClaimTenant
)

// writable are the attributes AdminCreateUser accepts: a few standard ones and the pool's one custom
// attribute. Cognito sets sub itself.
var writable = map[string]bool{
	attrEmail: true, attrEmailVerified: true, "name": true, "given_name": true, "family_name": true,
	"locale": true, attrTenant: true,
}

// groups are the pool's groups.
var groups = []string{string(access.Admin), string(access.Member), string(access.Support)}

// Messages Cognito answers sign-ins with.
const (
	msgIncorrect = "Incorrect username or password."
	msgExceeded  = "Password attempts exceeded"
)

// user is one user of the pool, as kept in memory and in Options.File.
type user struct {
	Sub        string            `json:"sub"`
	Attributes map[string]string `json:"attributes"`
	Status     string            `json:"status"`
	// The password is kept as a salted PBKDF2-SHA256 hash, even locally.
	PasswordSalt  []byte    `json:"passwordSalt"`
	PasswordHash  []byte    `json:"passwordHash"`
	PasswordSetAt time.Time `json:"passwordSetAt"`
	Groups        []string  `json:"groups,omitempty"`
	Created       time.Time `json:"created"`
	Modified      time.Time `json:"modified"`
	// Lockout state: failed sign-ins since the last reset, the end of the current lockout, and the
	// time of the last sign-in attempt of any outcome.
	Failures    int       `json:"failures,omitempty"`
	LockedUntil time.Time `json:"lockedUntil,omitzero"`
	LastAttempt time.Time `json:"lastAttempt,omitzero"`
}

func (u *user) clone() *user {
	c := *u
	c.Attributes = maps.Clone(u.Attributes)
	c.Groups = slices.Clone(u.Groups)
	c.PasswordSalt = slices.Clone(u.PasswordSalt)
	c.PasswordHash = slices.Clone(u.PasswordHash)
	return &c
}

// pbkdf2Iterations is low for a password hash: the file is local test data, and sign-in tests run many
// attempts.
const pbkdf2Iterations = 4096

func (u *user) setPassword(password, status string, now time.Time) {
	u.PasswordSalt = make([]byte, 16)
	_, _ = rand.Read(u.PasswordSalt) // crypto/rand.Read never fails
	u.PasswordHash = hashPassword(password, u.PasswordSalt)
	u.PasswordSetAt = now
	u.Status = status
	u.Modified = now
}

func (u *user) passwordIs(password string) bool {
	return len(u.PasswordHash) > 0 && subtle.ConstantTimeCompare(hashPassword(password, u.PasswordSalt), u.PasswordHash) == 1
}

func hashPassword(password string, salt []byte) []byte {
	k, err := pbkdf2.Key(sha256.New, password, salt, pbkdf2Iterations, 32)
	if err != nil {
		panic("cognitolocal: pbkdf2: " + err.Error()) // only for invalid parameters, which are constant
	}
	return k
}

// findLocked returns the user whose sub is name or whose e-mail address is name, ignoring case.
func (s *Server) findLocked(name string) *user {
	if u := s.users[name]; u != nil {
		return u
	}
	if !strings.Contains(name, "@") {
		return nil
	}
	for _, u := range s.users {
		if strings.EqualFold(u.Attributes[attrEmail], name) {
			return u
		}
	}
	return nil
}

// Wire shapes, as the SDK's serializers and deserializers have them.

type attribute struct {
	Name  string  `json:"Name"`
	Value *string `json:"Value,omitempty"`
}

// epoch is a timestamp in seconds since 1970, which the AWS JSON protocol encodes as a number.
type epoch time.Time

func (e epoch) MarshalJSON() ([]byte, error) {
	return strconv.AppendFloat(nil, float64(time.Time(e).UnixMilli())/1000, 'f', -1, 64), nil
}

type userType struct {
	Username             string      `json:"Username"`
	Attributes           []attribute `json:"Attributes"`
	UserCreateDate       epoch       `json:"UserCreateDate"`
	UserLastModifiedDate epoch       `json:"UserLastModifiedDate"`
	Enabled              bool        `json:"Enabled"`
	UserStatus           string      `json:"UserStatus"`
}

// attributes lists the user's attributes, sub first and then by name.
func (u *user) attributes() []attribute {
	list := []attribute{{Name: attrSub, Value: &u.Sub}}
	for _, name := range slices.Sorted(maps.Keys(u.Attributes)) {
		v := u.Attributes[name]
		list = append(list, attribute{Name: name, Value: &v})
	}
	return list
}

type poolRequest struct {
	UserPoolID string `json:"UserPoolId"`
	Username   string `json:"Username"`
}

// userLocked checks the pool ID and finds the user named in the request.
func (s *Server) userLocked(r poolRequest) (*user, error) {
	if err := s.checkPool(r.UserPoolID); err != nil {
		return nil, err
	}
	if r.Username == "" {
		return nil, badRequest("InvalidParameterException", "1 validation error detected: Value at 'username' failed to satisfy constraint: Member must not be null")
	}
	u := s.findLocked(r.Username)
	if u == nil {
		return nil, badRequest("UserNotFoundException", "User does not exist.")
	}
	return u, nil
}

func (s *Server) checkPool(id string) error {
	if id != s.poolID {
		return badRequest("ResourceNotFoundException", "User pool %s does not exist.", id)
	}
	return nil
}

// AdminCreateUser.

type adminCreateUserInput struct {
	UserPoolID             string      `json:"UserPoolId"`
	Username               string      `json:"Username"`
	UserAttributes         []attribute `json:"UserAttributes"`
	TemporaryPassword      *string     `json:"TemporaryPassword"`
	MessageAction          string      `json:"MessageAction"`
	DesiredDeliveryMediums []string    `json:"DesiredDeliveryMediums"`
}

type adminCreateUserOutput struct {
	User userType `json:"User"`
}

func (s *Server) adminCreateUser(body []byte) (any, error) {
	var in adminCreateUserInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	var (
		out    adminCreateUserOutput
		invite *Invitation
	)
	err := s.update(func() error {
		if err := s.checkPool(in.UserPoolID); err != nil {
			return err
		}
		if !strings.Contains(in.Username, "@") {
			return badRequest("InvalidParameterException", "Username should be an email.")
		}
		email := false
		for _, m := range in.DesiredDeliveryMediums {
			switch m {
			case "EMAIL":
				email = true
			case "SMS":
				return badRequest("InvalidParameterException", "cognitolocal delivers invitations by e-mail only")
			default:
				return badRequest("InvalidParameterException", "1 validation error detected: Value '%s' at 'desiredDeliveryMediums' failed to satisfy constraint: Member must satisfy enum value set: [SMS, EMAIL]", m)
			}
		}
		var (
			u   *user
			now = s.opts.Now()
		)
		switch in.MessageAction {
		case "", "SUPPRESS":
			attrs := map[string]string{}
			for _, a := range in.UserAttributes {
				if !writable[a.Name] {
					return badRequest("InvalidParameterException", "Attributes did not conform to the schema: %s: Attribute does not exist in the schema.", a.Name)
				}
				if a.Value != nil {
					attrs[a.Name] = *a.Value
				}
			}
			switch e, ok := attrs[attrEmail]; {
			case !ok:
				attrs[attrEmail] = in.Username
			case !strings.EqualFold(e, in.Username):
				return badRequest("InvalidParameterException", "Username and email attribute do not match.")
			}
			if v, ok := attrs[attrEmailVerified]; ok && v != "true" && v != "false" {
				return badRequest("InvalidParameterException", "Attributes did not conform to the schema: email_verified must be true or false.")
			}
			if s.findLocked(attrs[attrEmail]) != nil {
				return badRequest("UsernameExistsException", "An account with the given email already exists.")
			}
			u = &user{Sub: uuid.NewString(), Attributes: attrs, Created: now}
		case "RESEND":
			// Resend the invitation, with a new temporary password, to a user who has not signed in yet.
			if u = s.findLocked(in.Username); u == nil {
				return badRequest("UserNotFoundException", "User does not exist.")
			}
			if u.Status != statusForceChangePassword {
				return badRequest("UnsupportedUserStateException", "Resend not possible. %s status is not FORCE_CHANGE_PASSWORD", u.Sub)
			}
		default:
			return badRequest("InvalidParameterException", "1 validation error detected: Value '%s' at 'messageAction' failed to satisfy constraint: Member must satisfy enum value set: [RESEND, SUPPRESS]", in.MessageAction)
		}
		password := generatePassword()
		if in.TemporaryPassword != nil {
			if err := checkPolicy(*in.TemporaryPassword); err != nil {
				return err
			}
			password = *in.TemporaryPassword
		}
		u.setPassword(password, statusForceChangePassword, now)
		s.users[u.Sub] = u
		if in.MessageAction != "SUPPRESS" && email {
			invite = &Invitation{Sub: u.Sub, Email: u.Attributes[attrEmail], TemporaryPassword: password}
		}
		out.User = userType{
			Username: u.Sub, Attributes: u.attributes(), UserCreateDate: epoch(u.Created),
			UserLastModifiedDate: epoch(u.Modified), Enabled: true, UserStatus: u.Status,
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if invite != nil && s.opts.Deliver != nil {
		s.opts.Deliver(*invite)
	}
	return out, nil
}

// AdminGetUser.

type adminGetUserOutput struct {
	Username             string      `json:"Username"`
	UserAttributes       []attribute `json:"UserAttributes"`
	UserCreateDate       epoch       `json:"UserCreateDate"`
	UserLastModifiedDate epoch       `json:"UserLastModifiedDate"`
	Enabled              bool        `json:"Enabled"`
	UserStatus           string      `json:"UserStatus"`
}

func (s *Server) adminGetUser(body []byte) (any, error) {
	var in poolRequest
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.userLocked(in)
	if err != nil {
		return nil, err
	}
	return adminGetUserOutput{
		Username: u.Sub, UserAttributes: u.attributes(), UserCreateDate: epoch(u.Created),
		UserLastModifiedDate: epoch(u.Modified), Enabled: true, UserStatus: u.Status,
	}, nil
}

// AdminDeleteUser.

func (s *Server) adminDeleteUser(body []byte) (any, error) {
	var in poolRequest
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	err := s.update(func() error {
		u, err := s.userLocked(in)
		if err != nil {
			return err
		}
		delete(s.users, u.Sub)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

// AdminAddUserToGroup and AdminRemoveUserFromGroup.

type groupRequest struct {
	poolRequest
	GroupName string `json:"GroupName"`
}

func (s *Server) adminAddUserToGroup(body []byte) (any, error) {
	return s.changeGroup(body, func(u *user, group string) {
		if !slices.Contains(u.Groups, group) {
			u.Groups = append(u.Groups, group)
			slices.Sort(u.Groups)
		}
	})
}

func (s *Server) adminRemoveUserFromGroup(body []byte) (any, error) {
	return s.changeGroup(body, func(u *user, group string) {
		u.Groups = slices.DeleteFunc(u.Groups, func(g string) bool { return g == group })
	})
}

func (s *Server) changeGroup(body []byte, change func(*user, string)) (any, error) {
	var in groupRequest
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	err := s.update(func() error {
		if err := s.checkPool(in.UserPoolID); err != nil {
			return err
		}
		if !slices.Contains(groups, in.GroupName) {
			return badRequest("ResourceNotFoundException", "Group not found.")
		}
		u, err := s.userLocked(in.poolRequest)
		if err != nil {
			return err
		}
		change(u, in.GroupName)
		u.Modified = s.opts.Now()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

// AdminListGroupsForUser.

type listGroupsInput struct {
	poolRequest
	Limit     int    `json:"Limit"`
	NextToken string `json:"NextToken"`
}

type groupType struct {
	GroupName  string `json:"GroupName"`
	UserPoolID string `json:"UserPoolId"`
}

type listGroupsOutput struct {
	Groups    []groupType `json:"Groups"`
	NextToken string      `json:"NextToken,omitempty"`
}

func (s *Server) adminListGroupsForUser(body []byte) (any, error) {
	var in listGroupsInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.userLocked(in.poolRequest)
	if err != nil {
		return nil, err
	}
	start := 0
	if in.NextToken != "" {
		if start, err = strconv.Atoi(in.NextToken); err != nil || start < 0 || start > len(u.Groups) {
			return nil, badRequest("InvalidParameterException", "Invalid pagination token.")
		}
	}
	if in.Limit < 0 || in.Limit > 60 {
		return nil, badRequest("InvalidParameterException", "1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value between 0 and 60", in.Limit)
	}
	end := len(u.Groups)
	if in.Limit > 0 && start+in.Limit < end {
		end = start + in.Limit
	}
	out := listGroupsOutput{Groups: []groupType{}}
	for _, g := range u.Groups[start:end] {
		out.Groups = append(out.Groups, groupType{GroupName: g, UserPoolID: s.poolID})
	}
	if end < len(u.Groups) {
		out.NextToken = strconv.Itoa(end)
	}
	return out, nil
}

// AdminUserGlobalSignOut.

func (s *Server) adminUserGlobalSignOut(body []byte) (any, error) {
	var in poolRequest
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.userLocked(in); err != nil {
		return nil, err
	}
	// No refresh tokens to revoke; see the package comment.
	return struct{}{}, nil
}

// AdminSetUserPassword.

type setPasswordInput struct {
	poolRequest
	Password  string `json:"Password"`
	Permanent bool   `json:"Permanent"`
}

func (s *Server) adminSetUserPassword(body []byte) (any, error) {
	var in setPasswordInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	err := s.update(func() error {
		u, err := s.userLocked(in.poolRequest)
		if err != nil {
			return err
		}
		if err := checkPolicy(in.Password); err != nil {
			return err
		}
		status := statusForceChangePassword
		if in.Permanent {
			status = statusConfirmed
		}
		// A new password does not lift a lockout in Cognito either.
		u.setPassword(in.Password, status, s.opts.Now())
		return nil
	})
	if err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

// InitiateAuth.

type initiateAuthInput struct {
	AuthFlow       string            `json:"AuthFlow"`
	AuthParameters map[string]string `json:"AuthParameters"`
	ClientID       string            `json:"ClientId"`
}

type authenticationResult struct {
	AccessToken string `json:"AccessToken"`
	ExpiresIn   int32  `json:"ExpiresIn"`
	TokenType   string `json:"TokenType"`
}

type initiateAuthOutput struct {
	AuthenticationResult *authenticationResult `json:"AuthenticationResult,omitempty"`
	ChallengeName        string                `json:"ChallengeName,omitempty"`
	ChallengeParameters  map[string]string     `json:"ChallengeParameters"`
	Session              string                `json:"Session,omitempty"`
}

func (s *Server) initiateAuth(body []byte) (any, error) {
	var in initiateAuthInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	switch {
	case in.ClientID == "":
		return nil, badRequest("InvalidParameterException", "1 validation error detected: Value at 'clientId' failed to satisfy constraint: Member must not be null")
	case s.opts.ClientID != "" && in.ClientID != s.opts.ClientID:
		return nil, badRequest("ResourceNotFoundException", "User pool client %s does not exist.", in.ClientID)
	case in.AuthFlow != "USER_PASSWORD_AUTH":
		return nil, badRequest("InvalidParameterException", "%s flow not enabled for this client", in.AuthFlow)
	case in.AuthParameters["USERNAME"] == "":
		return nil, badRequest("InvalidParameterException", "Missing required parameter USERNAME")
	case in.AuthParameters["PASSWORD"] == "":
		return nil, badRequest("InvalidParameterException", "Missing required parameter PASSWORD")
	}
	var out initiateAuthOutput
	err := s.update(func() error {
		u := s.findLocked(in.AuthParameters["USERNAME"])
		if u == nil {
			s.logFailure(nil, "unknown user", 0)
			return badRequest("NotAuthorizedException", msgIncorrect)
		}
		now := s.opts.Now()
		if u.Failures >= FreeFailures && !u.LastAttempt.IsZero() && now.Sub(u.LastAttempt) >= LockoutReset {
			u.Failures, u.LockedUntil = 0, time.Time{}
		}
		u.LastAttempt = now
		if now.Before(u.LockedUntil) {
			s.logFailure(u, "locked out", u.LockedUntil.Sub(now))
			return badRequest("NotAuthorizedException", msgExceeded)
		}
		if !u.passwordIs(in.AuthParameters["PASSWORD"]) {
			u.Failures++
			var d time.Duration
			if u.Failures >= FreeFailures {
				d = lockout(u.Failures)
				u.LockedUntil = now.Add(d)
			}
			s.logFailure(u, "incorrect password", d)
			return badRequest("NotAuthorizedException", msgIncorrect)
		}
		u.Failures, u.LockedUntil = 0, time.Time{}
		if u.Status == statusForceChangePassword {
			if now.Sub(u.PasswordSetAt) > TemporaryPasswordValidity {
				return badRequest("NotAuthorizedException", "Temporary password has expired and must be reset by an administrator.")
			}
			attrs := maps.Clone(u.Attributes)
			delete(attrs, attrEmailVerified) // Cognito leaves out the attributes a user cannot write
			ua, _ := json.Marshal(attrs)     // a map of strings always encodes
			out = initiateAuthOutput{
				ChallengeName: "NEW_PASSWORD_REQUIRED",
				ChallengeParameters: map[string]string{
					"USER_ID_FOR_SRP": u.Sub, "requiredAttributes": "[]", "userAttributes": string(ua),
				},
				Session: randomID() + randomID(),
			}
			return nil
		}
		clientID := s.opts.ClientID
		if clientID == "" {
			clientID = devissuer.DefaultClientID
		}
		tok, err := s.issuer.Mint(devissuer.Claims{
			Subject: u.Sub, Username: u.Sub, TenantID: u.Attributes[attrTenant],
			Groups: slices.Clone(u.Groups), ClientID: clientID, ExpiresIn: s.opts.AccessTokenValidity,
		})
		if err != nil {
			return internalError("mint access token: %v", err)
		}
		out = initiateAuthOutput{
			AuthenticationResult: &authenticationResult{
				AccessToken: tok, ExpiresIn: int32(s.opts.AccessTokenValidity / time.Second), TokenType: "Bearer",
			},
			ChallengeParameters: map[string]string{},
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// lockout is how long the n-th failed sign-in in a row locks the user out: 2^(n-5) seconds, at most
// MaxLockout.
func lockout(n int) time.Duration {
	if n < FreeFailures {
		return 0
	}
	if e := n - FreeFailures; e < 20 { // 2^20 s is far past the cap
		if d := time.Duration(1<<e) * time.Second; d < MaxLockout {
			return d
		}
	}
	return MaxLockout
}

// logFailure logs a failed sign-in of u (nil for an unknown user) with only the sub: never the
// username given, which may be an e-mail address, nor the password.
func (s *Server) logFailure(u *user, reason string, lockedFor time.Duration) {
	if s.opts.Logger == nil {
		return
	}
	attrs := []slog.Attr{slog.String("pool", s.poolID), slog.String("reason", reason)}
	if u != nil {
		attrs = append(attrs, slog.String("sub", u.Sub), slog.Int("failures", u.Failures))
	}
	if lockedFor > 0 {
		attrs = append(attrs, slog.Duration("locked_for", lockedFor))
	}
	s.opts.Logger.LogAttrs(context.Background(), slog.LevelWarn, "cognitolocal: failed sign-in", attrs...)
}

// Passwords.

const (
	lowers  = "abcdefghijklmnopqrstuvwxyz"
	uppers  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	digits  = "0123456789"
	symbols = "^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+- "
)

// checkPolicy checks a password against the pool's password policy.
func checkPolicy(p string) error {
	fail := func(why string) error {
		return badRequest("InvalidPasswordException", "Password did not conform with policy: %s", why)
	}
	switch {
	case len(p) < MinPasswordLength:
		return fail("Password not long enough")
	case !strings.ContainsAny(p, lowers):
		return fail("Password must have lowercase characters")
	case !strings.ContainsAny(p, uppers):
		return fail("Password must have uppercase characters")
	case !strings.ContainsAny(p, digits):
		return fail("Password must have numeric characters")
	case !strings.ContainsAny(p, symbols):
		return fail("Password must have symbol characters")
	}
	return nil
}

// generatePassword returns a random temporary password that meets the policy.
func generatePassword() string {
	sets := []string{lowers, uppers, digits, "!#%+-=?@_"}
	all := strings.Join(sets, "")
	b := make([]byte, 0, 16)
	for i := range cap(b) {
		set := all
		if i < len(sets) {
			set = sets[i]
		}
		b = append(b, set[randInt(len(set))])
	}
	for i := len(b) - 1; i > 0; i-- { // shuffle, so the classes are not always up front
		j := randInt(i + 1)
		b[i], b[j] = b[j], b[i]
	}
	return string(b)
}

func randInt(n int) int {
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		panic("cognitolocal: crypto/rand: " + err.Error()) // crypto/rand does not fail
	}
	return int(v.Int64())
}
