package standins

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
)

// LocalKeyID is the key id of the local stage CMK that every stack seeds into local-kms. It is the
// same everywhere; the key material behind it is random per data directory.
const LocalKeyID = "5f1e0c7a-4b2d-4e8f-9a3c-6d7b8e9f0a1b"

// LocalKeyAlias is the alias of the local stage CMK.
const LocalKeyAlias = "alias/leadvault-local"

// Account and region local-kms puts in its ARNs.
const (
	kmsAccount = "111122223333"
	kmsRegion  = "eu-north-1"
)

// localKMSModule is the package built into the local-kms binary, pinned by infra/local/tools/go.mod.
const localKMSModule = "github.com/nsmithuk/local-kms"

// seedKeyID finds the key id in a seed file written by writeSeed.
var seedKeyID = regexp.MustCompile(`(?m)^\s*KeyId:\s*([0-9a-fA-F-]{36})\s*$`)

// kmsSeed returns the seed file in dir and the key id it seeds, writing a fresh seed with a random
// backing key if dir has none yet. A seed, once written, is reused, so a persisted data directory keeps
// its key material and old ciphertexts stay decryptable.
func kmsSeed(dir string) (path, keyID string, err error) {
	path = filepath.Join(dir, "seed.yaml")
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		m := seedKeyID.FindSubmatch(data)
		if m == nil {
			return "", "", fmt.Errorf("kms seed %s: no KeyId line", path)
		}
		return path, string(m[1]), nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", "", fmt.Errorf("read kms seed: %w", err)
	}
	backing := make([]byte, 32)
	if _, err := rand.Read(backing); err != nil {
		return "", "", fmt.Errorf("kms seed: random backing key: %w", err)
	}
	seed := fmt.Sprintf(`# Written once by infra/local/standins: the local stage CMK for this data directory.
# The backing key is random; keep this file to keep old ciphertexts decryptable.
Keys:
  Symmetric:
    Aes:
      - Metadata:
          KeyId: %[1]s
          Description: Leadvault local stage key
        BackingKeys:
          - %[2]s
Aliases:
  - AliasName: %[3]s
    TargetKeyId: %[1]s
`, LocalKeyID, hex.EncodeToString(backing), LocalKeyAlias)
	if err := writeFileAtomic(path, []byte(seed), 0o600); err != nil {
		return "", "", fmt.Errorf("write kms seed: %w", err)
	}
	return path, LocalKeyID, nil
}

// keyARN is the ARN local-kms gives the key id.
func keyARN(keyID string) string {
	return "arn:aws:kms:" + kmsRegion + ":" + kmsAccount + ":key/" + keyID
}

// localKMSBinary returns <root>/.leadvault/bin/local-kms, building it first if it is missing or older
// than infra/local/tools/go.mod (which pins its version).
func localKMSBinary(ctx context.Context, root string) (string, error) {
	bin := filepath.Join(root, ".leadvault", "bin", "local-kms")
	toolsDir := filepath.Join(root, "infra", "local", "tools")
	fresh := func() (bool, error) {
		binInfo, binErr := os.Stat(bin)
		modInfo, modErr := os.Stat(filepath.Join(toolsDir, "go.mod"))
		if binErr == nil && (modErr != nil || !modInfo.ModTime().After(binInfo.ModTime())) {
			return true, nil
		}
		return false, modErr
	}
	if ok, err := fresh(); ok || err != nil {
		if err != nil {
			return "", fmt.Errorf("build local-kms: %w", err)
		}
		return bin, nil
	}
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return "", fmt.Errorf("build local-kms: %w", err)
	}
	// Test packages start stacks in parallel: let one of them build while the others wait.
	unlock, err := lockFile(bin + ".lock")
	if err != nil {
		return "", fmt.Errorf("build local-kms: %w", err)
	}
	defer unlock()
	if ok, _ := fresh(); ok {
		return bin, nil
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("build local-kms: the go command is needed to build %s: %w", bin, err)
	}
	// Build to a private name and rename, so stacks starting in parallel never run a half-written file.
	tmp := bin + ".build-" + strconv.Itoa(os.Getpid()) + "-" + randomSuffix()
	cmd := exec.CommandContext(ctx, goTool, "build", "-C", toolsDir, "-o", tmp, localKMSModule)
	cmd.Env = append(os.Environ(), "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("build local-kms (go build -C %s -o %s %s): %w\n%s",
			toolsDir, bin, localKMSModule, err, strings.TrimSpace(string(out)))
	}
	if err := os.Rename(tmp, bin); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("build local-kms: %w", err)
	}
	return bin, nil
}

// lockFile takes an exclusive flock on path, creating it if needed, and returns its release.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil // closing the file releases the lock
}

// writeFileAtomic writes data to a temporary file next to path and renames it into place.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp-" + randomSuffix()
	if err := os.WriteFile(tmp, data, perm); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

func randomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b) // crypto/rand.Read does not fail on Linux
	return hex.EncodeToString(b)
}
