package mailintake_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"leadvault/infra/local/testenv"
	"leadvault/shared/intake"
	"leadvault/shared/mailintake"
	"leadvault/shared/mailparse"
)

// mailOfSize builds an SES-delivered mail of about size bytes: a Danish text part and, above 10 KB, a
// base64 PDF-like attachment making up the rest.
func mailOfSize(size int) []byte {
	head, err := os.ReadFile("testdata/plain.eml")
	if err != nil {
		panic(err)
	}
	h, _, _ := strings.Cut(string(head), "Content-Type:")
	var b bytes.Buffer
	b.WriteString(h)
	b.WriteString("Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n")
	line := "Hej, kan I give et tilbud på nye tagrender til et hus på 140 m²? Venlig hilsen Jens.\r\n"
	for b.Len() < min(size, 8<<10) {
		b.WriteString(line)
	}
	b.WriteString("-- \r\nJens Hansen\r\nTlf. +45 20 12 34 56\r\n")
	if rest := size - b.Len() - 200; rest > 0 {
		b.WriteString("--b1\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"tegning.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
		// base64 grows 4/3, plus CRLF per 76 characters: 57 raw bytes per 78 written.
		raw := bytes.Repeat([]byte("%PDF-1.7 tegning "), rest*57/78/17+1)
		enc := base64.StdEncoding.EncodeToString(raw)
		for len(enc) > 76 {
			b.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		b.WriteString(enc + "\r\n")
	}
	b.WriteString("--b1--\r\n")
	return b.Bytes()
}

// BenchmarkParseAndMap measures the in-process part of turning a mail into a lead: parse the MIME, post
// it to the form, and build the lead (normalise, guard), for mails of about 10 KB, 1 MB and 40 MB (the
// large ones mostly an attachment). Peak heap while parsing is measured by shared/mailparse's
// BenchmarkParse; storage by the intake benchmarks.
func BenchmarkParseAndMap(b *testing.B) {
	form := testenv.Form("acme", "contact")
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	for _, size := range []int{10 << 10, 1 << 20, mailparse.MaxBytes - 64<<10} {
		raw := mailOfSize(size)
		b.Run(fmt.Sprintf("%dKB", (size+512)>>10), func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				msg, err := mailparse.Parse(bytes.NewReader(raw))
				if err != nil {
					b.Fatal(err)
				}
				lead, err := intake.Build(form, intake.Submission{Body: mailintake.Fields(form, msg), Mail: true}, now)
				if err != nil || lead.Personal.Email == "" {
					b.Fatalf("Build() = %+v, %v", lead.Personal, err)
				}
			}
		})
	}
}
