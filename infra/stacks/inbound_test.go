package stacks_test

import (
	"reflect"
	"sort"
	"strings"
	"testing"

	"leadvault/infra/stacks"
)

// inbound returns a stage's inbound template.
func inbound(t *testing.T, stage string) cfnTemplate {
	t.Helper()
	return getFixture(t).templates[stage+"/Inbound"]
}

// inboundResource returns the resource with logical ID lid in a stage's
// inbound template, failing the test if it is missing.
func inboundResource(t *testing.T, stage, lid string) map[string]any {
	t.Helper()
	r, ok := inbound(t, stage).resources("")[lid]
	if !ok {
		t.Fatalf("%s/Inbound has no resource %q (logical IDs must stay stable)", stage, lid)
	}
	return r
}

// emailIntake returns the logical ID and resource of a stage's email-intake function.
func emailIntake(t *testing.T, stage string) (string, map[string]any) {
	t.Helper()
	return inboundFunction(t, stage, "email-intake")
}

// inboundFunction returns the logical ID and resource of a function of a stage's inbound stack.
func inboundFunction(t *testing.T, stage, name string) (string, map[string]any) {
	t.Helper()
	for lid, r := range inbound(t, stage).resources("AWS::Lambda::Function") {
		if props(r)["Description"] == "Leadvault "+name {
			return lid, r
		}
	}
	t.Fatalf("%s/Inbound has no %s function", stage, name)
	return "", nil
}

// getAtt renders {"Fn::GetAtt":[lid,attr]} as jsonString does.
func getAtt(lid, attr string) string { return `{"Fn::GetAtt":["` + lid + `","` + attr + `"]}` }

// inboundBucketArn renders the inbound bucket's ARN built from its fixed name.
func inboundBucketArn(stage string) string {
	return `{"Fn::Join":["",["arn:aws:s3:::leadvault-` + stage + `-inbound-",{"Ref":"AWS::AccountId"},"-eu-west-1`
}

// sesRuleArn renders the receipt rule's ARN as the SES grants name it.
func sesRuleArn(stage string) string {
	return `{"Fn::Join":["",["arn:aws:ses:eu-west-1:",{"Ref":"AWS::AccountId"},":receipt-rule-set/leadvault-` +
		stage + `-inbound:receipt-rule/store-in-s3"]]}`
}

func TestInbound_stableLogicalIDsAndRetain(t *testing.T) {
	want := map[string]string{
		stacks.LogicalIDInboundKey:              "AWS::KMS::Key",
		stacks.LogicalIDInboundBucket:           "AWS::S3::Bucket",
		stacks.LogicalIDInboundAccessLogsBucket: "AWS::S3::Bucket",
	}
	if stacks.LogicalIDInboundBucket != "InboundBucket" {
		t.Errorf("LogicalIDInboundBucket = %q; want InboundBucket", stacks.LogicalIDInboundBucket)
	}
	for _, stage := range stageNames {
		for lid, typ := range want {
			r := inboundResource(t, stage, lid)
			if r["Type"] != typ {
				t.Errorf("%s %s Type = %v; want %s", stage, lid, r["Type"], typ)
			}
			for _, policy := range []string{"DeletionPolicy", "UpdateReplacePolicy"} {
				if r[policy] != "Retain" {
					t.Errorf("%s %s %s = %v; want Retain", stage, lid, policy, r[policy])
				}
			}
		}
	}
}

func TestInboundBucket(t *testing.T) {
	for _, stage := range stageNames {
		p := props(inboundResource(t, stage, stacks.LogicalIDInboundBucket))
		checks := []struct {
			field, got, want string
		}{
			{"BucketName", jsonString(p["BucketName"]),
				`{"Fn::Join":["",["leadvault-` + stage + `-inbound-",{"Ref":"AWS::AccountId"},"-eu-west-1"]]}`},
			{"BucketEncryption", jsonString(p["BucketEncryption"]),
				`{"ServerSideEncryptionConfiguration":[{"BucketKeyEnabled":true,"ServerSideEncryptionByDefault":{"KMSMasterKeyID":` +
					getAtt(stacks.LogicalIDInboundKey, "Arn") + `,"SSEAlgorithm":"aws:kms"}}]}`},
			{"PublicAccessBlockConfiguration", jsonString(p["PublicAccessBlockConfiguration"]),
				`{"BlockPublicAcls":true,"BlockPublicPolicy":true,"IgnorePublicAcls":true,"RestrictPublicBuckets":true}`},
			{"VersioningConfiguration", jsonString(p["VersioningConfiguration"]), "null"},
			// Obligation E11: raw mail is gone within a day even if email-intake never ran.
			{"LifecycleConfiguration", jsonString(p["LifecycleConfiguration"]), `{"Rules":[` +
				`{"AbortIncompleteMultipartUpload":{"DaysAfterInitiation":1},"ExpirationInDays":1,"Id":"expire-inbound","Prefix":"inbound/","Status":"Enabled"},` +
				`{"AbortIncompleteMultipartUpload":{"DaysAfterInitiation":1},"ExpirationInDays":1,"Id":"expire-quarantine","Prefix":"quarantine/","Status":"Enabled"}]}`},
			{"LoggingConfiguration", jsonString(p["LoggingConfiguration"]),
				`{"DestinationBucketName":{"Ref":"` + stacks.LogicalIDInboundAccessLogsBucket + `"},"LogFilePrefix":"inbound-mail/"}`},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("%s InboundBucket %s =\n  %s\nwant\n  %s", stage, c.field, c.got, c.want)
			}
		}
		logs := props(inboundResource(t, stage, stacks.LogicalIDInboundAccessLogsBucket))
		if got := jsonString(logs["BucketEncryption"]); !strings.Contains(got, `"SSEAlgorithm":"AES256"`) {
			t.Errorf("%s InboundAccessLogsBucket BucketEncryption = %s; want SSE-S3 (log delivery cannot use KMS)", stage, got)
		}
	}
}

func TestInboundBucket_policy(t *testing.T) {
	for _, stage := range stageNames {
		var doc map[string]any
		for _, r := range inbound(t, stage).resources("AWS::S3::BucketPolicy") {
			if jsonString(props(r)["Bucket"]) == `{"Ref":"`+stacks.LogicalIDInboundBucket+`"}` {
				doc = props(r)["PolicyDocument"].(map[string]any)
			}
		}
		if doc == nil {
			t.Fatalf("%s InboundBucket has no bucket policy", stage)
		}
		var allows []string
		tlsOnly := false
		for _, s := range doc["Statement"].([]any) {
			st := s.(map[string]any)
			switch st["Effect"] {
			case "Deny":
				tlsOnly = tlsOnly || jsonString(st["Condition"]) == `{"Bool":{"aws:SecureTransport":"false"}}`
			case "Allow":
				allows = append(allows, jsonString(st))
			}
		}
		if !tlsOnly {
			t.Errorf("%s InboundBucket policy does not deny non-TLS requests: %s", stage, jsonString(doc))
		}
		// SES may only put objects under inbound/, and only for this account's receipt rule.
		want := `{"Action":"s3:PutObject","Condition":{"StringEquals":{"aws:SourceAccount":{"Ref":"AWS::AccountId"},"aws:SourceArn":` +
			sesRuleArn(stage) + `}},"Effect":"Allow","Principal":{"Service":"ses.amazonaws.com"},"Resource":{"Fn::Join":["",[` +
			getAtt(stacks.LogicalIDInboundBucket, "Arn") + `,"/inbound/*"]]}}`
		if !reflect.DeepEqual(allows, []string{want}) {
			t.Errorf("%s InboundBucket policy allows\n  %s\nwant only\n  %s", stage, strings.Join(allows, "\n  "), want)
		}
	}
}

func TestInboundKey(t *testing.T) {
	for _, stage := range stageNames {
		p := props(inboundResource(t, stage, stacks.LogicalIDInboundKey))
		if p["EnableKeyRotation"] != true {
			t.Errorf("%s InboundKey EnableKeyRotation = %v; want true", stage, p["EnableKeyRotation"])
		}
		_, fn := emailIntake(t, stage)
		role := jsonString(props(fn)["Role"])
		var grants []string
		for _, s := range p["KeyPolicy"].(map[string]any)["Statement"].([]any) {
			st := s.(map[string]any)
			if strings.Contains(jsonString(st["Principal"]), ":root") {
				continue // the account's IAM policies decide; CDK's default
			}
			grants = append(grants, jsonString(st))
		}
		sort.Strings(grants)
		want := []string{
			`{"Action":"kms:Decrypt","Effect":"Allow","Principal":{"AWS":` + role + `},"Resource":"*"}`,
			`{"Action":"kms:GenerateDataKey","Condition":{"StringEquals":{"aws:SourceAccount":{"Ref":"AWS::AccountId"},"aws:SourceArn":` +
				sesRuleArn(stage) + `}},"Effect":"Allow","Principal":{"Service":"ses.amazonaws.com"},"Resource":"*"}`,
		}
		if !reflect.DeepEqual(grants, want) {
			t.Errorf("%s InboundKey policy grants\n  %s\nwant\n  %s", stage, strings.Join(grants, "\n  "), strings.Join(want, "\n  "))
		}
	}
}

func TestReceiptRule(t *testing.T) {
	for _, stage := range stageNames {
		tpl := inbound(t, stage)
		setLID, set := only(t, tpl, "AWS::SES::ReceiptRuleSet")
		if got, want := props(set)["RuleSetName"], stacks.InboundRuleSetName(stage); got != want {
			t.Errorf("%s RuleSetName = %v; want %s", stage, got, want)
		}
		_, r := only(t, tpl, "AWS::SES::ReceiptRule")
		p := props(r)
		rule := p["Rule"].(map[string]any)
		checks := []struct {
			field string
			got   any
			want  any
		}{
			{"RuleSetName", jsonString(p["RuleSetName"]), `{"Ref":"` + setLID + `"}`},
			{"Name", rule["Name"], stacks.InboundRuleName},
			{"Enabled", rule["Enabled"], true},
			// Obligation T2: no mail over plaintext SMTP.
			{"TlsPolicy", rule["TlsPolicy"], "Require"},
			{"ScanEnabled", rule["ScanEnabled"], true},
			{"Recipients", jsonString(rule["Recipients"]), `["in.leadvault.example"]`},
			{"Actions", jsonString(rule["Actions"]), `[{"S3Action":{"BucketName":{"Ref":"` + stacks.LogicalIDInboundBucket +
				`"},"ObjectKeyPrefix":"inbound/"}}]`},
		}
		for _, c := range checks {
			if !reflect.DeepEqual(c.got, c.want) {
				t.Errorf("%s receipt rule %s = %v; want %v", stage, c.field, c.got, c.want)
			}
		}
		// SES checks at creation that it may write to the bucket.
		if deps := jsonString(r["DependsOn"]); !strings.Contains(deps, "BucketPolicy") {
			t.Errorf("%s receipt rule DependsOn = %s; want the inbound bucket policy", stage, deps)
		}
	}
}

func TestInboundBucket_notifiesEmailIntake(t *testing.T) {
	for _, stage := range stageNames {
		tpl := inbound(t, stage)
		fnLID, _ := emailIntake(t, stage)
		bucket := inboundResource(t, stage, stacks.LogicalIDInboundBucket)
		want := `{"LambdaConfigurations":[{"Event":"s3:ObjectCreated:*","Filter":{"S3Key":{"Rules":[{"Name":"prefix","Value":"inbound/"}]}},"Function":` +
			getAtt(fnLID, "Arn") + `}]}`
		if got := jsonString(props(bucket)["NotificationConfiguration"]); got != want {
			t.Errorf("%s InboundBucket NotificationConfiguration =\n  %s\nwant\n  %s", stage, got, want)
		}

		// The one permission S3 has; the other is the sweeper schedule's.
		var permLID string
		var p map[string]any
		for lid, r := range tpl.resources("AWS::Lambda::Permission") {
			if jsonString(props(r)["Principal"]) == `"s3.amazonaws.com"` {
				if permLID != "" {
					t.Fatalf("%s has two S3 invoke permissions: %s and %s", stage, permLID, lid)
				}
				permLID, p = lid, props(r)
			}
		}
		if permLID == "" {
			t.Fatalf("%s has no S3 invoke permission", stage)
		}
		checks := []struct{ field, got, want string }{
			{"Action", jsonString(p["Action"]), `"lambda:InvokeFunction"`},
			{"FunctionName", jsonString(p["FunctionName"]), getAtt(fnLID, "Arn")},
			{"Principal", jsonString(p["Principal"]), `"s3.amazonaws.com"`},
			{"SourceAccount", jsonString(p["SourceAccount"]), `{"Ref":"AWS::AccountId"}`},
			{"SourceArn", jsonString(p["SourceArn"]), inboundBucketArn(stage) + `"]]}`},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("%s invoke permission %s = %s; want %s", stage, c.field, c.got, c.want)
			}
		}
		// S3 checks the permission when the notification is set.
		if deps := jsonString(bucket["DependsOn"]); !strings.Contains(deps, `"`+permLID+`"`) {
			t.Errorf("%s InboundBucket DependsOn = %s; want %s", stage, deps, permLID)
		}
		// No BucketNotificationsHandler custom resource.
		if n := len(tpl.resources("Custom::S3BucketNotifications")); n != 0 {
			t.Errorf("%s/Inbound has %d Custom::S3BucketNotifications; want 0", stage, n)
		}
	}
}

func TestEmailIntake_asyncInvokeConfig(t *testing.T) {
	for _, stage := range stageNames {
		tpl := inbound(t, stage)
		fnLID, _ := emailIntake(t, stage)
		queue, _ := only(t, tpl, "AWS::SQS::Queue")
		_, cfg := only(t, tpl, "AWS::Lambda::EventInvokeConfig")
		p := props(cfg)
		checks := []struct {
			field string
			got   any
			want  any
		}{
			{"FunctionName", jsonString(p["FunctionName"]), `{"Ref":"` + fnLID + `"}`},
			{"MaximumRetryAttempts", p["MaximumRetryAttempts"], 2.0},
			{"MaximumEventAgeInSeconds", p["MaximumEventAgeInSeconds"], 6 * 3600.0},
			{"DestinationConfig", jsonString(p["DestinationConfig"]), `{"OnFailure":{"Destination":` + getAtt(queue, "Arn") + `}}`},
		}
		for _, c := range checks {
			if !reflect.DeepEqual(c.got, c.want) {
				t.Errorf("%s EventInvokeConfig %s = %v; want %v", stage, c.field, c.got, c.want)
			}
		}
	}
}

// emailIntakeStatements returns the Allow statements of the email-intake
// role's identity policies, as action -> resources (JSON) -> conditions (JSON).
func emailIntakeStatements(t *testing.T, stage string) map[string]map[string]string {
	t.Helper()
	return inboundStatements(t, stage, "email-intake")
}

// inboundStatements returns a function's allowed actions: action → resource → condition (JSON).
func inboundStatements(t *testing.T, stage, name string) map[string]map[string]string {
	t.Helper()
	_, fn := inboundFunction(t, stage, name)
	role := props(fn)["Role"].(map[string]any)["Fn::GetAtt"].([]any)[0].(string)
	out := map[string]map[string]string{}
	tpl := inbound(t, stage)
	for where, statements := range identityStatements(tpl) {
		r, ok := tpl.resources("")[strings.TrimSuffix(where, " inline")]
		if !ok || (where != role+" inline" && jsonString(props(r)["Roles"]) != `[{"Ref":"`+role+`"}]`) {
			continue
		}
		for _, s := range statements {
			if s["Effect"] != "Allow" {
				continue
			}
			resources := s["Resource"]
			if _, ok := resources.([]any); !ok {
				resources = []any{resources}
			}
			for _, a := range stringList(s["Action"]) {
				for _, res := range resources.([]any) {
					if out[a] == nil {
						out[a] = map[string]string{}
					}
					out[a][jsonString(res)] = jsonString(s["Condition"])
				}
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s %s role has no policy statements", stage, name)
	}
	return out
}

func TestEmailIntake_s3OnlyOnItsPrefixes(t *testing.T) {
	for _, stage := range stageNames {
		objects := func(prefix string) string { return inboundBucketArn(stage) + `/` + prefix + `*"]]}` }
		want := map[string][]string{
			"s3:GetObject":    {objects("inbound/")},
			"s3:DeleteObject": {objects("inbound/")},
			"s3:PutObject":    {objects("quarantine/")},
		}
		got := map[string][]string{}
		for action, resources := range emailIntakeStatements(t, stage) {
			if strings.HasPrefix(action, "s3:") {
				got[action] = sortedKeys(resources)
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s email-intake S3 grants =\n  %v\nwant\n  %v", stage, got, want)
		}
		for action, resources := range got {
			for _, r := range resources {
				if strings.HasSuffix(r, `-eu-west-1/*"]]}`) || strings.Contains(r, `"Arn"]},"/*"`) {
					t.Errorf("%s email-intake %s on bucket-wide object ARN %s", stage, action, r)
				}
			}
		}
	}
}

func TestEmailIntake_otherGrants(t *testing.T) {
	for _, stage := range stageNames {
		statements := emailIntakeStatements(t, stage)
		inboundKey := getAtt(stacks.LogicalIDInboundKey, "Arn")
		// The data key and table are the stateful stack's in eu-north-1.
		dataKey := statefulOutput(t, stage, getAtt(stacks.LogicalIDDataKey, "Arn"))
		table := statefulOutput(t, stage, getAtt(stacks.LogicalIDLeadsTable, "Arn"))
		want := map[string]map[string]string{
			"kms:Decrypt":         {inboundKey: `{"StringEquals":{"kms:ViaService":"s3.eu-west-1.amazonaws.com"}}`, dataKey: "null"},
			"kms:GenerateDataKey": {inboundKey: `{"StringEquals":{"kms:ViaService":"s3.eu-west-1.amazonaws.com"}}`},
		}
		for _, a := range []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem"} {
			want[a] = map[string]string{table: "null"}
		}
		want["dynamodb:Query"] = map[string]string{table: "null"}
		for _, ix := range []string{"byCampaign", "byEmail", "byExpiry", "byPhone"} {
			want["dynamodb:Query"][`{"Fn::Join":["",[`+table+`,"/index/`+ix+`"]]}`] = "null"
		}
		for action, w := range want {
			if got := statements[action]; !reflect.DeepEqual(got, w) {
				t.Errorf("%s email-intake %s on\n  %v\nwant\n  %v", stage, action, got, w)
			}
		}
		var other []string
		for action, resources := range statements {
			if _, ok := want[action]; ok || strings.HasPrefix(action, "s3:") {
				continue
			}
			if _, star := resources[`"*"`]; star && !strings.HasPrefix(action, "xray:") {
				t.Errorf("%s email-intake allows %s on Resource \"*\"", stage, action)
			}
			other = append(other, action)
		}
		sort.Strings(other)
		wantOther := []string{"logs:CreateLogStream", "logs:PutLogEvents", "sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage",
			"xray:PutTelemetryRecords", "xray:PutTraceSegments"}
		if !reflect.DeepEqual(other, wantOther) {
			t.Errorf("%s email-intake further actions = %v; want %v", stage, other, wantOther)
		}
	}
}

func TestEmailIntake_environment(t *testing.T) {
	for _, stage := range stageNames {
		_, fn := emailIntake(t, stage)
		env := props(fn)["Environment"].(map[string]any)["Variables"].(map[string]any)
		want := map[string]string{
			"LEADVAULT_STAGE":          `"` + stage + `"`,
			"LEADVAULT_DATA_REGION":    `"eu-north-1"`,
			"LEADVAULT_INBOUND_DOMAIN": `"in.leadvault.example"`,
			"LEADVAULT_INBOUND_BUCKET": `{"Fn::Join":["",["leadvault-` + stage + `-inbound-",{"Ref":"AWS::AccountId"},"-eu-west-1"]]}`,
			// Cross-region references are read from the stateful stack's outputs at deploy time.
			"LEADVAULT_TABLE":  statefulOutput(t, stage, `{"Ref":"`+stacks.LogicalIDLeadsTable+`"}`),
			"LEADVAULT_KEY_ID": statefulOutput(t, stage, getAtt(stacks.LogicalIDDataKey, "Arn")),
		}
		for k, w := range want {
			if got := jsonString(env[k]); got != w {
				t.Errorf("%s email-intake %s = %s; want %s", stage, k, got, w)
			}
		}
	}
}

// statefulOutput returns how the inbound stack reads value from a stage's
// stateful stack in eu-north-1: Fn::GetStackOutput of the output with that
// value, resolved by CloudFormation at deploy time (no custom resource).
func statefulOutput(t *testing.T, stage, value string) string {
	t.Helper()
	outputs, _ := getFixture(t).templates[stage+"/Stateful"]["Outputs"].(map[string]any)
	for _, name := range sortedKeys(outputs) {
		if strings.HasPrefix(name, "Publish") && jsonString(outputs[name].(map[string]any)["Value"]) == value {
			return `{"Fn::GetStackOutput":{"OutputName":"` + name + `","Region":"eu-north-1","StackName":"` + stage + `-Stateful"}}`
		}
	}
	t.Fatalf("%s/Stateful publishes no output with value %s; outputs: %v", stage, value, sortedKeys(outputs))
	return ""
}

func TestCrossRegionReferences_noCustomResources(t *testing.T) {
	// "strong" cross-region references would add ExportsWriter/ExportsReader
	// custom resources (Lambda functions with AWS-managed policies).
	forEachTemplate(t, func(t *testing.T, key string, tpl cfnTemplate) {
		for lid, r := range tpl.resources("") {
			typ, _ := r["Type"].(string)
			// The one custom resource is the backup's region setting, which CloudFormation has no resource for.
			if strings.HasSuffix(key, "/Stateful") && typ == "Custom::AWS" && strings.HasPrefix(lid, "BackupAdvancedDynamoDBBackup") {
				continue
			}
			if strings.HasPrefix(typ, "Custom::") || typ == "AWS::CloudFormation::CustomResource" {
				t.Errorf("%s has custom resource %s (%s)", key, lid, typ)
			}
		}
	})
}

func TestInbound_outputs(t *testing.T) {
	for _, stage := range stageNames {
		outputs, _ := inbound(t, stage)["Outputs"].(map[string]any)
		out := func(name string) map[string]any {
			o, ok := outputs[name].(map[string]any)
			if !ok {
				t.Fatalf("%s/Inbound has no output %s; outputs: %v", stage, name, sortedKeys(outputs))
			}
			return o
		}
		if got := jsonString(out("InboundBucketName")["Value"]); got != `{"Ref":"`+stacks.LogicalIDInboundBucket+`"}` {
			t.Errorf("%s InboundBucketName = %s", stage, got)
		}
		if got := out("InboundMxRecord")["Value"]; got != "10 inbound-smtp.eu-west-1.amazonaws.com" {
			t.Errorf("%s InboundMxRecord = %v; want 10 inbound-smtp.eu-west-1.amazonaws.com", stage, got)
		}
		ruleSet := out("ReceiptRuleSetName")
		desc, _ := ruleSet["Description"].(string)
		wantCmd := "aws ses set-active-receipt-rule-set --region eu-west-1 --rule-set-name leadvault-" + stage + "-inbound"
		if !strings.Contains(desc, wantCmd) {
			t.Errorf("%s ReceiptRuleSetName description = %q; want it to say to run %q", stage, desc, wantCmd)
		}
	}
}

func TestInboundMXRecord(t *testing.T) {
	for region, want := range map[string]string{
		"eu-west-1":    "10 inbound-smtp.eu-west-1.amazonaws.com",
		"eu-central-1": "10 inbound-smtp.eu-central-1.amazonaws.com",
	} {
		if got := stacks.InboundMXRecord(region); got != want {
			t.Errorf("InboundMXRecord(%q) = %q; want %q", region, got, want)
		}
	}
}

// TestInboundSweeper checks that raw mail left by a failure or the quarantine is swept hourly in the
// receiving region (E11: S3 lifecycle alone can run a day late), and that the sweeper can list and delete
// under inbound/ and quarantine/ only.
func TestInboundSweeper(t *testing.T) {
	for _, stage := range stageNames {
		got := inboundStatements(t, stage, "sweeper")
		objects := func(prefix string) string { return inboundBucketArn(stage) + `/` + prefix + `*"]]}` }
		want := map[string]map[string]string{
			"s3:ListBucket":   {inboundBucketArn(stage) + `"]]}`: `{"StringEquals":{"s3:prefix":["inbound/","quarantine/"]}}`},
			"s3:DeleteObject": {objects("inbound/"): "null", objects("quarantine/"): "null"},
		}
		for action, w := range want {
			if !reflect.DeepEqual(got[action], w) {
				t.Errorf("%s inbound sweeper %s on\n  %v\nwant\n  %v", stage, action, got[action], w)
			}
		}
		for action := range got {
			if strings.HasPrefix(action, "s3:") && want[action] == nil {
				t.Errorf("%s inbound sweeper may also %s; want only list and delete", stage, action)
			}
		}
		var schedules []string
		for _, r := range inbound(t, stage).resources("AWS::Events::Rule") {
			if e, ok := props(r)["ScheduleExpression"].(string); ok {
				schedules = append(schedules, e)
			}
		}
		if !reflect.DeepEqual(schedules, []string{"rate(1 hour)"}) {
			t.Errorf("%s/Inbound schedules = %v; want [rate(1 hour)]", stage, schedules)
		}
	}
}
