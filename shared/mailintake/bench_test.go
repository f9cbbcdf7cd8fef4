package mailintake_test

import (
	"bytes"
	"os"
	"testing"
	"time"

	"leadvault/infra/local/testenv"
	"leadvault/shared/intake"
	"leadvault/shared/mailintake"
	"leadvault/shared/mailparse"
)

// BenchmarkParseAndMap measures the in-process part of turning a mail into a lead: parse the MIME, post
// it to the form, and build the lead (normalise, guard). Storage is measured by the intake benchmarks.
func BenchmarkParseAndMap(b *testing.B) {
	raw, err := os.ReadFile("../mailparse/testdata/gmail_alternative.eml")
	if err != nil {
		b.Fatal(err)
	}
	form := testenv.Form("acme", "contact")
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		msg, err := mailparse.Parse(bytes.NewReader(raw))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := intake.Build(form, intake.Submission{Body: mailintake.Fields(form, msg), Mail: true}, now); err != nil {
			b.Fatal(err)
		}
	}
}
