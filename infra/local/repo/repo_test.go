package repo_test

import (
	"os"
	"path/filepath"
	"testing"

	"leadvault/infra/local/repo"
)

func TestRoot_cases(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"go.mod":                     "module leadvault\n\ngo 1.26.0\n",
		"infra/local/tools/go.mod":   "module leadvault/infra/local/tools\n",
		"functions/intake/x.go":      "package intake\n",
		"other/go.mod":               "module example.com/other\n",
		"other/deeper/placeholder":   "",
		"infra/local/tools/sub/a.go": "package sub\n",
	}
	for name, content := range files {
		path := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		from string
		want string
	}{
		{from: ".", want: root},
		{from: "functions/intake", want: root},
		{from: "infra/local/tools", want: root},
		{from: "infra/local/tools/sub", want: root},
		{from: "other/deeper", want: root},
	}
	for _, tc := range tests {
		got, err := repo.Root(filepath.Join(root, tc.from))
		if err != nil || got != tc.want {
			t.Errorf("repo.Root(%q) = %q, %v; want %q", tc.from, got, err, tc.want)
		}
	}
	if got, err := repo.Root(t.TempDir()); err == nil {
		t.Errorf("repo.Root(dir without leadvault go.mod) = %q, nil; want an error", got)
	}
}
