package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"leadvault/infra/local/cognitolocal"
	"leadvault/infra/local/devissuer"
	"leadvault/infra/local/testenv"
	"leadvault/shared/access"
	"leadvault/shared/app"
	"leadvault/shared/domain"
	"leadvault/shared/store"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// cli runs the operators' CLI with settings s and returns what it printed.
func cli(ctx context.Context, s app.Settings) func(args ...string) (string, error) {
	return func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(ctx, testenv.Env.AWS.Config, s, args, &out)
		return out.String(), err
	}
}

func TestRun_onboarding(t *testing.T) {
	ctx := context.Background()
	s := app.Settings{Table: testenv.Table(t), KeyID: testenv.Env.Standins.KeyARN}
	ops := cli(ctx, s)
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

// TestRun_usersAndAudit invites a tenant's first admin and a support user through the local user pool,
// sets the tenant's audit retention and verifies its audit chain.
func TestRun_usersAndAudit(t *testing.T) {
	ctx := context.Background()
	iss, err := devissuer.New("http://127.0.0.1/issuer", nil)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := cognitolocal.New("eu-north-1_ops", iss, cognitolocal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(pool)
	defer srv.Close()
	s := app.Settings{Table: testenv.Table(t), KeyID: testenv.Env.Standins.KeyARN, UserPoolID: "eu-north-1_ops", CognitoEndpoint: srv.URL}
	ops := cli(ctx, s)
	if _, err := ops("tenant", "create", "acme", "Acme ApS"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"tenant", "admin", "acme", "Admin@Acme.example"}, "of tenant acme invited"},
		{[]string{"staff", "invite", "support@leadvault.example"}, "support user"},
		{[]string{"tenant", "audit-retention", "acme", "730"}, "keeps audit records 730 days"},
		{[]string{"audit", "verify", "acme"}, "intact"},
	}
	for _, tt := range tests {
		if out, err := ops(tt.args...); err != nil || !strings.Contains(out, tt.want) {
			t.Errorf("ops %v = %q, %v; want %q", tt.args, out, err, tt.want)
		}
	}
	st := store.New(testenv.Env.AWS.DynamoDB(), s.Table)
	members, err := st.Scoped("acme").Members(ctx)
	if err != nil || len(members) != 1 || members[0].Role != access.Admin || members[0].Email != "admin@acme.example" {
		t.Errorf("members of acme = %+v, %v; want the invited admin", members, err)
	}
	for _, args := range [][]string{{"tenant", "admin", "nosuch", "a@b.example"}, {"tenant", "audit-retention", "acme", "10"}, {"staff", "invite", "not-an-address"}} {
		if _, err := ops(args...); err == nil {
			t.Errorf("ops %v = nil; want an error", args)
		}
	}
}

// TestRun_subjectRequestRelay records a request that reached the processor: it awaits the controller, the
// admins' mail is queued, and the person's identifiers appear in no output.
func TestRun_subjectRequestRelay(t *testing.T) {
	ctx := context.Background()
	s := app.Settings{Table: testenv.Table(t), KeyID: testenv.Env.Standins.KeyARN}
	ops := cli(ctx, s)
	if _, err := ops("tenant", "create", "acme", "Acme ApS"); err != nil {
		t.Fatal(err)
	}
	st := store.New(testenv.Env.AWS.DynamoDB(), s.Table)
	if err := st.Scoped("acme").PutMember(ctx, domain.Member{UserID: "u1", Email: "admin@acme.example", Role: access.Admin}); err != nil {
		t.Fatal(err)
	}
	out, err := ops("subject-request", "relay", "acme", "-kind", "erasure", "-received", "2026-12-01T10:00:00Z", "-channel", "letter",
		"-email", "jens@example.dk", "-phone", "20 12 34 56")
	if err != nil || !strings.Contains(out, "awaits the controller") || strings.Contains(out, "jens") || strings.Contains(out, "20 12") {
		t.Fatalf("relay = %q, %v; want the request recorded, no identifier printed", out, err)
	}
	reqs, _, err := st.Scoped("acme").SubjectRequests(ctx, store.RequestQuery{State: domain.StateAwaiting}, 10, "")
	if err != nil || len(reqs) != 1 || reqs[0].Kind != domain.KindErasure || reqs[0].Channel != "letter" {
		t.Fatalf("requests = %+v, %v; want one awaiting erasure by letter", reqs, err)
	}
	if mails, err := st.Scoped("acme").MailsAbout(ctx, "request:"+reqs[0].ID); err != nil || len(mails) != 1 || mails[0].To[0] != "admin@acme.example" {
		t.Errorf("admin mail = %+v, %v", mails, err)
	}
	for _, bad := range [][]string{
		{"subject-request", "relay", "acme", "-kind", "forget", "-received", "2026-12-01T10:00:00Z", "-channel", "letter", "-email", "j@example.dk"},
		{"subject-request", "relay", "acme", "-kind", "access", "-received", "yesterday", "-channel", "letter", "-email", "j@example.dk"},
		{"subject-request", "relay", "acme", "-kind", "access", "-received", "2026-12-01T10:00:00Z", "-channel", "letter"},
		{"subject-request", "relay", "nosuch", "-kind", "access", "-received", "2026-12-01T10:00:00Z", "-channel", "letter", "-email", "j@example.dk"},
	} {
		if out, err := ops(bad...); err == nil {
			t.Errorf("relay %v = %q; want an error", bad[3:], out)
		}
	}
}

// TestRun_contractEnd: operators end a contract (grace 30-90 days, delete or return), see its status,
// keep billing records, and wind the processor up: every tenant ends with its data returned.
func TestRun_contractEnd(t *testing.T) {
	ctx := context.Background()
	s := app.Settings{Table: testenv.Table(t), KeyID: testenv.Env.Standins.KeyARN}
	ops := cli(ctx, s)
	for _, id := range []string{"acme", "bravo"} {
		if _, err := ops("tenant", "create", id, id+" ApS"); err != nil {
			t.Fatal(err)
		}
	}
	for _, bad := range [][]string{
		{"tenant", "end", "acme", "--on", "2027-01-31", "--grace", "91", "--then", "delete"},
		{"tenant", "end", "acme", "--on", "2027-01-31", "--then", "keep"},
		{"tenant", "end", "acme", "--on", "31/01/2027", "--then", "delete"},
	} {
		if _, err := ops(bad...); err == nil {
			t.Errorf("%v = nil; want refused", bad)
		}
	}
	out, err := ops("tenant", "end", "acme", "--on", "2027-01-31", "--grace", "90", "--then", "return")
	if err != nil || !strings.Contains(out, "purged from 2027-05-01") {
		t.Errorf("tenant end = %q, %v; want the purge 90 days after the end", out, err)
	}
	if out, err := ops("tenant", "status", "acme"); err != nil || !strings.Contains(out, "active") || !strings.Contains(out, "then     return") {
		t.Errorf("tenant status = %q, %v", out, err)
	}
	if _, err := ops("billing", "contact", "acme", "-name", "Acme Bookkeeping", "-email", "billing@acme.dk"); err != nil {
		t.Error(err)
	}
	if _, err := ops("billing", "invoice", "acme", "2026-17", "-issued", "2026-11-30", "-period", "2026-11"); err != nil {
		t.Error(err)
	}
	st := store.New(testenv.Env.AWS.DynamoDB(), s.Table)
	if b, err := st.Scoped("acme").Billing(ctx); err != nil || b.Contact == nil || len(b.Invoices) != 1 || b.KeptUntil.Year() != 2032 {
		t.Errorf("billing = %+v, %v; want the contact and invoice kept until 2032", b, err)
	}
	if out, err := ops("record", "acme"); err != nil || !strings.Contains(out, "# Record of processing activities") || !strings.Contains(out, "acme ApS") {
		t.Errorf("record = %q, %v", out, err)
	}
	if out, err := ops("migrate", "expiry-hours"); err != nil || !strings.Contains(out, "0 leads and subject keys") {
		t.Errorf("migrate expiry-hours = %q, %v; want nothing to do on a new table", out, err)
	}
	if _, err := ops("processor", "wind-up"); err == nil {
		t.Error("wind-up without -confirm = nil; want refused")
	}
	out, err = ops("processor", "wind-up", "-confirm", "yes")
	if err != nil || !strings.Contains(out, "2 of 2 tenants ended") {
		t.Errorf("wind-up = %q, %v", out, err)
	}
	for _, id := range []string{"acme", "bravo"} {
		tn, err := st.Tenant(ctx, id)
		if err != nil || tn.Contract.Then != domain.ContractThenReturn || tn.Contract.GraceDays != 30 || tn.Contract.State(time.Now().Add(time.Second)) != domain.ContractEnded {
			t.Errorf("tenant %s after wind-up = %+v, %v; want ended now, returned, 30 days' grace", id, tn.Contract, err)
		}
	}
}

// TestRun_backupRestore: `ops backup` writes a logical backup; a lead erased and a tenant purged after it
// stay gone after `ops restore -from latest`, which reports the replay and the audit chains and what to
// switch; -into the live table is refused.
func TestRun_backupRestore(t *testing.T) {
	ctx := context.Background()
	s := app.Settings{Table: testenv.Table(t), KeyID: testenv.Env.Standins.KeyARN, BackupBucket: testenv.Bucket(t)}
	ops := cli(ctx, s)
	for _, id := range []string{"acme", "bravo"} {
		if _, err := ops("tenant", "create", id, id+" ApS"); err != nil {
			t.Fatal(err)
		}
	}
	st := store.New(testenv.Env.AWS.DynamoDB(), s.Table)
	if out, err := ops("backup"); err != nil || !strings.Contains(out, "manifest-summary.json") {
		t.Fatalf("backup = %q, %v", out, err)
	}
	// After the backup: bravo's contract ends long ago and it is purged.
	v := st.Scoped("bravo")
	if err := v.EndContract(ctx, domain.Contract{EndsAt: time.Now().AddDate(0, 0, -40), GraceDays: 30, Then: domain.ContractThenDelete}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		p, err := v.PurgeStep(ctx, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if p.Phase == store.PurgePhaseNotice {
			if _, err := v.RecordPurge(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if p.Done {
			break
		}
	}
	if _, err := ops("restore", "-to", time.Now().Format(time.RFC3339), "-into", s.Table); err == nil {
		t.Error("restore into the live table = nil; want refused")
	}
	into := testenv.Name("restored")
	out, err := ops("restore", "-to", time.Now().Add(time.Minute).Format(time.RFC3339), "-into", into, "-from", "latest")
	if err != nil || !strings.Contains(out, "purges replayed      1") || !strings.Contains(out, "2 walked, 0 broken") || !strings.Contains(out, "To switch") {
		t.Errorf("restore = %q, %v", out, err)
	}
	// A table restored by other means (here: the same one again) is finished the same way; the replay
	// deletes nothing more.
	if out, err := ops("restore", "-restored", "-into", into); err != nil || !strings.Contains(out, "purges replayed      1 (0 items deleted)") {
		t.Errorf("restore -restored = %q, %v", out, err)
	}
	rs := store.New(testenv.Env.AWS.DynamoDB(), into)
	if _, err := rs.Tenant(ctx, "acme"); err != nil {
		t.Errorf("acme in the restored table = %v", err)
	}
	if _, err := rs.Tenant(ctx, "bravo"); err == nil {
		t.Error("the purged tenant came back")
	}
}

// TestRun_subprocessorChange: operators announce a change (a month ahead; sooner is refused), list the
// changes and the objections.
func TestRun_subprocessorChange(t *testing.T) {
	ctx := context.Background()
	s := app.Settings{Table: testenv.Table(t), KeyID: testenv.Env.Standins.KeyARN}
	ops := cli(ctx, s)
	if _, err := ops("tenant", "create", "acme", "Acme ApS"); err != nil {
		t.Fatal(err)
	}
	soon := time.Now().AddDate(0, 0, 10).Format(time.DateOnly)
	if _, err := ops("subprocessor", "propose", "-name", "Mailer GmbH", "-service", "mail", "-location", "eu-central-1", "-effective", soon); err == nil {
		t.Error("propose 10 days ahead = nil; want refused")
	}
	later := time.Now().AddDate(0, 1, 2).Format(time.DateOnly)
	out, err := ops("subprocessor", "propose", "-name", "Mailer GmbH", "-service", "mail", "-location", "eu-central-1", "-effective", later)
	if err != nil || !strings.Contains(out, "announced to 0 tenants") { // acme has no admin yet to mail
		t.Errorf("propose = %q, %v; want the change announced", out, err)
	}
	list, err := ops("subprocessor", "changes")
	if err != nil || !strings.Contains(list, "Mailer GmbH (eu-central-1)") {
		t.Fatalf("changes = %q, %v", list, err)
	}
	id := strings.Fields(list)[0]
	if out, err := ops("subprocessor", "objections", id); err != nil || !strings.Contains(out, "0 objection(s)") {
		t.Errorf("objections = %q, %v", out, err)
	}
}

// TestRun_incident: operators open an incident (its scope printed), send the detailed notice, list what is
// due and close it.
func TestRun_incident(t *testing.T) {
	ctx := context.Background()
	s := app.Settings{Table: testenv.Table(t), KeyID: testenv.Env.Standins.KeyARN}
	ops := cli(ctx, s)
	if _, err := ops("tenant", "create", "acme", "Acme ApS"); err != nil {
		t.Fatal(err)
	}
	discovered := time.Now().UTC().Add(-35 * time.Hour).Format(time.RFC3339)
	out, err := ops("incident", "open", "-discovered", discovered, "-nature", "Lost laptop", "-tenant", "acme")
	if err != nil || !strings.Contains(out, "1 tenant(s) affected") {
		t.Fatalf("incident open = %q, %v", out, err)
	}
	id := strings.Fields(out)[1]
	if out, err := ops("incident", "list"); err != nil || !strings.Contains(out, "detailed notice of "+id+" to acme: due") {
		t.Errorf("incident list = %q, %v; want the detailed notice due", out, err)
	}
	if _, err := ops("incident", "notice", id, "-detailed", "-consequences", "Phishing risk.", "-measures", "Disk was encrypted."); err != nil {
		t.Fatal(err)
	}
	if out, _ := ops("incident", "list"); strings.Contains(out, "due") {
		t.Errorf("after the detailed notice the list = %q; want nothing due", out)
	}
	if out, err := ops("incident", "close", id); err != nil || !strings.Contains(out, "closed") {
		t.Errorf("incident close = %q, %v", out, err)
	}
}
