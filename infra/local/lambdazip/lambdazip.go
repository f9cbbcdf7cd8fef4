// Package lambdazip builds Leadvault's Go functions the way Lambda runs them (provided.al2023 on
// arm64, a binary named bootstrap) and packs each into a reproducible deployment zip.
//
// The same zip bytes come out of the same sources and toolchain: the single entry is always named
// bootstrap, has mode 0755 and a fixed modification time, and is deflated at the best compression.
package lambdazip

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// Lambda's target platform for Leadvault's functions.
const (
	GOOS   = "linux"
	GOARCH = "arm64"
)

// EntryName is the name of the executable inside every deployment zip; provided.al2023 runs it.
const EntryName = "bootstrap"

// ModTime returns the modification time stamped on the zip entry so that zips are reproducible:
// 1980-01-01T00:00:00Z, the earliest time the zip format's MS-DOS field can hold.
func ModTime() time.Time { return time.Date(1980, time.January, 1, 0, 0, 0, 0, time.UTC) }

// Build compiles the main package in pkgDir for Lambda (linux/arm64) into outDir/<fn>/bootstrap and
// packs it into outDir/<fn>.zip, where fn is the base name of pkgDir. It returns the zip's path and size.
func Build(ctx context.Context, pkgDir, outDir string) (zipPath string, size int64, err error) {
	fn := filepath.Base(filepath.Clean(pkgDir))
	bin := filepath.Join(outDir, fn, EntryName)
	if err := BuildBinary(ctx, pkgDir, bin, GOOS, GOARCH); err != nil {
		return "", 0, err
	}
	zipPath = filepath.Join(outDir, fn+".zip")
	size, err = Zip(bin, zipPath)
	if err != nil {
		return "", 0, err
	}
	return zipPath, size, nil
}

// BuildBinary runs `go build -tags lambda.norpc -trimpath -ldflags "-s -w"` on the main package in
// pkgDir with CGO_ENABLED=0 for goos/goarch and writes the executable to outPath, creating its
// directory. pkgDir is a directory path (relative to the working directory or absolute), not an
// import path; the build runs in that directory, so it uses the go.mod that contains it.
func BuildBinary(ctx context.Context, pkgDir, outPath, goos, goarch string) error {
	dir, err := filepath.Abs(pkgDir)
	if err != nil {
		return fmt.Errorf("build %s: %w", pkgDir, err)
	}
	if fi, err := os.Stat(dir); err != nil {
		return fmt.Errorf("build %s: %w", pkgDir, err)
	} else if !fi.IsDir() {
		return fmt.Errorf("build %s: not a directory", pkgDir)
	}
	out, err := filepath.Abs(outPath)
	if err != nil {
		return fmt.Errorf("build %s: %w", pkgDir, err)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return fmt.Errorf("build %s: %w", pkgDir, err)
	}
	cmd := exec.CommandContext(ctx, "go", "build",
		"-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch)
	var output bytes.Buffer
	cmd.Stdout = &output
	cmd.Stderr = &output
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s for %s/%s: %w\n%s", pkgDir, goos, goarch, err, bytes.TrimSpace(output.Bytes()))
	}
	return nil
}

// Zip writes a deployment zip to zipPath holding the executable at binPath as its only entry,
// bootstrap (mode 0755, modified at ModTime, deflated at flate.BestCompression), and returns the
// zip's size in bytes. The zip is written to a temporary file next to zipPath and renamed into place.
func Zip(binPath, zipPath string) (size int64, err error) {
	bin, err := os.Open(binPath)
	if err != nil {
		return 0, fmt.Errorf("zip %s: %w", binPath, err)
	}
	defer bin.Close()

	if err := os.MkdirAll(filepath.Dir(zipPath), 0o755); err != nil {
		return 0, fmt.Errorf("zip %s: %w", binPath, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(zipPath), "."+filepath.Base(zipPath)+".*")
	if err != nil {
		return 0, fmt.Errorf("zip %s: %w", binPath, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()

	if err := writeZip(tmp, bin); err != nil {
		return 0, fmt.Errorf("zip %s: %w", binPath, err)
	}
	if err := tmp.Sync(); err != nil {
		return 0, fmt.Errorf("zip %s: %w", binPath, err)
	}
	fi, err := tmp.Stat()
	if err != nil {
		return 0, fmt.Errorf("zip %s: %w", binPath, err)
	}
	if err := tmp.Close(); err != nil {
		return 0, fmt.Errorf("zip %s: %w", binPath, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return 0, fmt.Errorf("zip %s: %w", binPath, err)
	}
	if err := os.Rename(tmp.Name(), zipPath); err != nil {
		return 0, fmt.Errorf("zip %s: %w", binPath, err)
	}
	return fi.Size(), nil
}

func writeZip(w io.Writer, bin io.Reader) error {
	zw := zip.NewWriter(w)
	zw.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(out, flate.BestCompression)
	})
	hdr := &zip.FileHeader{Name: EntryName, Method: zip.Deflate, Modified: ModTime()}
	hdr.SetMode(0o755)
	entry, err := zw.CreateHeader(hdr)
	if err != nil {
		return err
	}
	if _, err := io.Copy(entry, bin); err != nil {
		return err
	}
	return zw.Close()
}
