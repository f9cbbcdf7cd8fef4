// Package devissuer is a local stand-in for an Amazon Cognito user pool as a token issuer: it signs
// Cognito-shaped RS256 access tokens and publishes the OpenID discovery document and the JWKS that an
// API Gateway HTTP API JWT authorizer (or the local gateway's) uses to verify them.
//
// It is for local development only: it mints any token it is asked for, without a user directory or
// passwords. Serve it on 127.0.0.1.
package devissuer

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Defaults for Mint.
const (
	// DefaultClientID is the client_id of minted tokens when Claims.ClientID is empty; configure it as
	// the local JWT authorizer's audience.
	DefaultClientID = "leadvault-local-client"
	// DefaultScope is the scope of minted tokens when Claims.Scope is empty: the one Cognito puts in
	// access tokens from its user-password and SRP flows.
	DefaultScope = "aws.cognito.signin.user.admin"
	// DefaultExpiresIn is the lifetime of minted tokens when Claims.ExpiresIn is 0: Cognito's default
	// access token validity.
	DefaultExpiresIn = time.Hour
)

// JWKSPath and DiscoveryPath are where Handler serves the key set and the discovery document, below
// the issuer URL's path.
const (
	JWKSPath      = "/.well-known/jwks.json"
	DiscoveryPath = "/.well-known/openid-configuration"
)

// ErrUnknownKey is returned by Key for a key ID the issuer does not have.
var ErrUnknownKey = errors.New("devissuer: unknown key id")

// Issuer signs tokens with one RSA key and publishes its public half.
type Issuer struct {
	url  string
	key  *rsa.PrivateKey
	kid  string
	jwks []byte
	disc []byte
}

// Claims describes a token to mint.
type Claims struct {
	// Subject is the sub claim, the user's ID; a random UUID if empty.
	Subject string
	// Username is the username claim; Subject if empty.
	Username string
	// TenantID is the custom:tenant_id claim; left out if empty.
	TenantID string
	// Groups is the cognito:groups claim; left out if empty, as Cognito does.
	Groups []string
	// ExpiresIn is the token's lifetime from now: 0 means DefaultExpiresIn, and a negative value
	// mints a token that has already expired.
	ExpiresIn time.Duration
	// ClientID is the client_id claim; DefaultClientID if empty.
	ClientID string
	// Scope is the space-separated scope claim; DefaultScope if empty.
	Scope string
}

// New returns an issuer whose tokens carry iss issuerURL (an absolute http or https URL without a
// trailing slash, e.g. "http://127.0.0.1:9229/local_pool") and are signed with key; a nil key means a
// new 2048-bit key.
func New(issuerURL string, key *rsa.PrivateKey) (*Issuer, error) {
	u, err := url.Parse(issuerURL)
	if err != nil {
		return nil, fmt.Errorf("devissuer: issuer URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(issuerURL, "/") {
		return nil, fmt.Errorf("devissuer: issuer URL %q: want an http(s) URL with no query, fragment or trailing slash", issuerURL)
	}
	if key == nil {
		if key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			return nil, fmt.Errorf("devissuer: generate key: %w", err)
		}
	}
	if err := key.Validate(); err != nil {
		return nil, fmt.Errorf("devissuer: key: %w", err)
	}
	if key.N.BitLen() < 2048 {
		return nil, fmt.Errorf("devissuer: key has %d bits, want at least 2048", key.N.BitLen())
	}
	kid, err := keyID(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	i := &Issuer{url: issuerURL, key: key, kid: kid}
	if i.jwks, err = json.Marshal(jwks{Keys: []jwk{{
		Kty: "RSA",
		Kid: kid,
		Use: "sig",
		Alg: "RS256",
		N:   base64.RawURLEncoding.EncodeToString(key.N.Bytes()),
		E:   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes()),
	}}}); err != nil {
		return nil, fmt.Errorf("devissuer: encode JWKS: %w", err)
	}
	if i.disc, err = json.Marshal(discovery{
		Issuer:                           issuerURL,
		JWKSURI:                          issuerURL + JWKSPath,
		SubjectTypesSupported:            []string{"public"},
		IDTokenSigningAlgValuesSupported: []string{"RS256"},
		ResponseTypesSupported:           []string{"code", "token"},
		ScopesSupported:                  []string{"openid", "email", "phone", "profile"},
		TokenEndpointAuthMethods:         []string{"client_secret_basic", "client_secret_post"},
	}); err != nil {
		return nil, fmt.Errorf("devissuer: encode discovery document: %w", err)
	}
	return i, nil
}

// keyID derives a stable key ID from the public key: the base64url SHA-256 of its PKIX DER, cut to
// 22 characters, so a persisted key keeps its kid across restarts.
func keyID(pub *rsa.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("devissuer: encode public key: %w", err)
	}
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:16]), nil
}

// jwk is one RSA JSON Web Key (RFC 7517, RFC 7518 section 6.3).
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
}

// jwks is a JSON Web Key Set.
type jwks struct {
	Keys []jwk `json:"keys"`
}

// discovery is the subset of an OpenID Provider's metadata that this issuer publishes.
type discovery struct {
	Issuer                           string   `json:"issuer"`
	JWKSURI                          string   `json:"jwks_uri"`
	SubjectTypesSupported            []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported []string `json:"id_token_signing_alg_values_supported"`
	ResponseTypesSupported           []string `json:"response_types_supported"`
	ScopesSupported                  []string `json:"scopes_supported"`
	TokenEndpointAuthMethods         []string `json:"token_endpoint_auth_methods_supported"`
}

// URL returns the issuer URL, the iss claim of minted tokens.
func (i *Issuer) URL() string { return i.url }

// KeyID returns the kid of the signing key.
func (i *Issuer) KeyID() string { return i.kid }

// PublicKey returns the public half of the signing key.
func (i *Issuer) PublicKey() *rsa.PublicKey { return &i.key.PublicKey }

// Key returns the public key with the given kid, or an error wrapping ErrUnknownKey. It fits
// gateway.JWTAuthorizer's Keys field, for a gateway running in the same process.
func (i *Issuer) Key(kid string) (*rsa.PublicKey, error) {
	if kid != i.kid {
		return nil, fmt.Errorf("%w: %q", ErrUnknownKey, kid)
	}
	return &i.key.PublicKey, nil
}

// JWKSHandler serves the key set, {"keys":[...]}; mount it at the issuer path plus JWKSPath.
func (i *Issuer) JWKSHandler() http.Handler { return staticJSON(i.jwks) }

// DiscoveryHandler serves the OpenID discovery document with issuer and jwks_uri; mount it at the
// issuer path plus DiscoveryPath.
func (i *Issuer) DiscoveryHandler() http.Handler { return staticJSON(i.disc) }

// Handler serves JWKSHandler and DiscoveryHandler below the issuer URL's path, and 404 elsewhere.
func (i *Issuer) Handler() http.Handler {
	base := ""
	if u, err := url.Parse(i.url); err == nil { // New checked the URL
		base = u.Path
	}
	mux := http.NewServeMux()
	mux.Handle(base+JWKSPath, i.JWKSHandler())
	mux.Handle(base+DiscoveryPath, i.DiscoveryHandler())
	return mux
}

// staticJSON answers GET and HEAD with body as JSON and other methods with 405.
func staticJSON(body []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=60")
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(body) // the client went away; nothing to do
	})
}

// Mint returns a signed token shaped like a Cognito user pool access token: header alg RS256, typ
// JWT and kid; claims sub, cognito:groups (if any), iss, version 2, client_id, origin_jti, token_use
// "access", scope, auth_time, exp, iat, jti, username and custom:tenant_id (if set). Cognito itself
// only adds custom attributes to access tokens through a pre token generation trigger; leadvault's
// pool is expected to have one for custom:tenant_id.
func (i *Issuer) Mint(c Claims) (string, error) {
	var err error
	if c.Subject == "" {
		if c.Subject, err = newUUID(); err != nil {
			return "", err
		}
	}
	if c.Username == "" {
		c.Username = c.Subject
	}
	if c.ClientID == "" {
		c.ClientID = DefaultClientID
	}
	if c.Scope == "" {
		c.Scope = DefaultScope
	}
	if c.ExpiresIn == 0 {
		c.ExpiresIn = DefaultExpiresIn
	}
	jti, err := newUUID()
	if err != nil {
		return "", err
	}
	originJTI, err := newUUID()
	if err != nil {
		return "", err
	}
	now := time.Now()
	iat := now.Unix()
	if c.ExpiresIn < 0 {
		// Keep iat <= exp for an already expired token.
		iat = now.Add(c.ExpiresIn - time.Minute).Unix()
	}
	claims := jwt.MapClaims{
		"sub":        c.Subject,
		"iss":        i.url,
		"version":    2,
		"client_id":  c.ClientID,
		"origin_jti": originJTI,
		"token_use":  "access",
		"scope":      c.Scope,
		"auth_time":  iat,
		"exp":        now.Add(c.ExpiresIn).Unix(),
		"iat":        iat,
		"jti":        jti,
		"username":   c.Username,
	}
	if len(c.Groups) > 0 {
		claims["cognito:groups"] = append([]string(nil), c.Groups...)
	}
	if c.TenantID != "" {
		claims["custom:tenant_id"] = c.TenantID
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = i.kid
	s, err := tok.SignedString(i.key)
	if err != nil {
		return "", fmt.Errorf("devissuer: sign token: %w", err)
	}
	return s, nil
}

// newUUID returns a random (version 4) UUID.
func newUUID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("devissuer: random id: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
}
