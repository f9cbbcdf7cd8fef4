package standins

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/johannesboyne/gofakes3"
)

// s3Disk is the S3 stand-in's storage: a gofakes3.Backend that keeps every object in one file of its
// own, body first and its metadata in a trailer, under dir/buckets/<bucket>/<sha256 of the key>.
//
// It replaces gofakes3's bundled persistent backends because both are unsound for us: s3bolt hands out
// slices of bolt's memory map after their transaction has ended (a remap in between faults the whole
// process, which is what took `make run` down on CopyObject), and s3afero truncates an object's file in
// place on overwrite (a concurrent GET reads a torn body), maps keys onto directories (a key "a" and a
// key "a/b" cannot both exist) and cannot read objects whose metadata file is missing after a crash.
//
// Here a put streams into a temporary file, syncs it and renames it over the object's file under the
// index lock, so readers see the old or the new object whole: an open file keeps its contents after a
// rename or unlink. Keys are hashed into file names, so any S3 key works. An in-memory index, rebuilt from
// the trailers on open, answers HEAD and LIST; the body is only read by GET and COPY, from a file opened
// under the lock. A lock file keeps two stacks off one directory.
type s3Disk struct {
	dir  string
	lock *os.File // holds the flock; closing it releases the lock

	mu      sync.RWMutex
	buckets map[string]*diskBucket
}

// diskBucket is one bucket in the index.
type diskBucket struct {
	created time.Time
	objects map[string]*diskObject
}

// diskObject is an object's entry in the index and, as JSON, its file's trailer. An entry is never
// changed once in the index: a put replaces it.
type diskObject struct {
	Key      string            `json:"key"`
	Size     int64             `json:"size"`
	MD5      []byte            `json:"md5"`
	Modified time.Time         `json:"modified"`
	Meta     map[string]string `json:"meta"`

	file string
}

// The trailer ends every object file: JSON, its length (4 bytes, big endian) and diskMagic.
const (
	diskMagic       = "LVS3"
	diskTrailerSize = 4 + len(diskMagic)
	// diskMaxTrailer bounds the JSON trailer read on open (gofakes3 limits metadata to 2 KiB).
	diskMaxTrailer = 1 << 20
	diskTempPrefix = ".tmp-"
	diskCreated    = ".created"
)

// errLocked says another process holds a stand-in's lock.
var errLocked = errors.New("locked by another process")

// openS3Disk opens (creating if needed) the store in dir, takes its lock and loads the index. Leftover
// temporary files of interrupted puts are removed; an object file that is not whole fails the open
// with its path, rather than being dropped silently.
func openS3Disk(dir string) (*s3Disk, error) {
	root := filepath.Join(dir, "buckets")
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("s3 data: %w", err)
	}
	lockPath := filepath.Join(dir, "lock")
	lock, err := tryLockFile(lockPath)
	if err != nil {
		return nil, fmt.Errorf("s3 data: %s: %w", lockPath, err)
	}
	d := &s3Disk{dir: root, lock: lock, buckets: map[string]*diskBucket{}}
	if err := d.load(); err != nil {
		lock.Close()
		return nil, fmt.Errorf("s3 data in %s: %w", root, err)
	}
	return d, nil
}

// tryLockFile takes an exclusive flock on path without waiting; errLocked if another process has it.
func tryLockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errLocked
		}
		return nil, fmt.Errorf("lock: %w", err)
	}
	return f, nil
}

// Close releases the lock. Objects are on disk as soon as each put returns.
func (d *s3Disk) Close() error {
	return d.lock.Close()
}

func (d *s3Disk) load() error {
	entries, err := os.ReadDir(d.dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		name := e.Name()
		if err := gofakes3.ValidateBucketName(name); err != nil {
			return fmt.Errorf("%s is not a bucket: %w", filepath.Join(d.dir, name), err)
		}
		b, err := d.loadBucket(name)
		if err != nil {
			return err
		}
		d.buckets[name] = b
	}
	return nil
}

func (d *s3Disk) loadBucket(name string) (*diskBucket, error) {
	dir := filepath.Join(d.dir, name)
	b := &diskBucket{objects: map[string]*diskObject{}}
	if data, err := os.ReadFile(filepath.Join(dir, diskCreated)); err == nil {
		if b.created, err = time.Parse(time.RFC3339Nano, strings.TrimSpace(string(data))); err != nil {
			return nil, fmt.Errorf("bucket %s: creation time: %w", name, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		switch {
		case e.Name() == diskCreated:
			continue
		case strings.HasPrefix(e.Name(), diskTempPrefix):
			// A put that never finished: S3 never acknowledged it, so it is not an object.
			if err := os.Remove(path); err != nil {
				return nil, err
			}
			continue
		}
		o, err := readTrailer(path)
		if err != nil {
			return nil, fmt.Errorf("%s is not a whole object (remove it to go on without it): %w", path, err)
		}
		if objectFileName(o.Key) != e.Name() {
			return nil, fmt.Errorf("%s holds key %q, which belongs in another file", path, o.Key)
		}
		o.file = path
		b.objects[o.Key] = o
	}
	if b.created.IsZero() {
		b.created = time.Now().UTC()
	}
	return b, nil
}

// readTrailer reads an object file's trailer and checks it against the file's size.
func readTrailer(path string) (*diskObject, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() < int64(diskTrailerSize) {
		return nil, fmt.Errorf("%d bytes, too short for a trailer", fi.Size())
	}
	tail := make([]byte, diskTrailerSize)
	if _, err := f.ReadAt(tail, fi.Size()-int64(diskTrailerSize)); err != nil {
		return nil, err
	}
	if string(tail[4:]) != diskMagic {
		return nil, errors.New("no trailer mark")
	}
	n := int64(binary.BigEndian.Uint32(tail[:4]))
	if n > diskMaxTrailer || n > fi.Size()-int64(diskTrailerSize) {
		return nil, fmt.Errorf("trailer length %d does not fit", n)
	}
	js := make([]byte, n)
	if _, err := f.ReadAt(js, fi.Size()-int64(diskTrailerSize)-n); err != nil {
		return nil, err
	}
	var o diskObject
	if err := json.Unmarshal(js, &o); err != nil {
		return nil, fmt.Errorf("trailer: %w", err)
	}
	if o.Size != fi.Size()-int64(diskTrailerSize)-n {
		return nil, fmt.Errorf("trailer says %d body bytes, the file has %d", o.Size, fi.Size()-int64(diskTrailerSize)-n)
	}
	return &o, nil
}

// objectFileName is the file name of key: its SHA-256, so any key (slashes, "..", very long) is one
// flat file name.
func objectFileName(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:])
}

func (d *s3Disk) ListBuckets() ([]gofakes3.BucketInfo, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := make([]gofakes3.BucketInfo, 0, len(d.buckets))
	for _, name := range slices.Sorted(maps.Keys(d.buckets)) {
		out = append(out, gofakes3.BucketInfo{Name: name, CreationDate: gofakes3.NewContentTime(d.buckets[name].created)})
	}
	return out, nil
}

// ListBucket lists in key order as S3 does: keys under prefix, those with the delimiter after the
// prefix rolled up into common prefixes, from after page.Marker (a key or a common prefix), at most
// page.MaxKeys entries (0: all).
func (d *s3Disk) ListBucket(name string, prefix *gofakes3.Prefix, page gofakes3.ListBucketPage) (*gofakes3.ObjectList, error) {
	var pre, delim string
	if prefix != nil {
		pre = prefix.Prefix
		if prefix.HasDelimiter {
			delim = prefix.Delimiter
		}
	}
	d.mu.RLock()
	b := d.buckets[name]
	if b == nil {
		d.mu.RUnlock()
		return nil, gofakes3.BucketNotFound(name)
	}
	var matched []*diskObject
	for key, o := range b.objects {
		if strings.HasPrefix(key, pre) {
			matched = append(matched, o)
		}
	}
	d.mu.RUnlock()
	slices.SortFunc(matched, func(a, b *diskObject) int { return strings.Compare(a.Key, b.Key) })

	list := gofakes3.NewObjectList()
	count, lastPrefix := int64(0), ""
	for _, o := range matched {
		entry := o.Key
		common := false
		if delim != "" {
			if i := strings.Index(o.Key[len(pre):], delim); i >= 0 {
				entry, common = o.Key[:len(pre)+i+len(delim)], true
			}
		}
		if common && entry == lastPrefix {
			continue
		}
		if page.HasMarker && entry <= page.Marker {
			continue
		}
		if page.MaxKeys > 0 && count == page.MaxKeys {
			list.IsTruncated = true
			break
		}
		if common {
			list.AddPrefix(entry)
			lastPrefix = entry
		} else {
			list.Add(&gofakes3.Content{
				Key:          o.Key,
				LastModified: gofakes3.NewContentTime(o.Modified),
				ETag:         gofakes3.FormatETag(o.MD5),
				Size:         o.Size,
				StorageClass: "STANDARD",
			})
		}
		list.NextMarker = entry
		count++
	}
	if !list.IsTruncated {
		list.NextMarker = ""
	}
	return list, nil
}

func (d *s3Disk) CreateBucket(name string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.buckets[name] != nil {
		return gofakes3.ResourceError(gofakes3.ErrBucketAlreadyExists, name)
	}
	dir := filepath.Join(d.dir, name)
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create bucket %s: %w", name, err)
	}
	created := time.Now().UTC()
	if err := writeFileAtomic(filepath.Join(dir, diskCreated), []byte(created.Format(time.RFC3339Nano)+"\n"), 0o600); err != nil {
		return fmt.Errorf("create bucket %s: %w", name, err)
	}
	d.buckets[name] = &diskBucket{created: created, objects: map[string]*diskObject{}}
	return nil
}

func (d *s3Disk) BucketExists(name string) (bool, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.buckets[name] != nil, nil
}

func (d *s3Disk) DeleteBucket(name string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	b := d.buckets[name]
	switch {
	case b == nil:
		return gofakes3.BucketNotFound(name)
	case len(b.objects) > 0:
		return gofakes3.ResourceError(gofakes3.ErrBucketNotEmpty, name)
	}
	return d.removeBucketLocked(name)
}

func (d *s3Disk) ForceDeleteBucket(name string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.buckets[name] == nil {
		return gofakes3.BucketNotFound(name)
	}
	return d.removeBucketLocked(name)
}

func (d *s3Disk) removeBucketLocked(name string) error {
	if err := os.RemoveAll(filepath.Join(d.dir, name)); err != nil {
		return fmt.Errorf("delete bucket %s: %w", name, err)
	}
	delete(d.buckets, name)
	return nil
}

// object returns the index entry of bucket/key or S3's error for a missing bucket or key.
func (d *s3Disk) objectLocked(bucket, key string) (*diskObject, error) {
	b := d.buckets[bucket]
	if b == nil {
		return nil, gofakes3.BucketNotFound(bucket)
	}
	o := b.objects[key]
	if o == nil {
		return nil, gofakes3.KeyNotFound(key)
	}
	return o, nil
}

func (d *s3Disk) HeadObject(bucket, key string) (*gofakes3.Object, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	o, err := d.objectLocked(bucket, key)
	if err != nil {
		return nil, err
	}
	return &gofakes3.Object{Name: key, Metadata: maps.Clone(o.Meta), Size: o.Size, Hash: o.MD5,
		Contents: io.NopCloser(bytes.NewReader(nil))}, nil
}

func (d *s3Disk) GetObject(bucket, key string, rangeRequest *gofakes3.ObjectRangeRequest) (*gofakes3.Object, error) {
	// Opened under the lock, the file is the version the entry describes, whatever puts come later.
	d.mu.RLock()
	o, err := d.objectLocked(bucket, key)
	var f *os.File
	if err == nil {
		f, err = os.Open(o.file)
	}
	d.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	rnge, err := rangeRequest.Range(o.Size)
	if err != nil {
		f.Close()
		return nil, err
	}
	start, length := int64(0), o.Size
	if rnge != nil {
		start, length = rnge.Start, rnge.Length
	}
	return &gofakes3.Object{Name: key, Metadata: maps.Clone(o.Meta), Size: o.Size, Hash: o.MD5, Range: rnge,
		Contents: fileSection{SectionReader: io.NewSectionReader(f, start, length), f: f}}, nil
}

// fileSection reads part of a file and closes the file.
type fileSection struct {
	*io.SectionReader
	f *os.File
}

func (s fileSection) Close() error { return s.f.Close() }

// PutObject stores the object whole or not at all. Unlike gofakes3's bundled backends it does not carry
// an overwritten object's metadata over: a PUT replaces the object, metadata included, as on S3.
func (d *s3Disk) PutObject(bucket, key string, meta map[string]string, input io.Reader, size int64, conditions *gofakes3.PutConditions) (gofakes3.PutObjectResult, error) {
	var result gofakes3.PutObjectResult
	if ok, _ := d.BucketExists(bucket); !ok {
		return result, gofakes3.BucketNotFound(bucket)
	}
	dir := filepath.Join(d.dir, bucket)
	tmp, err := os.CreateTemp(dir, diskTempPrefix+"*")
	if err != nil {
		return result, fmt.Errorf("put %s/%s: %w", bucket, key, err)
	}
	committed := false
	defer func() {
		if !committed {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := md5.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), input)
	if err != nil {
		return result, err
	}
	if size >= 0 && n != size {
		return result, gofakes3.ErrIncompleteBody
	}
	o := &diskObject{Key: key, Size: n, MD5: h.Sum(nil), Modified: time.Now().UTC(), Meta: maps.Clone(meta),
		file: filepath.Join(dir, objectFileName(key))}
	js, err := json.Marshal(o)
	if err != nil {
		return result, fmt.Errorf("put %s/%s: %w", bucket, key, err)
	}
	trailer := binary.BigEndian.AppendUint32(js, uint32(len(js)))
	trailer = append(trailer, diskMagic...)
	if _, err := tmp.Write(trailer); err != nil {
		return result, fmt.Errorf("put %s/%s: %w", bucket, key, err)
	}
	// Synced before the rename, so a crash leaves the old object or the new one, never a torn file.
	if err := tmp.Sync(); err != nil {
		return result, fmt.Errorf("put %s/%s: %w", bucket, key, err)
	}
	if err := tmp.Close(); err != nil {
		return result, fmt.Errorf("put %s/%s: %w", bucket, key, err)
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	b := d.buckets[bucket]
	if b == nil {
		return result, gofakes3.BucketNotFound(bucket)
	}
	if conditions != nil {
		info := &gofakes3.ConditionalObjectInfo{}
		if old := b.objects[key]; old != nil {
			info.Exists, info.Hash = true, old.MD5
		}
		if err := gofakes3.CheckPutConditions(conditions, info); err != nil {
			return result, err
		}
	}
	if err := os.Rename(tmp.Name(), o.file); err != nil {
		return result, fmt.Errorf("put %s/%s: %w", bucket, key, err)
	}
	committed = true
	b.objects[key] = o
	return result, nil
}

// copyOnlyHeaders are request headers of a copy that gofakes3 passes on as metadata but that describe
// the request, not the new object.
var copyOnlyHeaders = []string{"X-Amz-Copy-Source", "X-Amz-Copy-Source-Range", "X-Amz-Metadata-Directive"}

func (d *s3Disk) CopyObject(srcBucket, srcKey, dstBucket, dstKey string, meta map[string]string) (gofakes3.CopyObjectResult, error) {
	src, err := d.GetObject(srcBucket, srcKey, nil)
	if err != nil {
		return gofakes3.CopyObjectResult{}, err
	}
	defer src.Contents.Close()
	meta = maps.Clone(meta)
	for _, h := range copyOnlyHeaders {
		delete(meta, h)
	}
	if _, err := d.PutObject(dstBucket, dstKey, meta, src.Contents, src.Size, nil); err != nil {
		return gofakes3.CopyObjectResult{}, err
	}
	return gofakes3.CopyObjectResult{ETag: gofakes3.FormatETag(src.Hash), LastModified: gofakes3.NewContentTime(time.Now().UTC())}, nil
}

func (d *s3Disk) DeleteObject(bucket, key string) (gofakes3.ObjectDeleteResult, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.buckets[bucket] == nil {
		return gofakes3.ObjectDeleteResult{}, gofakes3.BucketNotFound(bucket)
	}
	return gofakes3.ObjectDeleteResult{}, d.deleteLocked(bucket, key)
}

// deleteLocked removes bucket/key; a missing key is no error, as on S3.
func (d *s3Disk) deleteLocked(bucket, key string) error {
	b := d.buckets[bucket]
	o := b.objects[key]
	if o == nil {
		return nil
	}
	if err := os.Remove(o.file); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s/%s: %w", bucket, key, err)
	}
	delete(b.objects, key)
	return nil
}

func (d *s3Disk) DeleteMulti(bucket string, keys ...string) (gofakes3.MultiDeleteResult, error) {
	var result gofakes3.MultiDeleteResult
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.buckets[bucket] == nil {
		return result, gofakes3.BucketNotFound(bucket)
	}
	for _, key := range keys {
		if err := d.deleteLocked(bucket, key); err != nil {
			result.Error = append(result.Error, gofakes3.ErrorResult{Key: key, Code: gofakes3.ErrInternal, Message: gofakes3.ErrInternal.Message()})
			continue
		}
		result.Deleted = append(result.Deleted, gofakes3.ObjectID{Key: key})
	}
	return result, nil
}

var _ gofakes3.Backend = (*s3Disk)(nil)
