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
	noEmailIntake := t.TempDir()
	for _, fn := range stacks.FunctionNames {
		if fn == "email-intake" {
			continue
		}
		if err := os.WriteFile(filepath.Join(noEmailIntake, fn+".zip"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
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
		{"missing_email_intake", func(p *stacks.StageProps) { p.AssetDir = noEmailIntake }, "email-intake.zip"},
		{"inbound_default", func(p *stacks.StageProps) { p.InboundRegion, p.InboundDomain = "", "" }, ""},
		{"inbound_ireland", func(p *stacks.StageProps) { p.InboundRegion = "eu-west-1" }, ""},
		{"inbound_stockholm", func(p *stacks.StageProps) { p.InboundRegion = "eu-north-1" }, ""},
		{"inbound_frankfurt", func(p *stacks.StageProps) { p.InboundRegion = "eu-central-1" }, ""},
		{"inbound_outside_eu", func(p *stacks.StageProps) { p.InboundRegion = "us-east-1" }, "inbound region"},
		{"inbound_eu_not_listed", func(p *stacks.StageProps) { p.InboundRegion = "eu-west-2" }, "inbound region"},
		{"inbound_domain", func(p *stacks.StageProps) { p.InboundDomain = "mail.leadvault.example" }, ""},
		{"inbound_domain_upper", func(p *stacks.StageProps) { p.InboundDomain = "In.Leadvault.Example" }, "inbound domain"},
		{"inbound_domain_address", func(p *stacks.StageProps) { p.InboundDomain = "leads@in.leadvault.example" }, "inbound domain"},
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

func TestNewStage_refusesInboundRegions(t *testing.T) {
	app, err := newTestApp(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// Outside the EU, in the EU but not on the list, and spellings of listed ones.
	for _, region := range []string{"us-east-1", "ap-northeast-1", "eu-west-2", "eu-south-1", "eu-west-3", "EU-WEST-1", " eu-west-1"} {
		props := validProps()
		props.InboundRegion = region
		stage, err := stacks.NewStage(app, "staging", props)
		if err == nil || stage != nil {
			t.Errorf("NewStage(inbound region %q) = %v, %v; want nil, error", region, stage, err)
			continue
		}
		for _, want := range []string{"E4", "S21", region} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("NewStage(inbound region %q) error = %q; want it to contain %q", region, err, want)
			}
		}
	}
	if n := len(*app.Node().Children()); n != 0 {
		t.Errorf("app has %d children after refused stages; want 0", n)
	}
}

func TestNewStage_refusesNameTooLongForInboundBucket(t *testing.T) {
	app, err := newTestApp(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	props := validProps()
	props.InboundRegion = "eu-central-1"
	// A valid stage name, but leadvault-<name>-inbound-<account>-eu-central-1 has 66 characters.
	name := "staging-for-customer-x"
	if _, err := stacks.NewStage(app, name, props); err == nil || !strings.Contains(err.Error(), "inbound bucket name") {
		t.Errorf("NewStage(%q) error = %v; want one about the inbound bucket name", name, err)
	}
	if n := len(*app.Node().Children()); n != 0 {
		t.Errorf("app has %d children after a refused stage; want 0", n)
	}
}

func TestStages_bothExistInRegion(t *testing.T) {
	f := getFixture(t)
	// Only the inbound mail path leaves eu-north-1 (obligations E4, S21).
	wantRegion := map[string]string{"Stateful": stacks.Region, "Stateless": stacks.Region, "Inbound": stacks.DefaultInboundRegion}
	if stacks.DefaultInboundRegion != "eu-west-1" {
		t.Errorf("DefaultInboundRegion = %q; want eu-west-1", stacks.DefaultInboundRegion)
	}
	for _, stage := range stageNames {
		for _, id := range stackIDs {
			key := stage + "/" + id
			s, ok := f.stacks[key]
			if !ok {
				t.Errorf("stack %s missing", key)
				continue
			}
			if got := *s.Region(); got != wantRegion[id] {
				t.Errorf("stack %s region = %q; want %q", key, got, wantRegion[id])
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
