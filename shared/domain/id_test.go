package domain_test

import (
	"strings"
	"testing"

	"leadvault/shared/domain"
)

func TestValidID_cases(t *testing.T) {
	cases := []struct {
		in      string
		id, ref bool
		why     string
	}{
		{"acme", true, true, "a tenant"},
		{"spring-2026", true, true, "a campaign"},
		{"0f8c2a4e-9b7d-4c1e-8a3f-2d6b5e7c9a10", true, true, "a UUID is both"},
		{"a", false, true, "names have at least 2 characters"},
		{strings.Repeat("a", 63), true, true, "longest name"},
		{strings.Repeat("a", 64), false, true, "too long for a name"},
		{strings.Repeat("a", 128), false, true, "longest reference"},
		{strings.Repeat("a", 129), false, false, "too long for anything"},
		{"Acme", false, true, "upper case only in references"},
		{"user.name_1", false, true, "Cognito user names"},
		{"-acme", false, false, "leading hyphen"},
		{"acme#LEAD", false, false, "the key separator"},
		{"acme/forms", false, false, "a path"},
		{"", false, false, "empty"},
		{"åland", false, false, "non-ASCII"},
		{"acme ", false, false, "trailing space"},
	}
	for _, c := range cases {
		t.Run(c.why, func(t *testing.T) {
			if got := domain.ValidID(c.in); got != c.id {
				t.Errorf("ValidID(%q) = %v; want %v", c.in, got, c.id)
			}
			if got := domain.ValidRef(c.in); got != c.ref {
				t.Errorf("ValidRef(%q) = %v; want %v", c.in, got, c.ref)
			}
			if domain.ValidID(c.in) && !domain.ValidRef(c.in) {
				t.Errorf("%q is a ValidID but not a ValidRef; every ID must be a reference too", c.in)
			}
		})
	}
}
