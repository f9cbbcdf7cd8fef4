package domain

import (
	"slices"
	"time"
)

// RequestKind is what a data subject asked the controller for (GDPR chapter 3).
type RequestKind string

// The kinds of subject request.
const (
	KindAccess          RequestKind = "access"           // Art. 15: what is held
	KindExport          RequestKind = "export"           // Art. 20: the same, to take elsewhere
	KindErasure         RequestKind = "erasure"          // Art. 17
	KindRestriction     RequestKind = "restriction"      // Art. 18
	KindLiftRestriction RequestKind = "lift-restriction" // Art. 18(3)
	KindObjection       RequestKind = "objection"        // Art. 21
	KindRectification   RequestKind = "rectification"    // Art. 16
)

// RequestKinds are every kind, in the order the API documents them.
var RequestKinds = []RequestKind{KindAccess, KindExport, KindErasure, KindRestriction, KindLiftRestriction,
	KindObjection, KindRectification}

// Valid reports whether k is one of RequestKinds.
func (k RequestKind) Valid() bool { return slices.Contains(RequestKinds, k) }

// ReadOnly reports whether a request of this kind only reads (access and export), which members may start;
// every other kind changes data and is for admins.
func (k RequestKind) ReadOnly() bool { return k == KindAccess || k == KindExport }

// RequestState is where a subject request is in its life.
type RequestState string

// The states of a subject request.
const (
	StateAwaiting RequestState = "awaiting-controller" // relayed by the processor; the controller must confirm
	StateReceived RequestState = "received"            // accepted, not started
	StateRunning  RequestState = "running"             // being carried out by the jobs function
	StateDone     RequestState = "done"
	StateFailed   RequestState = "failed"
	StateDeclined RequestState = "declined" // a relayed request the controller declined
)

// RequestStates are every state.
var RequestStates = []RequestState{StateAwaiting, StateReceived, StateRunning, StateDone, StateFailed, StateDeclined}

// Valid reports whether s is one of RequestStates.
func (s RequestState) Valid() bool { return slices.Contains(RequestStates, s) }

// Finished reports whether nothing more will happen to a request in this state.
func (s RequestState) Finished() bool {
	return s == StateDone || s == StateFailed || s == StateDeclined
}

// Instruction is the controller's documented instruction a request carries out (M7): its own reference,
// when the controller received the data subject's request, and an optional note.
type Instruction struct {
	Reference  string
	ReceivedAt time.Time
	Note       string
}

// SubjectIndex names a data subject the way the table can find them: the keyed blind-index values of the
// normalised e-mail address and phone number (either may be empty), never the identifiers themselves.
type SubjectIndex struct {
	Email, Phone string
}

// Empty reports whether the index names nobody.
func (s SubjectIndex) Empty() bool { return s.Email == "" && s.Phone == "" }

// RequestFound is what a request found of the subject: leads by source and by campaign, and how many of
// them had been sent to recipients.
type RequestFound struct {
	Leads     int64
	BySource  map[string]int64
	Campaigns map[string]int64
	Notified  int64
}

// SubjectRequest is one data-subject request the controller instructed the processor to carry out.
type SubjectRequest struct {
	TenantID, ID string
	Kind         RequestKind
	State        RequestState
	Subject      SubjectIndex
	Instruction  Instruction
	// DueAt is when the controller must have answered the data subject: a month after it received the
	// request (Art. 12(3)).
	DueAt                time.Time
	CreatedAt, UpdatedAt time.Time
	// CreatedBy is the member (or operator) who recorded the request.
	CreatedBy string
	Found     RequestFound
	// Erased counts what an erasure deleted: leads, and the subject keys shredded with their last lead.
	Erased int64
	// Result names the archive of an access or export request, once written; ResultExpires is when its
	// object is deleted.
	Result        string
	ResultExpires time.Time
	// Failure says, without personal data, why a request failed.
	Failure string
	// Attempts counts the runs of the current step that did not finish it.
	Attempts int
	// Changes are what a rectification sets; kept sealed until the request is done, then dropped.
	Changes *Rectification
	// AuditSeqs are the sequence numbers of the request's records in the tenant's audit trail: its creation
	// (or relay) and its end.
	AuditSeqs []int64
	// Channel is how a relayed request reached the processor (e-mail, letter, phone, …); "" when the
	// controller recorded it. DeclineReason is the controller's reason for declining a relayed request.
	Channel, DeclineReason string
}

// DueAfter is the time the controller has to answer a data subject (Art. 12(3)): one month.
func DueAfter(received time.Time) time.Time { return received.AddDate(0, 1, 0) }

// Rectification is what a rectification request sets in every lead of the subject (Art. 16): the fields
// that are not empty, normalised as intake normalises them. The old values are not kept.
type Rectification struct {
	Name    string `json:"name,omitempty"`
	Email   string `json:"email,omitempty"`
	Phone   string `json:"phone,omitempty"`
	Address string `json:"address,omitempty"`
	Company string `json:"company,omitempty"`
	Message string `json:"message,omitempty"`
	// PhoneUnverified is set when the new phone number is possible but not known valid (see
	// FlagPhoneUnverified).
	PhoneUnverified bool `json:"phoneUnverified,omitempty"`
}

// Empty reports whether the rectification changes nothing.
func (r Rectification) Empty() bool {
	return r.Name == "" && r.Email == "" && r.Phone == "" && r.Address == "" && r.Company == "" && r.Message == ""
}

// Apply returns p with the rectification's fields set, and the flags that describe the new data.
func (r Rectification) Apply(p Personal, flags []string) (Personal, []string) {
	for _, f := range []struct {
		v   string
		dst *string
	}{{r.Name, &p.Name}, {r.Email, &p.Email}, {r.Phone, &p.Phone}, {r.Address, &p.Address}, {r.Company, &p.Company}, {r.Message, &p.Message}} {
		if f.v != "" {
			*f.dst = f.v
		}
	}
	if r.Phone != "" {
		flags = slices.DeleteFunc(slices.Clone(flags), func(f string) bool { return f == FlagPhoneUnverified })
		if r.PhoneUnverified {
			flags = append(flags, FlagPhoneUnverified)
		}
	}
	return p, flags
}
