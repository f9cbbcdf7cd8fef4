// Package layout names where Leadvault keeps objects in S3. It is a leaf package so that a function that
// only sweeps (functions/sweeper) can know the prefixes without linking the code that writes them.
package layout

import "time"

// Prefixes of the buckets' keys.
const (
	// SentPrefix holds copies of sent notifications in the sent-mail bucket (≤ 24 h, E11).
	SentPrefix = "sent/"
	// InboundPrefix is where SES stores received mail in the inbound bucket.
	InboundPrefix = "inbound/"
	// QuarantinePrefix holds inbound mail that could not become a lead.
	QuarantinePrefix = "quarantine/"
	// ExportPrefix holds the archives of access and export requests in the exports bucket (≤ 7 days).
	ExportPrefix = "subject-requests/"
	// ReturnPrefix holds the return archives of tenants whose contract ended, in the exports bucket, until
	// the tenant's purge (at most the longest grace period).
	ReturnPrefix = "contract-returns/"
)

// ExportMaxAge is how long an access or export archive is kept before the sweeper deletes it.
const ExportMaxAge = 7 * 24 * time.Hour

// SentCopyKeys are the keys under which the notifier may have kept a copy of the mail about a lead it sent
// at sentAt: the copy is written just before the send, in the hour of the send or, across an hour's turn,
// the hour before.
func SentCopyKeys(tenant, lead string, sentAt time.Time) []string {
	var keys []string
	for _, at := range []time.Time{sentAt, sentAt.Add(-time.Hour)} {
		keys = append(keys, SentCopyKey(tenant, lead, at))
	}
	return keys
}

// SentHourPrefix begins the keys of the sent-mail copies written in at's hour; the tenant and lead follow.
func SentHourPrefix(at time.Time) string { return SentPrefix + at.UTC().Format("2006/01/02/15") + "/" }

// SentCopyKey is the key of the copy of the mail about a lead written at at.
func SentCopyKey(tenant, lead string, at time.Time) string {
	return SentHourPrefix(at) + tenant + "/" + lead + ".eml"
}

// ExportKey is the key of a subject request's archive in one format (json or csv).
func ExportKey(tenant, request, format string) string {
	return ExportPrefix + tenant + "/" + request + "." + format
}
