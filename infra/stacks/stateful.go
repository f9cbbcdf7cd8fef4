package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// StatefulStackProps configures NewStatefulStack.
type StatefulStackProps struct {
	awscdk.StackProps
}

// StatefulStack holds everything that must survive a redeploy: the data key,
// the leads table, the sent-mail buckets and the mail delivery evidence.
// Its resources are retained when the stack is deleted.
type StatefulStack struct {
	awscdk.Stack
	Data *Data
	Mail *Mail
}

// NewStatefulStack creates the stateful stack.
func NewStatefulStack(scope constructs.Construct, id string, props *StatefulStackProps) *StatefulStack {
	var sp awscdk.StackProps
	if props != nil {
		sp = props.StackProps
	}
	stack := awscdk.NewStack(scope, jsii.String(id), &sp)
	s := &StatefulStack{
		Stack: stack,
		Data:  NewData(stack, "Data", nil),
		Mail:  NewMail(stack, "Mail", nil),
	}
	// The operators' CLI (infra/ops) needs these to onboard tenants and forms.
	for name, out := range map[string]struct{ value, description string }{
		"TableName":      {*s.Data.Table.TableName(), "LEADVAULT_TABLE for infra/ops"},
		"DataKeyArn":     {*s.Data.Key.KeyArn(), "LEADVAULT_KEY_ID for infra/ops"},
		"SentMailBucket": {*s.Data.SentMailBucket.BucketName(), "where copies of sent notifications live for at most 24 hours"},
	} {
		awscdk.NewCfnOutput(stack, jsii.String(name), &awscdk.CfnOutputProps{
			Value: jsii.String(out.value), Description: jsii.String(out.description),
		})
	}
	return s
}
