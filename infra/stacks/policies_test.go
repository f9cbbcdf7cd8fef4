package stacks_test

import (
	"strings"
	"testing"
)

// wildcardAllowed lists the only actions of these services that may have
// Resource "*", each because AWS offers no resource-level permission for it.
var wildcardAllowed = map[string]string{
	// Required by the Lambda stream event source; it lists stream ARNs and
	// reads no data. https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazondynamodb.html
	"dynamodb:ListStreams": "no resource-level permissions",
}

// dataServices are the services whose actions must never apply to Resource "*".
var dataServices = []string{"dynamodb:", "s3:", "kms:", "ses:"}

// identityStatements returns every statement of the template's identity-based
// policies (IAM policies, inline role policies, managed policies), keyed by a
// description of where it is. Resource policies (key, bucket, queue, log
// group) are excluded: there "*" means the resource itself.
func identityStatements(tpl cfnTemplate) map[string][]map[string]any {
	out := map[string][]map[string]any{}
	add := func(where string, doc any) {
		d, _ := doc.(map[string]any)
		switch st := d["Statement"].(type) {
		case []any:
			for _, s := range st {
				if m, ok := s.(map[string]any); ok {
					out[where] = append(out[where], m)
				}
			}
		case map[string]any:
			out[where] = append(out[where], st)
		}
	}
	for lid, r := range tpl.resources("") {
		p := props(r)
		switch r["Type"] {
		case "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy":
			add(lid, p["PolicyDocument"])
		case "AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group":
			pols, _ := p["Policies"].([]any)
			for _, pol := range pols {
				add(lid+" inline", pol.(map[string]any)["PolicyDocument"])
			}
		}
	}
	return out
}

// stringList returns v (a string or a list of strings) as a list.
func stringList(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func TestPolicies_noWildcardDataActions(t *testing.T) {
	forEachTemplate(t, func(t *testing.T, key string, tpl cfnTemplate) {
		for where, statements := range identityStatements(tpl) {
			for _, s := range statements {
				if s["Effect"] != "Allow" {
					continue
				}
				star := false
				for _, r := range stringList(s["Resource"]) {
					star = star || r == "*"
				}
				for _, a := range stringList(s["Action"]) {
					if a == "*" || strings.HasSuffix(a, ":*") {
						t.Errorf("%s %s allows wildcard action %q", key, where, a)
					}
					if !star {
						continue
					}
					for _, svc := range dataServices {
						if _, ok := wildcardAllowed[a]; strings.HasPrefix(a, svc) && !ok {
							t.Errorf("%s %s allows %q on Resource \"*\"", key, where, a)
						}
					}
				}
			}
		}
	})
}

func TestPolicies_noFullAccessManagedPolicies(t *testing.T) {
	forEachTemplate(t, func(t *testing.T, key string, tpl cfnTemplate) {
		for lid, r := range tpl.resources("") {
			for _, field := range []string{"ManagedPolicyArns", "PolicyArns"} {
				if arns := jsonString(props(r)[field]); strings.Contains(arns, "FullAccess") {
					t.Errorf("%s %s %s = %s; want no *FullAccess policy", key, lid, field, arns)
				}
			}
		}
	})
}

func TestPolicies_awsManagedPoliciesAbsent(t *testing.T) {
	// The functions' roles are explicit, so not even AWSLambdaBasicExecutionRole
	// (logging to every log group) is attached.
	forEachTemplate(t, func(t *testing.T, key string, tpl cfnTemplate) {
		for lid, r := range tpl.resources("AWS::IAM::Role") {
			if arns := props(r)["ManagedPolicyArns"]; arns != nil {
				t.Errorf("%s role %s ManagedPolicyArns = %s; want none", key, lid, jsonString(arns))
			}
		}
	})
}
