package app

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/caarlos0/env/v11"
)

// The environment variables the functions read. Each name is one constant: the Settings tags below, the
// functions' Required lists and the CDK stacks that set a function's environment all use these, and
// TestSettings_tagsAreTheConstants keeps the tags and the constants the same set.
const (
	EnvStage            = "LEADVAULT_STAGE"
	EnvTable            = "LEADVAULT_TABLE"
	EnvKeyID            = "LEADVAULT_KEY_ID"
	EnvSentBucket       = "LEADVAULT_SENT_BUCKET"
	EnvExportBucket     = "LEADVAULT_EXPORT_BUCKET"
	EnvBackupBucket     = "LEADVAULT_BACKUP_BUCKET"
	EnvNotifyFrom       = "LEADVAULT_NOTIFY_FROM"
	EnvConfigurationSet = "LEADVAULT_SES_CONFIGURATION_SET"
	EnvInboundBucket    = "LEADVAULT_INBOUND_BUCKET"
	EnvInboundDomain    = "LEADVAULT_INBOUND_DOMAIN"
	EnvDataRegion       = "LEADVAULT_DATA_REGION"
	EnvUserPoolID       = "LEADVAULT_USER_POOL_ID"
	EnvCognitoEndpoint  = "LEADVAULT_COGNITO_ENDPOINT"
)

// Settings are the functions' environment, one field per variable. Which of them a function needs is its
// own Required list (e.g. formapi.Required), checked by Require at cold start.
type Settings struct {
	Stage            string `env:"LEADVAULT_STAGE"`
	Table            string `env:"LEADVAULT_TABLE"`
	KeyID            string `env:"LEADVAULT_KEY_ID"` // the stage CMK
	SentBucket       string `env:"LEADVAULT_SENT_BUCKET"`
	ExportBucket     string `env:"LEADVAULT_EXPORT_BUCKET"` // archives of access and export requests
	BackupBucket     string `env:"LEADVAULT_BACKUP_BUCKET"` // logical backups (ops backup, ops restore -from)
	NotifyFrom       string `env:"LEADVAULT_NOTIFY_FROM"`
	ConfigurationSet string `env:"LEADVAULT_SES_CONFIGURATION_SET"`
	InboundBucket    string `env:"LEADVAULT_INBOUND_BUCKET"` // where SES stores received mail
	InboundDomain    string `env:"LEADVAULT_INBOUND_DOMAIN"` // mail to <alias>@this domain is routed
	// DataRegion is where the table and stage key live, when a function runs in another region: e-mail
	// intake runs where SES receives mail. "" = the function's own region.
	DataRegion string `env:"LEADVAULT_DATA_REGION"`
	// UserPoolID is the Cognito user pool of the controller API's users.
	UserPoolID string `env:"LEADVAULT_USER_POOL_ID"`
	// CognitoEndpoint points the Cognito client at the local stand-in; "" on AWS.
	CognitoEndpoint string `env:"LEADVAULT_COGNITO_ENDPOINT"`
}

// SettingsFromEnv reads Settings from the process environment.
func SettingsFromEnv() (Settings, error) {
	return SettingsFrom(nil)
}

// SettingsFrom reads Settings from vars, or from the process environment when vars is nil.
func SettingsFrom(vars map[string]string) (Settings, error) {
	var s Settings
	opts := env.Options{}
	if vars != nil {
		opts.Environment = vars
	}
	if err := env.ParseWithOptions(&s, opts); err != nil {
		return Settings{}, fmt.Errorf("read settings: %w", err)
	}
	return s, nil
}

// Require reports every named setting that is empty, by its environment variable's name. A name that is
// not a Settings variable is reported too, so a misspelt requirement fails at once rather than never.
func (s Settings) Require(names ...string) error {
	values := s.byName()
	var errs []error
	for _, n := range names {
		v, ok := values[n]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%s is not a setting", n))
		case v == "":
			errs = append(errs, fmt.Errorf("environment variable %s is not set", n))
		}
	}
	return errors.Join(errs...)
}

// byName maps each variable's name, from the env tags, to its value.
func (s Settings) byName() map[string]string {
	v := reflect.ValueOf(s)
	out := map[string]string{}
	for i, n := range Names() {
		out[n] = v.Field(i).String()
	}
	return out
}

// Names lists every setting's environment variable, in Settings' field order.
func Names() []string {
	t := reflect.TypeFor[Settings]()
	out := make([]string, t.NumField())
	for i := range out {
		out[i] = t.Field(i).Tag.Get("env")
	}
	return out
}
