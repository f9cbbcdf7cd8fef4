package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"leadvault/infra/local/testenv"
	"leadvault/shared/app"
	"leadvault/shared/domain"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

func TestRun_onboarding(t *testing.T) {
	ctx := context.Background()
	s := app.Settings{Table: testenv.Table(t), KeyID: testenv.Env.Standins.KeyARN}
	ops := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(ctx, testenv.Env.AWS.Config, s, args, &out)
		return out.String(), err
	}
	for _, want := range []string{"tenant acme created", "tenant acme exists"} {
		if out, err := ops("tenant", "create", "acme", "Acme ApS"); err != nil || !strings.Contains(out, want) {
			t.Errorf("tenant create = %q, %v; want %q", out, err, want)
		}
	}
	form := testenv.Form("acme", "contact")
	b, _ := json.Marshal(form)
	path := filepath.Join(t.TempDir(), "form.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := ops("form", "put", path); err != nil || !strings.Contains(out, "form contact of tenant acme stored") {
		t.Errorf("form put = %q, %v", out, err)
	}
	out, err := ops("form", "get", "contact")
	var got domain.Form
	if err != nil || json.Unmarshal([]byte(out), &got) != nil || got.ID != "contact" || got.TenantID != "acme" {
		t.Errorf("form get = %q, %v; want the stored form", out, err)
	}
	bad := strings.Replace(string(b), `"enabled"`, `"enabeld"`, 1)
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ops("form", "put", path); err == nil || !strings.Contains(err.Error(), "enabeld") {
		t.Errorf("form put with a misspelt field = %v; want an error naming it", err)
	}
	if _, err := ops("tenant", "delete", "acme"); !errors.Is(err, errUsage) {
		t.Errorf("unknown command = %v; want usage", err)
	}
}
