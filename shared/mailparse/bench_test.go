package mailparse

import (
	"bytes"
	"io"
	"testing"
)

// BenchmarkParse parses a 10 KB Gmail text mail (header block as SES delivers it, text/plain and text/html)
// and 1 MB and 40 MB mails that are mostly a base64 attachment. Besides time it reports peak-heap-bytes,
// the largest heap growth seen during one Parse over the heap after a GC (the message itself is held by
// the benchmark before that baseline, as a stream from S3 would not be held at all), and peak/size, that
// peak over the message size.
func BenchmarkParse(b *testing.B) {
	for _, bc := range []struct {
		name string
		size int
	}{
		{"10KB", 10 << 10},
		{"1MB", 1 << 20},
		{"40MB", MaxBytes},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var data []byte
			if bc.size < 64<<10 {
				data = textMessage(bc.size)
			} else {
				r, _, _ := attachmentMessage(bc.size)
				var err error
				if data, err = io.ReadAll(r); err != nil {
					b.Fatal(err)
				}
			}
			peak, err := maxPeakHeap(func() io.Reader { return bytes.NewReader(data) }, 3)
			if err != nil {
				b.Fatalf("Parse(%s) = %v; want nil", bc.name, err)
			}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := Parse(bytes.NewReader(data)); err != nil {
					b.Fatalf("Parse(%s) = %v; want nil", bc.name, err)
				}
			}
			b.ReportMetric(float64(peak), "peak-heap-bytes")
			b.ReportMetric(float64(peak)/float64(len(data)), "peak/size")
		})
	}
}
