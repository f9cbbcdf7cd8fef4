package standins

import (
	"bytes"
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/johannesboyne/gofakes3"
)

// openDisk opens an s3Disk in dir with one bucket, closing it at the end of the test.
func openDisk(t *testing.T, dir string) *s3Disk {
	t.Helper()
	d, err := openS3Disk(dir)
	if err != nil {
		t.Fatalf("openS3Disk(%s) = %v", dir, err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func putString(t *testing.T, d *s3Disk, bucket, key, body string, meta map[string]string) {
	t.Helper()
	if _, err := d.PutObject(bucket, key, meta, strings.NewReader(body), int64(len(body)), nil); err != nil {
		t.Fatalf("PutObject(%s/%s) = %v", bucket, key, err)
	}
}

func getString(t *testing.T, d *s3Disk, bucket, key string) (string, error) {
	t.Helper()
	o, err := d.GetObject(bucket, key, nil)
	if err != nil {
		return "", err
	}
	defer o.Contents.Close()
	b, err := io.ReadAll(o.Contents)
	return string(b), err
}

func isCode(err error, code gofakes3.ErrorCode) bool {
	return gofakes3.HasErrorCode(err, code)
}

func TestS3Disk_reopenKeepsState(t *testing.T) {
	dir := t.TempDir()
	d := openDisk(t, dir)
	if err := d.CreateBucket("bkt"); err != nil {
		t.Fatalf("CreateBucket = %v", err)
	}
	if err := d.CreateBucket("bkt"); !isCode(err, gofakes3.ErrBucketAlreadyExists) {
		t.Errorf("CreateBucket twice = %v; want BucketAlreadyExists", err)
	}
	keys := []string{"plain", "a/b/c.eml", "a", "../escape", "dir/", "x//y", strings.Repeat("k", 1024), "ünïcode ✓"}
	for _, k := range keys {
		putString(t, d, "bkt", k, "body of "+k, map[string]string{"X-Amz-Server-Side-Encryption": "aws:kms", "Content-Type": "text/plain"})
	}
	putString(t, d, "bkt", "plain", "replaced", map[string]string{"Content-Type": "message/rfc822"})
	if _, err := d.DeleteObject("bkt", "a"); err != nil {
		t.Fatalf("DeleteObject = %v", err)
	}
	created := mustBuckets(t, d)[0].CreationDate
	if err := d.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}

	d = openDisk(t, dir)
	if got := mustBuckets(t, d); len(got) != 1 || got[0].Name != "bkt" || !got[0].CreationDate.Equal(created.Time) {
		t.Errorf("ListBuckets after reopen = %+v; want bucket bkt created %v", got, created)
	}
	for _, k := range keys {
		got, err := getString(t, d, "bkt", k)
		switch k {
		case "a":
			if !isCode(err, gofakes3.ErrNoSuchKey) {
				t.Errorf("GetObject(%q) after delete and reopen = %q, %v; want NoSuchKey", k, got, err)
			}
		case "plain":
			if got != "replaced" || err != nil {
				t.Errorf("GetObject(%q) after reopen = %q, %v; want %q", k, got, err, "replaced")
			}
		default:
			if got != "body of "+k || err != nil {
				t.Errorf("GetObject(%q) after reopen = %q, %v; want %q", k, got, err, "body of "+k)
			}
		}
	}
	head, err := d.HeadObject("bkt", "plain")
	if err != nil {
		t.Fatalf("HeadObject = %v", err)
	}
	// A PUT replaces the metadata too: the first put's SSE header must not linger.
	if want := map[string]string{"Content-Type": "message/rfc822"}; !mapsEqual(head.Metadata, want) {
		t.Errorf("HeadObject metadata = %v; want %v", head.Metadata, want)
	}
}

func mustBuckets(t *testing.T, d *s3Disk) []gofakes3.BucketInfo {
	t.Helper()
	b, err := d.ListBuckets()
	if err != nil {
		t.Fatalf("ListBuckets = %v", err)
	}
	return b
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestS3Disk_lockRefusesSecondOpen(t *testing.T) {
	dir := t.TempDir()
	d := openDisk(t, dir)
	if again, err := openS3Disk(dir); !errors.Is(err, errLocked) {
		if again != nil {
			again.Close()
		}
		t.Fatalf("second openS3Disk(%s) = %v; want errLocked", dir, err)
	}
	d.Close()
	openDisk(t, dir) // released by Close
}

func TestS3Disk_openAfterCrash(t *testing.T) {
	tests := []struct {
		name    string
		file    string // written into the bucket's directory
		content string
		wantErr string // "" = opens, and the file is gone
	}{
		{name: "interrupted put", file: diskTempPrefix + "123", content: "half a body"},
		{name: "torn object", file: objectFileName("k"), content: "no trailer here", wantErr: "is not a whole object"},
		{name: "object in wrong file", file: objectFileName("other"), content: "", wantErr: "belongs in another file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			d := openDisk(t, dir)
			if err := d.CreateBucket("bkt"); err != nil {
				t.Fatal(err)
			}
			putString(t, d, "bkt", "k", "kept", nil)
			d.Close()
			content := []byte(tc.content)
			if tc.name == "object in wrong file" {
				var err error
				if content, err = os.ReadFile(filepath.Join(dir, "buckets", "bkt", objectFileName("k"))); err != nil {
					t.Fatal(err)
				}
			}
			path := filepath.Join(dir, "buckets", "bkt", tc.file)
			if err := os.WriteFile(path, content, 0o600); err != nil {
				t.Fatal(err)
			}
			d, err := openS3Disk(dir)
			if tc.wantErr != "" {
				if err == nil {
					d.Close()
					t.Fatalf("openS3Disk with %s = nil error; want %q", tc.name, tc.wantErr)
				}
				if !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), path) {
					t.Errorf("openS3Disk with %s = %v; want it to say %q and name %s", tc.name, err, tc.wantErr, path)
				}
				return
			}
			if err != nil {
				t.Fatalf("openS3Disk with %s = %v", tc.name, err)
			}
			defer d.Close()
			if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s still there after open (stat: %v); want it removed", path, err)
			}
			if got, err := getString(t, d, "bkt", "k"); got != "kept" || err != nil {
				t.Errorf("GetObject(k) = %q, %v; want %q", got, err, "kept")
			}
		})
	}
}

func TestS3Disk_readerKeepsVersionAcrossOverwriteAndDelete(t *testing.T) {
	d := openDisk(t, t.TempDir())
	if err := d.CreateBucket("bkt"); err != nil {
		t.Fatal(err)
	}
	old := strings.Repeat("old-", 64<<10)
	putString(t, d, "bkt", "k", old, nil)
	o, err := d.GetObject("bkt", "k", nil)
	if err != nil {
		t.Fatalf("GetObject = %v", err)
	}
	defer o.Contents.Close()
	first := make([]byte, 10)
	if _, err := io.ReadFull(o.Contents, first); err != nil {
		t.Fatal(err)
	}
	putString(t, d, "bkt", "k", "new", nil)
	rest, err := io.ReadAll(o.Contents)
	if got := string(first) + string(rest); got != old || err != nil {
		t.Errorf("GET body read across an overwrite = %d bytes, %v; want the old %d bytes whole", len(got), err, len(old))
	}
	if got, _ := getString(t, d, "bkt", "k"); got != "new" {
		t.Errorf("GetObject after overwrite = %q; want %q", got, "new")
	}
}

func TestS3Disk_putRefusesShortBodyAndMissingBucket(t *testing.T) {
	d := openDisk(t, t.TempDir())
	if err := d.CreateBucket("bkt"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.PutObject("bkt", "k", nil, strings.NewReader("abc"), 10, nil); !isCode(err, gofakes3.ErrIncompleteBody) {
		t.Errorf("PutObject with 3 of 10 bytes = %v; want IncompleteBody", err)
	}
	if _, err := d.HeadObject("bkt", "k"); !isCode(err, gofakes3.ErrNoSuchKey) {
		t.Errorf("HeadObject after a short put = %v; want NoSuchKey", err)
	}
	if _, err := d.PutObject("nope", "k", nil, bytes.NewReader(nil), 0, nil); !isCode(err, gofakes3.ErrNoSuchBucket) {
		t.Errorf("PutObject into a missing bucket = %v; want NoSuchBucket", err)
	}
	entries, _ := os.ReadDir(filepath.Join(d.dir, "bkt"))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), diskTempPrefix) {
			t.Errorf("temporary file %s left after a failed put", e.Name())
		}
	}
}

func TestS3Disk_listPages(t *testing.T) {
	d := openDisk(t, t.TempDir())
	if err := d.CreateBucket("bkt"); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a/1", "a/2", "a/3", "b/1", "c", "d/x/1", "d/y/1", "e"} {
		putString(t, d, "bkt", k, k, nil)
	}
	tests := []struct {
		name   string
		prefix gofakes3.Prefix
		max    int64
		want   []string // every entry over all pages, prefixes ending in "/"
		pages  int
	}{
		{name: "all", want: []string{"a/1", "a/2", "a/3", "b/1", "c", "d/x/1", "d/y/1", "e"}, pages: 1},
		{name: "all by 3", max: 3, want: []string{"a/1", "a/2", "a/3", "b/1", "c", "d/x/1", "d/y/1", "e"}, pages: 3},
		{name: "delimiter", prefix: gofakes3.Prefix{HasDelimiter: true, Delimiter: "/"}, want: []string{"a/", "b/", "c", "d/", "e"}, pages: 1},
		// A page ending on a common prefix must not repeat it on the next page.
		{name: "delimiter by 1", prefix: gofakes3.Prefix{HasDelimiter: true, Delimiter: "/"}, max: 1, want: []string{"a/", "b/", "c", "d/", "e"}, pages: 5},
		{name: "prefix and delimiter", prefix: gofakes3.Prefix{HasPrefix: true, Prefix: "d/", HasDelimiter: true, Delimiter: "/"}, max: 1, want: []string{"d/x/", "d/y/"}, pages: 2},
		{name: "prefix", prefix: gofakes3.Prefix{HasPrefix: true, Prefix: "a/"}, max: 2, want: []string{"a/1", "a/2", "a/3"}, pages: 2},
		{name: "no match", prefix: gofakes3.Prefix{HasPrefix: true, Prefix: "zz"}, want: nil, pages: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			page := gofakes3.ListBucketPage{MaxKeys: tc.max}
			pages := 0
			for {
				pages++
				list, err := d.ListBucket("bkt", &tc.prefix, page)
				if err != nil {
					t.Fatalf("ListBucket(%+v) = %v", page, err)
				}
				for _, p := range list.CommonPrefixes {
					got = append(got, p.Prefix)
				}
				for _, c := range list.Contents {
					got = append(got, c.Key)
				}
				if !list.IsTruncated {
					break
				}
				if pages > 20 {
					t.Fatal("ListBucket never stops")
				}
				page = gofakes3.ListBucketPage{Marker: list.NextMarker, HasMarker: true, MaxKeys: tc.max}
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) || pages != tc.pages {
				t.Errorf("ListBucket(%+v, max %d) = %q in %d pages; want %q in %d", tc.prefix, tc.max, got, pages, tc.want, tc.pages)
			}
		})
	}
	if _, err := d.ListBucket("nope", nil, gofakes3.ListBucketPage{}); !isCode(err, gofakes3.ErrNoSuchBucket) {
		t.Errorf("ListBucket(missing bucket) = %v; want NoSuchBucket", err)
	}
}

// TestS3Disk_copiesWhileStoreGrows is the crash of the issue at the backend: several copies at once, each
// put and copy growing the store. Run against gofakes3's s3bolt, this same sequence faults the process
// ("unexpected fault address" in gofakes3.CopyObject reading the source's hash) every time.
func TestS3Disk_copiesWhileStoreGrows(t *testing.T) {
	copiesWhileStoreGrows(t, openDisk(t, t.TempDir()))
}

func copiesWhileStoreGrows(t *testing.T, b gofakes3.Backend) {
	if err := b.CreateBucket("bkt"); err != nil {
		t.Fatal(err)
	}
	const workers, rounds = 4, 16
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range rounds {
				key := fmt.Sprintf("inbound/%d-%d", w, i)
				body := bytes.Repeat([]byte{byte(w), byte(i)}, (i+1)<<15) // 64 KiB to 1 MiB
				if _, err := b.PutObject("bkt", key, map[string]string{}, bytes.NewReader(body), int64(len(body)), nil); err != nil {
					t.Errorf("PutObject(%s) = %v", key, err)
					return
				}
				res, err := b.CopyObject("bkt", key, "bkt", "quarantine/"+key, map[string]string{})
				if err != nil {
					t.Errorf("CopyObject(%s) = %v", key, err)
					return
				}
				if want := gofakes3.FormatETag(md5sum(body)); res.ETag != want {
					t.Errorf("CopyObject(%s) ETag = %s; want %s", key, res.ETag, want)
				}
			}
		})
	}
	wg.Wait()
	for w := range workers {
		for i := range rounds {
			key := fmt.Sprintf("quarantine/inbound/%d-%d", w, i)
			o, err := b.GetObject("bkt", key, nil)
			if err != nil {
				t.Errorf("GetObject(%s) = %v", key, err)
				continue
			}
			got, err := io.ReadAll(o.Contents)
			o.Contents.Close()
			if want := bytes.Repeat([]byte{byte(w), byte(i)}, (i+1)<<15); err != nil || !bytes.Equal(got, want) {
				t.Errorf("GetObject(%s) = %d bytes, %v; want the %d bytes copied", key, len(got), err, len(want))
			}
		}
	}
}

func md5sum(b []byte) []byte {
	h := md5.Sum(b)
	return h[:]
}

// BenchmarkS3Disk measures the backend alone (no HTTP): a put is written to a temporary file, synced
// and renamed; a copy reads the source file and does the same.
func BenchmarkS3Disk(b *testing.B) {
	for _, size := range []int{4 << 10, 256 << 10, 4 << 20} {
		body := bytes.Repeat([]byte("x"), size)
		b.Run(fmt.Sprintf("put/%dKiB", size>>10), func(b *testing.B) {
			d := benchDisk(b)
			b.SetBytes(int64(size))
			for i := 0; b.Loop(); i++ {
				if _, err := d.PutObject("bkt", fmt.Sprintf("k%d", i%64), nil, bytes.NewReader(body), int64(size), nil); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("get/%dKiB", size>>10), func(b *testing.B) {
			d := benchDisk(b)
			if _, err := d.PutObject("bkt", "k", nil, bytes.NewReader(body), int64(size), nil); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(size))
			for b.Loop() {
				o, err := d.GetObject("bkt", "k", nil)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, o.Contents); err != nil {
					b.Fatal(err)
				}
				o.Contents.Close()
			}
		})
		b.Run(fmt.Sprintf("copy/%dKiB", size>>10), func(b *testing.B) {
			d := benchDisk(b)
			if _, err := d.PutObject("bkt", "src", nil, bytes.NewReader(body), int64(size), nil); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(size))
			for i := 0; b.Loop(); i++ {
				if _, err := d.CopyObject("bkt", "src", "bkt", fmt.Sprintf("dst%d", i%64), nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("list/1000 of 5000", func(b *testing.B) {
		d := benchDisk(b)
		for i := range 5000 {
			if _, err := d.PutObject("bkt", fmt.Sprintf("sent/%05d", i), nil, bytes.NewReader(nil), 0, nil); err != nil {
				b.Fatal(err)
			}
		}
		prefix := &gofakes3.Prefix{HasPrefix: true, Prefix: "sent/"}
		for b.Loop() {
			if _, err := d.ListBucket("bkt", prefix, gofakes3.ListBucketPage{MaxKeys: 1000}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func benchDisk(b *testing.B) *s3Disk {
	b.Helper()
	d, err := openS3Disk(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { d.Close() })
	if err := d.CreateBucket("bkt"); err != nil {
		b.Fatal(err)
	}
	return d
}
