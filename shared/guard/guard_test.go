package guard

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// span is an expected finding, given by its kind and the text it covers; offsets are found by searching
// the input from the end of the previous span.
type span struct {
	kind Kind
	text string
}

func cpr(text string) span  { return span{KindCPR, text} }
func card(text string) span { return span{KindCard, text} }

// resolve turns spans into Findings on s.
func resolve(t *testing.T, s string, spans []span) []Finding {
	t.Helper()
	var out []Finding
	from := 0
	for _, sp := range spans {
		i := strings.Index(s[from:], sp.text)
		if i < 0 {
			t.Fatalf("bad test: %q not in %q after offset %d", sp.text, s, from)
		}
		start := from + i
		out = append(out, Finding{Kind: sp.kind, Start: start, End: start + len(sp.text)})
		from = start + len(sp.text)
	}
	return out
}

// withLuhn appends the Luhn check digit to digits.
func withLuhn(digits string) string {
	for c := byte('0'); c <= '9'; c++ {
		cand := digits + string(c)
		b := make([]byte, len(cand))
		for i := range cand {
			b[i] = cand[i] - '0'
		}
		if luhn(b) {
			return cand
		}
	}
	panic("unreachable")
}

func TestScan_cpr(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []span
	}{
		{"hyphen", "010190-1234", []span{cpr("010190-1234")}},
		{"no separator", "0101901234", []span{cpr("0101901234")}},
		{"space", "010190 1234", []span{cpr("010190 1234")}},
		{"no-break space", "010190\u00a01234", []span{cpr("010190\u00a01234")}},
		{"en dash", "010190\u20131234", []span{cpr("010190\u20131234")}},
		{"31 feb", "310298-1234", nil},
		{"30 feb", "300296-1234", nil},
		{"31 april", "310498-1234", nil},
		{"30 april", "300498-1234", []span{cpr("300498-1234")}},
		{"31 december", "311299-1234", []span{cpr("311299-1234")}},
		{"day 0", "000190-1234", nil},
		{"day 32", "320190-1234", nil},
		{"month 0", "010090-1234", nil},
		{"month 13", "011390-1234", nil},
		{"29 feb 1996", "290296-1234", []span{cpr("290296-1234")}},
		{"29 feb 1900 (digit 0-3)", "290200-1234", nil},
		{"29 feb 2000 (digit 4)", "290200-4123", []span{cpr("290200-4123")}},
		{"29 feb 2000 (digit 9)", "290200-9123", []span{cpr("290200-9123")}},
		{"29 feb 2000 (digit 5)", "290200-5123", []span{cpr("290200-5123")}},
		{"29 feb 2000 (digit 8)", "290200-8123", []span{cpr("290200-8123")}},
		{"29 feb 2001", "290201-4123", nil},
		{"29 feb 2036 (digit 4)", "290236-4123", []span{cpr("290236-4123")}},
		{"29 feb 1937 (digit 4)", "290237-4123", nil},
		{"29 feb 1940 (digit 4)", "290240-4123", []span{cpr("290240-4123")}},
		{"29 feb 2056 (digit 6)", "290256-6123", []span{cpr("290256-6123")}},
		{"29 feb 1858 (digit 7)", "290258-7123", nil},
		{"29 feb 1860 (digit 7)", "290260-7123", []span{cpr("290260-7123")}},
		{"29 feb 1900 is not leap (digit 5, yy 00 is 2000)", "290200-5000", []span{cpr("290200-5000")}},
		{"in sentence", "Mit CPR-nummer er 010190-1234, tak.", []span{cpr("010190-1234")}},
		{"after colon", "CPR:0101901234.", []span{cpr("0101901234")}},
		{"letters adjacent", "abc010190-1234xyz", []span{cpr("010190-1234")}},
		{"parentheses", "(010190-1234)", []span{cpr("010190-1234")}},
		{"two", "010190-1234 og 020290-2345", []span{cpr("010190-1234"), cpr("020290-2345")}},
		{"two adjacent", "010190-1234 020290-2345", []span{cpr("010190-1234"), cpr("020290-2345")}},
		{"digit before", "10101901234", nil},
		{"digit after", "01019012345", nil},
		{"digit before hyphenated", "1010190-1234", nil},
		{"long serial", "010190-12345", nil},
		{"short serial", "010190-123", nil},
		{"double hyphen", "010190--1234", nil},
		{"two spaces", "010190  1234", nil},
		{"slash", "010190/1234", nil},
		{"in 16 digits", "1234010190123456", nil},
		{"in phone number", "+4501019012345", nil},
		{"date dd-mm-yyyy", "Mødet er 12-05-2024 kl. 10", nil},
		{"date dd.mm.yyyy", "12.05.2024", nil},
		{"date yyyy-mm-dd", "2024-05-12", nil},
		{"date ddmmyy alone", "120524", nil},
		{"danish phone", "Ring på +45 12 34 56 78", nil},
		{"danish phone compact", "Ring på 12345678", nil},
		{"decimal", "1.010190123", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := resolve(t, tt.in, tt.want)
			if got := Scan(tt.in); !reflect.DeepEqual(got, want) {
				t.Errorf("Scan(%q) = %v; want %v", tt.in, got, want)
			}
		})
	}
}

func TestScan_card(t *testing.T) {
	phoneLuhn := withLuhn("451234567890") // 13 digits that pass the Luhn check
	tests := []struct {
		name string
		in   string
		want []span
	}{
		{"visa spaces", "4111 1111 1111 1111", []span{card("4111 1111 1111 1111")}},
		{"visa hyphens", "4111-1111-1111-1111", []span{card("4111-1111-1111-1111")}},
		{"visa plain", "4111111111111111", []span{card("4111111111111111")}},
		{"mixed separators", "4111-1111 1111-1111", []span{card("4111-1111 1111-1111")}},
		{"mastercard", "kort: 5555-5555-5555-4444.", []span{card("5555-5555-5555-4444")}},
		{"amex", "378282246310005", []span{card("378282246310005")}},
		{"amex grouped", "3782 822463 10005", []span{card("3782 822463 10005")}},
		{"visa 13", "4222222222222", []span{card("4222222222222")}},
		{"19 digits", "6011 0000 0000 0000 004", nil}, // fails Luhn
		{"19 digits valid", withLuhn("601100000000000000"), []span{card(withLuhn("601100000000000000"))}},
		{"luhn invalid", "4111 1111 1111 1112", nil},
		{"luhn invalid plain", "4111111111111112", nil},
		{"12 digits", "411111111111", nil},
		{"too long run", "41111111111111111111", nil},
		{"inside longer run", "99994111111111111111", nil},
		{"double space breaks grouping", "4111  1111 1111 1111", nil},
		{"followed by expiry", "4111 1111 1111 1111 12/26", []span{card("4111 1111 1111 1111")}},
		{"followed by group", "4111 1111 1111 1111 1234 5678", []span{card("4111 1111 1111 1111")}},
		{"letters adjacent", "nr4111111111111111x", []span{card("4111111111111111")}},
		{"in text", "Mit kort er 4111 1111 1111 1111, udløb 12/26.", []span{card("4111 1111 1111 1111")}},
		{"two", "4111111111111111 og 5555555555554444", []span{card("4111111111111111"), card("5555555555554444")}},
		{"plus phone luhn valid", "+" + phoneLuhn, nil},
		{"same digits without plus", "ref " + phoneLuhn, []span{card(phoneLuhn)}},
		{"plus phone", "+4512345678901", nil},
		{"danish phone grouped", "+45 12 34 56 78", nil},
		{"danish phones", "tlf 12 34 56 78 eller 87 65 43 21", nil},
		{"cpr then card", "010190-1234 4111111111111111", []span{cpr("010190-1234"), card("4111111111111111")}},
		{"cpr preferred", "010190-1234 567", []span{cpr("010190-1234")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := resolve(t, tt.in, tt.want)
			if got := Scan(tt.in); !reflect.DeepEqual(got, want) {
				t.Errorf("Scan(%q) = %v; want %v", tt.in, got, want)
			}
		})
	}
}

func TestScan_empty(t *testing.T) {
	for _, in := range []string{"", "hej", "1", "ingen tal her", "\xff\xfe", "+"} {
		if got := Scan(in); got != nil {
			t.Errorf("Scan(%q) = %v; want nil", in, got)
		}
	}
}

func TestRedact_replaces(t *testing.T) {
	tests := []struct {
		name, in, want string
		kinds          []Kind
	}{
		{"none", "Ring på +45 12 34 56 78", "Ring på +45 12 34 56 78", nil},
		{"cpr", "CPR 010190-1234.", "CPR [redacted CPR].", []Kind{KindCPR}},
		{"card", "kort 4111 1111 1111 1111 udløb 12/26", "kort [redacted card number] udløb 12/26", []Kind{KindCard}},
		{
			"both",
			"Jeg hedder Søren, CPR 0101901234, kort 5555-5555-5555-4444.",
			"Jeg hedder Søren, CPR [redacted CPR], kort [redacted card number].",
			[]Kind{KindCPR, KindCard},
		},
		{"whole", "010190-1234", "[redacted CPR]", []Kind{KindCPR}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, findings := Redact(tt.in)
			if got != tt.want {
				t.Errorf("Redact(%q) = %q; want %q", tt.in, got, tt.want)
			}
			var kinds []Kind
			for _, f := range findings {
				kinds = append(kinds, f.Kind)
			}
			if !reflect.DeepEqual(kinds, tt.kinds) {
				t.Errorf("Redact(%q) kinds = %v; want %v", tt.in, kinds, tt.kinds)
			}
		})
	}
}

// TestFinding_hidesData checks that printing findings in any of the usual ways shows no matched digits.
func TestFinding_hidesData(t *testing.T) {
	in := "CPR 241263-4321 og kort 4111 1111 1111 1111"
	_, findings := Redact(in)
	if len(findings) != 2 {
		t.Fatalf("Redact(%q) found %d; want 2", in, len(findings))
	}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(format, findings)
		for _, secret := range []string{"241263", "4321", "4111"} {
			if strings.Contains(out, secret) {
				t.Errorf("Sprintf(%q, findings) = %q; contains %q", format, out, secret)
			}
		}
	}
	if got, want := findings[0].String(), "cpr[4:15]"; got != want {
		t.Errorf("Finding.String() = %q; want %q", got, want)
	}
}

func FuzzScan(f *testing.F) {
	for _, s := range []string{
		"",
		"010190-1234",
		"Mit CPR er 290200-4123 og kort 4111 1111 1111 1111.",
		"+45 12 34 56 78",
		"4111 1111 1111 1111 12/26",
		"010190\u20131234 010190\u00a01234",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		findings := Scan(s)
		prev := 0
		for _, fd := range findings {
			if fd.Start < prev || fd.End <= fd.Start || fd.End > len(s) {
				t.Fatalf("Scan(%q) = %v; finding %v out of order or bounds", s, findings, fd)
			}
			prev = fd.End
			digits := 0
			for i := fd.Start; i < fd.End; i++ {
				if isDigit(s[i]) {
					digits++
				}
			}
			switch fd.Kind {
			case KindCPR:
				if digits != 10 {
					t.Fatalf("Scan(%q): CPR finding %v has %d digits", s, fd, digits)
				}
			case KindCard:
				if digits < minCardDigits || digits > maxCardDigits {
					t.Fatalf("Scan(%q): card finding %v has %d digits", s, fd, digits)
				}
			default:
				t.Fatalf("Scan(%q): finding %v has unknown kind", s, fd)
			}
			if !isDigit(s[fd.Start]) || !isDigit(s[fd.End-1]) ||
				(fd.Start > 0 && isDigit(s[fd.Start-1])) || (fd.End < len(s) && isDigit(s[fd.End])) {
				t.Fatalf("Scan(%q): finding %v is not a whole digit run", s, fd)
			}
		}
		redacted, rf := Redact(s)
		if !reflect.DeepEqual(rf, findings) {
			t.Fatalf("Redact(%q) findings = %v; Scan = %v", s, rf, findings)
		}
		if len(findings) == 0 && redacted != s {
			t.Fatalf("Redact(%q) = %q; want it unchanged", s, redacted)
		}
		if again := Scan(redacted); len(again) != 0 {
			t.Fatalf("Scan(Redact(%q)) = %v on %q; want none", s, again, redacted)
		}
		if len(s) > 512 {
			return // the reference is too slow for long inputs
		}
		if want := referenceScan(s); !reflect.DeepEqual(findings, want) {
			t.Fatalf("Scan(%q) = %v; reference gives %v", s, findings, want)
		}
	})
}

var (
	cprPattern  = regexp.MustCompile("^[0-9]{6}(?:[- \u00a0\u202f\u2010\u2011\u2012\u2013\u2212])?[0-9]{4}$")
	cardPattern = regexp.MustCompile("^[0-9]+(?:[- ][0-9]+)*$")
)

// referenceScan is a slow, obviously correct Scan: at each start of a digit run, from left to right, it
// tries every end, preferring a CPR number and then the longest card number.
func referenceScan(s string) []Finding {
	var out []Finding
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) || (i > 0 && isDigit(s[i-1])) {
			continue
		}
		wholeRun := func(j int) bool { return j == len(s) || !isDigit(s[j]) }
		var found *Finding
		for j := i + 1; j <= len(s) && j <= i+16; j++ {
			if wholeRun(j) && cprPattern.MatchString(s[i:j]) {
				var d [10]byte
				k := 0
				for _, c := range []byte(s[i:j]) {
					if isDigit(c) {
						d[k] = c - '0'
						k++
					}
				}
				if validCPRDate(d) {
					found = &Finding{KindCPR, i, j}
					break
				}
			}
		}
		if found == nil && (i == 0 || s[i-1] != '+') {
			for j := min(len(s), i+40); j > i; j-- {
				if !wholeRun(j) || !cardPattern.MatchString(s[i:j]) {
					continue
				}
				var d []byte
				for _, c := range []byte(s[i:j]) {
					if isDigit(c) {
						d = append(d, c-'0')
					}
				}
				if len(d) >= minCardDigits && len(d) <= maxCardDigits && luhn(d) {
					found = &Finding{KindCard, i, j}
					break
				}
			}
		}
		if found != nil {
			out = append(out, *found)
			i = found.End - 1
		}
	}
	return out
}

// TestScan_matchesReference compares Scan with referenceScan on random digit-heavy strings.
func TestScan_matchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", " ", "-", "+", "a", "\u2013", "\u00a0", "  "}
	seeds := []string{"010190-1234", "4111111111111111", "4111 1111 1111 1111", "290200-4123", "5555-5555-5555-4444"}
	for range 5000 {
		var b strings.Builder
		for b.Len() < 60 {
			if rng.IntN(8) == 0 {
				b.WriteString(seeds[rng.IntN(len(seeds))])
			} else {
				b.WriteString(alphabet[rng.IntN(len(alphabet))])
			}
		}
		s := b.String()
		if got, want := Scan(s), referenceScan(s); !reflect.DeepEqual(got, want) {
			t.Fatalf("Scan(%q) = %v; reference gives %v", s, got, want)
		}
	}
}

// benchMessage is a realistic ~1 KB Danish enquiry with phone numbers, dates, amounts and one CPR number.
const benchMessage = `Hej,

Jeg skriver angående jeres tilbud på energirenovering af vores hus på Vestergade 12, 2. tv, 8000 Aarhus C.
Vi købte huset i 2019 og har siden skiftet vinduer (ca. 85.000 kr.), men taget er fra 1978 og trænger til
at blive efterisoleret. Vi har fået et tilbud fra en anden leverandør på 142 500 kr. inkl. moms, og vil gerne
sammenligne. Kan I komme forbi og se på det i uge 23, fx tirsdag d. 04-06-2024 eller torsdag d. 06.06.2024
mellem kl. 16 og 18? Min mand arbejder til 15.30 de fleste dage.

I er velkomne til at ringe på +45 22 34 56 78 eller på mit arbejde 87 65 43 21 (lokal 204). Vores ordre hos
jer fra sidste år havde nummeret 2023-11-0457, hvis det hjælper. Banken skal bruge mit CPR 120583-1234 til
lånet, står der i brevet, men det sender jeg selvfølgelig ikke her.

Vi har også spørgsmål til tilskud fra Bygningspuljen: gælder det stadig for huse opført før 1980, og hvor
lang er sagsbehandlingstiden? Vores energimærke er D (målt 12/3-2021, rapport nr. 311 220 447).

Venlig hilsen
Mette Sørensen og Jens Kristensen
`

func BenchmarkScan(b *testing.B) {
	b.SetBytes(int64(len(benchMessage)))
	if n := len(Scan(benchMessage)); n != 1 {
		b.Fatalf("Scan(benchMessage) found %d; want 1", n)
	}
	for b.Loop() {
		Scan(benchMessage)
	}
}
