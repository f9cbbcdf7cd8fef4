package lambdazip_test

import (
	"archive/zip"
	"bytes"
	"context"
	"debug/elf"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"leadvault/infra/local/lambdazip"
)

// readEntry opens the zip at path, checks it holds exactly one entry, and returns its header and content.
func readEntry(t *testing.T, path string) (zip.FileHeader, []byte) {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	if len(zr.File) != 1 {
		t.Fatalf("%s has %d entries, want 1", path, len(zr.File))
	}
	f := zr.File[0]
	rc, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	content, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return f.FileHeader, content
}

func TestZip_entryAndReproducibility(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bootstrap")
	content := bytes.Repeat([]byte("not really an executable\n"), 1000)
	if err := os.WriteFile(bin, content, 0o700); err != nil {
		t.Fatal(err)
	}

	first := filepath.Join(dir, "out", "first.zip")
	size, err := lambdazip.Zip(bin, first)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(first); err != nil || fi.Size() != size {
		t.Fatalf("Zip returned size %d, file: %v %v", size, fi, err)
	}
	// A later modification time and other permissions on the input must not change the zip.
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(bin, later, later); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	second := filepath.Join(dir, "second.zip")
	if _, err := lambdazip.Zip(bin, second); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(first)
	b, _ := os.ReadFile(second)
	if !bytes.Equal(a, b) {
		t.Error("zipping the same executable twice gave different bytes")
	}

	hdr, got := readEntry(t, first)
	tests := []struct {
		name      string
		got, want any
	}{
		{"name", hdr.Name, lambdazip.EntryName},
		{"mode", hdr.Mode(), os.FileMode(0o755)},
		{"method", hdr.Method, zip.Deflate},
		{"modified", hdr.Modified.UTC(), lambdazip.ModTime()},
		{"content", bytes.Equal(got, content), true},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
	if size >= int64(len(content)) {
		t.Errorf("zip is %d bytes for %d bytes of input: not compressed", size, len(content))
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, "out", ".*"))
	if len(leftovers) > 0 {
		t.Errorf("temporary files left behind: %v", leftovers)
	}
}

func TestZip_missingInput(t *testing.T) {
	dir := t.TempDir()
	if _, err := lambdazip.Zip(filepath.Join(dir, "nope"), filepath.Join(dir, "x.zip")); err == nil {
		t.Fatal("Zip of a missing file succeeded")
	}
	if _, err := os.Stat(filepath.Join(dir, "x.zip")); err == nil {
		t.Error("a zip was written for a missing input")
	}
}

func TestBuild_helloForLambda(t *testing.T) {
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	zipPath, size, err := lambdazip.Build(ctx, "../bench/hello", out)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(out, "hello.zip"); zipPath != want {
		t.Errorf("zip path = %s, want %s", zipPath, want)
	}
	if fi, err := os.Stat(zipPath); err != nil || fi.Size() != size {
		t.Fatalf("Build returned size %d, file: %v %v", size, fi, err)
	}
	bin := filepath.Join(out, "hello", "bootstrap")
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatalf("the bootstrap is not an ELF executable: %v", err)
	}
	defer f.Close()
	if f.Machine != elf.EM_AARCH64 {
		t.Errorf("machine = %v, want EM_AARCH64 (Lambda runs Leadvault on arm64)", f.Machine)
	}
	if f.Section(".debug_info") != nil || f.Section(".symtab") != nil {
		t.Error("the bootstrap has symbols or DWARF: -ldflags \"-s -w\" was not applied")
	}
	want, _ := os.ReadFile(bin)
	if _, got := readEntry(t, zipPath); !bytes.Equal(got, want) {
		t.Error("the zip's bootstrap differs from the built executable")
	}
}

func TestBuildBinary_failures(t *testing.T) {
	broken := t.TempDir()
	files := map[string]string{
		"go.mod":  "module broken\n\ngo 1.26\n",
		"main.go": "package main\n\nfunc main() { undefinedThing() }\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(broken, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		pkgDir  string
		wantMsg string
	}{
		{"missing dir", filepath.Join(t.TempDir(), "nope"), "no such file"},
		{"file, not dir", filepath.Join(broken, "go.mod"), "not a directory"},
		{"compile error", broken, "undefinedThing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "bootstrap")
			err := lambdazip.BuildBinary(context.Background(), tt.pkgDir, out, lambdazip.GOOS, lambdazip.GOARCH)
			if err == nil || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.wantMsg)
			}
		})
	}
}
