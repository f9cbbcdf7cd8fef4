package stacks_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"leadvault/infra/stacks"
)

func TestNewStage_refusesOtherRegions(t *testing.T) {
	app, err := newTestApp(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, region := range []string{"eu-west-1", "us-east-1", "eu-central-1", "EU-NORTH-1", "eu-north-1 ", ""} {
		props := validProps()
		props.Region = region
		stage, err := stacks.NewStage(app, "staging", props)
		if err == nil || stage != nil {
			t.Errorf("NewStage(region %q) = %v, %v; want nil, error", region, stage, err)
			continue
		}
		if !strings.Contains(err.Error(), "E4") {
			t.Errorf("NewStage(region %q) error = %q; want it to cite obligation E4", region, err)
		}
	}
	// A refused stage must leave nothing behind in the app.
	if n := len(*app.Node().Children()); n != 0 {
		t.Errorf("app has %d children after refused stages; want 0", n)
	}
}

func TestStageProps_Validate(t *testing.T) {
	noZips := t.TempDir()
	partial := t.TempDir()
	if err := os.WriteFile(filepath.Join(partial, "intake.zip"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		edit    func(*stacks.StageProps)
		wantErr string // substring; "" means valid
	}{
		{"valid", func(*stacks.StageProps) {}, ""},
		{"valid_account", func(p *stacks.StageProps) { p.Account = "123456789012" }, ""},
		{"other_region", func(p *stacks.StageProps) { p.Region = "us-east-1" }, "eu-north-1"},
		{"bad_account", func(p *stacks.StageProps) { p.Account = "12345" }, "account"},
		{"empty_domain", func(p *stacks.StageProps) { p.NotifyDomain = "" }, "notify domain"},
		{"domain_with_at", func(p *stacks.StageProps) { p.NotifyDomain = "me@leadvault.example" }, "notify domain"},
		{"upper_domain", func(p *stacks.StageProps) { p.NotifyDomain = "Leadvault.Example" }, "notify domain"},
		{"empty_asset_dir", func(p *stacks.StageProps) { p.AssetDir = "" }, "asset dir"},
		{"no_zips", func(p *stacks.StageProps) { p.AssetDir = noZips }, "intake.zip"},
		{"missing_notifier", func(p *stacks.StageProps) { p.AssetDir = partial }, "notifier.zip"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := validProps()
			tt.edit(&p)
			err := p.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Validate(%+v) = %v; want nil", p, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Validate(%+v) = %v; want error containing %q", p, err, tt.wantErr)
			}
		})
	}
}

func TestNewStage_invalidName(t *testing.T) {
	app, err := newTestApp(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"", "Staging", "prod_1", "-x"} {
		if _, err := stacks.NewStage(app, name, validProps()); err == nil {
			t.Errorf("NewStage(%q) = nil error; want error", name)
		}
	}
}

func TestStages_bothExistInRegion(t *testing.T) {
	f := getFixture(t)
	for _, stage := range stageNames {
		for _, id := range stackIDs {
			key := stage + "/" + id
			s, ok := f.stacks[key]
			if !ok {
				t.Errorf("stack %s missing", key)
				continue
			}
			if got := *s.Region(); got != stacks.Region {
				t.Errorf("stack %s region = %q; want %q", key, got, stacks.Region)
			}
			if len(f.templates[key].resources("")) == 0 {
				t.Errorf("stack %s has no resources", key)
			}
		}
	}
}

func TestStages_tagged(t *testing.T) {
	f := getFixture(t)
	for _, stage := range stageNames {
		for _, id := range stackIDs {
			key := stage + "/" + id
			tags := *f.stacks[key].Tags().TagValues()
			want := map[string]string{"project": stacks.Project, "stage": stage}
			for k, v := range want {
				if got := tags[k]; got == nil || *got != v {
					t.Errorf("stack %s tag %s = %v; want %q", key, k, got, v)
				}
			}
			// Resources carry the tags too (they are applied with Tags.Of).
			for lid, r := range f.templates[key].resources("AWS::Lambda::Function") {
				if got := jsonString(props(r)["Tags"]); !strings.Contains(got, `"Key":"stage","Value":"`+stage+`"`) {
					t.Errorf("%s %s Tags = %s; want stage=%s", key, lid, got, stage)
				}
			}
		}
	}
}
