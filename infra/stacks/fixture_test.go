package stacks_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"leadvault/infra/stacks"
)

// Every jsii call crosses into a Node process, so the app is built and
// synthesized once and the templates are shared by all tests.

var (
	stageNames = []string{"staging", "production"}
	stackIDs   = []string{"Stateful", "Stateless", "Inbound"}

	// testAssetDir holds placeholder function zips, so tests need no make build.
	testAssetDir string
	testOutDir   string

	fixtureOnce sync.Once
	fixture     *appFixture
	fixtureErr  error
)

// appFixture is the synthesized test app.
type appFixture struct {
	stacks    map[string]awscdk.Stack // by "<stage>/<stackID>"
	templates map[string]cfnTemplate  // by "<stage>/<stackID>"
	stages    map[string]awscdk.Stage // by stage name
}

// cfnTemplate is a synthesized CloudFormation template as plain JSON values.
type cfnTemplate map[string]any

func TestMain(m *testing.M) {
	code, err := runTests(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}

func runTests(m *testing.M) (int, error) {
	env := map[string]string{
		// The CDK's built-in CloudFormation template validation costs ~10 s of
		// CPU per app synth; `cdk synth` still runs it.
		"CDK_VALIDATION": "false",
		// Node 20 is what this machine has; the banner would repeat per test run.
		"JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
	}
	for k, v := range env {
		if err := os.Setenv(k, v); err != nil {
			return 0, err
		}
	}
	dir, err := os.MkdirTemp("", "leadvault-cdk-test-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	testAssetDir = filepath.Join(dir, "dist")
	testOutDir = filepath.Join(dir, "cdk.out")
	if err := writePlaceholderZips(testAssetDir); err != nil {
		return 0, err
	}
	defer jsii.Close()
	return m.Run(), nil
}

// writePlaceholderZips writes an empty zip for every function into dir.
func writePlaceholderZips(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// The 22-byte end-of-central-directory record is a valid empty zip.
	emptyZip := append([]byte("PK\x05\x06"), make([]byte, 18)...)
	for _, fn := range stacks.FunctionNames {
		if err := os.WriteFile(filepath.Join(dir, fn+".zip"), emptyZip, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// cdkContext returns the context of the repository's cdk.json, so tests run
// with the same feature flags as `cdk synth`.
func cdkContext() (map[string]any, error) {
	b, err := os.ReadFile(filepath.Join("..", "..", "cdk.json"))
	if err != nil {
		return nil, err
	}
	var cfg struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf("cdk.json: %w", err)
	}
	return cfg.Context, nil
}

// newTestApp returns an app configured like the real one, writing to outdir.
func newTestApp(outdir string) (awscdk.App, error) {
	ctx, err := cdkContext()
	if err != nil {
		return nil, err
	}
	return awscdk.NewApp(&awscdk.AppProps{Context: &ctx, Outdir: jsii.String(outdir)}), nil
}

// validProps returns stage props that NewStage accepts.
func validProps() stacks.StageProps {
	return stacks.StageProps{
		Region:       stacks.Region,
		NotifyDomain: "leadvault.example",
		AssetDir:     testAssetDir,
	}
}

// getFixture builds and synthesizes the two-stage app once.
func getFixture(t *testing.T) *appFixture {
	t.Helper()
	fixtureOnce.Do(func() { fixture, fixtureErr = buildFixture() })
	if fixtureErr != nil {
		t.Fatal(fixtureErr)
	}
	return fixture
}

func buildFixture() (*appFixture, error) {
	app, err := newTestApp(testOutDir)
	if err != nil {
		return nil, err
	}
	f := &appFixture{
		stacks:    map[string]awscdk.Stack{},
		templates: map[string]cfnTemplate{},
		stages:    map[string]awscdk.Stage{},
	}
	for _, name := range stageNames {
		stage, err := stacks.NewStage(app, name, validProps())
		if err != nil {
			return nil, fmt.Errorf("NewStage(%q) = %v", name, err)
		}
		f.stages[name] = stage
		for _, id := range stackIDs {
			child := stage.Node().TryFindChild(jsii.String(id))
			if child == nil {
				return nil, fmt.Errorf("stage %s has no stack %s", name, id)
			}
			key := name + "/" + id
			f.stacks[key] = awscdk.Stack_Of(child)
			var synthesized assertions.Template
			// Template_FromStack also refuses a template with a dependency
			// cycle, which CDK's synthesis lets through.
			if err := catch(func() { synthesized = assertions.Template_FromStack(f.stacks[key], nil) }); err != nil {
				report, _ := os.ReadFile(filepath.Join(testOutDir, "validation-report.json"))
				return nil, fmt.Errorf("synthesizing %s: %v\n%.4000s", key, err, report)
			}
			b, err := json.Marshal(synthesized.ToJSON())
			if err != nil {
				return nil, err
			}
			var tpl cfnTemplate
			if err := json.Unmarshal(b, &tpl); err != nil {
				return nil, err
			}
			f.templates[key] = tpl
		}
	}
	return f, nil
}

// resources returns the template's resources of type typ by logical ID.
//
// Functions are Leadvault's own: the provider function CDK adds for an AwsCustomResource (the backup's
// region settings) is left out, and TestBackup_advancedDynamoDBBackup checks it on its own.
func (c cfnTemplate) resources(typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	res, _ := c["Resources"].(map[string]any)
	for id, r := range res {
		rm, _ := r.(map[string]any)
		if typ == "AWS::Lambda::Function" && strings.HasPrefix(id, awsCustomResourceProvider) {
			continue
		}
		if typ == "" || rm["Type"] == typ {
			out[id] = rm
		}
	}
	return out
}

// props returns a resource's Properties.
func props(r map[string]any) map[string]any {
	p, _ := r["Properties"].(map[string]any)
	return p
}

// sortedKeys returns m's keys in order, for stable test output.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// forEachTemplate runs fn as a subtest for every stack of every stage.
func forEachTemplate(t *testing.T, fn func(t *testing.T, key string, tpl cfnTemplate)) {
	f := getFixture(t)
	for _, key := range sortedKeys(f.templates) {
		t.Run(strings.ReplaceAll(key, "/", "_"), func(t *testing.T) { fn(t, key, f.templates[key]) })
	}
}

// jsonString renders v compactly for failure messages.
func jsonString(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// catch runs fn and returns the error a jsii call in it raised as a panic.
func catch(fn func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	fn()
	return nil
}

// awsCustomResourceProvider begins the logical ID of the singleton function (and its role) that CDK's
// AwsCustomResource runs on.
const awsCustomResourceProvider = "AWS679f53fac002430cb0da5b7982bd2287"
