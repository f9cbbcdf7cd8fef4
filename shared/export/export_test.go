package export

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"leadvault/shared/domain"
)

func sample() Input {
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	return Input{
		Request:    domain.SubjectRequest{ID: "req-1", Kind: domain.KindExport, Instruction: domain.Instruction{Reference: "T-7", ReceivedAt: at}},
		Controller: "Acme ApS", Processor: "Leadvault", StorageLocation: "AWS eu-north-1 (Stockholm, Sweden)",
		Forms: map[string]domain.Form{
			"contact": {ID: "contact", RetentionDays: 180, Consent: &domain.Consent{Version: "v2", Text: "Ja tak, I må kontakte mig"}},
		},
		Leads: []domain.Lead{
			{ID: "l1", FormID: "contact", CampaignID: "spring", Source: domain.SourceForm, CreatedAt: at, ExpiresAt: at.AddDate(0, 6, 0),
				Personal: domain.Personal{Name: "Søren Ærø", Email: "soren@example.dk", Phone: "+4520123456",
					Message: "Hej, \"vi\" ses\nimorgen", Custom: map[string]string{"budget": "=1+2"}},
				Consent: &domain.ConsentRecord{Given: true, Version: "v2", GivenAt: at, Source: "form:contact"}},
			{ID: "l2", FormID: "inbox", CampaignID: "spring", Source: domain.SourceEmail, CreatedAt: at.Add(time.Hour), ExpiresAt: at.AddDate(1, 0, 0),
				Personal: domain.Personal{Email: "soren@example.dk", Message: "-see attached", Attachments: []domain.Attachment{{Name: "cv.pdf", Size: 10}}},
				Consent:  &domain.ConsentRecord{Given: true, Version: "v1", GivenAt: at, Source: "form:contact"}},
		},
		Notified: map[string]domain.Notification{"l1": {Recipients: []string{"sales@acme.dk", "boss@acme.dk"}, SentAt: at.Add(time.Minute)}},
		Now:      at.Add(24 * time.Hour),
	}
}

func TestBuild_document(t *testing.T) {
	d := Build(sample())
	b, err := d.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var back Document
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{"format", back.Format, Format},
		{"leads", len(back.Leads), 2},
		{"name kept exactly", back.Leads[0].Fields["name"], "Søren Ærø"},
		{"custom field unchanged in JSON", back.Leads[0].Fields["custom.budget"], "=1+2"},
		{"consent text of the version shown", back.Leads[0].Consent.Text, "Ja tak, I må kontakte mig"},
		{"no text for an older version", back.Leads[1].Consent.Text, ""},
		{"recipients", strings.Join(back.Leads[0].Recipients[0].To, ","), "sales@acme.dk,boss@acme.dk"},
		{"purposes by form", len(back.Processing.Purposes), 2},
		{"retention of the form", back.Processing.Purposes[0].RetentionDays, 180},
		{"storage location", back.Processing.StorageLocation, "AWS eu-north-1 (Stockholm, Sweden)"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %v; want %v", tt.name, tt.got, tt.want)
		}
	}
}

func TestCSV_spreadsheetSafe(t *testing.T) {
	b, err := Build(sample()).CSV()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("\xef\xbb\xbf")) {
		t.Fatalf("CSV does not begin with a UTF-8 byte-order mark")
	}
	if !bytes.Contains(b, []byte("\r\n")) {
		t.Errorf("CSV lines do not end in CRLF")
	}
	r := csv.NewReader(bytes.NewReader(b[3:]))
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatalf("CSV does not parse back (RFC 4180): %v", err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	tests := []struct {
		name, column string
		row          int
		want         string
	}{
		{"Danish letters", "name", 1, "Søren Ærø"},
		{"quotes and newline round-trip", "message", 1, "Hej, \"vi\" ses\r\nimorgen"},
		{"phone left a number", "phone", 1, "+4520123456"},
		{"formula defused", "custom.budget", 1, "'=1+2"},
		{"leading minus text defused", "message", 2, "'-see attached"},
		{"attachments by name", "attachments", 2, "cv.pdf"},
		{"recipients sorted", "notified_to", 1, "boss@acme.dk; sales@acme.dk"},
		{"custom column empty where absent", "custom.budget", 2, ""},
	}
	if len(rows) != 3 {
		t.Fatalf("rows = %d; want header + 2", len(rows))
	}
	for _, tt := range tests {
		c, ok := col[tt.column]
		if !ok {
			t.Errorf("%s: no column %q in %v", tt.name, tt.column, rows[0])
			continue
		}
		got := rows[tt.row][c]
		if tt.column == "message" && tt.row == 1 {
			// encoding/csv reads a quoted CRLF back as LF.
			got = strings.ReplaceAll(got, "\n", "\r\n")
		}
		if got != tt.want {
			t.Errorf("%s: %s = %q; want %q", tt.name, tt.column, got, tt.want)
		}
	}
}
