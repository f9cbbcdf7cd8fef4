package gateway

import (
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/golang-jwt/jwt/v5"
)

// JWTAuthorizer is an HTTP API JWT authorizer with identity source $request.header.Authorization.
//
// As on AWS, a request to a route with an authorizer is answered 401 {"message":"Unauthorized"},
// without invoking the handler, unless the Authorization header holds a token (bare or after
// "Bearer ") that
//   - is a JWS signed with RS256, RS384 or RS512 (API Gateway supports only RSA; "none" and HMAC are
//     refused) by the key Keys returns for the header's kid,
//   - has iss equal to Issuer,
//   - has an aud matching an entry of Audience or, only when there is no aud claim, a client_id
//     matching one (Cognito access tokens carry client_id, ID tokens aud),
//   - has an exp after now, and an nbf and iat, when present, not after now. No clock skew is
//     allowed: API Gateway documents none.
//
// A route's AuthorizationScopes, if any, must include one of the token's scope (or scp) entries or
// the request is answered 403 {"message":"Forbidden"}.
//
// Every 401 with a token carries a www-authenticate header in API Gateway's form,
// Bearer scope="<route scopes>" error="invalid_token" error_description="<reason>"; a request with no
// token gets plain "Bearer". Only "the token does not have a valid audience" is a description quoted
// from AWS's documentation; the others follow its pattern.
//
// An authorized request's event has requestContext.authorizer.jwt.claims, every claim rendered as a
// string (see ClaimString), and requestContext.authorizer.jwt.scopes, the scope claim split on
// spaces (nil if there is none).
type JWTAuthorizer struct {
	// Issuer is the required iss, e.g. "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc".
	Issuer string
	// Audience lists the accepted aud (or client_id) values; at least one is required.
	Audience []string
	// Keys returns the public key for a token's kid, as a JWKS lookup would; an error means the kid
	// is unknown. For a devissuer.Issuer in the same process, pass its Key method.
	Keys func(kid string) (*rsa.PublicKey, error)

	// now is the clock; nil means time.Now. Tests set it.
	now func() time.Time
}

// check validates the authorizer's configuration.
func (a *JWTAuthorizer) check() error {
	switch {
	case a.Issuer == "":
		return errors.New("JWT authorizer: no issuer")
	case len(a.Audience) == 0:
		return errors.New("JWT authorizer: no audience")
	case a.Keys == nil:
		return errors.New("JWT authorizer: no key source")
	}
	return nil
}

// authError is a reason to refuse a request: status 401 or 403 and the www-authenticate header.
type authError struct {
	status      int
	description string // "" for a request without a token
	err         error  // the underlying cause, for the log only
}

func (e *authError) Error() string {
	msg := e.description
	if msg == "" {
		msg = "no token"
	}
	if e.err != nil {
		return msg + ": " + e.err.Error()
	}
	return msg
}

func (e *authError) Unwrap() error { return e.err }

// unauthorized returns a 401 authError.
func unauthorized(description string, err error) *authError {
	return &authError{status: http.StatusUnauthorized, description: description, err: err}
}

// authorize checks r's token and returns the authorizer description for the event.
func (a *JWTAuthorizer) authorize(r *http.Request, routeScopes []string) (*events.APIGatewayV2HTTPRequestContextAuthorizerDescription, *authError) {
	raw := strings.TrimSpace(strings.Join(r.Header.Values("Authorization"), ","))
	if len(raw) >= 6 && strings.EqualFold(raw[:6], "bearer") && (len(raw) == 6 || raw[6] == ' ') {
		raw = strings.TrimSpace(raw[6:])
	}
	if raw == "" {
		return nil, unauthorized("", nil)
	}
	now := time.Now
	if a.now != nil {
		now = a.now
	}
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{"RS256", "RS384", "RS512"}),
		jwt.WithJSONNumber(),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithIssuer(a.Issuer),
		jwt.WithTimeFunc(now),
		jwt.WithLeeway(0),
	)
	claims := jwt.MapClaims{}
	_, err := parser.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, errors.New("no kid in the token header")
		}
		key, err := a.Keys(kid)
		if err != nil {
			return nil, fmt.Errorf("kid %q: %w", kid, err)
		}
		return key, nil
	})
	if err != nil {
		return nil, unauthorized(describe(err), err)
	}
	if !a.audienceOK(claims) {
		return nil, unauthorized("the token does not have a valid audience", nil)
	}
	scopes := tokenScopes(claims)
	if len(routeScopes) > 0 && !anyIn(scopes, routeScopes) {
		return nil, &authError{status: http.StatusForbidden, description: "the token does not have a valid scope"}
	}
	rendered := make(map[string]string, len(claims))
	for k, v := range claims {
		rendered[k] = ClaimString(v)
	}
	return &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
		JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: rendered, Scopes: scopes},
	}, nil
}

// describe maps a jwt parse error to a www-authenticate error_description.
func describe(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "the token does not have a valid issuer"
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "the token is malformed"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return "the token does not have a valid signature"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "the token has expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return "the token is not valid yet"
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "the token was issued in the future"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "the token is missing a required claim"
	}
	return "the token is not valid"
}

// audienceOK reports whether aud (a string or array of strings) or, when there is no aud claim,
// client_id matches an entry of a.Audience.
func (a *JWTAuthorizer) audienceOK(claims jwt.MapClaims) bool {
	if _, ok := claims["aud"]; ok {
		aud, err := claims.GetAudience()
		return err == nil && anyIn(aud, a.Audience)
	}
	clientID, ok := claims["client_id"].(string)
	return ok && anyIn([]string{clientID}, a.Audience)
}

// tokenScopes returns the scope claim (or, without one, scp) split on spaces; nil if neither is a
// non-empty string.
func tokenScopes(claims jwt.MapClaims) []string {
	s, ok := claims["scope"].(string)
	if !ok {
		s, _ = claims["scp"].(string)
	}
	if f := strings.Fields(s); len(f) > 0 {
		return f
	}
	return nil
}

// anyIn reports whether some element of have is in want.
func anyIn(have, want []string) bool {
	for _, h := range have {
		for _, w := range want {
			if h == w {
				return true
			}
		}
	}
	return false
}

// ClaimString renders a decoded JSON claim value the way an HTTP API puts it in
// requestContext.authorizer.jwt.claims: a string as is; a number as its JSON text (so exp stays
// "1700000000", given json.Number values); true and false as "true" and "false"; an array as its
// elements rendered this way, space-separated, in brackets ("[admin member]"); an object as
// "map[k1:v1 k2:v2]" with keys sorted; null as "". Arrays, numbers and strings match what AWS sends;
// objects and null follow the same Go-formatting pattern but are not confirmed against AWS.
func ClaimString(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case json.Number:
		return v.String()
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		if v {
			return "true"
		}
		return "false"
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = ClaimString(e)
		}
		return "[" + strings.Join(parts, " ") + "]"
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + ":" + ClaimString(v[k])
		}
		return "map[" + strings.Join(parts, " ") + "]"
	}
	return fmt.Sprint(v)
}

// wwwAuthenticate is the www-authenticate header API Gateway sends with e.
func wwwAuthenticate(e *authError, routeScopes []string) string {
	if e.description == "" {
		return "Bearer"
	}
	code := "invalid_token"
	if e.status == http.StatusForbidden {
		code = "insufficient_scope"
	}
	return fmt.Sprintf(`Bearer scope=%q error=%q error_description=%q`, strings.Join(routeScopes, " "), code, e.description)
}
