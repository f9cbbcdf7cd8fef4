package stacks_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"leadvault/infra/stacks"
)

// statefulResource returns the resource with logical ID lid in a stage's
// stateful template, failing the test if it is missing.
func statefulResource(t *testing.T, stage, lid string) map[string]any {
	t.Helper()
	r, ok := getFixture(t).templates[stage+"/Stateful"].resources("")[lid]
	if !ok {
		t.Fatalf("%s/Stateful has no resource %q (logical IDs must stay stable)", stage, lid)
	}
	return r
}

func TestStateful_stableLogicalIDsAndRetain(t *testing.T) {
	want := map[string]string{
		stacks.LogicalIDDataKey:          "AWS::KMS::Key",
		stacks.LogicalIDLeadsTable:       "AWS::DynamoDB::Table",
		stacks.LogicalIDSentMailBucket:   "AWS::S3::Bucket",
		stacks.LogicalIDAccessLogsBucket: "AWS::S3::Bucket",
		stacks.LogicalIDExportsBucket:    "AWS::S3::Bucket",
	}
	for _, stage := range stageNames {
		for lid, typ := range want {
			r := statefulResource(t, stage, lid)
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

func TestLeadsTable(t *testing.T) {
	for _, stage := range stageNames {
		p := props(statefulResource(t, stage, stacks.LogicalIDLeadsTable))
		checks := []struct {
			field string
			got   any
			want  any
		}{
			{"BillingMode", p["BillingMode"], "PAY_PER_REQUEST"},
			{"KeySchema", jsonString(p["KeySchema"]), `[{"AttributeName":"pk","KeyType":"HASH"},{"AttributeName":"sk","KeyType":"RANGE"}]`},
			{"TimeToLiveSpecification", jsonString(p["TimeToLiveSpecification"]), `{"AttributeName":"expiresAt","Enabled":true}`},
			{"PointInTimeRecoverySpecification", jsonString(p["PointInTimeRecoverySpecification"]), `{"PointInTimeRecoveryEnabled":true,"RecoveryPeriodInDays":35}`},
			{"DeletionProtectionEnabled", p["DeletionProtectionEnabled"], true},
			{"SSESpecification", jsonString(p["SSESpecification"]), `{"KMSMasterKeyId":{"Fn::GetAtt":["DataKey","Arn"]},"SSEEnabled":true,"SSEType":"KMS"}`},
			{"StreamSpecification", jsonString(p["StreamSpecification"]), `{"StreamViewType":"KEYS_ONLY"}`},
		}
		for _, c := range checks {
			if !reflect.DeepEqual(c.got, c.want) {
				t.Errorf("%s LeadsTable %s = %v; want %v", stage, c.field, c.got, c.want)
			}
		}

		wantGSIs := map[string]string{
			"byEmail":    `{"IndexName":"byEmail","KeySchema":[{"AttributeName":"bie","KeyType":"HASH"},{"AttributeName":"ct","KeyType":"RANGE"}],"Projection":{"ProjectionType":"KEYS_ONLY"}}`,
			"byPhone":    `{"IndexName":"byPhone","KeySchema":[{"AttributeName":"bip","KeyType":"HASH"},{"AttributeName":"ct","KeyType":"RANGE"}],"Projection":{"ProjectionType":"KEYS_ONLY"}}`,
			"byCampaign": `{"IndexName":"byCampaign","KeySchema":[{"AttributeName":"camp","KeyType":"HASH"},{"AttributeName":"ct","KeyType":"RANGE"}],"Projection":{"ProjectionType":"ALL"}}`,
			// Sparse: leads and subject keys by the hour they expire, for the retention sweep.
			"byExpiry": `{"IndexName":"byExpiry","KeySchema":[{"AttributeName":"xh","KeyType":"HASH"},{"AttributeName":"pk","KeyType":"RANGE"}],"Projection":{"NonKeyAttributes":["subj","expiresAt"],"ProjectionType":"INCLUDE"}}`,
		}
		gsis, _ := p["GlobalSecondaryIndexes"].([]any)
		if len(gsis) != len(wantGSIs) {
			t.Errorf("%s LeadsTable has %d GSIs; want %d", stage, len(gsis), len(wantGSIs))
		}
		for _, g := range gsis {
			name, _ := g.(map[string]any)["IndexName"].(string)
			if got := jsonString(g); got != wantGSIs[name] {
				t.Errorf("%s GSI %q = %s; want %s", stage, name, got, wantGSIs[name])
			}
		}
	}
}

func TestDataKey(t *testing.T) {
	for _, stage := range stageNames {
		p := props(statefulResource(t, stage, stacks.LogicalIDDataKey))
		if p["EnableKeyRotation"] != true {
			t.Errorf("%s DataKey EnableKeyRotation = %v; want true", stage, p["EnableKeyRotation"])
		}
		if d, _ := p["Description"].(string); d == "" {
			t.Errorf("%s DataKey has no Description", stage)
		}
	}
}

func TestSentMailBucket(t *testing.T) {
	const bpa = `{"BlockPublicAcls":true,"BlockPublicPolicy":true,"IgnorePublicAcls":true,"RestrictPublicBuckets":true}`
	for _, stage := range stageNames {
		p := props(statefulResource(t, stage, stacks.LogicalIDSentMailBucket))
		checks := []struct {
			field, got, want string
		}{
			// Obligation E11: sent mail is gone within a day even if the sweeper fails.
			{"LifecycleConfiguration", jsonString(p["LifecycleConfiguration"]),
				`{"Rules":[{"AbortIncompleteMultipartUpload":{"DaysAfterInitiation":1},"ExpirationInDays":1,"Id":"expire-sent-mail","Status":"Enabled"}]}`},
			{"BucketEncryption", jsonString(p["BucketEncryption"]),
				`{"ServerSideEncryptionConfiguration":[{"BucketKeyEnabled":true,"ServerSideEncryptionByDefault":{"KMSMasterKeyID":{"Fn::GetAtt":["DataKey","Arn"]},"SSEAlgorithm":"aws:kms"}}]}`},
			{"PublicAccessBlockConfiguration", jsonString(p["PublicAccessBlockConfiguration"]), bpa},
			{"VersioningConfiguration", jsonString(p["VersioningConfiguration"]), "null"},
			{"LoggingConfiguration", jsonString(p["LoggingConfiguration"]),
				`{"DestinationBucketName":{"Ref":"AccessLogsBucket"},"LogFilePrefix":"sent-mail/"}`},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("%s SentMailBucket %s = %s; want %s", stage, c.field, c.got, c.want)
			}
		}

		logs := props(statefulResource(t, stage, stacks.LogicalIDAccessLogsBucket))
		if got := jsonString(logs["PublicAccessBlockConfiguration"]); got != bpa {
			t.Errorf("%s AccessLogsBucket PublicAccessBlockConfiguration = %s; want %s", stage, got, bpa)
		}
		if got := jsonString(logs["BucketEncryption"]); !strings.Contains(got, `"SSEAlgorithm":"AES256"`) {
			t.Errorf("%s AccessLogsBucket BucketEncryption = %s; want SSE-S3 (log delivery cannot use KMS)", stage, got)
		}
	}
}

func TestBuckets_enforceTLS(t *testing.T) {
	forEachTemplate(t, func(t *testing.T, key string, tpl cfnTemplate) {
		buckets, policies := tpl.resources("AWS::S3::Bucket"), tpl.resources("AWS::S3::BucketPolicy")
		for lid, r := range policies {
			doc := jsonString(props(r)["PolicyDocument"])
			if !strings.Contains(doc, `"Condition":{"Bool":{"aws:SecureTransport":"false"}},"Effect":"Deny"`) {
				t.Errorf("%s %s does not deny non-TLS requests: %s", key, lid, doc)
			}
		}
		if len(policies) != len(buckets) {
			t.Errorf("%s has %d buckets and %d bucket policies; want one per bucket", key, len(buckets), len(policies))
		}
	})
}

func TestMail(t *testing.T) {
	for _, stage := range stageNames {
		tpl := getFixture(t).templates[stage+"/Stateful"]
		sets := tpl.resources("AWS::SES::ConfigurationSet")
		if len(sets) != 1 {
			t.Fatalf("%s has %d SES configuration sets; want 1", stage, len(sets))
		}
		for lid, r := range sets {
			if got := jsonString(props(r)["DeliveryOptions"]); got != `{"TlsPolicy":"REQUIRE"}` {
				t.Errorf("%s %s DeliveryOptions = %s; want TLS required", stage, lid, got)
			}
		}
		for lid, r := range tpl.resources("AWS::SES::ConfigurationSetEventDestination") {
			ed := props(r)["EventDestination"].(map[string]any)
			if got, want := jsonString(ed["MatchingEventTypes"]), `["delivery","bounce","complaint","reject"]`; got != want {
				t.Errorf("%s %s MatchingEventTypes = %s; want %s", stage, lid, got, want)
			}
			if got := jsonString(ed["EventBridgeDestination"]); !strings.Contains(got, "event-bus/default") {
				t.Errorf("%s %s EventBridgeDestination = %s; want the default bus", stage, lid, got)
			}
		}

		var logGroup string
		for lid, r := range tpl.resources("AWS::Logs::LogGroup") {
			if props(r)["RetentionInDays"] == 365.0 && r["DeletionPolicy"] == "Retain" {
				logGroup = lid
			}
		}
		if logGroup == "" {
			t.Fatalf("%s has no retained delivery log group with 1-year retention", stage)
		}
		rules := tpl.resources("AWS::Events::Rule")
		if len(rules) != 1 {
			t.Fatalf("%s/Stateful has %d rules; want 1", stage, len(rules))
		}
		for lid, r := range rules {
			p := props(r)
			if got := jsonString(p["EventPattern"]); !strings.Contains(got, `"source":["aws.ses"]`) || !strings.Contains(got, `"ses:configuration-set"`) {
				t.Errorf("%s %s EventPattern = %s; want aws.ses events of the configuration set", stage, lid, got)
			}
			targets := jsonString(p["Targets"])
			for _, want := range []string{`"Ref":"` + logGroup + `"`, "DeadLetterConfig", "messageId"} {
				if !strings.Contains(targets, want) {
					t.Errorf("%s %s Targets = %s; want it to contain %s", stage, lid, targets, want)
				}
			}
			// Obligation E5: the evidence says who/when, never the content.
			for _, leak := range []string{"commonHeaders", "subject", "headers", "$.detail\""} {
				if strings.Contains(targets, leak) {
					t.Errorf("%s %s Targets = %s; must not log %s", stage, lid, targets, leak)
				}
			}
		}
		if n := len(tpl.resources("AWS::Logs::ResourcePolicy")); n != 1 {
			t.Errorf("%s has %d log resource policies; want 1 (EventBridge -> delivery log)", stage, n)
		}
		// The native resource policy replaces the CloudWatchLogGroup target's
		// custom resource: the stack's only function is the user pool's trigger.
		var fns []string
		for _, r := range tpl.resources("AWS::Lambda::Function") {
			fns = append(fns, fmt.Sprint(props(r)["Description"]))
		}
		if want := []string{"Leadvault tokenclaims"}; !reflect.DeepEqual(fns, want) {
			t.Errorf("%s/Stateful Lambda functions = %q; want %q (no custom resources)", stage, fns, want)
		}
	}
}

// TestExportsBucket_lifecycle: subject-request archives expire a day after the sweeper deletes them (8
// days); a tenant's return archive lives through the longest grace period (its purge deletes it sooner).
func TestExportsBucket_lifecycle(t *testing.T) {
	for _, stage := range stageNames {
		p := props(statefulResource(t, stage, stacks.LogicalIDExportsBucket))
		want := `{"Rules":[{"AbortIncompleteMultipartUpload":{"DaysAfterInitiation":1},"ExpirationInDays":8,"Id":"expire-exports","Prefix":"subject-requests/","Status":"Enabled"},` +
			`{"AbortIncompleteMultipartUpload":{"DaysAfterInitiation":1},"ExpirationInDays":91,"Id":"expire-contract-returns","Prefix":"contract-returns/","Status":"Enabled"}]}`
		if got := jsonString(p["LifecycleConfiguration"]); got != want {
			t.Errorf("%s ExportsBucket LifecycleConfiguration = %s; want %s", stage, got, want)
		}
	}
}
