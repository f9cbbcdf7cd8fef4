// Package envfile reads the environment file the local stack writes (.leadvault/env), which tools such as
// `make invoke`, `make token` and `infra/ops -local` use to reach it.
package envfile

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// Path is where `make run` writes the file, relative to the repository root.
const Path = ".leadvault/env"

// The local-only variables of the file, beside the functions' own (app.Settings): the development token
// issuer that `make token` signs with.
const (
	IssuerEnv    = "LEADVAULT_LOCAL_ISSUER"
	IssuerKeyEnv = "LEADVAULT_LOCAL_ISSUER_KEY"
)

// Read reads KEY=VALUE lines; blank lines and lines starting with # are skipped.
func Read(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	vars := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%s:%d: want KEY=VALUE, got %q", path, n, line)
		}
		vars[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return vars, nil
}
