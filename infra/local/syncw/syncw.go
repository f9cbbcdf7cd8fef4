// Package syncw serialises writes to an io.Writer shared by several goroutines or child processes, so
// that log lines interleave whole.
package syncw

import (
	"io"
	"sync"
)

// Writer is an io.Writer whose Write calls do not overlap.
type Writer struct {
	mu sync.Mutex
	w  io.Writer
}

// New wraps w.
func New(w io.Writer) *Writer { return &Writer{w: w} }

// Write writes p to the underlying writer while holding the lock.
func (s *Writer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
