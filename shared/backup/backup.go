// Package backup restores the table without bringing erased or purged people back (obligations E12, S13,
// S16/T4). On AWS a restore is DynamoDB point-in-time recovery (or an AWS Backup recovery point) into a new
// table; where neither exists (DynamoDB Local, and as a portable copy on AWS) a logical backup is an export
// of the table to S3 in DynamoDB's own export format under SSE-KMS, and a restore imports it into a new
// table. Both paths end in the same steps (Finish): the settings a restore does not carry (TTL, stream,
// PITR), the replay of the live table's erasure and purge ledgers, a count of the items and a walk of
// every tenant's audit chain, and a report of what to switch.
package backup

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"

	"leadvault/shared/audit"
	"leadvault/shared/store"
)

// DB is what a backup and a restore need of DynamoDB.
// The restored table is read and written through the store and the audit log, so it has their methods too.
type DB interface {
	store.TableAdmin
	store.DynamoDB
	RestoreTableToPointInTime(ctx context.Context, in *dynamodb.RestoreTableToPointInTimeInput, opts ...func(*dynamodb.Options)) (*dynamodb.RestoreTableToPointInTimeOutput, error)
	UpdateContinuousBackups(ctx context.Context, in *dynamodb.UpdateContinuousBackupsInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateContinuousBackupsOutput, error)
}

// Objects is what a logical backup needs of S3.
type Objects interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
}

var (
	_ DB      = (*dynamodb.Client)(nil)
	_ Objects = (*s3.Client)(nil)
)

// ItemsPerFile is how many items one data file of a logical backup holds.
const ItemsPerFile = 5000

// Summary is an export's manifest-summary.json, in DynamoDB's format (the fields a restore reads).
type Summary struct {
	Version            string    `json:"version"`
	ExportArn          string    `json:"exportArn"`
	StartTime          time.Time `json:"startTime"`
	EndTime            time.Time `json:"endTime"`
	TableArn           string    `json:"tableArn"`
	ExportTime         time.Time `json:"exportTime"`
	S3Bucket           string    `json:"s3Bucket"`
	S3Prefix           string    `json:"s3Prefix"`
	S3SseAlgorithm     string    `json:"s3SseAlgorithm"`
	S3SseKmsKeyID      string    `json:"s3SseKmsKeyId"`
	ManifestFilesS3Key string    `json:"manifestFilesS3Key"`
	BilledSizeBytes    int64     `json:"billedSizeBytes"`
	ItemCount          int       `json:"itemCount"`
	OutputFormat       string    `json:"outputFormat"`
	ExportType         string    `json:"exportType"`
}

// manifestFile is one line of manifest-files.json.
type manifestFile struct {
	ItemCount     int    `json:"itemCount"`
	MD5Checksum   string `json:"md5Checksum,omitempty"`
	ETag          string `json:"etag,omitempty"`
	DataFileS3Key string `json:"dataFileS3Key"`
}

// Export writes a logical backup of table to bucket under prefix, in DynamoDB's export layout
// (<prefix>/AWSDynamoDB/<id>/manifest-summary.json, manifest-files.json, data/<n>.json.gz), every object
// under SSE-KMS with keyID. It returns the summary; its key is SummaryKey(summary).
func Export(ctx context.Context, db DB, objects Objects, table, bucket, prefix, keyID string, now time.Time) (Summary, error) {
	id := now.UTC().Format("20060102T150405Z") + "-" + randomHex(4)
	base := path.Join(prefix, "AWSDynamoDB", id)
	sum := Summary{Version: "2020-06-30", ExportArn: "logical:" + table + "/export/" + id, StartTime: now.UTC(), ExportTime: now.UTC(),
		TableArn: "table/" + table, S3Bucket: bucket, S3Prefix: prefix, S3SseAlgorithm: "KMS", S3SseKmsKeyID: keyID,
		ManifestFilesS3Key: base + "/manifest-files.json", OutputFormat: "DYNAMODB_JSON", ExportType: "FULL_EXPORT"}
	put := func(key, contentType string, body []byte) error {
		_, err := objects.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: bytes.NewReader(body), ContentType: &contentType,
			ServerSideEncryption: s3types.ServerSideEncryptionAwsKms, SSEKMSKeyId: &keyID})
		if err != nil {
			return fmt.Errorf("backup: write %s: %w", key, err)
		}
		return nil
	}
	var files []manifestFile
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	n := 0
	flush := func() error {
		if n == 0 {
			return nil
		}
		if err := zw.Close(); err != nil {
			return err
		}
		key := fmt.Sprintf("%s/data/%05d-%s.json.gz", base, len(files), randomHex(4))
		if err := put(key, "application/gzip", buf.Bytes()); err != nil {
			return err
		}
		files = append(files, manifestFile{ItemCount: n, DataFileS3Key: key})
		sum.BilledSizeBytes += int64(buf.Len())
		buf.Reset()
		zw.Reset(&buf)
		n = 0
		return nil
	}
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: &table, ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return sum, fmt.Errorf("backup: scan %s: %w", table, err)
		}
		for _, item := range page.Items {
			line, err := EncodeItem(item)
			if err != nil {
				return sum, fmt.Errorf("backup: %w", err)
			}
			zw.Write(append(line, '\n'))
			n++
			sum.ItemCount++
			if n == ItemsPerFile {
				if err := flush(); err != nil {
					return sum, err
				}
			}
		}
	}
	if err := flush(); err != nil {
		return sum, err
	}
	var mf bytes.Buffer
	for _, f := range files {
		b, _ := json.Marshal(f)
		mf.Write(append(b, '\n'))
	}
	if err := put(sum.ManifestFilesS3Key, "application/json", mf.Bytes()); err != nil {
		return sum, err
	}
	sum.EndTime = time.Now().UTC()
	b, _ := json.MarshalIndent(sum, "", "  ")
	return sum, put(SummaryKey(sum), "application/json", b)
}

// SummaryKey is where an export's manifest-summary.json lives.
func SummaryKey(s Summary) string {
	return path.Join(path.Dir(s.ManifestFilesS3Key), "manifest-summary.json")
}

// Latest finds the newest logical backup under prefix that started at or before at.
func Latest(ctx context.Context, objects Objects, bucket, prefix string, at time.Time) (Summary, error) {
	p := s3.NewListObjectsV2Paginator(objects, &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: aws.String(path.Join(prefix, "AWSDynamoDB") + "/")})
	var keys []string
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return Summary{}, fmt.Errorf("backup: list %s: %w", bucket, err)
		}
		for _, o := range page.Contents {
			if strings.HasSuffix(aws.ToString(o.Key), "/manifest-summary.json") {
				keys = append(keys, aws.ToString(o.Key))
			}
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(keys))) // export IDs begin with their time
	for _, k := range keys {
		s, err := ReadSummary(ctx, objects, bucket, k)
		if err != nil {
			return Summary{}, err
		}
		if !s.StartTime.After(at) {
			return s, nil
		}
	}
	return Summary{}, fmt.Errorf("backup: no logical backup in s3://%s/%s started at or before %s", bucket, prefix, at.Format(time.RFC3339))
}

// ReadSummary reads an export's manifest-summary.json.
func ReadSummary(ctx context.Context, objects Objects, bucket, key string) (Summary, error) {
	b, err := read(ctx, objects, bucket, key)
	if err != nil {
		return Summary{}, err
	}
	var s Summary
	if err := json.Unmarshal(b, &s); err != nil {
		return Summary{}, fmt.Errorf("backup: %s: %w", key, err)
	}
	return s, nil
}

func read(ctx context.Context, objects Objects, bucket, key string) ([]byte, error) {
	out, err := objects.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		return nil, fmt.Errorf("backup: read %s: %w", key, err)
	}
	defer out.Body.Close()
	return io.ReadAll(out.Body)
}

// Import creates the table into (keys, indexes, stream and TTL as store.CreateTable makes every table) and
// writes every item of the export into it. It returns how many items it wrote.
func Import(ctx context.Context, db DB, objects Objects, sum Summary, into string) (int, error) {
	if err := store.CreateTable(ctx, db, into); err != nil {
		return 0, fmt.Errorf("restore: %w", err)
	}
	mf, err := read(ctx, objects, sum.S3Bucket, sum.ManifestFilesS3Key)
	if err != nil {
		return 0, err
	}
	// Batches of 25 go to ImportWriters writers at once: a restore's time is mostly these writes.
	batches := make(chan []types.WriteRequest)
	g, gctx := errgroup.WithContext(ctx)
	var written atomic.Int64
	for range ImportWriters {
		g.Go(func() error {
			for b := range batches {
				if err := writeBatch(gctx, db, into, b); err != nil {
					return err
				}
				written.Add(int64(len(b)))
			}
			return nil
		})
	}
	err = readItems(gctx, objects, sum, mf, batches)
	close(batches)
	if werr := g.Wait(); err == nil {
		err = werr
	}
	if err != nil {
		return int(written.Load()), err
	}
	if n := int(written.Load()); n != sum.ItemCount {
		return n, fmt.Errorf("restore: wrote %d items; the export holds %d", n, sum.ItemCount)
	}
	return sum.ItemCount, nil
}

// ImportWriters is how many batch writes an import keeps in flight.
const ImportWriters = 8

// readItems reads the export's data files and sends their items in batches of 25.
func readItems(ctx context.Context, objects Objects, sum Summary, manifest []byte, batches chan<- []types.WriteRequest) error {
	sc := bufio.NewScanner(bytes.NewReader(manifest))
	for sc.Scan() {
		var f manifestFile
		if err := json.Unmarshal(sc.Bytes(), &f); err != nil {
			return fmt.Errorf("restore: manifest: %w", err)
		}
		gz, err := read(ctx, objects, sum.S3Bucket, f.DataFileS3Key)
		if err != nil {
			return err
		}
		zr, err := gzip.NewReader(bytes.NewReader(gz))
		if err != nil {
			return fmt.Errorf("restore: %s: %w", f.DataFileS3Key, err)
		}
		lines := bufio.NewScanner(zr)
		lines.Buffer(make([]byte, 0, 1<<20), 1<<22) // an item is at most 400 KB
		var batch []types.WriteRequest
		for lines.Scan() {
			item, err := DecodeItem(lines.Bytes())
			if err != nil {
				return fmt.Errorf("restore: %s: %w", f.DataFileS3Key, err)
			}
			batch = append(batch, types.WriteRequest{PutRequest: &types.PutRequest{Item: item}})
			if len(batch) == 25 {
				select {
				case batches <- batch:
				case <-ctx.Done():
					return ctx.Err()
				}
				batch = nil
			}
		}
		if err := lines.Err(); err != nil {
			return fmt.Errorf("restore: %s: %w", f.DataFileS3Key, err)
		}
		if len(batch) > 0 {
			select {
			case batches <- batch:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return sc.Err()
}

func writeBatch(ctx context.Context, db DB, table string, batch []types.WriteRequest) error {
	req := map[string][]types.WriteRequest{table: batch}
	for attempt := 0; len(req) > 0 && len(batch) > 0; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(attempt*50) * time.Millisecond):
			}
		}
		out, err := db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: req})
		if err != nil {
			return fmt.Errorf("restore: write: %w", err)
		}
		req = out.UnprocessedItems
	}
	return nil
}

// RestorePITR restores the live table as it was at to into a new table, encrypted with keyID, through
// DynamoDB point-in-time recovery, and waits until it is active (minutes to hours on AWS, by size).
func RestorePITR(ctx context.Context, db DB, live, into, keyID string, to time.Time, wait time.Duration) error {
	_, err := db.RestoreTableToPointInTime(ctx, &dynamodb.RestoreTableToPointInTimeInput{
		SourceTableName: &live, TargetTableName: &into, RestoreDateTime: &to,
		SSESpecificationOverride: &types.SSESpecification{Enabled: aws.Bool(true), SSEType: types.SSETypeKms, KMSMasterKeyId: &keyID},
	})
	if err != nil {
		return fmt.Errorf("restore: point in time: %w", err)
	}
	if err := dynamodb.NewTableExistsWaiter(db).Wait(ctx, &dynamodb.DescribeTableInput{TableName: &into}, wait); err != nil {
		return fmt.Errorf("restore: wait for %s: %w", into, err)
	}
	return nil
}

// Options says what Finish does beyond the ledgers and checks.
type Options struct {
	// Settings sets again what a point-in-time or backup restore does not carry: TTL, the stream, deletion
	// protection, PITR.
	// An imported table has them from store.CreateTable already (and DynamoDB Local has no PITR).
	Settings bool
	// Began is when the restore began, for the report's duration.
	Began time.Time
}

// TenantCheck is one tenant's audit chain in the restored table.
type TenantCheck struct {
	Tenant  string
	Records int64
	Intact  bool
	Problem string
}

// Report is what a restore did and found.
type Report struct {
	Table                         string
	Items                         int
	ErasuresReplayed, LeadsErased int
	PurgesReplayed, ItemsPurged   int
	Tenants                       []TenantCheck
	Took                          time.Duration
}

// OK reports whether every audit chain verified.
func (r Report) OK() bool {
	for _, t := range r.Tenants {
		if !t.Intact {
			return false
		}
	}
	return true
}

// Finish completes a restore into the table restored: the settings a restore loses (opts.Settings), then
// the live table's erasure and purge ledgers replayed into it, so no erased subject and no purged tenant
// comes back, then the checks. live is the running system's store, read for its ledgers only.
func Finish(ctx context.Context, db DB, live *store.Store, restored string, opts Options) (Report, error) {
	rep := Report{Table: restored}
	if opts.Settings {
		if _, err := db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: &restored,
			TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String(store.AttrExpiresAt), Enabled: aws.Bool(true)}}); err != nil {
			return rep, fmt.Errorf("restore: ttl: %w", err)
		}
		if _, err := db.UpdateTable(ctx, &dynamodb.UpdateTableInput{TableName: &restored,
			StreamSpecification: &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeKeysOnly}}); err != nil {
			return rep, fmt.Errorf("restore: stream: %w", err)
		}
		if _, err := db.UpdateTable(ctx, &dynamodb.UpdateTableInput{TableName: &restored, DeletionProtectionEnabled: aws.Bool(true)}); err != nil {
			return rep, fmt.Errorf("restore: deletion protection: %w", err)
		}
		if _, err := db.UpdateContinuousBackups(ctx, &dynamodb.UpdateContinuousBackupsInput{TableName: &restored,
			PointInTimeRecoverySpecification: &types.PointInTimeRecoverySpecification{PointInTimeRecoveryEnabled: aws.Bool(true)}}); err != nil {
			return rep, fmt.Errorf("restore: pitr: %w", err)
		}
	}
	rs := store.New(db, restored)
	erasures, err := live.ErasureLedger(ctx)
	if err != nil {
		return rep, err
	}
	er, err := rs.ReplayErasures(ctx, erasures)
	rep.ErasuresReplayed, rep.LeadsErased = er.Entries, er.Erased
	if err != nil {
		return rep, err
	}
	purges, err := live.PurgeLedger(ctx)
	if err != nil {
		return rep, err
	}
	rep.PurgesReplayed = len(purges)
	if rep.ItemsPurged, err = rs.ReplayPurges(ctx, purges); err != nil {
		return rep, err
	}
	out, err := db.Scan(ctx, &dynamodb.ScanInput{TableName: &restored, Select: types.SelectCount})
	for err == nil {
		rep.Items += int(out.Count)
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		out, err = db.Scan(ctx, &dynamodb.ScanInput{TableName: &restored, Select: types.SelectCount, ExclusiveStartKey: out.LastEvaluatedKey})
	}
	if err != nil {
		return rep, fmt.Errorf("restore: count: %w", err)
	}
	tenants, err := rs.TenantIDs(ctx)
	if err != nil {
		return rep, err
	}
	for _, p := range purges {
		tenants = append(tenants, p.Tenant) // a purged tenant's trail stays, and must still verify
	}
	sort.Strings(tenants)
	trail := audit.New(db, restored, 0)
	for i, t := range tenants {
		if i > 0 && tenants[i-1] == t {
			continue
		}
		v, err := trail.Verify(ctx, t)
		if err != nil {
			return rep, fmt.Errorf("restore: verify the audit chain of %s: %w", t, err)
		}
		rep.Tenants = append(rep.Tenants, TenantCheck{Tenant: t, Records: v.Records, Intact: v.Intact(), Problem: v.Problem})
	}
	if !opts.Began.IsZero() {
		rep.Took = time.Since(opts.Began)
	}
	if !rep.OK() {
		return rep, errors.New("restore: an audit chain does not verify; do not switch to this table")
	}
	return rep, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
