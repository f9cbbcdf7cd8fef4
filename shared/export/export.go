// Package export writes what a tenant holds about a data subject as the two archives a subject request
// answers with (Art. 15 access, Art. 20 portability; obligation T6): one JSON document and one CSV table
// with a row per lead. docs/openapi.yaml describes the JSON document (SubjectExport); its format field
// names the version.
package export

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"leadvault/shared/domain"
)

// Format names the JSON document's version.
const Format = "leadvault.subject-export/1"

// Document is the JSON archive.
type Document struct {
	Format      string     `json:"format"`
	GeneratedAt time.Time  `json:"generatedAt"`
	Request     Request    `json:"request"`
	Processing  Processing `json:"processing"`
	Subject     Subject    `json:"subject"`
	Leads       []Lead     `json:"leads"`
}

// Request is the subject request the archive answers.
type Request struct {
	ID         string    `json:"id"`
	Kind       string    `json:"kind"`
	Reference  string    `json:"reference"`
	ReceivedAt time.Time `json:"receivedAt"`
}

// Processing are the facts of the processing (Art. 15(1)(a), (d), (e)): who holds the data where, and for
// what purposes (the forms the leads came through) for how long.
type Processing struct {
	Controller      string    `json:"controller"`
	Processor       string    `json:"processor"`
	StorageLocation string    `json:"storageLocation"`
	Purposes        []Purpose `json:"purposes"`
}

// Purpose is one form the subject's data came through.
type Purpose struct {
	Form          string `json:"form"`
	Campaign      string `json:"campaign"`
	Source        string `json:"source"` // form, or email for an inbound mail alias
	RetentionDays int    `json:"retentionDays"`
}

// Subject is the state of the subject's rights in the tenant.
type Subject struct {
	Restricted bool `json:"restricted"`
	Objected   bool `json:"objected"`
}

// Lead is one lead, everything held.
type Lead struct {
	ID          string              `json:"id"`
	Source      string              `json:"source"`
	Form        string              `json:"form"`
	Campaign    string              `json:"campaign"`
	CreatedAt   time.Time           `json:"createdAt"`
	ExpiresAt   time.Time           `json:"expiresAt"`
	Fields      map[string]string   `json:"fields"`
	Attachments []domain.Attachment `json:"attachments,omitempty"`
	Consent     *Consent            `json:"consent,omitempty"`
	Flags       []string            `json:"flags,omitempty"`
	// Restricted leads are kept but not used (Art. 18, 21).
	Restricted bool `json:"restricted,omitempty"`
	// Recipients are those the lead was sent to (Art. 15(1)(c)).
	Recipients []Recipient `json:"recipients,omitempty"`
}

// Consent is the consent a lead was given with, with the text the person saw where the form still has it.
type Consent struct {
	Given   bool      `json:"given"`
	Version string    `json:"version"`
	GivenAt time.Time `json:"givenAt"`
	Source  string    `json:"source"`
	Text    string    `json:"text,omitempty"`
}

// Recipient is one notification of a lead.
type Recipient struct {
	To     []string  `json:"to"`
	SentAt time.Time `json:"sentAt"`
}

// Input is what the archive is built from.
type Input struct {
	Request         domain.SubjectRequest
	Controller      string // the tenant's name
	Processor       string
	StorageLocation string
	Forms           map[string]domain.Form // by ID; a lead whose form is gone keeps its form ID
	Leads           []domain.Lead
	Notified        map[string]domain.Notification // by lead ID
	Subject         Subject
	Now             time.Time
}

// Build assembles the document.
func Build(in Input) Document {
	d := Document{
		Format: Format, GeneratedAt: in.Now.UTC(),
		Request: Request{ID: in.Request.ID, Kind: string(in.Request.Kind), Reference: in.Request.Instruction.Reference,
			ReceivedAt: in.Request.Instruction.ReceivedAt.UTC()},
		Processing: Processing{Controller: in.Controller, Processor: in.Processor, StorageLocation: in.StorageLocation,
			Purposes: []Purpose{}},
		Subject: in.Subject,
		Leads:   make([]Lead, 0, len(in.Leads)),
	}
	purposes := map[string]Purpose{}
	for _, l := range in.Leads {
		f := in.Forms[l.FormID]
		if _, ok := purposes[l.FormID]; !ok {
			purposes[l.FormID] = Purpose{Form: l.FormID, Campaign: l.CampaignID, Source: string(l.Source), RetentionDays: f.RetentionDays}
		}
		out := Lead{ID: l.ID, Source: string(l.Source), Form: l.FormID, Campaign: l.CampaignID, CreatedAt: l.CreatedAt.UTC(),
			ExpiresAt: l.ExpiresAt.UTC(), Fields: fields(l.Personal), Attachments: l.Personal.Attachments, Flags: l.Flags,
			Restricted: l.Restricted}
		if c := l.Consent; c != nil {
			out.Consent = &Consent{Given: c.Given, Version: c.Version, GivenAt: c.GivenAt.UTC(), Source: c.Source}
			if f.Consent != nil && f.Consent.Version == c.Version {
				out.Consent.Text = f.Consent.Text
			}
		}
		if n, ok := in.Notified[l.ID]; ok {
			out.Recipients = []Recipient{{To: n.Recipients, SentAt: n.SentAt.UTC()}}
		}
		d.Leads = append(d.Leads, out)
	}
	for _, id := range slices.Sorted(maps.Keys(purposes)) {
		d.Processing.Purposes = append(d.Processing.Purposes, purposes[id])
	}
	return d
}

// fields are a lead's personal fields by name: the standard ones that are set, and custom ones as
// "custom.<name>".
func fields(p domain.Personal) map[string]string {
	m := map[string]string{}
	for name, v := range map[string]string{"name": p.Name, "email": p.Email, "phone": p.Phone, "address": p.Address,
		"company": p.Company, "message": p.Message} {
		if v != "" {
			m[name] = v
		}
	}
	for k, v := range p.Custom {
		m["custom."+k] = v
	}
	return m
}

// JSON is the document as indented JSON.
func (d Document) JSON() ([]byte, error) {
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode export: %w", err)
	}
	return append(b, '\n'), nil
}

// standardColumns are the CSV's first columns; one column per custom field name follows, then the rest.
var standardColumns = []string{"lead_id", "source", "form", "campaign", "created_at", "expires_at",
	"name", "email", "phone", "address", "company", "message"}

var trailingColumns = []string{"attachments", "restricted", "consent_given", "consent_version", "consent_given_at", "consent_text",
	"flags", "notified_to", "notified_at"}

// CSV is the document as a table, one row per lead: UTF-8 with a byte-order mark (so spreadsheet programs
// read æ, ø and å right), RFC 4180 quoting and CRLF line ends. A cell a spreadsheet would run as a formula
// (beginning with =, @, or + or - followed by more than a number) is prefixed with an apostrophe; the JSON
// document has every value unchanged.
func (d Document) CSV() ([]byte, error) {
	custom := map[string]bool{}
	for _, l := range d.Leads {
		for k := range l.Fields {
			if strings.HasPrefix(k, "custom.") {
				custom[k] = true
			}
		}
	}
	customCols := slices.Sorted(maps.Keys(custom))
	header := slices.Concat(standardColumns, customCols, trailingColumns)
	var buf bytes.Buffer
	buf.WriteString("\ufeff")
	w := csv.NewWriter(&buf)
	w.UseCRLF = true
	if err := w.Write(header); err != nil {
		return nil, fmt.Errorf("encode export: %w", err)
	}
	for _, l := range d.Leads {
		row := []string{l.ID, l.Source, l.Form, l.Campaign, stamp(l.CreatedAt), stamp(l.ExpiresAt)}
		for _, c := range standardColumns[6:] {
			row = append(row, l.Fields[c])
		}
		for _, c := range customCols {
			row = append(row, l.Fields[c])
		}
		var names []string
		for _, a := range l.Attachments {
			names = append(names, a.Name)
		}
		var given, version, givenAt, text string
		if c := l.Consent; c != nil {
			given, version, givenAt, text = fmt.Sprint(c.Given), c.Version, stamp(c.GivenAt), c.Text
		}
		var to []string
		var sentAt string
		for _, r := range l.Recipients {
			to = append(to, r.To...)
			sentAt = stamp(r.SentAt)
		}
		sort.Strings(to)
		row = append(row, strings.Join(names, "; "), fmt.Sprint(l.Restricted), given, version, givenAt, text, strings.Join(l.Flags, "; "),
			strings.Join(to, "; "), sentAt)
		for i, cell := range row {
			row[i] = defuse(cell)
		}
		if err := w.Write(row); err != nil {
			return nil, fmt.Errorf("encode export: %w", err)
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return nil, fmt.Errorf("encode export: %w", err)
	}
	return buf.Bytes(), nil
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// defuse prefixes a cell that a spreadsheet would evaluate as a formula with an apostrophe. A plain signed
// number (a phone number such as +4520123456) is left alone: spreadsheets read it as a number, not a formula.
func defuse(cell string) string {
	if cell == "" {
		return cell
	}
	switch cell[0] {
	case '=', '@', '\t', '\r':
		return "'" + cell
	case '+', '-':
		if strings.Trim(cell[1:], "0123456789 ") != "" {
			return "'" + cell
		}
	}
	return cell
}
