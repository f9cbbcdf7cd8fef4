package posture

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Subprocessor is an entry of the register of sub-processors (Art. 28(2), (4); obligations S4/E13): who
// processes personal data for Leadvault, what for, which data, where, since when.
type Subprocessor struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	// Service says what the sub-processor does for Leadvault; Services names what of it is used.
	Service  string   `json:"service"`
	Services []string `json:"services"`
	Data     string   `json:"data"`
	// Locations are the regions where the data is processed; all are in the EU.
	Locations []string `json:"locations"`
	Since     string   `json:"since"`
	// Namespaces are the CloudFormation resource namespaces of the stacks that belong to this
	// sub-processor; a test checks that every namespace the stacks use is here.
	Namespaces []string `json:"-"`
}

// Processor is Leadvault's operator as the record of processing and the notices name it.
var Processor = struct {
	Name, Address, Contact, DPO string
}{
	Name:    "Leadvault ApS (data processor)",
	Address: "Copenhagen, Denmark",
	Contact: "privacy@leadvault.example",
	DPO:     "dpo@leadvault.example",
}

// Subprocessors is the register. Leadvault calls no service outside AWS.
func Subprocessors() []Subprocessor {
	return []Subprocessor{{
		Name:    "Amazon Web Services EMEA SARL",
		Address: "38 Avenue John F. Kennedy, L-1855 Luxembourg",
		Service: "Cloud infrastructure: hosting, storage, encryption keys, e-mail sending and receiving, identity, backups, logs",
		Services: []string{"AWS Lambda", "Amazon API Gateway", "Amazon DynamoDB", "AWS KMS", "Amazon S3", "Amazon SES (sending and receiving)",
			"Amazon EventBridge", "Amazon SQS", "Amazon CloudWatch (logs, metrics, alarms)", "Amazon SNS (operators' alerts)", "Amazon Cognito", "AWS Backup", "AWS X-Ray", "AWS IAM"},
		Data: "All personal data Leadvault processes for its controllers: leads (contact data, messages, consent), " +
			"mail to and from them, controller staff accounts, audit records; stored encrypted under Leadvault's keys",
		Locations:  append([]string{Region + " (Stockholm, Sweden)"}, inboundLocations()...),
		Since:      "2026-11-01",
		Namespaces: []string{"Lambda", "ApiGatewayV2", "DynamoDB", "KMS", "S3", "SES", "Events", "SQS", "Logs", "CloudWatch", "SNS", "Cognito", "Backup", "IAM"},
	}}
}

func inboundLocations() []string {
	var out []string
	for _, r := range InboundRegions {
		if r != Region {
			out = append(out, r+" (inbound mail only, EU)")
		}
	}
	return out
}

// SubprocessorsJSON is the register as the public JSON document (docs/subprocessors.json).
func SubprocessorsJSON() string {
	b, err := json.MarshalIndent(map[string]any{"processor": Processor.Name, "subprocessors": Subprocessors()}, "", "  ")
	if err != nil {
		panic(fmt.Sprintf("subprocessors: %v", err)) // static data of known types
	}
	return string(b) + "\n"
}

// EULocation reports whether a region is in the EU.
func EULocation(region string) bool { return strings.HasPrefix(region, "eu-") }
