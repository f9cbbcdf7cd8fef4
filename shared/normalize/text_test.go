package normalize

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSingleLine(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "Jens Hansen", "Jens Hansen"},
		{"trimmed", "  Jens Hansen \n", "Jens Hansen"},
		{"nul removed", "Jens\x00Hansen", "JensHansen"},
		{"C0 removed", "Jens\x07\x1b[31m Hansen", "Jens[31m Hansen"},
		{"DEL removed", "Jens\x7f Hansen", "Jens Hansen"},
		{"C1 removed", "Jens\u009b Hansen", "Jens Hansen"},
		{"LF folded", "Jens\nHansen", "Jens Hansen"},
		{"CRLF folded once", "Jens\r\nHansen", "Jens Hansen"},
		{"run of breaks folded once", "Jens\r\n\r\n\tHansen", "Jens Hansen"},
		{"tab folded", "Jens\tHansen", "Jens Hansen"},
		{"NEL LS PS folded", "a\u0085b\u2028c\u2029d", "a b c d"},
		{"VT FF folded", "a\vb\fc", "a b c"},
		{"spaces kept", "Jens  Hansen", "Jens  Hansen"},
		{"bidi override removed", "Jens \u202eHansen\u202c", "Jens Hansen"},
		{"bidi embeddings removed", "\u202aa\u202bb\u202dc", "abc"},
		{"isolates removed", "\u2066a\u2067b\u2068c\u2069", "abc"},
		{"marks removed", "\u200ea\u200fb\u061cc", "abc"},
		{"joiners kept", "👩\u200d💻 a\u200cb", "👩\u200d💻 a\u200cb"},

		{"combining composed", "Jose\u0301", "Jos\u00e9"},
		{"invalid UTF-8", "Jens\xffHansen", "Jens\uFFFDHansen"},
		{"only controls", "\x00\u202e\r\n", ""},
		{"danish kept", "Søren Ærø Åby", "Søren Ærø Åby"},
		{"arabic kept", "محمد علي", "محمد علي"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SingleLine(tt.in); got != tt.want {
				t.Errorf("SingleLine(%q) = %q; want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestFreeText(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "Hej\n\nRing venligst.", "Hej\n\nRing venligst."},
		{"trimmed", "\n Hej \n", "Hej"},
		{"CRLF to LF", "a\r\nb\r\n\r\nc", "a\nb\n\nc"},
		{"CR to LF", "a\rb", "a\nb"},
		{"NEL LS PS VT FF to LF", "a\u0085b\u2028c\u2029d\ve\ff", "a\nb\nc\nd\ne\nf"},
		{"tabs kept", "a\tb", "a\tb"},
		{"nul removed", "a\x00b", "ab"},
		{"other C0 removed", "a\x1b[2Jb\x08", "a[2Jb"},
		{"DEL and C1 removed", "a\x7fb\u0080c\u009fd", "abcd"},
		{"bidi override removed", "pay \u202eTOTAL\u202c now", "pay TOTAL now"},
		{"isolates removed", "\u2067x\u2069", "x"},
		{"marks kept", "a\u200fb\u200ec\u061cd", "a\u200fb\u200ec\u061cd"},
		{"invalid UTF-8", "a\xc3b", "a\uFFFDb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FreeText(tt.in); got != tt.want {
				t.Errorf("FreeText(%q) = %q; want %q", tt.in, got, tt.want)
			}
		})
	}
}

// forbidden reports the first rune SingleLine (single) or FreeText must never return.
func forbidden(s string, single bool) (rune, bool) {
	for _, r := range s {
		switch {
		case r == '\n' && !single, r == '\t' && !single:
		case r < 0x20, r >= 0x7f && r <= 0x9f, r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069,
			r == 0x2028, r == 0x2029:
			return r, true
		case single && (r == 0x200e || r == 0x200f || r == 0x061c):
			return r, true
		}
	}
	return 0, false
}

func FuzzSingleLine(f *testing.F) {
	for _, s := range []string{"Jens Hansen", "a\x00b\r\nc", "\u202eevil", "a\u2028b\u0085c", "\xff\xfe", "Jose\u0301\t"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got := SingleLine(in)
		if r, bad := forbidden(got, true); bad {
			t.Fatalf("SingleLine(%q) = %q; holds %U", in, got, r)
		}
		if !utf8.ValidString(got) || got != strings.TrimSpace(got) {
			t.Fatalf("SingleLine(%q) = %q; want valid UTF-8 without surrounding space", in, got)
		}
		if again := SingleLine(got); again != got {
			t.Fatalf("SingleLine(%q) = %q; want it idempotent (%q)", got, again, got)
		}
	})
}

func FuzzFreeText(f *testing.F) {
	for _, s := range []string{"Hej\r\n\r\nmed venlig hilsen", "a\x00b", "\u202eevil\u202c", "a\u2028b", "\xff", "\t\r"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got := FreeText(in)
		if r, bad := forbidden(got, false); bad {
			t.Fatalf("FreeText(%q) = %q; holds %U", in, got, r)
		}
		if !utf8.ValidString(got) {
			t.Fatalf("FreeText(%q) = %q; not valid UTF-8", in, got)
		}
		if again := FreeText(got); again != got {
			t.Fatalf("FreeText(%q) = %q; want it idempotent (%q)", got, again, got)
		}
	})
}

// BenchmarkClean compares SingleLine and FreeText with Text, the plain normalisation they extend.
func BenchmarkClean(b *testing.B) {
	message := strings.Repeat("Hej, ring venligst om et tilbud på 20 m² tag.\r\n", 40)
	inputs := []struct{ name, in string }{
		{"name", "Mette Sørensen"},
		{"name_with_controls", "Mette\x00 \u202eSørensen\r\n"},
		{"message_2KB", message},
	}
	funcs := []struct {
		name string
		f    func(string) string
	}{{"Text", Text}, {"SingleLine", SingleLine}, {"FreeText", FreeText}}
	for _, in := range inputs {
		for _, fn := range funcs {
			b.Run(in.name+"/"+fn.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					fn.f(in.in)
				}
			})
		}
	}
}
