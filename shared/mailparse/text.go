package mailparse

import (
	"bytes"
	"io"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// readCapped reads r up to max bytes. The rest of r is left for the caller to drain; a read error keeps
// what was read.
func readCapped(r io.Reader, max int) []byte {
	b := make([]byte, 0, min(4096, max+1))
	for len(b) < max {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):min(cap(b), max)])
		b = b[:len(b)+n]
		if err != nil {
			break
		}
	}
	return b
}

// cutUTF8 cuts b to at most max bytes without splitting a UTF-8 sequence.
func cutUTF8(b []byte, max int) []byte {
	if len(b) <= max {
		return b
	}
	b = b[:max]
	for i := 0; i < utf8.UTFMax && i < len(b); i++ {
		if utf8.RuneStart(b[len(b)-1-i]) {
			if !utf8.FullRune(b[len(b)-1-i:]) {
				b = b[:len(b)-1-i]
			}
			break
		}
	}
	return b
}

// plainText reads a text/plain body (at most 2*MaxTextBytes of it, transfer-encoded with enc), decodes
// it, converts it to UTF-8, normalises it (see normalizeText), undoes format=flowed (RFC 3676) when the
// part says so and cuts it to MaxTextBytes. The body is decoded in place where it can be. What it reads
// around is recorded in d.
func plainText(r io.Reader, enc string, params map[string]string, d *defects) []byte {
	b := readCapped(r, 2*MaxTextBytes)
	var bad bool
	switch enc {
	case cteQuotedPrintable:
		if b, bad = decodeQP(b); bad {
			d.add(DefectQuotedPrintable)
		}
	case cteBase64:
		if b, bad = decodeBase64(b); bad {
			d.add(DefectBase64)
		}
	}
	b = toUTF8(b, params["charset"], d)
	b = normalizeText(b)
	if strings.EqualFold(params["format"], "flowed") {
		b = unflow(b, strings.EqualFold(params["delsp"], "yes"))
	}
	return bytes.TrimSpace(cutUTF8(b, MaxTextBytes))
}

// normalizeText rewrites b in place: CRLF and lone CR become LF, NUL and the other C0 and C1 control
// characters except tab are dropped, and invalid UTF-8 becomes U+FFFD. It does not trim.
func normalizeText(b []byte) []byte {
	out := b[:0]
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '\r':
			out = append(out, '\n')
			if i+1 < len(b) && b[i+1] == '\n' {
				i++
			}
		case c == '\n' || c == '\t':
			out = append(out, c)
		case c < 0x20 || c == 0x7f:
		case c == 0xc2 && i+1 < len(b) && b[i+1] >= 0x80 && b[i+1] <= 0x9f:
			i++ // a C1 control, U+0080 to U+009F
		default:
			out = append(out, c)
		}
	}
	if !utf8.Valid(out) {
		out = bytes.ToValidUTF8(out, []byte("\uFFFD"))
	}
	return out
}

// unflow joins the soft line breaks of a format=flowed body: a line ending in a space continues on the
// next line of the same quote depth. Space-stuffing is removed and the signature separator "-- " is kept.
func unflow(b []byte, delsp bool) []byte {
	out := make([]byte, 0, len(b))
	lines := bytes.Split(b, []byte("\n"))
	joining := false
	prevDepth := 0
	for _, line := range lines {
		depth := 0
		for depth < len(line) && line[depth] == '>' {
			depth++
		}
		content := line[depth:]
		if len(content) > 0 && content[0] == ' ' {
			content = content[1:] // space-stuffing (or the space after the quote marks)
		}
		if joining && depth != prevDepth {
			out = append(out, '\n')
			joining = false
		}
		if !joining && depth > 0 {
			out = append(out, bytes.Repeat([]byte(">"), depth)...)
			out = append(out, ' ')
		}
		soft := len(content) > 0 && content[len(content)-1] == ' ' && string(content) != "-- "
		if soft && delsp {
			content = content[:len(content)-1]
		}
		out = append(out, content...)
		if !soft {
			out = append(out, '\n')
		}
		joining = soft
		prevDepth = depth
	}
	return out
}

// Signature search: the lines after a signature separator, or else the last lines of the text, within
// sigMaxBytes.
const (
	sigLinesAfterSeparator = 15
	sigLastLines           = 8
	sigMaxBytes            = 4096
)

// phoneRe matches a run that may be a phone number: an optional "+" or "(", digits and the separators
// people write between them (space, no-break space, dot, dash, slash, parentheses), ending in a digit.
var phoneRe = regexp.MustCompile(`[+(]?\+?\d[\d \x{00A0}().\-/]*\d`)

// dateLikeRe matches dates, which have as many digits as a Danish phone number.
var dateLikeRe = regexp.MustCompile(`^\d{1,4}[./-]\d{1,2}[./-]\d{1,4}$`)

// phoneSplitRe splits a run holding two numbers written side by side ("20 12 34 56 / 30 11 22 33").
var phoneSplitRe = regexp.MustCompile(`[ \x{00A0}]+[/-][ \x{00A0}]*|[ \x{00A0}]*/[ \x{00A0}]+|[ \x{00A0}]{2,}`)

// labelWords are the (lower-cased) words that, just before a number, say it is or is not a phone number.
var labelWords = map[string]bool{
	"tlf": true, "tel": true, "telefon": true, "telephone": true, "phone": true, "mobil": true, "mobile": true,
	"mob": true, "cell": true, "direct": true, "direkte": true, "m": true, "t": true, "p": true, "ph": true,
	"fax": false, "cvr": false, "vat": false, "moms": false, "org": false, "ean": false, "iban": false,
	"bic": false, "swift": false, "konto": false, "kontonr": false, "account": false, "reg": false,
	"se": false, "pnr": false, "ordre": false, "order": false, "faktura": false, "invoice": false,
	"sag": false, "case": false, "ref": false, "id": false,
}

// findPhone returns the first phone-number-looking string in the signature part of text, as written.
func findPhone(text string) string {
	if i := sigSeparator(text); i >= 0 {
		region := firstLines(text[i:], sigLinesAfterSeparator)
		if p := phoneIn(string(cutUTF8([]byte(region), sigMaxBytes))); p != "" {
			return p
		}
	}
	region := lastLines(text, sigLastLines)
	if len(region) > sigMaxBytes {
		region = region[len(region)-sigMaxBytes:]
		for len(region) > 0 && !utf8.RuneStart(region[0]) {
			region = region[1:]
		}
	}
	return phoneIn(region)
}

// sigSeparator returns the offset just after the first signature separator line ("-- ", or "--" as
// clients that strip trailing spaces leave it), or -1.
func sigSeparator(text string) int {
	for off := 0; off < len(text); {
		end := strings.IndexByte(text[off:], '\n')
		if end < 0 {
			end = len(text) - off
		}
		if l := strings.TrimRight(text[off:off+end], " \t\u00a0"); l == "--" {
			return min(off+end+1, len(text))
		}
		off += end + 1
	}
	return -1
}

// firstLines returns the first n lines of s, stopping at a forwarded or quoted message.
func firstLines(s string, n int) string {
	off := 0
	for i := 0; i < n && off < len(s); i++ {
		end := strings.IndexByte(s[off:], '\n')
		if end < 0 {
			return s
		}
		if strings.HasPrefix(s[off:], "---------- Forwarded message") {
			break
		}
		off += end + 1
	}
	return s[:off]
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	end := len(s)
	for i := 0; i < n; i++ {
		j := strings.LastIndexByte(s[:end], '\n')
		if j < 0 {
			return s
		}
		end = j
	}
	return s[end+1:]
}

// phoneIn returns the best phone candidate in region: the first labelled one (Tlf., Phone, M: ...), else
// the first unlabelled one. Numbers labelled as something else (fax, CVR, IBAN ...), dates, quoted lines
// and runs with fewer than 8 or more than 15 digits are skipped.
func phoneIn(region string) string {
	var plain string
	for line := range strings.Lines(region) {
		if strings.HasPrefix(strings.TrimSpace(line), ">") || countDigits(line) < 8 {
			continue
		}
		prev := 0
		for _, loc := range phoneRe.FindAllStringIndex(line, -1) {
			labelled, other := label(line[prev:loc[0]])
			prev = loc[1]
			for _, cand := range phoneSplitRe.Split(line[loc[0]:loc[1]], -1) {
				cand = strings.TrimRight(cand, " \u00a0.-/(")
				if other || !plausiblePhone(cand) {
					continue
				}
				if labelled {
					return cand
				}
				if plain == "" {
					plain = cand
				}
			}
		}
	}
	return plain
}

// label looks at the text before a number, from the last field separator on, and reports whether it
// names a phone number or something else.
func label(before string) (phone, other bool) {
	if i := strings.LastIndexAny(before, "|,;\t\u00b7\u2022"); i >= 0 {
		before = before[i+1:]
	}
	words := strings.FieldsFunc(strings.ToLower(before), func(r rune) bool { return !unicode.IsLetter(r) })
	for _, w := range words {
		if is, known := labelWords[w]; known {
			if !is {
				return false, true
			}
			phone = true
		}
	}
	return phone, false
}

// plausiblePhone reports whether a candidate has a phone number's count of digits and is not a date.
func plausiblePhone(s string) bool {
	if digits := countDigits(s); digits < 8 || digits > 15 || strings.Contains(s, "  ") {
		return false
	}
	return !dateLikeRe.MatchString(s)
}

// countDigits counts the ASCII digits in s.
func countDigits(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if '0' <= s[i] && s[i] <= '9' {
			n++
		}
	}
	return n
}
