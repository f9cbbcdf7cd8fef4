package stacks_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"leadvault/infra/stacks"
	"leadvault/shared/layout"
)

// objectsUnder is how a grant on the objects under prefix of bucket lid reads in a template.
func objectsUnder(lid, prefix string) string {
	return `{"Fn::Join":["",[` + getAtt(lid, "Arn") + `,"/` + prefix + `*"]]}`
}

// fromStateful replaces every Fn::GetStackOutput of a stage's stateful
// stack in v with the value of that output, so that a reference from another
// stack reads as the stateful resource it names (e.g. {"Ref":"UserPool"}).
func fromStateful(t *testing.T, stage string, v any) any {
	t.Helper()
	switch x := v.(type) {
	case map[string]any:
		if ref, ok := x["Fn::GetStackOutput"].(map[string]any); ok && len(x) == 1 {
			if ref["StackName"] != stage+"-Stateful" {
				t.Fatalf("%s: reference to stack %v; want %s-Stateful", stage, ref["StackName"], stage)
			}
			outputs, _ := getFixture(t).templates[stage+"/Stateful"]["Outputs"].(map[string]any)
			o, ok := outputs[ref["OutputName"].(string)].(map[string]any)
			if !ok {
				t.Fatalf("%s/Stateful has no output %v", stage, ref["OutputName"])
			}
			return o["Value"]
		}
		out := map[string]any{}
		for k, e := range x {
			out[k] = fromStateful(t, stage, e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = fromStateful(t, stage, e)
		}
		return out
	}
	return v
}

// functionLID returns the logical ID of the function name in tpl.
func functionLID(t *testing.T, key string, tpl cfnTemplate, name string) string {
	t.Helper()
	for lid, r := range tpl.resources("AWS::Lambda::Function") {
		if props(r)["Description"] == "Leadvault "+name {
			return lid
		}
	}
	t.Fatalf("%s has no %s function", key, name)
	return ""
}

// roleStatements returns the statements of every AWS::IAM::Policy attached
// to the execution role of function fnLID in tpl, and of the role's inline
// policies.
func roleStatements(t *testing.T, key string, tpl cfnTemplate, fnLID string) []map[string]any {
	t.Helper()
	fn := tpl.resources("AWS::Lambda::Function")[fnLID]
	role, _ := props(fn)["Role"].(map[string]any)["Fn::GetAtt"].([]any)[0].(string)
	var out []map[string]any
	for where, statements := range identityStatements(tpl) {
		if where == role+" inline" {
			out = append(out, statements...)
			continue
		}
		roles, _ := props(tpl.resources("")[where])["Roles"].([]any)
		for _, ref := range roles {
			if jsonString(ref) == `{"Ref":"`+role+`"}` {
				out = append(out, statements...)
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s role %s of %s has no policy statements", key, role, fnLID)
	}
	return out
}

// grants returns what a function's role allows: action → the resources
// (JSON, references to the stateful stack resolved), each followed by
// " if <condition JSON>" when the statement has a condition.
func grants(t *testing.T, stage, key string, tpl cfnTemplate, fnLID string) map[string][]string {
	t.Helper()
	set := map[string]map[string]bool{}
	for _, s := range roleStatements(t, key, tpl, fnLID) {
		if s["Effect"] != "Allow" {
			continue
		}
		resources, ok := s["Resource"].([]any)
		if !ok {
			resources = []any{s["Resource"]}
		}
		for _, a := range stringList(s["Action"]) {
			for _, r := range resources {
				g := jsonString(fromStateful(t, stage, r))
				if s["Condition"] != nil {
					g += " if " + jsonString(s["Condition"])
				}
				if set[a] == nil {
					set[a] = map[string]bool{}
				}
				set[a][g] = true
			}
		}
	}
	out := map[string][]string{}
	for a, rs := range set {
		out[a] = sortedKeys(rs)
	}
	return out
}

// tableArns renders the table's ARN followed by each of its index ARNs, sorted.
func tableArns() []string {
	table := getAtt(stacks.LogicalIDLeadsTable, "Arn")
	arns := []string{table}
	for _, ix := range []string{"byCampaign", "byEmail", "byExpiry", "byPhone"} {
		arns = append(arns, `{"Fn::Join":["",[`+table+`,"/index/`+ix+`"]]}`)
	}
	sort.Strings(arns)
	return arns
}

// dataActionPrefixes are the services whose grants the policy tests pin
// exactly; logs and X-Ray are the same for every function.
var dataActionPrefixes = []string{"dynamodb:", "kms:", "cognito-idp:", "s3:", "ses:", "sqs:"}

func TestFunctionPolicies_exactDataActions(t *testing.T) {
	table := []string{getAtt(stacks.LogicalIDLeadsTable, "Arn")}
	dataKey := []string{getAtt(stacks.LogicalIDDataKey, "Arn")}
	userPool := []string{getAtt(stacks.LogicalIDUserPool, "Arn")}
	stream := []string{getAtt(stacks.LogicalIDLeadsTable, "StreamArn")}
	tests := []struct {
		name string
		want func(queue []string) map[string][]string
	}{
		{"controller", func([]string) map[string][]string {
			w := map[string][]string{"dynamodb:Query": tableArns(), "kms:Decrypt": dataKey,
				// Download links of subject archives are signed with the controller's role.
				"s3:GetObject": {objectsUnder(stacks.LogicalIDExportsBucket, layout.ExportPrefix)}}
			for _, a := range []string{"GetItem", "PutItem", "UpdateItem", "DeleteItem", "ConditionCheckItem", "BatchGetItem"} {
				w["dynamodb:"+a] = table
			}
			// On the stage's user pool only.
			for _, a := range stacks.ControllerUserPoolActions {
				w[a] = userPool
			}
			return w
		}},
		{"jobs", func(queue []string) map[string][]string {
			w := map[string][]string{"dynamodb:Query": tableArns()}
			// BatchGetItem: shared/store reads the job queue's jobs and re-reads leads in batches.
			for _, a := range []string{"GetItem", "BatchGetItem", "PutItem", "UpdateItem", "DeleteItem", "ConditionCheckItem", "BatchWriteItem"} {
				w["dynamodb:"+a] = table
			}
			// Added by the stream event source: reading the (KMS-encrypted)
			// stream, its on-failure destination and the function's DLQ.
			w["dynamodb:ListStreams"] = []string{`"*"`}
			for _, a := range []string{"DescribeStream", "GetRecords", "GetShardIterator"} {
				w["dynamodb:"+a] = stream
			}
			for _, a := range []string{"kms:Decrypt", "kms:DescribeKey"} {
				w[a] = dataKey
			}
			// Subject requests: archives under SSE-KMS, sent-mail copies an erasure deletes.
			w["kms:GenerateDataKey"] = []string{dataKey[0] + ` if {"StringEquals":{"kms:ViaService":"s3.eu-north-1.amazonaws.com"}}`}
			archives := []string{objectsUnder(stacks.LogicalIDExportsBucket, layout.ReturnPrefix), objectsUnder(stacks.LogicalIDExportsBucket, layout.ExportPrefix)}
			w["s3:PutObject"] = archives
			w["s3:DeleteObject"] = append(archives, objectsUnder(stacks.LogicalIDSentMailBucket, layout.SentPrefix))
			// A tenant's purge at its contract's end: a walk of the table, the listing of its objects, and
			// its users' sign-in accounts.
			w["dynamodb:Scan"] = table
			w["s3:ListBucket"] = []string{getAtt(stacks.LogicalIDExportsBucket, "Arn"), getAtt(stacks.LogicalIDSentMailBucket, "Arn")}
			for _, a := range stacks.JobsUserPoolActions {
				w[a] = userPool
			}
			for _, a := range []string{"sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"} {
				w[a] = queue
			}
			return w
		}},
	}
	for _, stage := range stageNames {
		key := stage + "/Stateless"
		tpl := stateless(t, stage)
		queueLID, _ := only(t, tpl, "AWS::SQS::Queue")
		for _, tt := range tests {
			t.Run(stage+"_"+tt.name, func(t *testing.T) {
				got := map[string][]string{}
				for a, rs := range grants(t, stage, key, tpl, functionLID(t, key, tpl, tt.name)) {
					for _, p := range dataActionPrefixes {
						if strings.HasPrefix(a, p) {
							got[a] = rs
						}
					}
				}
				want := tt.want([]string{getAtt(queueLID, "Arn")})
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s grants\n  %v\nwant\n  %v", tt.name, got, want)
				}
			})
		}
	}
}

// TestFunctionPolicies_cognitoOnlyForController: only the controller manages users; the jobs function may
// only delete a purged tenant's.
func TestFunctionPolicies_cognitoOnlyForController(t *testing.T) {
	for _, key := range []string{"staging/Stateless", "staging/Inbound", "production/Stateless", "production/Inbound"} {
		tpl := getFixture(t).templates[key]
		for lid, fn := range tpl.resources("AWS::Lambda::Function") {
			if props(fn)["Description"] == "Leadvault controller" {
				continue
			}
			// The jobs function deletes a purged tenant's users' accounts, and nothing else.
			jobs := props(fn)["Description"] == "Leadvault jobs"
			for _, s := range roleStatements(t, key, tpl, lid) {
				for _, a := range stringList(s["Action"]) {
					if jobs && slices.Contains(stacks.JobsUserPoolActions, a) {
						continue
					}
					if strings.HasPrefix(a, "cognito-idp:") && s["Effect"] == "Allow" {
						t.Errorf("%s %s (%v) may %s; only the controller manages users", key, lid, props(fn)["Description"], a)
					}
				}
			}
		}
	}
}

// TestAuditTrail_denyRewriteOnEveryRole checks obligation M4/S15: every
// function's role is explicitly denied changing or deleting items in the
// audit partitions, whatever else it is allowed. The stateful stack's one
// function, the user pool's trigger, has no data action at all instead
// (TestUserPool_preTokenGenerationTrigger).
func TestAuditTrail_denyRewriteOnEveryRole(t *testing.T) {
	wantActions := slices.Sorted(slices.Values(stacks.AuditRewriteActions))
	if !reflect.DeepEqual(wantActions, []string{"dynamodb:BatchWriteItem", "dynamodb:DeleteItem", "dynamodb:PartiQLDelete",
		"dynamodb:PartiQLUpdate", "dynamodb:UpdateItem"}) {
		t.Fatalf("AuditRewriteActions = %v", stacks.AuditRewriteActions)
	}
	const wantCondition = `{"ForAnyValue:StringLike":{"dynamodb:LeadingKeys":["T#*#AUDIT"]}}`
	wantResource := getAtt(stacks.LogicalIDLeadsTable, "Arn")
	wantFunctions := map[string]int{"Stateless": 5, "Inbound": 2}
	for _, stage := range stageNames {
		for _, stackID := range sortedKeys(wantFunctions) {
			key := stage + "/" + stackID
			tpl := getFixture(t).templates[key]
			fns := tpl.resources("AWS::Lambda::Function")
			if len(fns) != wantFunctions[stackID] {
				t.Errorf("%s has %d functions; want %d", key, len(fns), wantFunctions[stackID])
			}
			for _, lid := range sortedKeys(fns) {
				name := strings.TrimPrefix(props(fns[lid])["Description"].(string), "Leadvault ")
				t.Run(stage+"_"+stackID+"_"+name, func(t *testing.T) {
					var denies []string
					found := false
					for _, s := range roleStatements(t, key, tpl, lid) {
						if s["Effect"] != "Deny" {
							continue
						}
						actions := slices.Sorted(slices.Values(stringList(s["Action"])))
						resource := jsonString(fromStateful(t, stage, s["Resource"]))
						condition := jsonString(s["Condition"])
						denies = append(denies, jsonString(actions)+" on "+resource+" if "+condition)
						found = found || reflect.DeepEqual(actions, wantActions) && resource == wantResource && condition == wantCondition
					}
					if !found {
						t.Errorf("%s role's Deny statements = %v; want %v on %s if %s", name, denies, wantActions, wantResource, wantCondition)
					}
				})
			}
		}
	}
}

// controllerAPI returns the logical ID of a stage's controller API.
func controllerAPI(t *testing.T, stage string) string {
	t.Helper()
	lid, _ := statelessAPI(t, stage, " controller API (staff, Cognito tokens)")
	return lid
}

func TestControllerAPI_jwtAuthorizerOnRoute(t *testing.T) {
	for _, stage := range stageNames {
		tpl := stateless(t, stage)
		onAPI := `{"Ref":"` + controllerAPI(t, stage) + `"}`
		authLID, auth := onlyWhere(t, tpl, "AWS::ApiGatewayV2::Authorizer", "ApiId", onAPI)
		_, route := onlyWhere(t, tpl, "AWS::ApiGatewayV2::Route", "ApiId", onAPI)
		_, integration := onlyWhere(t, tpl, "AWS::ApiGatewayV2::Integration", "ApiId", onAPI)
		a, r := props(auth), props(route)
		tests := []struct {
			field, got, want string
		}{
			{"Authorizer.AuthorizerType", jsonString(a["AuthorizerType"]), `"JWT"`},
			{"Authorizer.IdentitySource", jsonString(a["IdentitySource"]), `["$request.header.Authorization"]`},
			{"Authorizer.JwtConfiguration.Issuer", jsonString(fromStateful(t, stage, a["JwtConfiguration"].(map[string]any)["Issuer"])),
				`{"Fn::Join":["",["https://cognito-idp.eu-north-1.amazonaws.com/",{"Ref":"` + stacks.LogicalIDUserPool + `"}]]}`},
			{"Authorizer.JwtConfiguration.Audience", jsonString(fromStateful(t, stage, a["JwtConfiguration"].(map[string]any)["Audience"])),
				`[{"Ref":"` + stacks.LogicalIDUserPoolClient + `"}]`},
			{"Route.RouteKey", jsonString(r["RouteKey"]), `"ANY ` + stacks.ControllerPath + `"`},
			{"Route.AuthorizationType", jsonString(r["AuthorizationType"]), `"JWT"`},
			{"Route.AuthorizerId", jsonString(r["AuthorizerId"]), `{"Ref":"` + authLID + `"}`},
			{"Integration.IntegrationUri", jsonString(props(integration)["IntegrationUri"]),
				getAtt(functionLID(t, stage+"/Stateless", tpl, "controller"), "Arn")},
		}
		for _, tt := range tests {
			t.Run(stage+"_"+tt.field, func(t *testing.T) {
				if tt.got != tt.want {
					t.Errorf("controller API %s = %s; want %s", tt.field, tt.got, tt.want)
				}
			})
		}
	}
}

func TestControllerAPI_stage(t *testing.T) {
	for _, stage := range stageNames {
		tpl := stateless(t, stage)
		apiLID := controllerAPI(t, stage)
		_, st := onlyWhere(t, tpl, "AWS::ApiGatewayV2::Stage", "ApiId", `{"Ref":"`+apiLID+`"}`)
		p := props(st)
		if got := jsonString(p["DefaultRouteSettings"]); got != `{"ThrottlingBurstLimit":100,"ThrottlingRateLimit":50}` {
			t.Errorf("%s controller stage DefaultRouteSettings = %s; want burst 100, rate 50", stage, got)
		}
		if p["StageName"] != "$default" || p["AutoDeploy"] != true {
			t.Errorf("%s controller stage = %v, AutoDeploy %v; want $default, auto-deployed", stage, p["StageName"], p["AutoDeploy"])
		}
		format, _ := p["AccessLogSettings"].(map[string]any)["Format"].(string)
		var fields map[string]string
		if err := json.Unmarshal([]byte(format), &fields); err != nil {
			t.Fatalf("%s controller access log format %q is not JSON: %v", stage, format, err)
		}
		// Staff callers: their IP and user id are kept for security review.
		want := map[string]string{
			"requestId": "$context.requestId", "routeKey": "$context.routeKey", "status": "$context.status",
			"sourceIp": "$context.identity.sourceIp", "sub": "$context.authorizer.claims.sub",
		}
		for k, v := range want {
			if fields[k] != v {
				t.Errorf("%s controller access log %s = %q; want %q", stage, k, fields[k], v)
			}
		}
		for _, leak := range []string{"userAgent", "$context.path", "claims.email"} {
			if strings.Contains(format, leak) {
				t.Errorf("%s controller access log format logs %s: %s", stage, leak, format)
			}
		}
		outputs, _ := tpl["Outputs"].(map[string]any)
		url, _ := outputs["ControllerApiUrl"].(map[string]any)
		if !strings.Contains(jsonString(url["Value"]), `{"Ref":"`+apiLID+`"}`) {
			t.Errorf("%s ControllerApiUrl = %s; want the controller API's URL", stage, jsonString(url["Value"]))
		}
	}
}

func TestControllerFunction_environment(t *testing.T) {
	for _, stage := range stageNames {
		tpl := stateless(t, stage)
		fn := tpl.resources("AWS::Lambda::Function")[functionLID(t, stage+"/Stateless", tpl, "controller")]
		env := props(fn)["Environment"].(map[string]any)["Variables"].(map[string]any)
		want := map[string]string{
			"LEADVAULT_STAGE":         `"` + stage + `"`,
			"LEADVAULT_TABLE":         `{"Ref":"` + stacks.LogicalIDLeadsTable + `"}`,
			"LEADVAULT_KEY_ID":        getAtt(stacks.LogicalIDDataKey, "Arn"),
			"LEADVAULT_USER_POOL_ID":  `{"Ref":"` + stacks.LogicalIDUserPool + `"}`,
			"LEADVAULT_EXPORT_BUCKET": `{"Ref":"` + stacks.LogicalIDExportsBucket + `"}`,
		}
		got := map[string]string{}
		for k, v := range env {
			got[k] = jsonString(fromStateful(t, stage, v))
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s controller environment = %v; want %v", stage, got, want)
		}
	}
}

func TestJobs_streamFilter(t *testing.T) {
	for _, stage := range stageNames {
		tpl := stateless(t, stage)
		queueLID, _ := only(t, tpl, "AWS::SQS::Queue")
		_, esm := onlyWhere(t, tpl, "AWS::Lambda::EventSourceMapping", "FunctionName",
			`{"Ref":"`+functionLID(t, stage+"/Stateless", tpl, "jobs")+`"}`)
		p := props(esm)
		filters, _ := p["FilterCriteria"].(map[string]any)["Filters"].([]any)
		if len(filters) != 2 {
			t.Fatalf("%s jobs ESM has %d filters; want 2 (campaign deletions, subject requests)", stage, len(filters))
		}
		var got, want []any
		for i, prefix := range []string{"DELCAMP#", "SR#"} {
			var g, w any
			if err := json.Unmarshal([]byte(filters[i].(map[string]any)["Pattern"].(string)), &g); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(`{"eventName":["INSERT","MODIFY"],"dynamodb":{"Keys":{"sk":{"S":[{"prefix":"`+prefix+`"}]}}}}`), &w); err != nil {
				t.Fatal(err)
			}
			got, want = append(got, g), append(want, w)
		}
		tests := []struct {
			field string
			got   any
			want  any
		}{
			{"FilterCriteria", got, want},
			{"EventSourceArn", jsonString(fromStateful(t, stage, p["EventSourceArn"])), getAtt(stacks.LogicalIDLeadsTable, "StreamArn")},
			{"BatchSize", p["BatchSize"], 1.0},
			{"StartingPosition", p["StartingPosition"], "LATEST"},
			{"MaximumRetryAttempts", p["MaximumRetryAttempts"], 2.0},
			{"BisectBatchOnFunctionError", p["BisectBatchOnFunctionError"], true},
			{"MaximumRecordAgeInSeconds", p["MaximumRecordAgeInSeconds"], 3600.0},
			{"DestinationConfig", jsonString(p["DestinationConfig"]), `{"OnFailure":{"Destination":` + getAtt(queueLID, "Arn") + `}}`},
		}
		for _, tt := range tests {
			t.Run(stage+"_"+tt.field, func(t *testing.T) {
				if !reflect.DeepEqual(tt.got, tt.want) {
					t.Errorf("jobs ESM %s = %v; want %v", tt.field, tt.got, tt.want)
				}
			})
		}
	}
}

func TestJobs_schedule(t *testing.T) {
	for _, stage := range stageNames {
		tpl := stateless(t, stage)
		queueLID, _ := only(t, tpl, "AWS::SQS::Queue")
		fnLID := functionLID(t, stage+"/Stateless", tpl, "jobs")
		p := props(ruleTargeting(t, tpl, fnLID, "rate(15 "))
		targets, _ := p["Targets"].([]any)
		if len(targets) != 1 {
			t.Fatalf("%s jobs rule has %d targets; want 1", stage, len(targets))
		}
		// The retention sweep: its own rule, every 30 minutes, with the task as the event.
		sweep := props(ruleTargeting(t, tpl, fnLID, "rate(30 "))
		if got := jsonString(sweep["Targets"].([]any)[0].(map[string]any)["Input"]); got != `"{\"task\":\"retention-sweep\"}"` {
			t.Errorf("%s retention Input = %s; want the retention-sweep task", stage, got)
		}
		// The daily reminders: its own rule, with the task as the event.
		daily := props(ruleTargeting(t, tpl, fnLID, "cron("))
		if got := jsonString(daily["ScheduleExpression"]); got != `"cron(0 6 * * ? *)"` {
			t.Errorf("%s reminders ScheduleExpression = %s; want daily at 06:00 UTC", stage, got)
		}
		if got := jsonString(daily["Targets"].([]any)[0].(map[string]any)["Input"]); got != `"{\"task\":\"deadline-reminders\"}"` {
			t.Errorf("%s reminders Input = %s; want the deadline-reminders task", stage, got)
		}
		target := targets[0].(map[string]any)
		tests := []struct {
			field, got, want string
		}{
			{"ScheduleExpression", jsonString(p["ScheduleExpression"]), `"rate(15 minutes)"`},
			{"State", jsonString(p["State"]), `"ENABLED"`},
			{"Target.Arn", jsonString(target["Arn"]), getAtt(fnLID, "Arn")},
			{"Target.RetryPolicy", jsonString(target["RetryPolicy"]), `{"MaximumEventAgeInSeconds":900,"MaximumRetryAttempts":2}`},
			{"Target.DeadLetterConfig", jsonString(target["DeadLetterConfig"]), `{"Arn":` + getAtt(queueLID, "Arn") + `}`},
			{"Target.Input", jsonString(target["Input"]), `null`},
		}
		for _, tt := range tests {
			t.Run(stage+"_"+tt.field, func(t *testing.T) {
				if tt.got != tt.want {
					t.Errorf("jobs schedule %s = %s; want %s", tt.field, tt.got, tt.want)
				}
			})
		}
	}
}

// TestTableStream_atMostTwoConsumers guards DynamoDB Streams' advice of at
// most two simultaneous readers per shard; more are throttled.
func TestTableStream_atMostTwoConsumers(t *testing.T) {
	for _, stage := range stageNames {
		stream := getAtt(stacks.LogicalIDLeadsTable, "StreamArn")
		var consumers []string
		for _, key := range []string{stage + "/Stateless", stage + "/Inbound"} {
			for lid, r := range getFixture(t).templates[key].resources("AWS::Lambda::EventSourceMapping") {
				if jsonString(fromStateful(t, stage, props(r)["EventSourceArn"])) == stream {
					consumers = append(consumers, key+"/"+lid)
				}
			}
		}
		if len(consumers) > 2 {
			t.Errorf("%s table stream has %d consumers %v; want at most 2", stage, len(consumers), consumers)
		}
	}
}
