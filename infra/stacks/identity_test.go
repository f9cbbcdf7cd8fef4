package stacks_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"leadvault/infra/stacks"
)

func TestIdentity_stableLogicalIDsAndRetain(t *testing.T) {
	tests := []struct {
		lid, typ string
		retain   bool
	}{
		{stacks.LogicalIDUserPool, "AWS::Cognito::UserPool", true},
		{stacks.LogicalIDUserPoolClient, "AWS::Cognito::UserPoolClient", false},
	}
	for _, g := range stacks.UserPoolGroups {
		// A replaced or deleted group loses its members, i.e. their roles.
		tests = append(tests, struct {
			lid, typ string
			retain   bool
		}{g.LogicalID, "AWS::Cognito::UserPoolGroup", true})
	}
	for _, stage := range stageNames {
		for _, tt := range tests {
			t.Run(stage+"_"+tt.lid, func(t *testing.T) {
				r := statefulResource(t, stage, tt.lid)
				if r["Type"] != tt.typ {
					t.Errorf("%s Type = %v; want %s", tt.lid, r["Type"], tt.typ)
				}
				if !tt.retain {
					return
				}
				for _, policy := range []string{"DeletionPolicy", "UpdateReplacePolicy"} {
					if r[policy] != "Retain" {
						t.Errorf("%s %s = %v; want Retain", tt.lid, policy, r[policy])
					}
				}
			})
		}
		if n := len(getFixture(t).templates[stage+"/Stateful"].resources("AWS::Cognito::UserPool")); n != 1 {
			t.Errorf("%s/Stateful has %d user pools; want 1", stage, n)
		}
	}
}

func TestUserPool_properties(t *testing.T) {
	for _, stage := range stageNames {
		p := props(statefulResource(t, stage, stacks.LogicalIDUserPool))
		tests := []struct {
			field string
			got   string
			want  string
		}{
			{"AdminCreateUserConfig", jsonString(p["AdminCreateUserConfig"]), `{"AllowAdminCreateUserOnly":true}`},
			{"UsernameAttributes", jsonString(p["UsernameAttributes"]), `["email"]`},
			{"AliasAttributes", jsonString(p["AliasAttributes"]), `null`},
			{"AutoVerifiedAttributes", jsonString(p["AutoVerifiedAttributes"]), `["email"]`},
			{"UserAttributeUpdateSettings", jsonString(p["UserAttributeUpdateSettings"]), `{"AttributesRequireVerificationBeforeUpdate":["email"]}`},
			{"MfaConfiguration", jsonString(p["MfaConfiguration"]), `"OPTIONAL"`},
			// TOTP only: no SMS (and so no SMS role), no e-mail OTP.
			{"EnabledMfas", jsonString(p["EnabledMfas"]), `["SOFTWARE_TOKEN_MFA"]`},
			{"SmsConfiguration", jsonString(p["SmsConfiguration"]), `null`},
			{"PasswordPolicy", jsonString(p["Policies"]), `{"PasswordPolicy":{"MinimumLength":12,"RequireLowercase":true,` +
				`"RequireNumbers":true,"RequireSymbols":true,"RequireUppercase":true,"TemporaryPasswordValidityDays":3}}`},
			{"AccountRecoverySetting", jsonString(p["AccountRecoverySetting"]), `{"RecoveryMechanisms":[{"Name":"verified_email","Priority":1}]}`},
			// Threat protection: the PLUS plan with standard threat protection FULL_FUNCTION renders as ENFORCED.
			{"UserPoolTier", jsonString(p["UserPoolTier"]), `"PLUS"`},
			{"UserPoolAddOns", jsonString(p["UserPoolAddOns"]), `{"AdvancedSecurityMode":"ENFORCED"}`},
			{"DeletionProtection", jsonString(p["DeletionProtection"]), `"ACTIVE"`},
			{"Schema", jsonString(p["Schema"]), `[{"Mutable":true,"Name":"email","Required":true},` +
				`{"AttributeDataType":"String","Mutable":false,"Name":"` + stacks.TenantAttribute + `","StringAttributeConstraints":{"MaxLength":"64","MinLength":"1"}}]`},
			// Generated, like every other name in the stage.
			{"UserPoolName", jsonString(p["UserPoolName"]), `null`},
			// LambdaConfig: see TestUserPool_preTokenGenerationTrigger.
		}
		for _, tt := range tests {
			t.Run(stage+"_"+tt.field, func(t *testing.T) {
				if tt.got != tt.want {
					t.Errorf("UserPool %s = %s; want %s", tt.field, tt.got, tt.want)
				}
			})
		}
	}
}

// TestUserPool_preTokenGenerationTrigger checks that access tokens carry the
// tenant: the controller API's authorizer takes access tokens, and Cognito
// puts custom attributes into them only through a V2_0 trigger.
func TestUserPool_preTokenGenerationTrigger(t *testing.T) {
	for _, stage := range stageNames {
		key := stage + "/Stateful"
		tpl := getFixture(t).templates[key]
		fnLID := functionLID(t, key, tpl, "tokenclaims")
		fn := props(tpl.resources("AWS::Lambda::Function")[fnLID])
		pool := props(statefulResource(t, stage, stacks.LogicalIDUserPool))
		// Granted to the function (by ARN or name), so one grant per trigger.
		var perms []map[string]any
		for _, r := range tpl.resources("AWS::Lambda::Permission") {
			if strings.Contains(jsonString(props(r)["FunctionName"]), `"`+fnLID+`"`) {
				perms = append(perms, props(r))
			}
		}
		if len(perms) != 1 {
			t.Fatalf("%s has %d Lambda permissions on the tokenclaims function; want 1 (Cognito's)", key, len(perms))
		}
		perm := perms[0]
		tests := []struct {
			field, got, want string
		}{
			// Exactly this trigger, in V2_0: V1_0 (or the legacy
			// PreTokenGeneration field) would reach ID tokens only.
			{"UserPool.LambdaConfig", jsonString(pool["LambdaConfig"]),
				`{"PreTokenGenerationConfig":{"LambdaArn":` + getAtt(fnLID, "Arn") + `,"LambdaVersion":"V2_0"}}`},
			{"Permission.FunctionName", jsonString(perm["FunctionName"]), getAtt(fnLID, "Arn")},
			{"Permission.Action", jsonString(perm["Action"]), `"lambda:InvokeFunction"`},
			{"Permission.Principal", jsonString(perm["Principal"]), `"cognito-idp.amazonaws.com"`},
			// This pool only: no other pool (of any account) may invoke it.
			{"Permission.SourceArn", jsonString(perm["SourceArn"]), getAtt(stacks.LogicalIDUserPool, "Arn")},
			{"Function.Environment", jsonString(fn["Environment"]), `{"Variables":{"LEADVAULT_STAGE":"` + stage + `"}}`},
			{"Function.MemorySize", jsonString(fn["MemorySize"]), `128`},
			// Cognito gives a trigger 5 s.
			{"Function.Timeout", jsonString(fn["Timeout"]), `5`},
			// Invoked synchronously: a DLQ would never receive anything.
			{"Function.DeadLetterConfig", jsonString(fn["DeadLetterConfig"]), `null`},
		}
		for _, tt := range tests {
			t.Run(stage+"_"+tt.field, func(t *testing.T) {
				if tt.got != tt.want {
					t.Errorf("%s = %s; want %s", tt.field, tt.got, tt.want)
				}
			})
		}
		t.Run(stage+"_Role", func(t *testing.T) {
			// The trigger reads only the event Cognito passes it: no data
			// access, Allow or Deny (it is not granted the table, so it has
			// no audit-trail Deny either), and no user pool actions.
			var actions []string
			for _, s := range roleStatements(t, key, tpl, fnLID) {
				for _, a := range stringList(s["Action"]) {
					actions = append(actions, jsonString(s["Effect"])+" "+a)
					for _, svc := range []string{"dynamodb:", "kms:", "s3:", "ses:", "cognito-idp:"} {
						if strings.HasPrefix(a, svc) {
							t.Errorf("tokenclaims role has %s %s; want no %s action", s["Effect"], a, svc)
						}
					}
				}
			}
			slices.Sort(actions)
			want := []string{`"Allow" logs:CreateLogStream`, `"Allow" logs:PutLogEvents`,
				`"Allow" xray:PutTelemetryRecords`, `"Allow" xray:PutTraceSegments`}
			if !reflect.DeepEqual(actions, want) {
				t.Errorf("tokenclaims role actions = %q; want %q", actions, want)
			}
		})
	}
}

func TestUserPoolGroups_rolesWithDescriptions(t *testing.T) {
	want := map[string]string{"admin": "UserPoolGroupAdmin", "member": "UserPoolGroupMember", "support": "UserPoolGroupSupport"}
	for _, stage := range stageNames {
		groups := getFixture(t).templates[stage+"/Stateful"].resources("AWS::Cognito::UserPoolGroup")
		got := map[string]string{}
		for lid, r := range groups {
			p := props(r)
			name, _ := p["GroupName"].(string)
			got[name] = lid
			if d, _ := p["Description"].(string); d == "" {
				t.Errorf("%s group %s has no Description", stage, name)
			}
			if ref := jsonString(p["UserPoolId"]); ref != `{"Ref":"`+stacks.LogicalIDUserPool+`"}` {
				t.Errorf("%s group %s UserPoolId = %s; want the user pool", stage, name, ref)
			}
			if p["Precedence"] != nil || p["RoleArn"] != nil {
				t.Errorf("%s group %s has Precedence or RoleArn; roles come from shared/access, not IAM", stage, name)
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s groups = %v; want %v", stage, got, want)
		}
	}
}

func TestUserPoolClient_properties(t *testing.T) {
	for _, stage := range stageNames {
		p := props(statefulResource(t, stage, stacks.LogicalIDUserPoolClient))
		tests := []struct {
			field string
			got   string
			want  string
		}{
			{"UserPoolId", jsonString(p["UserPoolId"]), `{"Ref":"` + stacks.LogicalIDUserPool + `"}`},
			{"GenerateSecret", jsonString(p["GenerateSecret"]), `false`},
			{"ExplicitAuthFlows", jsonString(p["ExplicitAuthFlows"]), `["ALLOW_USER_SRP_AUTH","ALLOW_REFRESH_TOKEN_AUTH"]`},
			{"AllowedOAuthFlowsUserPoolClient", jsonString(p["AllowedOAuthFlowsUserPoolClient"]), `false`},
			{"CallbackURLs", jsonString(p["CallbackURLs"]), `null`},
			{"PreventUserExistenceErrors", jsonString(p["PreventUserExistenceErrors"]), `"ENABLED"`},
			{"EnableTokenRevocation", jsonString(p["EnableTokenRevocation"]), `true`},
			{"AccessTokenValidity", jsonString(p["AccessTokenValidity"]), `15`},
			{"IdTokenValidity", jsonString(p["IdTokenValidity"]), `15`},
			{"RefreshTokenValidity", jsonString(p["RefreshTokenValidity"]), `720`}, // 12 hours in minutes
			{"TokenValidityUnits", jsonString(p["TokenValidityUnits"]), `{"AccessToken":"minutes","IdToken":"minutes","RefreshToken":"minutes"}`},
			{"ReadAttributes", jsonString(p["ReadAttributes"]), `["custom:tenant_id","email","email_verified"]`},
			{"WriteAttributes", jsonString(p["WriteAttributes"]), `["email"]`},
		}
		for _, tt := range tests {
			t.Run(stage+"_"+tt.field, func(t *testing.T) {
				if tt.got != tt.want {
					t.Errorf("UserPoolClient %s = %s; want %s", tt.field, tt.got, tt.want)
				}
			})
		}
		// The point of the write attributes: users cannot move to another tenant.
		write := stringList(p["WriteAttributes"])
		if len(write) == 0 || slices.Contains(write, "custom:"+stacks.TenantAttribute) {
			t.Errorf("%s client WriteAttributes = %v; want a list without custom:%s (an absent list means all are writable)",
				stage, write, stacks.TenantAttribute)
		}
	}
}

func TestStatefulOutputs_identity(t *testing.T) {
	for _, stage := range stageNames {
		outputs, _ := getFixture(t).templates[stage+"/Stateful"]["Outputs"].(map[string]any)
		for name, want := range map[string]string{
			"UserPoolId":       `{"Ref":"` + stacks.LogicalIDUserPool + `"}`,
			"UserPoolClientId": `{"Ref":"` + stacks.LogicalIDUserPoolClient + `"}`,
		} {
			o, _ := outputs[name].(map[string]any)
			if got := jsonString(o["Value"]); got != want {
				t.Errorf("%s/Stateful output %s = %s; want %s", stage, name, got, want)
			}
		}
	}
}
