package streams

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"leadvault/infra/local/awsclients"
	"leadvault/infra/local/syncw"
	"leadvault/shared/awsconfig"
)

// testPoll keeps the tests fast.
const testPoll = 10 * time.Millisecond

// waitTimeout bounds every wait for the poller; generous for slow CI machines.
const waitTimeout = 20 * time.Second

type stack struct {
	ddb     *dynamodb.Client
	streams *dynamodbstreams.Client
}

func newStack(t *testing.T) stack {
	t.Helper()
	endpoint := needDynamoDB(t)
	cfg, err := awsconfig.LoadEndpoint(context.Background(), endpoint)
	if err != nil {
		t.Fatalf("awsconfig.LoadEndpoint(%q) = %v", endpoint, err)
	}
	c := awsclients.Clients{Config: cfg}
	return stack{ddb: c.DynamoDB(), streams: c.DynamoDBStreams()}
}

var tableSeq atomic.Int64

// createTable creates a table keyed by pk (S) and sk (N) with a KEYS_ONLY stream and returns its name
// and stream ARN.
func (s stack) createTable(t *testing.T) (string, string) {
	t.Helper()
	name := fmt.Sprintf("leads-%d-%d", time.Now().UnixNano(), tableSeq.Add(1))
	out, err := s.ddb.CreateTable(context.Background(), &dynamodb.CreateTableInput{
		TableName: aws.String(name),
		AttributeDefinitions: []ddbtypes.AttributeDefinition{
			{AttributeName: aws.String("pk"), AttributeType: ddbtypes.ScalarAttributeTypeS},
			{AttributeName: aws.String("sk"), AttributeType: ddbtypes.ScalarAttributeTypeN},
		},
		KeySchema: []ddbtypes.KeySchemaElement{
			{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash},
			{AttributeName: aws.String("sk"), KeyType: ddbtypes.KeyTypeRange},
		},
		BillingMode:         ddbtypes.BillingModePayPerRequest,
		StreamSpecification: &ddbtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: ddbtypes.StreamViewTypeKeysOnly},
	})
	if err != nil {
		t.Fatalf("CreateTable(%q) = %v", name, err)
	}
	arn := aws.ToString(out.TableDescription.LatestStreamArn)
	if arn == "" {
		t.Fatalf("CreateTable(%q) has no LatestStreamArn", name)
	}
	return name, arn
}

func key(pk string, sk int) map[string]ddbtypes.AttributeValue {
	return map[string]ddbtypes.AttributeValue{
		"pk": &ddbtypes.AttributeValueMemberS{Value: pk},
		"sk": &ddbtypes.AttributeValueMemberN{Value: fmt.Sprint(sk)},
	}
}

func (s stack) put(t *testing.T, table string, pks ...string) {
	t.Helper()
	for _, pk := range pks {
		item := key(pk, 1)
		item["email"] = &ddbtypes.AttributeValueMemberS{Value: pk + "@example.com"}
		if _, err := s.ddb.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
			t.Fatalf("PutItem(%q, %q) = %v", table, pk, err)
		}
	}
}

// calls records every invocation of a handler.
type calls struct {
	mu      sync.Mutex
	batches [][]events.DynamoDBEventRecord
}

func (c *calls) add(ev events.DynamoDBEvent) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.batches = append(c.batches, append([]events.DynamoDBEventRecord(nil), ev.Records...))
	return len(c.batches)
}

// keys returns the pk of every record of every invocation, one slice per invocation.
func (c *calls) keys() [][]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([][]string, len(c.batches))
	for i, b := range c.batches {
		for _, r := range b {
			out[i] = append(out[i], pkOf(r))
		}
	}
	return out
}

func (c *calls) records() []events.DynamoDBEventRecord {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []events.DynamoDBEventRecord
	for _, b := range c.batches {
		out = append(out, b...)
	}
	return out
}

func pkOf(r events.DynamoDBEventRecord) string {
	if v, ok := r.Change.Keys["pk"]; ok && v.DataType() == events.DataTypeString {
		return v.String()
	}
	return "?"
}

// flat joins invocations' keys.
func flat(batches [][]string) []string {
	var out []string
	for _, b := range batches {
		out = append(out, b...)
	}
	return out
}

// testLog returns a logger writing to a buffer and a function returning what was written.
func testLog() (*slog.Logger, func() string) {
	buf := &syncw.Buffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf.String
}

// start runs Run in the background and stops it at the end of the test, checking that it returns nil
// promptly.
func start(t *testing.T, c Client, h Handler, o Options) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- Run(ctx, c, h, o) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("Run(%s) after cancel = %v; want nil", o.StreamARN, err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Run(%s) did not return within 10 s of cancel", o.StreamARN)
		}
	})
}

// waitFor polls cond until it holds or waitTimeout passes.
func waitFor(t *testing.T, what string, cond func() bool, logs func() string) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; poller log:\n%s", what, logs())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func seqLess(a, b string) bool {
	x, okx := new(big.Int).SetString(a, 10)
	y, oky := new(big.Int).SetString(b, 10)
	return okx && oky && x.Cmp(y) < 0
}

func TestRun_insertsInOrder(t *testing.T) {
	s := newStack(t)
	table, arn := s.createTable(t)
	var want []string
	for i := range 25 {
		want = append(want, fmt.Sprintf("lead#%02d", i))
	}
	s.put(t, table, want[:15]...) // before Run: read from TRIM_HORIZON

	log, logs := testLog()
	var c calls
	start(t, s.streams, func(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		c.add(ev)
		return events.DynamoDBEventResponse{}, nil
	}, Options{StreamARN: arn, BatchSize: 10, Poll: testPoll, Log: log})

	s.put(t, table, want[15:]...) // while running
	if _, err := s.ddb.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{
		TableName: aws.String(table), Key: key("lead#03", 1),
		UpdateExpression:          aws.String("SET email = :e"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":e": &ddbtypes.AttributeValueMemberS{Value: "new@example.com"}},
	}); err != nil {
		t.Fatalf("UpdateItem(lead#03) = %v", err)
	}
	if _, err := s.ddb.DeleteItem(context.Background(), &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: key("lead#04", 1)}); err != nil {
		t.Fatalf("DeleteItem(lead#04) = %v", err)
	}
	waitFor(t, "27 records", func() bool { return len(c.records()) >= 27 }, logs)
	time.Sleep(10 * testPoll) // nothing more may come
	recs := c.records()

	wantKeys := append(append([]string(nil), want...), "lead#03", "lead#04")
	if got := flat(c.keys()); !reflect.DeepEqual(got, wantKeys) {
		t.Fatalf("Run delivered keys %v; want %v", got, wantKeys)
	}
	for i, b := range c.keys() {
		if len(b) == 0 || len(b) > 10 {
			t.Errorf("Run invocation %d had %d records; want 1..10", i, len(b))
		}
	}
	if first := c.keys()[0]; len(first) != 10 {
		t.Errorf("Run first invocation had %d records; want a full batch of 10 from the records already in the stream", len(first))
	}
	for i, r := range recs {
		wantName := "INSERT"
		switch i {
		case 25:
			wantName = "MODIFY"
		case 26:
			wantName = "REMOVE"
		}
		if r.EventName != wantName || r.EventSource != "aws:dynamodb" || r.AWSRegion != "eu-north-1" || r.EventSourceArn != arn || r.EventVersion != "1.1" || r.EventID == "" {
			t.Errorf("Run record %d = eventName %q, eventSource %q, awsRegion %q, eventSourceARN %q, eventVersion %q, eventID %q; want %s, aws:dynamodb, eu-north-1, %s, 1.1, an ID",
				i, r.EventName, r.EventSource, r.AWSRegion, r.EventSourceArn, r.EventVersion, r.EventID, wantName, arn)
		}
		ch := r.Change
		if ch.StreamViewType != "KEYS_ONLY" || ch.NewImage != nil || ch.OldImage != nil || len(ch.Keys) != 2 {
			t.Errorf("Run record %d view %q, NewImage %v, OldImage %v, %d keys; want KEYS_ONLY with only the 2 keys", i, ch.StreamViewType, ch.NewImage, ch.OldImage, len(ch.Keys))
		}
		if sk, ok := ch.Keys["sk"]; !ok || sk.DataType() != events.DataTypeNumber || sk.Number() != "1" {
			t.Errorf("Run record %d key sk = %v; want N 1", i, ch.Keys["sk"])
		}
		if ch.SizeBytes <= 0 {
			t.Errorf("Run record %d SizeBytes = %d; want > 0", i, ch.SizeBytes)
		}
		// DynamoDB Local rounds the time down to the minute and, on a loaded machine, was seen minutes
		// behind: the check is that it is a plausible creation time, not a precise one.
		if d := time.Since(ch.ApproximateCreationDateTime.Time); d < -time.Minute || d > 5*time.Minute {
			t.Errorf("Run record %d ApproximateCreationDateTime = %v; want about now", i, ch.ApproximateCreationDateTime)
		}
		if i > 0 && !seqLess(recs[i-1].Change.SequenceNumber, ch.SequenceNumber) {
			t.Errorf("Run record %d sequence number %s does not follow %s", i, ch.SequenceNumber, recs[i-1].Change.SequenceNumber)
		}
	}
}

func TestRun_batchItemFailureRetriesFromFailedRecord(t *testing.T) {
	s := newStack(t)
	table, arn := s.createTable(t)
	s.put(t, table, "k0", "k1", "k2", "k3", "k4", "k5")

	log, logs := testLog()
	var c calls
	var failedOnce atomic.Bool
	start(t, s.streams, func(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		c.add(ev)
		for _, r := range ev.Records {
			if pkOf(r) == "k2" && !failedOnce.Swap(true) {
				// Report k2 and k4: retrying starts at the earliest.
				var k4 string
				for _, r4 := range ev.Records {
					if pkOf(r4) == "k4" {
						k4 = r4.Change.SequenceNumber
					}
				}
				return events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{
					{ItemIdentifier: k4}, {ItemIdentifier: r.Change.SequenceNumber},
				}}, nil
			}
		}
		return events.DynamoDBEventResponse{}, nil
	}, Options{StreamARN: arn, Poll: testPoll, Log: log})

	waitFor(t, "2 invocations", func() bool { return len(c.keys()) >= 2 }, logs)
	time.Sleep(10 * testPoll)
	want := [][]string{{"k0", "k1", "k2", "k3", "k4", "k5"}, {"k2", "k3", "k4", "k5"}}
	if got := c.keys(); !reflect.DeepEqual(got, want) {
		t.Errorf("Run invocations = %v; want %v (the retry starts at the failed k2, not before it)", got, want)
	}
	if logged := logs(); !strings.Contains(logged, "level=WARN") || !strings.Contains(logged, "batch item failures") {
		t.Errorf("Run log = %q; want a WARN about the batch item failures", logged)
	}
}

func TestRun_handlerErrorRetriesWholeBatch(t *testing.T) {
	s := newStack(t)
	table, arn := s.createTable(t)
	s.put(t, table, "a", "b", "c")

	log, logs := testLog()
	var c calls
	start(t, s.streams, func(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		switch c.add(ev) {
		case 1:
			return events.DynamoDBEventResponse{}, errors.New("downstream unavailable")
		case 2:
			// An identifier that is not in the batch also fails the whole batch, as on AWS.
			return events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{{ItemIdentifier: ""}}}, nil
		}
		return events.DynamoDBEventResponse{}, nil
	}, Options{StreamARN: arn, Poll: testPoll, Log: log})

	waitFor(t, "3 invocations", func() bool { return len(c.keys()) >= 3 }, logs)
	time.Sleep(10 * testPoll)
	batch := []string{"a", "b", "c"}
	if got, want := c.keys(), [][]string{batch, batch, batch}; !reflect.DeepEqual(got, want) {
		t.Errorf("Run invocations = %v; want %v", got, want)
	}
	if logged := logs(); !strings.Contains(logged, "downstream unavailable") {
		t.Errorf("Run log = %q; want the handler's error", logged)
	}
}

func TestRun_deadLetterAfterMaxAttempts(t *testing.T) {
	s := newStack(t)
	table, arn := s.createTable(t)
	s.put(t, table, "k0", "k1", "k2", "k3")

	log, logs := testLog()
	var c calls
	var mu sync.Mutex
	var dead []events.DynamoDBEventRecord
	start(t, s.streams, func(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		c.add(ev)
		var resp events.DynamoDBEventResponse
		for _, r := range ev.Records {
			if pkOf(r) == "k1" { // a poison record
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: r.Change.SequenceNumber})
			}
		}
		return resp, nil
	}, Options{StreamARN: arn, MaxAttempts: 3, Poll: testPoll, Log: log, OnDeadLetter: func(r events.DynamoDBEventRecord) {
		mu.Lock()
		defer mu.Unlock()
		dead = append(dead, r)
	}})

	waitFor(t, "k3 after the dead letter", func() bool {
		k := c.keys()
		return len(k) > 0 && reflect.DeepEqual(k[len(k)-1], []string{"k2", "k3"})
	}, logs)
	s.put(t, table, "k4") // the poller has moved on
	waitFor(t, "k4", func() bool { k := flat(c.keys()); return k[len(k)-1] == "k4" }, logs)

	want := [][]string{{"k0", "k1", "k2", "k3"}, {"k1", "k2", "k3"}, {"k1", "k2", "k3"}, {"k2", "k3"}, {"k4"}}
	if got := c.keys(); !reflect.DeepEqual(got, want) {
		t.Errorf("Run invocations = %v; want %v (k1 attempted 3 times, then dropped)", got, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(dead) != 1 || pkOf(dead[0]) != "k1" {
		t.Fatalf("OnDeadLetter got %d records %v; want k1 once", len(dead), dead)
	}
	logged := logs()
	for _, want := range []string{"level=ERROR", "record dead-lettered", "eventID=" + dead[0].EventID, "sequenceNumber=" + dead[0].Change.SequenceNumber, "attempts=3"} {
		if !strings.Contains(logged, want) {
			t.Errorf("Run log = %q; want it to contain %q", logged, want)
		}
	}
}

func TestRun_filterDropsRecords(t *testing.T) {
	s := newStack(t)
	table, arn := s.createTable(t)
	s.put(t, table, "a", "skip-1", "b", "skip-2", "skip-3", "c")

	log, logs := testLog()
	var c calls
	var seen sync.Map
	start(t, s.streams, func(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		c.add(ev)
		return events.DynamoDBEventResponse{}, nil
	}, Options{StreamARN: arn, Poll: testPoll, Log: log, Filter: func(r events.DynamoDBEventRecord) bool {
		seen.Store(pkOf(r), true)
		return r.EventName == "INSERT" && !strings.HasPrefix(pkOf(r), "skip-")
	}})

	waitFor(t, "a, b, c", func() bool { return len(flat(c.keys())) >= 3 }, logs)
	s.put(t, table, "skip-4", "d")
	waitFor(t, "d", func() bool { k := flat(c.keys()); return k[len(k)-1] == "d" }, logs)
	if got, want := flat(c.keys()), []string{"a", "b", "c", "d"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Run with a filter delivered %v; want %v", got, want)
	}
	if _, ok := seen.Load("skip-4"); !ok {
		t.Errorf("Filter never saw skip-4; want every record offered to it")
	}
}

func TestRun_startAtLatest(t *testing.T) {
	s := newStack(t)
	table, arn := s.createTable(t)
	s.put(t, table, "old-1", "old-2")

	log, logs := testLog()
	var c calls
	start(t, s.streams, func(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		c.add(ev)
		return events.DynamoDBEventResponse{}, nil
	}, Options{StreamARN: arn, Poll: testPoll, Log: log, StartAtLatest: true})

	// There is no readiness signal: keep writing until something arrives.
	for i := 0; len(c.keys()) == 0; i++ {
		if i == 200 {
			t.Fatalf("Run(StartAtLatest) delivered nothing; poller log:\n%s", logs())
		}
		s.put(t, table, fmt.Sprintf("new-%03d", i))
		time.Sleep(5 * testPoll)
	}
	for _, k := range flat(c.keys()) {
		if !strings.HasPrefix(k, "new-") {
			t.Errorf("Run(StartAtLatest) delivered %q; want only records written after it started", k)
		}
	}
}

func TestRun_streamDisabledEndsRun(t *testing.T) {
	s := newStack(t)
	table, arn := s.createTable(t)
	s.put(t, table, "a", "b")

	log, logs := testLog()
	var c calls
	errc := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		errc <- Run(ctx, s.streams, func(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			c.add(ev)
			return events.DynamoDBEventResponse{}, nil
		}, Options{StreamARN: arn, Poll: testPoll, Log: log})
	}()
	waitFor(t, "a, b", func() bool { return len(flat(c.keys())) >= 2 }, logs)
	s.put(t, table, "c")
	if _, err := s.ddb.UpdateTable(context.Background(), &dynamodb.UpdateTableInput{
		TableName:           aws.String(table),
		StreamSpecification: &ddbtypes.StreamSpecification{StreamEnabled: aws.Bool(false)},
	}); err != nil {
		t.Fatalf("UpdateTable(%q, stream off) = %v", table, err)
	}
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("Run after the stream was disabled = %v; want nil", err)
		}
	case <-time.After(waitTimeout):
		t.Fatalf("Run did not return after the stream was disabled; poller log:\n%s", logs())
	}
	if got, want := flat(c.keys()), []string{"a", "b", "c"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Run delivered %v before the disabled stream ended; want %v", got, want)
	}
}

func TestRun_errors(t *testing.T) {
	s := newStack(t)
	_, arn := s.createTable(t)
	h := func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		return events.DynamoDBEventResponse{}, nil
	}
	log, _ := testLog()
	tests := []struct {
		name string
		c    Client
		h    Handler
		o    Options
		want string
	}{
		{"no stream", s.streams, h, Options{Log: log}, "StreamARN is required"},
		{"no handler", s.streams, nil, Options{StreamARN: arn, Log: log}, "handler are required"},
		{"no client", nil, h, Options{StreamARN: arn, Log: log}, "handler are required"},
		{"batch too big", s.streams, h, Options{StreamARN: arn, BatchSize: 10001, Log: log}, "BatchSize 10001"},
		{"negative attempts", s.streams, h, Options{StreamARN: arn, MaxAttempts: -1, Log: log}, "MaxAttempts -1"},
		{"negative poll", s.streams, h, Options{StreamARN: arn, Poll: -time.Second, Log: log}, "Poll -1s"},
		{"unknown stream", s.streams, h, Options{StreamARN: arn + "x", Log: log}, "ResourceNotFoundException"},
	}
	for _, tt := range tests {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		err := Run(ctx, tt.c, tt.h, tt.o)
		cancel()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Run(%s) = %v; want an error containing %q", tt.name, err, tt.want)
		}
	}
}
