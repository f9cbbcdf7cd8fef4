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
	// Changes are the new values of a rectification, and only of one.
	Changes *struct {
		Name    string `json:"name"`
		Email   string `json:"email"`
		Phone   string `json:"phone"`
		Address string `json:"address"`
		Company string `json:"company"`
		Message string `json:"message"`
	} `json:"changes"`
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
	// Channel is how a relayed request reached the processor; DeclineReason why the controller declined it.
	Channel       string `json:"channel,omitempty"`
	DeclineReason string `json:"declineReason,omitempty"`
	// Audit lists the request's records in the audit trail; AuditRecords are the sequence numbers of its
	// creation and end.
	Audit        string  `json:"audit"`
	AuditRecords []int64 `json:"auditRecords"`
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
		UpdatedAt: r.UpdatedAt, CreatedBy: r.CreatedBy, Erased: r.Erased, Failure: r.Failure, Channel: r.Channel,
		DeclineReason: r.DeclineReason,
		Instruction:   instructionView{Reference: r.Instruction.Reference, ReceivedAt: r.Instruction.ReceivedAt, Note: r.Instruction.Note},
		Found: foundView{Leads: r.Found.Leads, BySource: orEmpty(r.Found.BySource), ByCampaign: orEmpty(r.Found.Campaigns),
			Notified: r.Found.Notified},
		Audit: "/v1/audit?target=" + requestTarget(r.ID), AuditRecords: r.AuditSeqs,
	}
	if v.AuditRecords == nil {
		v.AuditRecords = []int64{}
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
	}
	changes, changeErrs := rectification(kind, body, body.Subject.Region)
	errs = append(errs, changeErrs...)
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
		Instruction: domain.Instruction{Reference: ref, ReceivedAt: received.UTC(), Note: note}, Changes: changes,
		DueAt: domain.DueAfter(received.UTC()), CreatedAt: now, UpdatedAt: now, CreatedBy: c.caller.UserID}
	var idem store.Idempotency
	if key != "" {
		fingerprint := strings.Join([]string{string(kind), email, phone, ref, received.UTC().Format(time.RFC3339), note, fmt.Sprint(changes)}, "\x00")
		idem = store.Idempotency{Key: "sr." + tk.Pseudonym("idempotency-key", c.caller.UserID+"\x00"+key),
			RequestHash: tk.Pseudonym("subject-request", fingerprint), TTL: RequestIdempotencyTTL}
	}
	if err := c.record(ActionSubjectRequestCreate, requestTarget(req.ID), "kind:"+string(kind)); err != nil {
		return err
	}
	req.AuditSeqs = []int64{c.auditSeq}
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

// rectification reads a rectification's new values, normalised as intake normalises them; any other kind
// must not carry changes.
func rectification(kind domain.RequestKind, body subjectRequestBody, region string) (*domain.Rectification, []problem.FieldError) {
	c := body.Changes
	switch {
	case kind != domain.KindRectification && c != nil:
		return nil, []problem.FieldError{{Field: "changes", Code: "not_allowed", Message: "Only a rectification request carries changes."}}
	case kind != domain.KindRectification:
		return nil, nil
	case c == nil:
		return nil, []problem.FieldError{{Field: "changes", Code: "required", Message: "A rectification names the new values in changes."}}
	}
	var errs []problem.FieldError
	r := &domain.Rectification{Name: normalize.SingleLine(c.Name), Address: normalize.FreeText(c.Address),
		Company: normalize.SingleLine(c.Company), Message: normalize.FreeText(c.Message)}
	if s := strings.TrimSpace(c.Email); s != "" {
		e, err := normalize.Email(s)
		if err != nil {
			errs = append(errs, problem.FieldError{Field: "changes.email", Code: "invalid_email", Message: "must be a valid e-mail address such as name@example.com"})
		}
		r.Email = e
	}
	if s := strings.TrimSpace(c.Phone); s != "" {
		if region == "" {
			region = normalize.DefaultRegion
		}
		p, valid, err := normalize.ParsePhone(s, strings.ToUpper(region), normalize.PhonePossible)
		if err != nil {
			errs = append(errs, problem.FieldError{Field: "changes.phone", Code: "invalid_phone",
				Message: "must be a valid phone number, with country code if not " + strings.ToUpper(region)})
		}
		r.Phone, r.PhoneUnverified = p, !valid
	}
	for _, f := range []struct{ name, v string }{{"name", r.Name}, {"address", r.Address}, {"company", r.Company}, {"message", r.Message}} {
		if utf8.RuneCountInString(f.v) > maxNote {
			errs = append(errs, problem.FieldError{Field: "changes." + f.name, Code: "too_long", Message: fmt.Sprintf("may be at most %d characters", maxNote)})
		}
	}
	if len(errs) == 0 && r.Empty() {
		errs = append(errs, problem.FieldError{Field: "changes", Code: "required", Message: "Name at least one new value: name, email, phone, address, company or message."})
	}
	return r, errs
}

func kindList(kinds []domain.RequestKind) string {
	s := make([]string, len(kinds))
	for i, k := range kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// normaliseSubject is normalize.Subject with its errors as the API's field errors.
func normaliseSubject(email, phone, region string) (string, string, []problem.FieldError) {
	email, phone, errs := normalize.Subject(email, phone, region)
	out := make([]problem.FieldError, len(errs))
	for i, e := range errs {
		out[i] = problem.FieldError{Field: e.Field, Code: e.Code, Message: e.Message}
	}
	return email, phone, out
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
	return c.download(layout.ExportKey(c.tenant.ID, r.ID, format), "subject-export-"+r.ID+"."+format)
}

// download answers 303 with a DownloadLinkTTL link to an object of the exports bucket, saved as filename.
// The caller has audited the download.
func (c *call) download(key, filename string) error {
	link, err := c.h.Links.GetURL(c.ctx, c.h.ExportBucket, key, filename, DownloadLinkTTL, c.h.Now())
	if err != nil {
		return err
	}
	c.w.Header().Set("Location", link)
	return c.write(http.StatusSeeOther, "", nil)
}

// maxDeclineReason bounds the reason an admin gives for declining a relayed request.
const maxDeclineReason = 500

// confirmSubjectRequest makes a request the processor relayed (S7) the controller's own: it is carried
// out like any other.
func confirmSubjectRequest(c *call) error { return c.decideRelayed(true, "") }

// declineSubjectRequest declines a relayed request, with the controller's reason.
func declineSubjectRequest(c *call) error {
	var body struct {
		Reason string `json:"reason"`
	}
	if p := c.decode(&body); p != nil {
		return p
	}
	reason := normalize.FreeText(body.Reason)
	if reason == "" || utf8.RuneCountInString(reason) > maxDeclineReason {
		return invalid(problem.FieldError{Field: "reason", Code: "invalid",
			Message: fmt.Sprintf("reason says why the request is declined, 1 to %d characters.", maxDeclineReason)})
	}
	return c.decideRelayed(false, reason)
}

func (c *call) decideRelayed(confirm bool, reason string) error {
	id, ok := c.param("requestID")
	if !ok {
		return notFound("No such subject request.")
	}
	action := ActionSubjectRequestConfirm
	if !confirm {
		action = ActionSubjectRequestDecline
	}
	if err := c.record(action, requestTarget(id)); err != nil {
		return err
	}
	r, err := c.data.DecideRelayedRequest(c.ctx, id, confirm, reason)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound("No such subject request.")
	case errors.Is(err, store.ErrNotAwaiting):
		return problem.New(http.StatusConflict, "not-awaiting", "Conflict",
			"Only a request relayed by the processor and not yet confirmed or declined can be confirmed or declined.")
	case err != nil:
		return err
	}
	return c.json(http.StatusOK, viewRequest(r, c.h.Now()))
}
