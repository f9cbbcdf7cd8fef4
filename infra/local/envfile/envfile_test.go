package envfile

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, body string
		want       map[string]string
		err        bool
	}{
		{"vars", "# local stack\nA=1\n\nB=x=y\n", map[string]string{"A": "1", "B": "x=y"}, false},
		{"bad line", "A=1\nnonsense\n", nil, true},
		{"empty key", "=1\n", nil, true},
	}
	for _, tt := range tests {
		path := filepath.Join(dir, tt.name)
		if err := os.WriteFile(path, []byte(tt.body), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := Read(path)
		if !reflect.DeepEqual(got, tt.want) || (err != nil) != tt.err {
			t.Errorf("Read(%s) = %v, %v; want %v, error %v", tt.name, got, err, tt.want, tt.err)
		}
	}
	if _, err := Read(filepath.Join(dir, "missing")); !os.IsNotExist(err) {
		t.Errorf("Read(missing) error = %v; want not-exist", err)
	}
}
