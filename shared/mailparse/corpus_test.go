package mailparse

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// TestParse_defectCorpus parses every mail of testdata/defects, one malformed shape each (RFC 2045–2049 and
// 5322 errors that real mailers make), and checks what is recovered: the sender, a snippet of the text,
// text that must not be there (raw header lines, a malformed delimiter) and the defect codes recorded.
func TestParse_defectCorpus(t *testing.T) {
	const mette = "mette@nordlys.example"
	tests := []struct {
		file      string
		malformed bool // Parse gives ErrMalformed
		from      string
		text      string   // a snippet Text holds; "" = Text is empty
		notText   []string // what Text must not hold
		subject   string   // "" = not checked
		defects   []string
	}{
		{file: "truncated_no_close", from: mette, text: "30 desks before March", defects: []string{DefectTruncated}},
		{file: "truncated_malformed_close", from: mette, text: "service contract.", notText: []string{"--b2"}, defects: []string{DefectTruncated}},
		{file: "nested_missing_inner_close", from: mette, text: "inner boundary never closes.", notText: []string{"<p>"}, defects: []string{DefectTruncated}},
		{file: "header_no_separator", from: mette, text: "Hello, I would like a price for 12 chairs.\nRegards, Mette", defects: []string{DefectHeaderNoSeparator}},
		{file: "header_runs_into_multipart_body", from: mette, text: "Vi har brug for et tilbud.\nMvh Mette", defects: []string{DefectHeaderNoSeparator}},
		{file: "header_bad_folding", from: mette, text: "need new desks", subject: "Request for a quote on the renovation of our office in Aarhus",
			defects: []string{DefectHeaderFolding}},
		{file: "unknown_transfer_encoding", from: mette, text: "Vestergade 12", defects: []string{DefectTransferEncoding}},
		{file: "transfer_encoding_near_miss", from: mette, text: "Kan I levere på fredag?", defects: []string{DefectTransferEncoding}},
		{file: "unknown_charset_latin1", from: mette, text: "Kære Anders, vi ønsker et tilbud.", defects: []string{DefectUnknownCharset}},
		{file: "unknown_charset_utf8", from: mette, text: "Kære Anders, vi ønsker et tilbud.", defects: []string{DefectUnknownCharset}},
		{file: "charset_undeclared_latin1", from: mette, text: "Vi bor på Åbyhøj.", defects: []string{DefectCharsetGuessed}},
		{file: "utf8_declared_invalid", from: mette, text: "Prisen er 49 \uFFFD om m\uFFFDneden.", defects: []string{DefectInvalidUTF8}},
		{file: "digest", from: "list@lists.example", text: "Can you quote 140 m2 of gutters?",
			notText: []string{"Message-ID", "\nFrom: Jens Hansen <jens@example.dk>\nSubject: Quote request\nDate"}},
		{file: "digest_only", from: "list@lists.example", text: "The roof leaks above the kitchen.", notText: []string{"\n\nFrom: Jens"}},
		{file: "rfc822_attached", from: mette, text: "Three heat pumps in Kolding need service.", notText: []string{"<p>", "Content-Type"}},
		{file: "headers_only_no_sender"},
		{file: "headers_only_with_sender", from: mette, subject: "Call me"},
		{file: "empty_body_with_sender", from: mette},
		{file: "attachment_only_no_sender"},
		{file: "binary_junk", malformed: true},
		{file: "bare_lf", from: mette, text: "Only line feeds in this one."},
		{file: "mixed_crlf_lf", from: mette, text: "The header has CRLF,\nthe body mostly LF."},
		{file: "header_8bit_latin1", from: "birthe@bageri.example", text: "40 rugbrød", subject: "Tilbud på brød", defects: []string{DefectHeader8bit}},
		{file: "header_8bit_utf8", from: "soren@example.dk", text: "kasse æbler", subject: "Spørgsmål om æbler"},
		{file: "encoded_word_unterminated", from: mette, text: "See the subject.", subject: "Tilbud på tag", defects: []string{DefectEncodedWord}},
		{file: "encoded_word_bad_base64", from: "soren@example.dk", text: "See the subject too.", subject: "Tilbud på tag", defects: []string{DefectEncodedWord}},
		{file: "base64_bad_padding", from: mette, text: "Ring venligst i morgen.", defects: []string{DefectBase64}},
		{file: "base64_garbage", from: mette, text: "Hej, vi s", defects: []string{DefectBase64}},
		{file: "qp_soft_break_eof", from: mette, text: "blødt brudt og slutter med et blødt brud", notText: []string{"="}},
		{file: "qp_bad_escape", from: mette, text: "Rabat: 50=% på alt =ZZ i dag.", defects: []string{DefectQuotedPrintable}},
		{file: "boundary_trailing_whitespace", from: mette, text: "Delimiters padded with spaces.", notText: []string{"--ws"}},
		{file: "no_boundary_param", from: mette, text: "The boundary was never declared.", notText: []string{"multi-part message", "Content-Type"},
			defects: []string{DefectNoBoundary}},
		{file: "boundary_not_found", from: mette, text: "Please send the price list for 2025.\nThank you.", defects: []string{DefectBoundaryNotFound}},
		{file: "wrong_boundary", from: mette, text: "This text hides behind an undeclared boundary.", notText: []string{"--actual", "Content-Type"},
			defects: []string{DefectBoundaryNotFound}},
		{file: "part_header_broken", from: mette, text: "The second part survives.", notText: []string{"lost part"}, defects: []string{DefectPartHeader}},
		{file: "duplicate_headers", from: mette, text: "Two of each.", subject: "First subject", defects: []string{DefectDuplicateHeader}},
		{file: "long_lines", from: mette, text: "end of the long line."},
		{file: "html_only_windows1252", from: mette, text: "Pris: € 49 – \u201cStarter\u201d"},
		{file: "control_characters", from: "anna@example.dk", text: "Line one with NUL\nline two with NEL and bell"},
	}
	files, err := filepath.Glob("testdata/defects/*.eml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(tests) {
		t.Errorf("testdata/defects holds %d mails, the table %d; want each mail in the table", len(files), len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data := readTestdata(t, filepath.Join("defects", tt.file+".eml"))
			m, err := Parse(bytes.NewReader(data))
			if tt.malformed {
				if !errors.Is(err, ErrMalformed) {
					t.Errorf("Parse(%s) = %v; want %v", tt.file, err, ErrMalformed)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%s) = %v; want nil", tt.file, err)
			}
			checkInvariants(t, tt.file, m, int64(len(data)))
			if m.FromAddress != tt.from {
				t.Errorf("Parse(%s) = FromAddress %q; want %q", tt.file, m.FromAddress, tt.from)
			}
			if (tt.text == "") != (m.Text == "") || !strings.Contains(m.Text, tt.text) {
				t.Errorf("Parse(%s) = Text %q; want it to hold %q", tt.file, m.Text, tt.text)
			}
			for _, s := range tt.notText {
				if strings.Contains(m.Text, s) {
					t.Errorf("Parse(%s) = Text %q; want no %q in it", tt.file, m.Text, s)
				}
			}
			if tt.subject != "" && m.Subject != tt.subject {
				t.Errorf("Parse(%s) = Subject %q; want %q", tt.file, m.Subject, tt.subject)
			}
			if !reflect.DeepEqual(m.Defects, tt.defects) {
				t.Errorf("Parse(%s) = Defects %q; want %q", tt.file, m.Defects, tt.defects)
			}
			if m.Truncated != slices.Contains(tt.defects, DefectTruncated) {
				t.Errorf("Parse(%s) = Truncated %v; want it with the truncated defect only", tt.file, m.Truncated)
			}
			for _, s := range []string{m.FromName, m.Subject} {
				if strings.ContainsAny(s, "\r\n\x00\u202e\u0085") {
					t.Errorf("Parse(%s) = single-line field %q; want no line break, control or bidi override", tt.file, s)
				}
			}
		})
	}
}

// TestParse_goodMailHasNoDefects checks that the well-formed real-world mails record no defect.
func TestParse_goodMailHasNoDefects(t *testing.T) {
	files, err := filepath.Glob("testdata/*.eml")
	if err != nil {
		t.Fatal(err)
	}
	broken := map[string]bool{"truncated.eml": true, "malformed_boundary.eml": true, "malformed_noseparator.eml": true}
	for _, f := range files {
		if broken[filepath.Base(f)] {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := Parse(bytes.NewReader(data))
		if err != nil || m.Defects != nil {
			t.Errorf("Parse(%s) = defects %v, %v; want none", filepath.Base(f), m.Defects, err)
		}
	}
}

func TestFixReader_chunked(t *testing.T) {
	tests := []string{
		"plain ascii",
		"Kære Åse",                     // valid UTF-8 passes
		"K\xe6re \xc5se",               // Latin-1 bytes become their characters
		"æ\xe6ø\xf8 \xe2\x82",          // a cut sequence at the end is read byte by byte
		"\x93quoted\x94 \xe2\x82\xac!", // Windows-1252 quotes, then a whole euro sign
	}
	for _, in := range tests {
		want, _ := fixUTF8([]byte(in))
		for _, r := range []io.Reader{strings.NewReader(in), iotest.OneByteReader(strings.NewReader(in)), iotest.HalfReader(strings.NewReader(in))} {
			got, err := io.ReadAll(&fixReader{r: r})
			if err != nil || string(got) != string(want) {
				t.Errorf("fixReader(%q) = %q, %v; want %q", in, got, err, want)
			}
		}
	}
}

func TestParse_htmlUnknownCharset(t *testing.T) {
	raw := msg("Content-Type: text/html; charset=x-made-up\n", "<p>K\xe6re kunde, pris 49 \x80</p>\n")
	m, err := Parse(strings.NewReader(raw))
	if err != nil || m.Text != "Kære kunde, pris 49 €" || !slices.Equal(m.Defects, []string{DefectUnknownCharset}) {
		t.Errorf("Parse(html, unknown charset) = %q %q, %v; want the text read as Windows-1252 and flagged", m.Text, m.Defects, err)
	}
}
