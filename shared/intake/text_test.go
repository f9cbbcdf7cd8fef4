package intake

import (
	"strings"
	"testing"
	"unicode/utf8"

	"leadvault/shared/domain"
	"leadvault/shared/formbody"
)

func TestBuild_controlCharacters(t *testing.T) {
	f := form(domain.PolicyFlag)
	f.Fields["company"] = domain.FieldCompany
	f.Fields["address"] = domain.FieldAddress
	f.Fields["subject"] = "custom:subject"
	tests := []struct {
		name string
		mail bool
		in   map[string]string
		want map[string]string // lead field → stored value
	}{
		{"form", false, map[string]string{
			"name": "Jens\x00 Hansen\r\nBcc: x", "email": "jens@example.dk\u202e", "phone": "20\t12 34 56",
			"company": "Acme\u202eSpA\u202c\u2028ApS", "message": "Hej\r\n\r\nRing\x00 venligst\u202e.\tTak",
			"address": "Vej 1\r\n2100 Kbh\x07", "subject": "Tilbud\r\n på\u2066 tag", "budget": "10k\x1b",
			"consent": "on",
		}, map[string]string{
			domain.FieldName: "Jens Hansen Bcc: x", domain.FieldEmail: "jens@example.dk", domain.FieldPhone: "+4520123456",
			domain.FieldCompany: "AcmeSpA ApS", domain.FieldMessage: "Hej\n\nRing venligst.\tTak",
			domain.FieldAddress: "Vej 1\n2100 Kbh", "custom:subject": "Tilbud  på tag", "custom:budget": "10k",
		}},
		{"mail", true, map[string]string{
			"name": "Mette\u202e Sørensen\n", "email": "mette@example.dk", "subject": "Hej\r\nigen\x00",
			"message": "Linje 1\r\nLinje 2\u0085\x00",
		}, map[string]string{
			domain.FieldName: "Mette Sørensen", domain.FieldEmail: "mette@example.dk",
			"custom:subject": "Hej igen", domain.FieldMessage: "Linje 1\nLinje 2",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub := submission(tt.in)
			sub.Mail = tt.mail
			lead, err := Build(f, sub, now)
			if err != nil {
				t.Fatalf("Build() error = %v; want nil", err)
			}
			for field, want := range tt.want {
				if got := lead.Personal.Get(field); got != want {
					t.Errorf("Build() %s = %q; want %q", field, got, want)
				}
			}
		})
	}
}

// singleLineField reports whether intake shows a lead field on one line.
func singleLineField(name string) bool {
	switch name {
	case domain.FieldName, domain.FieldEmail, domain.FieldPhone, domain.FieldCompany, "custom:subject":
		return true
	}
	return false
}

// FuzzBuild checks that whatever is posted, no stored value holds a control character, a bidi override or
// isolate, or a line break in a single-line field.
func FuzzBuild(f *testing.F) {
	f.Add("Jens\x00Hansen\r\n", "a@b.dk", "Acme\u202eApS", "Hej\r\n\x00\u2066", "Re:\nx", false)
	f.Add("\u0085\u2028", "x", "\t", "\u202a\u202b", "\x7f", true)
	fm := form(domain.PolicyFlag)
	fm.Fields["company"] = domain.FieldCompany
	fm.Fields["subject"] = "custom:subject"
	f.Fuzz(func(t *testing.T, name, email, company, message, subject string, mail bool) {
		body := formbody.Body{Kind: formbody.KindURLEncoded, Fields: map[string][]string{}}
		for k, v := range map[string]string{"name": name, "email": email, "company": company, "message": message, "subject": subject, "consent": "on"} {
			if utf8.ValidString(k) {
				body.Fields[k] = []string{v}
			}
		}
		lead, _ := Build(fm, Submission{Body: body, Mail: mail}, now)
		for _, fd := range lead.Personal.Fields() {
			for _, r := range fd.Value {
				bad := r < 0x20 && r != '\n' && r != '\t' || r >= 0x7f && r <= 0x9f ||
					r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 || r == 0x2028 || r == 0x2029
				if singleLineField(fd.Name) && (r == '\n' || r == '\t' || r == 0x200e || r == 0x200f || r == 0x061c) {
					bad = true
				}
				if bad {
					t.Fatalf("field %s = %q holds %U", fd.Name, fd.Value, r)
				}
			}
			if strings.TrimSpace(fd.Value) != fd.Value {
				t.Fatalf("field %s = %q has surrounding white space", fd.Name, fd.Value)
			}
		}
	})
}
