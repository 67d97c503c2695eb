package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/openccm/openccm/pkg/apiv1"
	"github.com/openccm/openccm/pkg/client"
)

var (
	uuidRe = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	// A timestamp field that is not RFC 3339 in UTC.
	nonUTCTimeRe = regexp.MustCompile(`"(created_at|updated_at|expires_at)":"[^"]*[^Z"]"`)
)

// user is a person of the flow, with the session of their last sign-in.
type user struct {
	Email, Password string
	ID              string
	Token           string // session token
	c               *client.Client
}

// flow is the state that the steps of one run of the main flow share.
type flow struct {
	t       *testing.T // the test of the whole flow, which owns the servers
	backend backend
	dataDir string
	db      string
	srv     *server
	api     *api
	rec     *recorder
	cli     *cli

	// serverLogs are the stderr of the server runs that have ended.
	serverLogs []string

	admin, writer, reader, outsider *user
	apiToken                        string // the writer API token's secret
	apiTokenID                      string

	// Every registry password ever sent: none may come back.
	registryPasswords []string

	acct     *apiv1.Account
	registry *apiv1.Registry
	apps     []*apiv1.App // in creation order

	otherAcct     *apiv1.Account
	otherApp      *apiv1.App
	otherRegistry *apiv1.Registry
}

// TestServerOverHTTPS runs the main flow of a user of the server — sign-up,
// accounts, members, tokens, registries and apps, through the Go client, raw
// HTTP and the CLI, then a restart — on every database backend.
func TestServerOverHTTPS(t *testing.T) {
	for _, b := range backends(t) {
		t.Run("on "+b.name, func(t *testing.T) {
			t.Parallel()
			runFlow(t, b)
		})
	}
}

func runFlow(t *testing.T, b backend) {
	f := &flow{t: t, backend: b, rec: &recorder{}, dataDir: t.TempDir()}
	f.db = b.database(t)
	f.srv = startServer(t, f.dataDir, f.db, "--log-level", "debug")
	f.api = newAPI(t, f.srv, f.rec)
	f.cli = newCLI(t)
	newUser := func(name string) *user {
		return &user{Email: name + "@example.com", Password: "pw-" + name + "-" + randomHex(8)}
	}
	f.admin, f.writer, f.reader, f.outsider = newUser("admin"), newUser("writer"), newUser("reader"), newUser("outsider")

	must := func(name string, fn func(t *testing.T), ready func() bool) {
		t.Helper()
		mustStep(t, name, fn, ready)
	}
	must("the server's certificate is trusted by its pinned fingerprint and by nothing else", f.checkPinning,
		func() bool { return f.srv.Fingerprint != "" })
	t.Run("the operations endpoints answer", f.checkOperations)
	t.Run("calls without valid credentials are 401", f.checkUnauthenticated)
	must("the first user signs up and a second sign-up is refused", f.signUp, func() bool { return f.admin.ID != "" })
	must("the administrator logs in and creates an account", f.createAccount, func() bool { return f.admin.c != nil && f.acct != nil })
	must("the manager adds a writer and a reader who then log in", f.addMembers, func() bool { return f.writer.c != nil && f.reader.c != nil })
	must("the manager creates an API token with the writer role", f.createAPIToken, func() bool { return f.apiToken != "" })
	must("a writer saves a registry with a password", f.createRegistry, func() bool { return f.registry != nil })
	must("a writer creates apps of every type", f.createApps, func() bool { return len(f.apps) == len(appRequests()) })
	t.Run("apps are listed, paged one by one, read, updated and deleted", f.manageApps)
	t.Run("a reader can read but not write", f.checkReader)
	t.Run("bad bodies and duplicates are rejected with the field at fault", f.checkValidation)
	t.Run("concurrent creations of one name give one app and conflicts", f.checkConcurrentCreate)
	t.Run("an API token never has more than its creator's current role", f.checkTokenFollowsRole)
	t.Run("objects of another account are not found", f.checkIsolation)
	t.Run("the CLI drives the server end to end", f.runCLI)
	t.Run("a logged-out session stops working", f.checkLogout)
	t.Run("the server keeps its state across a restart", f.checkRestart)
	t.Run("a revoked API token stops working", f.checkTokenRevocation)
	t.Run("every response follows the conventions of the API", f.checkConventions)
	t.Run("no registry password comes back in any response, CLI output or log line", f.checkNoSecretLeaks)
}

// mustStep runs a step that later steps build on: when it did not produce
// what they need (ready is false), the flow stops there.
func mustStep(t *testing.T, name string, fn func(t *testing.T), ready func() bool) {
	t.Helper()
	t.Run(name, fn)
	if !ready() {
		t.Fatalf("stopping the flow: the step %q did not complete", name)
	}
}

func (f *flow) checkPinning(t *testing.T) {
	ctx := t.Context()
	if f.srv.Fingerprint == "" {
		t.Fatalf("the server printed no TLS fingerprint:\n%s", f.srv.Stdout())
	}
	if !strings.HasPrefix(f.srv.URL, "https://127.0.0.1:") {
		t.Errorf("URL %q, want https://127.0.0.1:PORT", f.srv.URL)
	}
	want, err := client.ParseFingerprint(f.srv.Fingerprint)
	if err != nil {
		t.Fatalf("printed fingerprint: %v", err)
	}
	pemBytes, err := os.ReadFile(filepath.Join(f.dataDir, "tls.crt"))
	if err != nil {
		t.Fatal(err)
	}
	if blk, _ := pem.Decode(pemBytes); blk == nil || client.Fingerprint(blk.Bytes) != want {
		t.Errorf("the printed fingerprint is not the one of the data dir's tls.crt")
	}

	pinned, err := client.New(client.Config{BaseURL: f.srv.URL, Fingerprint: f.srv.Fingerprint})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pinned.Version(ctx); err != nil {
		t.Errorf("a client pinning the printed fingerprint: %v", err)
	}

	unpinned, err := client.New(client.Config{BaseURL: f.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	_, err = unpinned.Version(ctx)
	var ve *tls.CertificateVerificationError
	if !errors.As(err, &ve) {
		t.Errorf("a client without the pin: error %v, want a TLS certificate verification error", err)
	}

	wrong, err := client.New(client.Config{BaseURL: f.srv.URL, Fingerprint: strings.Repeat("ab", 32)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = wrong.Version(ctx)
	var fm *client.FingerprintMismatchError
	if !errors.As(err, &fm) || fm.Got != want {
		t.Errorf("a client pinning another fingerprint: error %v, want a fingerprint mismatch", err)
	}
}

func (f *flow) checkOperations(t *testing.T) {
	f.api.wantStatus(t, 200, "GET", "/healthz", "", "")
	f.api.wantStatus(t, 200, "GET", "/readyz", "", "")
	metrics := f.api.wantStatus(t, 200, "GET", "/metrics", "", "")
	if !bytes.Contains(metrics, []byte("openccm_http_requests_total")) {
		t.Errorf("/metrics has no openccm_http_requests_total:\n%.2000s", metrics)
	}
	v := mustJSON[apiv1.Version](t, f.api.wantStatus(t, 200, "GET", "/v1/version", "", ""))
	if v.SchemaVersion < 1 || v.Version == "" {
		t.Errorf("/v1/version = %+v, want a version and schema_version >= 1", v)
	}
	status, hdr, spec := f.api.do(t, "GET", "/api/openapi.yaml", "", "")
	if status != 200 || !bytes.Contains(spec, []byte("openapi:")) || !bytes.Contains(spec, []byte("/v1/accounts/{account_id}/apps")) {
		t.Errorf("/api/openapi.yaml: status %d, Content-Type %q, body starts %.200q", status, hdr.Get("Content-Type"), spec)
	}
	f.api.wantError(t, 404, apiv1.CodeNotFound, "", "GET", "/v1/no-such-thing", "", "")
	status, hdr, body := f.api.do(t, "DELETE", "/v1/version", "", "")
	checkErrorBody(t, "DELETE /v1/version", status, hdr, body, 405, apiv1.CodeMethodNotAllowed, "")
	if !strings.Contains(hdr.Get("Allow"), "GET") {
		t.Errorf("a 405 with Allow %q, want GET listed", hdr.Get("Allow"))
	}
}

func (f *flow) checkUnauthenticated(t *testing.T) {
	status, hdr, body := f.api.do(t, "GET", "/v1/me", "", "")
	checkErrorBody(t, "GET /v1/me without a token", status, hdr, body, 401, apiv1.CodeUnauthenticated, "")
	if hdr.Get("WWW-Authenticate") == "" {
		t.Error("a 401 without WWW-Authenticate")
	}
	f.api.wantError(t, 401, apiv1.CodeUnauthenticated, "", "GET", "/v1/accounts", "ccms_not-a-real-token", "")
	f.api.wantError(t, 401, apiv1.CodeUnauthenticated, "", "POST", "/v1/accounts", "", `{"name":"nobody"}`)
	f.api.wantError(t, 401, apiv1.CodeUnauthenticated, "", "GET", "/v1/accounts/00000000-0000-7000-8000-000000000000/apps", "", "")
}

func (f *flow) signUp(t *testing.T) {
	ctx := t.Context()
	anon := f.api.client(t, "")
	_, err := anon.Signup(ctx, apiv1.Credentials{Email: f.admin.Email, Password: "short"})
	wantAPIError(t, "signup with an 11-character password", err, 400, apiv1.CodeValidationFailed, "password")
	f.api.wantError(t, 400, apiv1.CodeValidationFailed, "email", "POST", "/v1/signup", "", `{"password": "long-enough-password"}`)
	f.api.wantError(t, 400, apiv1.CodeInvalidJSON, "", "POST", "/v1/signup", "", `{"email": `)

	u, err := anon.Signup(ctx, apiv1.Credentials{Email: f.admin.Email, Password: f.admin.Password})
	if err != nil {
		t.Fatalf("signup of the first user: %v", err)
	}
	if st := f.rec.last(t).Status; st != 201 {
		t.Errorf("signup: status %d, want 201", st)
	}
	if u.Email != f.admin.Email || !uuidRe.MatchString(u.UserID) {
		t.Errorf("signup returned %+v", u)
	}
	f.admin.ID = u.UserID

	_, err = anon.Signup(ctx, apiv1.Credentials{Email: "second@example.com", Password: "another-long-password"})
	wantAPIError(t, "a second signup", err, 403, apiv1.CodeForbidden, "")
}

// login signs u in and gives it a client.
func (f *flow) login(t *testing.T, u *user) {
	t.Helper()
	s, err := f.api.client(t, "").Login(t.Context(), apiv1.Credentials{Email: u.Email, Password: u.Password})
	if err != nil {
		t.Fatalf("login of %s: %v", u.Email, err)
	}
	if st := f.rec.last(t).Status; st != 201 {
		t.Errorf("login: status %d, want 201", st)
	}
	if s.Token == "" || s.ExpiresAt.IsZero() {
		t.Fatalf("login of %s returned %+v", u.Email, s)
	}
	u.Token = s.Token
	u.c = f.api.client(t, s.Token)
}

func (f *flow) createAccount(t *testing.T) {
	ctx := t.Context()
	_, err := f.api.client(t, "").Login(ctx, apiv1.Credentials{Email: f.admin.Email, Password: "wrong-password-123"})
	wantAPIError(t, "login with a wrong password", err, 401, apiv1.CodeUnauthenticated, "")

	f.login(t, f.admin)
	me, err := f.admin.c.Me(ctx)
	if err != nil || me.Email != f.admin.Email {
		t.Fatalf("GET /v1/me = %+v, %v", me, err)
	}
	a, err := f.admin.c.CreateAccount(ctx, apiv1.CreateAccountRequest{Name: "Acme Corp"})
	if err != nil {
		t.Fatalf("creating an account: %v", err)
	}
	if st := f.rec.last(t).Status; st != 201 {
		t.Errorf("account creation: status %d, want 201", st)
	}
	if !uuidRe.MatchString(a.AccountID) || a.Name != "Acme Corp" || a.Role != "manager" {
		t.Errorf("account = %+v, want a UUID, the name and the role manager", a)
	}
	if a.TrustDomain != "acme-corp" {
		t.Errorf("trust_domain = %q, want acme-corp", a.TrustDomain)
	}
	if a.ApprovalPolicy != (apiv1.ApprovalPolicy{RequiredApprovals: 1, AllowSelfApproval: true}) {
		t.Errorf("approval_policy = %+v, want the defaults", a.ApprovalPolicy)
	}
	if len(a.AzureCVMPCRPriority) != 23 || a.AzureCVMPCRPriority[0] != 0 || a.AzureCVMPCRPriority[22] != 22 {
		t.Errorf("azure_cvm_pcr_priority = %v, want 0..22", a.AzureCVMPCRPriority)
	}
	if !slices.Equal(a.SGXAcceptedTCBStatuses, []string{"UpToDate"}) {
		t.Errorf("sgx_accepted_tcb_statuses = %v, want [UpToDate]", a.SGXAcceptedTCBStatuses)
	}
	f.acct = a
	_, err = f.admin.c.CreateAccount(ctx, apiv1.CreateAccountRequest{Name: "Acme Corp"})
	wantAPIError(t, "a second account with the same name", err, 409, apiv1.CodeConflict, "")

	path := "/v1/accounts/" + a.AccountID
	f.api.wantError(t, 400, apiv1.CodeValidationFailed, "approval_policy.required_approvals", "PATCH", path, f.admin.Token,
		`{"approval_policy": {"required_approvals": 11}}`)
	f.api.wantError(t, 400, apiv1.CodeValidationFailed, "azure_cvm_pcr_priority", "PATCH", path, f.admin.Token,
		`{"azure_cvm_pcr_priority": [0, 1, 2]}`)
	two := 2
	u, err := f.admin.c.UpdateAccount(ctx, a.AccountID, apiv1.UpdateAccountRequest{ApprovalPolicy: &apiv1.ApprovalPolicyPatch{RequiredApprovals: &two}})
	if err != nil || u.ApprovalPolicy != (apiv1.ApprovalPolicy{RequiredApprovals: 2, AllowSelfApproval: true}) || u.Name != a.Name {
		t.Errorf("PATCH approval_policy.required_approvals = %+v, %v; want 2, the rest unchanged", u, err)
	}
}

func (f *flow) addMembers(t *testing.T) {
	ctx := t.Context()
	for _, m := range []struct {
		u    *user
		role string
	}{{f.writer, "writer"}, {f.reader, "reader"}} {
		got, err := f.admin.c.AddMember(ctx, f.acct.AccountID, apiv1.AddMemberRequest{Email: m.u.Email, Role: m.role, Password: m.u.Password})
		if err != nil {
			t.Fatalf("adding %s: %v", m.u.Email, err)
		}
		if st := f.rec.last(t).Status; st != 201 {
			t.Errorf("adding a member: status %d, want 201", st)
		}
		if got.Email != m.u.Email || got.Role != m.role || !uuidRe.MatchString(got.UserID) {
			t.Errorf("member = %+v", got)
		}
		m.u.ID = got.UserID
	}
	members, err := client.ListAll(ctx, func(ctx context.Context, o client.ListOptions) (*apiv1.List[apiv1.Member], error) {
		return f.admin.c.ListMembers(ctx, f.acct.AccountID, o)
	})
	if err != nil {
		t.Fatal(err)
	}
	roles := map[string]string{}
	for _, m := range members {
		roles[m.Email] = m.Role
	}
	want := map[string]string{f.admin.Email: "manager", f.writer.Email: "writer", f.reader.Email: "reader"}
	if fmt.Sprint(roles) != fmt.Sprint(want) {
		t.Errorf("members = %v, want %v", roles, want)
	}

	_, err = f.admin.c.AddMember(ctx, f.acct.AccountID, apiv1.AddMemberRequest{Email: "nopass@example.com", Role: "reader"})
	wantAPIError(t, "adding a new user without a password", err, 400, apiv1.CodeValidationFailed, "password")
	_, err = f.admin.c.AddMember(ctx, f.acct.AccountID, apiv1.AddMemberRequest{Email: f.writer.Email, Role: "reader"})
	wantAPIError(t, "adding a member twice", err, 409, apiv1.CodeConflict, "")
	_, err = f.admin.c.AddMember(ctx, f.acct.AccountID, apiv1.AddMemberRequest{Email: "boss@example.com", Role: "owner", Password: "long-enough-password"})
	wantAPIError(t, "adding a member with an unknown role", err, 400, apiv1.CodeValidationFailed, "role")
	_, err = f.admin.c.SetMemberRole(ctx, f.acct.AccountID, f.admin.ID, "writer")
	wantAPIError(t, "demoting the last manager", err, 409, apiv1.CodeConflict, "")
	err = f.admin.c.RemoveMember(ctx, f.acct.AccountID, f.admin.ID)
	wantAPIError(t, "removing the last manager", err, 409, apiv1.CodeConflict, "")

	f.login(t, f.writer)
	f.login(t, f.reader)
	me, err := f.reader.c.Me(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(me.Accounts) != 1 || me.Accounts[0].AccountID != f.acct.AccountID || me.Accounts[0].Role != "reader" {
		t.Errorf("the reader's accounts = %+v", me.Accounts)
	}
	_, err = f.writer.c.AddMember(ctx, f.acct.AccountID, apiv1.AddMemberRequest{Email: "x@example.com", Role: "reader", Password: "some-long-password"})
	wantAPIError(t, "a writer adding a member", err, 403, apiv1.CodeForbidden, "")
}

func (f *flow) createAPIToken(t *testing.T) {
	ctx := t.Context()
	tok, err := f.admin.c.CreateToken(ctx, apiv1.CreateTokenRequest{Name: "deploy-bot", AccountID: f.acct.AccountID, Role: "writer"})
	if err != nil {
		t.Fatalf("creating an API token: %v", err)
	}
	if st := f.rec.last(t).Status; st != 201 {
		t.Errorf("token creation: status %d, want 201", st)
	}
	if tok.Token == "" || !uuidRe.MatchString(tok.TokenID) || tok.Role != "writer" || tok.AccountID != f.acct.AccountID {
		t.Fatalf("token = %+v", tok)
	}
	f.apiToken, f.apiTokenID = tok.Token, tok.TokenID
	list, err := f.admin.c.ListTokens(ctx, client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, l := range list.Items {
		if l.Token != "" {
			t.Errorf("GET /v1/tokens returned a token secret: %+v", l)
		}
		found = found || l.TokenID == tok.TokenID
	}
	if !found {
		t.Errorf("GET /v1/tokens does not list the new token: %+v", list.Items)
	}
	// An API token works in its account but cannot act as the user.
	bot := f.api.client(t, f.apiToken)
	if _, err := bot.ListApps(ctx, f.acct.AccountID, "", client.ListOptions{}); err != nil {
		t.Errorf("the API token cannot list apps: %v", err)
	}
	_, err = bot.CreateToken(ctx, apiv1.CreateTokenRequest{Name: "child", AccountID: f.acct.AccountID, Role: "reader"})
	wantAPIError(t, "an API token creating a token", err, 403, apiv1.CodeForbidden, "")
	_, err = bot.CreateAccount(ctx, apiv1.CreateAccountRequest{Name: "Bot Corp"})
	wantAPIError(t, "an API token creating an account", err, 403, apiv1.CodeForbidden, "")
	_, err = f.reader.c.CreateToken(ctx, apiv1.CreateTokenRequest{Name: "escalate", AccountID: f.acct.AccountID, Role: "writer"})
	wantAPIError(t, "a reader creating a writer token", err, 403, apiv1.CodeForbidden, "")
	_, err = f.admin.c.CreateToken(ctx, apiv1.CreateTokenRequest{Name: "elsewhere", AccountID: "00000000-0000-7000-8000-000000000000", Role: "reader"})
	wantAPIError(t, "a token for an account the user is not in", err, 404, apiv1.CodeNotFound, "")
	_, err = f.admin.c.CreateToken(ctx, apiv1.CreateTokenRequest{Name: "odd", AccountID: f.acct.AccountID, Role: "owner"})
	wantAPIError(t, "a token with an unknown role", err, 400, apiv1.CodeValidationFailed, "role")
}

func (f *flow) createRegistry(t *testing.T) {
	ctx := t.Context()
	password := "reg-secret-" + randomHex(12)
	f.registryPasswords = append(f.registryPasswords, password)
	bot := f.api.client(t, f.apiToken)
	r, err := bot.CreateRegistry(ctx, f.acct.AccountID, apiv1.CreateRegistryRequest{
		URL: "registry.example.com:5000", Username: "robot", Password: password, Description: "team registry",
	})
	if err != nil {
		t.Fatalf("creating a registry with the writer API token: %v", err)
	}
	ex := f.rec.last(t)
	if ex.Status != 201 {
		t.Errorf("registry creation: status %d, want 201", ex.Status)
	}
	if !uuidRe.MatchString(r.RegistryID) || r.URL != "registry.example.com:5000" || r.Username != "robot" || r.Description != "team registry" || r.CreatedAt.IsZero() {
		t.Errorf("registry = %+v", r)
	}
	f.registry = r

	got, err := f.writer.c.GetRegistry(ctx, f.acct.AccountID, r.RegistryID)
	if err != nil || got.RegistryID != r.RegistryID || got.Username != "robot" {
		t.Errorf("GET registry = %+v, %v", got, err)
	}
	list, err := f.reader.c.ListRegistries(ctx, f.acct.AccountID, client.ListOptions{})
	if err != nil || len(list.Items) != 1 || list.Items[0].RegistryID != r.RegistryID {
		t.Errorf("registry list = %+v, %v", list, err)
	}
	m, err := f.reader.c.MatchRegistry(ctx, f.acct.AccountID, "registry.example.com:5000/payments/api:1.2")
	if err != nil || m.RegistryID != r.RegistryID {
		t.Errorf("registry match = %+v, %v", m, err)
	}
	_, err = f.reader.c.MatchRegistry(ctx, f.acct.AccountID, "nginx:latest")
	wantAPIError(t, "matching an image of an unsaved registry", err, 404, apiv1.CodeNotFound, "")

	// A new password replaces the old one, and is not returned either.
	newPassword := "reg-secret-" + randomHex(12)
	f.registryPasswords = append(f.registryPasswords, newPassword)
	desc := "team registry (rotated)"
	u, err := f.writer.c.UpdateRegistry(ctx, f.acct.AccountID, r.RegistryID, apiv1.UpdateRegistryRequest{Password: &newPassword, Description: &desc})
	if err != nil || u.Description != desc || u.Username != "robot" {
		t.Errorf("PATCH registry = %+v, %v", u, err)
	}

	// Docker Hub: image names without a host match docker.io.
	hubPassword := "reg-secret-" + randomHex(12)
	f.registryPasswords = append(f.registryPasswords, hubPassword)
	hub, err := f.writer.c.CreateRegistry(ctx, f.acct.AccountID, apiv1.CreateRegistryRequest{URL: "docker.io", Username: "hubuser", Password: hubPassword})
	if err != nil {
		t.Fatalf("saving docker.io: %v", err)
	}
	for _, image := range []string{"nginx", "library/nginx:1.25", "docker.io/library/nginx@sha256:" + strings.Repeat("a", 64)} {
		m, err := f.reader.c.MatchRegistry(ctx, f.acct.AccountID, image)
		if err != nil || m.RegistryID != hub.RegistryID {
			t.Errorf("match %q = %+v, %v; want the docker.io registry", image, m, err)
		}
	}
	if err := f.writer.c.DeleteRegistry(ctx, f.acct.AccountID, hub.RegistryID); err != nil {
		t.Fatalf("deleting a registry: %v", err)
	}
	_, err = f.reader.c.GetRegistry(ctx, f.acct.AccountID, hub.RegistryID)
	wantAPIError(t, "GET a deleted registry", err, 404, apiv1.CodeNotFound, "")
	_, err = f.reader.c.MatchRegistry(ctx, f.acct.AccountID, "nginx")
	wantAPIError(t, "matching a deleted registry", err, 404, apiv1.CodeNotFound, "")
}

// appRequests are the apps the flow creates, one or more per type.
func appRequests() []apiv1.CreateAppRequest {
	days := 90
	return []apiv1.CreateAppRequest{
		{
			Name: "payments", Type: "enclave_os", Description: "card payments",
			Domains:         []string{"payments.example.com"},
			InputImageName:  "docker.io/library/nginx",
			OutputImageName: "registry.example.com:5000/payments-nitro",
			Labels:          map[string]string{"team": "pay"},
		},
		{Name: "policy-engine", Type: "aci", InputImageName: "myreg.azurecr.io/policy/engine"},
		{Name: "signer", Type: "edp"},
		{Name: "vm-fleet", Type: "sev_snp"},
		{Name: "azure-vm", Type: "azure_cvm", Certificate: &apiv1.CertificateSettingsPatch{ValidityDays: &days}},
	}
}

func (f *flow) createApps(t *testing.T) {
	ctx := t.Context()
	for _, req := range appRequests() {
		a, err := f.writer.c.CreateApp(ctx, f.acct.AccountID, req)
		if err != nil {
			t.Fatalf("creating the %s app %q: %v", req.Type, req.Name, err)
		}
		ex := f.rec.last(t)
		if ex.Status != 201 {
			t.Errorf("app creation: status %d, want 201", ex.Status)
		}
		var raw map[string]json.RawMessage
		if err := json.Unmarshal([]byte(ex.Body), &raw); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"app_id", "name", "type", "description", "domains", "approved_domains", "certificate", "labels", "created_at", "updated_at"} {
			if _, ok := raw[k]; !ok {
				t.Errorf("the %s app has no %q field: %s", req.Type, k, ex.Body)
			}
		}
		if nonUTCTimeRe.MatchString(ex.Body) {
			t.Errorf("a timestamp is not in UTC: %s", ex.Body)
		}
		if !uuidRe.MatchString(a.AppID) || a.Name != req.Name || a.Type != req.Type ||
			a.InputImageName != req.InputImageName || a.OutputImageName != req.OutputImageName {
			t.Errorf("app = %+v, want the fields of %+v", a, req)
		}
		wantCert := apiv1.CertificateSettings{Enabled: true, ValidityDays: 30}
		if req.Certificate != nil {
			wantCert.ValidityDays = *req.Certificate.ValidityDays
		}
		if a.Certificate != wantCert {
			t.Errorf("the %s app's certificate = %+v, want %+v", req.Type, a.Certificate, wantCert)
		}
		if !slices.Equal(a.Domains, req.Domains) && len(a.Domains)+len(req.Domains) > 0 {
			t.Errorf("domains = %v, want %v", a.Domains, req.Domains)
		}
		if len(a.ApprovedDomains) != 0 {
			t.Errorf("a new app has approved domains %v", a.ApprovedDomains)
		}
		f.apps = append(f.apps, a)
	}
}

func (f *flow) app(name string) *apiv1.App {
	for _, a := range f.apps {
		if a.Name == name {
			return a
		}
	}
	return nil
}

func (f *flow) manageApps(t *testing.T) {
	ctx := t.Context()
	acct := f.acct.AccountID
	var names []string
	for _, a := range f.apps {
		names = append(names, a.Name)
	}

	t.Run("a list holds every app in creation order", func(t *testing.T) {
		l, err := f.reader.c.ListApps(ctx, acct, "", client.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, a := range l.Items {
			got = append(got, a.Name)
		}
		if !slices.Equal(got, names) || l.NextCursor != "" {
			t.Errorf("apps = %v (next_cursor %q), want %v and no cursor", got, l.NextCursor, names)
		}
	})

	t.Run("limit=1 pages through the apps one at a time", func(t *testing.T) {
		var got []string
		cursor := ""
		for page := 1; ; page++ {
			if page > len(names)+1 {
				t.Fatalf("more than %d pages for %d apps", len(names)+1, len(names))
			}
			l, err := f.reader.c.ListApps(ctx, acct, "", client.ListOptions{Limit: 1, Cursor: cursor})
			if err != nil {
				t.Fatalf("page %d: %v", page, err)
			}
			if len(l.Items) > 1 {
				t.Fatalf("page %d holds %d apps with limit=1", page, len(l.Items))
			}
			for _, a := range l.Items {
				got = append(got, a.Name)
			}
			if l.NextCursor == "" {
				if strings.Contains(f.rec.last(t).Body, "next_cursor") {
					t.Errorf("the last page has a next_cursor member: %s", f.rec.last(t).Body)
				}
				if len(l.Items) == 0 {
					t.Errorf("the last page (%d) is empty: next_cursor was set on the page before, which was the last", page)
				}
				break
			}
			cursor = l.NextCursor
		}
		if !slices.Equal(got, names) {
			t.Errorf("paged apps = %v, want %v", got, names)
		}
	})

	t.Run("the type filter keeps the apps of one type", func(t *testing.T) {
		l, err := f.reader.c.ListApps(ctx, acct, "aci", client.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Items) != 1 || l.Items[0].Name != "policy-engine" {
			t.Errorf("?type=aci = %+v", l.Items)
		}
	})

	t.Run("each app reads back as created", func(t *testing.T) {
		for _, want := range f.apps {
			got, err := f.reader.c.GetApp(ctx, acct, want.AppID)
			if err != nil {
				t.Errorf("GET app %s: %v", want.Name, err)
				continue
			}
			if got.AppID != want.AppID || got.Name != want.Name || got.Type != want.Type || got.InputImageName != want.InputImageName ||
				got.OutputImageName != want.OutputImageName || !got.CreatedAt.Equal(want.CreatedAt) || fmt.Sprint(got.Labels) != fmt.Sprint(want.Labels) {
				t.Errorf("GET app = %+v, want %+v", got, want)
			}
		}
	})

	t.Run("PATCH changes only the given fields", func(t *testing.T) {
		signer := f.app("signer")
		desc := "SGX signing service"
		labels := map[string]string{"tier": "gold"}
		got, err := f.writer.c.UpdateApp(ctx, acct, signer.AppID, apiv1.UpdateAppRequest{Description: &desc, Labels: &labels})
		if err != nil {
			t.Fatal(err)
		}
		if got.Description != desc || got.Labels["tier"] != "gold" || got.Name != "signer" || got.Type != "edp" || got.UpdatedAt.Before(got.CreatedAt) {
			t.Errorf("PATCH app = %+v", got)
		}
		again, err := f.reader.c.GetApp(ctx, acct, signer.AppID)
		if err != nil || again.Description != desc {
			t.Errorf("GET after PATCH = %+v, %v", again, err)
		}
		*signer = *got

		typ := "aci"
		_, err = f.writer.c.UpdateApp(ctx, acct, signer.AppID, apiv1.UpdateAppRequest{Type: &typ})
		wantAPIError(t, "changing an app's type", err, 400, apiv1.CodeValidationFailed, "type")
		taken := "payments"
		_, err = f.writer.c.UpdateApp(ctx, acct, signer.AppID, apiv1.UpdateAppRequest{Name: &taken})
		wantAPIError(t, "renaming an app to a taken name", err, 409, apiv1.CodeConflict, "")
	})

	t.Run("a deleted app is gone", func(t *testing.T) {
		vm := f.app("vm-fleet")
		if err := f.writer.c.DeleteApp(ctx, acct, vm.AppID, false); err != nil {
			t.Fatal(err)
		}
		_, err := f.reader.c.GetApp(ctx, acct, vm.AppID)
		wantAPIError(t, "GET a deleted app", err, 404, apiv1.CodeNotFound, "")
		err = f.writer.c.DeleteApp(ctx, acct, vm.AppID, false)
		wantAPIError(t, "DELETE a deleted app", err, 404, apiv1.CodeNotFound, "")
		l, err := f.reader.c.ListApps(ctx, acct, "", client.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Items) != len(f.apps)-1 {
			t.Errorf("after the delete, the list holds %d apps, want %d", len(l.Items), len(f.apps)-1)
		}
		f.apps = slices.DeleteFunc(f.apps, func(a *apiv1.App) bool { return a.AppID == vm.AppID })
	})
}

func (f *flow) checkReader(t *testing.T) {
	ctx := t.Context()
	acct := f.acct.AccountID
	_, err := f.reader.c.CreateApp(ctx, acct, apiv1.CreateAppRequest{Name: "reader-app", Type: "edp"})
	wantAPIError(t, "a reader creating an app", err, 403, apiv1.CodeForbidden, "")
	password := "reg-secret-" + randomHex(12)
	f.registryPasswords = append(f.registryPasswords, password)
	_, err = f.reader.c.CreateRegistry(ctx, acct, apiv1.CreateRegistryRequest{URL: "reader.example.com", Username: "u", Password: password})
	wantAPIError(t, "a reader creating a registry", err, 403, apiv1.CodeForbidden, "")
	desc := "changed by a reader"
	_, err = f.reader.c.UpdateApp(ctx, acct, f.apps[0].AppID, apiv1.UpdateAppRequest{Description: &desc})
	wantAPIError(t, "a reader changing an app", err, 403, apiv1.CodeForbidden, "")
	err = f.reader.c.DeleteApp(ctx, acct, f.apps[0].AppID, false)
	wantAPIError(t, "a reader deleting an app", err, 403, apiv1.CodeForbidden, "")
	err = f.reader.c.DeleteRegistry(ctx, acct, f.registry.RegistryID)
	wantAPIError(t, "a reader deleting a registry", err, 403, apiv1.CodeForbidden, "")
	_, err = f.reader.c.AddMember(ctx, acct, apiv1.AddMemberRequest{Email: f.outsider.Email, Role: "reader", Password: f.outsider.Password})
	wantAPIError(t, "a reader adding a member", err, 403, apiv1.CodeForbidden, "")
	// What the reader was refused did not happen.
	if _, err := f.reader.c.GetRegistry(ctx, acct, f.registry.RegistryID); err != nil {
		t.Errorf("the reader cannot read the registry: %v", err)
	}
	if a, err := f.reader.c.GetApp(ctx, acct, f.apps[0].AppID); err != nil || a.Description == desc {
		t.Errorf("GET app after the reader's PATCH = %+v, %v", a, err)
	}
}

func (f *flow) checkValidation(t *testing.T) {
	ctx := t.Context()
	acct := f.acct.AccountID
	apps := "/v1/accounts/" + acct + "/apps"
	regs := "/v1/accounts/" + acct + "/registries"
	tok := f.writer.Token
	f.api.wantError(t, 400, apiv1.CodeInvalidJSON, "", "POST", apps, tok, `{"name": "broken", "type": `)
	f.api.wantError(t, 400, apiv1.CodeInvalidJSON, "", "POST", apps, tok, `not json at all`)
	f.api.wantError(t, 400, apiv1.CodeInvalidJSON, "", "POST", apps, tok, `{"name": 42, "type": "edp"}`)
	f.api.wantError(t, 400, apiv1.CodeValidationFailed, "name", "POST", apps, tok, `{"type": "edp"}`)
	f.api.wantError(t, 400, apiv1.CodeValidationFailed, "type", "POST", apps, tok, `{"name": "x", "type": "mainframe"}`)
	f.api.wantError(t, 400, apiv1.CodeValidationFailed, "output_image_name", "POST", apps, tok,
		`{"name": "half", "type": "enclave_os", "input_image_name": "docker.io/library/nginx"}`)
	f.api.wantError(t, 400, apiv1.CodeValidationFailed, "input_image_name", "POST", apps, tok,
		`{"name": "edp-with-image", "type": "edp", "input_image_name": "docker.io/library/nginx"}`)
	f.api.wantError(t, 400, apiv1.CodeValidationFailed, "input_image_name", "POST", apps, tok, `{"name": "aci-without-image", "type": "aci"}`)
	f.api.wantError(t, 400, apiv1.CodeValidationFailed, "certificate.validity_days", "POST", apps, tok,
		`{"name": "long-cert", "type": "edp", "certificate": {"validity_days": 826}}`)
	f.api.wantError(t, 400, apiv1.CodeValidationFailed, "domains[1]", "POST", apps, tok,
		`{"name": "bad-domain", "type": "edp", "domains": ["ok.example.com", "not a domain!"]}`)
	f.api.wantError(t, 400, apiv1.CodeValidationFailed, "input_image_name", "POST", apps, tok,
		`{"name": "tagged", "type": "aci", "input_image_name": "docker.io/library/nginx:1.25"}`)
	f.api.wantError(t, 400, apiv1.CodeValidationFailed, "colour", "POST", apps, tok, `{"name": "typo", "type": "edp", "colour": "red"}`)
	f.api.wantError(t, 400, apiv1.CodeValidationFailed, "password", "POST", regs, tok, `{"url": "nopass.example.com", "username": "u"}`)
	f.api.wantError(t, 400, apiv1.CodeValidationFailed, "url", "POST", regs, tok, `{"url": "bad host/with/path", "username": "u", "password": "p"}`)
	f.api.wantError(t, 400, apiv1.CodeInvalidJSON, "", "POST", regs, tok, `{"url": "nopass.example.com", `)

	_, err := f.writer.c.CreateApp(ctx, acct, apiv1.CreateAppRequest{Name: "payments", Type: "edp"})
	wantAPIError(t, "a duplicate app name", err, 409, apiv1.CodeConflict, "")

	password := "reg-secret-" + randomHex(12)
	f.registryPasswords = append(f.registryPasswords, password)
	_, err = f.writer.c.CreateRegistry(ctx, acct, apiv1.CreateRegistryRequest{URL: "registry.example.com:5000", Username: "other", Password: password})
	wantAPIError(t, "a second registry with the same URL", err, 409, apiv1.CodeConflict, "")

	// None of the refused requests created anything.
	l, err := f.reader.c.ListApps(ctx, acct, "", client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Items) != len(f.apps) {
		t.Errorf("after the refused requests: %d apps, want %d", len(l.Items), len(f.apps))
	}
}

func (f *flow) checkConcurrentCreate(t *testing.T) {
	const n = 8
	path := "/v1/accounts/" + f.acct.AccountID + "/apps"
	statuses := make(chan int, n)
	for range n {
		go func() {
			status := 0
			defer func() { statuses <- status }()
			req, err := http.NewRequestWithContext(t.Context(), "POST", f.srv.URL+path, strings.NewReader(`{"name": "race", "type": "sev_snp"}`))
			if err != nil {
				return
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+f.writer.Token)
			resp, err := f.api.hc.Do(req)
			if err != nil {
				return
			}
			resp.Body.Close()
			status = resp.StatusCode
		}()
	}
	count := map[int]int{}
	for range n {
		count[<-statuses]++
	}
	if count[201] != 1 || count[409] != n-1 {
		t.Errorf("%d concurrent creations of one app name: statuses %v, want one 201 and %d 409", n, count, n-1)
	}
	l, err := f.reader.c.ListApps(t.Context(), f.acct.AccountID, "sev_snp", client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Items) != 1 || l.Items[0].Name != "race" {
		t.Errorf("sev_snp apps after the race = %+v, want one named race", l.Items)
	}
	for _, a := range l.Items {
		if err := f.writer.c.DeleteApp(t.Context(), f.acct.AccountID, a.AppID, false); err != nil {
			t.Errorf("deleting %s: %v", a.Name, err)
		}
	}
}

func (f *flow) checkTokenFollowsRole(t *testing.T) {
	ctx := t.Context()
	acct := f.acct.AccountID
	tok, err := f.writer.c.CreateToken(ctx, apiv1.CreateTokenRequest{Name: "writer-bot", AccountID: acct, Role: "writer"})
	if err != nil {
		t.Fatalf("the writer creating a writer token: %v", err)
	}
	bot := f.api.client(t, tok.Token)
	desc := "changed by the writer's token"
	signer := f.app("signer")
	if _, err := bot.UpdateApp(ctx, acct, signer.AppID, apiv1.UpdateAppRequest{Description: &desc}); err != nil {
		t.Fatalf("the writer's token changing an app: %v", err)
	}
	if _, err := f.admin.c.SetMemberRole(ctx, acct, f.writer.ID, "reader"); err != nil {
		t.Fatalf("demoting the writer: %v", err)
	}
	_, err = bot.UpdateApp(ctx, acct, signer.AppID, apiv1.UpdateAppRequest{Description: &desc})
	wantAPIError(t, "the token of a demoted writer changing an app", err, 403, apiv1.CodeForbidden, "")
	_, err = f.writer.c.UpdateApp(ctx, acct, signer.AppID, apiv1.UpdateAppRequest{Description: &desc})
	wantAPIError(t, "a demoted writer's session changing an app", err, 403, apiv1.CodeForbidden, "")
	if _, err := bot.GetApp(ctx, acct, signer.AppID); err != nil {
		t.Errorf("the token of a demoted writer cannot read any more: %v", err)
	}
	if m, err := f.admin.c.SetMemberRole(ctx, acct, f.writer.ID, "writer"); err != nil || m.Role != "writer" {
		t.Fatalf("restoring the writer's role: %+v, %v", m, err)
	}
	got, err := f.writer.c.UpdateApp(ctx, acct, signer.AppID, apiv1.UpdateAppRequest{Description: &signer.Description})
	if err != nil {
		t.Errorf("the writer, restored, changing an app: %v", err)
	} else {
		*signer = *got
	}
	if err := f.writer.c.DeleteToken(ctx, tok.TokenID); err != nil {
		t.Errorf("the writer revoking their token: %v", err)
	}
}

func (f *flow) checkIsolation(t *testing.T) {
	ctx := t.Context()
	acct := f.acct.AccountID

	// The outsider gets a user by being added to Acme, makes an account of
	// their own, and is then removed from Acme.
	m, err := f.admin.c.AddMember(ctx, acct, apiv1.AddMemberRequest{Email: f.outsider.Email, Role: "reader", Password: f.outsider.Password})
	if err != nil {
		t.Fatalf("adding the outsider: %v", err)
	}
	f.outsider.ID = m.UserID
	f.login(t, f.outsider)
	other, err := f.outsider.c.CreateAccount(ctx, apiv1.CreateAccountRequest{Name: "Globex"})
	if err != nil {
		t.Fatalf("the outsider creating an account: %v", err)
	}
	f.otherAcct = other
	if body := f.api.wantStatus(t, 200, "GET", "/v1/accounts/"+other.AccountID+"/apps", f.outsider.Token, ""); !regexp.MustCompile(`"items":\s*\[\s*\]`).Match(body) {
		t.Errorf("an empty list is %s, want items: []", body)
	}
	// The same app name in another account is no conflict.
	f.otherApp, err = f.outsider.c.CreateApp(ctx, other.AccountID, apiv1.CreateAppRequest{Name: "payments", Type: "edp", Description: "globex payments"})
	if err != nil {
		t.Fatalf("the outsider creating an app named like one of Acme: %v", err)
	}
	password := "reg-secret-" + randomHex(12)
	f.registryPasswords = append(f.registryPasswords, password)
	f.otherRegistry, err = f.outsider.c.CreateRegistry(ctx, other.AccountID, apiv1.CreateRegistryRequest{URL: "registry.example.com:5000", Username: "globex", Password: password})
	if err != nil {
		t.Fatalf("the outsider saving a registry: %v", err)
	}
	if err := f.admin.c.RemoveMember(ctx, acct, f.outsider.ID); err != nil {
		t.Fatalf("removing the outsider from Acme: %v", err)
	}

	oa, oapp, oreg := other.AccountID, f.otherApp.AppID, f.otherRegistry.RegistryID
	probers := []struct {
		name, token string
	}{
		{"the system administrator", f.admin.Token},
		{"a writer", f.writer.Token},
		{"an API token", f.apiToken},
	}
	for _, p := range probers {
		t.Run(p.name+" sees nothing of another account", func(t *testing.T) {
			nf := func(method, path, body string) {
				t.Helper()
				f.api.wantError(t, 404, apiv1.CodeNotFound, "", method, path, p.token, body)
			}
			nf("GET", "/v1/accounts/"+oa, "")
			nf("PATCH", "/v1/accounts/"+oa, `{"name":"Hijacked"}`)
			nf("GET", "/v1/accounts/"+oa+"/members", "")
			nf("GET", "/v1/accounts/"+oa+"/apps", "")
			nf("POST", "/v1/accounts/"+oa+"/apps", `{"name":"intruder","type":"edp"}`)
			nf("GET", "/v1/accounts/"+oa+"/apps/"+oapp, "")
			nf("PATCH", "/v1/accounts/"+oa+"/apps/"+oapp, `{"description":"hijacked"}`)
			nf("DELETE", "/v1/accounts/"+oa+"/apps/"+oapp, "")
			nf("GET", "/v1/accounts/"+oa+"/registries", "")
			nf("GET", "/v1/accounts/"+oa+"/registries/"+oreg, "")
			nf("GET", "/v1/accounts/"+oa+"/registries/match?image=registry.example.com:5000/x", "")
			nf("DELETE", "/v1/accounts/"+oa+"/registries/"+oreg, "")
			// Through the caller's own account.
			nf("GET", "/v1/accounts/"+acct+"/apps/"+oapp, "")
			nf("PATCH", "/v1/accounts/"+acct+"/apps/"+oapp, `{"description":"hijacked"}`)
			nf("DELETE", "/v1/accounts/"+acct+"/apps/"+oapp, "")
			nf("GET", "/v1/accounts/"+acct+"/registries/"+oreg, "")
			nf("PATCH", "/v1/accounts/"+acct+"/registries/"+oreg, `{"description":"hijacked"}`)
			nf("DELETE", "/v1/accounts/"+acct+"/registries/"+oreg, "")
			// An account that does not exist looks the same.
			nf("GET", "/v1/accounts/00000000-0000-7000-8000-000000000000/apps", "")
		})
	}

	t.Run("a removed member loses the account", func(t *testing.T) {
		nf := func(method, path string) {
			t.Helper()
			f.api.wantError(t, 404, apiv1.CodeNotFound, "", method, path, f.outsider.Token, "")
		}
		nf("GET", "/v1/accounts/"+acct)
		nf("GET", "/v1/accounts/"+acct+"/apps")
		nf("GET", "/v1/accounts/"+acct+"/registries/"+f.registry.RegistryID)
		nf("GET", "/v1/accounts/"+oa+"/apps/"+f.apps[0].AppID)
	})

	t.Run("the other account's objects are untouched", func(t *testing.T) {
		a, err := f.outsider.c.GetApp(ctx, oa, oapp)
		if err != nil || a.Description != "globex payments" {
			t.Errorf("the other account's app = %+v, %v", a, err)
		}
		if _, err := f.outsider.c.GetRegistry(ctx, oa, oreg); err != nil {
			t.Errorf("the other account's registry: %v", err)
		}
		o, err := f.outsider.c.GetAccount(ctx, oa)
		if err != nil || o.Name != "Globex" {
			t.Errorf("the other account = %+v, %v", o, err)
		}
		accounts, err := f.admin.c.ListAccounts(ctx, client.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range accounts.Items {
			if a.AccountID == oa {
				t.Errorf("the administrator's account list holds the other account")
			}
		}
	})

	t.Run("a manager deletes their account with everything in it", func(t *testing.T) {
		if err := f.outsider.c.DeleteAccount(ctx, oa); err != nil {
			t.Fatalf("deleting the other account: %v", err)
		}
		_, err := f.outsider.c.GetAccount(ctx, oa)
		wantAPIError(t, "GET a deleted account", err, 404, apiv1.CodeNotFound, "")
		_, err = f.outsider.c.GetApp(ctx, oa, oapp)
		wantAPIError(t, "GET an app of a deleted account", err, 404, apiv1.CodeNotFound, "")
		// Acme's app of the same name is untouched.
		if a, err := f.reader.c.GetApp(ctx, acct, f.app("payments").AppID); err != nil || a.Name != "payments" {
			t.Errorf("Acme's payments app after the other account's deletion = %+v, %v", a, err)
		}
	})
}

func (f *flow) runCLI(t *testing.T) {
	c := f.cli
	registryPassword := "reg-secret-" + randomHex(12)
	f.registryPasswords = append(f.registryPasswords, registryPassword)

	r := c.run(t, f.writer.Password+"\n", nil, "login", "--server", f.srv.URL, "--fingerprint", strings.Repeat("AB:", 31)+"AB", "--email", f.writer.Email, "--password-stdin")
	if r.Code == 0 || !strings.Contains(r.Stderr, "fingerprint") {
		t.Errorf("ccm login with a wrong fingerprint: exit %d, stderr %q; want a failure about the fingerprint", r.Code, r.Stderr)
	}
	if _, err := os.Stat(c.ConfigPath); err == nil {
		t.Errorf("ccm login with a wrong fingerprint saved a config file")
	}

	r = c.ok(t, f.writer.Password+"\n", nil, "login", "--server", f.srv.URL, "--fingerprint", f.srv.Fingerprint, "--email", f.writer.Email, "--password-stdin")
	if !strings.Contains(r.Stdout, "Logged in") {
		t.Errorf("ccm login printed %q", r.Stdout)
	}
	st, err := os.Stat(c.ConfigPath)
	if err != nil {
		t.Fatalf("ccm login wrote no config file: %v", err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("config file mode %v, want 0600", st.Mode().Perm())
	}

	c.ok(t, "", nil, "account", "use", f.acct.Name)

	r = c.ok(t, registryPassword+"\n", nil, "registry", "add", "cli.example.com", "--username", "ci-bot", "--password-stdin")
	if !strings.Contains(r.Stdout, "cli.example.com") {
		t.Errorf("ccm registry add printed %q", r.Stdout)
	}

	r = c.ok(t, "", nil, "registry", "list", "-o", "json")
	var regs []map[string]any
	if err := json.Unmarshal([]byte(r.Stdout), &regs); err != nil {
		t.Fatalf("ccm registry list -o json is not a JSON array: %v\n%s", err, r.Stdout)
	}
	var urls []string
	for _, reg := range regs {
		urls = append(urls, fmt.Sprint(reg["url"]))
		for k := range reg {
			if strings.Contains(strings.ToLower(k), "password") {
				t.Errorf("ccm registry list shows a %q field: %v", k, reg)
			}
		}
		if reg["url"] == "cli.example.com" && reg["username"] != "ci-bot" {
			t.Errorf("the CLI's registry = %v", reg)
		}
	}
	slices.Sort(urls)
	if !slices.Equal(urls, []string{"cli.example.com", "registry.example.com:5000"}) {
		t.Errorf("ccm registry list URLs = %v", urls)
	}

	c.ok(t, "", nil, "app", "create", "cli-app", "--type", "edp")

	r = c.ok(t, "", nil, "app", "list", "-o", "json")
	var apps []apiv1.App
	if err := json.Unmarshal([]byte(r.Stdout), &apps); err != nil {
		t.Fatalf("ccm app list -o json: %v\n%s", err, r.Stdout)
	}
	var cliApp *apiv1.App
	for i := range apps {
		if apps[i].Name == "cli-app" {
			cliApp = &apps[i]
		}
	}
	if cliApp == nil || cliApp.Type != "edp" || len(apps) != len(f.apps)+1 {
		t.Errorf("ccm app list -o json = %+v", apps)
	}
	if cliApp != nil {
		f.apps = append(f.apps, cliApp)
	}

	r = c.ok(t, "", nil, "app", "show", "cli-app")
	if !strings.Contains(r.Stdout, "cli-app") || !strings.Contains(r.Stdout, "edp") {
		t.Errorf("ccm app show printed:\n%s", r.Stdout)
	}

	r = c.ok(t, "", nil, "member", "list")
	for _, u := range []*user{f.admin, f.writer, f.reader} {
		if !strings.Contains(r.Stdout, u.Email) {
			t.Errorf("ccm member list does not show %s:\n%s", u.Email, r.Stdout)
		}
	}
	if strings.Contains(r.Stdout, f.outsider.Email) {
		t.Errorf("ccm member list shows the removed member:\n%s", r.Stdout)
	}

	r = c.ok(t, "", nil, "token", "create", "--name", "ci", "--role", "reader")
	token := strings.TrimSpace(r.Stdout)
	if token == "" || strings.ContainsAny(token, " \n") {
		t.Fatalf("ccm token create printed %q, want the token alone", r.Stdout)
	}
	withToken := []string{"CCM_TOKEN=" + token}
	r = c.ok(t, "", withToken, "app", "list")
	if !strings.Contains(r.Stdout, "cli-app") || !strings.Contains(r.Stdout, "payments") {
		t.Errorf("ccm app list with CCM_TOKEN printed:\n%s", r.Stdout)
	}
	r = c.run(t, "", withToken, "app", "create", "not-allowed", "--type", "edp")
	if r.Code == 0 || !strings.Contains(r.Stderr, "forbidden") {
		t.Errorf("ccm app create with a reader token: exit %d, stderr %q; want a failure naming forbidden", r.Code, r.Stderr)
	}

	if st, err := os.Stat(c.ConfigPath); err != nil {
		t.Errorf("config file after the CLI runs: %v", err)
	} else if st.Mode().Perm() != 0o600 {
		t.Errorf("config file mode after the CLI runs %v, want 0600", st.Mode().Perm())
	}
	cfg, err := os.ReadFile(c.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(cfg, []byte(f.writer.Password)) || bytes.Contains(cfg, []byte(registryPassword)) {
		t.Errorf("the config file holds a password")
	}
}

func (f *flow) checkLogout(t *testing.T) {
	ctx := t.Context()
	if err := f.reader.c.Logout(ctx); err != nil {
		t.Fatalf("logout: %v", err)
	}
	_, err := f.reader.c.Me(ctx)
	wantAPIError(t, "a call with a logged-out session", err, 401, apiv1.CodeUnauthenticated, "")
}

func (f *flow) checkRestart(t *testing.T) {
	ctx := t.Context()
	keyPath := filepath.Join(f.dataDir, "master.key")
	keyBefore, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatalf("the data dir has no master key: %v", err)
	}
	if st, err := os.Stat(keyPath); err == nil && st.Mode().Perm() != 0o600 {
		t.Errorf("master.key mode %v, want 0600", st.Mode().Perm())
	}
	first := f.srv
	first.Stop(t)
	f.serverLogs = append(f.serverLogs, first.Stderr())
	if !strings.Contains(first.Stderr(), "ccm server stopped") {
		t.Errorf("the server log does not say it stopped:\n%s", first.Stderr())
	}

	f.srv = startServerOwned(t, f.t, f.dataDir, f.db, "--log-level", "debug")
	f.api = newAPI(t, f.srv, f.rec)
	if f.srv.Fingerprint != first.Fingerprint {
		t.Errorf("the TLS fingerprint changed across the restart: %s, then %s", first.Fingerprint, f.srv.Fingerprint)
	}
	keyAfter, err := os.ReadFile(keyPath)
	if err != nil || !bytes.Equal(keyBefore, keyAfter) {
		t.Errorf("the master key file changed across the restart (%v)", err)
	}
	if log, ok := f.srv.WaitStderr("master key loaded"); !ok || strings.Contains(log, "created a new master key") {
		t.Errorf("the restarted server did not reuse the master key:\n%s", log)
	}

	// Emails are case-insensitive.
	upper := *f.admin
	upper.Email = strings.ToUpper(f.admin.Email)
	f.login(t, &upper)
	f.admin.Token, f.admin.c = upper.Token, upper.c
	c := f.admin.c
	acct, err := c.GetAccount(ctx, f.acct.AccountID)
	if err != nil || acct.Name != f.acct.Name {
		t.Errorf("the account after the restart = %+v, %v", acct, err)
	}
	for _, want := range f.apps {
		got, err := c.GetApp(ctx, f.acct.AccountID, want.AppID)
		if err != nil || got.Name != want.Name || got.Description != want.Description {
			t.Errorf("app %s after the restart = %+v, %v", want.Name, got, err)
		}
	}
	r, err := c.GetRegistry(ctx, f.acct.AccountID, f.registry.RegistryID)
	if err != nil || r.URL != f.registry.URL || r.Username != f.registry.Username {
		t.Errorf("the registry after the restart = %+v, %v", r, err)
	}
	if m, err := c.MatchRegistry(ctx, f.acct.AccountID, "registry.example.com:5000/payments-nitro"); err != nil || m.RegistryID != f.registry.RegistryID {
		t.Errorf("registry match after the restart = %+v, %v", m, err)
	}
	// Sessions and API tokens live in the database.
	if _, err := f.api.client(t, f.writer.Token).Me(ctx); err != nil {
		t.Errorf("the writer's session did not survive the restart: %v", err)
	}
	if _, err := f.api.client(t, f.apiToken).ListApps(ctx, f.acct.AccountID, "", client.ListOptions{}); err != nil {
		t.Errorf("the API token did not survive the restart: %v", err)
	}
}

func (f *flow) checkTokenRevocation(t *testing.T) {
	ctx := t.Context()
	if err := f.admin.c.DeleteToken(ctx, f.apiTokenID); err != nil {
		t.Fatalf("revoking the API token: %v", err)
	}
	_, err := f.api.client(t, f.apiToken).ListApps(ctx, f.acct.AccountID, "", client.ListOptions{})
	wantAPIError(t, "a call with a revoked API token", err, 401, apiv1.CodeUnauthenticated, "")
}

// knownCodes are the error codes of the contract.
var knownCodes = map[string]bool{
	apiv1.CodeInvalidJSON: true, apiv1.CodeValidationFailed: true, apiv1.CodeUnauthenticated: true,
	apiv1.CodeForbidden: true, apiv1.CodeNotFound: true, apiv1.CodeConflict: true, apiv1.CodeTooLarge: true,
	apiv1.CodeAttestationFailed: true, apiv1.CodeRateLimited: true, apiv1.CodeInternal: true,
	apiv1.CodeUnavailable: true, apiv1.CodeMethodNotAllowed: true,
}

// checkConventions checks every response the flow received against the
// conventions of the API: JSON bodies, the error body, UTC timestamps,
// request IDs, and no internal errors.
func (f *flow) checkConventions(t *testing.T) {
	for _, ex := range f.rec.all() {
		what := fmt.Sprintf("%s %s (%d)", ex.Method, ex.Path, ex.Status)
		if ex.Header.Get("X-Request-Id") == "" {
			t.Errorf("%s: no X-Request-Id", what)
		}
		if ex.Status >= 500 {
			t.Errorf("%s: a server error during the flow: %s", what, ex.Body)
		}
		if !strings.HasPrefix(ex.Path, "/v1/") {
			continue
		}
		if ex.Body != "" && !strings.HasPrefix(ex.Header.Get("Content-Type"), "application/json") {
			t.Errorf("%s: Content-Type %q, want application/json", what, ex.Header.Get("Content-Type"))
		}
		if nonUTCTimeRe.MatchString(ex.Body) {
			t.Errorf("%s: a timestamp is not RFC 3339 UTC: %s", what, ex.Body)
		}
		if ex.Status < 300 {
			continue
		}
		var eb map[string]map[string]any
		if err := json.Unmarshal([]byte(ex.Body), &eb); err != nil || eb["error"] == nil {
			t.Errorf("%s: not an error body: %s", what, ex.Body)
			continue
		}
		code, _ := eb["error"]["code"].(string)
		msg, _ := eb["error"]["message"].(string)
		if !knownCodes[code] || msg == "" {
			t.Errorf("%s: error body with code %q and message %q: %s", what, code, msg, ex.Body)
		}
		if strings.Contains(strings.ToLower(ex.Body), "sql") || strings.Contains(ex.Body, f.dataDir) || strings.Contains(ex.Body, "goroutine") {
			t.Errorf("%s: the error body leaks internals: %s", what, ex.Body)
		}
	}
}

func (f *flow) checkNoSecretLeaks(t *testing.T) {
	if len(f.registryPasswords) == 0 {
		t.Fatal("no registry password was used")
	}
	exchanges := f.rec.all()
	if len(exchanges) < 50 {
		t.Errorf("only %d responses were recorded", len(exchanges))
	}
	serverLog := strings.Join(append(slices.Clone(f.serverLogs), f.srv.Stderr()), "\n")
	cliOut := f.cli.allOutput()
	users := []*user{f.admin, f.writer, f.reader, f.outsider}

	// Positive controls: the recordings hold what the checks below search.
	if !slices.ContainsFunc(exchanges, func(ex exchange) bool { return strings.Contains(ex.Body, f.apiToken) }) {
		t.Errorf("the recorded responses miss the API token's creation: bodies are not recorded")
	}
	if !strings.Contains(serverLog, f.admin.ID) || !strings.Contains(serverLog, "http request") {
		t.Errorf("the server log has no access log lines naming the administrator:\n%.3000s", serverLog)
	}
	if !strings.Contains(cliOut, "ccmt_") || !strings.Contains(cliOut, "cli.example.com") {
		t.Errorf("the recorded CLI output misses the token and the registry it printed")
	}

	for _, pw := range f.registryPasswords {
		for _, ex := range exchanges {
			if strings.Contains(ex.Body, pw) {
				t.Errorf("a registry password came back in the response to %s %s (%d): %s", ex.Method, ex.Path, ex.Status, excerpt(ex.Body, pw))
			}
		}
		if strings.Contains(serverLog, pw) {
			t.Errorf("a registry password is in the server log: %s", excerpt(serverLog, pw))
		}
		if strings.Contains(cliOut, pw) {
			t.Errorf("a registry password is in the CLI's output: %s", excerpt(cliOut, pw))
		}
	}
	for _, ex := range exchanges {
		if strings.Contains(ex.Path, "/registries") && ex.Status < 300 && strings.Contains(strings.ToLower(ex.Body), "password") {
			t.Errorf("the response to %s %s has a password field: %s", ex.Method, ex.Path, ex.Body)
		}
	}
	for _, u := range users {
		if strings.Contains(serverLog, u.Password) {
			t.Errorf("the password of %s is in the server log: %s", u.Email, excerpt(serverLog, u.Password))
		}
		for _, ex := range exchanges {
			if strings.Contains(ex.Body, u.Password) {
				t.Errorf("the password of %s came back in the response to %s %s", u.Email, ex.Method, ex.Path)
			}
		}
		if u.Token != "" && strings.Contains(serverLog, u.Token) {
			t.Errorf("the session token of %s is in the server log", u.Email)
		}
	}
	if strings.Contains(serverLog, f.apiToken) {
		t.Errorf("the API token secret is in the server log")
	}
}
