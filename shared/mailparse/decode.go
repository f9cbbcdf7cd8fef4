package mailparse

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/quotedprintable"
	"strings"

	"github.com/emersion/go-message/charset"
	"golang.org/x/text/encoding/charmap"
)

// charsetReader returns a reader that converts input from the named charset to UTF-8. UTF-8 and US-ASCII
// pass through (invalid bytes are replaced later). ISO-8859-1 is read as its superset Windows-1252, as
// browsers do, because mailers label Windows text with "smart quotes" and € as Latin-1. Everything else
// goes to go-message's charset package (the IANA and WHATWG registries of golang.org/x/text).
func charsetReader(label string, input io.Reader) (io.Reader, error) {
	switch strings.ToLower(strings.Trim(label, ` "'`)) {
	case "", "utf-8", "utf8", "us-ascii", "ascii", "ansi_x3.4-1968", "unicode-1-1-utf-8":
		return input, nil
	case "iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "latin-1", "l1", "cp819", "ibm819",
		"windows-1252", "cp1252", "x-cp1252":
		return charmap.Windows1252.NewDecoder().Reader(input), nil
	}
	return charset.Reader(label, input)
}

// transferDecoder undoes a Content-Transfer-Encoding. Unknown encodings (and 7bit, 8bit, binary) pass
// through unchanged.
func transferDecoder(cte string, r io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, &base64Filter{r: r})
	}
	return r
}

// base64Filter drops every byte outside the base64 alphabet (line breaks, spaces, stray junk), so that
// the decoder only fails on real corruption.
type base64Filter struct {
	r io.Reader
}

func (f *base64Filter) Read(p []byte) (int, error) {
	for {
		n, err := f.r.Read(p)
		k := 0
		for _, c := range p[:n] {
			if isBase64(c) {
				p[k] = c
				k++
			}
		}
		if k > 0 || err != nil {
			return k, err
		}
	}
}

// decodeQP decodes quoted-printable in place, leniently: trailing whitespace is dropped, "=" at the end
// of a line joins it to the next, and an "=" not followed by two hex digits is kept as it is.
func decodeQP(b []byte) []byte {
	out := b[:0] // writes never overtake reads: a decoded line is never longer than the encoded one
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
			if c == '=' && i+2 < len(line) && isHex(line[i+1]) && isHex(line[i+2]) {
				c = unhex(line[i+1])<<4 | unhex(line[i+2])
				i += 2
			}
			out = append(out, c)
		}
		if nl && !soft {
			out = append(out, '\n')
		}
		b = rest
	}
	return out
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
// keeping what came before.
func decodeBase64(b []byte) []byte {
	k := 0
	for _, c := range b {
		if isBase64(c) {
			b[k] = c
			k++
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
			m, err = base64.RawStdEncoding.Decode(dst[n:], bytes.TrimRight(chunk, "="))
		}
		n += m
		if err != nil {
			break
		}
	}
	return dst[:n]
}

// isBase64 reports whether c belongs to the standard base64 alphabet or is padding.
func isBase64(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '='
}

// toUTF8 converts b from the named charset to UTF-8 (see charsetReader); an unknown charset leaves b as
// it is, for invalid bytes to be replaced later.
func toUTF8(b []byte, label string) []byte {
	label = strings.ToLower(strings.Trim(label, ` "'`))
	switch label {
	case "", "utf-8", "utf8", "us-ascii", "ascii", "ansi_x3.4-1968", "unicode-1-1-utf-8":
		return b
	}
	if isASCII(b) && !strings.HasPrefix(label, "utf-") && !strings.HasPrefix(label, "ucs") {
		return b // the same in every ASCII-compatible charset
	}
	r, err := charsetReader(label, bytes.NewReader(b))
	if err != nil {
		return b
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

// textDecoder undoes the transfer encoding and converts the charset of a text part. An unknown charset
// leaves the bytes as they are; invalid UTF-8 is replaced later.
func textDecoder(h header, r io.Reader, label string) io.Reader {
	r = transferDecoder(h.Get("Content-Transfer-Encoding"), r)
	if cr, err := charsetReader(label, r); err == nil {
		return cr
	}
	return r
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

// contentType returns a part's media type, "text/plain" by default (RFC 2045) and for values without a
// subtype, with its parameters.
func contentType(h header) (string, map[string]string) {
	mt, params := mediaType(h.Get("Content-Type"))
	if !strings.Contains(mt, "/") {
		mt = "text/plain"
	}
	return mt, params
}

// filename returns an attachment's decoded base name: the Content-Disposition filename (RFC 2231 handled
// by mime), else the Content-Type name, with RFC 2047 encoded-words decoded (as Outlook and Gmail write
// them) and any directory removed.
func filename(disposition, ctype map[string]string) string {
	name := disposition["filename"]
	if name == "" {
		name = ctype["name"]
	}
	if name == "" {
		return ""
	}
	name = decodeHeader(name)
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	return strings.TrimSpace(name)
}
