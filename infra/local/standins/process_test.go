package standins

import (
	"bytes"
	"strings"
	"testing"
)

func TestLineWriter_cases(t *testing.T) {
	tests := []struct {
		name   string
		writes []string
		flush  bool
		want   string
	}{
		{name: "whole lines", writes: []string{"a\nb\n"}, want: "[x] a\n[x] b\n"},
		{name: "split line", writes: []string{"hel", "lo\nwor", "ld\n"}, want: "[x] hello\n[x] world\n"},
		{name: "partial line waits", writes: []string{"tail"}, want: ""},
		{name: "flush ends partial line", writes: []string{"tail"}, flush: true, want: "[x] tail\n"},
		{name: "colours stripped", writes: []string{"\x1b[36mINFO\x1b[0m started\n"}, want: "[x] INFO started\n"},
	}
	for _, tc := range tests {
		var out bytes.Buffer
		w := &lineWriter{w: &out, prefix: "[x] "}
		for _, s := range tc.writes {
			if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
				t.Errorf("%s: Write(%q) = %d, %v; want %d, nil", tc.name, s, n, err, len(s))
			}
		}
		if tc.flush {
			w.flush()
		}
		if got := out.String(); got != tc.want {
			t.Errorf("%s: lineWriter output = %q; want %q", tc.name, got, tc.want)
		}
	}
}

func TestTailBuffer_keepsLast(t *testing.T) {
	tests := []struct {
		writes []string
		want   string
	}{
		{writes: nil, want: "(no output)"},
		{writes: []string{"abc\n"}, want: "abc"},
		{writes: []string{"0123456789", "abcdef"}, want: "6789abcdef"},
		{writes: []string{strings.Repeat("x", 25)}, want: strings.Repeat("x", 10)},
	}
	for _, tc := range tests {
		b := &tailBuffer{max: 10}
		for _, s := range tc.writes {
			b.Write([]byte(s))
		}
		if got := b.String(); got != tc.want {
			t.Errorf("tailBuffer after %q = %q; want %q", tc.writes, got, tc.want)
		}
	}
}
