package app_test

import (
	"io"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"leadvault/shared/app"
	"leadvault/shared/awsconfig"
	"leadvault/shared/controlapi"
	"leadvault/shared/formapi"
	"leadvault/shared/jobs"
	"leadvault/shared/mailintake"
	"leadvault/shared/notify"
	"leadvault/shared/sweep"
)

// constants lists every exported name constant; the test below keeps it and the tags one set.
var constants = []string{app.EnvStage, app.EnvTable, app.EnvKeyID, app.EnvSentBucket, app.EnvExportBucket, app.EnvBackupBucket, app.EnvNotifyFrom,
	app.EnvConfigurationSet, app.EnvInboundBucket, app.EnvInboundDomain, app.EnvDataRegion, app.EnvUserPoolID,
	app.EnvCognitoEndpoint}

func TestSettings_tagsAreTheConstants(t *testing.T) {
	if got := app.Names(); !reflect.DeepEqual(got, constants) {
		t.Errorf("Settings env tags = %v;\nconstants       = %v", got, constants)
	}
}

func TestSettingsFrom_readsEveryVariable(t *testing.T) {
	vars := map[string]string{}
	for _, n := range constants {
		vars[n] = "v-" + n
	}
	s, err := app.SettingsFrom(vars)
	if err != nil {
		t.Fatal(err)
	}
	v := reflect.ValueOf(s)
	for i, n := range constants {
		if got := v.Field(i).String(); got != "v-"+n {
			t.Errorf("field %s = %q; want %q", reflect.TypeFor[app.Settings]().Field(i).Name, got, "v-"+n)
		}
	}
}

func TestRequire_cases(t *testing.T) {
	s := app.Settings{Table: "t"}
	cases := []struct {
		name  string
		names []string
		want  []string // substrings of the error; none = no error
	}{
		{"present", []string{app.EnvTable}, nil},
		{"missing", []string{app.EnvTable, app.EnvKeyID}, []string{"LEADVAULT_KEY_ID is not set"}},
		{"two missing", []string{app.EnvKeyID, app.EnvUserPoolID}, []string{"LEADVAULT_KEY_ID", "LEADVAULT_USER_POOL_ID"}},
		{"misspelt", []string{"LEADVAULT_TABEL"}, []string{"LEADVAULT_TABEL is not a setting"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := s.Require(c.names...)
			if len(c.want) == 0 {
				if err != nil {
					t.Fatalf("Require = %v; want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Require = nil; want an error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Require = %q; want it to name %q", err, w)
				}
			}
		})
	}
}

// TestFromConfig_missingSettingNamesTheVariable builds every function's handler with an empty environment:
// init must fail and name each variable the function requires.
func TestFromConfig_missingSettingNamesTheVariable(t *testing.T) {
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	var cfg awsconfig.Config
	cases := []struct {
		fn    string
		build func() error
		want  []string
	}{
		{"intake", func() error { _, err := formapi.FromConfig(cfg, app.Settings{}, log); return err }, formapi.Required},
		{"controller", func() error { _, err := controlapi.FromConfig(cfg, app.Settings{}, log); return err }, controlapi.Required},
		{"jobs", func() error { _, err := jobs.FromConfig(cfg, app.Settings{}, log); return err }, jobs.Required},
		{"notifier", func() error { _, err := notify.FromConfig(cfg, app.Settings{}, log); return err }, notify.Required},
		{"email-intake", func() error { _, err := mailintake.FromConfig(cfg, app.Settings{}, log); return err }, mailintake.Required},
		{"sweeper", func() error { _, err := sweep.FromConfig(cfg, app.Settings{}, log); return err },
			[]string{app.EnvSentBucket, app.EnvInboundBucket}},
	}
	for _, c := range cases {
		t.Run(c.fn, func(t *testing.T) {
			err := c.build()
			if err == nil {
				t.Fatal("FromConfig with no settings = nil error; want init to fail")
			}
			for _, n := range c.want {
				if !strings.Contains(err.Error(), n) {
					t.Errorf("error %q does not name %s", err, n)
				}
			}
		})
	}
}
