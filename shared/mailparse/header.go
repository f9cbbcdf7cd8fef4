package mailparse

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"leadvault/shared/normalize"
)

// header is what the walker needs of a header: *fields (the message's and forwarded messages' headers)
// and net/textproto.MIMEHeader (multipart parts) both have it.
type header interface {
	Get(key string) string
}

// wantedFields are the header fields Parse uses. A header block is parsed as it streams in and only these
// are kept, so that its memory is that of the fields used, whatever the block's size or field count.
var wantedFields = [...]string{
	"from", "to", "cc", "reply-to", "subject", "date", "message-id", "return-path",
	"content-type", "content-transfer-encoding", "content-disposition",
	"x-ses-spam-verdict", "x-ses-virus-verdict",
	"auto-submitted", "precedence", "x-autoreply", "x-autorespond",
}

// singleFields marks the wanted fields that RFC 5322 (section 3.6) and RFC 2045 allow once: a repeat is a
// defect. The SES verdicts repeat by design (SES prepends its own) and the trace fields may.
var singleFields = [len(wantedFields)]bool{
	true, true, true, true, true, true, true, false,
	true, true, true,
}

// fields holds the topmost occurrence of each wanted field, unfolded, trimmed and valid UTF-8, and the
// defects met reading the block.
type fields struct {
	val [len(wantedFields)]string
	has [len(wantedFields)]bool
	d   defects
}

// fieldIndex returns the index of a wanted field name (any case), or -1.
func fieldIndex[S string | []byte](key S) int {
	for i, w := range wantedFields {
		if len(w) == len(key) && strings.EqualFold(w, string(key)) {
			return i
		}
	}
	return -1
}

// Get returns the value of the topmost field named key, "" if there is none.
func (f *fields) Get(key string) string {
	if i := fieldIndex(key); i >= 0 {
		return f.val[i]
	}
	return ""
}

// Has reports whether a field named key is present, even with an empty value.
func (f *fields) Has(key string) bool {
	i := fieldIndex(key)
	return i >= 0 && f.has[i]
}

// isField reports whether line is a "Key: value" field. Like go-message's parser it forgives spaces before
// the colon and allows an empty name.
func isField(line []byte) bool {
	i := bytes.IndexByte(line, ':')
	if i < 0 {
		return false
	}
	for _, c := range bytes.TrimRight(line[:i], " \t") {
		if c < 33 || c > 126 {
			return false
		}
	}
	return true
}

// add records one unfolded field, which isField accepted. Raw 8-bit bytes that are not UTF-8 are read
// as Windows-1252.
func (f *fields) add(kv []byte) {
	i := bytes.IndexByte(kv, ':')
	j := fieldIndex(bytes.TrimRight(kv[:i], " \t"))
	switch {
	case j < 0:
	case f.has[j]:
		if singleFields[j] {
			f.d.add(DefectDuplicateHeader)
		}
	default:
		v, fixed := fixUTF8(bytes.TrimSpace(kv[i+1:]))
		if fixed {
			f.d.add(DefectHeader8bit)
		}
		f.val[j] = string(v)
		f.has[j] = true
	}
}

// readHeader reads a header block from br, up to and including the empty line that ends it, within
// MaxHeaderBytes. A leading mbox "From " line is skipped. Folded lines are joined with one space.
//
// It reads leniently, as mail clients do, and records what it forgave in the fields' defects: a line
// that is neither a field nor indented is joined to the field before it when a field (or the end of the
// block) follows it, as a fold that lost its indent; otherwise it is the first line of a body that
// follows the header without the empty line, and is returned as body, a copy, for the caller to read
// before br. A header block ended by the end of the input is a message without a body (RFC 5322 section
// 3.5). Input whose first line is not a field is ErrMalformed, and so is a block over MaxHeaderBytes.
func readHeader(br *bufio.Reader) (h *fields, body []byte, err error) {
	h = new(fields)
	var cur, long []byte // the field being read; a line longer than br's buffer
	var held []byte      // a line that is neither a field nor indented, until the next line says what it is
	size, count := 0, 0
	for first := true; ; first = false {
		line, rerr := br.ReadSlice('\n')
		if rerr == bufio.ErrBufferFull {
			long = append(long[:0], line...)
			for rerr == bufio.ErrBufferFull && size+len(long) <= MaxHeaderBytes {
				line, rerr = br.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		size += len(line)
		if size > MaxHeaderBytes {
			return nil, nil, fmt.Errorf("mailparse: header block over %d bytes: %w", MaxHeaderBytes, ErrMalformed)
		}
		end := rerr != nil // the input ended (or failed: Parse reports that itself)
		text := bytes.TrimRight(line, "\r\n")
		if held != nil && !(len(line) == 0 && end) {
			if len(text) != 0 && !isIndented(text) && !isField(text) {
				// Two lines in a row that are not fields: the body has begun.
				h.d.add(DefectHeaderNoSeparator)
				h.add(cur)
				return h, append(held, line...), nil
			}
			h.d.add(DefectHeaderFolding)
			cur = append(append(bytes.TrimRight(cur, " \t"), ' '), bytes.TrimSpace(held)...)
			held = nil
		}
		switch {
		case len(line) == 0 && end:
		case len(text) == 0:
			if count == 0 {
				return nil, nil, fmt.Errorf("mailparse: no header fields: %w", ErrMalformed)
			}
			h.add(cur)
			return h, nil, nil
		case first && bytes.HasPrefix(text, []byte("From ")):
			// an mbox separator, not a field
		case isIndented(text) && count > 0:
			cur = append(bytes.TrimRight(cur, " \t"), ' ')
			cur = append(cur, bytes.TrimSpace(text)...)
		case isIndented(text) || isField(text):
			if count > 0 {
				h.add(cur)
			}
			if isIndented(text) {
				if text = bytes.TrimLeft(text, " \t"); !isField(text) {
					return nil, nil, fmt.Errorf("mailparse: header starts with a continuation line: %w", ErrMalformed)
				}
				h.d.add(DefectHeaderFolding)
			}
			cur = append(cur[:0], text...)
			count++
		case count == 0:
			return nil, nil, fmt.Errorf("mailparse: header line is not a field: %w", ErrMalformed)
		default:
			held = append([]byte(nil), line...)
		}
		if end {
			if count == 0 {
				return nil, nil, fmt.Errorf("mailparse: no header fields: %w", ErrMalformed)
			}
			h.add(cur)
			if held != nil {
				h.d.add(DefectHeaderNoSeparator)
			}
			return h, held, nil
		}
	}
}

// isIndented reports whether a header line is a continuation: it starts with a space or a tab.
func isIndented(line []byte) bool {
	return len(line) > 0 && (line[0] == ' ' || line[0] == '\t')
}

// wordDecoder decodes RFC 2047 encoded-words with every charset charsetReader knows, and the others
// leniently (see lenientCharsetReader).
var wordDecoder = &mime.WordDecoder{CharsetReader: lenientCharsetReader}

// addressParser parses address lists, decoding encoded-words in display names.
var addressParser = &mail.AddressParser{WordDecoder: wordDecoder}

// encodedWordRe matches an RFC 2047 encoded-word, also one that is unterminated (its text then runs to
// the next white space) or whose text holds characters RFC 2047 forbids.
var encodedWordRe = regexp.MustCompile(`=\?([^?\s]+)\?([QqBb])\?([^?\s]*)(\?=|\s|$)`)

// decodeHeader decodes the encoded-words of an unstructured header value and cleans it into one line of
// valid UTF-8. Encoded-words the standard decoder leaves as written (unterminated, bad base64 or hex) are
// decoded as far as they go and recorded in d, as are unknown charsets.
func decodeHeader(v string, d *defects) string {
	if !strings.Contains(v, "=?") {
		return cleanLine(v)
	}
	for _, m := range encodedWordRe.FindAllStringSubmatch(v, -1) {
		if !knownCharset(m[1]) {
			d.add(DefectUnknownCharset)
		}
	}
	if dec, err := wordDecoder.DecodeHeader(v); err == nil {
		v = dec
	}
	if strings.Contains(v, "=?") && encodedWordRe.MatchString(v) {
		d.add(DefectEncodedWord)
		v = encodedWordRe.ReplaceAllStringFunc(v, decodeBrokenWord)
	}
	return cleanLine(v)
}

// decodeBrokenWord decodes one encoded-word that mime.WordDecoder refused, leniently: Q text with stray
// "=" and "?" kept as written, B text decoded up to its first corrupt quantum.
func decodeBrokenWord(word string) string {
	m := encodedWordRe.FindStringSubmatch(word)
	text := []byte(m[3])
	if m[2] == "B" || m[2] == "b" {
		text, _ = decodeBase64(text)
	} else {
		text = bytes.ReplaceAll(text, []byte("_"), []byte(" "))
		text, _ = decodeQP(text)
	}
	r, _ := lenientCharsetReader(m[1], bytes.NewReader(text))
	out, _ := io.ReadAll(r)
	if m[4] != "?=" {
		out = append(out, m[4]...) // the white space that ended an unterminated word
	}
	return string(out)
}

// cleanLine makes s one line of valid UTF-8, as single-line fields must be: bytes that are not UTF-8 are
// read as Windows-1252 (what an 8-bit header most likely is), and then the one rule intake applies to every
// single-line field folds line breaks, drops control characters and bidirectional overrides, and trims.
func cleanLine(s string) string {
	if !utf8.ValidString(s) {
		b, _ := fixUTF8([]byte(s))
		s = string(b)
	}
	return normalize.SingleLine(s)
}

// normAddress lower-cases the domain of an address and keeps the local part as written.
func normAddress(a string) string {
	a = cleanLine(a)
	if i := strings.LastIndexByte(a, '@'); i >= 0 {
		return a[:i+1] + strings.ToLower(a[i+1:])
	}
	return a
}

// looseAddressRe finds addresses in a header value that net/mail cannot parse.
var looseAddressRe = regexp.MustCompile(`[^\s<>()\[\],;:"@]+@[^\s<>()\[\],;:"@]+`)

// parseMailbox returns the display name and address of the first mailbox in v.
func parseMailbox(v string, d *defects) (name, addr string) {
	if strings.TrimSpace(v) == "" {
		return "", ""
	}
	if list, err := addressParser.ParseList(v); err == nil && len(list) > 0 {
		// decodeHeader also decodes encoded-words inside quotes, which net/mail leaves alone but Outlook
		// and others write.
		return decodeHeader(list[0].Name, d), normAddress(list[0].Address)
	}
	loc := looseAddressRe.FindStringIndex(v)
	if loc == nil {
		return decodeHeader(strings.Trim(v, ` "'<>`), d), ""
	}
	name = strings.TrimSpace(v[:loc[0]])
	name = strings.TrimRight(name, "<( \t")
	name = strings.Trim(decodeHeader(name, d), `"' `)
	return name, normAddress(v[loc[0]:loc[1]])
}

// parseAddresses returns the bare addresses in v.
func parseAddresses(v string) []string {
	if strings.TrimSpace(v) == "" {
		return nil
	}
	var out []string
	if list, err := addressParser.ParseList(v); err == nil {
		for _, a := range list {
			out = append(out, normAddress(a.Address))
		}
		return out
	}
	for _, a := range looseAddressRe.FindAllString(v, -1) {
		out = append(out, normAddress(a))
	}
	return out
}

// parseMessageID returns the first message id in v without its angle brackets.
func parseMessageID(v string) string {
	v = strings.TrimSpace(v)
	if i := strings.IndexByte(v, '<'); i >= 0 {
		if j := strings.IndexByte(v[i:], '>'); j > 0 {
			return cleanLine(v[i+1 : i+j])
		}
		v = v[i+1:]
	}
	return cleanLine(strings.Trim(v, "<> \t"))
}

// dateLayouts are tried after net/mail.ParseDate, for dates mailers write slightly wrong.
var dateLayouts = []string{
	"Mon, 2 Jan 2006 15:04:05 -0700",
	"Mon, 2 Jan 2006 15:04 -0700",
	"2 Jan 2006 15:04 -0700",
	"Mon, 2 Jan 2006 15:04:05",
	"Mon, 2 January 2006 15:04:05 -0700",
	"Mon Jan 2 15:04:05 2006",
	"Mon Jan 2 15:04:05 -0700 2006",
	time.RFC3339,
}

// parseDate parses a Date field; it returns the zero time for an absent or unparseable one.
func parseDate(v string) time.Time {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}
	}
	if t, err := time.Parse(dateLayouts[0], v); err == nil {
		return t // the common case, without the errors net/mail allocates trying its layouts
	}
	if t, err := mail.ParseDate(v); err == nil {
		return t
	}
	if i := strings.IndexByte(v, '('); i > 0 { // a trailing comment such as "(CEST)"
		v = strings.TrimSpace(v[:i])
	}
	v = strings.Join(strings.Fields(v), " ")
	for _, layout := range dateLayouts {
		if t, err := time.Parse(layout, v); err == nil {
			return t
		}
	}
	return time.Time{}
}

// autoGenerated reports whether the top-level header marks a machine-generated mail.
func autoGenerated(h *fields, mediaType, fromAddress string) bool {
	if v := headerToken(h.Get("Auto-Submitted")); v != "" && v != "no" {
		return true
	}
	switch headerToken(h.Get("Precedence")) {
	case "bulk", "junk", "list", "auto_reply":
		return true
	}
	if h.Has("X-Autoreply") || h.Has("X-Autorespond") {
		return true
	}
	if mediaType == "multipart/report" {
		return true
	}
	if h.Has("Return-Path") && strings.Trim(h.Get("Return-Path"), " \t") == "<>" {
		return true
	}
	local, _, _ := strings.Cut(strings.ToLower(fromAddress), "@")
	return local == "mailer-daemon" || local == "postmaster"
}

// headerToken returns the lower-cased first token of a field value such as "auto-replied; owner=x".
func headerToken(v string) string {
	v, _, _ = strings.Cut(v, ";")
	v, _, _ = strings.Cut(v, "(")
	return strings.ToLower(strings.TrimSpace(v))
}

// verdict returns an SES verdict field's value, trimmed and limited to a plausible token.
func verdict(v string) string {
	v = cleanLine(v)
	if len(v) > 32 {
		v = v[:32]
	}
	return strings.ToValidUTF8(v, "")
}
