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
	"leadvault/shared/domain"
	"leadvault/shared/httpapi"
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

// Store is all the controller reaches of the table: the caller's tenant record, and the tenant-scoped
// view through which every handler reads and writes. Nothing unscoped is in it, so a handler cannot reach
// another tenant's data by mistake: every key it touches is built by store.Scoped for the request's tenant.
type Store interface {
	Tenant(ctx context.Context, id string) (domain.Tenant, error)
	Scoped(tenant string) *store.Scoped
}

var (
	_ Keys    = (*vault.Vault)(nil)
	_ Auditor = (*audit.Log)(nil)
	_ Store   = (*store.Store)(nil)
)

// Deps are what a Handler works with.
type Deps struct {
	Store     Store
	Keys      Keys
	Audit     Auditor
	Directory Directory
	// Links and ExportBucket hand out the archives of access and export requests.
	Links        Links
	ExportBucket string
	Log          *slog.Logger
	// Now and NewID default to the clock and random 128-bit hex IDs.
	Now   func() time.Time
	NewID func() string
}

// Handler answers the controller API.
type Handler struct {
	Deps
	tenants *cache.Cache[string, domain.Tenant]
	router  *httpapi.Router
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
	h := &Handler{Deps: d, tenants: cache.New[string, domain.Tenant](maxCachedTenants, tenantTTL, d.Now)}
	h.router = httpapi.NewRouter(d.Log, nil)
	for i := range routes {
		rt := &routes[i]
		h.router.Handle(rt.key(), func(w http.ResponseWriter, r *http.Request) error { return h.serve(w, r, rt) })
	}
	return h
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
	w      http.ResponseWriter
	r      *http.Request
	rid    string
	route  *route
	caller access.Principal
	tenant domain.Tenant
	data   *store.Scoped
	tk     *vault.TenantKey
	d      access.Decision
	// audited is set once the request's audit record is stored; a 2xx answer without one is refused.
	audited bool
	// auditSeq is the sequence number of the request's last audit record.
	auditSeq int64
}

// Handle is the Lambda entry point: it answers one API Gateway HTTP API event. It returns an error only
// for faults it cannot describe to the client, which API Gateway answers 500.
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return h.router.Lambda(ctx, req)
}

// ServeHTTP answers one request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.router.ServeHTTP(w, r) }

// serve authenticates and authorizes the caller for rt, then runs its handler.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request, rt *route) error {
	c := &call{ctx: r.Context(), h: h, w: w, r: r, rid: httpapi.RequestID(r), route: rt}
	p, err := access.FromClaims(httpapi.Claims(r))
	if err != nil {
		h.Log.Warn("unusable token", "request", c.rid, "error", err.Error())
		return problem.New(http.StatusUnauthorized, "unauthenticated", "Unauthorized",
			"The access token does not identify a user of this API.")
	}
	c.caller = p

	tenant := p.Tenant
	named := strings.TrimSpace(r.Header.Get(TenantHeader))
	if p.Role == access.Support {
		if named == "" {
			return problem.New(http.StatusBadRequest, "tenant-required", "Tenant Required",
				"Support staff name the tenant they act on in the "+TenantHeader+" header.")
		}
		tenant = named
	}
	if c.tenant, err = h.loadTenant(c.ctx, tenant); errors.Is(err, store.ErrNotFound) {
		if p.Role == access.Support {
			return notFound("No such tenant.")
		}
		return forbidden("Your account's tenant does not exist.")
	} else if err != nil {
		return err
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
			return err
		}
	default:
		// The tenant's membership, not the token, says whether and as what the user may act: a removed
		// or demoted user's unexpired token is worth nothing more from that moment on (S2).
		m, err := c.data.Member(c.ctx, p.UserID)
		if errors.Is(err, store.ErrNotFound) {
			return c.deny("not a member of the tenant", "Your account is no longer a user of this tenant.")
		}
		if err != nil {
			return err
		}
		c.caller.Role = m.Role
	}
	c.d = access.Decide(c.caller, tenant, grant, h.Now())
	if why := rt.rule.refuse(c.caller.Role, c.d); why != "" {
		return c.deny(why, "Your role may not "+rt.what+".")
	}
	if rt.method != http.MethodGet && !rt.whileEnded {
		// A change reads the tenant afresh, so the end of its contract takes effect at once, whatever a warm
		// function cached; reads, far more common, keep the cache.
		t, err := h.Store.Tenant(c.ctx, tenant)
		if err != nil {
			return err
		}
		h.tenants.Add(tenant, t)
		if t.Contract.State(h.Now()) != domain.ContractActive {
			return readOnlyRefusal(t)
		}
	}
	if err := rt.fn(c); err != nil {
		var prob *problem.Problem
		if !errors.As(err, &prob) {
			return fmt.Errorf("tenant %s: %w", c.tenant.ID, err)
		}
		return err
	}
	return nil
}

// loadTenant reads a tenant, reusing what a warm function read recently.
func (h *Handler) loadTenant(ctx context.Context, id string) (domain.Tenant, error) {
	if id == "" {
		return domain.Tenant{}, store.ErrNotFound
	}
	if t, ok := h.tenants.Get(id); ok {
		return t, nil
	}
	t, err := h.Store.Tenant(ctx, id)
	if err != nil {
		return domain.Tenant{}, err
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
	purpose := strings.TrimSpace(httpapi.Header(c.r, PurposeHeader))
	if utf8.RuneCountInString(purpose) > maxPurpose {
		purpose = string([]rune(purpose)[:maxPurpose])
	}
	ip := ""
	if src := httpapi.SourceIP(c.r); src != "" {
		// The address is the staff member's personal data: the trail keeps a tenant-keyed pseudonym that
		// still shows which requests came from the same address.
		ip = "ip:" + tk.Pseudonym("audit-source-ip", src)
	}
	rec, err := c.h.Audit.Append(c.ctx, audit.Record{
		Tenant: c.tenant.ID, ActorID: c.caller.UserID, ActorRole: string(c.caller.Role), Action: action,
		Targets: targets, Purpose: purpose, RequestID: c.rid, SourceIP: ip, GrantID: c.d.GrantID,
		Retention: time.Duration(c.tenant.AuditRetentionDays) * 24 * time.Hour,
	})
	if err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	c.audited, c.auditSeq = true, rec.Seq
	return nil
}

// deny answers 403 and records the refusal in the tenant's trail (M4/S15).
func (c *call) deny(why, detail string) error {
	c.h.Log.Warn("access denied", "request", c.rid, "tenant", c.tenant.ID, "user", c.caller.UserID, "role", string(c.caller.Role), "route", c.route.key(), "reason", why)
	if err := c.record(ActionDenied, c.route.key()); err != nil {
		return err
	}
	return forbidden(detail)
}

func forbidden(detail string) *problem.Problem {
	return problem.New(http.StatusForbidden, "forbidden", "Forbidden", detail)
}

func notFound(detail string) *problem.Problem { return httpapi.NotFound(detail) }

// errUnaudited refuses a successful answer without an audit record: every read and change is recorded
// first, and a handler that forgot is a bug, answered 500 rather than let through.
var errUnaudited = errors.New("no audit record")

// write answers status with body; a 2xx answer needs the request's audit record.
func (c *call) write(status int, contentType string, body []byte) error {
	if status < 300 && !c.audited {
		c.h.Log.Error("refused an unaudited answer", "request", c.rid, "route", c.route.key())
		return errUnaudited
	}
	h := c.w.Header()
	h.Set("Cache-Control", "no-store")
	if contentType != "" {
		h.Set("Content-Type", contentType)
		h.Set("X-Content-Type-Options", "nosniff")
	}
	c.w.WriteHeader(status)
	_, err := c.w.Write(body)
	return err
}

func (c *call) json(status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.write(status, "application/json", b)
}

func (c *call) noContent() error { return c.write(http.StatusNoContent, "", nil) }
