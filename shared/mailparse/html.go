package mailparse

import (
	"bytes"
	"io"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// htmlMaxToken bounds the tokenizer's buffer: one tag or text run longer than this (an inline data: image,
// say) ends the conversion, keeping the text before it.
const htmlMaxToken = 4 << 20

// htmlToText converts an HTML body to readable text of at most max bytes: block elements and <br> become
// line breaks, table cells are separated by spaces, list items start with "- ", links keep their text,
// scripts, styles and the head are dropped, entities are decoded and whitespace collapses as a browser
// collapses it (except in <pre>). Lines are right-trimmed and runs of blank lines collapse into one.
func htmlToText(r io.Reader, max int) []byte {
	z := html.NewTokenizer(r)
	z.SetMaxBuf(htmlMaxToken)
	w := textWriter{max: max, lineEmpty: true}
	skip := atom.Atom(0) // the raw-text element whose content is being dropped
	inHead, pre := false, 0
	for !w.full() {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return tidyLines(w.out)
		case html.TextToken:
			if skip == 0 && !inHead {
				w.text(z.Text(), pre > 0)
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			name, _ := z.TagName()
			a := atom.Lookup(name)
			switch a {
			case atom.Script, atom.Style, atom.Title, atom.Template, atom.Noscript, atom.Textarea, atom.Xmp:
				if tt == html.StartTagToken {
					skip = a
				}
			case atom.Head:
				inHead = tt == html.StartTagToken
			case atom.Body:
				inHead = false
			case atom.Br:
				w.newline()
			case atom.Li:
				w.block()
				w.write([]byte("- "))
			case atom.Td, atom.Th:
				w.space()
			case atom.Pre:
				w.block()
				pre++
			default:
				if isBlock(a) {
					w.block()
				}
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			a := atom.Lookup(name)
			switch {
			case a == skip && skip != 0:
				skip = 0
			case a == atom.Head:
				inHead = false
			case a == atom.Pre:
				w.block()
				if pre > 0 {
					pre--
				}
			case a == atom.Td || a == atom.Th:
				w.space()
			case isBlock(a):
				w.block()
			}
		}
	}
	return tidyLines(w.out)
}

// isBlock reports whether an element starts and ends a line.
func isBlock(a atom.Atom) bool {
	switch a {
	case atom.Address, atom.Article, atom.Aside, atom.Blockquote, atom.Body, atom.Caption, atom.Center,
		atom.Dd, atom.Details, atom.Dialog, atom.Div, atom.Dl, atom.Dt, atom.Fieldset, atom.Figcaption,
		atom.Figure, atom.Footer, atom.Form, atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6,
		atom.Header, atom.Hgroup, atom.Hr, atom.Html, atom.Li, atom.Main, atom.Nav, atom.Ol, atom.P,
		atom.Section, atom.Summary, atom.Table, atom.Tbody, atom.Tfoot, atom.Thead, atom.Tr, atom.Ul:
		return true
	}
	return false
}

// textWriter accumulates converted text, collapsing whitespace.
type textWriter struct {
	out       []byte
	max       int
	lineEmpty bool // nothing but whitespace written since the last line break
	pending   bool // whitespace seen since the last character written
}

func (w *textWriter) full() bool { return len(w.out) >= w.max }

// write appends b, cut so that out stays within max.
func (w *textWriter) write(b []byte) {
	if room := w.max - len(w.out); len(b) > room {
		b = cutUTF8(b, room)
	}
	w.out = append(w.out, b...)
}

// newline ends the current line (a <br>): it always adds a line break.
func (w *textWriter) newline() {
	w.write([]byte{'\n'})
	w.lineEmpty, w.pending = true, false
}

// block ends the current line unless it is empty (block elements do not stack blank lines).
func (w *textWriter) block() {
	if !w.lineEmpty {
		w.newline()
	}
}

// space separates table cells.
func (w *textWriter) space() {
	if !w.lineEmpty {
		w.pending = true
	}
}

// text writes a text node: whitespace collapses to one space and is dropped at the start of a line,
// unless pre. A no-break space is kept (as a plain space), so that Outlook's "&nbsp;" paragraphs still
// make blank lines.
func (w *textWriter) text(t []byte, pre bool) {
	if pre {
		w.write(normalizeText(t))
		if len(t) > 0 {
			w.lineEmpty = t[len(t)-1] == '\n'
		}
		return
	}
	for len(t) > 0 && !w.full() {
		r, n := utf8.DecodeRune(t)
		switch {
		case r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\f':
			if !w.lineEmpty {
				w.pending = true
			}
		case r == '\u00a0':
			if w.pending {
				w.write([]byte{' '})
			}
			w.write([]byte{' '})
			w.lineEmpty, w.pending = false, false
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f):
		default:
			if w.pending {
				w.write([]byte{' '})
			}
			if r == utf8.RuneError && n == 1 {
				w.write([]byte("\uFFFD"))
			} else {
				w.write(t[:n])
			}
			w.lineEmpty, w.pending = false, false
		}
		t = t[n:]
	}
}

// tidyLines right-trims every line of b, collapses runs of blank lines into one and trims the whole.
func tidyLines(b []byte) []byte {
	out := b[:0]
	blank := 0
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		line = bytes.TrimRight(line, " \t\f")
		if len(line) == 0 {
			blank++
			continue
		}
		if len(out) > 0 {
			out = append(out, '\n')
			if blank > 0 {
				out = append(out, '\n')
			}
		}
		out = append(out, line...)
		blank = 0
	}
	return out
}
