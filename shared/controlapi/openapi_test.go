package controlapi

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// openAPIFile is the API contract, relative to this package.
var openAPIFile = filepath.Join("..", "..", "docs", "openapi.yaml")

// intakePath is the public intake route, which the same file documents but this package does not serve.
const intakePath = "/v1/forms/{formID}/submissions"

// TestOpenAPI_coversEveryRoute checks that docs/openapi.yaml documents exactly the routes of the route
// table: every route as a path and method, and no controller operation that has no route.
func TestOpenAPI_coversEveryRoute(t *testing.T) {
	ops, err := openAPIOperations(openAPIFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) == 0 {
		t.Fatalf("no operations found under paths: in %s", openAPIFile)
	}
	documented := map[string]int{}
	for _, op := range ops {
		if op.path == intakePath {
			continue
		}
		documented[op.method+" "+op.path]++
	}
	inRoutes := map[string]bool{}
	for _, r := range routes {
		key := r.method + " " + r.pattern
		inRoutes[key] = true
		switch n := documented[key]; n {
		case 0:
			t.Errorf("route %s %s is not in docs/openapi.yaml", r.method, r.pattern)
		case 1:
		default:
			t.Errorf("route %s %s is in docs/openapi.yaml %d times", r.method, r.pattern, n)
		}
	}
	var extra []string
	for key := range documented {
		if !inRoutes[key] {
			extra = append(extra, key)
		}
	}
	slices.Sort(extra)
	for _, key := range extra {
		t.Errorf("docs/openapi.yaml documents %s, which is not in routes", key)
	}
}

type openAPIOperation struct{ method, path string }

// openAPIMethods are the keys of an OpenAPI path item that name operations.
var openAPIMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// openAPIOperations reads the operations under the top-level paths: object of an OpenAPI YAML file. It
// is a line reader, not a YAML parser (the module has no YAML library): path keys are the keys indented
// by two spaces under paths:, operations the method keys indented by four under a path. That is the
// layout docs/openapi.yaml keeps; flow style or other indentation is not understood.
func openAPIOperations(name string) ([]openAPIOperation, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ops []openAPIOperation
	inPaths, path := false, ""
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := strings.TrimRight(s.Text(), " \t\r")
		trimmed := strings.TrimLeft(line, " ")
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		indent := len(line) - len(trimmed)
		if indent == 0 {
			inPaths, path = strings.HasPrefix(line, "paths:"), ""
			continue
		}
		if !inPaths {
			continue
		}
		key, ok := yamlKey(trimmed)
		switch {
		case !ok:
		case indent == 2:
			path = key
		case indent == 4 && path != "" && slices.Contains(openAPIMethods, key):
			ops = append(ops, openAPIOperation{method: strings.ToUpper(key), path: path})
		}
	}
	return ops, s.Err()
}

// yamlKey returns the key of a block mapping entry "key:" or "key: value", unquoting a quoted key.
func yamlKey(s string) (string, bool) {
	if strings.HasPrefix(s, "- ") {
		return "", false
	}
	if q := s[0]; q == '\'' || q == '"' {
		end := strings.IndexByte(s[1:], q)
		if end < 0 || !strings.HasPrefix(s[end+2:], ":") {
			return "", false
		}
		return s[1 : end+1], true
	}
	i := strings.Index(s, ":")
	if i <= 0 || (i+1 < len(s) && s[i+1] != ' ') {
		return "", false
	}
	return s[:i], true
}
