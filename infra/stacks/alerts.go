package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"leadvault/shared/jobs"
	"leadvault/shared/metrics"
)

// IncidentWatchMinutes is how often the jobs function checks breach notices' deadlines: well inside the
// 2 hours' warning.
const IncidentWatchMinutes = 10

// The metrics the jobs function emits for breach notices, on which the alarms mail the operators.
const (
	MetricIncidentDueSoon = jobs.MetricIncidentDueSoon
	MetricIncidentLate    = jobs.MetricIncidentLate
)

// AlertsProps configures NewAlerts.
type AlertsProps struct {
	Jobs     *Jobs
	Failures *FailureQueue
	// Email receives the alerts; empty leaves the topic without a subscription.
	Email string
}

// Alerts warns the operators: a schedule has the jobs function check every open incident's notice
// deadlines, and alarms on its metrics (a notice due within 2 hours, a notice late) mail the operators
// through an SNS topic.
type Alerts struct {
	constructs.Construct
	Topic                   awssns.Topic
	Rule                    awsevents.Rule
	DueSoonAlarm, LateAlarm awscloudwatch.Alarm
}

// NewAlerts creates the deadline schedule, the alarms and the operators' topic.
func NewAlerts(scope constructs.Construct, id string, props *AlertsProps) *Alerts {
	c := constructs.NewConstruct(scope, jsii.String(id))
	a := &Alerts{Construct: c}
	a.Topic = awssns.NewTopic(c, jsii.String("Topic"), &awssns.TopicProps{
		DisplayName: jsii.String("Leadvault operator alerts"),
		MasterKey:   awskms.Alias_FromAliasName(c, jsii.String("SnsKey"), jsii.String("alias/aws/sns")),
		EnforceSSL:  jsii.Bool(true),
	})
	if props.Email != "" {
		a.Topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(props.Email), nil))
	}
	a.Rule = awsevents.NewRule(c, jsii.String("IncidentDeadlines"), &awsevents.RuleProps{
		Description: jsii.String("Has the Leadvault jobs function check breach notices' deadlines (due within 2 hours, late)"),
		Schedule:    awsevents.Schedule_Rate(awscdk.Duration_Minutes(jsii.Number(IncidentWatchMinutes))),
	})
	a.Rule.AddTarget(awseventstargets.NewLambdaFunction(props.Jobs.Function, &awseventstargets.LambdaFunctionProps{
		Event:           awsevents.RuleTargetInput_FromObject(map[string]any{"task": jobs.TaskIncidentDeadlines}),
		RetryAttempts:   jsii.Number(2),
		DeadLetterQueue: props.Failures.Queue,
		MaxEventAge:     awscdk.Duration_Minutes(jsii.Number(IncidentWatchMinutes)),
	}))
	alarm := func(id, metric, description string) awscloudwatch.Alarm {
		al := awscloudwatch.NewAlarm(c, jsii.String(id), &awscloudwatch.AlarmProps{
			AlarmDescription: jsii.String(description),
			Metric: awscloudwatch.NewMetric(&awscloudwatch.MetricProps{Namespace: jsii.String(metrics.Namespace), MetricName: jsii.String(metric),
				Period: awscdk.Duration_Minutes(jsii.Number(IncidentWatchMinutes)), Statistic: jsii.String("Maximum")}),
			Threshold:          jsii.Number(1),
			EvaluationPeriods:  jsii.Number(1),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		al.AddAlarmAction(awscloudwatchactions.NewSnsAction(a.Topic))
		return al
	}
	a.DueSoonAlarm = alarm("IncidentNoticeDueSoon", MetricIncidentDueSoon,
		"A breach notice to a controller is due within 2 hours (initial 24 h, detailed 36 h after discovery): ops incident list")
	a.LateAlarm = alarm("IncidentNoticeLate", MetricIncidentLate,
		"A breach notice to a controller is LATE: send it now (ops incident notice) and tell the controllers")
	return a
}
