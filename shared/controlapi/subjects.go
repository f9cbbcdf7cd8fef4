package controlapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"leadvault/shared/access"
	"leadvault/shared/domain"
	"leadvault/shared/httpapi"
	"leadvault/shared/layout"
	"leadvault/shared/normalize"
	"leadvault/shared/problem"
	"leadvault/shared/store"
)

// Links makes expiring download links to archives in the exports bucket.
type Links interface {
	GetURL(ctx context.Context, bucket, key, filename string, expires time.Duration, now time.Time) (string, error)
}

// Limits of a subject request's fields.
const (
	maxReference = 200
	maxNote      = 2000
	// DownloadLinkTTL is how long the link a download answer redirects to works; the answer itself is
	// audited each time, so a link is made for each download.
	DownloadLinkTTL = 15 * time.Minute
	// RequestIdempotencyTTL is how long an Idempotency-Key on POST /v1/subject-requests is remembered.
	RequestIdempotencyTTL = 24 * time.Hour
	// clockSkew is how far in the future an instruction's receipt time may lie (clocks differ).
	clockSkew = 5 * time.Minute
)

// availableKinds are the kinds the jobs function carries out today; the others are refused with a clear
// problem rather than accepted and failed later.
var availableKinds = []domain.RequestKind{domain.KindAccess, domain.KindExport, domain.KindErasure}

type subjectRequestBody struct {
	Kind    string `json:"kind"`
	Subject struct {
		Email string `json:"email"`
		Phone string `json:"phone"`
		// Region is the country (ISO 3166-1 alpha-2) a phone number without a country code is read in.
		Region string `json:"region"`
	} `json:"subject"`
	Instruction struct {
		Reference  string `json:"reference"`
		ReceivedAt string `json:"receivedAt"`
		Note       string `json:"note"`
	} `json:"instruction"`
}

type requestView struct {
	ID          string          `json:"id"`
	Kind        string          `json:"kind"`
	State       string          `json:"state"`
	DueAt       time.Time       `json:"dueAt"`
	CreatedAt   time.Time       `json:"createdAt"`
	UpdatedAt   time.Time       `json:"updatedAt"`
	CreatedBy   string          `json:"createdBy"`
	Instruction instructionView `json:"instruction"`
	Found       foundView       `json:"found"`
	Erased      int64           `json:"erased"`
	Result      *resultView     `json:"result,omitempty"`
	Failure     string          `json:"failure,omitempty"`
	// Audit lists the request's records in the audit trail.
	Audit string `json:"audit"`
}

type instructionView struct {
	Reference  string    `json:"reference"`
	ReceivedAt time.Time `json:"receivedAt"`
	Note       string    `json:"note,omitempty"`
}

type foundView struct {
	Leads      int64            `json:"leads"`
	BySource   map[string]int64 `json:"bySource"`
	ByCampaign map[string]int64 `json:"byCampaign"`
	Notified   int64            `json:"notified"`
}

type resultView struct {
	JSON      string    `json:"json"`
	CSV       string    `json:"csv"`
	ExpiresAt time.Time `json:"expiresAt"`
}

func viewRequest(r domain.SubjectRequest, now time.Time) requestView {
	v := requestView{ID: r.ID, Kind: string(r.Kind), State: string(r.State), DueAt: r.DueAt, CreatedAt: r.CreatedAt,
		UpdatedAt: r.UpdatedAt, CreatedBy: r.CreatedBy, Erased: r.Erased, Failure: r.Failure,
		Instruction: instructionView{Reference: r.Instruction.Reference, ReceivedAt: r.Instruction.ReceivedAt, Note: r.Instruction.Note},
		Found: foundView{Leads: r.Found.Leads, BySource: orEmpty(r.Found.BySource), ByCampaign: orEmpty(r.Found.Campaigns),
			Notified: r.Found.Notified},
		Audit: "/v1/audit?target=" + requestTarget(r.ID),
	}
	if r.Result != "" && now.Before(r.ResultExpires) {
		base := "/v1/subject-requests/" + r.ID + "/result?format="
		v.Result = &resultView{JSON: base + "json", CSV: base + "csv", ExpiresAt: r.ResultExpires}
	}
	return v
}

func orEmpty(m map[string]int64) map[string]int64 {
	if m == nil {
		return map[string]int64{}
	}
	return m
}

func requestTarget(id string) string { return "request:" + id }

// createSubjectRequest records a data subject's request on the controller's instruction (M7) and queues
// it; the jobs function carries it out.
func createSubjectRequest(c *call) error {
	var body subjectRequestBody
	if p := c.decode(&body); p != nil {
		return p
	}
	kind := domain.RequestKind(body.Kind)
	var errs []problem.FieldError
	switch {
	case !kind.Valid():
		errs = append(errs, problem.FieldError{Field: "kind", Code: "invalid", Message: "kind must be one of " + kindList(domain.RequestKinds) + "."})
	case !isAvailable(kind):
		errs = append(errs, problem.FieldError{Field: "kind", Code: "not_available",
			Message: fmt.Sprintf("Requests of kind %q are not carried out yet; available: %s.", kind, kindList(availableKinds))})
	}
	email, phone, subjectErrs := normaliseSubject(body.Subject.Email, body.Subject.Phone, body.Subject.Region)
	errs = append(errs, subjectErrs...)
	ref := normalize.SingleLine(body.Instruction.Reference)
	if ref == "" || utf8.RuneCountInString(ref) > maxReference {
		errs = append(errs, problem.FieldError{Field: "instruction.reference", Code: "invalid",
			Message: fmt.Sprintf("instruction.reference is your own reference for the instruction, 1 to %d characters.", maxReference)})
	}
	received, err := time.Parse(time.RFC3339, body.Instruction.ReceivedAt)
	now := c.h.Now().UTC()
	switch {
	case err != nil:
		errs = append(errs, problem.FieldError{Field: "instruction.receivedAt", Code: "invalid",
			Message: "instruction.receivedAt is when you received the request, as an RFC 3339 time, e.g. 2026-11-30T09:00:00Z."})
	case received.After(now.Add(clockSkew)):
		errs = append(errs, problem.FieldError{Field: "instruction.receivedAt", Code: "in_future",
			Message: "instruction.receivedAt lies in the future."})
	}
	note := normalize.FreeText(body.Instruction.Note)
	if utf8.RuneCountInString(note) > maxNote {
		errs = append(errs, problem.FieldError{Field: "instruction.note", Code: "too_long",
			Message: fmt.Sprintf("instruction.note may be at most %d characters.", maxNote)})
	}
	if len(errs) > 0 {
		return invalid(errs...)
	}
	if !kind.ReadOnly() && c.caller.Role != access.Admin {
		return c.deny("only admins start requests that change data", fmt.Sprintf("Your role may not start %s requests; members may start access and export requests.", kind))
	}
	key := httpapi.Header(c.r, "Idempotency-Key")
	if len(key) > 255 || strings.IndexFunc(key, func(r rune) bool { return r < 0x20 || r > 0x7e }) >= 0 {
		return problem.New(http.StatusBadRequest, "invalid-idempotency-key", "Invalid Idempotency-Key",
			"The Idempotency-Key header must be at most 255 printable ASCII characters.")
	}
	tk, err := c.key()
	if err != nil {
		return err
	}
	req := domain.SubjectRequest{TenantID: c.tenant.ID, ID: c.h.NewID(), Kind: kind, State: domain.StateReceived,
		Subject:     store.IndexSubject(tk, email, phone),
		Instruction: domain.Instruction{Reference: ref, ReceivedAt: received.UTC(), Note: note},
		DueAt:       domain.DueAfter(received.UTC()), CreatedAt: now, UpdatedAt: now, CreatedBy: c.caller.UserID}
	var idem store.Idempotency
	if key != "" {
		fingerprint := strings.Join([]string{string(kind), email, phone, ref, received.UTC().Format(time.RFC3339), note}, "\x00")
		idem = store.Idempotency{Key: "sr." + tk.Pseudonym("idempotency-key", c.caller.UserID+"\x00"+key),
			RequestHash: tk.Pseudonym("subject-request", fingerprint), TTL: RequestIdempotencyTTL}
	}
	if err := c.record(ActionSubjectRequestCreate, requestTarget(req.ID), "kind:"+string(kind)); err != nil {
		return err
	}
	created, _, err := c.data.CreateSubjectRequest(c.ctx, tk, req, idem)
	if errors.Is(err, store.ErrIdempotencyConflict) {
		return problem.New(http.StatusUnprocessableEntity, "idempotency-key-reused", "Idempotency Key Reused",
			"This Idempotency-Key was used for a different request; use a new key for a new request.")
	}
	if err != nil {
		return err
	}
	c.w.Header().Set("Location", "/v1/subject-requests/"+created.ID)
	return c.json(http.StatusAccepted, viewRequest(created, now))
}

func isAvailable(k domain.RequestKind) bool {
	for _, a := range availableKinds {
		if a == k {
			return true
		}
	}
	return false
}

func kindList(kinds []domain.RequestKind) string {
	s := make([]string, len(kinds))
	for i, k := range kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// normaliseSubject normalises a subject's identifiers exactly as intake does, so that their blind indexes
// match the leads'; at least one is needed.
func normaliseSubject(email, phone, region string) (string, string, []problem.FieldError) {
	var errs []problem.FieldError
	email, phone = strings.TrimSpace(email), strings.TrimSpace(phone)
	if email == "" && phone == "" {
		return "", "", []problem.FieldError{{Field: "subject", Code: "required", Message: "Name the data subject by subject.email, subject.phone or both."}}
	}
	if email != "" {
		e, err := normalize.Email(email)
		if err != nil {
			errs = append(errs, problem.FieldError{Field: "subject.email", Code: "invalid_email", Message: "must be a valid e-mail address such as name@example.com"})
		}
		email = e
	}
	if phone != "" {
		if region == "" {
			region = normalize.DefaultRegion
		}
		p, _, err := normalize.ParsePhone(phone, strings.ToUpper(region), normalize.PhonePossible)
		if err != nil {
			errs = append(errs, problem.FieldError{Field: "subject.phone", Code: "invalid_phone",
				Message: "must be a valid phone number, with country code if not " + strings.ToUpper(region)})
		}
		phone = p
	}
	return email, phone, errs
}

// listSubjectRequests lists the tenant's requests, filtered by state, kind and due date.
func listSubjectRequests(c *call) error {
	limit, cursor, p := c.page()
	if p != nil {
		return p
	}
	q := c.r.URL.Query()
	var query store.RequestQuery
	if s := q.Get("state"); s != "" {
		if query.State = domain.RequestState(s); !query.State.Valid() {
			return badQuery("state", "state must be one of received, running, done, failed, awaiting-controller, declined.")
		}
	}
	if k := q.Get("kind"); k != "" {
		if query.Kind = domain.RequestKind(k); !query.Kind.Valid() {
			return badQuery("kind", "kind must be one of "+kindList(domain.RequestKinds)+".")
		}
	}
	if s := q.Get("due_before"); s != "" {
		t, err := time.Parse(time.RFC3339, strings.ReplaceAll(s, " ", "+"))
		if err != nil {
			return badQuery("due_before", "due_before must be an RFC 3339 time, e.g. 2026-12-31T00:00:00Z.")
		}
		query.DueBefore = t
	}
	items, next, err := c.data.SubjectRequests(c.ctx, query, limit, cursor)
	if errors.Is(err, store.ErrBadCursor) {
		return badCursor()
	}
	if err != nil {
		return err
	}
	targets := make([]string, 0, len(items))
	views := make([]requestView, 0, len(items))
	now := c.h.Now()
	for _, r := range items {
		targets = append(targets, requestTarget(r.ID))
		views = append(views, viewRequest(r, now))
	}
	if err := c.record(ActionSubjectRequestList, targets...); err != nil {
		return err
	}
	return c.json(http.StatusOK, list[requestView]{Items: views, Next: next})
}

// getSubjectRequest shows one request, its instruction's note included.
func getSubjectRequest(c *call) error {
	tk, err := c.key()
	if err != nil {
		return err
	}
	r, err := fetch(c, "requestID", "subject request", func(ctx context.Context, id string) (domain.SubjectRequest, error) {
		return c.data.SubjectRequest(ctx, tk, id)
	})
	if err != nil {
		return err
	}
	if err := c.record(ActionSubjectRequestRead, requestTarget(r.ID)); err != nil {
		return err
	}
	return c.json(http.StatusOK, viewRequest(r, c.h.Now()))
}

// downloadSubjectRequest answers an access or export request's archive with a redirect to a link that
// works for DownloadLinkTTL; each download is in the audit trail.
func downloadSubjectRequest(c *call) error {
	r, err := fetch(c, "requestID", "subject request", func(ctx context.Context, id string) (domain.SubjectRequest, error) {
		return c.data.SubjectRequest(ctx, nil, id)
	})
	if err != nil {
		return err
	}
	format := c.r.URL.Query().Get("format")
	if format == "" {
		format = "json"
	}
	if format != "json" && format != "csv" {
		return badQuery("format", "format must be json or csv.")
	}
	now := c.h.Now()
	switch {
	case !r.Kind.ReadOnly():
		return notFound("A " + string(r.Kind) + " request has no archive.")
	case r.State != domain.StateDone || r.Result == "":
		return problem.New(http.StatusConflict, "not-ready", "Not Ready",
			"The archive is written when the request is done; its state is "+string(r.State)+".")
	case !now.Before(r.ResultExpires):
		return problem.New(http.StatusGone, "expired", "Gone",
			"The archive was deleted seven days after it was written; start a new request for a current one.")
	}
	if err := c.record(ActionSubjectRequestDownload, requestTarget(r.ID), "format:"+format); err != nil {
		return err
	}
	link, err := c.h.Links.GetURL(c.ctx, c.h.ExportBucket, layout.ExportKey(c.tenant.ID, r.ID, format),
		"subject-export-"+r.ID+"."+format, DownloadLinkTTL, now)
	if err != nil {
		return err
	}
	c.w.Header().Set("Location", link)
	return c.write(http.StatusSeeOther, "", nil)
}
