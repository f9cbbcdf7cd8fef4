package mailparse

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/quotedprintable"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
	"golang.org/x/text/encoding/charmap"
)

// utf8Labels and asciiLabels are the charset labels read without conversion.
var (
	utf8Labels  = []string{"utf-8", "utf8", "unicode-1-1-utf-8"}
	asciiLabels = []string{"", "us-ascii", "ascii", "ansi_x3.4-1968"}
)

// normLabel returns a charset label lower-cased and without quotes or spaces around it.
func normLabel(label string) string {
	return strings.ToLower(strings.Trim(label, ` "'`))
}

// charsetReader returns a reader that converts input from the named charset to UTF-8. UTF-8 and US-ASCII
// pass through (invalid bytes are replaced later). ISO-8859-1 is read as its superset Windows-1252, as
// browsers do, because mailers label Windows text with "smart quotes" and € as Latin-1. Everything else
// goes to go-message's charset package (the IANA and WHATWG registries of golang.org/x/text); a label
// neither knows is an error.
func charsetReader(label string, input io.Reader) (io.Reader, error) {
	switch l := normLabel(label); {
	case slices.Contains(utf8Labels, l), slices.Contains(asciiLabels, l):
		return input, nil
	case slices.Contains(latin1Labels, l):
		return charmap.Windows1252.NewDecoder().Reader(input), nil
	}
	return charset.Reader(label, input)
}

// latin1Labels are the labels read as Windows-1252.
var latin1Labels = []string{"iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "latin-1", "l1", "cp819", "ibm819",
	"windows-1252", "cp1252", "x-cp1252"}

// lenientCharsetReader is charsetReader for a label it knows, and otherwise reads the input as UTF-8
// where it is valid and as Windows-1252 where it is not (see fixUTF8). It never fails.
func lenientCharsetReader(label string, input io.Reader) (io.Reader, error) {
	if r, err := charsetReader(label, input); err == nil {
		return r, nil
	}
	return &fixReader{r: input}, nil
}

// knownCharset reports whether charsetReader knows label.
func knownCharset(label string) bool {
	switch l := normLabel(label); {
	case slices.Contains(utf8Labels, l), slices.Contains(asciiLabels, l), slices.Contains(latin1Labels, l):
		return true
	}
	_, err := charset.Reader(label, strings.NewReader(""))
	return err == nil
}

// The Content-Transfer-Encodings Parse decodes; every other one is read as it is.
const (
	cteRaw             = ""
	cteBase64          = "base64"
	cteQuotedPrintable = "quoted-printable"
)

// transferEncoding returns the encoding a Content-Transfer-Encoding value names: cteBase64,
// cteQuotedPrintable or cteRaw (7bit, 8bit, binary or none). A value that is not one of RFC 2045's is
// recorded in d; a near miss ("Base-64", "quoted printable", "8-bit") is read as what it names, anything
// else (x-uuencode, a typo) as 8bit, as mail clients show it.
func transferEncoding(cte string, d *defects) string {
	v := strings.ToLower(strings.Trim(cte, " \t\"'"))
	switch v {
	case "", "7bit", "8bit", "binary":
		return cteRaw
	case cteBase64, cteQuotedPrintable:
		return v
	}
	d.add(DefectTransferEncoding)
	switch strings.NewReplacer("-", "", "_", "", " ", "").Replace(v) {
	case "base64":
		return cteBase64
	case "quotedprintable":
		return cteQuotedPrintable
	}
	return cteRaw
}

// transferDecoder undoes a transfer encoding (see transferEncoding). Junk in base64 is recorded in d.
func transferDecoder(enc string, r io.Reader, d *defects) io.Reader {
	switch enc {
	case cteQuotedPrintable:
		return quotedprintable.NewReader(r)
	case cteBase64:
		return base64.NewDecoder(base64.StdEncoding, &base64Filter{r: r, d: d})
	}
	return r
}

// base64Filter drops every byte outside the base64 alphabet (line breaks, spaces, stray junk), so that
// the decoder only fails on real corruption.
type base64Filter struct {
	r io.Reader
	d *defects // where junk is recorded
}

func (f *base64Filter) Read(p []byte) (int, error) {
	for {
		n, err := f.r.Read(p)
		k := 0
		for _, c := range p[:n] {
			switch {
			case isBase64(c):
				p[k] = c
				k++
			case !isSpace(c):
				f.d.add(DefectBase64)
			}
		}
		if k > 0 || err != nil {
			return k, err
		}
	}
}

// decodeQP decodes quoted-printable in place, leniently: trailing whitespace is dropped, "=" at the end
// of a line (or of the input) joins it to the next, and an "=" not followed by two hex digits is kept as
// it is, which it reports as bad.
func decodeQP(b []byte) (out []byte, bad bool) {
	out = b[:0] // writes never overtake reads: a decoded line is never longer than the encoded one
	for len(b) > 0 {
		line, rest, nl := b, []byte(nil), false
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, rest, nl = b[:i], b[i+1:], true
		}
		line = bytes.TrimRight(line, " \t\r")
		soft := len(line) > 0 && line[len(line)-1] == '='
		if soft {
			line = line[:len(line)-1]
		}
		for i := 0; i < len(line); i++ {
			c := line[i]
			if c == '=' {
				if i+2 < len(line) && isHex(line[i+1]) && isHex(line[i+2]) {
					c = unhex(line[i+1])<<4 | unhex(line[i+2])
					i += 2
				} else {
					bad = true
				}
			}
			out = append(out, c)
		}
		if nl && !soft {
			out = append(out, '\n')
		}
		b = rest
	}
	return out, bad
}

// isHex reports whether c is a hexadecimal digit.
func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// unhex returns the value of the hexadecimal digit c.
func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// decodeBase64 decodes base64 leniently: bytes outside the alphabet are skipped, base64 blocks joined
// after their padding are decoded one after the other, and decoding stops at the first corrupt quantum,
// keeping what came before. It reports junk (other than white space) and corruption as bad.
func decodeBase64(b []byte) (out []byte, bad bool) {
	k := 0
	for _, c := range b {
		switch {
		case isBase64(c):
			b[k] = c
			k++
		case !isSpace(c):
			bad = true
		}
	}
	src := b[:k]
	dst := make([]byte, len(src)) // decoding never lengthens
	n := 0
	for len(src) > 0 {
		chunk := src
		if i := bytes.IndexByte(src, '='); i >= 0 {
			j := i
			for j < len(src) && src[j] == '=' {
				j++
			}
			chunk = src[:j]
		}
		src = src[len(chunk):]
		m, err := base64.StdEncoding.Decode(dst[n:], chunk)
		if err != nil {
			// unpadded or cut short: decode what forms whole bytes
			bad = true
			m, err = base64.RawStdEncoding.Decode(dst[n:], bytes.TrimRight(chunk, "="))
		}
		n += m
		if err != nil {
			break
		}
	}
	return dst[:n], bad
}

// isSpace reports whether c is white space that encoded text may be broken with.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n'
}

// isBase64 reports whether c belongs to the standard base64 alphabet or is padding.
func isBase64(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '='
}

// toUTF8 converts b from the named charset to UTF-8 (see charsetReader), recording in d what did not
// fit: text labelled UTF-8 that is not is left for normalizeText to replace; text without a label, or
// labelled US-ASCII or with an unknown one, is read as UTF-8 where valid and as Windows-1252 where not.
func toUTF8(b []byte, label string, d *defects) []byte {
	l := normLabel(label)
	switch {
	case slices.Contains(utf8Labels, l):
		if !utf8.Valid(b) {
			d.add(DefectInvalidUTF8)
		}
		return b
	case slices.Contains(asciiLabels, l):
		out, fixed := fixUTF8(b)
		if fixed {
			d.add(DefectCharsetGuessed)
		}
		return out
	}
	if isASCII(b) && !strings.HasPrefix(l, "utf-") && !strings.HasPrefix(l, "ucs") {
		if !knownCharset(l) {
			d.add(DefectUnknownCharset)
		}
		return b // the same in every ASCII-compatible charset
	}
	r, err := charsetReader(label, bytes.NewReader(b))
	if err != nil {
		d.add(DefectUnknownCharset)
		out, _ := fixUTF8(b)
		return out
	}
	out, _ := io.ReadAll(r)
	return out
}

// isASCII reports whether b is 7-bit and free of the escape that starts ISO-2022 sequences.
func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 || c == 0x1b {
			return false
		}
	}
	return true
}

// textDecoder converts the charset of a text part whose transfer encoding r has undone, as toUTF8 does
// but streaming: text without a label or with an unknown one is read through a fixReader.
func textDecoder(r io.Reader, label string, d *defects) io.Reader {
	l := normLabel(label)
	switch {
	case slices.Contains(utf8Labels, l):
		return r // invalid bytes become U+FFFD in htmlToText
	case slices.Contains(asciiLabels, l):
		return &fixReader{r: r, d: d, code: DefectCharsetGuessed}
	}
	if cr, err := charsetReader(label, r); err == nil {
		return cr
	}
	d.add(DefectUnknownCharset)
	return &fixReader{r: r}
}

// fixReader streams fixUTF8: valid UTF-8 passes and every other byte is read as Windows-1252. A
// sequence cut between two reads is held until the next. The first byte read as Windows-1252 is recorded
// in d as code.
type fixReader struct {
	r     io.Reader
	d     *defects
	code  string
	carry [utf8.UTFMax]byte // the start of a sequence cut by the last read
	nc    int
	out   []byte // converted bytes not yet returned
	err   error
}

func (f *fixReader) Read(p []byte) (int, error) {
	for len(f.out) == 0 {
		if f.err != nil {
			return 0, f.err
		}
		if len(p) <= utf8.UTFMax {
			return 0, io.ErrShortBuffer
		}
		// Valid text is returned in place; other text is converted (up to 3 bytes for each byte read)
		// into f.out.
		copy(p, f.carry[:f.nc])
		n, err := f.r.Read(p[f.nc:])
		n += f.nc
		f.nc, f.err = 0, err
		b := p[:n]
		if err == nil {
			// hold back a sequence that may be completed by the next read
			for i := 1; i < utf8.UTFMax && i <= len(b); i++ {
				if c := b[len(b)-i]; utf8.RuneStart(c) {
					if c >= utf8.RuneSelf && !utf8.FullRune(b[len(b)-i:]) {
						f.nc = copy(f.carry[:], b[len(b)-i:])
						b = b[:len(b)-i]
					}
					break
				}
			}
		}
		if utf8.Valid(b) {
			if len(b) > 0 {
				return len(b), nil
			}
			continue // nothing whole yet: read on, or return the error
		}
		fixed, _ := fixUTF8(b)
		if f.code != "" {
			f.d.add(f.code)
		}
		f.out = fixed
	}
	n := copy(p, f.out)
	f.out = f.out[n:]
	return n, nil
}

// mediaType parses a Content-Type or Content-Disposition value leniently: the lower-cased value and its
// parameters, recovering parameters by hand where mime.ParseMediaType gives up (unquoted spaces, repeated
// parameters).
func mediaType(v string) (string, map[string]string) {
	if strings.TrimSpace(v) == "" {
		return "", nil
	}
	mt, params, err := mime.ParseMediaType(v)
	if err == nil {
		return mt, params
	}
	parts := strings.Split(v, ";")
	mt = strings.ToLower(strings.TrimSpace(parts[0]))
	params = make(map[string]string, len(parts)-1)
	for _, p := range parts[1:] {
		k, val, ok := strings.Cut(p, "=")
		if !ok {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		val = strings.Trim(strings.TrimSpace(val), `"`)
		if _, dup := params[k]; k != "" && !dup {
			params[k] = val
		}
	}
	return mt, params
}

// contentType returns a part's media type, with its parameters: defType when the part has no
// Content-Type, "text/plain" for a value without a subtype (RFC 2045 section 5.2).
func contentType(h header, defType string) (string, map[string]string) {
	v := h.Get("Content-Type")
	if strings.TrimSpace(v) == "" {
		return defType, nil
	}
	mt, params := mediaType(v)
	if !strings.Contains(mt, "/") {
		mt = "text/plain"
	}
	return mt, params
}

// filename returns an attachment's decoded base name: the Content-Disposition filename (RFC 2231 handled
// by mime), else the Content-Type name, with RFC 2047 encoded-words decoded (as Outlook and Gmail write
// them) and any directory removed.
func filename(disposition, ctype map[string]string, d *defects) string {
	name := disposition["filename"]
	if name == "" {
		name = ctype["name"]
	}
	if name == "" {
		return ""
	}
	name = decodeHeader(name, d)
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	return strings.TrimSpace(name)
}
