// Package posture holds the security and resilience settings that the CDK stacks apply and that the
// measures document and the record of processing describe. Both read these constants, so the deployed
// stack and what the processor tells its controllers cannot disagree (a test checks each side).
package posture

import "time"

// The backup and restore settings of the leads table (obligations E12, S13, S16/T4).
const (
	// BackupRetentionDays is how long AWS Backup keeps each daily backup of the table.
	BackupRetentionDays = 35
	// PITRWindowDays is DynamoDB point-in-time recovery's window: any second in it can be restored.
	PITRWindowDays = 35
	// BackupScheduleUTC is when the daily backup starts (cron hour and minute, UTC).
	BackupScheduleUTC = "03:00"
)

// The recovery objectives promised to controllers (S13). docs/runbook.md says how the restore meets them
// and what was measured.
const (
	// RTO is the longest the service may be without its data after a loss: restore, replay, switch.
	RTO = 3 * time.Hour
	// RPO is the most data a restore may lose. Daily backups alone give 24 hours; PITR gives about five
	// minutes (its latest restorable time trails now by that much).
	RPO = 24 * time.Hour
	// PITRRPO is what point-in-time recovery gives in practice.
	PITRRPO = 5 * time.Minute
)
