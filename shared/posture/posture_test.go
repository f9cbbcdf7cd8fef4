package posture_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"leadvault/shared/access"
	"leadvault/shared/audit"
	"leadvault/shared/awsconfig"
	"leadvault/shared/domain"
	"leadvault/shared/posture"
)

// TestMeasures_matchTheCode: the figures the measures document states are the ones the code enforces
// (infra/stacks tests the same for the templates: TestMeasures_matchTheStacks).
func TestMeasures_matchTheCode(t *testing.T) {
	checks := []struct {
		name      string
		got, want any
	}{
		{"support grant", access.MaxGrant, posture.MaxSupportGrant},
		{"audit retention", audit.DefaultRetention.Round(365 * 24 * time.Hour), time.Duration(posture.AuditRetentionYears) * 365 * 24 * time.Hour},
		{"region", awsconfig.Region, posture.Region},
		{"grace period", domain.MaxGraceDays, 90},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: the code has %v; the measures say %v", c.name, c.got, c.want)
		}
	}
}

// TestMeasuresMarkdown_upToDate: docs/measures.md is what the code generates (regenerate it with
// `go run ./infra/ops measures > docs/measures.md`), and it names the dependency scanning.
func TestMeasuresMarkdown_upToDate(t *testing.T) {
	md := posture.MeasuresMarkdown()
	for _, want := range []string{"make vulncheck", "TLS 1.2", "35 days", "RTO 3 hours", "eu-north-1"} {
		if !strings.Contains(md, want) {
			t.Errorf("measures document lacks %q", want)
		}
	}
	doc, err := readFile("../../docs/measures.md")
	if err != nil || doc != md {
		t.Errorf("docs/measures.md is not what posture.MeasuresMarkdown() writes (%v); run `go run ./infra/ops measures > docs/measures.md`", err)
	}
}

func readFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	return string(b), err
}

// TestSubprocessorsJSON_upToDate: the public register docs/subprocessors.json is what the code holds
// (`go run ./infra/ops subprocessors > docs/subprocessors.json`).
func TestSubprocessorsJSON_upToDate(t *testing.T) {
	doc, err := readFile("../../docs/subprocessors.json")
	if err != nil || doc != posture.SubprocessorsJSON() {
		t.Errorf("docs/subprocessors.json is not the register (%v); regenerate it", err)
	}
}
