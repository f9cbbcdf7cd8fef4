package sesinbound

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/emersion/go-smtp"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"leadvault/infra/local/smtpd"
	"leadvault/infra/local/syncw"
)

const (
	testBucket = "leadvault-inbound-test"
	testPrefix = "inbound/"
	testKey    = "arn:aws:kms:eu-north-1:111122223333:key/11111111-2222-3333-4444-555555555555"
)

// sesFields are the header fields SES prepends, in its order.
var sesFields = []string{
	"Return-Path", "Received", "X-SES-Spam-Verdict", "X-SES-Virus-Verdict", "Received-SPF",
	"Authentication-Results", "X-SES-RECEIPT", "X-SES-DKIM-SIGNATURE",
}

var messageIDPattern = regexp.MustCompile(`^[0-9a-v]{38}[08go]1$`)

// fakeS3 starts gofakes3 on 127.0.0.1 with an empty bucket and returns a real S3 client for it.
func fakeS3(t *testing.T) *s3.Client {
	t.Helper()
	srv := httptest.NewServer(gofakes3.New(s3mem.New(), gofakes3.WithAutoBucket(false)).Server())
	t.Cleanup(srv.Close)
	if host, _, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://")); host != "127.0.0.1" {
		t.Fatalf("httptest server on %s; want 127.0.0.1", srv.URL)
	}
	client := s3.NewFromConfig(aws.Config{
		Region:       "eu-north-1",
		Credentials:  credentials.NewStaticCredentialsProvider("a", "b", ""),
		BaseEndpoint: aws.String(srv.URL),
	}, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(testBucket)}); err != nil {
		t.Fatalf("CreateBucket(%q) = %v", testBucket, err)
	}
	return client
}

// invocations records what Invoke was called with.
type invocations struct {
	mu  sync.Mutex
	evs []events.S3Event
	err error
}

func (in *invocations) invoke(_ context.Context, ev events.S3Event) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.evs = append(in.evs, ev)
	return in.err
}

func (in *invocations) got() []events.S3Event {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]events.S3Event(nil), in.evs...)
}

var testNow = time.Date(2026, 11, 23, 12, 0, 0, 412_000_000, time.UTC)

// newReceiver returns a Receiver on client that records invocations and logs to the returned buffer.
func newReceiver(client S3API, inv *invocations) (*Receiver, *syncw.Buffer) {
	logs := &syncw.Buffer{}
	return New(Options{
		S3:       client,
		Bucket:   testBucket,
		Prefix:   testPrefix,
		KMSKeyID: testKey,
		Region:   "eu-west-1",
		Invoke:   inv.invoke,
		Now:      func() time.Time { return testNow },
		Log:      slog.New(slog.NewTextHandler(logs, nil)),
	}), logs
}

var testMessage = []byte("From: Jens Hansen <jens@example.dk>\r\n" +
	"To: demo-contact@in.localhost\r\n" +
	"Subject: =?UTF-8?Q?Foresp=C3=B8rgsel?=\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: text/plain; charset=\"UTF-8\"\r\n" +
	"Content-Transfer-Encoding: 8bit\r\n" +
	"\r\n" +
	"Hej, vi vil gerne høre om priser på jeres løsning.\r\n" +
	"\r\n" +
	"-- \r\n" +
	"Jens Hansen\r\n" +
	"Tlf. +45 20 12 34 56\r\n")

func testSession() context.Context {
	return smtpd.WithSession(context.Background(), smtpd.Session{
		ID: "s1", Hostname: "client.test", RemoteAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000},
	})
}

// getObject returns the object's bytes and its HeadObject output.
func getObject(t *testing.T, client *s3.Client, key string) ([]byte, *s3.HeadObjectOutput) {
	t.Helper()
	out, err := client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("GetObject(%q) = %v", key, err)
	}
	defer out.Body.Close()
	body, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("read object %q: %v", key, err)
	}
	head, err := client.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("HeadObject(%q) = %v", key, err)
	}
	return body, head
}

// splitHeaders splits a stored object into SES's block (the first len(sesFields) fields) and the rest,
// returning the block's field names in order.
func splitHeaders(t *testing.T, obj []byte) (names []string, block string, rest []byte) {
	t.Helper()
	lines := strings.SplitAfter(string(obj), "\r\n")
	n := 0
	for i, l := range lines {
		if strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t") {
			continue
		}
		if len(names) == len(sesFields) {
			n = i
			break
		}
		name, _, ok := strings.Cut(l, ":")
		if !ok {
			t.Fatalf("object line %d = %q; want a header field", i, l)
		}
		names = append(names, name)
	}
	block = strings.Join(lines[:n], "")
	return names, block, obj[len(block):]
}

func TestDeliver_storesAsSES(t *testing.T) {
	client := fakeS3(t)
	inv := &invocations{}
	r, logs := newReceiver(client, inv)
	env := smtpd.Envelope{From: "jens@example.dk", To: []string{"demo-contact@in.localhost", "sales@in.localhost"}, Data: testMessage}
	if err := r.Deliver(testSession(), env); err != nil {
		t.Fatalf("Deliver(%q) = %v; want nil", env.From, err)
	}
	evs := inv.got()
	if len(evs) != 1 || len(evs[0].Records) != 1 {
		t.Fatalf("Invoke calls = %+v; want one event with one record", evs)
	}
	key := evs[0].Records[0].S3.Object.URLDecodedKey
	id := strings.TrimPrefix(key, testPrefix)
	if !strings.HasPrefix(key, testPrefix) || !messageIDPattern.MatchString(id) {
		t.Fatalf("object key = %q; want %q + an SES message id", key, testPrefix)
	}

	obj, head := getObject(t, client, key)
	names, block, rest := splitHeaders(t, obj)
	if !reflect.DeepEqual(names, sesFields) {
		t.Errorf("header fields = %q; want %q", names, sesFields)
	}
	if !bytes.Equal(rest, testMessage) {
		t.Errorf("object after SES's headers = %q; want the message as received %q", rest, testMessage)
	}
	wantLines := []string{
		"Return-Path: <jens@example.dk>\r\n",
		"Received: from client.test (localhost [127.0.0.1])\r\n" +
			" by inbound-smtp.eu-west-1.amazonaws.com with SMTP id " + id + "\r\n" +
			" for demo-contact@in.localhost;\r\n" +
			" Mon, 23 Nov 2026 12:00:00 +0000 (UTC)\r\n",
		"X-SES-Spam-Verdict: PASS\r\nX-SES-Virus-Verdict: PASS\r\n",
		"Received-SPF: none (spfCheck: 127.0.0.1 is neither permitted nor denied by domain of example.dk) " +
			"client-ip=127.0.0.1; envelope-from=jens@example.dk; helo=client.test;\r\n",
		"Authentication-Results: amazonses.com;\r\n" +
			" spf=none (spfCheck: 127.0.0.1 is neither permitted nor denied by domain of example.dk) " +
			"client-ip=127.0.0.1; envelope-from=jens@example.dk; helo=client.test;\r\n" +
			" dkim=none;\r\n" +
			" dmarc=none header.from=example.dk;\r\n",
		"X-SES-RECEIPT: AEFBQUFBQUFBQUFF",
		"; c=relaxed/simple; s=" + dkimSelector + "; d=amazonses.com; t=1795435200; v=1; bh=" + bodyHash(testMessage) +
			"; h=From:To:Cc:Bcc:Subject:Date:Message-ID:MIME-Version:Content-Type:X-SES-RECEIPT;\r\n",
	}
	for _, want := range wantLines {
		if !strings.Contains(block, want) {
			t.Errorf("SES headers = \n%s\nwant them to contain %q", block, want)
		}
	}
	if strings.Contains(strings.ReplaceAll(block, "\r\n", ""), "\n") || strings.Contains(strings.ReplaceAll(block, "\r\n", ""), "\r") {
		t.Errorf("SES headers have a bare CR or LF:\n%q", block)
	}

	if head.ServerSideEncryption != s3types.ServerSideEncryptionAwsKms || aws.ToString(head.SSEKMSKeyId) != testKey {
		t.Errorf("HeadObject(%q) encryption = %q, %q; want %q, %q", key, head.ServerSideEncryption,
			aws.ToString(head.SSEKMSKeyId), s3types.ServerSideEncryptionAwsKms, testKey)
	}

	log := logs.String()
	for _, secret := range []string{"@", "jens", "Jens", "høre"} {
		if strings.Contains(log, secret) {
			t.Errorf("log contains %q:\n%s", secret, log)
		}
	}
	if !strings.Contains(log, id) || !strings.Contains(log, "bytes="+strconv.Itoa(len(obj))) {
		t.Errorf("log = %s; want the message id and size", log)
	}
}

func TestDeliver_invokesWithS3Event(t *testing.T) {
	client := fakeS3(t)
	inv := &invocations{}
	r, _ := newReceiver(client, inv)
	if err := r.Deliver(testSession(), smtpd.Envelope{From: "jens@example.dk", To: []string{"demo-contact@in.localhost"}, Data: testMessage}); err != nil {
		t.Fatalf("Deliver = %v; want nil", err)
	}
	evs := inv.got()
	if len(evs) != 1 {
		t.Fatalf("Invoke calls = %d; want 1", len(evs))
	}
	ev := evs[0]
	rec := ev.Records[0]
	key := rec.S3.Object.URLDecodedKey
	obj, head := getObject(t, client, key)

	checks := []struct {
		name      string
		got, want any
	}{
		{"eventVersion", rec.EventVersion, "2.1"},
		{"eventSource", rec.EventSource, "aws:s3"},
		{"eventName", rec.EventName, "ObjectCreated:Put"},
		{"awsRegion", rec.AWSRegion, "eu-west-1"},
		{"eventTime", rec.EventTime, testNow},
		{"s3.bucket.name", rec.S3.Bucket.Name, testBucket},
		{"s3.bucket.arn", rec.S3.Bucket.Arn, "arn:aws:s3:::" + testBucket},
		{"s3.object.key", rec.S3.Object.Key, EscapeKey(key)},
		{"s3.object.size", rec.S3.Object.Size, int64(len(obj))},
		{"s3.object.size", rec.S3.Object.Size, aws.ToInt64(head.ContentLength)},
		{"s3.object.eTag", rec.S3.Object.ETag, strings.Trim(aws.ToString(head.ETag), `"`)},
		{"s3.object.eTag", rec.S3.Object.ETag, md5hex(obj)},
		{"userIdentity.principalId", strings.HasPrefix(rec.PrincipalID.PrincipalID, "AWS:"), true},
		{"s3.s3SchemaVersion", rec.S3.SchemaVersion, "1.0"},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("event %s = %v; want %v", c.name, c.got, c.want)
		}
	}
	if rec.ResponseElements["x-amz-request-id"] == "" || rec.ResponseElements["x-amz-id-2"] == "" {
		t.Errorf("event responseElements = %v; want x-amz-request-id and x-amz-id-2", rec.ResponseElements)
	}

	// Through JSON, as the Lambda runtime delivers it: both encoding/json and MarshalEvent decode back to ev.
	for name, marshal := range map[string]func(events.S3Event) ([]byte, error){
		"json.Marshal": func(e events.S3Event) ([]byte, error) { return json.Marshal(e) },
		"MarshalEvent": MarshalEvent,
	} {
		b, err := marshal(ev)
		if err != nil {
			t.Fatalf("%s(event) = %v", name, err)
		}
		var back events.S3Event
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("json.Unmarshal(%s) = %v", b, err)
		}
		if !reflect.DeepEqual(back, ev) {
			t.Errorf("json.Unmarshal(%s(event)) = %+v; want %+v", name, back, ev)
		}
	}
}

func md5hex(b []byte) string {
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

func TestDeliver_invokeErrorIsLogged(t *testing.T) {
	client := fakeS3(t)
	inv := &invocations{err: errors.New("handler exploded")}
	r, logs := newReceiver(client, inv)
	if err := r.Deliver(testSession(), smtpd.Envelope{From: "jens@example.dk", To: []string{"demo-contact@in.localhost"}, Data: testMessage}); err != nil {
		t.Fatalf("Deliver with failing Invoke = %v; want nil (the message is stored)", err)
	}
	if !strings.Contains(logs.String(), "handler exploded") {
		t.Errorf("log = %s; want the handler's error", logs)
	}
	if len(inv.got()) != 1 {
		t.Errorf("Invoke calls = %d; want 1", len(inv.got()))
	}
}

// failingS3 fails every PutObject.
type failingS3 struct{}

func (failingS3) PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	return nil, errors.New("connection refused")
}

func TestDeliver_putError(t *testing.T) {
	inv := &invocations{}
	r, _ := newReceiver(failingS3{}, inv)
	err := r.Deliver(testSession(), smtpd.Envelope{From: "jens@example.dk", To: []string{"demo-contact@in.localhost"}, Data: testMessage})
	if err == nil || !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), testBucket) {
		t.Fatalf("Deliver with failing S3 = %v; want an error naming the bucket and the cause", err)
	}
	if len(inv.got()) != 0 {
		t.Errorf("Invoke calls = %d; want 0", len(inv.got()))
	}
	if err := New(Options{}).Deliver(context.Background(), smtpd.Envelope{}); err == nil {
		t.Errorf("Deliver without S3 and Bucket = nil; want an error")
	}
}

func TestDeliver_nullSender(t *testing.T) {
	client := fakeS3(t)
	inv := &invocations{}
	r, _ := newReceiver(client, inv)
	// No session in ctx: the client is localhost [127.0.0.1].
	if err := r.Deliver(context.Background(), smtpd.Envelope{From: "", To: []string{"demo-contact@in.localhost"}, Data: []byte("Subject: bounce\r\n\r\nx\r\n")}); err != nil {
		t.Fatalf("Deliver(null sender) = %v", err)
	}
	obj, _ := getObject(t, client, inv.got()[0].Records[0].S3.Object.URLDecodedKey)
	for _, want := range []string{
		"Return-Path: <>\r\n",
		"Received: from localhost (localhost [127.0.0.1])\r\n",
		"envelope-from=postmaster@localhost; helo=localhost;",
		"by domain of localhost)",
		" dmarc=permerror;\r\n",
	} {
		if !bytes.Contains(obj, []byte(want)) {
			t.Errorf("stored message = %q; want it to contain %q", obj, want)
		}
	}
}

func TestDeliver_endToEnd(t *testing.T) {
	client := fakeS3(t)
	inv := &invocations{}
	r, _ := newReceiver(client, inv)
	srv, err := smtpd.Start(smtpd.Options{Addr: "127.0.0.1:0", Deliver: r.Deliver, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("smtpd.Start = %v", err)
	}
	defer srv.Close()

	c, err := smtp.Dial(srv.Addr())
	if err != nil {
		t.Fatalf("smtp.Dial(%q) = %v", srv.Addr(), err)
	}
	defer c.Close()
	if err := c.Hello("laptop.example.dk"); err != nil {
		t.Fatalf("Hello = %v", err)
	}
	if err := c.SendMail("jens@example.dk", []string{"demo-contact@in.localhost"}, bytes.NewReader(testMessage)); err != nil {
		t.Fatalf("SendMail = %v; want nil", err)
	}
	if err := c.Quit(); err != nil {
		t.Fatalf("Quit = %v", err)
	}

	evs := inv.got()
	if len(evs) != 1 {
		t.Fatalf("Invoke calls = %d; want 1", len(evs))
	}
	rec := evs[0].Records[0]
	// The handler finds the object from the event alone, decoding the key as aws-lambda-go does.
	key, err := url.QueryUnescape(rec.S3.Object.Key)
	if err != nil {
		t.Fatalf("url.QueryUnescape(%q) = %v", rec.S3.Object.Key, err)
	}
	obj, _ := getObject(t, client, key)
	if int64(len(obj)) != rec.S3.Object.Size || rec.S3.Bucket.Name != testBucket {
		t.Errorf("event bucket, size = %q, %d; want %q, %d", rec.S3.Bucket.Name, rec.S3.Object.Size, testBucket, len(obj))
	}
	names, block, rest := splitHeaders(t, obj)
	if !reflect.DeepEqual(names, sesFields) || !bytes.Equal(rest, testMessage) {
		t.Errorf("stored object = %q; want SES's headers %q then the sent message", obj, sesFields)
	}
	if !strings.Contains(block, "Received: from laptop.example.dk (localhost [127.0.0.1])\r\n") {
		t.Errorf("SES headers = %s; want the client's HELO name and address", block)
	}
}

func TestEscapeKey_cases(t *testing.T) {
	tests := []struct{ key, want string }{
		{"inbound/o3vrnil0e2ic28trm7dfhrc2v0clambda4nbp0g01", "inbound/o3vrnil0e2ic28trm7dfhrc2v0clambda4nbp0g01"},
		{"Happy Face.jpg", "Happy+Face.jpg"},
		{"a+b", "a%2Bb"},
		{"x=y&z", "x%3Dy%26z"},
		{"blåbær/ø", "bl%C3%A5b%C3%A6r/%C3%B8"},
		{"a*b_c-d.e~f", "a*b_c-d.e%7Ef"},
		{"100%", "100%25"},
	}
	for _, tt := range tests {
		got := EscapeKey(tt.key)
		if got != tt.want {
			t.Errorf("EscapeKey(%q) = %q; want %q", tt.key, got, tt.want)
		}
		if back, err := url.QueryUnescape(got); err != nil || back != tt.key {
			t.Errorf("url.QueryUnescape(EscapeKey(%q)) = %q, %v; want %q", tt.key, back, err, tt.key)
		}
	}
}

func TestNewMessageID_shape(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		id, err := NewMessageID()
		if err != nil {
			t.Fatalf("NewMessageID() = %v", err)
		}
		if !messageIDPattern.MatchString(id) || seen[id] {
			t.Fatalf("NewMessageID() = %q; want a new id matching %s", id, messageIDPattern)
		}
		seen[id] = true
	}
	// Ids from real SES-stored messages have the same shape. (The AWS documentation's example
	// o3vrnil0e2ic28trm7dfhrc2v0clambda4nbp0g01, used by the fixtures, has 41 characters: made up.)
	for _, id := range []string{
		"vm1p3c6jenrgbr944ldf0ljraep1ndp19hbclt01", "c03a910s725ttuumg11lbdokbqvueu0ac0f8pcg1",
		"17at0jiq08p0449huhf16qsmdi6sa1ltm069t801", "0djjbjnln9enbpi8tn5l6i5sidp14n2m8iagee81",
	} {
		if !messageIDPattern.MatchString(id) {
			t.Errorf("pattern %s does not match real id %q", messageIDPattern, id)
		}
	}
}

func TestBodyHash_cases(t *testing.T) {
	empty := "frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=" // RFC 6376: simple canonicalization of an empty body
	tests := []struct{ msg, want string }{
		{"Subject: x\r\n\r\n", empty},
		{"Subject: x\r\n", empty},
		{"Subject: x\r\n\r\n\r\n\r\n", empty},
		{"Subject: x\r\n\r\nhej\r\n", bodyHash([]byte("Subject: y\r\n\r\nhej\r\n\r\n\r\n"))},
		{"Subject: x\n\nhej\n", bodyHash([]byte("Subject: x\r\n\r\nhej\r\n"))},
	}
	for _, tt := range tests {
		if got := bodyHash([]byte(tt.msg)); got != tt.want {
			t.Errorf("bodyHash(%q) = %q; want %q", tt.msg, got, tt.want)
		}
	}
}

func TestEvent_matchesS3Shape(t *testing.T) {
	at := time.Date(2026, 11, 23, 12, 0, 0, 412_345_678, time.UTC)
	ev := Event("eu-west-1", "leadvault-inbound-local", "inbound/a b", 1234, "0123456789abcdef0123456789abcdef", at)
	if again := Event("eu-west-1", "leadvault-inbound-local", "inbound/a b", 1234, "0123456789abcdef0123456789abcdef", at); !reflect.DeepEqual(ev, again) {
		t.Errorf("Event(...) twice = %+v, %+v; want equal", ev, again)
	}
	b, err := MarshalEvent(ev)
	if err != nil {
		t.Fatalf("MarshalEvent = %v", err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("json.Unmarshal(%s) = %v", b, err)
	}
	rec := got["Records"].([]any)[0].(map[string]any)
	if rec["eventTime"] != "2026-11-23T12:00:00.412Z" {
		t.Errorf("eventTime = %v; want %q", rec["eventTime"], "2026-11-23T12:00:00.412Z")
	}
	obj := rec["s3"].(map[string]any)["object"].(map[string]any)
	if obj["key"] != "inbound/a+b" {
		t.Errorf("s3.object.key = %v; want %q", obj["key"], "inbound/a+b")
	}
	if _, ok := obj["urlDecodedKey"]; ok {
		t.Errorf("s3.object has urlDecodedKey; S3 does not send it")
	}

	// Same fields as aws-lambda-go's own sample (which has a versionId: the bucket is versioned there).
	sample := map[string]any{}
	if err := json.Unmarshal([]byte(lambdaSample), &sample); err != nil {
		t.Fatalf("json.Unmarshal(sample) = %v", err)
	}
	gotKeys, wantKeys := keyPaths("", got), keyPaths("", sample)
	delete(wantKeys, "Records.s3.object.versionId")
	if !reflect.DeepEqual(gotKeys, wantKeys) {
		t.Errorf("event fields = %v; want %v", gotKeys, wantKeys)
	}

	// Field order as S3 writes it.
	s := string(b)
	order := []string{`"eventVersion"`, `"eventSource"`, `"awsRegion"`, `"eventTime"`, `"eventName"`, `"userIdentity"`,
		`"requestParameters"`, `"responseElements"`, `"x-amz-request-id"`, `"x-amz-id-2"`, `"s3"`, `"s3SchemaVersion"`,
		`"configurationId"`, `"bucket"`, `"name"`, `"ownerIdentity"`, `"arn"`, `"object"`, `"key"`, `"size"`, `"eTag"`, `"sequencer"`}
	last := -1
	for _, f := range order {
		i := strings.Index(s, f)
		if i <= last {
			t.Errorf("MarshalEvent: %s at %d, not after the previous field (%d) in %s", f, i, last, s)
		}
		last = i
	}
}

// keyPaths returns the dotted paths of all object keys in v (arrays are looked through).
func keyPaths(prefix string, v any) map[string]bool {
	out := map[string]bool{}
	switch v := v.(type) {
	case map[string]any:
		for k, child := range v {
			p := strings.TrimPrefix(prefix+"."+k, ".")
			out[p] = true
			for q := range keyPaths(p, child) {
				out[q] = true
			}
		}
	case []any:
		for _, child := range v {
			for q := range keyPaths(prefix, child) {
				out[q] = true
			}
		}
	}
	return out
}

// lambdaSample is aws-lambda-go v1.55.1's events/testdata/s3-event.json.
const lambdaSample = `{
  "Records": [
    {
      "eventVersion": "2.0",
      "eventSource": "aws:s3",
      "awsRegion": "us-east-1",
      "eventTime": "1970-01-01T00:00:00.123Z",
      "eventName": "ObjectCreated:Put",
      "userIdentity": {
        "principalId": "EXAMPLE"
      },
      "requestParameters": {
        "sourceIPAddress": "127.0.0.1"
      },
      "responseElements": {
        "x-amz-request-id": "C3D13FE58DE4C810",
        "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD"
      },
      "s3": {
        "s3SchemaVersion": "1.0",
        "configurationId": "testConfigRule",
        "bucket": {
          "name": "sourcebucket",
          "ownerIdentity": {
            "principalId": "EXAMPLE"
          },
          "arn": "arn:aws:s3:::mybucket"
        },
        "object": {
          "key": "Happy%20Face.jpg",
          "size": 1024,
          "versionId": "version",
          "eTag": "d41d8cd98f00b204e9800998ecf8427e",
          "sequencer": "Happy Sequencer"
        }
      }
    }
  ]
}`
