package normalize

import (
	"bufio"
	"compress/gzip"
	"errors"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

func TestText_normalises(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"only space", " \t\r\n ", ""},
		{"trims", "  hej  ", "hej"},
		{"trims unicode space", "\u00a0hej\u2003", "hej"},
		{"nfd to nfc", "e\u0301", "é"},
		{"nfd danish", "A\u030angstro\u0308m", "Ångström"},
		{"nfc kept", "Æblegrød på Østerbro", "Æblegrød på Østerbro"},
		{"crlf", "a\r\nb", "a\nb"},
		{"lone cr", "a\rb\r\rc", "a\nb\n\nc"},
		{"internal blank lines kept", "a\n\n\nb", "a\n\n\nb"},
		{"internal spaces kept", "a   b\t c", "a   b\t c"},
		{"trailing crlf trimmed", "hej\r\n\r\n", "hej"},
		{"invalid utf-8 replaced", "a\xffb", "a\uFFFDb"},
		{"compatibility chars kept", "ﬁ ２", "ﬁ ２"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Text(tt.in); got != tt.want {
				t.Errorf("Text(%q) = %q; want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestText_idempotent(t *testing.T) {
	for _, in := range []string{"  e\u0301\r\n x ", "a\rb", "\u212b", "\xff\xfe"} {
		once := Text(in)
		if twice := Text(once); twice != once {
			t.Errorf("Text(Text(%q)) = %q; want %q", in, twice, once)
		}
	}
}

func TestEmail_valid(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"anna@example.com", "anna@example.com"},
		{"  anna@example.com\n", "anna@example.com"},
		{"Anna.Hansen@Example.COM", "Anna.Hansen@example.com"},
		{"anna+leads@sub.example.co.uk", "anna+leads@sub.example.co.uk"},
		{"a_b-c'd!#$%&*/=?^`{|}~@example.dk", "a_b-c'd!#$%&*/=?^`{|}~@example.dk"},
		{"x@a-b.dk", "x@a-b.dk"},
		{"x@123.dk", "x@123.dk"},
		{"søren@æøå.dk", "søren@æøå.dk"},
		{"søren@ÆØÅ.DK", "søren@æøå.dk"},
		{"se\u0301bastien@exa\u0301mple.fr", "sébastien@exámple.fr"}, // NFD in, NFC out
		{"用户@例子.广告", "用户@例子.广告"},
		{"x@xn--bcher-kva.example", "x@xn--bcher-kva.example"},
		{strings.Repeat("a", 64) + "@example.com", strings.Repeat("a", 64) + "@example.com"},
		{"a@" + strings.Repeat("b", 63) + ".dk", "a@" + strings.Repeat("b", 63) + ".dk"},
		{maxLenEmail(), maxLenEmail()},
	}
	for _, tt := range tests {
		got, err := Email(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("Email(%q) = %q, %v; want %q, nil", tt.in, got, err, tt.want)
		}
	}
}

// maxLenEmail returns a valid address of exactly 254 bytes.
func maxLenEmail() string {
	local := strings.Repeat("a", 64)
	domain := strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 58) + ".dk"
	return local + "@" + domain
}

func TestEmail_invalid(t *testing.T) {
	tests := []struct {
		name, in string
	}{
		{"empty", ""},
		{"space only", "   "},
		{"no at", "anna.example.com"},
		{"two ats", "anna@hansen@example.com"},
		{"display name", "Anna Hansen <anna@example.com>"},
		{"angle brackets", "<anna@example.com>"},
		{"inner space", "anna hansen@example.com"},
		{"space in domain", "anna@exam ple.com"},
		{"tab", "anna\t@example.com"},
		{"empty local", "@example.com"},
		{"empty domain", "anna@"},
		{"no dot in domain", "anna@localhost"},
		{"leading dot local", ".anna@example.com"},
		{"trailing dot local", "anna.@example.com"},
		{"double dot local", "an..na@example.com"},
		{"quoted local", `"anna"@example.com`},
		{"comma", "anna,b@example.com"},
		{"semicolon list", "a@example.com;b@example.com"},
		{"leading dot domain", "anna@.example.com"},
		{"trailing dot domain", "anna@example.com."},
		{"double dot domain", "anna@example..com"},
		{"leading hyphen label", "anna@-example.com"},
		{"trailing hyphen label", "anna@example-.com"},
		{"underscore domain", "anna@ex_ample.com"},
		{"ip literal", "anna@[192.0.2.1]"},
		{"bare ip", "anna@192.0.2.1"},
		{"local too long", strings.Repeat("a", 65) + "@example.com"},
		{"label too long", "a@" + strings.Repeat("b", 64) + ".dk"},
		{"too long", "a" + maxLenEmail()},
		{"invalid utf-8", "an\xffna@example.com"},
		{"control char", "an\x00na@example.com"},
		{"mailto", "mailto:anna@example.com"},
		{"emoji domain symbol", "anna@ex☃mple.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Email(tt.in)
			if !errors.Is(err, ErrInvalidEmail) {
				t.Fatalf("Email(%q) = %q, %v; want error wrapping ErrInvalidEmail", tt.in, got, err)
			}
			if got != "" {
				t.Errorf("Email(%q) = %q with error; want \"\"", tt.in, got)
			}
		})
	}
}

// TestEmail_errorHidesInput checks that the error, which may be logged, does not repeat the address.
func TestEmail_errorHidesInput(t *testing.T) {
	for _, in := range []string{"secret.person@exa mple.com", "secret.person", "secret..person@example.com"} {
		_, err := Email(in)
		if err == nil {
			t.Fatalf("Email(%q) = nil error; want an error", in)
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("Email(%q) error %q contains the input", in, err)
		}
	}
}

func TestPhone_valid(t *testing.T) {
	tests := []struct {
		in, region, want string
	}{
		{"22 34 56 78", "", "+4522345678"},
		{"22345678", "DK", "+4522345678"},
		{"22345678", "dk", "+4522345678"},
		{"+45 22 34 56 78", "", "+4522345678"},
		{"+45 22 34 56 78", "SE", "+4522345678"},
		{"0045 22 34 56 78", "", "+4522345678"},
		{"(+45) 22-34-56-78", "", "+4522345678"},
		{"tlf. 70 12 34 56", "", "+4570123456"},
		{"+46 8 123 456 78", "", "+46812345678"},
		{"0046 8 123 456 78", "", "+46812345678"},
		{"08-123 456 78", "SE", "+46812345678"},
		{"+49 30 1234567", "", "+49301234567"},
		{"  +45 22 34 56 78\n", "", "+4522345678"},
		{"２２３４５６７８", "", "+4522345678"}, // full-width digits
	}
	for _, tt := range tests {
		got, err := Phone(tt.in, tt.region)
		if err != nil || got != tt.want {
			t.Errorf("Phone(%q, %q) = %q, %v; want %q, nil", tt.in, tt.region, got, err, tt.want)
		}
	}
}

func TestPhone_invalid(t *testing.T) {
	tests := []struct {
		name, in, region string
	}{
		{"empty", "", ""},
		{"blank", "  ", ""},
		{"garbage", "hello there", ""},
		{"punctuation", "-- / --", ""},
		{"too short", "1234", ""},
		// Danish subscriber numbers never start with 1 (1xx are short service codes), so this
		// well-formed-looking number is not valid.
		{"dk starting with 1", "12 34 56 78", ""},
		{"dk starting with 1 international", "+45 12 34 56 78", ""},
		{"too long dk", "123456789", ""},
		{"bad country code", "+999 12345678", ""},
		{"unknown region", "12345678", "ZZ"},
		{"extension", "+45 22 34 56 78 ext. 12", ""},
		{"letters mixed", "12ab34cd", ""},
		{"too long input", strings.Repeat("1", 300), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Phone(tt.in, tt.region)
			if !errors.Is(err, ErrInvalidPhone) {
				t.Fatalf("Phone(%q, %q) = %q, %v; want error wrapping ErrInvalidPhone", tt.in, tt.region, got, err)
			}
			if got != "" {
				t.Errorf("Phone(%q, %q) = %q with error; want \"\"", tt.in, tt.region, got)
			}
		})
	}
}

func TestParsePhone_possible(t *testing.T) {
	tests := []struct {
		name, in, region, want string
		valid                  bool
	}{
		{"valid", "22 34 56 78", "", "+4522345678", true},
		{"valid international", "+46 8 123 456 78", "DK", "+46812345678", true},
		// Danish numbers never start with 1 today, but eight digits is the Danish length: a new range.
		{"dk range unknown to the metadata", "12 34 56 78", "", "+4512345678", false},
		{"dk range unknown, international", "+45 12 34 56 78", "SE", "+4512345678", false},
		{"dk range unknown, idd", "0045 12 34 56 78", "", "+4512345678", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, valid, err := ParsePhone(tt.in, tt.region, PhonePossible)
			if err != nil || got != tt.want || valid != tt.valid {
				t.Errorf("ParsePhone(%q, %q, possible) = %q, %v, %v; want %q, %v, nil", tt.in, tt.region, got, valid, err, tt.want, tt.valid)
			}
			_, _, err = ParsePhone(tt.in, tt.region, PhoneStrict)
			if tt.valid != (err == nil) {
				t.Errorf("ParsePhone(%q, %q, strict) error %v; want an error only for a number that is not valid", tt.in, tt.region, err)
			}
		})
	}
}

func TestParsePhone_impossible(t *testing.T) {
	tests := []struct {
		name, in, region string
	}{
		{"too short", "1234", ""},
		{"too long dk", "123456789", ""},
		{"too long dk international", "+45 1234 5678 9", ""},
		{"bad country code", "+999 12345678", ""},
		{"unknown region", "12345678", "ZZ"},
		{"extension", "+45 22 34 56 78 ext. 12", ""},
		{"garbage", "hello there", ""},
		{"two digits", "12", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, valid, err := ParsePhone(tt.in, tt.region, PhonePossible)
			if !errors.Is(err, ErrInvalidPhone) || got != "" || valid {
				t.Errorf("ParsePhone(%q, %q, possible) = %q, %v, %v; want \"\", false, error wrapping ErrInvalidPhone", tt.in, tt.region, got, valid, err)
			}
		})
	}
}

// TestParsePhone_sameE164 holds that the rule never changes the E.164 form of a valid number: the blind
// index of a stored lead must match whichever rule its form uses now.
func TestParsePhone_sameE164(t *testing.T) {
	ins := []struct{ in, region string }{
		{"22 34 56 78", ""}, {"+45 22 34 56 78", "SE"}, {"0045 22 34 56 78", ""}, {"(+45) 22-34-56-78", ""},
		{"tlf. 70 12 34 56", ""}, {"+46 8 123 456 78", ""}, {"08-123 456 78", "SE"}, {"+49 30 1234567", ""},
		{"２２３４５６７８", ""}, {"20 12 34 56", "DK"}, {"+1 650 253 0000", ""}, {"020 7946 0018", "GB"},
	}
	for _, tt := range ins {
		strict, err := Phone(tt.in, tt.region)
		if err != nil {
			t.Fatalf("Phone(%q, %q): %v", tt.in, tt.region, err)
		}
		possible, valid, err := ParsePhone(tt.in, tt.region, PhonePossible)
		if err != nil || possible != strict || !valid {
			t.Errorf("ParsePhone(%q, %q, possible) = %q, %v, %v; want %q, true, nil", tt.in, tt.region, possible, valid, err, strict)
		}
	}
}

func TestParsePhone_everyRegionExample(t *testing.T) {
	regions := phonenumbers.GetSupportedRegions()
	if len(regions) < 200 {
		t.Fatalf("%d supported regions; want the full metadata", len(regions))
	}
	types := []phonenumbers.PhoneNumberType{phonenumbers.FIXED_LINE, phonenumbers.MOBILE, phonenumbers.TOLL_FREE,
		phonenumbers.PREMIUM_RATE, phonenumbers.SHARED_COST, phonenumbers.VOIP, phonenumbers.PERSONAL_NUMBER,
		phonenumbers.PAGER, phonenumbers.UAN, phonenumbers.VOICEMAIL}
	checked := 0
	for region := range regions {
		for _, typ := range types {
			ex := phonenumbers.GetExampleNumberForType(region, typ)
			if ex == nil {
				continue
			}
			want := phonenumbers.Format(ex, phonenumbers.E164)
			ins := []string{phonenumbers.Format(ex, phonenumbers.INTERNATIONAL), want}
			if region != "AR" {
				// The library's national format of an Argentine mobile number (0 + area code + 15 +
				// subscriber) does not parse back to the same number; that was so before metadata
				// loaded lazily too.
				ins = append(ins, phonenumbers.Format(ex, phonenumbers.NATIONAL))
			}
			for _, in := range ins {
				for _, rule := range []PhoneRule{PhonePossible, PhoneStrict} {
					got, valid, err := ParsePhone(in, region, rule)
					if err != nil || got != want || !valid {
						t.Errorf("ParsePhone(%s example of %s, %s, %d) = %q, %v, %v; want %q, true, nil", in, region, region, rule, got, valid, err, want)
					}
				}
				checked++
			}
		}
	}
	if checked < 1500 {
		t.Errorf("checked %d example numbers; want the metadata's examples of every region and type", checked)
	}
}

// TestPhone_extensionPrefilter checks the premise of third_party/phonenumbers' shortcut: the library's
// extension pattern cannot match a string without one of the marker runes, so skipping it there changes
// nothing. Random strings over every other character the pattern mentions never match it.
func TestPhone_extensionPrefilter(t *testing.T) {
	const markers = ";,#\uFF03~\uFF5ExX\uFF58\uFF38\u0434\u0414nN\uFF4E\uFF2E"
	alphabet := []rune("0123456789٠١٢٣ \u00A0\t-.:\uFF0E=etETiIsSoOaAbBóÓ\u0301\uFF45\uFF54\uFF49\u043E\u0431+()/")
	for _, r := range alphabet {
		if strings.ContainsRune(markers, r) {
			t.Fatalf("alphabet holds marker %q", r)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200_000 {
		b := make([]rune, 1+rng.IntN(14))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		if s := string(b); phonenumbers.EXTN_PATTERN.MatchString(s) {
			t.Fatalf("EXTN_PATTERN matches %q, which holds no marker", s)
		}
	}
	for _, s := range []string{"1 ext. 12", "1 x12", "1 #12", "1 int 12", "1;ext=12", "1,,12", "1;12", "1,12", "1 - 503#",
		"1 доб 12", "1 ＃12", "1 ～12", "1 ｘ12", "1 ＥＸＴ12", "1 anexo 12", "1 ~12"} {
		if !phonenumbers.EXTN_PATTERN.MatchString(s) {
			t.Errorf("EXTN_PATTERN does not match %q", s)
		}
		if !strings.ContainsAny(s, markers) {
			t.Errorf("%q matches EXTN_PATTERN but holds no marker", s)
		}
	}
}

func TestPhone_extensionsRejected(t *testing.T) {
	for _, in := range []string{"+45 22 34 56 78 x12", "+45 22 34 56 78;ext=12", "+45 22 34 56 78,,12", "+45 22 34 56 78 #12",
		"+45 22 34 56 78 ext 12", "+45 22 34 56 78 доб 12", "+45 22 34 56 78 ～12", "22 34 56 78 int 12"} {
		if got, _, err := ParsePhone(in, "DK", PhonePossible); !errors.Is(err, ErrInvalidPhone) {
			t.Errorf("ParsePhone(%q) = %q, %v; want an extension error", in, got, err)
		}
	}
}

// TestParsePhone_corpus holds third_party/phonenumbers (lazy metadata, no protobuf runtime) to the answers
// of nyaruka/phonenumbers as published, recorded by scripts/phonenumbers-corpus: the same E.164, validity
// and possibility for every number of the corpus, and ParsePhone's rules applied to them.
func TestParsePhone_corpus(t *testing.T) {
	f, err := os.Open("testdata/phonecorpus.tsv.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(zr)
	n := 0
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		cols := strings.Split(line, "\t")
		if len(cols) != 5 {
			t.Fatalf("corpus line %q: want 5 columns", line)
		}
		in, region, want := cols[0], cols[1], cols[2]
		wantValid, wantReason := cols[3] == "1", cols[4]
		n++
		got, valid, reason := "-", false, "-1"
		if num, err := phonenumbers.Parse(in, region); err == nil && num.GetExtension() == "" {
			got = phonenumbers.Format(num, phonenumbers.E164)
			valid = phonenumbers.IsValidNumber(num)
			reason = strconv.Itoa(int(phonenumbers.IsPossibleNumberWithReason(num)))
		}
		if got != want || valid != wantValid || reason != wantReason {
			t.Errorf("%q in %s: %s valid=%v possible=%s; the library as published: %s valid=%v possible=%s", in, region, got, valid, reason, want, wantValid, wantReason)
			continue
		}
		e164, v, err := ParsePhone(in, region, PhonePossible)
		if accept := want != "-" && (wantValid || wantReason == "0"); accept != (err == nil) || (accept && (e164 != want || v != wantValid)) {
			t.Errorf("ParsePhone(%q, %s, possible) = %q, %v, %v; want accepted=%v as %s", in, region, e164, v, err, accept, want)
		}
		e164, _, err = ParsePhone(in, region, PhoneStrict)
		if accept := want != "-" && wantValid; accept != (err == nil) || (accept && e164 != want) {
			t.Errorf("ParsePhone(%q, %s, strict) = %q, %v; want accepted=%v as %s", in, region, e164, err, accept, want)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n < 10000 {
		t.Errorf("corpus has %d numbers; want over 10,000", n)
	}
}

func FuzzEmail(f *testing.F) {
	for _, s := range []string{"anna@example.com", "A@B.DK", "søren@æøå.dk", "a@b", "İ@İ.dk", "@"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := Email(in)
		if err != nil {
			if !errors.Is(err, ErrInvalidEmail) {
				t.Fatalf("Email(%q) error %v does not wrap ErrInvalidEmail", in, err)
			}
			return
		}
		if len(got) > maxEmailLen {
			t.Fatalf("Email(%q) = %q; longer than %d bytes", in, got, maxEmailLen)
		}
		again, err := Email(got)
		if err != nil || again != got {
			t.Fatalf("Email(%q) = %q, %v; want it idempotent (%q)", got, again, err, got)
		}
	})
}
