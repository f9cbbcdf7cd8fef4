package standins

// What works through the router (verified by the tests below, DynamoDB Local 3.3.1, local-kms
// e4d9425700fe, gofakes3 v1.2.0 on s3Disk, aws-ses-v2-local 2.10.2):
//   - DynamoDB: CreateTable with a GSI, PAY_PER_REQUEST and a KEYS_ONLY stream, the TableExists waiter,
//     Update/DescribeTimeToLive, Put/Get, Query on the GSI.
//   - DynamoDB Streams: DynamoDB Local serves the Streams API on the same port, and the Streams client
//     signs as "dynamodb", so it routes there: DescribeStream, GetShardIterator(TRIM_HORIZON) and
//     GetRecords return the INSERT with its keys (KEYS_ONLY: no images).
//   - KMS: DescribeKey by alias, GenerateDataKey with an encryption context by id, ARN or alias, then
//     Decrypt; a different or missing context fails with InvalidCiphertextException.
//   - S3: CreateBucket, PutObject with SSE aws:kms + SSEKMSKeyId (echoed on GetObject), 40 MiB bodies,
//     presigned GET (routed by X-Amz-Credential); every other S3 call the project makes is in s3_test.go.
//   - SES v2: SendEmail (Simple); the mail is listed at SESStoreURL.
//   - A DataDir survives Close and Start: DynamoDB items, the KMS key material and S3 objects with their
//     metadata and SSE headers (copies kept, deletes stay deleted).
// Not covered by the stand-ins: TTL expiry deletes nothing; no S3 notifications or lifecycle.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go/logging"

	"leadvault/infra/local/awsclients"
	"leadvault/infra/local/repo"
	"leadvault/shared/awsconfig"
)

var (
	// stack is the one stack the package's tests share.
	stack *Stack
	// sdkLog collects everything the AWS SDK logs through the shared stack.
	sdkLog = &logCapture{}
)

// logCapture is an SDK logger that keeps every line.
type logCapture struct {
	mu    sync.Mutex
	lines []string
}

func (l *logCapture) Logf(c logging.Classification, format string, v ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, string(c)+" "+fmt.Sprintf(format, v...))
}

func (l *logCapture) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// standinsLog is where the stand-ins' output goes in tests: os.Stderr with LEADVAULT_STANDINS_LOG=1.
func standinsLog() io.Writer {
	if os.Getenv("LEADVAULT_STANDINS_LOG") != "" {
		return os.Stderr
	}
	return nil
}

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	start := time.Now()
	var err error
	stack, err = Start(context.Background(), Options{Log: standinsLog()})
	if err != nil {
		fmt.Fprintf(os.Stderr, "Start: %v\n", err)
		return 1
	}
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "stand-ins ready in %v at %s\n", time.Since(start).Round(time.Millisecond), stack.Endpoint)
	}
	code := m.Run()
	if log := sdkLog.String(); strings.Contains(log, "checksum") {
		fmt.Fprintf(os.Stderr, "the AWS SDK logged about checksums:\n%s\n", log)
		code = 1
	}
	stopped := time.Now()
	if err := stack.Close(); err != nil {
		fmt.Fprintf(os.Stderr, "Close: %v\n", err)
		code = 1
	}
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "stand-ins stopped in %v\n", time.Since(stopped).Round(time.Millisecond))
	}
	return code
}

// clients returns the project's AWS config pointed at s, logging into sdkLog.
func clients(t *testing.T, s *Stack) awsclients.Clients {
	t.Helper()
	cfg, err := awsconfig.LoadEndpoint(context.Background(), s.Endpoint)
	if err != nil {
		t.Fatalf("awsconfig.LoadEndpoint(%q) = %v", s.Endpoint, err)
	}
	cfg.AWS.Logger = sdkLog
	return awsclients.Clients{Config: cfg}
}

func ctxFor(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// unique returns name with a random suffix, for table, bucket and subject names.
func unique(name string) string {
	return name + "-" + strings.ToLower(rand.Text()[:10])
}

func s(v string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: v} }

// createLeadsTable creates a table shaped like Leadvault's: pk/sk, a GSI on email, on-demand, with a
// KEYS_ONLY stream and TTL on expiresAt. It returns the table's stream ARN.
func createLeadsTable(t *testing.T, ddb *dynamodb.Client, table string) string {
	t.Helper()
	ctx := ctxFor(t)
	out, err := ddb.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName: aws.String(table),
		AttributeDefinitions: []ddbtypes.AttributeDefinition{
			{AttributeName: aws.String("pk"), AttributeType: ddbtypes.ScalarAttributeTypeS},
			{AttributeName: aws.String("sk"), AttributeType: ddbtypes.ScalarAttributeTypeS},
			{AttributeName: aws.String("email"), AttributeType: ddbtypes.ScalarAttributeTypeS},
		},
		KeySchema: []ddbtypes.KeySchemaElement{
			{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash},
			{AttributeName: aws.String("sk"), KeyType: ddbtypes.KeyTypeRange},
		},
		GlobalSecondaryIndexes: []ddbtypes.GlobalSecondaryIndex{{
			IndexName:  aws.String("by-email"),
			KeySchema:  []ddbtypes.KeySchemaElement{{AttributeName: aws.String("email"), KeyType: ddbtypes.KeyTypeHash}},
			Projection: &ddbtypes.Projection{ProjectionType: ddbtypes.ProjectionTypeAll},
		}},
		BillingMode: ddbtypes.BillingModePayPerRequest,
		StreamSpecification: &ddbtypes.StreamSpecification{
			StreamEnabled:  aws.Bool(true),
			StreamViewType: ddbtypes.StreamViewTypeKeysOnly,
		},
	})
	if err != nil {
		t.Fatalf("CreateTable(%q) = %v", table, err)
	}
	if err := dynamodb.NewTableExistsWaiter(ddb).Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}, 30*time.Second); err != nil {
		t.Fatalf("TableExists(%q) = %v", table, err)
	}
	if _, err := ddb.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName:               aws.String(table),
		TimeToLiveSpecification: &ddbtypes.TimeToLiveSpecification{AttributeName: aws.String("expiresAt"), Enabled: aws.Bool(true)},
	}); err != nil {
		t.Fatalf("UpdateTimeToLive(%q) = %v", table, err)
	}
	return aws.ToString(out.TableDescription.LatestStreamArn)
}

func TestDynamoDB_tableItemsTTLAndStream(t *testing.T) {
	cfg := clients(t, stack)
	ddb := cfg.DynamoDB()
	ctx := ctxFor(t)
	table := unique("leads")
	streamARN := createLeadsTable(t, ddb, table)
	if streamARN == "" {
		t.Fatalf("CreateTable(%q) LatestStreamArn is empty; want a stream", table)
	}

	ttl, err := ddb.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatalf("DescribeTimeToLive(%q) = %v", table, err)
	}
	if got := ttl.TimeToLiveDescription.TimeToLiveStatus; got != ddbtypes.TimeToLiveStatusEnabled {
		t.Errorf("DescribeTimeToLive(%q) status = %v; want %v", table, got, ddbtypes.TimeToLiveStatusEnabled)
	}

	item := map[string]ddbtypes.AttributeValue{
		"pk": s("LEAD#1"), "sk": s("v1"), "email": s("ada@example.com"),
		"expiresAt": &ddbtypes.AttributeValueMemberN{Value: "4102444800"},
	}
	if _, err := ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
		t.Fatalf("PutItem(%q) = %v", table, err)
	}
	got, err := ddb.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(table),
		Key:            map[string]ddbtypes.AttributeValue{"pk": s("LEAD#1"), "sk": s("v1")},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatalf("GetItem(%q) = %v", table, err)
	}
	if e, ok := got.Item["email"].(*ddbtypes.AttributeValueMemberS); !ok || e.Value != "ada@example.com" {
		t.Errorf("GetItem(%q).email = %#v; want %q", table, got.Item["email"], "ada@example.com")
	}
	q, err := ddb.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(table),
		IndexName:                 aws.String("by-email"),
		KeyConditionExpression:    aws.String("email = :e"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":e": s("ada@example.com")},
	})
	if err != nil {
		t.Fatalf("Query(%q, by-email) = %v", table, err)
	}
	if q.Count != 1 {
		t.Errorf("Query(%q, by-email) count = %d; want 1", table, q.Count)
	}

	// The stream, through the router with the Streams client.
	streams := cfg.DynamoDBStreams()
	desc, err := streams.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(streamARN)})
	if err != nil {
		t.Fatalf("DescribeStream(%q) = %v", streamARN, err)
	}
	if got := desc.StreamDescription.StreamViewType; got != streamtypes.StreamViewTypeKeysOnly {
		t.Errorf("DescribeStream(%q) view type = %v; want %v", streamARN, got, streamtypes.StreamViewTypeKeysOnly)
	}
	var records []streamtypes.Record
	for _, shard := range desc.StreamDescription.Shards {
		it, err := streams.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
			StreamArn:         aws.String(streamARN),
			ShardId:           shard.ShardId,
			ShardIteratorType: streamtypes.ShardIteratorTypeTrimHorizon,
		})
		if err != nil {
			t.Fatalf("GetShardIterator(%q) = %v", aws.ToString(shard.ShardId), err)
		}
		recs, err := streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: it.ShardIterator})
		if err != nil {
			t.Fatalf("GetRecords(%q) = %v", aws.ToString(shard.ShardId), err)
		}
		records = append(records, recs.Records...)
	}
	if len(records) != 1 {
		t.Fatalf("GetRecords on %q returned %d records; want 1 (the put)", streamARN, len(records))
	}
	r := records[0]
	if r.EventName != streamtypes.OperationTypeInsert {
		t.Errorf("stream record event = %v; want %v", r.EventName, streamtypes.OperationTypeInsert)
	}
	if pk, ok := r.Dynamodb.Keys["pk"].(*streamtypes.AttributeValueMemberS); !ok || pk.Value != "LEAD#1" {
		t.Errorf("stream record keys = %#v; want pk LEAD#1", r.Dynamodb.Keys)
	}
	if r.Dynamodb.NewImage != nil {
		t.Errorf("stream record NewImage = %#v; want none for KEYS_ONLY", r.Dynamodb.NewImage)
	}
}

func TestKMS_dataKeyWithEncryptionContext(t *testing.T) {
	cfg := clients(t, stack)
	k := cfg.KMS()
	ctx := ctxFor(t)

	desc, err := k.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(stack.KeyAlias)})
	if err != nil {
		t.Fatalf("DescribeKey(%q) = %v", stack.KeyAlias, err)
	}
	if got := aws.ToString(desc.KeyMetadata.Arn); got != stack.KeyARN {
		t.Errorf("DescribeKey(%q) ARN = %q; want %q", stack.KeyAlias, got, stack.KeyARN)
	}

	encCtx := map[string]string{"leadId": "lead-1", "purpose": "pii"}
	tests := []struct {
		name       string
		keyID      string
		decryptCtx map[string]string
		wantErr    bool
	}{
		{name: "by id", keyID: stack.KeyID, decryptCtx: encCtx},
		{name: "by arn", keyID: stack.KeyARN, decryptCtx: encCtx},
		{name: "by alias", keyID: stack.KeyAlias, decryptCtx: encCtx},
		{name: "wrong context", keyID: stack.KeyARN, decryptCtx: map[string]string{"leadId": "lead-2", "purpose": "pii"}, wantErr: true},
		{name: "no context", keyID: stack.KeyARN, decryptCtx: nil, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dk, err := k.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{
				KeyId:             aws.String(tc.keyID),
				KeySpec:           kmstypes.DataKeySpecAes256,
				EncryptionContext: encCtx,
			})
			if err != nil {
				t.Fatalf("GenerateDataKey(%q) = %v", tc.keyID, err)
			}
			if len(dk.Plaintext) != 32 {
				t.Errorf("GenerateDataKey(%q) plaintext is %d bytes; want 32", tc.keyID, len(dk.Plaintext))
			}
			out, err := k.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: dk.CiphertextBlob, EncryptionContext: tc.decryptCtx})
			if tc.wantErr {
				var invalid *kmstypes.InvalidCiphertextException
				if !errors.As(err, &invalid) {
					t.Errorf("Decrypt(context %v) = %v; want InvalidCiphertextException", tc.decryptCtx, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decrypt(context %v) = %v", tc.decryptCtx, err)
			}
			if !bytes.Equal(out.Plaintext, dk.Plaintext) {
				t.Errorf("Decrypt(context %v) plaintext differs from GenerateDataKey's", tc.decryptCtx)
			}
			if got := aws.ToString(out.KeyId); got != stack.KeyARN {
				t.Errorf("Decrypt KeyId = %q; want %q", got, stack.KeyARN)
			}
		})
	}
}

func TestS3_putGetWithSSEKMS(t *testing.T) {
	cfg := clients(t, stack)
	s3c := cfg.S3()
	ctx := ctxFor(t)
	bucket := unique("leadvault-exports")
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{
		Bucket:                    aws.String(bucket),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraintEuNorth1},
	}); err != nil {
		t.Fatalf("CreateBucket(%q) = %v", bucket, err)
	}
	tests := []struct {
		name string
		size int
	}{
		{name: "empty", size: 0},
		{name: "4KiB", size: 4 << 10},
		{name: "40MiB", size: 40 << 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := make([]byte, tc.size)
			rand.Read(body)
			key := "exports/" + tc.name + ".bin"
			if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{
				Bucket:               aws.String(bucket),
				Key:                  aws.String(key),
				Body:                 bytes.NewReader(body),
				ServerSideEncryption: s3types.ServerSideEncryptionAwsKms,
				SSEKMSKeyId:          aws.String(stack.KeyARN),
			}); err != nil {
				t.Fatalf("PutObject(%q, %d bytes) = %v", key, tc.size, err)
			}
			got, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
			if err != nil {
				t.Fatalf("GetObject(%q) = %v", key, err)
			}
			defer got.Body.Close()
			h := sha256.New()
			n, err := io.Copy(h, got.Body)
			if err != nil || n != int64(tc.size) || !bytes.Equal(h.Sum(nil), sha(body)) {
				t.Errorf("GetObject(%q) body = %d bytes, %v; want the %d bytes put", key, n, err, tc.size)
			}
			if got.ServerSideEncryption != s3types.ServerSideEncryptionAwsKms {
				t.Errorf("GetObject(%q) ServerSideEncryption = %q; want %q", key, got.ServerSideEncryption, s3types.ServerSideEncryptionAwsKms)
			}
			if k := aws.ToString(got.SSEKMSKeyId); k != stack.KeyARN {
				t.Errorf("GetObject(%q) SSEKMSKeyId = %q; want %q", key, k, stack.KeyARN)
			}
		})
	}

	t.Run("presigned GET", func(t *testing.T) {
		key := "exports/presigned.txt"
		if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader("hello")}); err != nil {
			t.Fatalf("PutObject(%q) = %v", key, err)
		}
		req, err := s3.NewPresignClient(s3c).PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			t.Fatalf("PresignGetObject(%q) = %v", key, err)
		}
		resp, err := http.Get(req.URL)
		if err != nil {
			t.Fatalf("GET %s: %v", req.URL, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || string(b) != "hello" {
			t.Errorf("GET presigned %q = %d %q; want 200 %q", key, resp.StatusCode, b, "hello")
		}
	})
}

func sha(b []byte) []byte {
	h := sha256.Sum256(b)
	return h[:]
}

func TestSES_sendEmailIsStored(t *testing.T) {
	cfg := clients(t, stack)
	ctx := ctxFor(t)
	subject := unique("Your Leadvault export")
	out, err := cfg.SES().SendEmail(ctx, &sesv2.SendEmailInput{
		FromEmailAddress: aws.String("noreply@leadvault.example"),
		Destination:      &sestypes.Destination{ToAddresses: []string{"ada@example.com"}},
		Content: &sestypes.EmailContent{Simple: &sestypes.Message{
			Subject: &sestypes.Content{Data: aws.String(subject)},
			Body:    &sestypes.Body{Text: &sestypes.Content{Data: aws.String("Your export is ready.")}},
		}},
	})
	if err != nil {
		t.Fatalf("SendEmail(%q) = %v", subject, err)
	}

	resp, err := http.Get(stack.SESStoreURL)
	if err != nil {
		t.Fatalf("GET %s: %v", stack.SESStoreURL, err)
	}
	defer resp.Body.Close()
	var store struct {
		Emails []struct {
			MessageID   string `json:"messageId"`
			From        string `json:"from"`
			Subject     string `json:"subject"`
			Destination struct {
				To []string `json:"to"`
			} `json:"destination"`
			Body struct {
				Text string `json:"text"`
			} `json:"body"`
		} `json:"emails"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&store); err != nil {
		t.Fatalf("decode %s: %v", stack.SESStoreURL, err)
	}
	for _, m := range store.Emails {
		if m.Subject != subject {
			continue
		}
		if m.MessageID != aws.ToString(out.MessageId) || !slices.Contains(m.Destination.To, "ada@example.com") ||
			m.Body.Text != "Your export is ready." || m.From != "noreply@leadvault.example" {
			t.Errorf("stored mail = %+v; want message %q from noreply@leadvault.example to ada@example.com", m, aws.ToString(out.MessageId))
		}
		return
	}
	t.Errorf("GET %s has no mail with subject %q among %d", stack.SESStoreURL, subject, len(store.Emails))
}

func TestStack_envAndRouter(t *testing.T) {
	env := stack.Env()
	want := map[string]string{
		"LEADVAULT_AWS_ENDPOINT": stack.Endpoint,
		"AWS_REGION":             "eu-north-1",
		"AWS_ACCESS_KEY_ID":      "local",
		"AWS_SECRET_ACCESS_KEY":  "local",
		"LEADVAULT_KEY_ID":       "arn:aws:kms:eu-north-1:111122223333:key/" + LocalKeyID,
	}
	for name, value := range want {
		if !slices.Contains(env, name+"="+value) {
			t.Errorf("Env() = %q; want it to contain %s=%s", env, name, value)
		}
	}
	if len(env) != len(want) {
		t.Errorf("Env() has %d entries; want %d", len(env), len(want))
	}
	if stack.KeyID != LocalKeyID || stack.KeyAlias != LocalKeyAlias {
		t.Errorf("KeyID, KeyAlias = %q, %q; want %q, %q", stack.KeyID, stack.KeyAlias, LocalKeyID, LocalKeyAlias)
	}

	// An unsigned request is refused by the router with a reason.
	resp, err := http.Get(stack.Endpoint + "/")
	if err != nil {
		t.Fatalf("GET %s: %v", stack.Endpoint, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "not SigV4-signed") {
		t.Errorf("GET %s unsigned = %d %q; want 400 naming the missing signature", stack.Endpoint, resp.StatusCode, b)
	}
}

func TestStart_persistentDataDir(t *testing.T) {
	dir := t.TempDir()
	ctx := ctxFor(t)
	table, bucket, key := "persisted", "persisted-bucket", "lead.json"
	encCtx := map[string]string{"leadId": "lead-7"}

	first, err := Start(ctx, Options{DataDir: dir, Log: standinsLog()})
	if err != nil {
		t.Fatalf("Start(DataDir %s) = %v", dir, err)
	}
	t.Cleanup(func() { first.Close() })
	cfg := clients(t, first)
	createLeadsTable(t, cfg.DynamoDB(), table)
	if _, err := cfg.DynamoDB().PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(table),
		Item:      map[string]ddbtypes.AttributeValue{"pk": s("LEAD#7"), "sk": s("v1"), "email": s("grace@example.com")},
	}); err != nil {
		t.Fatalf("PutItem = %v", err)
	}
	enc, err := cfg.KMS().Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(first.KeyAlias), Plaintext: []byte("secret"), EncryptionContext: encCtx})
	if err != nil {
		t.Fatalf("Encrypt = %v", err)
	}
	if _, err := cfg.S3().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("CreateBucket(%q) = %v", bucket, err)
	}
	if _, err := cfg.S3().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(`{"id":7}`)}); err != nil {
		t.Fatalf("PutObject(%q) = %v", key, err)
	}
	// The quarantine path too: an SSE-KMS object with metadata, copied, and the original deleted.
	if _, err := cfg.S3().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("inbound/m1"), Body: strings.NewReader("mail"),
		Metadata: map[string]string{"tenant": "demo"}, ServerSideEncryption: s3types.ServerSideEncryptionAwsKms, SSEKMSKeyId: aws.String(first.KeyARN)}); err != nil {
		t.Fatalf("PutObject(inbound/m1) = %v", err)
	}
	if _, err := cfg.S3().CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(bucket), Key: aws.String("quarantine/m1"), CopySource: aws.String(bucket + "/inbound%2Fm1"),
		ServerSideEncryption: s3types.ServerSideEncryptionAwsKms, SSEKMSKeyId: aws.String(first.KeyARN)}); err != nil {
		t.Fatalf("CopyObject(inbound/m1) = %v", err)
	}
	if _, err := cfg.S3().DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("inbound/m1")}); err != nil {
		t.Fatalf("DeleteObject(inbound/m1) = %v", err)
	}

	// A second stack on the same DataDir is refused while the first runs.
	if again, err := Start(ctx, Options{DataDir: dir}); err == nil {
		again.Close()
		t.Errorf("Start(DataDir %s) while another stack uses it = nil error; want an error", dir)
	} else if !strings.Contains(err.Error(), "another stack") {
		t.Errorf("Start(DataDir %s) while another stack uses it = %v; want it to say another stack uses it", dir, err)
	}

	if err := first.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if err := first.Close(); err != nil {
		t.Errorf("second Close() = %v; want nil", err)
	}

	second, err := Start(ctx, Options{DataDir: dir, Log: standinsLog()})
	if err != nil {
		t.Fatalf("Start(DataDir %s) again = %v", dir, err)
	}
	defer second.Close()
	if second.KeyARN != first.KeyARN {
		t.Errorf("KeyARN after restart = %q; want %q", second.KeyARN, first.KeyARN)
	}
	cfg = clients(t, second)
	got, err := cfg.DynamoDB().GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(table),
		Key:       map[string]ddbtypes.AttributeValue{"pk": s("LEAD#7"), "sk": s("v1")},
	})
	if err != nil {
		t.Fatalf("GetItem after restart = %v", err)
	}
	if e, ok := got.Item["email"].(*ddbtypes.AttributeValueMemberS); !ok || e.Value != "grace@example.com" {
		t.Errorf("GetItem after restart email = %#v; want %q", got.Item["email"], "grace@example.com")
	}
	dec, err := cfg.KMS().Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: encCtx})
	if err != nil {
		t.Fatalf("Decrypt after restart = %v", err)
	}
	if string(dec.Plaintext) != "secret" {
		t.Errorf("Decrypt after restart = %q; want %q", dec.Plaintext, "secret")
	}
	obj, err := cfg.S3().GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("GetObject(%q) after restart = %v", key, err)
	}
	defer obj.Body.Close()
	if b, _ := io.ReadAll(obj.Body); string(b) != `{"id":7}` {
		t.Errorf("GetObject(%q) after restart = %q; want %q", key, b, `{"id":7}`)
	}
	list, err := cfg.S3().ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatalf("ListObjectsV2 after restart = %v", err)
	}
	var keys []string
	for _, o := range list.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	if want := []string{key, "quarantine/m1"}; !slices.Equal(keys, want) {
		t.Errorf("ListObjectsV2 after restart = %q; want %q (the deleted original stays deleted)", keys, want)
	}
	qm, err := cfg.S3().GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("quarantine/m1")})
	if err != nil {
		t.Fatalf("GetObject(quarantine/m1) after restart = %v", err)
	}
	defer qm.Body.Close()
	if b, _ := io.ReadAll(qm.Body); string(b) != "mail" || qm.ServerSideEncryption != s3types.ServerSideEncryptionAwsKms ||
		aws.ToString(qm.SSEKMSKeyId) != first.KeyARN || qm.Metadata["tenant"] != "demo" {
		t.Errorf("GetObject(quarantine/m1) after restart = %q, SSE %q %q, metadata %v; want \"mail\", aws:kms on %q, tenant=demo",
			b, qm.ServerSideEncryption, aws.ToString(qm.SSEKMSKeyId), qm.Metadata, first.KeyARN)
	}

	// The shared in-memory stack's key material differs from this DataDir's.
	_, err = clients(t, stack).KMS().Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: encCtx})
	if err == nil {
		t.Errorf("Decrypt of a DataDir ciphertext by the in-memory stack = nil error; want an error (keys are random per data dir)")
	}
}

func TestKMSSeed_randomPerDirStablePerDir(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	read := func(dir string) string {
		t.Helper()
		path, keyID, err := kmsSeed(dir)
		if err != nil {
			t.Fatalf("kmsSeed(%q) = %v", dir, err)
		}
		if keyID != LocalKeyID {
			t.Errorf("kmsSeed(%q) key id = %q; want %q", dir, keyID, LocalKeyID)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("read seed: %v", err)
		}
		return string(data)
	}
	a1, a2, b1 := read(a), read(a), read(b)
	if a1 != a2 {
		t.Errorf("kmsSeed(%q) twice gave different seeds:\n%s\n%s", a, a1, a2)
	}
	if a1 == b1 {
		t.Errorf("kmsSeed gave the same seed for two fresh dirs; want random backing keys")
	}
	for _, want := range []string{"KeyId: " + LocalKeyID, "AliasName: " + LocalKeyAlias, "TargetKeyId: " + LocalKeyID} {
		if !strings.Contains(a1, want) {
			t.Errorf("seed = %q; want it to contain %q", a1, want)
		}
	}
}

func TestStart_missingPrerequisites(t *testing.T) {
	noModules := t.TempDir()
	if err := os.WriteFile(filepath.Join(noModules, "go.mod"), []byte("module leadvault\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	realRoot, err := repo.Root(".")
	if err != nil {
		t.Fatalf("repo.Root(.) = %v", err)
	}
	tests := []struct {
		name string
		root string
		path string // PATH for the test; "" keeps it
		want []string
	}{
		{name: "no node_modules", root: noModules, want: []string{"start dynamodb local", "npm ci"}},
		{name: "no java", root: realRoot, path: t.TempDir(), want: []string{"start dynamodb local", "Java runtime", "default-jre-headless"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.path != "" {
				t.Setenv("PATH", tc.path)
			}
			st, err := Start(context.Background(), Options{Root: tc.root})
			if err == nil {
				st.Close()
				t.Fatalf("Start(Root %s) = nil error; want one", tc.root)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Start(Root %s) = %v; want it to mention %q", tc.root, err, w)
				}
			}
		})
	}
}
