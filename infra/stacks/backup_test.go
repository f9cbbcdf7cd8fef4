package stacks_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"leadvault/infra/stacks"
	"leadvault/shared/posture"
)

// TestBackup_vaultKeyAndPlan: the table's daily backups go into a retained vault under its own key (rotation
// on), kept 35 days (posture), never copied elsewhere; the key policy lets only AWS Backup's role and the
// operators' restore role use the key, and the account only administer it.
func TestBackup_vaultKeyAndPlan(t *testing.T) {
	for _, stage := range stageNames {
		vault := statefulResource(t, stage, stacks.LogicalIDBackupVault)
		if got := jsonString(props(vault)["EncryptionKeyArn"]); got != getAtt(stacks.LogicalIDBackupKey, "Arn") {
			t.Errorf("%s BackupVault EncryptionKeyArn = %s; want the backup key", stage, got)
		}
		key := statefulResource(t, stage, stacks.LogicalIDBackupKey)
		for lid, r := range map[string]map[string]any{stacks.LogicalIDBackupVault: vault, stacks.LogicalIDBackupKey: key} {
			if r["DeletionPolicy"] != "Retain" {
				t.Errorf("%s %s DeletionPolicy = %v; want Retain", stage, lid, r["DeletionPolicy"])
			}
		}
		if props(key)["EnableKeyRotation"] != true {
			t.Errorf("%s BackupKey rotation is off", stage)
		}
		stmts, _ := props(key)["KeyPolicy"].(map[string]any)["Statement"].([]any)
		users := 0
		for _, raw := range stmts {
			st := raw.(map[string]any)
			actions := jsonString(st["Action"])
			principal := jsonString(st["Principal"])
			if strings.Contains(actions, "kms:Decrypt") || strings.Contains(actions, "kms:GenerateDataKey") {
				users++
				if !strings.Contains(principal, "BackupServiceRole") || !strings.Contains(principal, stacks.LogicalIDRestoreRole) ||
					strings.Contains(principal, ":root") {
					t.Errorf("%s BackupKey lets %s use the key; want AWS Backup's role and the restore role only", stage, principal)
				}
			}
		}
		if users != 1 {
			t.Errorf("%s BackupKey has %d statements that allow use; want 1", stage, users)
		}

		tpl := getFixture(t).templates[stage+"/Stateful"]
		plans := tpl.resources("AWS::Backup::BackupPlan")
		if len(plans) != 1 {
			t.Fatalf("%s has %d backup plans; want 1", stage, len(plans))
		}
		for _, p := range plans {
			plan := jsonString(props(p)["BackupPlan"])
			for _, want := range []string{`"ScheduleExpression":"cron(0 3 * * ? *)"`, `"DeleteAfterDays":` + itoa(posture.BackupRetentionDays),
				`"TargetBackupVault":{"Fn::GetAtt":["` + stacks.LogicalIDBackupVault + `","BackupVaultName"]}`} {
				if !strings.Contains(plan, want) {
					t.Errorf("%s BackupPlan = %s; want %s", stage, plan, want)
				}
			}
			if strings.Contains(plan, "CopyActions") {
				t.Errorf("%s BackupPlan copies backups elsewhere: %s", stage, plan)
			}
		}
		var selected bool
		for _, sel := range tpl.resources("AWS::Backup::BackupSelection") {
			selected = selected || strings.Contains(jsonString(props(sel)), getAtt(stacks.LogicalIDLeadsTable, "Arn"))
		}
		if !selected {
			t.Errorf("%s: no backup selection names the leads table", stage)
		}
	}
}

// TestBackup_advancedDynamoDBBackup: the stack enables AWS Backup's advanced DynamoDB backup (the region
// setting CloudFormation has no resource for), without which the backups would be under the table's key,
// not the vault's; its custom resource may call nothing else.
func TestBackup_advancedDynamoDBBackup(t *testing.T) {
	for _, stage := range stageNames {
		tpl := getFixture(t).templates[stage+"/Stateful"]
		var found bool
		for lid, r := range tpl.resources("Custom::AWS") {
			create := jsonString(props(r)["Create"])
			if !strings.Contains(create, `updateRegionSettings`) {
				continue
			}
			found = true
			for _, typ := range stacks.BackupAdvancedFeatureTypes {
				for _, pref := range []string{"ResourceTypeOptInPreference", "ResourceTypeManagementPreference"} {
					if !strings.Contains(create, `\"`+pref+`\":{\"`+typ+`\":true}`) {
						t.Errorf("%s %s Create = %s; want %s.%s true", stage, lid, create, pref, typ)
					}
				}
			}
		}
		if !found {
			t.Errorf("%s/Stateful has no custom resource enabling advanced DynamoDB backup", stage)
		}
		for lid, p := range tpl.resources("AWS::IAM::Policy") {
			if !strings.HasPrefix(lid, "BackupAdvancedDynamoDBBackup") {
				continue
			}
			if doc := jsonString(props(p)["PolicyDocument"]); !strings.Contains(doc, `"Action":"backup:UpdateRegionSettings"`) || strings.Count(doc, `"Action"`) != 1 {
				t.Errorf("%s %s = %s; want backup:UpdateRegionSettings only", stage, lid, doc)
			}
		}
	}
}

// TestBackup_everyPersonalDataStore: every bucket and user pool that holds personal data is either backed up
// (the table is) or has a written reason in stacks.NotBackedUp; access-log buckets hold no data subject's data.
func TestBackup_everyPersonalDataStore(t *testing.T) {
	logs := []string{stacks.LogicalIDAccessLogsBucket, stacks.LogicalIDInboundAccessLogsBucket}
	forEachTemplate(t, func(t *testing.T, key string, tpl cfnTemplate) {
		for _, typ := range []string{"AWS::S3::Bucket", "AWS::Cognito::UserPool"} {
			for lid := range tpl.resources(typ) {
				if slices.Contains(logs, lid) {
					continue
				}
				if reason := stacks.NotBackedUp[lid]; reason == "" {
					t.Errorf("%s %s (%s) holds data, is not backed up and has no reason in stacks.NotBackedUp", key, lid, typ)
				}
			}
		}
	})
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestMeasures_matchTheStacks: what the measures document states (shared/posture) is what every template
// configures: key rotation, the TLS floor of every bucket, the function logs' retention, the sweep's rate,
// the region.
func TestMeasures_matchTheStacks(t *testing.T) {
	forEachTemplate(t, func(t *testing.T, key string, tpl cfnTemplate) {
		for lid, k := range tpl.resources("AWS::KMS::Key") {
			if props(k)["EnableKeyRotation"] != posture.KeyRotation {
				t.Errorf("%s %s EnableKeyRotation = %v; the measures say %t", key, lid, props(k)["EnableKeyRotation"], posture.KeyRotation)
			}
		}
		for lid, p := range tpl.resources("AWS::S3::BucketPolicy") {
			if doc := jsonString(props(p)["PolicyDocument"]); !strings.Contains(doc, `"NumericLessThan":{"s3:TlsVersion":`+strconv.FormatFloat(posture.TLSMinimum, 'f', -1, 64)+`}`) {
				t.Errorf("%s %s does not refuse TLS below %.1f: %s", key, lid, posture.TLSMinimum, doc)
			}
		}
		for lid, g := range tpl.resources("AWS::Logs::LogGroup") {
			days, _ := props(g)["RetentionInDays"].(float64)
			if strings.Contains(lid, "DeliveryLog") {
				continue // the mail delivery evidence, a year (E5), not function logs
			}
			if int(days) != posture.FunctionLogRetentionDays {
				t.Errorf("%s %s RetentionInDays = %v; the measures say %d", key, lid, days, posture.FunctionLogRetentionDays)
			}
		}
	})
	if stacks.Region != posture.Region || stacks.RetentionSweepMinutes != posture.RetentionSweepMinutes {
		t.Errorf("stacks region %s, sweep %d min; the measures say %s, %d", stacks.Region, stacks.RetentionSweepMinutes, posture.Region, posture.RetentionSweepMinutes)
	}
}

// TestSubprocessors_coverTheStacks: every AWS service the stacks use is on the register of sub-processors
// (shared/posture), and every location on it is in the EU.
func TestSubprocessors_coverTheStacks(t *testing.T) {
	known := map[string]bool{}
	for _, sp := range posture.Subprocessors() {
		for _, ns := range sp.Namespaces {
			known[ns] = true
		}
		for _, loc := range sp.Locations {
			if !posture.EULocation(loc) {
				t.Errorf("sub-processor %s processes data in %s, outside the EU", sp.Name, loc)
			}
		}
	}
	forEachTemplate(t, func(t *testing.T, key string, tpl cfnTemplate) {
		for lid, r := range tpl.resources("") {
			typ, _ := r["Type"].(string)
			parts := strings.Split(typ, "::")
			if parts[0] == "Custom" || parts[0] == "AWS" && parts[1] == "CDK" {
				continue // run by Lambda (Custom::AWS), or CDK's metadata
			}
			if len(parts) < 3 || parts[0] != "AWS" || !known[parts[1]] {
				t.Errorf("%s %s is %s: a service not on the register of sub-processors", key, lid, typ)
			}
		}
	})
}

// TestNotifier_sesEvents: SES's delivery events of the configuration set reach the notifier (E5), with
// retries and a dead-letter queue.
func TestNotifier_sesEvents(t *testing.T) {
	for _, stage := range stageNames {
		tpl := getFixture(t).templates[stage+"/Stateless"]
		var found bool
		for _, r := range tpl.resources("AWS::Events::Rule") {
			p := props(r)
			pattern := jsonString(p["EventPattern"])
			if !strings.Contains(pattern, `"eventType":["Delivery","Bounce","Complaint","Reject","DeliveryDelay"]`) {
				continue
			}
			found = true
			targets := jsonString(p["Targets"])
			if !strings.Contains(targets, "NotifierFunction") || !strings.Contains(targets, "DeadLetterConfig") || !strings.Contains(pattern, `"source":["aws.ses"]`) {
				t.Errorf("%s SES events rule = %s → %s; want the notifier, with a dead-letter queue", stage, pattern, targets)
			}
		}
		if !found {
			t.Errorf("%s/Stateless has no rule routing SES's delivery events to the notifier", stage)
		}
	}
}

// TestAlerts_incidentDeadlines: a schedule has the jobs function watch breach notices' deadlines, and two
// alarms on its metrics (due within 2 hours, late) notify the operators' topic, encrypted and TLS-only.
func TestAlerts_incidentDeadlines(t *testing.T) {
	for _, stage := range stageNames {
		tpl := stateless(t, stage)
		fnLID := functionLID(t, stage+"/Stateless", tpl, "jobs")
		rule := props(ruleTargeting(t, tpl, fnLID, "rate(10 "))
		if got := jsonString(rule["Targets"].([]any)[0].(map[string]any)["Input"]); got != `"{\"task\":\"incident-deadlines\"}"` {
			t.Errorf("%s incident rule Input = %s", stage, got)
		}
		var topic string
		for lid, tp := range tpl.resources("AWS::SNS::Topic") {
			topic = lid
			if props(tp)["KmsMasterKeyId"] == nil {
				t.Errorf("%s %s is not encrypted", stage, lid)
			}
		}
		found := map[string]bool{}
		for _, a := range tpl.resources("AWS::CloudWatch::Alarm") {
			p := props(a)
			if p["Namespace"] != "Leadvault" {
				continue
			}
			found[p["MetricName"].(string)] = true
			if !strings.Contains(jsonString(p["AlarmActions"]), topic) {
				t.Errorf("%s alarm %v does not notify the operators' topic", stage, p["MetricName"])
			}
		}
		if !found[stacks.MetricIncidentDueSoon] || !found[stacks.MetricIncidentLate] {
			t.Errorf("%s incident alarms = %v; want due-soon and late", stage, found)
		}
	}
}
