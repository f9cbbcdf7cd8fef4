package posture

import (
	"fmt"
	"strings"
	"time"
)

// The security settings the CDK stacks apply (infra/stacks reads each; its tests assert the templates
// against them) and the measures document states.
const (
	// Region is where all data is stored and processed.
	Region = "eu-north-1"
	// KeyRotation is whether every customer-managed KMS key rotates yearly.
	KeyRotation = true
	// TLSMinimum is the lowest TLS version the buckets accept; every bucket also denies requests without TLS.
	TLSMinimum = 1.2
	// FunctionLogRetentionDays is how long function logs are kept (they hold ids and keyed hashes only).
	FunctionLogRetentionDays = 90
	// AuditRetentionYears is the audit trail's default retention (a tenant may choose 1 to 10 years).
	AuditRetentionYears = 5
	// MaxSupportGrant is the longest a support-access grant runs.
	MaxSupportGrant = 72 * time.Hour
	// RetentionSweepMinutes is how often expired leads are deleted (DynamoDB TTL is the backstop).
	RetentionSweepMinutes = 30
	// SentMailHours is how long copies of sent mail and inbound raw mail live at most.
	SentMailHours = 24
)

// InboundRegions are the EU regions where SES may receive inbound mail (SES receiving is not offered in
// eu-north-1 for all features; the stage chooses one, default eu-west-1).
var InboundRegions = []string{"eu-west-1", "eu-north-1", "eu-central-1"}

// DefaultInboundRegion is the inbound region of a stage that names none (Ireland: SES receiving's EU region).
const DefaultInboundRegion = "eu-west-1"

// Measure is one technical or organisational measure.
type Measure struct {
	Area    string `json:"area"`
	Measure string `json:"measure"`
}

// Measures are the technical and organisational measures (Art. 32, 28(3)(c)) as configured: every figure
// comes from a constant the stacks or the code use.
func Measures() []Measure {
	return []Measure{
		{"Encryption at rest", "The table, the buckets and the queues are encrypted with customer-managed AWS KMS keys (AES-256), " + map[bool]string{true: "rotated yearly.", false: "not rotated."}[KeyRotation]},
		{"Encryption at rest", "Each data subject's personal data is sealed with AES-256-GCM under a key of its own, wrapped by the tenant's key, which KMS wraps: deleting a subject's key makes every copy unreadable, backups included."},
		{"Encryption in transit", fmt.Sprintf("TLS only: the APIs are HTTPS endpoints, every bucket denies requests without TLS and below TLS %.1f, mail to recipients is sent over TLS by SES.", TLSMinimum)},
		{"Access control", "Controller staff sign in with personal accounts (Cognito, 12+ character passwords, MFA available, lockout after failed attempts); their role is read from the tenant's user list on every request, so a removal takes effect at once."},
		{"Access control", fmt.Sprintf("Processor support staff see leads masked unless a tenant admin grants access, for at most %s, recorded and revocable; they never export.", span(MaxSupportGrant))},
		{"Audit", fmt.Sprintf("Every read or change of tenant data is recorded first in a per-tenant hash-chained audit trail (ids and keyed hashes, no personal data), kept %d years by default and verifiable by the tenant.", AuditRetentionYears)},
		{"Retention and deletion", fmt.Sprintf("Leads expire by their form's retention and are deleted within an hour by a sweep every %d minutes; copies of sent and received mail live at most %d hours; a contract's end deletes everything after a grace period of at most 90 days.", RetentionSweepMinutes, SentMailHours)},
		{"Backups and restore", fmt.Sprintf("Point-in-time recovery (%d days) and daily backups kept %d days in a vault under its own KMS key, in %s only; restores replay erasures and purges. RPO %s (about %s with PITR), RTO %s (docs/runbook.md).", PITRWindowDays, BackupRetentionDays, Region, span(RPO), span(PITRRPO), span(RTO))},
		{"Location", fmt.Sprintf("All data is stored and processed in AWS %s (Stockholm, Sweden); inbound mail is received in an EU region (%s) and deleted within seconds.", Region, strings.Join(InboundRegions, ", "))},
		{"Logging", fmt.Sprintf("Function logs are structured, hold ids and keyed hashes only, never personal data, and are kept %d days.", FunctionLogRetentionDays)},
		{"Vulnerability handling", "Every build scans the Go code and the Lambda binaries against a pinned vulnerability database (make test); make vulncheck scans against the newest one before every release; dependencies are reviewed yearly (docs/security-review.md)."},
	}
}

// span writes a duration as people do: "72 hours", "5 minutes".
func span(d time.Duration) string {
	if d >= time.Hour && d%time.Hour == 0 {
		return fmt.Sprintf("%d hours", d/time.Hour)
	}
	return fmt.Sprintf("%d minutes", d/time.Minute)
}

// MeasuresMarkdown renders the measures as a Markdown document.
func MeasuresMarkdown() string {
	var b strings.Builder
	b.WriteString("# Technical and organisational measures\n\nGenerated from the settings the stacks apply (shared/posture); `GET /v1/measures` serves the same.\n")
	area := ""
	for _, m := range Measures() {
		if m.Area != area {
			area = m.Area
			fmt.Fprintf(&b, "\n## %s\n\n", area)
		}
		fmt.Fprintf(&b, "- %s\n", m.Measure)
	}
	return b.String()
}
