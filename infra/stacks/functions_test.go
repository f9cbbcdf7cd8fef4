package stacks_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"leadvault/infra/stacks"
	"leadvault/shared/app"
	"leadvault/shared/controlapi"
	"leadvault/shared/formapi"
	"leadvault/shared/jobs"
	"leadvault/shared/mailintake"
	"leadvault/shared/notify"
)

// stateless returns a stage's stateless template.
func stateless(t *testing.T, stage string) cfnTemplate {
	t.Helper()
	return getFixture(t).templates[stage+"/Stateless"]
}

// only returns the single resource of type typ in tpl.
func only(t *testing.T, tpl cfnTemplate, typ string) (string, map[string]any) {
	t.Helper()
	rs := tpl.resources(typ)
	if len(rs) != 1 {
		t.Fatalf("found %d %s; want 1", len(rs), typ)
	}
	for lid, r := range rs {
		return lid, r
	}
	return "", nil
}

func TestFunctions(t *testing.T) {
	// Each function's environment holds at least what its code requires at init (the Required lists the
	// handlers check), so a function and its stack cannot drift apart.
	wantEnv := map[string][]string{
		"intake":       slices.Concat(formapi.Required, []string{app.EnvStage}),
		"notifier":     slices.Concat(notify.Required, []string{app.EnvStage, app.EnvConfigurationSet}),
		"sweeper":      {app.EnvStage, app.EnvSentBucket},
		"email-intake": slices.Concat(mailintake.Required, []string{app.EnvStage, app.EnvDataRegion, app.EnvInboundBucket}),
		"controller":   slices.Concat(controlapi.Required, []string{app.EnvStage}),
		"jobs":         slices.Concat(jobs.Required, []string{app.EnvStage, app.EnvKeyID}),
		"tokenclaims":  {app.EnvStage},
	}
	wantTimeout := map[string]float64{"intake": 10, "notifier": 30, "sweeper": 300, "email-intake": 120, "controller": 15, "jobs": 300,
		"tokenclaims": 5}
	wantMemory := map[string]float64{"intake": 256, "notifier": 256, "email-intake": 512, "controller": 256, "jobs": 512,
		"tokenclaims": 128}
	// Every function lives in exactly one of these stacks.
	wantFunctions := map[string][]string{
		// The user pool's trigger sits with the pool (see Identity).
		"Stateful":  {"tokenclaims"},
		"Stateless": {"controller", "intake", "jobs", "notifier", "sweeper"},
		"Inbound":   {"email-intake", "sweeper"},
	}
	// The inbound region runs its own sweeper (raw mail), from the same code as the one in eu-north-1.
	inboundSweeperEnv := []string{app.EnvStage, app.EnvInboundBucket}
	all := map[string]bool{}
	for _, names := range wantFunctions {
		for _, n := range names {
			all[n] = true
		}
	}
	if len(all) != len(stacks.FunctionNames) {
		t.Errorf("test covers functions %v; stacks.FunctionNames = %v", all, stacks.FunctionNames)
	}
	for _, stage := range stageNames {
		for _, stackID := range sortedKeys(wantFunctions) {
			key := stage + "/" + stackID
			tpl := getFixture(t).templates[key]
			fns := tpl.resources("AWS::Lambda::Function")
			var got []string
			for _, r := range fns {
				got = append(got, strings.TrimPrefix(props(r)["Description"].(string), "Leadvault "))
			}
			sort.Strings(got)
			if !reflect.DeepEqual(got, wantFunctions[stackID]) {
				t.Errorf("%s functions = %v; want %v", key, got, wantFunctions[stackID])
			}
			env := wantEnv
			if stackID == "Inbound" {
				env = map[string][]string{"email-intake": wantEnv["email-intake"], "sweeper": inboundSweeperEnv}
			}
			checkFunctions(t, key, stage, tpl, fns, env, wantTimeout, wantMemory)
		}
	}
}

// checkFunctions checks the conventions every function of a stack follows.
func checkFunctions(t *testing.T, key, stage string, tpl cfnTemplate, fns map[string]map[string]any,
	wantEnv map[string][]string, wantTimeout, wantMemory map[string]float64) {
	t.Helper()
	roles := map[string]string{}
	logGroups := tpl.resources("AWS::Logs::LogGroup")
	for lid, r := range fns {
		p := props(r)
		name := strings.TrimPrefix(p["Description"].(string), "Leadvault ")
		checks := []struct {
			field string
			got   any
			want  any
		}{
			{"Architectures", jsonString(p["Architectures"]), `["arm64"]`},
			{"Runtime", p["Runtime"], "provided.al2023"},
			{"Handler", p["Handler"], "bootstrap"},
			{"TracingConfig", jsonString(p["TracingConfig"]), `{"Mode":"Active"}`},
			{"Timeout", p["Timeout"], wantTimeout[name]},
			{"LoggingConfig.LogFormat", p["LoggingConfig"].(map[string]any)["LogFormat"], "JSON"},
		}
		for _, c := range checks {
			if !reflect.DeepEqual(c.got, c.want) {
				t.Errorf("%s %s (%s) %s = %v; want %v", key, lid, name, c.field, c.got, c.want)
			}
		}
		if m, _ := p["MemorySize"].(float64); m < 128 {
			t.Errorf("%s %s MemorySize = %v; want explicit >= 128", key, lid, p["MemorySize"])
		}
		if want, ok := wantMemory[name]; ok && p["MemorySize"] != want {
			t.Errorf("%s %s MemorySize = %v; want %v", key, lid, p["MemorySize"], want)
		}

		ref, _ := p["LoggingConfig"].(map[string]any)["LogGroup"].(map[string]any)["Ref"].(string)
		lg, ok := logGroups[ref]
		if !ok {
			t.Errorf("%s %s LoggingConfig.LogGroup = %v; want a log group of this stack", key, lid, ref)
		} else if props(lg)["RetentionInDays"] == nil {
			t.Errorf("%s log group %s has no retention", key, ref)
		}

		env, _ := p["Environment"].(map[string]any)["Variables"].(map[string]any)
		for _, k := range wantEnv[name] {
			if _, ok := env[k]; !ok {
				t.Errorf("%s %s environment lacks %s", key, name, k)
			}
		}
		known := map[string]bool{}
		for _, n := range app.Names() {
			known[n] = true
		}
		for k := range env {
			if !known[k] {
				t.Errorf("%s %s environment sets %s, which no function reads (not in app.Settings)", key, name, k)
			}
		}
		if env[app.EnvStage] != stage {
			t.Errorf("%s %s %s = %v; want %q", key, name, app.EnvStage, env[app.EnvStage], stage)
		}

		role := jsonString(p["Role"])
		if other, dup := roles[role]; dup {
			t.Errorf("%s functions %s and %s share role %s; want one role each", key, other, name, role)
		}
		roles[role] = name
	}
}

// statelessFunction returns the logical ID of a function of a stage's stateless stack.
func statelessFunction(t *testing.T, stage, name string) string {
	t.Helper()
	for lid, r := range stateless(t, stage).resources("AWS::Lambda::Function") {
		if props(r)["Description"] == "Leadvault "+name {
			return lid
		}
	}
	t.Fatalf("%s/Stateless has no %s function", stage, name)
	return ""
}

// onlyWhere returns the single resource of type typ in tpl whose property
// field renders (jsonString) as want.
func onlyWhere(t *testing.T, tpl cfnTemplate, typ, field, want string) (string, map[string]any) {
	t.Helper()
	var lids []string
	var res map[string]any
	for lid, r := range tpl.resources(typ) {
		if jsonString(props(r)[field]) == want {
			lids, res = append(lids, lid), r
		}
	}
	if len(lids) != 1 {
		t.Fatalf("found %s %v with %s = %s; want 1", typ, lids, field, want)
	}
	return lids[0], res
}

// ruleTargeting returns the single events rule whose one target is the function fnLID, among those whose
// schedule expression begins with schedule ("" for any).
func ruleTargeting(t *testing.T, tpl cfnTemplate, fnLID string, schedule ...string) map[string]any {
	t.Helper()
	var rules []map[string]any
	for _, r := range tpl.resources("AWS::Events::Rule") {
		expr, _ := props(r)["ScheduleExpression"].(string)
		if len(schedule) > 0 && !strings.HasPrefix(expr, schedule[0]) {
			continue
		}
		if strings.Contains(jsonString(props(r)["Targets"]), getAtt(fnLID, "Arn")) {
			rules = append(rules, r)
		}
	}
	if len(rules) != 1 {
		t.Fatalf("found %d rules targeting %s; want 1", len(rules), fnLID)
	}
	return rules[0]
}

func TestNotifier_eventSourceMapping(t *testing.T) {
	for _, stage := range stageNames {
		tpl := stateless(t, stage)
		_, r := onlyWhere(t, tpl, "AWS::Lambda::EventSourceMapping", "FunctionName", `{"Ref":"`+statelessFunction(t, stage, "notifier")+`"}`)
		p := props(r)

		filters := p["FilterCriteria"].(map[string]any)["Filters"].([]any)
		if len(filters) != 2 {
			t.Fatalf("%s ESM has %d filters; want 2 (new leads, new mails of the outbox)", stage, len(filters))
		}
		for i, pattern := range []string{`{"eventName":["INSERT"],"dynamodb":{"Keys":{"sk":{"S":["LEAD"]}}}}`,
			`{"eventName":["INSERT"],"dynamodb":{"Keys":{"sk":{"S":[{"prefix":"MAIL#"}]}}}}`} {
			var got, want any
			if err := json.Unmarshal([]byte(filters[i].(map[string]any)["Pattern"].(string)), &got); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(pattern), &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s ESM filter %d = %v; want %v", stage, i, got, want)
			}
		}

		queue, _ := only(t, tpl, "AWS::SQS::Queue")
		checks := []struct {
			field string
			got   any
			want  any
		}{
			{"BatchSize", p["BatchSize"], 10.0},
			{"StartingPosition", p["StartingPosition"], "LATEST"},
			{"MaximumRetryAttempts", p["MaximumRetryAttempts"], 5.0},
			{"BisectBatchOnFunctionError", p["BisectBatchOnFunctionError"], true},
			{"FunctionResponseTypes", jsonString(p["FunctionResponseTypes"]), `["ReportBatchItemFailures"]`},
			{"MaximumRecordAgeInSeconds", p["MaximumRecordAgeInSeconds"], 6 * 3600.0},
			{"DestinationConfig", jsonString(p["DestinationConfig"]), `{"OnFailure":{"Destination":{"Fn::GetAtt":["` + queue + `","Arn"]}}}`},
		}
		for _, c := range checks {
			if !reflect.DeepEqual(c.got, c.want) {
				t.Errorf("%s ESM %s = %v; want %v", stage, c.field, c.got, c.want)
			}
		}
	}
}

func TestSweeper_schedule(t *testing.T) {
	for _, stage := range stageNames {
		tpl := stateless(t, stage)
		r := ruleTargeting(t, tpl, statelessFunction(t, stage, "sweeper"))
		p := props(r)
		if p["ScheduleExpression"] != "rate(1 hour)" {
			t.Errorf("%s sweeper ScheduleExpression = %v; want rate(1 hour)", stage, p["ScheduleExpression"])
		}
		targets := p["Targets"].([]any)
		if len(targets) != 1 {
			t.Fatalf("%s sweeper rule has %d targets; want 1", stage, len(targets))
		}
		target := targets[0].(map[string]any)
		if got := target["RetryPolicy"].(map[string]any)["MaximumRetryAttempts"]; got != 2.0 {
			t.Errorf("%s sweeper target MaximumRetryAttempts = %v; want 2", stage, got)
		}
		if target["DeadLetterConfig"] == nil {
			t.Errorf("%s sweeper target has no DeadLetterConfig", stage)
		}
	}
}

func TestFailureQueues(t *testing.T) {
	forEachTemplate(t, func(t *testing.T, key string, tpl cfnTemplate) {
		queues := tpl.resources("AWS::SQS::Queue")
		alarms := map[string]map[string]any{} // the queues' alarms; the operators' incident alarms are TestAlerts_incidentDeadlines'
		for lid, a := range tpl.resources("AWS::CloudWatch::Alarm") {
			if props(a)["Namespace"] == "AWS/SQS" {
				alarms[lid] = a
			}
		}
		if len(queues) != 1 || len(alarms) != 1 {
			t.Fatalf("%s has %d queues and %d alarms; want one DLQ with one alarm", key, len(queues), len(alarms))
		}
		for lid, q := range queues {
			p := props(q)
			if p["MessageRetentionPeriod"] != 14*86400.0 {
				t.Errorf("%s %s MessageRetentionPeriod = %v; want 14 days", key, lid, p["MessageRetentionPeriod"])
			}
			if p["SqsManagedSseEnabled"] != true && p["KmsMasterKeyId"] == nil {
				t.Errorf("%s %s is not encrypted", key, lid)
			}
			for _, a := range alarms {
				ap := props(a)
				got := []any{ap["MetricName"], ap["Threshold"], ap["ComparisonOperator"], jsonString(ap["Dimensions"])}
				want := []any{"ApproximateNumberOfMessagesVisible", 1.0, "GreaterThanOrEqualToThreshold",
					`[{"Name":"QueueName","Value":{"Fn::GetAtt":["` + lid + `","QueueName"]}}]`}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s DLQ alarm = %v; want %v", key, got, want)
				}
			}
		}
		for lid, qp := range tpl.resources("AWS::SQS::QueuePolicy") {
			if doc := jsonString(props(qp)["PolicyDocument"]); !strings.Contains(doc, `"aws:SecureTransport":"false"`) {
				t.Errorf("%s %s does not enforce TLS: %s", key, lid, doc)
			}
		}
	})
}

// statelessAPI returns the logical ID and resource of the HTTP API of a
// stage's stateless stack whose description ends with suffix.
func statelessAPI(t *testing.T, stage, suffix string) (string, map[string]any) {
	t.Helper()
	for lid, r := range stateless(t, stage).resources("AWS::ApiGatewayV2::Api") {
		if d, _ := props(r)["Description"].(string); strings.HasSuffix(d, suffix) {
			return lid, r
		}
	}
	t.Fatalf("%s/Stateless has no API described as ...%s", stage, suffix)
	return "", nil
}

func TestIntakeAPI(t *testing.T) {
	for _, stage := range stageNames {
		tpl := stateless(t, stage)
		apiLID, api := statelessAPI(t, stage, " public lead intake")
		onAPI := `{"Ref":"` + apiLID + `"}`
		_, route := onlyWhere(t, tpl, "AWS::ApiGatewayV2::Route", "ApiId", onAPI)
		if got := props(route)["RouteKey"]; got != "ANY "+stacks.SubmissionsPath {
			t.Errorf("%s RouteKey = %v; want ANY %s", stage, got, stacks.SubmissionsPath)
		}
		if props(api)["CorsConfiguration"] != nil {
			t.Errorf("%s API has CorsConfiguration; the function answers CORS itself", stage)
		}
		_, st := onlyWhere(t, tpl, "AWS::ApiGatewayV2::Stage", "ApiId", onAPI)
		p := props(st)
		if got := jsonString(p["DefaultRouteSettings"]); got != `{"ThrottlingBurstLimit":200,"ThrottlingRateLimit":100}` {
			t.Errorf("%s stage DefaultRouteSettings = %s; want burst 200, rate 100", stage, got)
		}
		als, _ := p["AccessLogSettings"].(map[string]any)
		format, _ := als["Format"].(string)
		var fields map[string]string
		if err := json.Unmarshal([]byte(format), &fields); err != nil {
			t.Fatalf("%s access log format %q is not JSON: %v", stage, format, err)
		}
		for _, k := range []string{"requestId", "routeKey", "status", "responseLength", "integrationLatency", "requestTime"} {
			if _, ok := fields[k]; !ok {
				t.Errorf("%s access log format lacks %s: %s", stage, k, format)
			}
		}
		// The visitor's IP address and user agent are personal data.
		for _, leak := range []string{"sourceIp", "userAgent", "identity"} {
			if strings.Contains(format, leak) {
				t.Errorf("%s access log format logs %s: %s", stage, leak, format)
			}
		}
		outputs, _ := tpl["Outputs"].(map[string]any)
		if _, ok := outputs["IntakeApiUrl"]; !ok {
			t.Errorf("%s has no IntakeApiUrl output; outputs: %v", stage, sortedKeys(outputs))
		}
	}
}
