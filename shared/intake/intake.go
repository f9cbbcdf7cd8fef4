// Package intake turns a submitted form into a stored, encrypted lead: it maps the posted fields as the
// form instructs, normalises and validates them, guards free text against special-category data, applies
// the rate limits, and stores the lead idempotently.
package intake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"leadvault/shared/cache"
	"leadvault/shared/domain"
	"leadvault/shared/formbody"
	"leadvault/shared/guard"
	"leadvault/shared/normalize"
	"leadvault/shared/store"
	"leadvault/shared/vault"
)

// Store is what intake needs from the table.
type Store interface {
	FormByID(ctx context.Context, formID string) (domain.Form, error)
	Tenant(ctx context.Context, id string) (domain.Tenant, error)
	// Scoped is the only way to the tenant's data (leads, counters, idempotency records).
	Scoped(tenant string) *store.Scoped
}

// Keys unwraps tenant keys.
type Keys interface {
	TenantKey(ctx context.Context, tenantID string, wrapped []byte) (*vault.TenantKey, error)
}

var (
	_ Store = (*store.Store)(nil)
	_ Keys  = (*vault.Vault)(nil)
)

// Idempotency windows.
const (
	KeyedIdempotencyTTL = 24 * time.Hour   // with an Idempotency-Key header
	BodyIdempotencyTTL  = 10 * time.Minute // without: the same form and normalised body
)

// ConfigTTL is how long an intake instance reuses a form's configuration and a tenant's record: a form
// disabled through the controller API may still take submissions on warm instances for this long.
const ConfigTTL = 30 * time.Second

// Length limits per lead field, in bytes after normalisation.
var maxLen = map[string]int{
	domain.FieldName: 200, domain.FieldEmail: 254, domain.FieldPhone: 40, domain.FieldAddress: 500,
	domain.FieldCompany: 200, domain.FieldMessage: 10_000,
}

const maxCustomLen = 2000

// Errors the HTTP adapter maps to statuses.
var (
	ErrFormNotFound           = errors.New("form not found or disabled")
	ErrAttachmentsNotAccepted = errors.New("this form does not accept file attachments")
	ErrIdempotencyConflict    = store.ErrIdempotencyConflict
	// ErrContractEnded means the form's tenant's contract has ended: its forms take nothing more.
	ErrContractEnded = store.ErrContractEnded
)

// FieldError is one validation problem, named by the posted field. Messages never repeat the value.
type FieldError struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// ValidationError lists every problem with a submission.
type ValidationError struct{ Problems []FieldError }

func (e *ValidationError) Error() string {
	codes := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		codes[i] = p.Field + ":" + p.Code
	}
	return "validation failed: " + strings.Join(codes, ", ")
}

// RateLimitedError says the submission was refused for the rest of the window.
type RateLimitedError struct {
	Scope      string // "form" or "ip"
	RetryAfter time.Duration
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("rate limit per %s reached; retry after %s", e.Scope, e.RetryAfter)
}

// Submission is one POST to a form, or one e-mail to its alias, already parsed.
type Submission struct {
	Body formbody.Body
	// Origin is the browser origin that posted (from Origin or Referer), "" if none was sent.
	Origin string
	// ClientIP is used only for the per-IP limit, as a keyed hash; it is never stored.
	ClientIP       string
	IdempotencyKey string

	// Mail marks an e-mail: no browser waits for an answer, so rules only a form can satisfy (required
	// fields, the consent checkbox) do not apply, over-long text is truncated and flagged rather than
	// refused, and the guard's reject policy redacts. Via names the alias address it came through.
	Mail bool
	Via  string
	// Spam marks a submission found to be spam outside intake (SES's spam verdict).
	Spam bool
	// Flags are codes the caller's own reading recorded (mail: "mime_defects:…"), copied onto the lead.
	// Like every flag they never hold data.
	Flags []string
}

// Result says what happened to a submission.
type Result struct {
	LeadID string
	// Created is false when the submission repeats an earlier one; LeadID is then the earlier lead's.
	Created bool
	Spam    bool
}

// Service runs intake.
type Service struct {
	store Store
	keys  Keys
	log   *slog.Logger
	now   func() time.Time
	newID func() string

	forms   *cache.Cache[string, domain.Form]
	tenants *cache.Cache[string, domain.Tenant]
}

// Cache sizes: enough for every form and tenant a warm instance sees; a miss costs one reload.
const (
	maxCachedForms   = 4096
	maxCachedTenants = 1024
)

// New returns an intake Service.
func New(st Store, keys Keys, log *slog.Logger) *Service {
	s := &Service{
		store: st, keys: keys, log: log, now: time.Now,
		newID: func() string { return uuid.Must(uuid.NewV7()).String() },
	}
	// The caches read the clock through s, so WithClock applies to them too.
	clock := func() time.Time { return s.now() }
	s.forms = cache.New[string, domain.Form](maxCachedForms, ConfigTTL, clock)
	s.tenants = cache.New[string, domain.Tenant](maxCachedTenants, ConfigTTL, clock)
	return s
}

// WithClock returns the service reading time from now (tests).
func (s *Service) WithClock(now func() time.Time) *Service {
	s.now = now
	return s
}

// Form returns an enabled form by its public ID. Configuration is cached for less than ConfigTTL (30 s),
// so a change takes effect within that time.
func (s *Service) Form(ctx context.Context, formID string) (domain.Form, error) {
	if !domain.ValidID(formID) {
		return domain.Form{}, ErrFormNotFound
	}
	f, ok := s.forms.Get(formID)
	if !ok {
		var err error
		f, err = s.store.FormByID(ctx, formID)
		if errors.Is(err, store.ErrNotFound) {
			return domain.Form{}, ErrFormNotFound
		}
		if err != nil {
			return domain.Form{}, fmt.Errorf("load form %s: %w", formID, err)
		}
		s.forms.Add(formID, f)
	}
	if !f.Enabled {
		return domain.Form{}, ErrFormNotFound
	}
	t, err := s.tenant(ctx, f.TenantID)
	if err != nil {
		return domain.Form{}, err
	}
	if t.Contract.State(s.now()) != domain.ContractActive {
		// The form is returned with the error, so the refusal can be worded as the form asks. The store
		// checks the end again inside the lead's transaction, whatever is cached here.
		return f, ErrContractEnded
	}
	return f, nil
}

// tenant reads a tenant's record, cached like the forms.
func (s *Service) tenant(ctx context.Context, tenantID string) (domain.Tenant, error) {
	if t, ok := s.tenants.Get(tenantID); ok {
		return t, nil
	}
	t, err := s.store.Tenant(ctx, tenantID)
	if err != nil {
		return domain.Tenant{}, fmt.Errorf("load tenant %s: %w", tenantID, err)
	}
	s.tenants.Add(tenantID, t)
	return t, nil
}

func (s *Service) tenantKey(ctx context.Context, tenantID string) (*vault.TenantKey, error) {
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	return s.keys.TenantKey(ctx, tenantID, t.WrappedKey)
}

// Submit validates and stores a submission to form f.
func (s *Service) Submit(ctx context.Context, f domain.Form, sub Submission) (Result, error) {
	tk, err := s.tenantKey(ctx, f.TenantID)
	if err != nil {
		return Result{}, err
	}
	limited, err := s.countHit(ctx, tk, f, sub.ClientIP)
	if err != nil {
		return Result{}, err
	}
	if len(sub.Body.Files) > 0 && !f.AllowAttachments {
		return Result{}, ErrAttachmentsNotAccepted
	}
	now := s.now().UTC()
	lead, err := Build(f, sub, now)
	if err != nil && limited == nil {
		return Result{}, err
	}
	idem := idempotency(tk, f, sub.IdempotencyKey, lead)
	if limited != nil {
		// A retry of an accepted submission still gets its answer, even when the window is full.
		if id, err := s.store.Scoped(f.TenantID).EarlierSubmission(ctx, idem); err == nil {
			return Result{LeadID: id, Spam: lead.Spam}, nil
		}
		return Result{}, limited
	}
	lead.ID = s.newID()
	id, created, err := s.store.Scoped(tk.Tenant()).PutLead(ctx, tk, lead, idem)
	if err != nil {
		return Result{}, fmt.Errorf("store submission to form %s: %w", f.ID, err)
	}
	s.log.InfoContext(ctx, "lead stored", "tenant", f.TenantID, "form", f.ID, "lead", id,
		"created", created, "spam", lead.Spam, "flags", lead.Flags)
	return Result{LeadID: id, Created: created, Spam: lead.Spam}, nil
}

// SubmitMail stores an e-mail to form f. The mail's Message-ID (or, lacking one, its storage key) is the
// idempotency key, so a redelivered message stores nothing twice.
func (s *Service) SubmitMail(ctx context.Context, f domain.Form, sub Submission) (Result, error) {
	if !sub.Mail || sub.IdempotencyKey == "" {
		return Result{}, errors.New("submit mail: not a mail submission with a message ID")
	}
	tk, err := s.tenantKey(ctx, f.TenantID)
	if err != nil {
		return Result{}, err
	}
	lead, err := Build(f, sub, s.now().UTC())
	if err != nil {
		return Result{}, err
	}
	lead.ID = s.newID()
	id, created, err := s.store.Scoped(tk.Tenant()).PutLead(ctx, tk, lead, idempotency(tk, f, sub.IdempotencyKey, lead))
	if errors.Is(err, store.ErrIdempotencyConflict) {
		// The same Message-ID with other content: a different mail reusing an ID. Keep it; key it by
		// its content instead, which is what a retry would repeat.
		id, created, err = s.store.Scoped(tk.Tenant()).PutLead(ctx, tk, lead, idempotency(tk, f, "", lead))
	}
	if err != nil {
		return Result{}, fmt.Errorf("store mail to form %s: %w", f.ID, err)
	}
	s.log.InfoContext(ctx, "lead stored", "tenant", f.TenantID, "form", f.ID, "lead", id, "source", "email",
		"created", created, "spam", lead.Spam, "flags", lead.Flags)
	return Result{LeadID: id, Created: created, Spam: lead.Spam}, nil
}

// countHit counts the submission against the form's and the client's windows, both at once.
func (s *Service) countHit(ctx context.Context, tk *vault.TenantKey, f domain.Form, clientIP string) (*RateLimitedError, error) {
	limits := f.Limits()
	type hit struct {
		n   int64
		end time.Time
		err error
	}
	ipHit := make(chan hit, 1)
	go func() {
		n, end, err := s.store.Scoped(f.TenantID).CountHit(ctx, "IP#"+f.ID+"#"+tk.Pseudonym("client-ip", clientIP))
		ipHit <- hit{n, end, err}
	}()
	n, end, err := s.store.Scoped(f.TenantID).CountHit(ctx, "F#"+f.ID)
	ip := <-ipHit
	if err = errors.Join(err, ip.err); err != nil {
		return nil, fmt.Errorf("rate limit form %s: %w", f.ID, err)
	}
	retry := func(end time.Time) time.Duration { return end.Sub(s.now()).Round(time.Second) + time.Second }
	switch {
	case ip.n > int64(limits.PerIPPerMinute):
		return &RateLimitedError{Scope: "ip", RetryAfter: retry(ip.end)}, nil
	case n > int64(limits.PerFormPerMinute):
		return &RateLimitedError{Scope: "form", RetryAfter: retry(end)}, nil
	}
	return nil, nil
}

func idempotency(tk *vault.TenantKey, f domain.Form, header string, lead domain.Lead) store.Idempotency {
	hash := tk.Pseudonym("request", requestFingerprint(f.ID, lead))
	if header != "" {
		return store.Idempotency{Key: "k." + tk.Pseudonym("idempotency-key", f.ID+"\x00"+header), RequestHash: hash, TTL: KeyedIdempotencyTTL}
	}
	return store.Idempotency{Key: "b." + hash, RequestHash: hash, TTL: BodyIdempotencyTTL}
}

// requestFingerprint is a canonical rendering of what a submission asks to store.
func requestFingerprint(formID string, l domain.Lead) string {
	var b strings.Builder
	w := func(k, v string) { b.WriteString(k); b.WriteByte(0); b.WriteString(v); b.WriteByte(0) }
	w("form", formID)
	for _, f := range l.Personal.Fields() {
		w(f.Name, f.Value)
	}
	if l.Consent != nil {
		w("consent", fmt.Sprint(l.Consent.Given))
	}
	w("spam", fmt.Sprint(l.Spam))
	return b.String()
}

// consentGiven lists the values a checkbox sends for "yes".
func consentGiven(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "on", "true", "yes", "1":
		return true
	}
	return false
}

// phoneRule is the normalize rule for a form's phone validation.
func phoneRule(f domain.Form) normalize.PhoneRule {
	if f.PhoneRule() == domain.PhoneStrict {
		return normalize.PhoneStrict
	}
	return normalize.PhonePossible
}

// Build maps, normalises and validates a submission into a lead (without ID) as of now. A honeypot
// submission is built leniently and marked spam, so a bot sees the same answer as a person. The lead is
// returned even with a ValidationError so the caller can still recognise a retry.
func Build(f domain.Form, sub Submission, now time.Time) (domain.Lead, error) {
	lead := domain.Lead{
		TenantID: f.TenantID, FormID: f.ID, CampaignID: f.CampaignID, Source: domain.SourceForm, CreatedAt: now,
		Spam: sub.Spam, Flags: slices.Clone(sub.Flags),
	}
	if sub.Mail {
		lead.Source = domain.SourceEmail
	}
	fields := sub.Body.Fields
	if !sub.Mail && f.Honeypot != "" && strings.TrimSpace(strings.Join(fields[f.Honeypot], "")) != "" {
		lead.Spam = true
	}
	var problems []FieldError
	problem := func(field, code, msg string) {
		problems = append(problems, FieldError{Field: field, Code: code, Message: msg})
	}

	var dropped []string
	postedName := map[string]string{} // lead field → posted field, for error messages
	for posted, values := range fields {
		target, mapped := f.Fields[posted]
		if !mapped {
			if posted != f.Honeypot && (f.Consent == nil || posted != f.Consent.Field) {
				dropped = append(dropped, posted)
			}
			continue
		}
		postedName[target] = posted
		value := cleanValue(target, posted, strings.Join(values, ", "))
		if value == "" {
			continue
		}
		switch target {
		case domain.FieldEmail:
			v, err := normalize.Email(value)
			if err != nil {
				problem(posted, "invalid_email", "must be a valid e-mail address such as name@example.com")
				if !lead.Spam {
					continue
				}
				v = value
			}
			value = v
		case domain.FieldPhone:
			v, valid, err := normalize.ParsePhone(value, f.Region(), phoneRule(f))
			if err != nil {
				problem(posted, "invalid_phone", "must be a valid phone number, with country code if not "+f.Region())
				if !lead.Spam {
					continue
				}
				v, valid = value, true // a spam lead keeps what was posted, unflagged
			}
			if !valid {
				lead.Flags = append(lead.Flags, domain.FlagPhoneUnverified)
			}
			value = v
		}
		limit, ok := maxLen[target]
		if !ok {
			limit = maxCustomLen
		}
		if len(value) > limit && sub.Mail {
			value = truncate(value, limit)
			lead.Flags = append(lead.Flags, "truncated:"+target)
		}
		if len(value) > limit {
			problem(posted, "too_long", fmt.Sprintf("must be at most %d bytes", limit))
			continue
		}
		lead.Personal.Set(target, value)
	}
	if sub.Mail {
		// What a mail lacks or gets wrong is not the sender's to fix: keep what is valid.
		problems = nil
	}
	for _, r := range f.Required {
		if sub.Mail {
			break
		}
		if lead.Personal.Get(r) == "" && !hasProblem(problems, postedName[r]) {
			name := postedName[r]
			if name == "" {
				name = postedFor(f, r)
			}
			problem(name, "required", "is required")
		}
	}
	if c := f.Consent; c != nil && !sub.Mail {
		given := consentGiven(strings.Join(fields[c.Field], ""))
		if c.Required && !given {
			problem(c.Field, "consent_required", "consent must be given to submit this form")
		}
		lead.Consent = &domain.ConsentRecord{Given: given, Version: c.Version, Source: consentSource(f, sub.Origin)}
		if given {
			lead.Consent.GivenAt = now
		}
	}
	guardFreeText(f, &lead, postedName, sub.Mail, problem)

	lead.ExpiresAt = now.Add(f.Retention(lead.Spam))
	if len(dropped) > 0 || sub.Origin != "" || sub.Via != "" || len(sub.Body.Files) > 0 {
		lead.Meta = map[string]string{}
		if len(dropped) > 0 {
			sort.Strings(dropped)
			// Field names only: the values of unmapped fields are not ours to keep (E1).
			lead.Meta["droppedFields"] = strings.Join(dropped, ",")
		}
		if sub.Origin != "" {
			lead.Meta["origin"] = sub.Origin
		}
		if sub.Via != "" {
			lead.Meta["via"] = sub.Via
		}
		if n := len(sub.Body.Files); n > 0 {
			lead.Meta["attachmentsNotStored"] = fmt.Sprint(n)
		}
		if sub.Mail {
			for _, file := range sub.Body.Files {
				lead.Personal.Attachments = append(lead.Personal.Attachments, domain.Attachment{Name: file.Filename, Size: file.Size})
			}
		}
	}
	if lead.Spam || len(problems) == 0 {
		return lead, nil
	}
	sort.SliceStable(problems, func(i, j int) bool { return problems[i].Field < problems[j].Field })
	return lead, &ValidationError{Problems: problems}
}

func hasProblem(ps []FieldError, field string) bool {
	for _, p := range ps {
		if p.Field == field {
			return true
		}
	}
	return false
}

// postedFor finds the posted name of a lead field, for a required field that was not posted at all.
func postedFor(f domain.Form, target string) string {
	for posted, t := range f.Fields {
		if t == target {
			return posted
		}
	}
	return target
}

func consentSource(f domain.Form, origin string) string {
	if origin == "" {
		return "form:" + f.ID
	}
	return "form:" + f.ID + " " + origin
}

// guardFreeText applies the form's special-category policy to every free-text field (all but e-mail and
// phone, which are validated by format). A spam submission is always redacted, never refused.
func guardFreeText(f domain.Form, lead *domain.Lead, postedName map[string]string, mail bool, problem func(field, code, msg string)) {
	policy := f.Policy()
	if lead.Spam || (mail && policy == domain.PolicyReject) {
		// Nobody waits for an answer to refuse: keep the rest and remove what must not be kept.
		policy = domain.PolicyRedact
	}
	targets := []string{domain.FieldName, domain.FieldAddress, domain.FieldCompany, domain.FieldMessage}
	for k := range lead.Personal.Custom {
		targets = append(targets, domain.CustomPrefix+k)
	}
	sort.Strings(targets)
	for _, target := range targets {
		value := lead.Personal.Get(target)
		if value == "" {
			continue
		}
		findings := guard.Scan(value)
		if len(findings) == 0 {
			continue
		}
		kinds := map[guard.Kind]bool{}
		for _, fd := range findings {
			kinds[fd.Kind] = true
		}
		for _, kind := range []guard.Kind{guard.KindCPR, guard.KindCard} {
			if !kinds[kind] {
				continue
			}
			switch policy {
			case domain.PolicyReject:
				problem(postedName[target], "special_category_data", describe(kind)+" must not be sent in this field")
			case domain.PolicyRedact:
				lead.Flags = append(lead.Flags, "redacted:"+string(kind)+":"+target)
			case domain.PolicyFlag:
				lead.Flags = append(lead.Flags, "flagged:"+string(kind)+":"+target)
			}
		}
		if policy == domain.PolicyRedact {
			redacted, _ := guard.Redact(value)
			lead.Personal.Set(target, redacted)
		}
	}
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func describe(k guard.Kind) string {
	if k == guard.KindCPR {
		return "a CPR number"
	}
	return "a payment card number"
}
