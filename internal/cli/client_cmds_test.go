package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"log"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/openccm/openccm/pkg/apiv1"
	"github.com/openccm/openccm/pkg/client"
)

var discardLog = log.New(io.Discard, "", 0)

const (
	adminEmail    = "admin@example.com"
	adminPassword = "correct horse battery staple"
)

// harness runs ccm commands against a fake server, with a config file in a
// temporary directory.
type harness struct {
	t      *testing.T
	fake   *fakeServer
	config string
}

func newHarness(t *testing.T) *harness {
	return newHarnessTLS(t, false)
}

func newHarnessTLS(t *testing.T, tls bool) *harness {
	h := &harness{t: t, fake: newFakeServer(t, tls), config: filepath.Join(t.TempDir(), "ccm", "config.json")}
	t.Setenv(envConfig, h.config)
	t.Setenv(envServer, "")
	t.Setenv(envToken, "")
	t.Setenv(envAccount, "")
	return h
}

// run runs ccm with args and stdin, and returns its outputs and exit code.
func (h *harness) run(stdin string, args ...string) (stdout, stderr string, code int) {
	h.t.Helper()
	var out, errb bytes.Buffer
	code = Main(args, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), code
}

// ok runs ccm and fails the test unless it succeeds; it returns stdout.
func (h *harness) ok(stdin string, args ...string) string {
	h.t.Helper()
	out, errOut, code := h.run(stdin, args...)
	if code != 0 {
		h.t.Fatalf("ccm %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// loginWithAccount signs the admin up and creates the current account "acme".
func (h *harness) loginWithAccount() string {
	h.t.Helper()
	h.ok(adminPassword+"\n", "signup", "--server", h.fake.URL, "--email", adminEmail, "--password-stdin")
	var a apiv1.Account
	h.decodeJSON(h.ok("", "account", "create", "acme", "--use", "-o", "json"), &a)
	return a.AccountID
}

func (h *harness) decodeJSON(s string, v any) {
	h.t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		h.t.Fatalf("output is not JSON: %v\n%s", err, s)
	}
}

func (h *harness) readConfig() clientConfig {
	h.t.Helper()
	cfg, err := loadConfig(h.config)
	if err != nil {
		h.t.Fatal(err)
	}
	return cfg
}

func TestSignupAndLoginSaveTheSession(t *testing.T) {
	h := newHarness(t)
	out, errOut, code := h.run(adminPassword+"\n", "signup", "--server", h.fake.URL, "--email", adminEmail, "--password-stdin")
	if code != 0 {
		t.Fatalf("signup: exit %d: %s", code, errOut)
	}
	if strings.Contains(out+errOut, adminPassword) {
		t.Error("the password was printed")
	}
	cfg := h.readConfig()
	if cfg.Server != h.fake.URL || !strings.HasPrefix(cfg.Token, "session-") {
		t.Errorf("config = %+v", cfg)
	}

	if runtime.GOOS != "windows" {
		for path, want := range map[string]os.FileMode{h.config: 0o600, filepath.Dir(h.config): 0o700} {
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != want {
				t.Errorf("%s has mode %o, want %o", path, st.Mode().Perm(), want)
			}
		}
	}

	// A second login replaces the token and keeps the file private.
	os.Chmod(h.config, 0o644)
	h.ok(adminPassword+"\n", "login", "--server", h.fake.URL, "--email", adminEmail, "--password-stdin")
	if cfg2 := h.readConfig(); cfg2.Token == cfg.Token || cfg2.Token == "" {
		t.Errorf("token not replaced: %q", cfg2.Token)
	}
	if st, _ := os.Stat(h.config); runtime.GOOS != "windows" && st.Mode().Perm() != 0o600 {
		t.Errorf("config mode %o after login", st.Mode().Perm())
	}
}

func TestLoginFailures(t *testing.T) {
	h := newHarness(t)
	h.ok(adminPassword+"\n", "signup", "--server", h.fake.URL, "--email", adminEmail, "--password-stdin")
	before := h.readConfig()

	tests := []struct {
		name    string
		stdin   string
		args    []string
		wantErr string
	}{
		{"reports a wrong password", "wrong password 123\n",
			[]string{"login", "--server", h.fake.URL, "--email", adminEmail, "--password-stdin"},
			"unauthenticated: wrong email or password (HTTP 401)"},
		{"does not read a password from a stdin that is not a terminal", adminPassword + "\n",
			[]string{"login", "--server", h.fake.URL, "--email", adminEmail},
			"stdin is not a terminal (use --password-stdin)"},
		{"has no --password flag", "",
			[]string{"login", "--server", h.fake.URL, "--email", adminEmail, "--password", adminPassword},
			"unknown flag: --password"},
		{"refuses both a CA file and a fingerprint", adminPassword + "\n",
			[]string{"login", "--server", h.fake.URL, "--email", adminEmail, "--ca-file", "x", "--fingerprint", "y", "--password-stdin"},
			"none of the others can be"},
		{"reports the field of a validation error", "short\n",
			[]string{"signup", "--server", h.fake.URL, "--email", "b@example.com", "--password-stdin"},
			"validation_failed: password: must have at least 12 characters (HTTP 400)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := h.run(tc.stdin, tc.args...)
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			if !strings.Contains(errOut, tc.wantErr) {
				t.Errorf("stderr = %q, want it to contain %q", errOut, tc.wantErr)
			}
			if strings.Contains(out+errOut, adminPassword) {
				t.Error("the password was printed")
			}
			if h.readConfig() != before {
				t.Error("a failed login changed the config")
			}
		})
	}
}

func TestLoginToASelfSignedServer(t *testing.T) {
	h := newHarnessTLS(t, true)
	fp := client.Fingerprint(h.fake.Certificate().Raw)
	login := func(extra ...string) (string, string, int) {
		args := append([]string{"login", "--server", h.fake.URL, "--email", adminEmail, "--password-stdin"}, extra...)
		return h.run(adminPassword+"\n", args...)
	}
	h.fake.mu.Lock()
	h.fake.passwords[adminEmail] = adminPassword
	h.fake.mu.Unlock()

	_, errOut, code := login()
	if code != 1 || !strings.Contains(errOut, fp) || !strings.Contains(errOut, "--fingerprint") {
		t.Fatalf("exit %d, stderr %q: want the fingerprint %s and how to use it", code, errOut, fp)
	}
	if _, ok := h.fake.last("POST", "/v1/sessions"); ok {
		t.Error("the password was sent to a server that is not trusted")
	}
	if _, err := os.Stat(h.config); !os.IsNotExist(err) {
		t.Error("a failed login wrote the config")
	}

	h.ok(adminPassword+"\n", "login", "--server", h.fake.URL, "--email", adminEmail, "--password-stdin",
		"--fingerprint", strings.ToUpper(fp))
	if cfg := h.readConfig(); cfg.Fingerprint != fp {
		t.Errorf("saved fingerprint %q, want %q", cfg.Fingerprint, fp)
	}
	// Later commands use the pinned fingerprint.
	h.ok("", "account", "list")

	// A replaced certificate is refused with both fingerprints.
	cfg := h.readConfig()
	cfg.Fingerprint = strings.Repeat("ab", 32)
	if err := saveConfig(h.config, cfg); err != nil {
		t.Fatal(err)
	}
	_, errOut, code = h.run("", "account", "list")
	if code != 1 || !strings.Contains(errOut, fp) || !strings.Contains(errOut, cfg.Fingerprint) {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

func TestLogout(t *testing.T) {
	h := newHarness(t)
	h.loginWithAccount()
	token := h.readConfig().Token
	h.ok("", "logout")
	req, ok := h.fake.last("DELETE", "/v1/sessions/current")
	if !ok || req.Auth != "Bearer "+token {
		t.Errorf("logout request = %+v", req)
	}
	cfg := h.readConfig()
	if cfg.Token != "" || cfg.Server != h.fake.URL {
		t.Errorf("config after logout = %+v", cfg)
	}
	_, errOut, code := h.run("", "app", "list")
	if code != 1 || !strings.Contains(errOut, "not logged in") {
		t.Errorf("after logout: exit %d, %q", code, errOut)
	}
}

func TestRegistryPasswordStaysSecret(t *testing.T) {
	h := newHarness(t)
	h.loginWithAccount()
	const secret = "s3cr3t-registry-pa55"

	var outputs strings.Builder
	for _, args := range [][]string{
		{"registry", "add", "registry.example.com", "--username", "bot", "--password-stdin"},
		{"registry", "add", "ghcr.io", "--username", "bot", "--password-stdin", "-o", "json"},
	} {
		out, errOut, code := h.run(secret+"\n", args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
		outputs.WriteString(out + errOut)
	}
	for _, args := range [][]string{
		{"registry", "list"}, {"registry", "list", "-o", "json"},
		{"registry", "show", "registry.example.com"}, {"registry", "show", "ghcr.io", "-o", "json"},
		{"registry", "match", "registry.example.com/team/app:1"},
	} {
		out, errOut, _ := h.run("", args...)
		outputs.WriteString(out + errOut)
	}
	if strings.Contains(outputs.String(), secret) {
		t.Error("the registry password was printed")
	}
	req, _ := h.fake.last("POST", "/v1/accounts/"+h.readConfig().AccountID+"/registries")
	var body apiv1.CreateRegistryRequest
	h.decodeJSON(req.Body, &body)
	if body.Password != secret || body.URL != "ghcr.io" || body.Username != "bot" {
		t.Errorf("request body = %+v", body)
	}

	_, errOut, code := h.run("", "registry", "add", "quay.io", "--username", "bot", "--password", secret)
	if code != 1 || !strings.Contains(errOut, "unknown flag: --password") {
		t.Errorf("--password: exit %d, %q", code, errOut)
	}
	_, errOut, code = h.run(secret+"\n", "registry", "add", "quay.io", "--username", "bot")
	if code != 1 || !strings.Contains(errOut, "--password-stdin") {
		t.Errorf("no terminal: exit %d, %q", code, errOut)
	}

	_, errOut, code = h.run("", "registry", "match", "docker.io/library/nginx")
	if code != 1 || !strings.Contains(errOut, "no saved registry matches docker.io/library/nginx") {
		t.Errorf("match: exit %d, %q", code, errOut)
	}
	var reg apiv1.Registry
	h.decodeJSON(h.ok("", "registry", "show", "ghcr.io", "-o", "json"), &reg)
	h.ok("", "registry", "rm", "ghcr.io")
	if _, ok := h.fake.last("DELETE", "/v1/accounts/"+h.readConfig().AccountID+"/registries/"+reg.RegistryID); !ok {
		t.Error("registry rm sent no DELETE for the registry")
	}
}

func TestJSONOutputParses(t *testing.T) {
	h := newHarness(t)
	h.loginWithAccount()
	h.ok("", "app", "create", "web", "--type", "sev_snp", "--domain", "web.example.com", "--label", "team=pay")
	h.ok("", "app", "create", "batch", "--type", "edp")
	h.ok("", "app", "create", "vm", "--type", "sev_snp")

	var apps []apiv1.App
	h.decodeJSON(h.ok("", "app", "list", "-o", "json"), &apps)
	if len(apps) != 3 { // three apps in pages of two
		t.Errorf("listed %d apps, want 3", len(apps))
	}
	h.decodeJSON(h.ok("", "app", "list", "--type", "sev_snp", "-o", "json"), &apps)
	if len(apps) != 2 {
		t.Errorf("listed %d sev_snp apps, want 2", len(apps))
	}
	var app apiv1.App
	h.decodeJSON(h.ok("", "app", "show", "web", "-o", "json"), &app)
	if app.Name != "web" || app.Labels["team"] != "pay" || len(app.Domains) != 1 {
		t.Errorf("app = %+v", app)
	}
	var accounts []apiv1.Account
	h.decodeJSON(h.ok("", "account", "list", "--output", "json"), &accounts)
	var members []apiv1.Member
	h.decodeJSON(h.ok("", "member", "list", "-o", "json"), &members)
	if len(accounts) != 1 || len(members) != 1 || members[0].Email != adminEmail {
		t.Errorf("accounts %+v, members %+v", accounts, members)
	}

	table := h.ok("", "app", "list")
	if lines := strings.Split(strings.TrimSpace(table), "\n"); len(lines) != 4 || !strings.HasPrefix(lines[0], "NAME") {
		t.Errorf("table:\n%s", table)
	}
	_, errOut, code := h.run("", "app", "list", "-o", "yaml")
	if code != 1 || !strings.Contains(errOut, `unknown output format "yaml"`) {
		t.Errorf("-o yaml: exit %d, %q", code, errOut)
	}
}

func TestAppUpdateSendsOnlyChangedFields(t *testing.T) {
	h := newHarness(t)
	accountID := h.loginWithAccount()
	var app apiv1.App
	h.decodeJSON(h.ok("", "app", "create", "web", "--type", "aci", "--input-image", "docker.io/library/nginx",
		"--domain", "a.example.com,b.example.com", "-o", "json"), &app)
	path := "/v1/accounts/" + accountID + "/apps/" + app.AppID

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"sends only the description", []string{"--description", "front end"}, `{"description":"front end"}`},
		{"sends an empty list to remove the domains", []string{"--domain", ""}, `{"domains":[]}`},
		{"replaces the domains", []string{"--domain", "c.example.com", "--domain", "d.example.com"}, `{"domains":["c.example.com","d.example.com"]}`},
		{"turns certificates off", []string{"--no-certificate"}, `{"certificate":{"enabled":false}}`},
		{"sends only the validity", []string{"--cert-validity-days", "7"}, `{"certificate":{"validity_days":7}}`},
		{"replaces the labels", []string{"--label", "a=1", "--label", "b=x=y"}, `{"labels":{"a":"1","b":"x=y"}}`},
		{"renames by ID", []string{"--name", "site"}, `{"name":"site"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ref := "web"
			if tc.name == "renames by ID" {
				ref = app.AppID
			}
			h.ok("", append([]string{"app", "update", ref}, tc.args...)...)
			req, ok := h.fake.last("PATCH", path)
			if !ok {
				t.Fatal("no PATCH request")
			}
			if got := strings.TrimSpace(req.Body); got != tc.want {
				t.Errorf("body = %s, want %s", got, tc.want)
			}
		})
	}

	n := len(h.fake.allRequests())
	_, errOut, code := h.run("", "app", "update", "site")
	if code != 1 || !strings.Contains(errOut, "nothing to change") {
		t.Errorf("update without flags: exit %d, %q", code, errOut)
	}
	if len(h.fake.allRequests()) != n {
		t.Error("update without flags sent requests")
	}
}

func TestAppCreateAndDelete(t *testing.T) {
	h := newHarness(t)
	accountID := h.loginWithAccount()
	h.ok("", "app", "create", "web", "--type", "enclave_os", "--description", "d",
		"--input-image", "docker.io/library/nginx", "--output-image", "reg.example.com/web",
		"--cert-validity-days", "10", "--cert-key-path", "/k", "--cert-path", "/c", "--label", "images=yes")
	req, _ := h.fake.last("POST", "/v1/accounts/"+accountID+"/apps")
	var body map[string]any
	h.decodeJSON(req.Body, &body)
	want := `{"certificate":{"cert_path":"/c","key_path":"/k","validity_days":10},"description":"d",` +
		`"input_image_name":"docker.io/library/nginx","labels":{"images":"yes"},"name":"web",` +
		`"output_image_name":"reg.example.com/web","type":"enclave_os"}`
	if b, _ := json.Marshal(body); string(b) != want {
		t.Errorf("create body = %s\nwant %s", b, want)
	}

	_, errOut, code := h.run("", "app", "create", "x", "--type", "tdx")
	if code != 1 || !strings.Contains(errOut, "validation_failed: type: must be one of") {
		t.Errorf("bad type: exit %d, %q", code, errOut)
	}

	var app apiv1.App
	h.decodeJSON(h.ok("", "app", "show", "web", "-o", "json"), &app)
	appPath := "/v1/accounts/" + accountID + "/apps/" + app.AppID
	_, errOut, code = h.run("", "app", "rm", "web")
	if code != 1 || !strings.Contains(errOut, "--cascade") {
		t.Errorf("rm with images: exit %d, %q", code, errOut)
	}
	if req, _ := h.fake.last("DELETE", appPath); req.Query != "" {
		t.Errorf("rm without --cascade sent %q", req.Query)
	}
	h.ok("", "app", "rm", "web", "--cascade")
	if req, _ := h.fake.last("DELETE", appPath); req.Query != "cascade=true" {
		t.Errorf("rm --cascade sent %q", req.Query)
	}
	_, errOut, code = h.run("", "app", "show", "web")
	if code != 1 || !strings.Contains(errOut, `no app named "web"`) {
		t.Errorf("show deleted app: exit %d, %q", code, errOut)
	}
}

func TestAccountResolution(t *testing.T) {
	h := newHarness(t)
	first := h.loginWithAccount()
	var ids []string
	for _, name := range []string{"beta", "gamma", "Delta"} { // five accounts in pages of two
		var a apiv1.Account
		h.decodeJSON(h.ok("", "account", "create", name, "-o", "json"), &a)
		ids = append(ids, a.AccountID)
	}
	h.ok("", "account", "create", "epsilon")

	h.ok("", "app", "list", "--account", "gamma")
	if _, ok := h.fake.last("GET", "/v1/accounts/"+ids[1]+"/apps"); !ok {
		t.Error("--account gamma did not select the account by name")
	}
	h.ok("", "app", "list", "--account", "delta") // case-insensitive when unambiguous
	if _, ok := h.fake.last("GET", "/v1/accounts/"+ids[2]+"/apps"); !ok {
		t.Error("--account delta did not select Delta")
	}
	h.ok("", "app", "list", "--account", ids[0])
	if _, ok := h.fake.last("GET", "/v1/accounts/"+ids[0]+"/apps"); !ok {
		t.Error("--account ID did not select the account")
	}
	t.Setenv(envAccount, "beta")
	h.ok("", "registry", "list")
	if _, ok := h.fake.last("GET", "/v1/accounts/"+ids[0]+"/registries"); !ok {
		t.Error("$CCM_ACCOUNT did not select the account")
	}
	t.Setenv(envAccount, "")

	_, errOut, code := h.run("", "app", "list", "--account", "nope")
	if code != 1 || !strings.Contains(errOut, `no account named "nope"`) {
		t.Errorf("unknown account: exit %d, %q", code, errOut)
	}

	out := h.ok("", "account", "use", "gamma")
	if cfg := h.readConfig(); cfg.AccountID != ids[1] || !strings.Contains(out, "gamma") {
		t.Errorf("account use: config %+v, output %q", cfg, out)
	}
	table := h.ok("", "account", "list")
	for _, line := range strings.Split(table, "\n") {
		if strings.HasPrefix(line, "*") != strings.Contains(line, "gamma") {
			t.Errorf("current-account marker wrong in %q", line)
		}
	}
	var a apiv1.Account
	h.decodeJSON(h.ok("", "account", "show", "-o", "json"), &a)
	if a.AccountID != ids[1] {
		t.Errorf("account show = %s, want the current account", a.AccountID)
	}

	h.ok("", "account", "update", "--required-approvals", "2")
	req, _ := h.fake.last("PATCH", "/v1/accounts/"+ids[1])
	if strings.TrimSpace(req.Body) != `{"approval_policy":{"required_approvals":2}}` {
		t.Errorf("account update body = %s", req.Body)
	}
	h.ok("", "account", "update", "acme", "--allow-self-approval=false")
	req, _ = h.fake.last("PATCH", "/v1/accounts/"+first)
	if strings.TrimSpace(req.Body) != `{"approval_policy":{"allow_self_approval":false}}` {
		t.Errorf("account update body = %s", req.Body)
	}

	_, errOut, code = h.run("", "account", "rm", "gamma")
	if code != 1 || !strings.Contains(errOut, "--yes") {
		t.Errorf("rm without --yes: exit %d, %q", code, errOut)
	}
	h.ok("", "account", "rm", "gamma", "--yes")
	if cfg := h.readConfig(); cfg.AccountID != "" {
		t.Error("deleting the current account left it selected")
	}
	_, errOut, code = h.run("", "app", "list")
	if code != 1 || !strings.Contains(errOut, "no account selected") {
		t.Errorf("no account: exit %d, %q", code, errOut)
	}
}

func TestMembers(t *testing.T) {
	h := newHarness(t)
	accountID := h.loginWithAccount()
	const newPassword = "a new user's password"
	var m apiv1.Member
	h.decodeJSON(h.ok(newPassword+"\n", "member", "add", "bob@example.com", "--role", "reader", "--password-stdin", "-o", "json"), &m)
	req, _ := h.fake.last("POST", "/v1/accounts/"+accountID+"/members")
	if !strings.Contains(req.Body, newPassword) {
		t.Errorf("add body = %s", req.Body)
	}
	h.ok("", "member", "add", "admin@example.com", "--role", "manager")
	req, _ = h.fake.last("POST", "/v1/accounts/"+accountID+"/members")
	if strings.Contains(req.Body, "password") {
		t.Errorf("a password was sent without --new-user or --password-stdin: %s", req.Body)
	}

	out := h.ok("", "member", "set-role", "Bob@Example.com", "writer")
	if _, ok := h.fake.last("PATCH", "/v1/accounts/"+accountID+"/members/"+m.UserID); !ok || !strings.Contains(out, "writer") {
		t.Errorf("set-role by email did not patch %s: %q", m.UserID, out)
	}
	h.ok("", "member", "rm", m.UserID)
	if _, ok := h.fake.last("DELETE", "/v1/accounts/"+accountID+"/members/"+m.UserID); !ok {
		t.Error("member rm by ID sent no DELETE")
	}
	_, errOut, code := h.run("", "member", "rm", "carol@example.com")
	if code != 1 || !strings.Contains(errOut, "carol@example.com is not a member") {
		t.Errorf("rm unknown: exit %d, %q", code, errOut)
	}
}

func TestTokens(t *testing.T) {
	h := newHarness(t)
	accountID := h.loginWithAccount()
	out, errOut, code := h.run("", "token", "create", "--name", "ci", "--role", "writer", "--expires-in", "30d")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	secret := strings.TrimSpace(out)
	if !strings.HasPrefix(secret, "ccm_") || !strings.Contains(errOut, "will not be shown again") {
		t.Errorf("stdout %q, stderr %q", out, errOut)
	}
	req, _ := h.fake.last("POST", "/v1/tokens")
	var body apiv1.CreateTokenRequest
	h.decodeJSON(req.Body, &body)
	if body.AccountID != accountID || body.ExpiresAt == nil || body.Role != "writer" {
		t.Errorf("create body = %s", req.Body)
	}

	list := h.ok("", "token", "list") + h.ok("", "token", "list", "-o", "json")
	if strings.Contains(list, secret) {
		t.Error("token list printed the secret")
	}

	// Automation: $CCM_TOKEN and $CCM_SERVER without a config file.
	os.Remove(h.config)
	t.Setenv(envServer, h.fake.URL)
	t.Setenv(envToken, secret)
	t.Setenv(envAccount, accountID)
	h.ok("", "app", "list")
	if req, _ := h.fake.last("GET", "/v1/accounts/"+accountID+"/apps"); req.Auth != "Bearer "+secret {
		t.Errorf("Authorization = %q", req.Auth)
	}

	var tok apiv1.Token
	h.decodeJSON(h.ok("", "token", "create", "--name", "x", "--role", "reader", "--expires-at", "2031-01-01T00:00:00Z", "-o", "json"), &tok)
	if tok.Token == "" || tok.TokenID == "" {
		t.Errorf("-o json token = %+v", tok)
	}
	h.ok("", "token", "revoke", tok.TokenID)
	if _, ok := h.fake.last("DELETE", "/v1/tokens/"+tok.TokenID); !ok {
		t.Error("revoke sent no DELETE")
	}
	_, errOut, code = h.run("", "token", "create", "--name", "x", "--role", "reader", "--expires-in", "1h", "--expires-at", "2031-01-01T00:00:00Z")
	if code != 1 || !strings.Contains(errOut, "none of the others can be") {
		t.Errorf("both expiry flags: exit %d, %q", code, errOut)
	}
}

func TestSavedTokenIsNotSentToAnotherServer(t *testing.T) {
	h := newHarness(t)
	h.loginWithAccount()
	other := newFakeServer(t, false)
	_, errOut, code := h.run("", "app", "list", "--server", other.URL)
	if code != 1 || !strings.Contains(errOut, "not logged in to "+other.URL) {
		t.Errorf("exit %d, %q", code, errOut)
	}
	if n := len(other.allRequests()); n != 0 {
		t.Errorf("the other server got %d requests", n)
	}
}

func TestExpiredSessionSaysToLogIn(t *testing.T) {
	h := newHarness(t)
	h.loginWithAccount()
	h.fake.mu.Lock()
	clear(h.fake.sessions)
	h.fake.mu.Unlock()
	_, errOut, code := h.run("", "app", "list")
	if code != 1 || !strings.Contains(errOut, "unauthenticated") || !strings.Contains(errOut, "ccm login") {
		t.Errorf("exit %d, %q", code, errOut)
	}
}
