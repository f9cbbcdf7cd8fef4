// Package layout names where Leadvault keeps objects in S3. It is a leaf package so that a function that
// only sweeps (functions/sweeper) can know the prefixes without linking the code that writes them.
package layout

// Prefixes of the buckets' keys.
const (
	// SentPrefix holds copies of sent notifications in the sent-mail bucket (≤ 24 h, E11).
	SentPrefix = "sent/"
	// InboundPrefix is where SES stores received mail in the inbound bucket.
	InboundPrefix = "inbound/"
	// QuarantinePrefix holds inbound mail that could not become a lead.
	QuarantinePrefix = "quarantine/"
)
