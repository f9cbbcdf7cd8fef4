// Package repo finds the repository's root directory, where the local tools look for node_modules,
// .leadvault and the functions' sources. It stands in for nothing on AWS.
package repo

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/mod/modfile"
)

// Module is the module path of the repository root's go.mod.
const Module = "leadvault"

// Root walks up from dir to the directory whose go.mod declares module leadvault. Nested modules such as
// infra/local/tools are passed over.
func Root(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("find the repository root: %w", err)
	}
	for d := dir; ; {
		data, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && modfile.ModulePath(data) == Module {
			return d, nil
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("find the repository root: %w", err)
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("find the repository root: no go.mod of module %s in %s or above", Module, dir)
		}
		d = parent
	}
}

// FromWorkingDir is Root of the working directory.
func FromWorkingDir() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find the repository root: %w", err)
	}
	return Root(wd)
}
