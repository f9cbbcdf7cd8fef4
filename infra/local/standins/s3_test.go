package standins

// Every S3 call the project makes, through the real SDK client and the router, against the S3 stand-in
// exactly as `make run` runs it (s3Disk; here in the shared stack's temporary directory):
//   - PutObject with SSE-KMS, SSEKMSKeyId, ContentType and metadata (notify, sesinbound);
//   - HeadObject, GetObject whole and with Range (mailintake reads, downloads);
//   - CopyObject with an escaped CopySource and SSE-KMS (mailintake's quarantine), also many at once
//     interleaved with large puts (the store growing under copies is what crashed s3bolt);
//   - DeleteObject, and GetObject of a deleted key failing with NoSuchKey (mailintake's duplicate check);
//   - ListObjectsV2 with prefix, delimiter and pagination; DeleteObjects (shared/sweep, run here too);
//   - presigned GET fetched with net/http, as a browser or curl would.
// Survival across a stop and start on one DataDir is in TestStart_persistentDataDir.

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"leadvault/shared/sweep"
)

// newBucket creates a fresh bucket on the shared stack, as the local stack provisions its buckets.
func newBucket(t *testing.T, c *s3.Client, name string) string {
	t.Helper()
	bucket := unique(name)
	if _, err := c.CreateBucket(ctxFor(t), &s3.CreateBucketInput{
		Bucket:                    aws.String(bucket),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraintEuNorth1},
	}); err != nil {
		t.Fatalf("CreateBucket(%q) = %v", bucket, err)
	}
	return bucket
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func md5hex(b []byte) string {
	h := md5.Sum(b)
	return hex.EncodeToString(h[:])
}

// putKMS puts body at key with SSE-KMS on the stage key, as notify and sesinbound do.
func putKMS(ctx context.Context, c *s3.Client, bucket, key string, body []byte) error {
	_, err := c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body),
		ContentLength:        aws.Int64(int64(len(body))),
		ContentType:          aws.String("message/rfc822"),
		ServerSideEncryption: s3types.ServerSideEncryptionAwsKms, SSEKMSKeyId: aws.String(stack.KeyARN),
	})
	if err != nil {
		return fmt.Errorf("PutObject(%s) = %w", key, err)
	}
	return nil
}

// copyKMS copies key to dst as mailintake's quarantine does: CopySource with the key path-escaped.
func copyKMS(ctx context.Context, c *s3.Client, bucket, key, dst string) (*s3.CopyObjectOutput, error) {
	out, err := c.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(dst),
		CopySource:           aws.String(bucket + "/" + url.PathEscape(key)),
		ServerSideEncryption: s3types.ServerSideEncryptionAwsKms, SSEKMSKeyId: aws.String(stack.KeyARN),
	})
	if err != nil {
		return nil, fmt.Errorf("CopyObject(%s → %s) = %w", key, dst, err)
	}
	return out, nil
}

func readBody(t *testing.T, out *s3.GetObjectOutput) []byte {
	t.Helper()
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return b
}

func TestS3_objectLifecycle(t *testing.T) {
	c := clients(t, stack).S3()
	ctx := ctxFor(t)
	bucket := newBucket(t, c, "leadvault-inbound")
	body := randomBytes(100 << 10)
	key := "inbound/0123456789abcdef message"

	if _, err := c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body),
		ContentType:          aws.String("message/rfc822"),
		Metadata:             map[string]string{"tenant": "demo", "purpose": "inbound"},
		ServerSideEncryption: s3types.ServerSideEncryptionAwsKms, SSEKMSKeyId: aws.String(stack.KeyARN),
	}); err != nil {
		t.Fatalf("PutObject(%q) = %v", key, err)
	}

	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("HeadObject(%q) = %v", key, err)
	}
	wantETag := `"` + md5hex(body) + `"`
	if aws.ToInt64(head.ContentLength) != int64(len(body)) || aws.ToString(head.ETag) != wantETag ||
		aws.ToString(head.ContentType) != "message/rfc822" || head.LastModified == nil {
		t.Errorf("HeadObject(%q) = length %d, ETag %s, type %q, modified %v; want %d, %s, message/rfc822, a time",
			key, aws.ToInt64(head.ContentLength), aws.ToString(head.ETag), aws.ToString(head.ContentType), head.LastModified, len(body), wantETag)
	}
	if head.ServerSideEncryption != s3types.ServerSideEncryptionAwsKms || aws.ToString(head.SSEKMSKeyId) != stack.KeyARN {
		t.Errorf("HeadObject(%q) SSE = %q, %q; want aws:kms, %q", key, head.ServerSideEncryption, aws.ToString(head.SSEKMSKeyId), stack.KeyARN)
	}
	if head.Metadata["tenant"] != "demo" || head.Metadata["purpose"] != "inbound" {
		t.Errorf("HeadObject(%q) metadata = %v; want tenant=demo, purpose=inbound", key, head.Metadata)
	}

	t.Run("get whole and ranges", func(t *testing.T) {
		tests := []struct {
			rng        string
			start, end int // the bytes wanted, end exclusive
		}{
			{rng: "", start: 0, end: len(body)},
			{rng: "bytes=0-0", start: 0, end: 1},
			{rng: "bytes=10-4105", start: 10, end: 4106},
			{rng: "bytes=-100", start: len(body) - 100, end: len(body)},
			{rng: "bytes=102000-", start: 102000, end: len(body)},
		}
		for _, tc := range tests {
			in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
			if tc.rng != "" {
				in.Range = aws.String(tc.rng)
			}
			out, err := c.GetObject(ctx, in)
			if err != nil {
				t.Fatalf("GetObject(%q, Range %q) = %v", key, tc.rng, err)
			}
			got := readBody(t, out)
			if !bytes.Equal(got, body[tc.start:tc.end]) {
				t.Errorf("GetObject(%q, Range %q) = %d bytes; want bytes %d-%d of the object", key, tc.rng, len(got), tc.start, tc.end-1)
			}
			wantRange := ""
			if tc.rng != "" {
				wantRange = fmt.Sprintf("bytes %d-%d/%d", tc.start, tc.end-1, len(body))
			}
			if aws.ToString(out.ContentRange) != wantRange {
				t.Errorf("GetObject(%q, Range %q) Content-Range = %q; want %q", key, tc.rng, aws.ToString(out.ContentRange), wantRange)
			}
		}
		_, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Range: aws.String(fmt.Sprintf("bytes=%d-", len(body)+10))})
		if err == nil {
			t.Errorf("GetObject(%q) with a range past the end = nil error; want InvalidRange", key)
		}
	})

	// The quarantine path: server-side copy with SSE-KMS, then delete the original.
	dst := "quarantine/0123456789abcdef message"
	cp, err := copyKMS(ctx, c, bucket, key, dst)
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(cp.CopyObjectResult.ETag) != wantETag {
		t.Errorf("CopyObject ETag = %s; want %s", aws.ToString(cp.CopyObjectResult.ETag), wantETag)
	}
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); err != nil {
		t.Fatalf("DeleteObject(%q) = %v", key, err)
	}
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(dst)})
	if err != nil {
		t.Fatalf("GetObject(%q) = %v", dst, err)
	}
	if got := readBody(t, out); !bytes.Equal(got, body) {
		t.Errorf("GetObject(%q) = %d bytes; want the %d bytes copied", dst, len(got), len(body))
	}
	if out.ServerSideEncryption != s3types.ServerSideEncryptionAwsKms || aws.ToString(out.SSEKMSKeyId) != stack.KeyARN ||
		aws.ToString(out.ContentType) != "message/rfc822" || out.Metadata["tenant"] != "demo" {
		t.Errorf("GetObject(%q) = SSE %q %q, type %q, metadata %v; want the source's type and metadata with aws:kms on %q",
			dst, out.ServerSideEncryption, aws.ToString(out.SSEKMSKeyId), aws.ToString(out.ContentType), out.Metadata, stack.KeyARN)
	}

	// A redelivered event finds the original gone: mailintake tells that by NoSuchKey.
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	var missing *s3types.NoSuchKey
	if !errors.As(err, &missing) {
		t.Errorf("GetObject(%q) after delete = %v; want NoSuchKey", key, err)
	}
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	var notFound *s3types.NotFound
	if !errors.As(err, &notFound) {
		t.Errorf("HeadObject(%q) after delete = %v; want NotFound", key, err)
	}
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); err != nil {
		t.Errorf("DeleteObject(%q) again = %v; want nil, as S3 answers", key, err)
	}
	_, err = copyKMS(ctx, c, bucket, key, "quarantine/other")
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "NoSuchKey" {
		t.Errorf("CopyObject of a deleted key = %v; want NoSuchKey", err)
	}
}

func TestS3_listObjectsV2(t *testing.T) {
	c := clients(t, stack).S3()
	ctx := ctxFor(t)
	bucket := newBucket(t, c, "leadvault-sent")
	keys := []string{
		"inbound/a", "inbound/b", "inbound/c",
		"quarantine/a",
		"sent/2026/12/01/09/demo/l1.eml", "sent/2026/12/01/09/demo/l2.eml", "sent/2026/12/01/10/acme/l3.eml", "sent/2026/12/02/00/demo/l4.eml",
		"top.txt",
	}
	for _, k := range keys {
		if err := putKMS(ctx, c, bucket, k, []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name              string
		prefix, delimiter string
		pageSize          int32
		want              []string // keys, then common prefixes
		wantPages         int
	}{
		{name: "all", want: keys, wantPages: 1},
		{name: "all by 2", pageSize: 2, want: keys, wantPages: 5},
		{name: "prefix", prefix: "sent/", want: keys[4:8], wantPages: 1},
		{name: "prefix by 3", prefix: "sent/2026/12/01/", pageSize: 3, want: keys[4:7], wantPages: 1},
		{name: "prefix by 1", prefix: "inbound/", pageSize: 1, want: keys[0:3], wantPages: 3},
		{name: "delimiter", delimiter: "/", want: []string{"top.txt", "inbound/", "quarantine/", "sent/"}, wantPages: 1},
		{name: "delimiter by 1", delimiter: "/", pageSize: 1, want: []string{"top.txt", "inbound/", "quarantine/", "sent/"}, wantPages: 4},
		{name: "prefix and delimiter", prefix: "sent/2026/12/", delimiter: "/", want: []string{"sent/2026/12/01/", "sent/2026/12/02/"}, wantPages: 1},
		{name: "partial prefix", prefix: "sent/2026/12/0", delimiter: "/", want: []string{"sent/2026/12/01/", "sent/2026/12/02/"}, wantPages: 1},
		{name: "no match", prefix: "exports/", want: nil, wantPages: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := &s3.ListObjectsV2Input{Bucket: aws.String(bucket)}
			if tc.prefix != "" {
				in.Prefix = aws.String(tc.prefix)
			}
			if tc.delimiter != "" {
				in.Delimiter = aws.String(tc.delimiter)
			}
			if tc.pageSize > 0 {
				in.MaxKeys = aws.Int32(tc.pageSize)
			}
			var gotKeys, gotPrefixes []string
			pages := 0
			for p := s3.NewListObjectsV2Paginator(c, in); p.HasMorePages(); {
				page, err := p.NextPage(ctx)
				if err != nil {
					t.Fatalf("ListObjectsV2 page %d = %v", pages+1, err)
				}
				pages++
				for _, o := range page.Contents {
					gotKeys = append(gotKeys, aws.ToString(o.Key))
					if aws.ToInt64(o.Size) != int64(len(aws.ToString(o.Key))) || aws.ToString(o.ETag) != `"`+md5hex([]byte(aws.ToString(o.Key)))+`"` || o.LastModified == nil {
						t.Errorf("ListObjectsV2 entry %q = size %d, ETag %s, modified %v; want its own size, MD5 and a time", aws.ToString(o.Key), aws.ToInt64(o.Size), aws.ToString(o.ETag), o.LastModified)
					}
				}
				for _, cp := range page.CommonPrefixes {
					gotPrefixes = append(gotPrefixes, aws.ToString(cp.Prefix))
				}
				if pages > 20 {
					t.Fatal("ListObjectsV2 pagination does not end")
				}
			}
			got := append(gotKeys, gotPrefixes...)
			if !slices.Equal(got, tc.want) || pages != tc.wantPages {
				t.Errorf("ListObjectsV2(prefix %q, delimiter %q, max %d) = %q in %d pages; want %q in %d",
					tc.prefix, tc.delimiter, tc.pageSize, got, pages, tc.want, tc.wantPages)
			}
		})
	}
}

func TestS3_deleteObjects(t *testing.T) {
	c := clients(t, stack).S3()
	ctx := ctxFor(t)
	bucket := newBucket(t, c, "leadvault-sent")
	for _, k := range []string{"sent/1", "sent/2", "sent/3", "keep/1"} {
		if err := putKMS(ctx, c, bucket, k, []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	ids := []s3types.ObjectIdentifier{{Key: aws.String("sent/1")}, {Key: aws.String("sent/2")}, {Key: aws.String("sent/never-was")}}
	out, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(bucket), Delete: &s3types.Delete{Objects: ids}})
	if err != nil {
		t.Fatalf("DeleteObjects = %v", err)
	}
	var deleted []string
	for _, d := range out.Deleted {
		deleted = append(deleted, aws.ToString(d.Key))
	}
	slices.Sort(deleted)
	if want := []string{"sent/1", "sent/2", "sent/never-was"}; !slices.Equal(deleted, want) || len(out.Errors) != 0 {
		t.Errorf("DeleteObjects = deleted %q, errors %v; want %q and no errors", deleted, out.Errors, want)
	}
	quiet, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(bucket),
		Delete: &s3types.Delete{Objects: []s3types.ObjectIdentifier{{Key: aws.String("sent/3")}}, Quiet: aws.Bool(true)}})
	if err != nil || len(quiet.Errors) != 0 {
		t.Fatalf("DeleteObjects(quiet) = %v, errors %v", err, quiet.Errors)
	}
	list, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatalf("ListObjectsV2 = %v", err)
	}
	if len(list.Contents) != 1 || aws.ToString(list.Contents[0].Key) != "keep/1" {
		t.Errorf("ListObjectsV2 after DeleteObjects = %d objects; want only keep/1", len(list.Contents))
	}
}

// TestS3_sweeperDeletes runs the lifecycle sweeper itself over more than one list page (1,000 keys).
func TestS3_sweeperDeletes(t *testing.T) {
	c := clients(t, stack).S3()
	ctx := ctxFor(t)
	bucket := newBucket(t, c, "leadvault-sent")
	const swept = 1003
	var keys []string
	for i := range swept {
		keys = append(keys, fmt.Sprintf("sent/2026/12/01/09/demo/lead-%04d.eml", i))
	}
	keys = append(keys, "inbound/kept-1", "inbound/kept-2")
	putAll(t, c, bucket, keys, 64)

	sw := sweep.New(c, []sweep.Target{{Bucket: bucket, Prefix: "sent/", MaxAge: sweep.MaxAge}}, slog.New(slog.DiscardHandler))
	rep, err := sw.WithClock(func() time.Time { return time.Now().Add(time.Hour) }).Run(ctx)
	if err != nil || rep.Examined != swept || rep.Deleted != 0 {
		t.Errorf("sweep of fresh objects = %+v, %v; want %d examined, none deleted", rep, err, swept)
	}
	rep, err = sw.WithClock(func() time.Time { return time.Now().Add(sweep.MaxAge) }).Run(ctx)
	if err != nil || rep.Examined != swept || rep.Deleted != swept {
		t.Errorf("sweep a day later = %+v, %v; want %d examined and deleted", rep, err, swept)
	}
	list, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatalf("ListObjectsV2 = %v", err)
	}
	var left []string
	for _, o := range list.Contents {
		left = append(left, aws.ToString(o.Key))
	}
	if want := []string{"inbound/kept-1", "inbound/kept-2"}; !slices.Equal(left, want) {
		t.Errorf("objects left after the sweep = %q; want %q", left, want)
	}
}

// putAll puts each key (its own name as the body) with a few requests at once.
func putAll(t *testing.T, c *s3.Client, bucket string, keys []string, bodySize int) {
	t.Helper()
	ctx := ctxFor(t)
	work := make(chan string)
	errs := make(chan error, len(keys))
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for k := range work {
				if err := putKMS(ctx, c, bucket, k, randomBytes(bodySize)); err != nil {
					errs <- err
				}
			}
		})
	}
	for _, k := range keys {
		work <- k
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestS3_copiesInterleavedWithGrowingPuts is the crash scenario through the SDK and the router:
// quarantine copies of many objects, several at once, each copy and each put growing the store (s3bolt
// faulted when a write remapped its file while a copy still held the source's hash from the old
// mapping). TestS3Disk_copiesWhileStoreGrows drives the backend directly, hard enough to fault s3bolt.
func TestS3_copiesInterleavedWithGrowingPuts(t *testing.T) {
	c := clients(t, stack).S3()
	ctx := ctxFor(t)
	bucket := newBucket(t, c, "leadvault-inbound")
	const workers, rounds = 4, 12
	type copied struct {
		key, md5 string
	}
	results := make(chan copied, workers*rounds)
	errs := make(chan error, workers*rounds)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range rounds {
				id := fmt.Sprintf("w%d-%03d", w, i)
				// Ever larger mails (128 KiB to 1.5 MiB), none deleted until the end: about 80 MiB in all.
				mail := randomBytes((i+1)<<17 + 997*w)
				if err := putKMS(ctx, c, bucket, "inbound/"+id, mail); err != nil {
					errs <- err
					return
				}
				if _, err := copyKMS(ctx, c, bucket, "inbound/"+id, "quarantine/"+id); err != nil {
					errs <- err
					return
				}
				results <- copied{key: "quarantine/" + id, md5: md5hex(mail)}
			}
		})
	}
	wg.Wait()
	close(errs)
	close(results)
	for err := range errs {
		t.Error(err)
	}
	n := 0
	for r := range results {
		n++
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(r.key)})
		if err != nil {
			t.Errorf("GetObject(%s) = %v", r.key, err)
			continue
		}
		if got := md5hex(readBody(t, out)); got != r.md5 {
			t.Errorf("GetObject(%s) MD5 = %s; want %s, the original's", r.key, got, r.md5)
		}
	}
	if n != workers*rounds {
		t.Errorf("%d copies made; want %d", n, workers*rounds)
	}
	// Then the mailintake step after a copy, for all at once: the originals go, the copies stay.
	var ids []s3types.ObjectIdentifier
	for w := range workers {
		for i := range rounds {
			ids = append(ids, s3types.ObjectIdentifier{Key: aws.String(fmt.Sprintf("inbound/w%d-%03d", w, i))})
		}
	}
	if _, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(bucket), Delete: &s3types.Delete{Objects: ids, Quiet: aws.Bool(true)}}); err != nil {
		t.Fatalf("DeleteObjects(inbound/) = %v", err)
	}
	for prefix, want := range map[string]int{"inbound/": 0, "quarantine/": workers * rounds} {
		list, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
		if err != nil || len(list.Contents) != want {
			t.Errorf("ListObjectsV2(%s) after the run = %d objects, %v; want %d", prefix, len(list.Contents), err, want)
		}
	}
}

func TestS3_presignedDownload(t *testing.T) {
	c := clients(t, stack).S3()
	ctx := ctxFor(t)
	bucket := newBucket(t, c, "leadvault-exports")
	body := randomBytes(300 << 10)
	key := "exports/demo/leads 2026-12.csv"
	if err := putKMS(ctx, c, bucket, key, body); err != nil {
		t.Fatal(err)
	}
	presign := s3.NewPresignClient(c)
	tests := []struct {
		name       string
		key        string
		rng        string
		wantStatus int
		want       []byte
	}{
		{name: "whole", key: key, wantStatus: http.StatusOK, want: body},
		{name: "range", key: key, rng: "bytes=1000-1999", wantStatus: http.StatusPartialContent, want: body[1000:2000]},
		{name: "missing", key: "exports/demo/none.csv", wantStatus: http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(tc.key),
				ResponseContentDisposition: aws.String(`attachment; filename="leads.csv"`)}, s3.WithPresignExpires(5*time.Minute))
			if err != nil {
				t.Fatalf("PresignGetObject(%q) = %v", tc.key, err)
			}
			// As a browser would: a plain GET of the URL, no SDK, no signing headers.
			hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, req.URL, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.rng != "" {
				hreq.Header.Set("Range", tc.rng)
			}
			resp, err := http.DefaultClient.Do(hreq)
			if err != nil {
				t.Fatalf("GET presigned %q: %v", tc.key, err)
			}
			defer resp.Body.Close()
			got, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatalf("read presigned %q: %v", tc.key, err)
			}
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("GET presigned %q = %d %.200s; want %d", tc.key, resp.StatusCode, got, tc.wantStatus)
			}
			if tc.want == nil {
				if !strings.Contains(string(got), "NoSuchKey") {
					t.Errorf("GET presigned %q body = %.200s; want a NoSuchKey error", tc.key, got)
				}
				return
			}
			if !bytes.Equal(got, tc.want) {
				t.Errorf("GET presigned %q = %d bytes; want %d", tc.key, len(got), len(tc.want))
			}
			if cd := resp.Header.Get("Content-Disposition"); cd != `attachment; filename="leads.csv"` {
				t.Errorf("GET presigned %q Content-Disposition = %q; want the one asked for in the URL", tc.key, cd)
			}
		})
	}
}
