package devissuer

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/golang-jwt/jwt/v5"

	"leadvault/infra/local/gateway"
)

const testURL = "http://127.0.0.1:9229/local_pool"

func newIssuer(t *testing.T) *Issuer {
	t.Helper()
	i, err := New(testURL, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return i
}

func get(t *testing.T, h http.Handler, path string) []byte {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("GET %s: %d %q", path, w.Code, w.Header().Get("Content-Type"))
	}
	return w.Body.Bytes()
}

func TestJWKSVerifiesMintedToken(t *testing.T) {
	i := newIssuer(t)
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(get(t, i.Handler(), "/local_pool"+JWKSPath), &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 1 {
		t.Fatalf("%d keys", len(set.Keys))
	}
	k := set.Keys[0]
	if k["kty"] != "RSA" || k["use"] != "sig" || k["alg"] != "RS256" || k["kid"] != i.KeyID() {
		t.Fatalf("jwk %v", k)
	}
	n, err := base64.RawURLEncoding.DecodeString(k["n"])
	if err != nil {
		t.Fatal(err)
	}
	e, err := base64.RawURLEncoding.DecodeString(k["e"])
	if err != nil {
		t.Fatal(err)
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	if !pub.Equal(i.PublicKey()) {
		t.Fatal("JWKS key differs from PublicKey")
	}

	tok, err := i.Mint(Claims{Subject: "u-1", Username: "alice", TenantID: "t-1", Groups: []string{"admin", "member"}})
	if err != nil {
		t.Fatal(err)
	}
	claims := jwt.MapClaims{}
	parsed, err := jwt.ParseWithClaims(tok, claims, func(tk *jwt.Token) (any, error) {
		if tk.Header["kid"] != k["kid"] {
			t.Errorf("kid %v", tk.Header["kid"])
		}
		return pub, nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(testURL), jwt.WithExpirationRequired())
	if err != nil || !parsed.Valid {
		t.Fatalf("parse: %v", err)
	}
	for name, want := range map[string]any{
		"sub": "u-1", "username": "alice", "custom:tenant_id": "t-1", "iss": testURL,
		"client_id": DefaultClientID, "token_use": "access", "scope": DefaultScope,
		"cognito:groups": []any{"admin", "member"}, "version": float64(2),
	} {
		if !reflect.DeepEqual(claims[name], want) {
			t.Errorf("%s = %#v, want %#v", name, claims[name], want)
		}
	}
	for _, name := range []string{"jti", "origin_jti", "auth_time", "iat", "exp"} {
		if _, ok := claims[name]; !ok {
			t.Errorf("no %s", name)
		}
	}
	exp, _ := claims.GetExpirationTime()
	if d := time.Until(exp.Time); d < 59*time.Minute || d > time.Hour {
		t.Errorf("expires in %v", d)
	}
}

func TestDiscovery(t *testing.T) {
	i := newIssuer(t)
	var doc map[string]any
	if err := json.Unmarshal(get(t, i.DiscoveryHandler(), "/"), &doc); err != nil {
		t.Fatal(err)
	}
	if doc["issuer"] != testURL || doc["jwks_uri"] != testURL+"/.well-known/jwks.json" {
		t.Errorf("discovery %v", doc)
	}
	get(t, i.Handler(), "/local_pool/.well-known/openid-configuration")
	w := httptest.NewRecorder()
	i.JWKSHandler().ServeHTTP(w, httptest.NewRequest("POST", "/", nil))
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", w.Code)
	}
}

func TestNewRejectsBadURL(t *testing.T) {
	for _, u := range []string{"", "127.0.0.1:9229", "http://127.0.0.1/x/", "ftp://127.0.0.1", "http://127.0.0.1?a=b"} {
		if _, err := New(u, nil); err == nil {
			t.Errorf("New(%q) succeeded", u)
		}
	}
}

// TestThroughGateway checks a minted token end to end through the local gateway's JWT authorizer.
func TestThroughGateway(t *testing.T) {
	i := newIssuer(t)
	var got events.APIGatewayV2HTTPRequest
	h := gateway.New([]gateway.Route{{
		Method: "GET", Path: "/v1/me",
		Authorizer: &gateway.JWTAuthorizer{Issuer: i.URL(), Audience: []string{DefaultClientID}, Keys: i.Key},
		Handler: func(_ context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			got = ev
			return events.APIGatewayV2HTTPResponse{StatusCode: 204}, nil
		},
	}}, gateway.Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})

	tok, err := i.Mint(Claims{Subject: "u-1", TenantID: "t-1", Groups: []string{"admin", "member"}})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusNoContent {
		t.Fatalf("status %d, www-authenticate %q", w.Code, w.Header().Get("Www-Authenticate"))
	}
	c := got.RequestContext.Authorizer.JWT.Claims
	if c["cognito:groups"] != "[admin member]" || c["custom:tenant_id"] != "t-1" || c["username"] != "u-1" || c["version"] != "2" {
		t.Errorf("claims %v", c)
	}

	expired, err := i.Mint(Claims{ExpiresIn: -time.Second})
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+expired)
	w = httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusUnauthorized {
		t.Errorf("expired token: status %d", w.Code)
	}
}

func TestLoadOrCreateKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "issuer.pem")
	k1, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode().Perm())
	}
	k2, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if !k1.Equal(k2) {
		t.Error("second load returned a different key")
	}
	i1, _ := New(testURL, k1)
	i2, _ := New(testURL, k2)
	if i1.KeyID() != i2.KeyID() {
		t.Error("kid changed across loads")
	}
	if err := os.WriteFile(path, []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateKey(path); err == nil {
		t.Error("junk key file accepted")
	}
}
