package domain

import (
	"time"

	"leadvault/shared/access"
)

// The entities below are what the store persists and the handlers work with; package store maps them to
// and from items.

// Campaign is a tenant's campaign: the unit its leads are grouped, listed and deleted by.
type Campaign struct {
	ID, Name  string
	CreatedAt time.Time
	// Deleting is set when a deletion job starts (see StartCampaignDeletion); DeletionJob names that job.
	Deleting    bool
	DeletionJob string
}

// CampaignDeletion is the progress of deleting a campaign with everything in it (E8).
type CampaignDeletion struct {
	Tenant, Campaign, JobID string
	Deleted                 int64
	Done                    bool
	StartedAt, UpdatedAt    time.Time
}

// Notification is the recipient log of one lead notification: who was told, when, and SES's message ID.
// It holds the controller's chosen recipients, never the lead's content.
type Notification struct {
	TenantID, LeadID, MessageID string
	Recipients                  []string
	SentAt, ExpiresAt           time.Time
	// Deliveries are what SES reported of the mail (E5): delivered, bounced, complained, rejected, delayed.
	Deliveries []Delivery
}

// Delivery is one SES event of a notification: its type, the recipients it concerns, when, and a short
// detail (bounce type, complaint type, reject reason, SMTP status) without the mail's content.
type Delivery struct {
	Event      string
	Recipients []string
	At         time.Time
	Detail     string
}

// Member is one of a tenant's back-end users. Identities live in the identity provider; the member item is
// the authority for who may act for a tenant and in which role, so removing it ends access at once (S2).
type Member struct {
	// UserID is the identity provider's ID of the user (Cognito's sub).
	UserID, Email string
	Role          access.Role
	AddedAt       time.Time
	AddedBy       string
}

// Tenant is a controller account.
type Tenant struct {
	ID   string
	Name string
	// WrappedKey is the tenant key as KMS returned it (see package vault).
	WrappedKey []byte
	CreatedAt  time.Time
	// AuditRetentionDays is how long the tenant's audit records are kept; 0 means the default (five
	// years).
	AuditRetentionDays int
	// Contract is the end of the tenant's contract, once the operators have set one.
	Contract Contract
}

// Billing is what bookkeeping needs of a tenant (C3): its billing contact and its invoices' references. It
// is kept five years after the end of the financial year of the last invoice, whatever happens to the
// tenant's other data, and the controller cannot delete it.
type Billing struct {
	Contact   *BillingContact
	Invoices  []InvoiceRef
	KeptUntil time.Time
}

// BillingContact is who the processor invoices.
type BillingContact struct {
	Name, Email, Address, VATNumber string
}

// InvoiceRef is an invoice's reference: its number, when it was issued, for which period.
type InvoiceRef struct {
	Number    string
	IssuedOn  time.Time
	Period    string
	KeptUntil time.Time
}

// SubprocessorChange is a planned addition, replacement or removal of a sub-processor (Art. 28(2)):
// announced to every controller at least SubprocessorNoticeMonths ahead, open to objections for
// ObjectionPeriod.
type SubprocessorChange struct {
	ID string
	// Kind is add, replace or remove.
	Kind                                       string
	Name, Address, Service, Data, Location     string
	Replaces                                   string
	EffectiveAt, ProposedAt, ObjectionDeadline time.Time
}

// Objection is a controller's objection to a sub-processor change.
type Objection struct {
	Change, Tenant, Reason, By string
	At                         time.Time
}

// TransferInstruction is a controller's documented instruction that its data may be processed in a
// location outside the EU (Art. 28(3)(a), 44; S6), with its reference (e.g. the signed SCCs).
type TransferInstruction struct {
	Tenant, Location, Reference, By string
	At                              time.Time
}

// The notice and objection periods of a sub-processor change.
const (
	SubprocessorNoticeMonths = 1
	ObjectionPeriod          = 7 * 24 * time.Hour
)

// Incident is a personal-data breach the processor handles (Art. 33(2); S9, S8): what happened, when it
// was discovered, the window and the actors concerned, the tenants affected and — in a tenant's view — its
// scope there and the notices it was sent (appended, never overwritten).
type Incident struct {
	ID, Nature                string
	Discovered, From, To      time.Time
	Actors, Tenants           []string
	State                     string
	OpenedAt, ClosedAt        time.Time
	InitialSent, DetailedSent []string
	Scope                     IncidentScope
	Notices                   []IncidentNotice
}

// IncidentScope is what an incident concerns in one tenant, computed from the system: approximate counts.
type IncidentScope struct {
	Forms, Campaigns, Categories []string
	Leads, Notifications         int
	Subjects                     int
	// Access counts, by audit action, what the named actors did in the window.
	Access map[string]int
}

// IncidentNotice is one notice to a tenant: initial, detailed, or an update.
type IncidentNotice struct {
	Kind string
	At   time.Time
	Text string
}

// The states of an incident and the kinds of its notices.
const (
	IncidentOpen   = "open"
	IncidentClosed = "closed"
	NoticeInitial  = "initial"
	NoticeDetailed = "detailed"
	NoticeUpdate   = "update"
)

// The deadlines of an incident's notices after its discovery (our agreements: 24 h and 36 h, so the
// controller can notify its authority within 72 h), and how early the operators are warned.
const (
	InitialNoticeDue  = 24 * time.Hour
	DetailedNoticeDue = 36 * time.Hour
	NoticeWarning     = 2 * time.Hour
)

// The states of a tenant's contract (see Contract.State).
const (
	ContractActive = "active" // no end, or an end still ahead
	ContractEnded  = "ended"  // in its grace period: read-only, its admins may export and delete
	ContractPurged = "purged" // everything of the tenant is deleted
)

// The choices at the end of a contract (Art. 28(3)(g)): delete everything, or return it first.
const (
	ContractThenDelete = "delete"
	ContractThenReturn = "return"
)

// The grace period after a contract ends, in days: 30 by default, 90 the longest any agreement allows
// (S20: at most three months; M6: the account goes no later than the grace period's end).
const (
	DefaultGraceDays = 30
	MinGraceDays     = 30
	MaxGraceDays     = 90
)

// Contract is how a tenant's contract ends: on EndsAt the tenant becomes read-only for GraceDays, then
// everything of it is deleted (at PurgeAt, or earlier if its admins close the account). Then says whether
// the tenant's data is returned as an archive first.
type Contract struct {
	EndsAt    time.Time
	GraceDays int
	Then      string
	// PurgeAt is when the purge starts: EndsAt plus the grace period, or the moment an admin closed the
	// account.
	PurgeAt time.Time
	// EndedAt is when the jobs function carried out the end (notice mailed, archive written); zero before.
	EndedAt time.Time
	// ReturnArchive names the return archive's objects (without the format's extension), once written.
	ReturnArchive string
	// PurgedAt is when the purge finished.
	PurgedAt time.Time
}

// State is the contract's state at now.
func (c Contract) State(now time.Time) string {
	switch {
	case !c.PurgedAt.IsZero():
		return ContractPurged
	case !c.EndsAt.IsZero() && !now.Before(c.EndsAt):
		return ContractEnded
	}
	return ContractActive
}

// Mail is a message the processor sends to a tenant's staff or to the recipients of a lead, other than the
// lead notification itself: a notice to recipients (Art. 19), a relayed data-subject request, a deadline
// reminder. It holds no data subject's personal data (lead and request IDs only), and is kept as the record
// of what was sent to whom.
type Mail struct {
	TenantID, ID string
	// Kind says what the mail is for (see the Mail* constants).
	Kind          string
	To            []string
	Subject, Text string
	// Ref names what the mail is about, e.g. "request:<id>" or "lead:<id>".
	Ref       string
	CreatedAt time.Time
	// SentAt and MessageID are set once SES accepted the mail.
	SentAt    time.Time
	MessageID string
}

// The kinds of Mail.
const (
	MailRecipientNotice  = "recipient-notice"    // Art. 19: a lead already sent was rectified, erased or restricted
	MailRelayedRequest   = "relayed-request"     // a data subject's request reached the processor (S7)
	MailDeadlineReminder = "deadline-reminder"   // subject requests due within 7 days or overdue
	MailContractEnd      = "contract-end"        // the contract has ended: read-only, the grace period, the archive
	MailContractPurged   = "contract-purged"     // the final record: what was deleted and when
	MailSubprocessor     = "subprocessor-change" // a planned change of sub-processors, open to objection
	MailIncident         = "incident"            // a breach notice (initial, detailed, update)
)
