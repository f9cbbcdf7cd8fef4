// Package guard finds data in free text that a lead form must not collect: Danish CPR numbers and payment
// card numbers (GDPR Art. 9 and national identifiers, obligation S3).
//
// A Finding holds only a kind and byte offsets, never the digits it covers, so findings can be logged.
package guard

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Kind names what a Finding is.
type Kind string

// The kinds of data Scan finds.
const (
	KindCPR  Kind = "cpr"
	KindCard Kind = "card"
)

// Finding is one piece of guarded data in a string: s[Start:End] holds it. Its String form holds only
// the kind and the offsets.
type Finding struct {
	Kind       Kind
	Start, End int // byte offsets into the scanned string
}

// String returns the kind and byte range, for instance "cpr[12:23]"; never the data itself.
func (f Finding) String() string {
	return fmt.Sprintf("%s[%d:%d]", f.Kind, f.Start, f.End)
}

// Placeholders that Redact puts in place of each kind of finding.
const (
	RedactedCPR  = "[redacted CPR]"
	RedactedCard = "[redacted card number]"
)

// Lengths of the numbers Scan looks for, in digits.
const (
	minCardDigits = 13
	maxCardDigits = 19
)

// Scan returns the CPR numbers and payment card numbers in s, in order and without overlaps.
//
// A CPR number is DDMMYY-SSSS, where the separator may be a hyphen, a space (a non-breaking space or
// Unicode dash also counts) or absent, whose date exists once the century is read from the first serial
// digit. The modulus-11 check was abandoned in 2007 and is not applied.
//
// A card number is 13 to 19 digits, possibly grouped by single spaces or hyphens, that passes the Luhn
// check and does not directly follow a "+" (as international phone numbers do).
//
// Neither is found inside a longer run of digits: a match never has a digit right before or after it.
// Where a grouped number runs on past a card number (for instance into an expiry date), the card number
// is still found if it ends at a group boundary.
func Scan(s string) []Finding {
	var out []Finding
	for i := 0; i < len(s); {
		if !isDigit(s[i]) || (i > 0 && isDigit(s[i-1])) {
			i++
			continue
		}
		// s[i] starts a run of digits.
		if f, ok := matchAt(s, i); ok {
			out = append(out, f)
			i = f.End
			continue
		}
		// Skip the rest of this run: no match starts inside it.
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	return out
}

// matchAt returns the finding that starts at the start of the digit run at i, preferring a CPR number.
func matchAt(s string, i int) (Finding, bool) {
	if end, ok := matchCPR(s, i); ok {
		return Finding{Kind: KindCPR, Start: i, End: end}, true
	}
	if end, ok := matchCard(s, i); ok {
		return Finding{Kind: KindCard, Start: i, End: end}, true
	}
	return Finding{}, false
}

// matchCPR reports whether a CPR number starts at i (where a digit run starts) and where it ends.
func matchCPR(s string, i int) (int, bool) {
	var d [10]byte
	j := i
	for k := 0; k < 6; k++ {
		if j >= len(s) || !isDigit(s[j]) {
			return 0, false
		}
		d[k] = s[j] - '0'
		j++
	}
	if j < len(s) && !isDigit(s[j]) {
		n := cprSeparatorLen(s[j:])
		if n == 0 {
			return 0, false
		}
		j += n
	}
	for k := 6; k < 10; k++ {
		if j >= len(s) || !isDigit(s[j]) {
			return 0, false
		}
		d[k] = s[j] - '0'
		j++
	}
	if j < len(s) && isDigit(s[j]) {
		return 0, false
	}
	if !validCPRDate(d) {
		return 0, false
	}
	return j, true
}

// cprSeparatorLen returns the length of the separator at the start of s, or 0 if there is none.
func cprSeparatorLen(s string) int {
	switch s[0] {
	case '-', ' ':
		return 1
	}
	r, n := utf8.DecodeRuneInString(s)
	switch r {
	case '\u00a0', '\u202f', // no-break space, narrow no-break space
		'\u2010', '\u2011', '\u2012', '\u2013', '\u2212': // hyphen, no-break hyphen, figure dash, en dash, minus
		return n
	}
	return 0
}

// validCPRDate reports whether the first seven digits of a CPR number make an existing date. The
// seventh digit (the first of the serial number) gives the century.
func validCPRDate(d [10]byte) bool {
	day := int(d[0])*10 + int(d[1])
	month := int(d[2])*10 + int(d[3])
	yy := int(d[4])*10 + int(d[5])
	var century int
	switch d[6] {
	case 0, 1, 2, 3:
		century = 1900
	case 4, 9:
		century = 1900
		if yy <= 36 {
			century = 2000
		}
	default: // 5, 6, 7, 8
		century = 1800
		if yy <= 57 {
			century = 2000
		}
	}
	if month < 1 || month > 12 || day < 1 {
		return false
	}
	return day <= daysIn(month, century+yy)
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// matchCard reports whether a card number starts at i (where a digit run starts) and where it ends. It
// takes the longest run of whole digit groups from i that is a card number.
func matchCard(s string, i int) (int, bool) {
	if i > 0 && s[i-1] == '+' {
		return 0, false
	}
	var digits [maxCardDigits]byte
	var ends [maxCardDigits]int // ends[k]: end offset of the group holding digit k, if a group ends there
	n := 0
	j := i
	for n < maxCardDigits {
		// One group of digits.
		for j < len(s) && isDigit(s[j]) {
			if n == maxCardDigits {
				// The group goes past the longest card number: it cannot end one.
				return bestCard(digits[:], ends[:], n)
			}
			digits[n] = s[j] - '0'
			n++
			j++
		}
		ends[n-1] = j
		// A single space or hyphen followed by a digit continues the number.
		if j+1 < len(s) && (s[j] == ' ' || s[j] == '-') && isDigit(s[j+1]) {
			j++
			continue
		}
		break
	}
	return bestCard(digits[:], ends[:], n)
}

// bestCard returns the end of the longest prefix of digits[:n] that ends a group, has the length of a
// card number and passes the Luhn check. ends[k] is the end offset of the group whose last digit is
// digits[k], or 0 if digits[k] does not end a group.
func bestCard(digits []byte, ends []int, n int) (int, bool) {
	for k := n; k >= minCardDigits; k-- {
		if ends[k-1] == 0 {
			continue // not a group boundary
		}
		if luhn(digits[:k]) {
			return ends[k-1], true
		}
	}
	return 0, false
}

// luhn reports whether digits pass the Luhn (mod 10) check.
func luhn(digits []byte) bool {
	sum := 0
	double := false
	for k := len(digits) - 1; k >= 0; k-- {
		v := int(digits[k])
		if double {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
		double = !double
	}
	return sum%10 == 0
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }

// Redact returns s with every finding of Scan replaced by RedactedCPR or RedactedCard, and the findings
// (whose offsets refer to s, not to the result). A string without findings is returned unchanged.
func Redact(s string) (string, []Finding) {
	findings := Scan(s)
	if len(findings) == 0 {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s) + len(findings)*len(RedactedCard))
	prev := 0
	for _, f := range findings {
		b.WriteString(s[prev:f.Start])
		if f.Kind == KindCPR {
			b.WriteString(RedactedCPR)
		} else {
			b.WriteString(RedactedCard)
		}
		prev = f.End
	}
	b.WriteString(s[prev:])
	return b.String(), findings
}
