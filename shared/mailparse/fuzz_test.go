package mailparse

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that Parse never panics, returns nil or ErrMalformed, and returns valid UTF-8 and
// non-negative attachment sizes. The seed corpus in testdata/fuzz/FuzzParse holds some of the test mails;
// the malformed shapes of testdata/defects are added as seeds too.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/defects/*.eml")
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(msg("Content-Type: multipart/alternative; boundary=b\n",
		"--b\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\nK=E6re\n"+
			"--b\nContent-Type: text/html\n\n<p>K&aelig;re</p>\n--b--\n")))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Parse(fuzz input) = %v; want nil or %v", err, ErrMalformed)
			}
			return
		}
		checkInvariants(t, "fuzz input", m, int64(len(data)))
	})
}
