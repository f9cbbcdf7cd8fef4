package gateway

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	testIssuer   = "http://127.0.0.1:9229/local_pool"
	testClientID = "client-1"
	testKID      = "kid-1"
)

var (
	testKeysOnce      sync.Once
	testKey, otherKey *rsa.PrivateKey
	testKeysErr       error
	testNow           = time.Unix(1_700_000_000, 0)
)

func rsaKeys(t *testing.T) (*rsa.PrivateKey, *rsa.PrivateKey) {
	t.Helper()
	testKeysOnce.Do(func() {
		if testKey, testKeysErr = rsa.GenerateKey(rand.Reader, 2048); testKeysErr != nil {
			return
		}
		otherKey, testKeysErr = rsa.GenerateKey(rand.Reader, 2048)
	})
	if testKeysErr != nil {
		t.Fatalf("generate keys: %v", testKeysErr)
	}
	return testKey, otherKey
}

// accessClaims returns Cognito-access-token claims valid at testNow.
func accessClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"sub":              "user-1",
		"cognito:groups":   []string{"admin", "member"},
		"iss":              testIssuer,
		"version":          2,
		"client_id":        testClientID,
		"token_use":        "access",
		"scope":            "aws.cognito.signin.user.admin leadvault/read",
		"auth_time":        testNow.Unix() - 60,
		"exp":              testNow.Unix() + 3600,
		"iat":              testNow.Unix() - 60,
		"jti":              "jti-1",
		"username":         "alice",
		"custom:tenant_id": "tenant-1",
	}
}

// sign returns claims signed with key under method and kid ("" for no kid header).
func sign(t *testing.T, method jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return s
}

// with returns accessClaims with changes applied (a nil value deletes the claim).
func with(changes map[string]any) jwt.MapClaims {
	c := accessClaims()
	for k, v := range changes {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	return c
}

func testAuthorizer(t *testing.T) *JWTAuthorizer {
	key, _ := rsaKeys(t)
	return &JWTAuthorizer{
		Issuer:   testIssuer,
		Audience: []string{"other-client", testClientID},
		Keys: func(kid string) (*rsa.PublicKey, error) {
			if kid != testKID {
				return nil, fmt.Errorf("unknown kid %q", kid)
			}
			return &key.PublicKey, nil
		},
		now: func() time.Time { return testNow },
	}
}

func authServer(t *testing.T, scopes []string) (http.Handler, *recorder) {
	rec := &recorder{}
	h := New([]Route{
		{Method: "GET", Path: "/v1/me", Handler: rec.handler, Authorizer: testAuthorizer(t), AuthorizationScopes: scopes},
		{Method: "GET", Path: "/open", Handler: rec.handler},
	}, Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	return h, rec
}

func TestAuthorizer_Rejects(t *testing.T) {
	key, other := rsaKeys(t)
	valid := sign(t, jwt.SigningMethodRS256, key, testKID, accessClaims())
	parts := strings.Split(valid, ".")
	forged, _ := json.Marshal(with(map[string]any{"cognito:groups": []string{"admin", "superuser"}}))
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(forged) + "." + parts[2]
	none := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, testKID, accessClaims())

	tests := []struct {
		name   string
		header []string // Authorization values; nil for none
		desc   string   // expected error_description; "" for a bare "Bearer" challenge
	}{
		{"missing header", nil, ""},
		{"empty bearer", []string{"Bearer "}, ""},
		{"malformed", []string{"Bearer not.a.jwt"}, "the token is malformed"},
		{"garbage", []string{"Bearer abc"}, "the token is malformed"},
		{"expired", []string{"Bearer " + sign(t, jwt.SigningMethodRS256, key, testKID, with(map[string]any{"exp": testNow.Unix() - 1}))}, "the token has expired"},
		{"expires now", []string{"Bearer " + sign(t, jwt.SigningMethodRS256, key, testKID, with(map[string]any{"exp": testNow.Unix()}))}, "the token has expired"},
		{"no exp", []string{"Bearer " + sign(t, jwt.SigningMethodRS256, key, testKID, with(map[string]any{"exp": nil}))}, "the token is missing a required claim"},
		{"not yet valid", []string{"Bearer " + sign(t, jwt.SigningMethodRS256, key, testKID, with(map[string]any{"nbf": testNow.Unix() + 1}))}, "the token is not valid yet"},
		{"issued in the future", []string{"Bearer " + sign(t, jwt.SigningMethodRS256, key, testKID, with(map[string]any{"iat": testNow.Unix() + 1}))}, "the token was issued in the future"},
		{"wrong issuer", []string{"Bearer " + sign(t, jwt.SigningMethodRS256, key, testKID, with(map[string]any{"iss": testIssuer + "x"}))}, "the token does not have a valid issuer"},
		{"no issuer", []string{"Bearer " + sign(t, jwt.SigningMethodRS256, key, testKID, with(map[string]any{"iss": nil}))}, "the token is missing a required claim"},
		{"wrong client_id", []string{"Bearer " + sign(t, jwt.SigningMethodRS256, key, testKID, with(map[string]any{"client_id": "evil"}))}, "the token does not have a valid audience"},
		{"no client_id or aud", []string{"Bearer " + sign(t, jwt.SigningMethodRS256, key, testKID, with(map[string]any{"client_id": nil}))}, "the token does not have a valid audience"},
		{"wrong aud wins over client_id", []string{"Bearer " + sign(t, jwt.SigningMethodRS256, key, testKID, with(map[string]any{"aud": "evil"}))}, "the token does not have a valid audience"},
		{"tampered payload", []string{"Bearer " + tampered}, "the token does not have a valid signature"},
		{"other key", []string{"Bearer " + sign(t, jwt.SigningMethodRS256, other, testKID, accessClaims())}, "the token does not have a valid signature"},
		{"alg none", []string{"Bearer " + none}, "the token does not have a valid signature"},
		{"alg HS256", []string{"Bearer " + sign(t, jwt.SigningMethodHS256, []byte("secret"), testKID, accessClaims())}, "the token does not have a valid signature"},
		{"unknown kid", []string{"Bearer " + sign(t, jwt.SigningMethodRS256, key, "kid-2", accessClaims())}, "the token does not have a valid signature"},
		{"no kid", []string{"Bearer " + sign(t, jwt.SigningMethodRS256, key, "", accessClaims())}, "the token does not have a valid signature"},
		{"two headers", []string{"Bearer " + valid, "Bearer " + valid}, "the token is malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, rec := authServer(t, nil)
			req := httptest.NewRequest("GET", "/v1/me", nil)
			for _, v := range tt.header {
				req.Header.Add("Authorization", v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401; body %s", w.Code, w.Body)
			}
			if got := w.Body.String(); got != `{"message":"Unauthorized"}` {
				t.Errorf("body %s", got)
			}
			want := "Bearer"
			if tt.desc != "" {
				want = `Bearer scope="" error="invalid_token" error_description="` + tt.desc + `"`
			}
			if got := w.Header().Get("Www-Authenticate"); got != want {
				t.Errorf("www-authenticate %q, want %q", got, want)
			}
			if w.Header().Get("Apigw-Requestid") == "" {
				t.Error("no apigw-requestid")
			}
			if n := len(rec.events); n != 0 {
				t.Errorf("handler invoked %d times", n)
			}
		})
	}
}

func TestAuthorizer_Valid(t *testing.T) {
	key, _ := rsaKeys(t)
	token := sign(t, jwt.SigningMethodRS256, key, testKID, accessClaims())
	for _, header := range []string{"Bearer " + token, "bearer " + token, token} {
		h, rec := authServer(t, nil)
		req := httptest.NewRequest("GET", "/v1/me", nil)
		req.Header.Set("Authorization", header)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			t.Fatalf("status %d; body %s; www-authenticate %q", w.Code, w.Body, w.Header().Get("Www-Authenticate"))
		}
		ev := rec.last(t)
		if ev.RequestContext.Authorizer == nil || ev.RequestContext.Authorizer.JWT == nil {
			t.Fatalf("no authorizer in the event: %+v", ev.RequestContext)
		}
		jwtDesc := ev.RequestContext.Authorizer.JWT
		wantClaims := map[string]string{
			"sub":              "user-1",
			"cognito:groups":   "[admin member]",
			"iss":              testIssuer,
			"version":          "2",
			"client_id":        testClientID,
			"token_use":        "access",
			"scope":            "aws.cognito.signin.user.admin leadvault/read",
			"auth_time":        "1699999940",
			"exp":              "1700003600",
			"iat":              "1699999940",
			"jti":              "jti-1",
			"username":         "alice",
			"custom:tenant_id": "tenant-1",
		}
		if !reflect.DeepEqual(jwtDesc.Claims, wantClaims) {
			t.Errorf("claims\n got %v\nwant %v", jwtDesc.Claims, wantClaims)
		}
		if want := []string{"aws.cognito.signin.user.admin", "leadvault/read"}; !reflect.DeepEqual(jwtDesc.Scopes, want) {
			t.Errorf("scopes %q, want %q", jwtDesc.Scopes, want)
		}
		// The event as Lambda receives it.
		b, err := json.Marshal(ev.RequestContext.Authorizer)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), `"cognito:groups":"[admin member]"`) || !strings.Contains(string(b), `"exp":"1700003600"`) {
			t.Errorf("authorizer JSON %s", b)
		}
	}
}

func TestAuthorizer_IDTokenAudAndNoScope(t *testing.T) {
	key, _ := rsaKeys(t)
	claims := with(map[string]any{"client_id": nil, "scope": nil, "token_use": "id", "aud": testClientID, "email_verified": true})
	h, rec := authServer(t, nil)
	req := httptest.NewRequest("GET", "/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+sign(t, jwt.SigningMethodRS256, key, testKID, claims))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		t.Fatalf("status %d; www-authenticate %q", w.Code, w.Header().Get("Www-Authenticate"))
	}
	jwtDesc := rec.last(t).RequestContext.Authorizer.JWT
	if jwtDesc.Scopes != nil {
		t.Errorf("scopes %q, want nil", jwtDesc.Scopes)
	}
	if got := jwtDesc.Claims["aud"]; got != testClientID {
		t.Errorf("aud %q", got)
	}
	if got := jwtDesc.Claims["email_verified"]; got != "true" {
		t.Errorf("email_verified %q", got)
	}
}

func TestAuthorizer_Scopes(t *testing.T) {
	key, _ := rsaKeys(t)
	token := sign(t, jwt.SigningMethodRS256, key, testKID, accessClaims())
	for _, tt := range []struct {
		scopes []string
		status int
	}{
		{[]string{"leadvault/admin", "leadvault/read"}, http.StatusOK},
		{[]string{"leadvault/admin"}, http.StatusForbidden},
	} {
		h, rec := authServer(t, tt.scopes)
		req := httptest.NewRequest("GET", "/v1/me", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != tt.status {
			t.Fatalf("scopes %q: status %d, want %d", tt.scopes, w.Code, tt.status)
		}
		if tt.status == http.StatusForbidden {
			if got := w.Body.String(); got != `{"message":"Forbidden"}` {
				t.Errorf("body %s", got)
			}
			want := `Bearer scope="leadvault/admin" error="insufficient_scope" error_description="the token does not have a valid scope"`
			if got := w.Header().Get("Www-Authenticate"); got != want {
				t.Errorf("www-authenticate %q", got)
			}
			if len(rec.events) != 0 {
				t.Error("handler invoked")
			}
		}
	}
}

func TestAuthorizer_RouteWithoutAuthorizer(t *testing.T) {
	h, rec := authServer(t, nil)
	req := httptest.NewRequest("GET", "/open", nil)
	req.Header.Set("Authorization", "Bearer garbage")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		t.Fatalf("status %d", w.Code)
	}
	if ev := rec.last(t); ev.RequestContext.Authorizer != nil || ev.Headers["authorization"] != "Bearer garbage" {
		t.Errorf("authorizer %+v, authorization header %q", ev.RequestContext.Authorizer, ev.Headers["authorization"])
	}
}

func TestAuthorizer_BadConfigLeftOut(t *testing.T) {
	rec := &recorder{}
	h := New([]Route{
		{Method: "GET", Path: "/a", Handler: rec.handler, Authorizer: &JWTAuthorizer{Issuer: testIssuer, Keys: testAuthorizer(t).Keys}},
		{Method: "GET", Path: "/b", Handler: rec.handler, AuthorizationScopes: []string{"x"}},
	}, Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	for _, p := range []string{"/a", "/b"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", p, nil))
		if w.Code != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404 (route left out)", p, w.Code)
		}
	}
}

func TestClaimString(t *testing.T) {
	for _, tt := range []struct {
		in   any
		want string
	}{
		{"x", "x"},
		{json.Number("1700000000"), "1700000000"},
		{float64(1700000000), "1700000000"},
		{1.5, "1.5"},
		{true, "true"},
		{nil, ""},
		{[]any{"admin", "member"}, "[admin member]"},
		{[]any{}, "[]"},
		{[]any{json.Number("1"), true}, "[1 true]"},
		{map[string]any{"b": "2", "a": json.Number("1")}, "map[a:1 b:2]"},
	} {
		if got := ClaimString(tt.in); got != tt.want {
			t.Errorf("ClaimString(%#v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
