package controlapi

import (
	"leadvault/shared/access"
)

// rule is who may use a route.
type rule int

const (
	// readData: controller staff; support staff too, masked unless under a grant (E9, M2, M3).
	readData rule = iota
	// writeLeads: controller staff; support staff only under a read-write grant.
	writeLeads
	// adminOnly: the tenant's admins: users, grants, forms and campaigns, the audit trail. Support
	// staff never reach these, grant or not, so they can never export (M5, S19).
	adminOnly
	// staffOnly: the tenant's own staff, admins and members; support staff never, grant or not (a
	// data-subject request is the controller's instruction, not the processor's).
	staffOnly
)

// refuse says why role may not use a route with rule r under decision d, or "" if it may.
func (r rule) refuse(role access.Role, d access.Decision) string {
	switch {
	case !d.Allowed:
		return "no access to the tenant"
	case r == adminOnly && role != access.Admin:
		return "admins only"
	case r == writeLeads && !d.Write:
		return "no write access"
	case r == staffOnly && role == access.Support:
		return "support staff do not handle data-subject requests"
	}
	return ""
}

// The audit actions. Targets are IDs (lead, form, campaign, user, grant) or hashes, never personal data.
const (
	ActionDenied         = "access.denied" // target: the route, e.g. "DELETE /v1/users/{userID}"
	ActionFormList       = "form.list"
	ActionFormRead       = "form.read"
	ActionFormCreate     = "form.create"
	ActionFormUpdate     = "form.update"
	ActionFormDisable    = "form.disable"
	ActionCampaignList   = "campaign.list"
	ActionCampaignRead   = "campaign.read"
	ActionCampaignCreate = "campaign.create"
	ActionCampaignRename = "campaign.rename"
	ActionCampaignDelete = "campaign.delete"
	ActionLeadList       = "lead.list"
	ActionLeadRead       = "lead.read"
	ActionLeadRectify    = "lead.rectify"
	ActionLeadDelete     = "lead.delete"
	ActionUserList       = "user.list"
	ActionUserInvite     = "user.invite"
	ActionUserRole       = "user.role"
	ActionUserRemove     = "user.remove"
	ActionGrantList      = "grant.list"
	ActionGrantCreate    = "grant.create"
	ActionGrantRevoke    = "grant.revoke"
	ActionAuditRead      = "audit.read"
	ActionAuditExport    = "audit.export"
	ActionAuditVerify    = "audit.verify"

	ActionSubjectRequestCreate    = "subject-request.create"   // targets: request:<id>, kind:<kind>
	ActionSubjectRequestList      = "subject-request.list"     // targets: request:<id> of each listed
	ActionSubjectRequestRead      = "subject-request.read"     // target: request:<id>
	ActionSubjectRequestDownload  = "subject-request.download" // targets: request:<id>, format:<json|csv>
	ActionSubjectRequestConfirm   = "subject-request.confirm"  // target: request:<id> (a relayed request)
	ActionSubjectRequestDecline   = "subject-request.decline"  // target: request:<id> (a relayed request)
	ActionRetentionReport         = "retention.report"         // targets: from:<date>, to:<date>
	ActionContractRead            = "contract.read"            // target: state:<state>
	ActionContractClose           = "contract.close"           // targets: deleteCampaigns:<bool>, campaign:<id> of each remaining
	ActionContractReturn          = "contract.return.download" // target: format:<json|csv>
	ActionBillingRead             = "billing.read"
	ActionMeasuresRead            = "measures.read"
	ActionSubprocessorsRead       = "subprocessors.read"
	ActionProcessingRecordRead    = "processing-record.read"
	ActionSubprocessorChanges     = "subprocessor.changes.read"   // targets: change:<id> of each listed
	ActionSubprocessorObjection   = "subprocessor.objection"      // target: change:<id>
	ActionTransferInstruction     = "transfer-instruction.create" // target: location:<region>
	ActionTransferInstructionList = "transfer-instruction.list"
	ActionIncidentList            = "incident.list" // targets: incident:<id> of each listed
	ActionIncidentRead            = "incident.read" // target: incident:<id>
)

type route struct {
	method, pattern string
	rule            rule
	// what completes "Your role may not …" in a refusal.
	what string
	fn   func(*call) error
	// whileEnded lets a route that changes something run after the tenant's contract has ended: deletions,
	// data-subject requests and closing the account. Reads always may.
	whileEnded bool
}

func (r *route) key() string {
	if r == nil {
		return ""
	}
	return r.method + " " + r.pattern
}

// routes is the API; docs/openapi.yaml describes each.
var routes = []route{
	{method: "GET", pattern: "/v1/forms", rule: readData, what: "list forms", fn: listForms},
	{method: "POST", pattern: "/v1/forms", rule: adminOnly, what: "create forms", fn: createForm},
	{method: "GET", pattern: "/v1/forms/{formID}", rule: readData, what: "read forms", fn: getForm},
	{method: "PUT", pattern: "/v1/forms/{formID}", rule: adminOnly, what: "change forms", fn: updateForm},
	{method: "POST", pattern: "/v1/forms/{formID}/disable", rule: adminOnly, what: "disable forms", fn: disableForm},

	{method: "GET", pattern: "/v1/campaigns", rule: readData, what: "list campaigns", fn: listCampaigns},
	{method: "POST", pattern: "/v1/campaigns", rule: adminOnly, what: "create campaigns", fn: createCampaign},
	{method: "GET", pattern: "/v1/campaigns/{campaignID}", rule: readData, what: "read campaigns", fn: getCampaign},
	{method: "PATCH", pattern: "/v1/campaigns/{campaignID}", rule: adminOnly, what: "rename campaigns", fn: renameCampaign},
	{method: "DELETE", pattern: "/v1/campaigns/{campaignID}", rule: adminOnly, what: "delete campaigns", fn: deleteCampaign, whileEnded: true},
	{method: "GET", pattern: "/v1/campaigns/{campaignID}/deletion", rule: readData, what: "read deletion jobs", fn: getDeletion},
	{method: "GET", pattern: "/v1/campaigns/{campaignID}/leads", rule: readData, what: "list leads", fn: listLeads},

	{method: "GET", pattern: "/v1/leads/{leadID}", rule: readData, what: "read leads", fn: getLead},
	{method: "PATCH", pattern: "/v1/leads/{leadID}", rule: writeLeads, what: "rectify leads", fn: rectifyLead},
	{method: "DELETE", pattern: "/v1/leads/{leadID}", rule: writeLeads, what: "delete leads", fn: deleteLead, whileEnded: true},

	{method: "GET", pattern: "/v1/users", rule: adminOnly, what: "list users", fn: listUsers},
	{method: "POST", pattern: "/v1/users", rule: adminOnly, what: "invite users", fn: inviteUser},
	{method: "PATCH", pattern: "/v1/users/{userID}", rule: adminOnly, what: "change users' roles", fn: changeRole},
	{method: "DELETE", pattern: "/v1/users/{userID}", rule: adminOnly, what: "remove users", fn: removeUser, whileEnded: true},

	{method: "GET", pattern: "/v1/access-grants", rule: adminOnly, what: "list access grants", fn: listGrants},
	{method: "POST", pattern: "/v1/access-grants", rule: adminOnly, what: "grant access", fn: createGrant},
	{method: "DELETE", pattern: "/v1/access-grants/{grantID}", rule: adminOnly, what: "revoke access grants", fn: revokeGrant, whileEnded: true},

	{method: "POST", pattern: "/v1/subject-requests", rule: staffOnly, what: "start data-subject requests", fn: createSubjectRequest, whileEnded: true},
	{method: "GET", pattern: "/v1/subject-requests", rule: staffOnly, what: "list data-subject requests", fn: listSubjectRequests},
	{method: "GET", pattern: "/v1/subject-requests/{requestID}", rule: staffOnly, what: "read data-subject requests", fn: getSubjectRequest},
	{method: "GET", pattern: "/v1/subject-requests/{requestID}/result", rule: staffOnly, what: "download data-subject archives", fn: downloadSubjectRequest},
	{method: "POST", pattern: "/v1/subject-requests/{requestID}/confirm", rule: adminOnly, what: "confirm relayed requests", fn: confirmSubjectRequest, whileEnded: true},
	{method: "POST", pattern: "/v1/subject-requests/{requestID}/decline", rule: adminOnly, what: "decline relayed requests", fn: declineSubjectRequest, whileEnded: true},

	{method: "GET", pattern: "/v1/retention/report", rule: adminOnly, what: "read the proof of deletion", fn: retentionReport},

	{method: "GET", pattern: "/v1/contract", rule: staffOnly, what: "read the contract", fn: getContract},
	{method: "POST", pattern: "/v1/contract/close", rule: adminOnly, what: "close the account", fn: closeContract, whileEnded: true},
	{method: "GET", pattern: "/v1/contract/return", rule: adminOnly, what: "download the return archive", fn: downloadReturnArchive},
	{method: "GET", pattern: "/v1/billing", rule: adminOnly, what: "read the billing records", fn: getBilling},

	{method: "GET", pattern: "/v1/measures", rule: readData, what: "read the measures", fn: getMeasures},
	{method: "GET", pattern: "/v1/subprocessors", rule: readData, what: "read the sub-processors", fn: getSubprocessors},
	{method: "GET", pattern: "/v1/subprocessors/changes", rule: readData, what: "read the planned sub-processor changes", fn: listSubprocessorChanges},
	{method: "POST", pattern: "/v1/subprocessors/changes/{changeID}/objections", rule: adminOnly, what: "object to sub-processor changes", fn: objectToChange},
	{method: "GET", pattern: "/v1/transfer-instructions", rule: adminOnly, what: "read transfer instructions", fn: listTransferInstructions},
	{method: "POST", pattern: "/v1/transfer-instructions", rule: adminOnly, what: "instruct transfers outside the EU", fn: recordTransferInstruction},
	{method: "GET", pattern: "/v1/incidents", rule: adminOnly, what: "read breach incidents", fn: listIncidents},
	{method: "GET", pattern: "/v1/incidents/{incidentID}", rule: adminOnly, what: "read breach incidents", fn: getIncident},
	{method: "GET", pattern: "/v1/records/processing", rule: adminOnly, what: "read the record of processing", fn: getProcessingRecord},

	{method: "GET", pattern: "/v1/audit", rule: adminOnly, what: "read the audit trail", fn: listAudit},
	{method: "GET", pattern: "/v1/audit/export", rule: adminOnly, what: "export the audit trail", fn: exportAudit},
	{method: "GET", pattern: "/v1/audit/verify", rule: adminOnly, what: "verify the audit trail", fn: verifyAudit},
}
