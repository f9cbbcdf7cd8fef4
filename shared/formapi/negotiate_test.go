package formapi

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"

	"leadvault/shared/domain"
)

func TestPrefersHTML(t *testing.T) {
	const form, multipart, js = "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json"
	tests := []struct {
		name, accept, contentType string
		want                      bool
	}{
		{"browser form post", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", form, true},
		{"browser multipart post", "text/html,*/*;q=0.8", multipart, true},
		{"browser text/plain post", "text/html,*/*;q=0.8", "text/plain", true},
		{"no accept, form body", "", form, true},
		{"star, form body", "*/*", multipart, true},
		{"no accept, json body", "", js, false},
		{"star, json body", "*/*", js, false},
		{"json asked", "application/json", form, false},
		{"json ranked higher", "text/html;q=0.5, application/json", form, false},
		{"html ranked higher", "text/html, application/json;q=0.5", js, true},
		{"equal rank, form body", "text/html, application/json", form, true},
		{"equal rank, json body", "text/html, application/json", js, false},
		{"problem+json only", "application/problem+json", form, false},
		{"html refused", "text/html;q=0, */*", form, false},
		{"text wildcard", "text/*", form, true},
		{"specific beats wildcard", "*/*;q=0.1, application/json;q=1, text/html;q=0.5", form, false},
		{"malformed q", "text/html;q=abc, application/json;q=0.1", form, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := prefersHTML(tt.accept, tt.contentType); got != tt.want {
				t.Errorf("prefersHTML(%q, %q) = %v; want %v", tt.accept, tt.contentType, got, tt.want)
			}
		})
	}
}

func TestNegotiate_secFetchMode(t *testing.T) {
	tests := []struct {
		mode, accept string
		want         bool
	}{
		{"", "*/*", true},
		{"navigate", "*/*", true},
		{"navigate", "application/json", false},
		{"cors", "*/*", false},
		{"same-origin", "text/html", false},
		{"no-cors", "*/*", false},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodPost, "/v1/forms/f/submissions", nil)
		r.Header.Set("Accept", tt.accept)
		r.Header.Set("Content-Type", "multipart/form-data; boundary=x")
		if tt.mode != "" {
			r.Header.Set("Sec-Fetch-Mode", tt.mode)
		}
		if got := negotiate(r).html; got != tt.want {
			t.Errorf("negotiate(Sec-Fetch-Mode %q, Accept %q).html = %v; want %v", tt.mode, tt.accept, got, tt.want)
		}
	}
}

func TestLanguage(t *testing.T) {
	tests := []struct {
		name, form, accept, want string
	}{
		{"form wins", "da", "en", "da"},
		{"danish browser", "", "da-DK,da;q=0.9,en;q=0.8", "da"},
		{"english browser", "", "en-US,en;q=0.9", "en"},
		{"danish after german", "", "de,da;q=0.9,en;q=0.8", "da"},
		{"english preferred by q", "", "da;q=0.4, en;q=0.6", "en"},
		{"tie keeps first", "", "da, en", "da"},
		{"upper case", "", "DA-dk", "da"},
		{"refused", "", "da;q=0", "en"},
		{"neither", "", "sv-SE", "en"},
		{"empty", "", "", "en"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := language(&domain.Form{Language: tt.form}, tt.accept); got != tt.want {
				t.Errorf("language(%q, %q) = %q; want %q", tt.form, tt.accept, got, tt.want)
			}
		})
	}
}

// TestPageCSP_matchesInlineCode keeps the CSP's hashes and the page's inline script and style in step.
func TestPageCSP_matchesInlineCode(t *testing.T) {
	for _, s := range []string{pageScript, pageStyle} {
		sum := sha256.Sum256([]byte(s))
		if !regexp.MustCompile(regexp.QuoteMeta("'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'")).MatchString(pageCSP) {
			t.Errorf("CSP %q lacks the hash of %q", pageCSP, s)
		}
	}
}

func TestPages_everyTextInBothLanguages(t *testing.T) {
	for slug, p := range pages {
		for _, tx := range p {
			if tx.da == "" || tx.en == "" || tx.da == tx.en {
				t.Errorf("page %s: text %+v; want Danish and English", slug, tx)
			}
		}
	}
	for code, tx := range fieldTexts {
		if tx.da == "" || tx.en == "" {
			t.Errorf("field code %s: %+v; want both languages", code, tx)
		}
	}
}
