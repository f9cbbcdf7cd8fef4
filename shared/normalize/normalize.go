// Package normalize canonicalises the free text, e-mail addresses and phone numbers that web forms post,
// so that equal inputs compare equal before they are stored or looked up.
//
// Errors never quote the input: it is personal data.
package normalize

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
	"golang.org/x/text/unicode/norm"
)

// ErrInvalidEmail reports that a string is not a single bare e-mail address. Email wraps it with the reason.
var ErrInvalidEmail = errors.New("invalid e-mail address")

// ErrInvalidPhone reports that a string is not a valid phone number. Phone wraps it with the reason.
var ErrInvalidPhone = errors.New("invalid phone number")

// DefaultRegion is the region Phone assumes for numbers written without a country code when its caller
// names none.
const DefaultRegion = "DK"

// Limits on e-mail addresses, in bytes of UTF-8 (RFC 5321 section 4.5.3.1).
const (
	maxEmailLen = 254
	maxLocalLen = 64
	maxLabelLen = 63
)

// Text returns s with every line ending (CRLF or a lone CR) turned into LF, in Unicode normalisation form
// C, and with surrounding white space removed. Internal content, including blank lines and runs of
// spaces, is kept. Bytes that are not valid UTF-8 are replaced by U+FFFD.
func Text(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if strings.IndexByte(s, '\r') >= 0 {
		s = strings.ReplaceAll(s, "\r\n", "\n")
		s = strings.ReplaceAll(s, "\r", "\n")
	}
	return strings.TrimSpace(norm.NFC.String(s))
}

// Email returns s as a canonical bare address local@domain: trimmed, in Unicode normalisation form C,
// with the domain lower-cased and the local part kept as typed.
//
// It accepts only a dot-atom local part (no quoted strings, comments or display names) of at most 64
// bytes, and a domain name of at least two labels made of letters (internationalised names are allowed),
// digits and inner hyphens; the whole address is at most 254 bytes. Any other input yields an error that
// wraps ErrInvalidEmail.
func Email(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", invalidEmail("empty")
	}
	if !utf8.ValidString(s) {
		return "", invalidEmail("not valid UTF-8")
	}
	s = norm.NFC.String(s)
	local, domain, ok := strings.Cut(s, "@")
	if !ok {
		return "", invalidEmail("missing @")
	}
	if strings.Contains(domain, "@") {
		return "", invalidEmail("more than one @")
	}
	if err := checkLocal(local); err != nil {
		return "", err
	}
	// Lower-casing can change both the length and the normal form of a few characters.
	domain = norm.NFC.String(strings.ToLower(domain))
	if err := checkDomain(domain); err != nil {
		return "", err
	}
	addr := local + "@" + domain
	if len(addr) > maxEmailLen {
		return "", invalidEmail(fmt.Sprintf("longer than %d bytes", maxEmailLen))
	}
	return addr, nil
}

func invalidEmail(reason string) error {
	return fmt.Errorf("%w: %s", ErrInvalidEmail, reason)
}

// checkLocal accepts an RFC 5322 dot-atom, extended to non-ASCII letters, digits, marks and symbols
// (RFC 6531).
func checkLocal(local string) error {
	switch {
	case local == "":
		return invalidEmail("empty local part")
	case len(local) > maxLocalLen:
		return invalidEmail(fmt.Sprintf("local part longer than %d bytes", maxLocalLen))
	case local[0] == '.' || local[len(local)-1] == '.':
		return invalidEmail("local part starts or ends with a dot")
	case strings.Contains(local, ".."):
		return invalidEmail("local part has consecutive dots")
	}
	for _, r := range local {
		if !isAtext(r) {
			return invalidEmail(fmt.Sprintf("local part has a forbidden character %s", describeRune(r)))
		}
	}
	return nil
}

// isAtext reports whether r may appear in a dot-atom (the dot included).
func isAtext(r rune) bool {
	if r < utf8.RuneSelf {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
			return true
		}
		return strings.ContainsRune("!#$%&'*+-/=?^_`{|}~.", r)
	}
	return unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.S, unicode.Pc, unicode.Pd)
}

// describeRune names a rejected character without leaking the rest of the address. Only ASCII
// punctuation and white space can be rejected, so naming it reveals nothing personal.
func describeRune(r rune) string {
	switch {
	case r == ' ':
		return "(space)"
	case unicode.IsSpace(r) || unicode.IsControl(r) || r >= utf8.RuneSelf:
		return fmt.Sprintf("%U", r)
	default:
		return fmt.Sprintf("%q", r)
	}
}

// checkDomain accepts a lower-cased host name of at least two labels, each of letters, digits and inner
// hyphens; the top-level label must not be all digits (that would be an IP address, which we refuse).
func checkDomain(domain string) error {
	if domain == "" {
		return invalidEmail("empty domain")
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return invalidEmail("domain has no dot")
	}
	for _, label := range labels {
		if err := checkLabel(label); err != nil {
			return err
		}
	}
	if strings.TrimFunc(labels[len(labels)-1], isASCIIDigit) == "" {
		return invalidEmail("top-level domain is numeric")
	}
	return nil
}

func checkLabel(label string) error {
	switch {
	case label == "":
		return invalidEmail("domain has an empty label")
	case utf8.RuneCountInString(label) > maxLabelLen:
		return invalidEmail(fmt.Sprintf("domain label longer than %d characters", maxLabelLen))
	case label[0] == '-' || label[len(label)-1] == '-':
		return invalidEmail("domain label starts or ends with a hyphen")
	}
	for _, r := range label {
		switch {
		case r == '-', 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', isASCIIDigit(r):
		case r >= utf8.RuneSelf && unicode.In(r, unicode.L, unicode.M, unicode.Nd):
		default:
			return invalidEmail(fmt.Sprintf("domain has a forbidden character %s", describeRune(r)))
		}
	}
	return nil
}

func isASCIIDigit(r rune) bool { return '0' <= r && r <= '9' }

// PhoneRule says which numbers ParsePhone accepts.
type PhoneRule int

// The phone rules.
const (
	// PhonePossible accepts a number that is valid, or that is possible: its country calling code exists
	// and it has a length the country's numbering plan allows for a full number (not one that can only
	// be dialled locally). It lets a new number range, which the metadata does not know as valid yet,
	// through.
	PhonePossible PhoneRule = iota
	// PhoneStrict accepts only numbers the metadata knows as valid for their region.
	PhoneStrict
)

// Phone returns s as an E.164 number such as "+4512345678", accepting only valid numbers (PhoneStrict).
// See ParsePhone.
func Phone(s, defaultRegion string) (string, error) {
	e164, _, err := ParsePhone(s, defaultRegion, PhoneStrict)
	return e164, err
}

// ParsePhone returns s as an E.164 number such as "+4512345678", and whether the number is valid for its
// region (as opposed to only possible, which rule PhonePossible also accepts). A number written without a
// country code is read as one of defaultRegion, a CLDR region code such as "DK" or "SE" ("" means
// DefaultRegion). Numbers the rule does not accept, and numbers with an extension (which E.164 cannot
// hold), yield an error that wraps ErrInvalidPhone.
//
// The E.164 form of a valid number does not depend on the rule, so blind indexes of stored numbers keep
// matching whichever rule a form uses.
func ParsePhone(s, defaultRegion string, rule PhoneRule) (e164 string, valid bool, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", false, fmt.Errorf("%w: empty", ErrInvalidPhone)
	}
	region := strings.ToUpper(strings.TrimSpace(defaultRegion))
	if region == "" {
		region = DefaultRegion
	}
	num, err := phonenumbers.Parse(s, region)
	if err != nil {
		// The library's errors name the problem only (for instance "the string supplied did not seem
		// to be a phone number"), never the input.
		return "", false, fmt.Errorf("%w: %v", ErrInvalidPhone, err)
	}
	if num.GetExtension() != "" {
		return "", false, fmt.Errorf("%w: has an extension", ErrInvalidPhone)
	}
	valid = phonenumbers.IsValidNumber(num)
	switch {
	case valid:
	case rule == PhoneStrict:
		return "", false, fmt.Errorf("%w: not a valid number for its region", ErrInvalidPhone)
	default:
		if reason := phonenumbers.IsPossibleNumberWithReason(num); reason != phonenumbers.IS_POSSIBLE {
			return "", false, fmt.Errorf("%w: not a possible number for its region (%s)", ErrInvalidPhone, possibleReason(reason))
		}
	}
	return phonenumbers.Format(num, phonenumbers.E164), valid, nil
}

// possibleReason names why a number is not possible.
func possibleReason(r phonenumbers.ValidationResult) string {
	switch r {
	case phonenumbers.INVALID_COUNTRY_CODE:
		return "unknown country code"
	case phonenumbers.TOO_SHORT:
		return "too short"
	case phonenumbers.TOO_LONG:
		return "too long"
	case phonenumbers.IS_POSSIBLE_LOCAL_ONLY:
		return "only dialable locally"
	default:
		return "wrong length"
	}
}
