package syncw_test

import (
	"strings"
	"sync"
	"testing"

	"leadvault/infra/local/syncw"
)

func TestBuffer_concurrentWritesStayWhole(t *testing.T) {
	var b syncw.Buffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				_, _ = b.Write([]byte("0123456789\n"))
			}
		})
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 800 {
		t.Fatalf("got %d lines; want 800", len(lines))
	}
	for _, l := range lines {
		if l != "0123456789" {
			t.Fatalf("line %q was interleaved", l)
		}
	}
}
