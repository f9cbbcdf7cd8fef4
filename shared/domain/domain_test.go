package domain

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func validForm() Form {
	return Form{
		ID: "contact", TenantID: "acme", CampaignID: "spring", Enabled: true,
		Fields:         map[string]string{"name": FieldName, "email": FieldEmail, "budget": "custom:budget"},
		Required:       []string{FieldEmail},
		AllowedOrigins: []string{"https://acme.dk", "http://localhost:8080"},
		Honeypot:       "_gotcha",
		RedirectURL:    "https://acme.dk/thanks",
		Consent:        &Consent{Field: "consent", Text: "I agree", Version: "v1", Required: true},
		Recipients:     []string{"sales@acme.dk"},
	}
}

func TestFormValidate_valid(t *testing.T) {
	if err := validForm().Validate(); err != nil {
		t.Fatalf("Validate() = %v; want nil", err)
	}
}

func TestFormValidate_phoneValidation(t *testing.T) {
	for _, v := range []PhoneValidation{"", PhonePossible, PhoneStrict} {
		f := validForm()
		f.PhoneValidation = v
		if err := f.Validate(); err != nil {
			t.Errorf("Validate() with phoneValidation %q = %v; want nil", v, err)
		}
	}
}

func TestFormValidate_errorPage(t *testing.T) {
	for _, change := range []func(*Form){
		func(f *Form) { f.ErrorURL = "https://acme.dk/oops?src=form"; f.Language = LanguageDanish },
		func(f *Form) { f.ErrorURL = "http://localhost:8080/demo/error.html"; f.Language = LanguageEnglish },
		func(f *Form) { f.ErrorURL = "http://127.0.0.1/e" },
		func(f *Form) { f.ErrorURL = "http://[::1]:8080/e" },
	} {
		f := validForm()
		change(&f)
		if err := f.Validate(); err != nil {
			t.Errorf("Validate(errorURL %q, language %q) = %v; want nil", f.ErrorURL, f.Language, err)
		}
	}
}

func TestFormValidate_invalid(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Form)
		want   string
	}{
		{"bad id", func(f *Form) { f.ID = "Contact Form" }, "id"},
		{"no fields", func(f *Form) { f.Fields = nil }, "at least one field"},
		{"unknown target", func(f *Form) { f.Fields["x"] = "shoe_size" }, "unknown lead field"},
		{"target twice", func(f *Form) { f.Fields["mail2"] = FieldEmail }, "mapped twice"},
		{"bad custom", func(f *Form) { f.Fields["x"] = "custom:Bad Key" }, "custom field"},
		{"required unmapped", func(f *Form) { f.Required = []string{FieldPhone} }, "not a mapped lead field"},
		{"origin with path", func(f *Form) { f.AllowedOrigins = []string{"https://acme.dk/"} }, "allowedOrigins"},
		{"honeypot mapped", func(f *Form) { f.Honeypot = "name" }, "honeypot"},
		{"relative redirect", func(f *Form) { f.RedirectURL = "/thanks" }, "redirectURL"},
		{"consent without version", func(f *Form) { f.Consent.Version = "" }, "consent"},
		{"recipient with name", func(f *Form) { f.Recipients = []string{"Sales <sales@acme.dk>"} }, "recipients"},
		{"unknown policy", func(f *Form) { f.FreeTextPolicy = "ignore" }, "freeTextPolicy"},
		{"retention too long", func(f *Form) { f.RetentionDays = 5000 }, "retentionDays"},
		{"bad region", func(f *Form) { f.PhoneRegion = "dk" }, "phoneRegion"},
		{"unknown phone validation", func(f *Form) { f.PhoneValidation = "valid" }, "phoneValidation"},
		{"phone validation in capitals", func(f *Form) { f.PhoneValidation = "Strict" }, "phoneValidation"},
		{"relative errorURL", func(f *Form) { f.ErrorURL = "/oops" }, "errorURL"},
		{"http errorURL", func(f *Form) { f.ErrorURL = "http://acme.dk/oops" }, "errorURL"},
		{"javascript errorURL", func(f *Form) { f.ErrorURL = "javascript:alert(1)" }, "errorURL"},
		{"errorURL with user info", func(f *Form) { f.ErrorURL = "https://u:p@acme.dk/oops" }, "errorURL"},
		{"errorURL with fragment", func(f *Form) { f.ErrorURL = "https://acme.dk/oops#form" }, "errorURL"},
		{"http errorURL on lookalike host", func(f *Form) { f.ErrorURL = "http://localhost.acme.dk/oops" }, "errorURL"},
		{"unknown language", func(f *Form) { f.Language = "de" }, "language"},
		{"upper-case language", func(f *Form) { f.Language = "DA" }, "language"},
		{"too many custom", func(f *Form) {
			for i := range 21 {
				f.Fields["c"+string(rune('a'+i))] = "custom:c" + string(rune('a'+i))
			}
		}, "custom fields"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := validForm()
			tt.change(&f)
			err := f.Validate()
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v; want an ErrInvalidConfig mentioning %q", err, tt.want)
			}
		})
	}
}

func TestFormDefaults(t *testing.T) {
	var f Form
	if got := f.Retention(false); got != 365*24*time.Hour {
		t.Errorf("Retention(false) = %v; want 365 days", got)
	}
	if got := f.Retention(true); got != 7*24*time.Hour {
		t.Errorf("Retention(true) = %v; want 7 days", got)
	}
	if got := f.Policy(); got != PolicyReject {
		t.Errorf("Policy() = %q; want %q", got, PolicyReject)
	}
	if got := f.Region(); got != "DK" {
		t.Errorf("Region() = %q; want DK", got)
	}
	if got := f.PhoneRule(); got != PhonePossible {
		t.Errorf("PhoneRule() = %q; want %q", got, PhonePossible)
	}
	if got := f.Limits(); got.PerIPPerMinute != 60 || got.PerFormPerMinute != 600 {
		t.Errorf("Limits() = %+v; want 60 per IP, 600 per form", got)
	}
}

func TestPersonalSetGet(t *testing.T) {
	var p Personal
	for _, field := range []string{FieldName, FieldEmail, FieldPhone, FieldAddress, FieldCompany, FieldMessage, "custom:budget"} {
		p.Set(field, "v-"+field)
		if got := p.Get(field); got != "v-"+field {
			t.Errorf("Get(%q) = %q; want %q", field, got, "v-"+field)
		}
	}
	p.Set("unknown", "x")
	if got := p.Get("unknown"); got != "" {
		t.Errorf("Get(%q) = %q; want empty", "unknown", got)
	}
}
