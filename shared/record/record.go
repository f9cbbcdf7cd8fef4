// Package record writes the processor's record of processing activities for one controller (GDPR Art.
// 30(2); obligation M1) from the controller's live configuration: its forms (purposes, categories of
// data, recipients, retention), the register of sub-processors, the processing locations and the
// measures (shared/posture). A changed form changes the record; nothing in it is typed in by hand.
package record

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"leadvault/shared/domain"
	"leadvault/shared/posture"
)

// Record is the record of processing for one controller.
type Record struct {
	GeneratedAt   time.Time              `json:"generatedAt"`
	Processor     Party                  `json:"processor"`
	Controller    Party                  `json:"controller"`
	Subjects      []string               `json:"categoriesOfDataSubjects"`
	Activities    []Activity             `json:"processingActivities"`
	Recipients    []string               `json:"recipients"`
	Transfers     Transfers              `json:"transfers"`
	Measures      []posture.Measure      `json:"securityMeasures"`
	Subprocessors []posture.Subprocessor `json:"subprocessors"`
}

// Party names the processor or the controller, with contact details.
type Party struct {
	Name    string `json:"name"`
	Address string `json:"address,omitempty"`
	Contact string `json:"contact,omitempty"`
	DPO     string `json:"dpo,omitempty"`
}

// Activity is one form: the purpose the controller collects for, what, from where, kept how long.
type Activity struct {
	Form          string   `json:"form"`
	Campaign      string   `json:"campaign"`
	Purpose       string   `json:"purpose"`
	Channels      []string `json:"channels"`
	Categories    []string `json:"categoriesOfPersonalData"`
	Recipients    []string `json:"recipients"`
	RetentionDays int      `json:"retentionDays"`
	SpamDays      int      `json:"spamRetentionDays"`
	Enabled       bool     `json:"enabled"`
}

// Transfers says where data goes: nowhere outside the EU.
type Transfers struct {
	OutsideEU     bool     `json:"outsideEU"`
	Locations     []string `json:"locations"`
	InboundRegion string   `json:"inboundMailRegion,omitempty"`
}

// categoryNames are the lead fields as categories of personal data.
var categoryNames = map[string]string{
	domain.FieldName: "name", domain.FieldEmail: "e-mail address", domain.FieldPhone: "phone number",
	domain.FieldAddress: "postal address", domain.FieldCompany: "company", domain.FieldMessage: "free-text message",
}

// Categories are the categories of personal data a form collects, from its field mapping.
func Categories(f domain.Form) []string {
	cats := map[string]bool{"technical: time, origin page": true}
	for _, target := range f.Fields {
		if name, ok := categoryNames[target]; ok {
			cats[name] = true
		} else if key, ok := strings.CutPrefix(target, domain.CustomPrefix); ok {
			cats["custom field "+key] = true
		}
	}
	if f.Consent != nil {
		cats["consent given (version, time)"] = true
	}
	out := make([]string, 0, len(cats))
	for c := range cats {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// Build writes the record of tenant t from its forms. contact is the controller's contact (e.g. its
// billing contact's e-mail), inboundRegion the stage's inbound mail region ("" if none).
func Build(t domain.Tenant, forms []domain.Form, contact, inboundRegion string, now time.Time) Record {
	r := Record{GeneratedAt: now.UTC(),
		Processor:  Party{Name: posture.Processor.Name, Address: posture.Processor.Address, Contact: posture.Processor.Contact, DPO: posture.Processor.DPO},
		Controller: Party{Name: t.Name, Contact: contact},
		Subjects:   []string{"people who submit the controller's web forms (prospects, customers)", "people who e-mail the controller's inbound addresses"},
		Transfers:  Transfers{Locations: []string{posture.Region}, InboundRegion: inboundRegion},
		Measures:   posture.Measures(), Subprocessors: posture.Subprocessors(), Activities: []Activity{}, Recipients: []string{}}
	recipients := map[string]bool{}
	for _, f := range forms {
		a := Activity{Form: f.ID, Campaign: f.CampaignID, Purpose: "leads of campaign " + f.CampaignID + " through form " + f.ID,
			Channels: []string{"web form"}, RetentionDays: f.RetentionDays, SpamDays: f.SpamRetentionDays, Enabled: f.Enabled,
			Recipients: append([]string{}, f.Recipients...)}
		if a.RetentionDays == 0 {
			a.RetentionDays = domain.DefaultRetentionDays
		}
		if a.SpamDays == 0 {
			a.SpamDays = domain.DefaultSpamRetentionDays
		}
		if f.InboundAlias != "" {
			a.Channels = append(a.Channels, "e-mail to "+f.InboundAlias)
		}
		a.Categories = Categories(f)
		for _, rc := range f.Recipients {
			recipients[rc] = true
		}
		r.Activities = append(r.Activities, a)
	}
	for rc := range recipients {
		r.Recipients = append(r.Recipients, rc+" (notification of new leads, set by the controller)")
	}
	sort.Strings(r.Recipients)
	for _, sp := range r.Subprocessors {
		r.Recipients = append(r.Recipients, sp.Name+" (sub-processor)")
	}
	for _, loc := range posture.InboundRegions {
		if loc == inboundRegion && !slices.Contains(r.Transfers.Locations, loc) {
			r.Transfers.Locations = append(r.Transfers.Locations, loc)
		}
	}
	return r
}

// Markdown renders the record as a document.
func (r Record) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Record of processing activities (GDPR Art. 30(2))\n\nGenerated %s from the live configuration.\n\n", r.GeneratedAt.Format(time.RFC3339))
	fmt.Fprintf(&b, "## Processor\n\n%s, %s. Contact: %s. DPO: %s.\n\n", r.Processor.Name, r.Processor.Address, r.Processor.Contact, r.Processor.DPO)
	fmt.Fprintf(&b, "## Controller\n\n%s", r.Controller.Name)
	if r.Controller.Contact != "" {
		fmt.Fprintf(&b, ". Contact: %s", r.Controller.Contact)
	}
	b.WriteString(".\n\n## Categories of data subjects\n\n")
	for _, s := range r.Subjects {
		fmt.Fprintf(&b, "- %s\n", s)
	}
	b.WriteString("\n## Processing carried out for the controller\n\n| form | campaign | channels | categories of personal data | recipients | retention |\n| --- | --- | --- | --- | --- | --- |\n")
	for _, a := range r.Activities {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %d days (spam %d) |\n", a.Form, a.Campaign, strings.Join(a.Channels, ", "),
			strings.Join(a.Categories, ", "), strings.Join(a.Recipients, ", "), a.RetentionDays, a.SpamDays)
	}
	b.WriteString("\n## Recipients\n\n")
	for _, rc := range r.Recipients {
		fmt.Fprintf(&b, "- %s\n", rc)
	}
	fmt.Fprintf(&b, "\n## Transfers\n\nNone outside the EU. Locations: %s.", strings.Join(r.Transfers.Locations, ", "))
	if r.Transfers.InboundRegion != "" {
		fmt.Fprintf(&b, " Inbound mail is received in %s.", r.Transfers.InboundRegion)
	}
	b.WriteString("\n\n## Security measures\n\n")
	for _, m := range r.Measures {
		fmt.Fprintf(&b, "- %s: %s\n", m.Area, m.Measure)
	}
	return b.String()
}
