// Package controlapi is the controller API: the authenticated HTTP API (API Gateway HTTP API with a JWT
// authorizer, route ANY /v1/{proxy+}) through which a tenant's staff manage forms, campaigns, leads,
// users and support-access grants, and read their audit trail. docs/openapi.yaml is the contract.
//
// Every request goes the same way: the caller comes from the authorizer's claims (the tenant from the
// token only); controller staff must still be members of their tenant, in the role the tenant's data
// says (so removal or demotion takes effect at once, whatever the token says); the route's role rule is
// applied; every key a handler touches is scoped to the tenant by store.Scoped; and an audit record is
// appended before anything is changed or returned. A request that fails authorization is answered 403
// and audited too.
package controlapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"leadvault/shared/access"
	"leadvault/shared/audit"
	"leadvault/shared/cache"
	"leadvault/shared/problem"
	"leadvault/shared/store"
	"leadvault/shared/vault"
)

// TenantHeader names the tenant a support user acts on. Controller staff never need it (their tenant is
// in the token) and are refused if they name another.
const TenantHeader = "Leadvault-Tenant"

// PurposeHeader carries an optional purpose or ticket reference for the audit trail. It must not hold
// personal data; it is cut to maxPurpose characters.
const PurposeHeader = "Leadvault-Purpose"

// NextCursorHeader carries the cursor of the next page of an export.
const NextCursorHeader = "Leadvault-Next-Cursor"

const maxPurpose = 200

// Directory manages users at the identity provider (Cognito on AWS).
type Directory interface {
	Invite(ctx context.Context, tenant, email string, role access.Role) (string, error)
	SetRole(ctx context.Context, userID string, from, to access.Role) error
	Remove(ctx context.Context, userID string) error
}

// Keys unwraps tenant keys.
type Keys interface {
	TenantKey(ctx context.Context, tenantID string, wrapped []byte) (*vault.TenantKey, error)
}

// Auditor appends to and reads the audit trail.
type Auditor interface {
	Append(ctx context.Context, r audit.Record) (audit.Record, error)
	List(ctx context.Context, tenant string, q audit.Query) ([]audit.Record, string, error)
	Verify(ctx context.Context, tenant string) (audit.Report, error)
}

var (
	_ Keys    = (*vault.Vault)(nil)
	_ Auditor = (*audit.Log)(nil)
)

// Deps are what a Handler works with.
type Deps struct {
	Store     *store.Store
	Keys      Keys
	Audit     Auditor
	Directory Directory
	Log       *slog.Logger
	// Now and NewID default to the clock and random 128-bit hex IDs.
	Now   func() time.Time
	NewID func() string
}

// Handler answers the controller API.
type Handler struct {
	Deps
	tenants *cache.Cache[string, store.Tenant]
}

// tenantTTL bounds how long a tenant's record (its wrapped key) is reused by a warm function;
// maxCachedTenants bounds how many are held (a miss costs one reload).
const (
	tenantTTL        = 5 * time.Minute
	maxCachedTenants = 1024
)

// New returns a Handler.
func New(d Deps) *Handler {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.NewID == nil {
		d.NewID = randomID
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	return &Handler{Deps: d, tenants: cache.New[string, store.Tenant](maxCachedTenants, tenantTTL, d.Now)}
}

func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// call is one request on its way through the handler.
type call struct {
	ctx    context.Context
	h      *Handler
	req    events.APIGatewayV2HTTPRequest
	rid    string
	route  *route
	params map[string]string
	caller access.Principal
	tenant store.Tenant
	data   *store.Scoped
	tk     *vault.TenantKey
	d      access.Decision
	// audited is set once the request's audit record is stored; a 2xx answer without one is refused.
	audited bool
}

// Handle answers one request. It returns an error only for faults it cannot describe to the client,
// which API Gateway answers 500.
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	c := &call{ctx: ctx, h: h, req: req, rid: req.RequestContext.RequestID}
	resp := h.serve(c)
	if resp.StatusCode < 300 && !c.audited {
		h.Log.Error("refused an unaudited answer", "request", c.rid, "route", c.route.key())
		resp = c.internal(errors.New("no audit record"))
	}
	return resp, nil
}

func (h *Handler) serve(c *call) events.APIGatewayV2HTTPResponse {
	path := c.req.RawPath
	if path == "" {
		path = c.req.RequestContext.HTTP.Path
	}
	rt, params, allow := match(c.req.RequestContext.HTTP.Method, path)
	if rt == nil && allow != "" {
		p := problem.New(http.StatusMethodNotAllowed, "method-not-allowed", "Method Not Allowed",
			"This resource does not accept "+c.req.RequestContext.HTTP.Method+".")
		p.Allow = allow
		return p.Response(c.rid, nil)
	}
	if rt == nil {
		return notFound(c.rid, "No such resource.")
	}
	c.route, c.params = rt, params

	var claims map[string]string
	if a := c.req.RequestContext.Authorizer; a != nil && a.JWT != nil {
		claims = a.JWT.Claims
	}
	p, err := access.FromClaims(claims)
	if err != nil {
		h.Log.Warn("unusable token", "request", c.rid, "error", err.Error())
		return problem.New(http.StatusUnauthorized, "unauthenticated", "Unauthorized",
			"The access token does not identify a user of this API.").Response(c.rid, nil)
	}
	c.caller = p

	tenant := p.Tenant
	named := strings.TrimSpace(header(c.req.Headers, TenantHeader))
	if p.Role == access.Support {
		if named == "" {
			return problem.New(http.StatusBadRequest, "tenant-required", "Tenant Required",
				"Support staff name the tenant they act on in the "+TenantHeader+" header.").Response(c.rid, nil)
		}
		tenant = named
	}
	if c.tenant, err = h.loadTenant(c.ctx, tenant); errors.Is(err, store.ErrNotFound) {
		if p.Role == access.Support {
			return notFound(c.rid, "No such tenant.")
		}
		return c.forbidden("Your account's tenant does not exist.")
	} else if err != nil {
		return c.internal(err)
	}
	c.data = h.Store.Scoped(tenant)
	if p.Role != access.Support && named != "" && named != tenant {
		return c.deny("staff of a tenant act on their own tenant only", "You can act on your own tenant only.")
	}

	var grant *access.Grant
	switch p.Role {
	case access.Support:
		g, err := c.data.ActiveGrant(c.ctx, p.UserID)
		switch {
		case err == nil:
			grant = &g
		case !errors.Is(err, store.ErrNotFound):
			return c.internal(err)
		}
	default:
		// The tenant's membership, not the token, says whether and as what the user may act: a removed
		// or demoted user's unexpired token is worth nothing more from that moment on (S2).
		m, err := c.data.Member(c.ctx, p.UserID)
		if errors.Is(err, store.ErrNotFound) {
			return c.deny("not a member of the tenant", "Your account is no longer a user of this tenant.")
		}
		if err != nil {
			return c.internal(err)
		}
		c.caller.Role = m.Role
	}
	c.d = access.Decide(c.caller, tenant, grant, h.Now())
	if why := rt.rule.refuse(c.caller.Role, c.d); why != "" {
		return c.deny(why, "Your role may not "+rt.what+".")
	}
	return rt.fn(c)
}

// loadTenant reads a tenant, reusing what a warm function read recently.
func (h *Handler) loadTenant(ctx context.Context, id string) (store.Tenant, error) {
	if id == "" {
		return store.Tenant{}, store.ErrNotFound
	}
	if t, ok := h.tenants.Get(id); ok {
		return t, nil
	}
	t, err := h.Store.Tenant(ctx, id)
	if err != nil {
		return store.Tenant{}, err
	}
	h.tenants.Add(id, t)
	return t, nil
}

// key returns the tenant's key, unwrapped once per request.
func (c *call) key() (*vault.TenantKey, error) {
	if c.tk == nil {
		tk, err := c.h.Keys.TenantKey(c.ctx, c.tenant.ID, c.tenant.WrappedKey)
		if err != nil {
			return nil, fmt.Errorf("tenant key %s: %w", c.tenant.ID, err)
		}
		c.tk = tk
	}
	return c.tk, nil
}

// record appends the request's audit record. Handlers call it before they change anything, and before
// they answer with what they read.
func (c *call) record(action string, targets ...string) error {
	tk, err := c.key()
	if err != nil {
		return err
	}
	purpose := strings.TrimSpace(header(c.req.Headers, PurposeHeader))
	if utf8.RuneCountInString(purpose) > maxPurpose {
		purpose = string([]rune(purpose)[:maxPurpose])
	}
	ip := ""
	if src := c.req.RequestContext.HTTP.SourceIP; src != "" {
		// The address is the staff member's personal data: the trail keeps a tenant-keyed pseudonym that
		// still shows which requests came from the same address.
		ip = "ip:" + tk.Pseudonym("audit-source-ip", src)
	}
	_, err = c.h.Audit.Append(c.ctx, audit.Record{
		Tenant: c.tenant.ID, ActorID: c.caller.UserID, ActorRole: string(c.caller.Role), Action: action,
		Targets: targets, Purpose: purpose, RequestID: c.rid, SourceIP: ip, GrantID: c.d.GrantID,
		Retention: time.Duration(c.tenant.AuditRetentionDays) * 24 * time.Hour,
	})
	if err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	c.audited = true
	return nil
}

// deny answers 403 and records the refusal in the tenant's trail (M4/S15).
func (c *call) deny(why, detail string) events.APIGatewayV2HTTPResponse {
	c.h.Log.Warn("access denied", "request", c.rid, "tenant", c.tenant.ID, "user", c.caller.UserID, "role", string(c.caller.Role), "route", c.route.key(), "reason", why)
	if err := c.record(ActionDenied, c.route.key()); err != nil {
		return c.internal(err)
	}
	return c.forbidden(detail)
}

func (c *call) forbidden(detail string) events.APIGatewayV2HTTPResponse {
	return problem.New(http.StatusForbidden, "forbidden", "Forbidden", detail).Response(c.rid, nil)
}

// internal answers 500 without saying why: the cause is logged with the request ID.
func (c *call) internal(err error) events.APIGatewayV2HTTPResponse {
	c.h.Log.Error("request failed", "request", c.rid, "tenant", c.tenant.ID, "error", err.Error())
	return problem.New(http.StatusInternalServerError, "internal", "Internal Server Error",
		"The request could not be completed; quote the request ID if it keeps failing.").Response(c.rid, nil)
}

func notFound(rid, detail string) events.APIGatewayV2HTTPResponse {
	return problem.New(http.StatusNotFound, "not-found", "Not Found", detail).Response(rid, nil)
}

func (c *call) json(status int, v any) events.APIGatewayV2HTTPResponse {
	b, err := json.Marshal(v)
	if err != nil {
		return c.internal(err)
	}
	return events.APIGatewayV2HTTPResponse{StatusCode: status, Body: string(b), Headers: map[string]string{
		"Content-Type": "application/json", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
	}}
}

func (c *call) noContent() events.APIGatewayV2HTTPResponse {
	return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusNoContent, Headers: map[string]string{"Cache-Control": "no-store"}}
}

func header(h map[string]string, name string) string {
	if v, ok := h[strings.ToLower(name)]; ok {
		return v
	}
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}
