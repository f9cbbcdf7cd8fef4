package mailparse

import (
	"bufio"
	"bytes"
	"fmt"
	"mime"
	"net/mail"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
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

// fields holds the topmost occurrence of each wanted field, unfolded and trimmed.
type fields struct {
	val [len(wantedFields)]string
	has [len(wantedFields)]bool
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

// add records one unfolded "Key: value" field; it reports false for a line that is not a field. Like
// go-message's parser it forgives spaces before the colon and skips an empty name.
func (f *fields) add(kv []byte) bool {
	i := bytes.IndexByte(kv, ':')
	if i < 0 {
		return false
	}
	key := bytes.TrimRight(kv[:i], " \t")
	for _, c := range key {
		if c < 33 || c > 126 {
			return false
		}
	}
	if j := fieldIndex(key); j >= 0 && !f.has[j] {
		f.val[j] = string(bytes.TrimSpace(kv[i+1:]))
		f.has[j] = true
	}
	return true
}

// readHeader reads a header block from br, up to and including the empty line that ends it, within
// MaxHeaderBytes. A leading mbox "From " line is skipped. Folded lines are joined with one space.
func readHeader(br *bufio.Reader) (*fields, error) {
	h := new(fields)
	var cur, long []byte // the field being read; a line longer than br's buffer
	size, count := 0, 0
	for first := true; ; first = false {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			long = append(long[:0], line...)
			for err == bufio.ErrBufferFull && size+len(long) <= MaxHeaderBytes {
				line, err = br.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		size += len(line)
		if size > MaxHeaderBytes {
			return nil, fmt.Errorf("mailparse: header block over %d bytes: %w", MaxHeaderBytes, ErrMalformed)
		}
		if err != nil {
			// The input ended inside the header: there is no body separation. (A size limit or a
			// failing reader ends it too; Parse reports those itself.)
			return nil, fmt.Errorf("mailparse: header not ended by an empty line: %w", ErrMalformed)
		}
		line = bytes.TrimRight(line, "\r\n")
		switch {
		case len(line) == 0:
			if count == 0 {
				return nil, fmt.Errorf("mailparse: no header fields: %w", ErrMalformed)
			}
			if !h.add(cur) {
				return nil, fmt.Errorf("mailparse: header line is not a field: %w", ErrMalformed)
			}
			return h, nil
		case first && bytes.HasPrefix(line, []byte("From ")):
			// an mbox separator, not a field
		case line[0] == ' ' || line[0] == '\t':
			if count == 0 {
				return nil, fmt.Errorf("mailparse: header starts with a continuation line: %w", ErrMalformed)
			}
			cur = append(bytes.TrimRight(cur, " \t"), ' ')
			cur = append(cur, bytes.TrimSpace(line)...)
		default:
			if count > 0 && !h.add(cur) {
				return nil, fmt.Errorf("mailparse: header line is not a field: %w", ErrMalformed)
			}
			cur = append(cur[:0], line...)
			count++
		}
	}
}

// wordDecoder decodes RFC 2047 encoded-words with every charset charsetReader knows.
var wordDecoder = &mime.WordDecoder{CharsetReader: charsetReader}

// addressParser parses address lists, decoding encoded-words in display names.
var addressParser = &mail.AddressParser{WordDecoder: wordDecoder}

// decodeHeader decodes the encoded-words of an unstructured header value and cleans it into one line of
// valid UTF-8.
func decodeHeader(v string) string {
	if strings.Contains(v, "=?") {
		if d, err := wordDecoder.DecodeHeader(v); err == nil {
			v = d
		}
	}
	return cleanLine(v)
}

// cleanLine makes s valid UTF-8 (invalid bytes become U+FFFD), turns control characters into spaces and
// trims it.
func cleanLine(s string) string {
	clean := utf8.ValidString(s)
	if clean {
		for i := 0; i < len(s); i++ {
			if s[i] < 0x20 || s[i] == 0x7f {
				clean = false
				break
			}
		}
	}
	if !clean {
		s = strings.Map(func(r rune) rune {
			if unicode.IsControl(r) {
				return ' '
			}
			return r
		}, strings.ToValidUTF8(s, "\uFFFD"))
	}
	return strings.TrimSpace(s)
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
func parseMailbox(v string) (name, addr string) {
	if strings.TrimSpace(v) == "" {
		return "", ""
	}
	if list, err := addressParser.ParseList(v); err == nil && len(list) > 0 {
		// decodeHeader also decodes encoded-words inside quotes, which net/mail leaves alone but Outlook
		// and others write.
		return decodeHeader(list[0].Name), normAddress(list[0].Address)
	}
	loc := looseAddressRe.FindStringIndex(v)
	if loc == nil {
		return decodeHeader(strings.Trim(v, ` "'<>`)), ""
	}
	name = strings.TrimSpace(v[:loc[0]])
	name = strings.TrimRight(name, "<( \t")
	name = strings.Trim(decodeHeader(name), `"' `)
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
