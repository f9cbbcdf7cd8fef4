// Package sesinbound does locally what SES email receiving does on AWS for Leadvault's inbound domain:
// for each message the SMTP stand-in (package smtpd) accepts, it makes an SES message id, prepends the
// headers SES adds when its receipt rule's S3 action stores a message, writes the result to
// <Prefix><message id> in the inbound bucket with SSE-KMS, and calls the email-intake handler with the
// events.S3Event the bucket's ObjectCreated notification would send.
//
// The added header block has SES's fields in SES's order, with SES's folding and CRLF line ends:
//
//	Return-Path: <sender@example.dk>
//	Received: from client.helo (localhost [127.0.0.1])
//	 by inbound-smtp.eu-west-1.amazonaws.com with SMTP id df8tr1mjp2nu25i082pkhtp43bjk9bd76rrld501
//	 for demo-contact@in.localhost;
//	 Mon, 23 Nov 2026 12:00:00 +0000 (UTC)
//	X-SES-Spam-Verdict: PASS
//	X-SES-Virus-Verdict: PASS
//	Received-SPF: none (spfCheck: 127.0.0.1 is neither permitted nor denied by domain of example.dk) client-ip=127.0.0.1; envelope-from=sender@example.dk; helo=client.helo;
//	Authentication-Results: amazonses.com;
//	 spf=none (spfCheck: 127.0.0.1 is neither permitted nor denied by domain of example.dk) client-ip=127.0.0.1; envelope-from=sender@example.dk; helo=client.helo;
//	 dkim=none;
//	 dmarc=none header.from=example.dk;
//	X-SES-RECEIPT: <opaque base64>
//	X-SES-DKIM-SIGNATURE: a=rsa-sha256; q=dns/txt; b=<opaque>; c=relaxed/simple; s=<selector>; d=amazonses.com; t=<unix time>; v=1; bh=<body hash>; h=From:To:Cc:Bcc:Subject:Date:Message-ID:MIME-Version:Content-Type:X-SES-RECEIPT;
//
// The verdicts are fixed (nothing is scanned or looked up locally); X-SES-RECEIPT and the signature's
// b= are random, bh= is the real relaxed/simple body hash.
//
// On AWS the Lambda invocation is asynchronous; here Deliver calls Invoke itself, logs its error and
// does not retry (Lambda would retry an asynchronous invocation twice). Only a failed S3 write fails
// Deliver, which the SMTP server answers with a temporary failure.
//
// Not modelled: receipt-rule recipient matching, spam/virus/SPF/DKIM/DMARC checks, the
// AMAZON_SES_SETUP_NOTIFICATION object SES writes when the rule is created, and the S3 action's own
// KmsKeyArn, which on AWS means client-side (S3 encryption client) encryption rather than SSE-KMS.
package sesinbound

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"leadvault/infra/local/smtpd"
)

// DefaultRegion is the receiving region used when Options.Region is empty.
const DefaultRegion = "eu-west-1"

// Fixed identities in the events this package makes. On AWS they are the writer's IAM principal, the
// bucket owner's canonical id and the notification configuration's id; the handler only reads the
// bucket and object.
const (
	PrincipalID     = "AWS:AIDAJDPLRKLG7UEXAMPLE"
	OwnerID         = "A3NL1KOZZKEXAMPLE"
	ConfigurationID = "ZW1haWwtaW50YWtlLW9iamVjdC1jcmVhdGVk" // base64("email-intake-object-created"), CDK-style
	SourceIPAddress = "127.0.0.1"
)

// dkimSelector stands in for SES's per-region X-SES-DKIM-SIGNATURE selector (32 lower-case letters and
// digits, like "224i4yxa5dv7c2xz3womw6peuasteono").
const dkimSelector = "localsesinbounddkimselector00000"

// S3API is the part of the S3 client Deliver uses; *s3.Client satisfies it.
type S3API interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

// Options configures New.
type Options struct {
	// S3 writes the messages.
	S3 S3API
	// Bucket is the receipt rule S3 action's bucket.
	Bucket string
	// Prefix is the S3 action's object key prefix, e.g. "inbound/"; the key is Prefix + message id.
	Prefix string
	// KMSKeyID is the SSE-KMS key (id or ARN); empty means SSE-KMS with the AWS-managed aws/s3 key.
	KMSKeyID string
	// Region is the SES receiving region, default DefaultRegion: it names the inbound-smtp host in the
	// Received header and is the event's awsRegion.
	Region string
	// Invoke is the email-intake handler; nil stores the message without invoking anything.
	Invoke func(ctx context.Context, ev events.S3Event) error
	// Now is the clock, default time.Now.
	Now func() time.Time
	// Log receives one line per message (ids and sizes only); nil means slog.Default().
	Log *slog.Logger
}

// Receiver stores accepted messages as SES does. It is safe for concurrent use.
type Receiver struct {
	o Options
}

// New returns a Receiver with o's defaults filled in.
func New(o Options) *Receiver {
	if o.Region == "" {
		o.Region = DefaultRegion
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return &Receiver{o: o}
}

// Deliver stores env as SES would and invokes the handler with the S3 notification; it is usable as
// smtpd.Options.Deliver. The SMTP client and its HELO name come from smtpd.SessionFrom(ctx), with
// localhost [127.0.0.1] when ctx has none. It returns an error only when the message could not be
// stored; the handler's error is logged.
func (r *Receiver) Deliver(ctx context.Context, env smtpd.Envelope) error {
	if r.o.S3 == nil || r.o.Bucket == "" {
		return errors.New("sesinbound: Options.S3 and Options.Bucket are required")
	}
	id, err := NewMessageID()
	if err != nil {
		return err
	}
	head, err := Headers(id, r.o.Region, client(ctx), env, r.o.Now())
	if err != nil {
		return err
	}
	obj := make([]byte, 0, len(head)+len(env.Data))
	obj = append(append(obj, head...), env.Data...)
	key := r.o.Prefix + id

	in := &s3.PutObjectInput{
		Bucket:               aws.String(r.o.Bucket),
		Key:                  aws.String(key),
		Body:                 bytes.NewReader(obj),
		ContentLength:        aws.Int64(int64(len(obj))),
		ServerSideEncryption: s3types.ServerSideEncryptionAwsKms,
	}
	if r.o.KMSKeyID != "" {
		in.SSEKMSKeyId = aws.String(r.o.KMSKeyID)
	}
	out, err := r.o.S3.PutObject(ctx, in)
	if err != nil {
		r.o.Log.Warn("sesinbound: store failed", "message_id", id, "err", err)
		return fmt.Errorf("sesinbound: store message %s in s3://%s/%s: %w", id, r.o.Bucket, key, err)
	}
	session, _ := smtpd.SessionFrom(ctx)
	r.o.Log.Info("sesinbound: message stored", "message_id", id, "session", session.ID, "key", key,
		"bytes", len(obj), "recipients", len(env.To))

	if r.o.Invoke == nil {
		return nil
	}
	ev := Event(r.o.Region, r.o.Bucket, key, int64(len(obj)), strings.Trim(aws.ToString(out.ETag), `"`), r.o.Now())
	// The notification carries the PUT's own request ids, as S3's does.
	if reqID, ok := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata); ok && reqID != "" {
		ev.Records[0].ResponseElements["x-amz-request-id"] = reqID
	}
	if hostID, ok := s3.GetHostIDMetadata(out.ResultMetadata); ok && hostID != "" {
		ev.Records[0].ResponseElements["x-amz-id-2"] = hostID
	}
	start := time.Now()
	if err := r.o.Invoke(ctx, ev); err != nil {
		r.o.Log.Error("sesinbound: email-intake failed", "message_id", id, "key", key, "err", err)
		return nil
	}
	r.o.Log.Info("sesinbound: email-intake done", "message_id", id, "ms", time.Since(start).Milliseconds())
	return nil
}

// Client is the SMTP client named in the Received and SPF headers.
type Client struct {
	// Hostname is the client's EHLO/HELO name.
	Hostname string
	// IP is the client's address.
	IP net.IP
	// Name is the IP's reverse-DNS name; "" means localhost for a loopback IP and "unknown" otherwise
	// (nothing is looked up locally).
	Name string
}

// client returns the SMTP client of ctx's session, or localhost at 127.0.0.1.
func client(ctx context.Context) Client {
	c := Client{Hostname: "localhost", IP: net.IPv4(127, 0, 0, 1)}
	s, ok := smtpd.SessionFrom(ctx)
	if !ok {
		return c
	}
	if s.Hostname != "" {
		c.Hostname = s.Hostname
	}
	if tcp, ok := s.RemoteAddr.(*net.TCPAddr); ok && tcp.IP != nil {
		c.IP = tcp.IP
	}
	return c
}

// NewMessageID returns a new SES message id: 40 characters of lower-case base32hex (0-9, a-v), like
// "df8tr1mjp2nu25i082pkhtp43bjk9bd76rrld501". Real ids encode 25 bytes whose last one is 1, which is
// why they end in "01", "81", "g1" or "o1"; these do too.
func NewMessageID() (string, error) {
	b := make([]byte, 25)
	if _, err := rand.Read(b[:24]); err != nil {
		return "", fmt.Errorf("sesinbound: message id: %w", err)
	}
	b[24] = 1
	return strings.ToLower(base32.HexEncoding.WithPadding(base32.NoPadding).EncodeToString(b)), nil
}

// receivedDate is the layout of the date in SES's Received header: "Mon, 23 Nov 2026 12:00:00 +0000 (UTC)".
const receivedDate = "Mon, 02 Jan 2006 15:04:05 -0700 (MST)"

// Headers returns the header block SES prepends to a message it stores in S3, in SES's order and
// folding, each line ending in CRLF. id is the SES message id, region the receiving region, c the SMTP
// client and at the time of receipt.
func Headers(id, region string, c Client, env smtpd.Envelope, at time.Time) ([]byte, error) {
	at = at.UTC()
	helo := clean(c.Hostname)
	ip := c.IP.String()
	from := clean(env.From)
	envFrom, spfDomain := from, domainOf(from)
	if from == "" { // the null sender: SPF checks the HELO identity
		envFrom, spfDomain = "postmaster@"+helo, helo
	}
	spf := "none (spfCheck: " + ip + " is neither permitted nor denied by domain of " + spfDomain + ") client-ip=" +
		ip + "; envelope-from=" + envFrom + "; helo=" + helo + ";"
	dmarc := "dmarc=permerror;"
	if d := headerFromDomain(env.Data); d != "" {
		dmarc = "dmarc=none header.from=" + d + ";"
	}
	receipt, err := random(256)
	if err != nil {
		return nil, err
	}
	sig, err := random(128) // an RSA-1024 signature's size, as SES's
	if err != nil {
		return nil, err
	}

	var b bytes.Buffer
	line := func(s string) { b.WriteString(s); b.WriteString("\r\n") }
	line("Return-Path: <" + from + ">")
	name := clean(c.Name)
	if name == "" {
		name = reverseName(c.IP)
	}
	line("Received: from " + helo + " (" + name + " [" + ip + "])")
	line(" by inbound-smtp." + region + ".amazonaws.com with SMTP id " + id)
	if len(env.To) > 0 {
		line(" for " + clean(env.To[0]) + ";")
	} else {
		b.Truncate(b.Len() - 2)
		line(";")
	}
	line(" " + at.Format(receivedDate))
	line("X-SES-Spam-Verdict: PASS")
	line("X-SES-Virus-Verdict: PASS")
	line("Received-SPF: " + spf)
	line("Authentication-Results: amazonses.com;")
	line(" spf=" + spf)
	line(" dkim=none;")
	line(" " + dmarc)
	// SES's receipt is base64 of a 0 byte, "AAAAAAAAAAE"-like text and more base64.
	line("X-SES-RECEIPT: " + base64.StdEncoding.EncodeToString([]byte("\x00AAAAAAAAAAE"+base64.StdEncoding.EncodeToString(receipt))))
	line("X-SES-DKIM-SIGNATURE: a=rsa-sha256; q=dns/txt; b=" + base64.StdEncoding.EncodeToString(sig) +
		"; c=relaxed/simple; s=" + dkimSelector + "; d=amazonses.com; t=" + strconv.FormatInt(at.Unix(), 10) +
		"; v=1; bh=" + bodyHash(env.Data) +
		"; h=From:To:Cc:Bcc:Subject:Date:Message-ID:MIME-Version:Content-Type:X-SES-RECEIPT;")
	return b.Bytes(), nil
}

// random returns n random bytes for an opaque header value.
func random(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("sesinbound: random header value: %w", err)
	}
	return b, nil
}

// clean removes characters that would break a header line.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == 0 {
			return -1
		}
		return r
	}, s)
}

// domainOf returns the part of addr after its last "@", lower-cased.
func domainOf(addr string) string {
	if at := strings.LastIndexByte(addr, '@'); at >= 0 {
		return strings.ToLower(addr[at+1:])
	}
	return ""
}

// reverseName is the name the Received header shows for ip when Client.Name is empty.
func reverseName(ip net.IP) string {
	if ip.IsLoopback() {
		return "localhost"
	}
	return "unknown"
}

// headerFromDomain returns the domain of the message's From header (DMARC's header.from), or "".
func headerFromDomain(data []byte) string {
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		return ""
	}
	from := msg.Header.Get("From")
	if addr, err := mail.ParseAddress(from); err == nil {
		return domainOf(addr.Address)
	}
	// An unparseable display name: take the address between the last angle brackets.
	if i := strings.LastIndexByte(from, '<'); i >= 0 {
		from = from[i+1:]
	}
	return clean(strings.TrimSpace(strings.TrimSuffix(domainOf(strings.TrimSpace(from)), ">")))
}

// bodyHash is DKIM's bh= for "simple" body canonicalization (RFC 6376 section 3.4.3): the body with
// CRLF line ends and no trailing empty lines, ending in one CRLF, hashed with SHA-256.
func bodyHash(data []byte) string {
	body := []byte{}
	if i := bytes.Index(data, []byte("\r\n\r\n")); i >= 0 {
		body = data[i+4:]
	} else if i := bytes.Index(data, []byte("\n\n")); i >= 0 {
		body = data[i+2:]
	}
	body = bytes.ReplaceAll(bytes.ReplaceAll(body, []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r\n"))
	for bytes.HasSuffix(body, []byte("\r\n")) {
		body = body[:len(body)-2]
	}
	body = append(body, "\r\n"...)
	sum := sha256.Sum256(body)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// Event returns the notification S3 sends for a PutObject of key (unescaped) in bucket: one record with
// eventVersion "2.1", eventName "ObjectCreated:Put", eventTime at (UTC, to the millisecond) and the
// object key URL-encoded as S3 encodes it (see EscapeKey). The request ids and sequencer are derived
// from the arguments, so the same arguments give the same event. URLDecodedKey is set to key, as
// aws-lambda-go's JSON decoding would set it.
func Event(region, bucket, key string, size int64, etag string, at time.Time) events.S3Event {
	seed := sha512.Sum512([]byte(region + "\x00" + bucket + "\x00" + key + "\x00" + etag + "\x00" + at.UTC().Format(time.RFC3339Nano)))
	return events.S3Event{Records: []events.S3EventRecord{{
		EventVersion:      "2.1",
		EventSource:       "aws:s3",
		AWSRegion:         region,
		EventTime:         at.UTC().Truncate(time.Millisecond),
		EventName:         "ObjectCreated:Put",
		PrincipalID:       events.S3UserIdentity{PrincipalID: PrincipalID},
		RequestParameters: events.S3RequestParameters{SourceIPAddress: SourceIPAddress},
		ResponseElements: map[string]string{
			"x-amz-request-id": strings.ToUpper(hex.EncodeToString(seed[:8])),
			"x-amz-id-2":       base64.StdEncoding.EncodeToString(seed[8:64]),
		},
		S3: events.S3Entity{
			SchemaVersion:   "1.0",
			ConfigurationID: ConfigurationID,
			Bucket: events.S3Bucket{
				Name:          bucket,
				OwnerIdentity: events.S3UserIdentity{PrincipalID: OwnerID},
				Arn:           "arn:aws:s3:::" + bucket,
			},
			Object: events.S3Object{
				Key:           EscapeKey(key),
				Size:          size,
				URLDecodedKey: key,
				ETag:          etag,
				Sequencer:     fmt.Sprintf("00%016X", uint64(at.UnixNano())),
			},
		},
	}}}
}

// EscapeKey URL-encodes an object key the way S3 event notifications do (form encoding, as Java's
// URLEncoder): letters, digits, '.', '-', '_', '*' and '/' stay, a space becomes '+', every other byte
// of the UTF-8 key becomes %XX. url.QueryUnescape, which aws-lambda-go uses, reverses it.
func EscapeKey(key string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '.', c == '-', c == '_', c == '*', c == '/':
			b.WriteByte(c)
		case c == ' ':
			b.WriteByte('+')
		default:
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		}
	}
	return b.String()
}

// MarshalEvent returns ev as S3 sends it: fields in S3's order, eventTime with milliseconds,
// versionId only when set, and no urlDecodedKey (aws-lambda-go's own field). encoding/json on an
// events.S3Event differs in those points; both decode to the same events.S3Event.
func MarshalEvent(ev events.S3Event) ([]byte, error) {
	type object struct {
		Key       string `json:"key"`
		Size      int64  `json:"size"`
		ETag      string `json:"eTag"`
		VersionID string `json:"versionId,omitempty"`
		Sequencer string `json:"sequencer"`
	}
	type record struct {
		EventVersion      string                     `json:"eventVersion"`
		EventSource       string                     `json:"eventSource"`
		AWSRegion         string                     `json:"awsRegion"`
		EventTime         string                     `json:"eventTime"`
		EventName         string                     `json:"eventName"`
		UserIdentity      events.S3UserIdentity      `json:"userIdentity"`
		RequestParameters events.S3RequestParameters `json:"requestParameters"`
		ResponseElements  json.RawMessage            `json:"responseElements"`
		S3                struct {
			SchemaVersion   string          `json:"s3SchemaVersion"`
			ConfigurationID string          `json:"configurationId"`
			Bucket          events.S3Bucket `json:"bucket"`
			Object          object          `json:"object"`
		} `json:"s3"`
	}
	out := struct {
		Records []record `json:"Records"`
	}{Records: make([]record, 0, len(ev.Records))}
	for _, r := range ev.Records {
		elems, err := responseElements(r.ResponseElements)
		if err != nil {
			return nil, err
		}
		w := record{
			EventVersion:      r.EventVersion,
			EventSource:       r.EventSource,
			AWSRegion:         r.AWSRegion,
			EventTime:         r.EventTime.UTC().Format("2006-01-02T15:04:05.000Z"),
			EventName:         r.EventName,
			UserIdentity:      r.PrincipalID,
			RequestParameters: r.RequestParameters,
			ResponseElements:  elems,
		}
		w.S3.SchemaVersion = r.S3.SchemaVersion
		w.S3.ConfigurationID = r.S3.ConfigurationID
		w.S3.Bucket = r.S3.Bucket
		o := r.S3.Object
		w.S3.Object = object{Key: o.Key, Size: o.Size, ETag: o.ETag, VersionID: o.VersionID, Sequencer: o.Sequencer}
		out.Records = append(out.Records, w)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("sesinbound: marshal S3 event: %w", err)
	}
	return b, nil
}

// responseElements encodes m with x-amz-request-id and x-amz-id-2 first, as S3 orders them, then
// any other keys sorted.
func responseElements(m map[string]string) (json.RawMessage, error) {
	keys := make([]string, 0, len(m))
	for k := range m {
		if k != "x-amz-request-id" && k != "x-amz-id-2" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range []string{"x-amz-id-2", "x-amz-request-id"} {
		if _, ok := m[k]; ok {
			keys = append([]string{k}, keys...)
		}
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kj, err := json.Marshal(k)
		if err != nil {
			return nil, fmt.Errorf("sesinbound: marshal response element %q: %w", k, err)
		}
		vj, err := json.Marshal(m[k])
		if err != nil {
			return nil, fmt.Errorf("sesinbound: marshal response element %q: %w", k, err)
		}
		b.Write(kj)
		b.WriteByte(':')
		b.Write(vj)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}
