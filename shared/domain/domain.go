// Package domain holds Leadvault's core types: tenants' forms, the leads they collect, and the rules that
// make a form configuration valid. It has no I/O.
package domain

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Lead field names a form can map its inputs to.
const (
	FieldName    = "name"
	FieldEmail   = "email"
	FieldPhone   = "phone"
	FieldAddress = "address"
	FieldCompany = "company"
	FieldMessage = "message"
	// CustomPrefix starts a custom lead field, e.g. "custom:budget".
	CustomPrefix = "custom:"
	// MaxCustomFields is how many custom fields one form may map.
	MaxCustomFields = 20
)

var standardFields = []string{FieldName, FieldEmail, FieldPhone, FieldAddress, FieldCompany, FieldMessage}

// FreeTextPolicy says what intake does with special-category data found in free text (obligation S3).
type FreeTextPolicy string

// The free-text policies.
const (
	PolicyReject FreeTextPolicy = "reject" // answer 422 and store nothing
	PolicyRedact FreeTextPolicy = "redact" // replace the finding and flag the lead
	PolicyFlag   FreeTextPolicy = "flag"   // keep the text and flag the lead for the controller
)

// PhoneValidation says which phone numbers a form accepts.
type PhoneValidation string

// The phone validations.
const (
	// PhonePossible accepts a number the phone metadata knows as valid, and also one that is only
	// possible (a known country code and a length its numbering plan allows), such as a number from a
	// range newer than the metadata; such a lead is flagged FlagPhoneUnverified. The lead is kept rather
	// than lost.
	PhonePossible PhoneValidation = "possible"
	// PhoneStrict accepts only numbers the metadata knows as valid; any other is a 422.
	PhoneStrict PhoneValidation = "strict"
)

// FlagPhoneUnverified marks a lead whose phone number is possible but not known to the phone metadata as
// valid (PhonePossible).
const FlagPhoneUnverified = "phone_unverified"

// Defaults applied where a form leaves a setting empty.
const (
	DefaultRetentionDays     = 365
	DefaultSpamRetentionDays = 7
	DefaultPerIPPerMinute    = 60
	DefaultPerFormPerMinute  = 600
	DefaultPhoneRegion       = "DK"
	MaxRetentionDays         = 3650
)

// Consent describes the consent checkbox of a form.
type Consent struct {
	// Field is the posted field that carries the checkbox.
	Field string `json:"field"`
	// Text is the wording shown to the visitor, and Version identifies that wording.
	Text    string `json:"text"`
	Version string `json:"version"`
	// Required makes a submission without consent a 422.
	Required bool `json:"required"`
}

// RateLimits bounds submissions per fixed one-minute window.
type RateLimits struct {
	PerIPPerMinute   int `json:"perIPPerMinute,omitempty"`
	PerFormPerMinute int `json:"perFormPerMinute,omitempty"`
}

// Form is a tenant's intake form: the controller's instruction for what to collect and what to do with it
// (obligation E1).
type Form struct {
	ID         string `json:"id"`
	TenantID   string `json:"tenantID"`
	CampaignID string `json:"campaignID"`
	Enabled    bool   `json:"enabled"`
	// Fields maps a posted field name to a lead field (see the Field constants and CustomPrefix).
	Fields map[string]string `json:"fields"`
	// Required lists lead fields that must be non-empty.
	Required       []string       `json:"required,omitempty"`
	AllowedOrigins []string       `json:"allowedOrigins,omitempty"`
	Honeypot       string         `json:"honeypot,omitempty"`
	RedirectURL    string         `json:"redirectURL,omitempty"`
	Consent        *Consent       `json:"consent,omitempty"`
	Recipients     []string       `json:"recipients,omitempty"`
	FreeTextPolicy FreeTextPolicy `json:"freeTextPolicy,omitempty"`
	RetentionDays  int            `json:"retentionDays,omitempty"`
	// SpamRetentionDays is how long honeypot-caught submissions are kept for review.
	SpamRetentionDays int    `json:"spamRetentionDays,omitempty"`
	PhoneRegion       string `json:"phoneRegion,omitempty"`
	// PhoneValidation says which phone numbers the form accepts (default PhonePossible).
	PhoneValidation  PhoneValidation `json:"phoneValidation,omitempty"`
	RateLimits       RateLimits      `json:"rateLimits,omitempty"`
	AllowAttachments bool            `json:"allowAttachments,omitempty"`
	// InboundAlias, when set, makes mail to <alias>@<inbound domain> a lead of this form. Mail fields are
	// mapped through Fields like posted ones, under the names in MailFields.
	InboundAlias string `json:"inboundAlias,omitempty"`

	// How intake answers a browser whose plain HTML post it refuses (see package formapi).
	//
	// ErrorURL, when set, is where such a browser is sent (303) with the error codes in the query instead
	// of an error page; it must be https, or http on localhost. Language ("da" or "en") is the language of
	// the error page; empty means the visitor's Accept-Language, then English.
	ErrorURL string `json:"errorURL,omitempty"`
	Language string `json:"language,omitempty"`
}

// The languages intake's error page is written in.
const (
	LanguageDanish  = "da"
	LanguageEnglish = "en"
)

// The field names an e-mail is posted under, for a form's Fields mapping. A subject the form does not map
// becomes the first line of the message, so no part of the mail is silently lost.
const (
	MailName    = "name"
	MailEmail   = "email"
	MailPhone   = "phone"
	MailSubject = "subject"
	MailMessage = "message"
)

var (
	customPattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)
	regionPattern = regexp.MustCompile(`^[A-Z]{2}$`)
)

// ErrInvalidConfig is wrapped by every configuration error.
var ErrInvalidConfig = errors.New("invalid configuration")

// Validate checks a form configuration and returns every problem found.
func (f Form) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...))
	}
	for name, id := range map[string]string{"id": f.ID, "tenantID": f.TenantID, "campaignID": f.CampaignID} {
		if !ValidID(id) {
			bad("%s %q must be 2-63 lower-case letters, digits or hyphens", name, id)
		}
	}
	if len(f.Fields) == 0 {
		bad("fields: at least one field mapping is required")
	}
	targets := map[string]bool{}
	custom := 0
	for posted, target := range f.Fields {
		if posted == "" || len(posted) > 100 {
			bad("fields: posted name %q must be 1-100 bytes", posted)
		}
		if targets[target] {
			bad("fields: lead field %q is mapped twice", target)
		}
		targets[target] = true
		if key, ok := strings.CutPrefix(target, CustomPrefix); ok {
			custom++
			if !customPattern.MatchString(key) {
				bad("fields: custom field %q must match %s", target, customPattern)
			}
			continue
		}
		if !slices.Contains(standardFields, target) {
			bad("fields: unknown lead field %q", target)
		}
	}
	if custom > MaxCustomFields {
		bad("fields: %d custom fields; at most %d", custom, MaxCustomFields)
	}
	for _, r := range f.Required {
		if !targets[r] {
			bad("required: %q is not a mapped lead field", r)
		}
	}
	for _, o := range f.AllowedOrigins {
		if u, err := url.Parse(o); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Path != "" || o != u.Scheme+"://"+u.Host {
			bad("allowedOrigins: %q must be scheme://host[:port] with no path", o)
		}
	}
	if f.Honeypot != "" {
		if _, mapped := f.Fields[f.Honeypot]; mapped {
			bad("honeypot: %q is also a mapped field", f.Honeypot)
		}
	}
	if f.RedirectURL != "" {
		if u, err := url.Parse(f.RedirectURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			bad("redirectURL: %q must be an absolute http(s) URL", f.RedirectURL)
		}
	}
	if c := f.Consent; c != nil {
		if c.Field == "" || c.Version == "" || c.Text == "" {
			bad("consent: field, text and version are all required")
		}
		if _, mapped := f.Fields[c.Field]; mapped {
			bad("consent: field %q is also mapped to a lead field", c.Field)
		}
	}
	for _, r := range f.Recipients {
		if !strings.Contains(r, "@") || strings.ContainsAny(r, " <>,;") {
			bad("recipients: %q is not a bare e-mail address", r)
		}
	}
	switch f.FreeTextPolicy {
	case "", PolicyReject, PolicyRedact, PolicyFlag:
	default:
		bad("freeTextPolicy: %q must be reject, redact or flag", f.FreeTextPolicy)
	}
	if f.RetentionDays < 0 || f.RetentionDays > MaxRetentionDays {
		bad("retentionDays: %d must be 1-%d (0 = default %d)", f.RetentionDays, MaxRetentionDays, DefaultRetentionDays)
	}
	if f.SpamRetentionDays < 0 || f.SpamRetentionDays > 30 {
		bad("spamRetentionDays: %d must be 1-30 (0 = default %d)", f.SpamRetentionDays, DefaultSpamRetentionDays)
	}
	if f.PhoneRegion != "" && !regionPattern.MatchString(f.PhoneRegion) {
		bad("phoneRegion: %q must be an ISO 3166-1 alpha-2 code", f.PhoneRegion)
	}
	switch f.PhoneValidation {
	case "", PhonePossible, PhoneStrict:
	default:
		bad("phoneValidation: %q must be possible or strict", f.PhoneValidation)
	}
	if f.InboundAlias != "" && !ValidID(f.InboundAlias) {
		bad("inboundAlias: %q must be 2-63 lower-case letters, digits or hyphens", f.InboundAlias)
	}
	if f.ErrorURL != "" && !validErrorURL(f.ErrorURL) {
		bad("errorURL: %q must be an absolute https URL (http only on localhost) without user info or fragment", f.ErrorURL)
	}
	switch f.Language {
	case "", LanguageDanish, LanguageEnglish:
	default:
		bad("language: %q must be da or en (empty = the visitor's Accept-Language)", f.Language)
	}
	if f.RateLimits.PerIPPerMinute < 0 || f.RateLimits.PerFormPerMinute < 0 {
		bad("rateLimits: limits must not be negative")
	}
	return errors.Join(errs...)
}

// validErrorURL reports whether u may receive visitors with error codes: https, or http to a loopback
// host for local development, since an error code in a plain-http URL would cross the network in clear.
func validErrorURL(u string) bool {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" || p.User != nil || p.Fragment != "" || p.Opaque != "" {
		return false
	}
	switch p.Scheme {
	case "https":
		return true
	case "http":
		h := p.Hostname()
		return h == "localhost" || h == "127.0.0.1" || h == "::1"
	}
	return false
}

// Retention is how long a lead from this form is kept.
func (f Form) Retention(spam bool) time.Duration {
	days := f.RetentionDays
	if days == 0 {
		days = DefaultRetentionDays
	}
	if spam {
		days = f.SpamRetentionDays
		if days == 0 {
			days = DefaultSpamRetentionDays
		}
	}
	return time.Duration(days) * 24 * time.Hour
}

// Policy is the free-text policy with its default (reject) applied.
func (f Form) Policy() FreeTextPolicy {
	if f.FreeTextPolicy == "" {
		return PolicyReject
	}
	return f.FreeTextPolicy
}

// Region is the default phone region with its default applied.
func (f Form) Region() string {
	if f.PhoneRegion == "" {
		return DefaultPhoneRegion
	}
	return f.PhoneRegion
}

// PhoneRule is the phone validation with its default (PhonePossible) applied.
func (f Form) PhoneRule() PhoneValidation {
	if f.PhoneValidation == "" {
		return PhonePossible
	}
	return f.PhoneValidation
}

// Limits returns the rate limits with defaults applied.
func (f Form) Limits() RateLimits {
	l := f.RateLimits
	if l.PerIPPerMinute == 0 {
		l.PerIPPerMinute = DefaultPerIPPerMinute
	}
	if l.PerFormPerMinute == 0 {
		l.PerFormPerMinute = DefaultPerFormPerMinute
	}
	return l
}

// OriginAllowed reports whether a browser origin may post to the form.
func (f Form) OriginAllowed(origin string) bool {
	return slices.Contains(f.AllowedOrigins, origin)
}

// Personal is the personal data of a lead. It is only ever stored encrypted.
type Personal struct {
	Name    string            `json:"name,omitempty"`
	Email   string            `json:"email,omitempty"`
	Phone   string            `json:"phone,omitempty"`
	Address string            `json:"address,omitempty"`
	Company string            `json:"company,omitempty"`
	Message string            `json:"message,omitempty"`
	Custom  map[string]string `json:"custom,omitempty"`
	// Attachments describes files that came with a mail. Their content is not kept; their names can
	// name people, so they are personal data too.
	Attachments []Attachment `json:"attachments,omitempty"`
}

// Attachment describes a file that came with a lead but was not stored.
type Attachment struct {
	Name        string `json:"name"`
	ContentType string `json:"contentType,omitempty"`
	Size        int64  `json:"size"`
}

// Get returns a lead field by its name (see the Field constants).
func (p Personal) Get(field string) string {
	switch field {
	case FieldName:
		return p.Name
	case FieldEmail:
		return p.Email
	case FieldPhone:
		return p.Phone
	case FieldAddress:
		return p.Address
	case FieldCompany:
		return p.Company
	case FieldMessage:
		return p.Message
	}
	if key, ok := strings.CutPrefix(field, CustomPrefix); ok {
		return p.Custom[key]
	}
	return ""
}

// Field is one named value of a lead's personal data.
type Field struct{ Name, Value string }

// Fields lists every field in canonical order: the standard fields as declared, then custom fields
// ("custom:<key>") sorted by key. Empty fields are included.
func (p Personal) Fields() []Field {
	out := make([]Field, 0, len(standardFields)+len(p.Custom))
	for _, f := range standardFields {
		out = append(out, Field{f, p.Get(f)})
	}
	keys := make([]string, 0, len(p.Custom))
	for k := range p.Custom {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		out = append(out, Field{CustomPrefix + k, p.Custom[k]})
	}
	return out
}

// Set stores a lead field by its name.
func (p *Personal) Set(field, value string) {
	switch field {
	case FieldName:
		p.Name = value
	case FieldEmail:
		p.Email = value
	case FieldPhone:
		p.Phone = value
	case FieldAddress:
		p.Address = value
	case FieldCompany:
		p.Company = value
	case FieldMessage:
		p.Message = value
	default:
		if key, ok := strings.CutPrefix(field, CustomPrefix); ok {
			if p.Custom == nil {
				p.Custom = map[string]string{}
			}
			p.Custom[key] = value
		}
	}
}

// ConsentRecord is the proof of consent kept with a lead: which wording, when, and through which source.
type ConsentRecord struct {
	Given   bool      `json:"given"`
	Version string    `json:"version"`
	GivenAt time.Time `json:"givenAt"`
	Source  string    `json:"source"`
}

// Source says how a lead arrived.
type Source string

// The intake sources.
const (
	SourceForm  Source = "form"
	SourceEmail Source = "email"
)

// Lead is one submission: who, what, under which instruction, and until when it may be kept.
type Lead struct {
	TenantID   string
	ID         string
	FormID     string
	CampaignID string
	Source     Source
	CreatedAt  time.Time
	ExpiresAt  time.Time
	Spam       bool
	Personal   Personal
	Consent    *ConsentRecord
	// Flags record what intake did to the data, e.g. "redacted:cpr:message"; they never hold the data.
	Flags []string
	// SubjectID names the data subject's key (see package vault); leads of one subject share it.
	SubjectID string
	// Meta holds non-personal facts about the intake, e.g. the origin or dropped field names.
	Meta map[string]string
	// Restricted leads are kept but not used (Art. 18): not notified, not shown to members or support
	// staff, in no export but the data subject's own. An objection (Art. 21) restricts too, with the flag
	// FlagObjection.
	Restricted bool
}

// FlagObjection marks a lead restricted because its data subject objected to the processing (Art. 21).
const FlagObjection = "objection"
