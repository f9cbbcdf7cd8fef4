package domain

import "regexp"

// What an identifier may look like is decided here and nowhere else. There are two strengths of the one
// rule, and every ValidID is also a ValidRef:
//
//   - ValidID: an ID Leadvault or its operators choose and people type — tenant, form, campaign, inbound
//     alias: 2–63 of a–z, 0–9 and '-', not starting with '-' (safe in a DNS label, a mail local part, a
//     URL and a DynamoDB key).
//   - ValidRef: any ID a request may name in a path — also the opaque ones others mint, such as lead and
//     grant IDs (random hex or UUIDs) and Cognito user names: 1–128 of A–Z, a–z, 0–9, '.', '_' and '-',
//     starting with a letter or digit. A string of any other shape names nothing (404), without a lookup.
//
// Neither admits '#', the separator of the table's composite keys, so no ID can forge another item's key.
var (
	idPattern  = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,62}$`)
	refPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
)

// ValidID reports whether s can be a tenant, form or campaign ID or an inbound alias.
func ValidID(s string) bool { return idPattern.MatchString(s) }

// ValidRef reports whether s can be the ID of anything a request names: a lead, user or grant as well as
// everything ValidID admits.
func ValidRef(s string) bool { return refPattern.MatchString(s) }
