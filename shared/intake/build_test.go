package intake

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"leadvault/shared/domain"
	"leadvault/shared/formbody"
)

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func form(policy domain.FreeTextPolicy) domain.Form {
	return domain.Form{
		ID: "contact", TenantID: "acme", CampaignID: "spring", Enabled: true,
		Fields: map[string]string{
			"name": domain.FieldName, "email": domain.FieldEmail, "phone": domain.FieldPhone,
			"message": domain.FieldMessage, "budget": "custom:budget",
		},
		Required:       []string{domain.FieldName, domain.FieldEmail},
		Honeypot:       "_gotcha",
		Consent:        &domain.Consent{Field: "consent", Text: "I agree", Version: "v3", Required: true},
		FreeTextPolicy: policy,
	}
}

func submission(fields map[string]string) Submission {
	b := formbody.Body{Fields: map[string][]string{}, Kind: formbody.KindURLEncoded}
	for k, v := range fields {
		b.Fields[k] = []string{v}
	}
	return Submission{Body: b, Origin: "https://acme.dk"}
}

func TestBuild_normalises(t *testing.T) {
	lead, err := Build(form(""), submission(map[string]string{
		"name": "  Jose\u0301 Hansen ", "email": "Jose@Example.DK", "phone": "20 12 34 56",
		"message": "Hej", "budget": "10k", "consent": "on", "utm_source": "ads",
	}), now)
	if err != nil {
		t.Fatalf("Build() error = %v; want nil", err)
	}
	want := domain.Personal{Name: "José Hansen", Email: "Jose@example.dk", Phone: "+4520123456", Message: "Hej",
		Custom: map[string]string{"budget": "10k"}}
	if !reflect.DeepEqual(lead.Personal, want) {
		t.Errorf("Build().Personal = %+v; want %+v", lead.Personal, want)
	}
	if lead.Spam {
		t.Errorf("Build().Spam = true; want false")
	}
	if c := lead.Consent; c == nil || !c.Given || c.Version != "v3" || !c.GivenAt.Equal(now) || c.Source != "form:contact https://acme.dk" {
		t.Errorf("Build().Consent = %+v; want given v3 at %v from form:contact https://acme.dk", c, now)
	}
	if got := lead.Meta["droppedFields"]; got != "utm_source" {
		t.Errorf("Build().Meta[droppedFields] = %q; want %q", got, "utm_source")
	}
	if want := now.Add(365 * 24 * time.Hour); !lead.ExpiresAt.Equal(want) {
		t.Errorf("Build().ExpiresAt = %v; want %v", lead.ExpiresAt, want)
	}
}

func TestBuild_consentValues(t *testing.T) {
	for _, v := range []string{"on", "true", "YES", "1", " yes "} {
		lead, err := Build(form(""), submission(map[string]string{"name": "A", "email": "a@b.dk", "consent": v}), now)
		if err != nil || !lead.Consent.Given {
			t.Errorf("Build(consent=%q) = given %v, err %v; want given, nil", v, lead.Consent != nil && lead.Consent.Given, err)
		}
	}
	for _, v := range []string{"", "off", "no", "0", "false"} {
		_, err := Build(form(""), submission(map[string]string{"name": "A", "email": "a@b.dk", "consent": v}), now)
		if codes := problemCodes(err); !slices.Contains(codes, "consent:consent_required") {
			t.Errorf("Build(consent=%q) problems = %v; want consent:consent_required", v, codes)
		}
	}
}

func problemCodes(err error) []string {
	var v *ValidationError
	if !errors.As(err, &v) {
		return nil
	}
	var out []string
	for _, p := range v.Problems {
		out = append(out, p.Field+":"+p.Code)
	}
	return out
}

func TestBuild_validation(t *testing.T) {
	tests := []struct {
		name   string
		fields map[string]string
		want   []string
	}{
		{"missing required", map[string]string{"consent": "on"}, []string{"email:required", "name:required"}},
		{"blank required", map[string]string{"name": "   ", "email": "a@b.dk", "consent": "on"}, []string{"name:required"}},
		{"bad email", map[string]string{"name": "A", "email": "not-an-email", "consent": "on"}, []string{"email:invalid_email"}},
		{"bad phone", map[string]string{"name": "A", "email": "a@b.dk", "phone": "12", "consent": "on"}, []string{"phone:invalid_phone"}},
		{"too long", map[string]string{"name": strings.Repeat("x", 201), "email": "a@b.dk", "consent": "on"}, []string{"name:too_long"}},
		{"cpr rejected", map[string]string{"name": "A", "email": "a@b.dk", "consent": "on", "message": "mit cpr er 010190-1234"}, []string{"message:special_category_data"}},
		{"card rejected", map[string]string{"name": "A", "email": "a@b.dk", "consent": "on", "budget": "4111 1111 1111 1111"}, []string{"budget:special_category_data"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Build(form(domain.PolicyReject), submission(tt.fields), now)
			if got := problemCodes(err); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Build() problems = %v; want %v", got, tt.want)
			}
			if err != nil {
				for k, v := range tt.fields {
					if len(v) > 3 && strings.Contains(err.Error(), v) {
						t.Errorf("Build() error %q repeats the value of %s", err, k)
					}
				}
			}
		})
	}
}

func TestBuild_phoneValidation(t *testing.T) {
	tests := []struct {
		name       string
		validation domain.PhoneValidation
		phone      string
		wantPhone  string
		wantFlags  []string
		wantCodes  []string
	}{
		{"default accepts a possible number, flagged", "", "12 34 56 78", "+4512345678", []string{domain.FlagPhoneUnverified}, nil},
		{"possible accepts a possible number, flagged", domain.PhonePossible, "+45 12 34 56 78", "+4512345678", []string{domain.FlagPhoneUnverified}, nil},
		{"possible keeps a valid number unflagged", domain.PhonePossible, "20 12 34 56", "+4520123456", nil, nil},
		{"possible rejects an impossible number", domain.PhonePossible, "123456789", "", nil, []string{"phone:invalid_phone"}},
		{"possible rejects an unknown country code", "", "+999 12345678", "", nil, []string{"phone:invalid_phone"}},
		{"strict rejects a possible number", domain.PhoneStrict, "12 34 56 78", "", nil, []string{"phone:invalid_phone"}},
		{"strict keeps a valid number unflagged", domain.PhoneStrict, "20 12 34 56", "+4520123456", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := form(domain.PolicyReject)
			f.PhoneValidation = tt.validation
			lead, err := Build(f, submission(map[string]string{"name": "A", "email": "a@b.dk", "consent": "on", "phone": tt.phone}), now)
			if got := problemCodes(err); !reflect.DeepEqual(got, tt.wantCodes) {
				t.Fatalf("Build() problems = %v; want %v", got, tt.wantCodes)
			}
			if err != nil {
				return
			}
			if lead.Personal.Phone != tt.wantPhone || !reflect.DeepEqual(lead.Flags, tt.wantFlags) {
				t.Errorf("Build() phone %q, flags %v; want %q, %v", lead.Personal.Phone, lead.Flags, tt.wantPhone, tt.wantFlags)
			}
		})
	}
}

func TestBuild_freeTextPolicies(t *testing.T) {
	msg := "Ring til mig, cpr 010190-1234, kort 4111-1111-1111-1111."
	fields := map[string]string{"name": "A", "email": "a@b.dk", "consent": "on", "message": msg}

	lead, err := Build(form(domain.PolicyRedact), submission(fields), now)
	if err != nil {
		t.Fatalf("Build(redact) error = %v", err)
	}
	if strings.Contains(lead.Personal.Message, "010190") || strings.Contains(lead.Personal.Message, "4111") {
		t.Errorf("Build(redact).Message = %q; want CPR and card redacted", lead.Personal.Message)
	}
	if want := []string{"redacted:cpr:message", "redacted:card:message"}; !reflect.DeepEqual(lead.Flags, want) {
		t.Errorf("Build(redact).Flags = %v; want %v", lead.Flags, want)
	}

	lead, err = Build(form(domain.PolicyFlag), submission(fields), now)
	if err != nil {
		t.Fatalf("Build(flag) error = %v", err)
	}
	if lead.Personal.Message != msg {
		t.Errorf("Build(flag).Message = %q; want it unchanged", lead.Personal.Message)
	}
	if want := []string{"flagged:cpr:message", "flagged:card:message"}; !reflect.DeepEqual(lead.Flags, want) {
		t.Errorf("Build(flag).Flags = %v; want %v", lead.Flags, want)
	}
}

func TestBuild_honeypot(t *testing.T) {
	// A bot fills everything, badly: still "accepted", marked spam, short retention, sensitive data redacted.
	lead, err := Build(form(domain.PolicyReject), submission(map[string]string{
		"_gotcha": "http://spam.example", "email": "junk", "message": "010190-1234",
	}), now)
	if err != nil {
		t.Fatalf("Build(honeypot) error = %v; want nil", err)
	}
	if !lead.Spam {
		t.Errorf("Build(honeypot).Spam = false; want true")
	}
	if want := now.Add(7 * 24 * time.Hour); !lead.ExpiresAt.Equal(want) {
		t.Errorf("Build(honeypot).ExpiresAt = %v; want %v", lead.ExpiresAt, want)
	}
	if strings.Contains(lead.Personal.Message, "010190") {
		t.Errorf("Build(honeypot).Message = %q; want redacted", lead.Personal.Message)
	}
}

func TestRequestFingerprint_stable(t *testing.T) {
	a, _ := Build(form(""), submission(map[string]string{"name": "A", "email": "A@B.DK", "consent": "yes", "budget": "1"}), now)
	b, _ := Build(form(""), submission(map[string]string{"name": " A ", "email": "A@b.dk", "consent": "on", "budget": "1"}), now.Add(time.Minute))
	if requestFingerprint("contact", a) != requestFingerprint("contact", b) {
		t.Errorf("requestFingerprint differs for submissions that normalise alike")
	}
	c, _ := Build(form(""), submission(map[string]string{"name": "B", "email": "A@b.dk", "consent": "on", "budget": "1"}), now)
	if requestFingerprint("contact", a) == requestFingerprint("contact", c) {
		t.Errorf("requestFingerprint equal for different names")
	}
}
