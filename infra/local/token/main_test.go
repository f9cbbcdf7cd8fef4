package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"leadvault/infra/local/devissuer"
)

func TestRun_mintsFromTheStacksKey(t *testing.T) {
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "devissuer.pem")
	key, err := devissuer.LoadOrCreateKey(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	env := filepath.Join(dir, "env")
	if err := os.WriteFile(env, []byte("LEADVAULT_LOCAL_ISSUER=http://127.0.0.1:8080/local-issuer\nLEADVAULT_LOCAL_ISSUER_KEY="+keyPath+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args         []string
		tenant, user string
		groups       string
	}{
		{[]string{"-role", "member", "-user", "alice"}, "demo", "alice", "member"},
		{[]string{"-role", "support", "-tenant", "acme"}, "", "support", "support"},
		{nil, "demo", "admin-demo", "admin"},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		if err := run(tt.args, env, &out); err != nil {
			t.Fatalf("run(%v) = %v", tt.args, err)
		}
		claims := jwt.MapClaims{}
		_, err := jwt.ParseWithClaims(strings.TrimSpace(out.String()), claims, func(*jwt.Token) (any, error) { return &key.PublicKey, nil })
		if err != nil {
			t.Fatalf("token of run(%v) does not verify with the stack's key: %v", tt.args, err)
		}
		tenant, _ := claims["custom:tenant_id"].(string)
		groups, _ := claims["cognito:groups"].([]any)
		if tenant != tt.tenant || claims["username"] != tt.user || len(groups) != 1 || groups[0] != tt.groups || claims["iss"] != "http://127.0.0.1:8080/local-issuer" {
			t.Errorf("run(%v) claims = %v; want tenant %q, user %q, group %q", tt.args, claims, tt.tenant, tt.user, tt.groups)
		}
	}
	if err := run([]string{"-role", "root"}, env, &bytes.Buffer{}); err == nil {
		t.Errorf("run(-role root) = nil; want an error")
	}
	if err := run(nil, filepath.Join(dir, "missing"), &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "make run") {
		t.Errorf("run(no stack) = %v; want advice to start make run", err)
	}
}
