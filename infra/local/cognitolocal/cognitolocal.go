// Package cognitolocal is a local stand-in for one Amazon Cognito user pool: an http.Handler that
// speaks the Cognito Identity Provider API's wire protocol (AWS JSON 1.1) for the few operations
// leadvault uses, so the same aws-sdk-go-v2 cognitoidentityprovider client runs in Lambda and locally,
// with only its endpoint changed.
//
// # Protocol
//
// Requests are POST / with X-Amz-Target: AWSCognitoIdentityProviderService.<Operation> and a JSON body;
// answers are 200 with a JSON body, or an error status with {"__type":"<Exception>","message":"..."},
// which the SDK turns into its typed errors (types.UserNotFoundException and so on). SigV4 signatures
// are not checked. The handler works mounted below a path with http.StripPrefix, answering the paths
// "/" and "" (the prefix itself): the SDK posts to its BaseEndpoint's path exactly as given, so with
// BaseEndpoint http://127.0.0.1:8080/local-cognito, a ServeMux needs the pattern "/local-cognito" as
// well as "/local-cognito/".
//
// # Operations
//
// AdminCreateUser, AdminGetUser, AdminDeleteUser, AdminAddUserToGroup, AdminRemoveUserFromGroup,
// AdminListGroupsForUser, AdminUserGlobalSignOut, AdminSetUserPassword, and InitiateAuth with the
// USER_PASSWORD_AUTH flow. Any other operation answers UnknownOperationException. The pool behaves
// like leadvault's: users sign in with their e-mail address (UsernameAttributes=email), so each user's
// username is a generated UUID, their sub; admin operations and InitiateAuth find a user by sub or by
// e-mail address (case-insensitive). The groups are admin, member and support; custom:tenant_id is the
// one custom attribute. Passwords follow the pool's policy (infra/stacks/identity.go): at least
// MinPasswordLength characters with lower and upper case letters, a digit and a symbol; temporary
// passwords work for TemporaryPasswordValidity. Unknown users signing in get NotAuthorizedException
// "Incorrect username or password.", as with PreventUserExistenceErrors=ENABLED.
//
// InitiateAuth answers a CONFIRMED user's right password with an AuthenticationResult holding only an
// access token, minted by the devissuer.Issuer given to New (sub, username = sub, custom:tenant_id,
// cognito:groups, client_id; valid for Options.AccessTokenValidity); no ID or refresh token. Note that
// leadvault's app client on AWS allows only USER_SRP_AUTH: SRP is not implemented here, so local
// sign-ins use USER_PASSWORD_AUTH, which that client would refuse. A FORCE_CHANGE_PASSWORD user (invited, or given a
// temporary password) gets the NEW_PASSWORD_REQUIRED challenge instead. RespondToAuthChallenge is not
// implemented: set a permanent password with AdminSetUserPassword. AdminUserGlobalSignOut checks the
// user and does nothing else, since there are no refresh tokens to revoke and access tokens are JWTs
// that stay valid until they expire, as they do for an API Gateway JWT authorizer with Cognito.
// Invitations are not e-mailed: Options.Deliver receives them.
//
// # Lockout
//
// Failed sign-ins lock a user out as Cognito documents it ("Lockout behavior for failed sign-in
// attempts", https://docs.aws.amazon.com/cognito/latest/developerguide/authentication.html#authentication-flow-lockout-behavior):
//
//	After five failed unauthenticated or IAM-authorized sign-in attempts with a password, Amazon
//	Cognito locks out your user for one second. The lockout duration then doubles after each
//	additional one failed attempt, up to a maximum of approximately 15 minutes. Attempts made during a
//	lockout period generate a Password attempts exceeded exception, and don't affect the duration of
//	subsequent lockout periods. For a cumulative number of failed sign-in attempts n, not including
//	Password attempts exceeded exceptions, Amazon Cognito locks out your user for 2^(n-5) seconds. To
//	reset the lockout to its n=0 initial state, your user must either sign in successfully after a
//	lockout period expires, or not initiate any sign-in attempts for 15 consecutive minutes at any time
//	after a lockout. This behavior is subject to change.
//
// So the n-th wrong password (n >= 5) answers NotAuthorizedException "Incorrect username or password."
// and locks the user for min(2^(n-5) s, 15 min) from then; any attempt while locked, right password or
// not, answers NotAuthorizedException "Password attempts exceeded" and changes nothing but the time of
// the last attempt; the right password outside a lockout resets n to 0 (also when it leads to the
// NEW_PASSWORD_REQUIRED challenge), as does a first attempt 15
// minutes or more after the last one once the user has been locked out. Time comes from Options.Now.
// Every failed sign-in is logged to Options.Logger with the user's sub only, never the username given
// (it may be an e-mail address) or the password (obligation S18).
//
// For local development only: state lives in memory, optionally persisted to Options.File, and
// nothing is secret. Serve it on 127.0.0.1.
package cognitolocal

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"leadvault/infra/local/devissuer"
)

// TargetPrefix is the X-Amz-Target prefix of the Cognito Identity Provider API.
const TargetPrefix = "AWSCognitoIdentityProviderService."

// Lockout parameters, from Cognito's documentation (see the package comment).
const (
	// FreeFailures is how many failed sign-ins in a row go without a lockout.
	FreeFailures = 5
	// MaxLockout caps a lockout ("up to a maximum of approximately 15 minutes").
	MaxLockout = 15 * time.Minute
	// LockoutReset is the quiet time after which a locked-out user starts from zero failures.
	LockoutReset = 15 * time.Minute
)

// The password policy of leadvault's user pool (PasswordMinLength and TempPasswordValidityInDays in
// infra/stacks/identity.go, not imported here to keep the CDK out of the local stack).
const (
	// MinPasswordLength is the shortest password accepted.
	MinPasswordLength = 12
	// TemporaryPasswordValidity is how long a temporary password works.
	TemporaryPasswordValidity = 3 * 24 * time.Hour
)

// maxBody caps a request body.
const maxBody = 1 << 20

// Options configure a Server. The zero value is usable.
type Options struct {
	// ClientID is the app client ID that InitiateAuth accepts and that access tokens carry as
	// client_id. Empty accepts any client ID and mints tokens with devissuer.DefaultClientID.
	ClientID string
	// File, if set, is a JSON file holding the pool's users across restarts: read by New if it
	// exists, and rewritten atomically (temporary file and rename, mode 0600) after every change.
	File string
	// AccessTokenValidity is the lifetime of access tokens; 0 means devissuer.DefaultExpiresIn,
	// Cognito's default of an hour.
	AccessTokenValidity time.Duration
	// Now is the clock for user timestamps, temporary password expiry and lockouts; time.Now if nil.
	// Tokens carry the real time, from the issuer.
	Now func() time.Time
	// Logger receives a warning for each failed sign-in, with the user's sub; nil logs nothing.
	Logger *slog.Logger
	// Deliver receives each invitation Cognito would have e-mailed (AdminCreateUser with
	// DesiredDeliveryMediums EMAIL and no MessageAction SUPPRESS; without EMAIL, Cognito would send an
	// SMS, which the stand-in does not), after the user is stored and outside the server's lock; nil
	// drops them.
	Deliver func(Invitation)
}

// Invitation is the message AdminCreateUser would send a new user.
type Invitation struct {
	// Sub is the user's ID and username.
	Sub string
	// Email is the address the invitation goes to.
	Email string
	// TemporaryPassword is the password the user first signs in with.
	TemporaryPassword string
}

// Server is one user pool. It is safe for concurrent use.
type Server struct {
	poolID string
	issuer *devissuer.Issuer
	opts   Options

	mu    sync.Mutex
	users map[string]*user // by sub
	saved []byte           // what the file holds, to skip rewriting it unchanged
}

// New returns the pool poolID (for example "eu-north-1_local"), whose access tokens issuer mints. With
// Options.File set, it loads the users saved there, if the file exists.
func New(poolID string, issuer *devissuer.Issuer, opts Options) (*Server, error) {
	if poolID == "" {
		return nil, errors.New("cognitolocal: no user pool ID")
	}
	if issuer == nil {
		return nil, errors.New("cognitolocal: no token issuer")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.AccessTokenValidity < 0 {
		return nil, errors.New("cognitolocal: negative access token validity")
	}
	if opts.AccessTokenValidity == 0 {
		opts.AccessTokenValidity = devissuer.DefaultExpiresIn
	}
	s := &Server{poolID: poolID, issuer: issuer, opts: opts, users: map[string]*user{}}
	if opts.File != "" {
		if err := s.load(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// PoolID returns the user pool ID.
func (s *Server) PoolID() string { return s.poolID }

// apiError is an error answer: an HTTP status and an exception name the SDK knows.
type apiError struct {
	status int
	typ    string
	msg    string
}

func (e *apiError) Error() string { return e.typ + ": " + e.msg }

func badRequest(typ, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, typ: typ, msg: fmt.Sprintf(format, args...)}
}

func internalError(format string, args ...any) *apiError {
	return &apiError{status: http.StatusInternalServerError, typ: "InternalErrorException", msg: fmt.Sprintf(format, args...)}
}

// operation handles one API operation: it decodes body and returns the output to encode, or an error.
type operation func(s *Server, body []byte) (any, error)

var operations = map[string]operation{
	"AdminCreateUser":          (*Server).adminCreateUser,
	"AdminGetUser":             (*Server).adminGetUser,
	"AdminDeleteUser":          (*Server).adminDeleteUser,
	"AdminAddUserToGroup":      (*Server).adminAddUserToGroup,
	"AdminRemoveUserFromGroup": (*Server).adminRemoveUserFromGroup,
	"AdminListGroupsForUser":   (*Server).adminListGroupsForUser,
	"AdminUserGlobalSignOut":   (*Server).adminUserGlobalSignOut,
	"AdminSetUserPassword":     (*Server).adminSetUserPassword,
	"InitiateAuth":             (*Server).initiateAuth,
}

// ServeHTTP answers one API request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" && r.URL.Path != "" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	target := r.Header.Get("X-Amz-Target")
	name, ok := strings.CutPrefix(target, TargetPrefix)
	op := operations[name]
	if !ok || op == nil {
		if target == "" {
			writeError(w, badRequest("UnknownOperationException", "no X-Amz-Target header"))
		} else {
			writeError(w, badRequest("UnknownOperationException", "cognitolocal does not implement %q", target))
		}
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeError(w, badRequest("SerializationException", "read request body: %v", err))
		return
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	out, err := op(s, body)
	if err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			ae = internalError("%v", err)
		}
		writeError(w, ae)
		return
	}
	data, err := json.Marshal(out)
	if err != nil {
		writeError(w, internalError("encode response: %v", err))
		return
	}
	writeJSON(w, http.StatusOK, data)
}

func writeError(w http.ResponseWriter, e *apiError) {
	data, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{e.typ, e.msg}) // strings always encode
	writeJSON(w, e.status, data)
}

func writeJSON(w http.ResponseWriter, status int, data []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/x-amz-json-1.1")
	h.Set("Content-Length", strconv.Itoa(len(data)))
	h.Set("X-Amzn-Requestid", randomID())
	w.WriteHeader(status)
	_, _ = w.Write(data) // the client went away; nothing to do
}

// decode reads a request body into v.
func decode(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return badRequest("SerializationException", "decode request: %v", err)
	}
	return nil
}

// randomID returns 16 random bytes in base64url, for request IDs and sessions.
func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// update runs fn under the lock and then saves the users, if there is a file: fn's error is returned
// either way, since a failed sign-in still counts. If saving fails, the users are restored to what
// they were before fn and an InternalErrorException is returned.
func (s *Server) update(fn func() error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opts.File == "" {
		return fn()
	}
	before := make(map[string]*user, len(s.users))
	for sub, u := range s.users {
		before[sub] = u.clone()
	}
	opErr := fn()
	if err := s.saveLocked(); err != nil {
		s.users = before
		return internalError("cognitolocal: save users: %v", err)
	}
	return opErr
}

// fileState is the JSON in Options.File.
type fileState struct {
	Version    int     `json:"version"`
	UserPoolID string  `json:"userPoolId"`
	Users      []*user `json:"users"`
}

const fileVersion = 1

// load reads Options.File, if it exists.
func (s *Server) load() error {
	data, err := os.ReadFile(s.opts.File)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cognitolocal: %w", err)
	}
	var st fileState
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("cognitolocal: %s: %w", s.opts.File, err)
	}
	if st.Version != fileVersion {
		return fmt.Errorf("cognitolocal: %s: version %d, want %d", s.opts.File, st.Version, fileVersion)
	}
	if st.UserPoolID != s.poolID {
		return fmt.Errorf("cognitolocal: %s holds user pool %q, not %q", s.opts.File, st.UserPoolID, s.poolID)
	}
	for _, u := range st.Users {
		if u == nil || u.Sub == "" || s.users[u.Sub] != nil {
			return fmt.Errorf("cognitolocal: %s: a user without a sub, or twice", s.opts.File)
		}
		if u.Attributes == nil {
			u.Attributes = map[string]string{}
		}
		s.users[u.Sub] = u
	}
	s.saved = data
	return nil
}

// saveLocked writes the users to Options.File unless it holds them already: to a temporary file in
// the same directory, synced, then renamed over the file.
func (s *Server) saveLocked() error {
	st := fileState{Version: fileVersion, UserPoolID: s.poolID, Users: make([]*user, 0, len(s.users))}
	for _, u := range s.users {
		st.Users = append(st.Users, u)
	}
	slices.SortFunc(st.Users, func(a, b *user) int { return strings.Compare(a.Sub, b.Sub) })
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	if bytes.Equal(data, s.saved) {
		return nil
	}
	dir, base := filepath.Split(s.opts.File)
	if dir == "" {
		dir = "."
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+base+".*.tmp") // CreateTemp makes it 0600
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, s.opts.File)
	}
	if err != nil {
		_ = os.Remove(tmp) // best effort; the error that matters is err
		return err
	}
	s.saved = data
	return nil
}
