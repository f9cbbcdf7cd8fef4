package normalize

import (
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// SingleLine returns s cleaned for a field that is shown on one line (a name, an e-mail address, a phone
// number, a company, a subject): each run of line breaks and tabs (CR, LF, VT, FF, NEL, U+2028, U+2029,
// TAB) becomes one space, and every other control character is removed: C0 controls, DEL, C1 controls,
// the bidirectional embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069) and the
// directional marks (U+200E, U+200F, U+061C). The result is in Unicode normalisation form C, with
// surrounding white space removed; bytes that are not valid UTF-8 become U+FFFD.
//
// The marks go too because one line needs none of them: the Unicode bidirectional algorithm lays out a
// right-to-left name correctly on its own, while an invisible mark or override lets a value look like
// another one in a recipient's mail client.
func SingleLine(s string) string {
	return clean(s, true)
}

// FreeText returns s cleaned for a multi-line field (a message, an address): line endings (CRLF, CR, VT,
// FF, NEL, U+2028, U+2029) become LF and tabs are kept, while the other controls are removed as by
// SingleLine, except the directional marks U+200E, U+200F and U+061C, which right-to-left text may need
// between lines and which cannot reach beyond their own position. The result is in Unicode normalisation
// form C, with surrounding white space removed; bytes that are not valid UTF-8 become U+FFFD.
func FreeText(s string) string {
	return clean(s, false)
}

// clean does SingleLine (single) or FreeText. It copies s only from the first character it changes, and
// then in runs of unchanged bytes, so plain text costs one scan.
func clean(s string, single bool) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	var b strings.Builder
	changed := false
	start := 0       // first byte not yet copied to b
	folding := false // inside a run of line breaks folded to one space
	for i := 0; i < len(s); {
		c := s[i]
		// Every rune clean changes is ASCII, or encoded from one of these lead bytes: 0xC2 (C1
		// controls), 0xD8 (U+061C) or 0xE2 (U+200E–U+2069).
		if c >= 0x20 && c < 0x7f || c >= 0x80 && c != 0xc2 && c != 0xd8 && c != 0xe2 {
			i++
			folding = false
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		k := kind(r, single)
		if k == keep || (k == lineBreak && !single && r == '\n') {
			i += size
			folding = false
			continue
		}
		if !changed {
			b.Grow(len(s))
			changed = true
		}
		b.WriteString(s[start:i])
		i += size
		start = i
		switch {
		case k == drop:
		case single:
			if !folding {
				b.WriteByte(' ')
			}
			folding = true
		case r == '\r' && i < len(s) && s[i] == '\n':
			b.WriteByte('\n') // CRLF
			i++
			start = i
		default:
			b.WriteByte('\n')
		}
	}
	if changed {
		b.WriteString(s[start:])
		s = b.String()
	}
	return strings.TrimSpace(norm.NFC.String(s))
}

type charKind uint8

const (
	keep charKind = iota
	lineBreak
	drop
)

// kind classifies one rune for SingleLine (single) or FreeText.
func kind(r rune, single bool) charKind {
	switch {
	case r == '\t':
		if single {
			return lineBreak
		}
		return keep
	case r == '\n', r == '\r', r == '\v', r == '\f', r == 0x85, r == 0x2028, r == 0x2029:
		return lineBreak
	case r < 0x20, r >= 0x7f && r <= 0x9f:
		return drop
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return drop
	case r == 0x200e, r == 0x200f, r == 0x061c:
		if single {
			return drop
		}
		return keep
	}
	return keep
}
