package mailparse

import (
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// The defect codes Message.Defects holds. Each names one kind of damage Parse read around, as mail clients
// do; none holds data from the message.
const (
	// DefectTruncated: a multipart ended without its closing boundary (missing, malformed or cut off); the
	// parts read are kept.
	DefectTruncated = "truncated"
	// DefectNoBoundary: a multipart Content-Type without a boundary parameter; the boundary was found in
	// the body, or else the body was read as text.
	DefectNoBoundary = "no_boundary"
	// DefectBoundaryNotFound: the declared boundary never occurs; another boundary found in the body was
	// used, or else the body was read as text.
	DefectBoundaryNotFound = "boundary_not_found"
	// DefectPartHeader: a part header that is not a header (a line that is not a field); the part was
	// skipped and the parts after it read.
	DefectPartHeader = "part_header"
	// DefectHeaderNoSeparator: the header block ran into the body without the empty line; the first line
	// that is neither a field nor a continuation began the body.
	DefectHeaderNoSeparator = "header_no_separator"
	// DefectHeaderFolding: a header line that is neither a field nor indented was joined to the field
	// before it, or a header began with an indented field.
	DefectHeaderFolding = "header_folding"
	// DefectHeader8bit: raw 8-bit header bytes that are not UTF-8 (RFC 6532) were read as Windows-1252.
	DefectHeader8bit = "header_8bit"
	// DefectDuplicateHeader: a field that may occur once (From, Subject, Date, Content-Type ...) occurred
	// again; the topmost counts.
	DefectDuplicateHeader = "duplicate_header"
	// DefectEncodedWord: an RFC 2047 encoded-word that is malformed (unterminated, bad base64 or hex) was
	// decoded as far as possible.
	DefectEncodedWord = "encoded_word"
	// DefectTransferEncoding: a Content-Transfer-Encoding that is not one of RFC 2045's; a near miss
	// ("Base-64", "quoted printable") was read as what it names, anything else as 8bit.
	DefectTransferEncoding = "transfer_encoding"
	// DefectBase64: base64 with characters outside its alphabet or a corrupt quantum; what decodes was kept.
	DefectBase64 = "base64"
	// DefectQuotedPrintable: quoted-printable with "=" not followed by two hex digits, kept as written.
	DefectQuotedPrintable = "quoted_printable"
	// DefectUnknownCharset: a charset Parse does not know; the text was read as UTF-8 where it is valid
	// and as Windows-1252 where it is not.
	DefectUnknownCharset = "unknown_charset"
	// DefectCharsetGuessed: 8-bit text without a charset (or labelled US-ASCII) that is not UTF-8; its
	// bytes were read as Windows-1252.
	DefectCharsetGuessed = "charset_guessed"
	// DefectInvalidUTF8: text labelled UTF-8 with invalid bytes, replaced by U+FFFD.
	DefectInvalidUTF8 = "invalid_utf8"
)

// defects is a set of defect codes, one bit each, so that recording one costs no allocation.
type defects uint32

// defectCodes lists the codes in the order of their bits, which is the order Message.Defects lists them.
var defectCodes = [...]string{
	DefectTruncated, DefectNoBoundary, DefectBoundaryNotFound, DefectPartHeader,
	DefectHeaderNoSeparator, DefectHeaderFolding, DefectHeader8bit, DefectDuplicateHeader, DefectEncodedWord,
	DefectTransferEncoding, DefectBase64, DefectQuotedPrintable,
	DefectUnknownCharset, DefectCharsetGuessed, DefectInvalidUTF8,
}

// add records code. A nil set records nothing.
func (d *defects) add(code string) {
	if d == nil {
		return
	}
	for i, c := range defectCodes {
		if c == code {
			*d |= 1 << i
			return
		}
	}
	panic("mailparse: unknown defect code " + code)
}

// list returns the recorded codes, nil if there are none.
func (d defects) list() []string {
	if d == 0 {
		return nil
	}
	var out []string
	for i, c := range defectCodes {
		if d&(1<<i) != 0 {
			out = append(out, c)
		}
	}
	return out
}

// fixUTF8 returns b as valid UTF-8: valid sequences are kept and every other byte is read as Windows-1252
// (the superset of Latin-1 that mailers write without saying so). It reports whether any byte was
// read that way; b is returned unchanged, without copying, when it is valid.
func fixUTF8(b []byte) ([]byte, bool) {
	if utf8.Valid(b) {
		return b, false
	}
	out := make([]byte, 0, len(b)+len(b)/2)
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n == 1 {
			out = utf8.AppendRune(out, charmap.Windows1252.DecodeByte(b[0]))
		} else {
			out = append(out, b[:n]...)
		}
		b = b[n:]
	}
	return out, true
}
