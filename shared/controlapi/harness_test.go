package controlapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/google/uuid"

	"leadvault/infra/local/cognitolocal"
	"leadvault/infra/local/devissuer"
	"leadvault/infra/local/gateway"
	"leadvault/infra/local/standins"
	"leadvault/infra/local/testenv"
	"leadvault/shared/access"
	"leadvault/shared/audit"
	"leadvault/shared/controlapi"
	"leadvault/shared/directory"
	"leadvault/shared/domain"
	"leadvault/shared/jobs"
	"leadvault/shared/presign"
	"leadvault/shared/store"
	"leadvault/shared/vault"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

const issuerURL = "https://cognito-idp.eu-north-1.amazonaws.com/eu-north-1_test"

// world is a controller API behind the local gateway and JWT authorizer, on the stand-ins, with two
// tenants, a and b, each with an admin and a member, and a support user.
type world struct {
	t      *testing.T
	url    string
	table  string
	st     *store.Store
	vault  *vault.Vault
	audit  *audit.Log
	issuer *devissuer.Issuer
	idp    *cognitolocal.Server
	// users is the SDK client of the user pool stand-in.
	users *cognitoidentityprovider.Client
	jobs  *jobs.Runner
	keys  map[string]*vault.TenantKey
	ids   map[string]string // user name → the sub Cognito gave them
	clock func() time.Time
	// exports holds the archives of subject requests.
	exports string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	w := &world{t: t, keys: map[string]*vault.TenantKey{}, ids: map[string]string{}}
	w.clock = time.Now
	table := testenv.Table(t)
	w.table = table
	db := testenv.Env.AWS.DynamoDB()
	w.st = store.New(db, table)
	w.vault = testenv.Vault()
	w.audit = audit.New(db, table, 0)
	var err error
	if w.issuer, err = devissuer.New(issuerURL, nil); err != nil {
		t.Fatal(err)
	}
	if w.idp, err = cognitolocal.New("eu-north-1_test", w.issuer, cognitolocal.Options{}); err != nil {
		t.Fatal(err)
	}
	idpSrv := httptest.NewServer(w.idp)
	t.Cleanup(idpSrv.Close)
	idp := cognitoidentityprovider.New(cognitoidentityprovider.Options{
		Region: "eu-north-1", BaseEndpoint: aws.String(idpSrv.URL),
		Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider("test", "test", "")),
	})
	w.users = idp
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	dir := directory.New(idp, "eu-north-1_test")
	w.exports = testenv.Bucket(t)
	cfg := testenv.Env.AWS.Config
	h := controlapi.New(controlapi.Deps{
		Store: w.st, Keys: w.vault, Audit: w.audit, Directory: dir, Log: log,
		Links: presign.New(cfg.AWS, cfg.Endpoint), ExportBucket: w.exports,
		Now: func() time.Time { return w.clock() },
	})
	w.jobs = jobs.New(w.st, log, 0).WithSubjectRequests(w.vault, testenv.Env.AWS.S3(), w.audit, jobs.RequestConfig{
		ExportBucket: w.exports, SentBucket: testenv.Bucket(t), KeyID: standins.LocalKeyAlias,
		Processor: jobs.Processor, StorageLocation: jobs.StorageLocation("eu-north-1")}).WithContracts(jobs.ContractConfig{Directory: dir})
	api := gateway.New([]gateway.Route{{
		Method: "ANY", Path: "/v1/{proxy+}", Handler: h.Handle,
		Authorizer: &gateway.JWTAuthorizer{Issuer: issuerURL, Audience: []string{devissuer.DefaultClientID}, Keys: w.issuer.Key},
	}}, gateway.Options{Log: log})
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	w.url = srv.URL
	for _, tenant := range []string{"acme", "bravo"} {
		w.keys[tenant] = testenv.Tenant(t, w.st, w.vault, tenant)
		for _, role := range []access.Role{access.Admin, access.Member} {
			name, email := tenant+"-"+string(role), string(role)+"@"+tenant+".example"
			id, err := dir.Invite(ctx, tenant, email, role)
			if err != nil {
				t.Fatal(err)
			}
			w.ids[name] = id
			if err := w.st.Scoped(tenant).PutMember(ctx, domain.Member{UserID: id, Email: email, Role: role, AddedAt: time.Now()}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return w
}

// token mints an access token as Cognito would for user: "<tenant>-<role>" for controller staff, or
// "staff…" for processor support staff (no tenant).
func (w *world) token(user string) string {
	w.t.Helper()
	c := devissuer.Claims{Subject: w.id(user), Username: w.id(user), Groups: []string{"support"}}
	if tenant, role, ok := strings.Cut(user, "-"); ok && !strings.HasPrefix(user, "staff") {
		c.TenantID, c.Groups = tenant, []string{role}
	}
	tok, err := w.issuer.Mint(c)
	if err != nil {
		w.t.Fatal(err)
	}
	return tok
}

// id is the user ID of a seeded user ("acme-admin"), or name itself for anyone else.
func (w *world) id(name string) string {
	if id, ok := w.ids[name]; ok {
		return id
	}
	return name
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("answer %d is not a JSON object: %v: %s", r.status, err, r.body)
	}
	return m
}

func (r response) items(t *testing.T) []map[string]any {
	t.Helper()
	var l struct {
		Items []map[string]any `json:"items"`
	}
	if err := json.Unmarshal(r.body, &l); err != nil {
		t.Fatalf("answer %d is not a list: %v: %s", r.status, err, r.body)
	}
	return l.Items
}

// do sends a request with the bearer token (none if ""), a JSON body if body is not nil, and extra
// headers as name, value pairs.
func (w *world) do(token, method, path string, body any, headers ...string) response {
	w.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			w.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, w.url+path, rd)
	if err != nil {
		w.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// must fails the test unless the answer has status want.
func (w *world) must(want int, token, method, path string, body any, headers ...string) response {
	w.t.Helper()
	r := w.do(token, method, path, body, headers...)
	if r.status != want {
		w.t.Fatalf("%s %s = %d %s; want %d", method, path, r.status, r.body, want)
	}
	return r
}

// lead stores a lead of tenant in campaign, as intake would.
func (w *world) lead(tenant, campaign, email string) domain.Lead {
	w.t.Helper()
	now := time.Now().UTC()
	l := domain.Lead{
		TenantID: tenant, ID: uuid.Must(uuid.NewV7()).String(), FormID: "contact", CampaignID: campaign,
		Source: domain.SourceForm, CreatedAt: now, ExpiresAt: now.Add(365 * 24 * time.Hour),
		Personal: domain.Personal{Name: "Jens Hansen", Email: email, Phone: "+4520123456", Message: "Ring mig"},
	}
	if _, _, err := w.st.Scoped(w.keys[tenant].Tenant()).PutLead(context.Background(), w.keys[tenant], l, store.Idempotency{Key: l.ID, RequestHash: "h", TTL: time.Hour}); err != nil {
		w.t.Fatal(err)
	}
	return l
}

// campaign creates a campaign of tenant directly in the store.
func (w *world) campaign(tenant, id string) {
	w.t.Helper()
	if err := w.st.Scoped(tenant).PutCampaign(context.Background(), domain.Campaign{ID: id, Name: "Campaign " + id, CreatedAt: time.Now()}); err != nil {
		w.t.Fatal(err)
	}
}

// form creates an enabled form of tenant feeding campaign directly in the store.
func (w *world) form(tenant, id, campaign string) domain.Form {
	w.t.Helper()
	f := testenv.Form(tenant, id)
	f.CampaignID = campaign
	if err := w.st.Scoped(f.TenantID).PutForm(context.Background(), f); err != nil {
		w.t.Fatal(err)
	}
	return f
}

// trail returns tenant's whole audit trail, oldest first.
func (w *world) trail(tenant string) []audit.Record {
	w.t.Helper()
	var all []audit.Record
	q := audit.Query{Limit: audit.MaxPage}
	for {
		recs, next, err := w.audit.List(context.Background(), tenant, q)
		if err != nil {
			w.t.Fatal(err)
		}
		all = append(all, recs...)
		if next == "" {
			break
		}
		q.Cursor = next
	}
	for i, j := 0, len(all)-1; i < j; i, j = i+1, j-1 {
		all[i], all[j] = all[j], all[i]
	}
	return all
}

// last returns tenant's newest audit record.
func (w *world) last(tenant string) audit.Record {
	w.t.Helper()
	recs := w.trail(tenant)
	if len(recs) == 0 {
		w.t.Fatalf("tenant %s has no audit records", tenant)
	}
	return recs[len(recs)-1]
}

// toMap turns v into its JSON object form.
func toMap(v any) map[string]any {
	b, _ := json.Marshal(v)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}
