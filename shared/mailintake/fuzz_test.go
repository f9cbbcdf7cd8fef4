package mailintake_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"leadvault/infra/local/testenv"
	"leadvault/shared/domain"
	"leadvault/shared/guard"
	"leadvault/shared/intake"
	"leadvault/shared/mailintake"
	"leadvault/shared/mailparse"
)

// FuzzMailToLead fuzzes the whole mapping from raw MIME to a lead: parse, post to the form, build. The
// seeds are every fixture mail of this package and of shared/mailparse, its malformed shapes included.
func FuzzMailToLead(f *testing.F) {
	for _, dir := range []string{"testdata", "../mailparse/testdata", "../mailparse/testdata/defects"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
		for _, name := range files {
			if b, err := os.ReadFile(name); err == nil {
				f.Add(b)
			}
		}
	}
	form := testenv.Form("acme", "contact")
	form.InboundAlias = "sales"
	form.FreeTextPolicy = domain.PolicyReject
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, raw []byte) {
		msg, err := mailparse.Parse(bytes.NewReader(raw))
		if err != nil {
			return
		}
		lead, err := intake.Build(form, intake.Submission{Body: mailintake.Fields(form, msg), Mail: true, Via: "sales@in.test"}, now)
		if err != nil {
			t.Fatalf("Build(mail) error = %v; a mail is never refused for its content", err)
		}
		for _, fd := range lead.Personal.Fields() {
			if !utf8.ValidString(fd.Value) {
				t.Errorf("field %s is not valid UTF-8", fd.Name)
			}
			if fd.Name != domain.FieldEmail && fd.Name != domain.FieldPhone && len(guard.Scan(fd.Value)) > 0 {
				t.Errorf("field %s still holds a CPR or card number after the guard", fd.Name)
			}
		}
		if len(lead.Personal.Message) > 10_000 {
			t.Errorf("message is %d bytes; want truncated to 10,000", len(lead.Personal.Message))
		}
		if e := lead.Personal.Email; e != "" && (!strings.Contains(e, "@") || strings.ContainsAny(e, " <>")) {
			t.Errorf("email %q is not a bare address", e)
		}
		if lead.Source != domain.SourceEmail || lead.Consent != nil {
			t.Errorf("lead source %q, consent %v; want email and no consent record", lead.Source, lead.Consent)
		}
	})
}
