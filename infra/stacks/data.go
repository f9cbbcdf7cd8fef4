package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"leadvault/shared/domain"
	"leadvault/shared/layout"
	"leadvault/shared/posture"
	"leadvault/shared/store"
)

// Stable CloudFormation logical IDs of the stateful resources. Changing one
// makes CloudFormation create a new resource, and the retained old one would be
// orphaned with its data, so tests pin them.
const (
	LogicalIDDataKey          = "DataKey"
	LogicalIDLeadsTable       = "LeadsTable"
	LogicalIDSentMailBucket   = "SentMailBucket"
	LogicalIDAccessLogsBucket = "AccessLogsBucket"
	LogicalIDExportsBucket    = "ExportsBucket"
)

// TTLAttribute is the table attribute holding an item's expiry (epoch seconds).
// The table's keys and indexes come from shared/store, which reads and writes
// them, so the deployed table and the code cannot drift apart.
const TTLAttribute = store.AttrExpiresAt

// SentMailExpiry is how long S3 keeps a sent-mail copy (obligation E11: sent
// e-mails are deleted every 24 hours; the sweeper deletes them on the hour,
// the lifecycle rule is the backstop).
const SentMailExpiry = 1 // days

// DataProps configures NewData. It is empty today; it exists so callers need
// not change when options are added.
type DataProps struct{}

// Data holds the personal-data stores of one stage. Everything in it is
// retained when the stack is deleted.
type Data struct {
	constructs.Construct
	// Key encrypts the table, the sent-mail bucket and application fields.
	Key awskms.Key
	// Table holds leads, forms and the notification recipient log.
	Table awsdynamodb.Table
	// SentMailBucket holds copies of sent notifications for at most a day.
	SentMailBucket awss3.Bucket
	// ExportsBucket holds the archives of access and export requests for at
	// most a week (the sweeper deletes them after 7 days).
	ExportsBucket awss3.Bucket
	// AccessLogsBucket receives the buckets' server access logs.
	AccessLogsBucket awss3.Bucket
}

// ExportsExpiry is the lifecycle backstop of the exports bucket, a day after
// the sweeper deletes an archive (layout.ExportMaxAge).
const ExportsExpiry = 8 // days

// ReturnArchiveExpiry is the lifecycle backstop of return archives: a day after
// the longest grace period, by which the tenant's purge has deleted them.
const ReturnArchiveExpiry = domain.MaxGraceDays + 1 // days

// NewData creates the customer-managed key, the leads table and the sent-mail
// bucket with its access-log bucket.
func NewData(scope constructs.Construct, id string, _ *DataProps) *Data {
	c := constructs.NewConstruct(scope, jsii.String(id))
	d := &Data{Construct: c}

	d.Key = awskms.NewKey(c, jsii.String("Key"), &awskms.KeyProps{
		Description:       jsii.String("Leadvault data key: leads table, sent-mail copies and application-level field encryption"),
		EnableKeyRotation: jsii.Bool(posture.KeyRotation),
		// The alias name derives from the (generated) stack name, so stages never collide.
		Alias:         jsii.String("alias/" + *awscdk.Stack_Of(c).StackName() + "-data"),
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	overrideLogicalID(d.Key, LogicalIDDataKey)

	d.Table = awsdynamodb.NewTable(c, jsii.String("Table"), &awsdynamodb.TableProps{
		PartitionKey:        &awsdynamodb.Attribute{Name: jsii.String(store.AttrPK), Type: awsdynamodb.AttributeType_STRING},
		SortKey:             &awsdynamodb.Attribute{Name: jsii.String(store.AttrSK), Type: awsdynamodb.AttributeType_STRING},
		BillingMode:         awsdynamodb.BillingMode_PAY_PER_REQUEST,
		TimeToLiveAttribute: jsii.String(TTLAttribute),
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
			RecoveryPeriodInDays:       jsii.Number(posture.PITRWindowDays),
		},
		DeletionProtection: jsii.Bool(true),
		Encryption:         awsdynamodb.TableEncryption_CUSTOMER_MANAGED,
		EncryptionKey:      d.Key,
		// Keys only: the notifier re-reads the lead, so no personal data sits in the stream.
		Stream:        awsdynamodb.StreamViewType_KEYS_ONLY,
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	for _, ix := range store.Indexes {
		projection := awsdynamodb.ProjectionType_ALL
		var include *[]*string
		switch {
		case ix.KeysOnly:
			projection = awsdynamodb.ProjectionType_KEYS_ONLY
		case len(ix.Include) > 0:
			projection, include = awsdynamodb.ProjectionType_INCLUDE, jsii.Strings(ix.Include...)
		}
		d.Table.AddGlobalSecondaryIndex(&awsdynamodb.GlobalSecondaryIndexProps{
			IndexName:        jsii.String(ix.Name),
			PartitionKey:     &awsdynamodb.Attribute{Name: jsii.String(ix.PartitionKey), Type: awsdynamodb.AttributeType_STRING},
			SortKey:          &awsdynamodb.Attribute{Name: jsii.String(ix.SortKey), Type: awsdynamodb.AttributeType_STRING},
			ProjectionType:   projection,
			NonKeyAttributes: include,
		})
	}
	overrideLogicalID(d.Table, LogicalIDLeadsTable)

	d.AccessLogsBucket = newAccessLogsBucket(c, "AccessLogs", LogicalIDAccessLogsBucket)

	d.SentMailBucket = awss3.NewBucket(c, jsii.String("SentMail"), &awss3.BucketProps{
		Encryption:        awss3.BucketEncryption_KMS,
		EncryptionKey:     d.Key,
		BucketKeyEnabled:  jsii.Bool(true),
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:        jsii.Bool(true),
		MinimumTLSVersion: jsii.Number(posture.TLSMinimum),
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		// No versioning: a deleted copy must be gone, not kept as a noncurrent version.
		Versioned: jsii.Bool(false),
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Id:                                  jsii.String("expire-sent-mail"),
			Expiration:                          awscdk.Duration_Days(jsii.Number(SentMailExpiry)),
			AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(1)),
		}},
		ServerAccessLogsBucket: d.AccessLogsBucket,
		ServerAccessLogsPrefix: jsii.String("sent-mail/"),
		RemovalPolicy:          awscdk.RemovalPolicy_RETAIN,
	})
	overrideLogicalID(d.SentMailBucket, LogicalIDSentMailBucket)

	d.ExportsBucket = awss3.NewBucket(c, jsii.String("Exports"), &awss3.BucketProps{
		Encryption:        awss3.BucketEncryption_KMS,
		EncryptionKey:     d.Key,
		BucketKeyEnabled:  jsii.Bool(true),
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:        jsii.Bool(true),
		MinimumTLSVersion: jsii.Number(posture.TLSMinimum),
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		// No versioning: an archive the sweeper deletes must be gone.
		Versioned: jsii.Bool(false),
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Id:                                  jsii.String("expire-exports"),
			Prefix:                              jsii.String(layout.ExportPrefix),
			Expiration:                          awscdk.Duration_Days(jsii.Number(ExportsExpiry)),
			AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(1)),
		}, {
			// A tenant's return archive lives through its grace period; its purge deletes it.
			Id:                                  jsii.String("expire-contract-returns"),
			Prefix:                              jsii.String(layout.ReturnPrefix),
			Expiration:                          awscdk.Duration_Days(jsii.Number(ReturnArchiveExpiry)),
			AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(1)),
		}},
		ServerAccessLogsBucket: d.AccessLogsBucket,
		ServerAccessLogsPrefix: jsii.String("exports/"),
		RemovalPolicy:          awscdk.RemovalPolicy_RETAIN,
	})
	overrideLogicalID(d.ExportsBucket, LogicalIDExportsBucket)
	return d
}

// TableArns returns the ARNs of the table and of each of its indexes, spelled
// out so that no policy needs an index/* wildcard.
func (d *Data) TableArns() *[]*string {
	arns := []*string{d.Table.TableArn()}
	for _, ix := range store.Indexes {
		arns = append(arns, awscdk.Fn_Join(jsii.String(""), &[]*string{d.Table.TableArn(), jsii.String("/index/" + ix.Name)}))
	}
	return &arns
}

// newAccessLogsBucket creates a retained bucket for S3 server access logs
// with the stable logical ID logicalID. Logs are kept for 90 days.
func newAccessLogsBucket(scope constructs.Construct, id, logicalID string) awss3.Bucket {
	b := awss3.NewBucket(scope, jsii.String(id), &awss3.BucketProps{
		// S3 server access log delivery cannot write to SSE-KMS buckets.
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:        jsii.Bool(true),
		MinimumTLSVersion: jsii.Number(posture.TLSMinimum),
		// Log delivery is authorised by bucket policy, so ACLs stay disabled.
		ObjectOwnership: awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Id:         jsii.String("expire-access-logs"),
			Expiration: awscdk.Duration_Days(jsii.Number(90)),
		}},
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	overrideLogicalID(b, logicalID)
	return b
}

// overrideLogicalID pins the logical ID of c's CloudFormation resource.
func overrideLogicalID(c constructs.IConstruct, id string) {
	c.Node().DefaultChild().(awscdk.CfnResource).OverrideLogicalId(jsii.String(id))
}
