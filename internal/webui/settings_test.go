package webui

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/openccm/openccm/internal/account"
	"github.com/openccm/openccm/internal/app"
	"github.com/openccm/openccm/internal/core"
	"github.com/openccm/openccm/internal/identity"
	"github.com/openccm/openccm/internal/password"
	"github.com/openccm/openccm/internal/secret"
	"github.com/openccm/openccm/internal/store"
	"github.com/openccm/openccm/internal/store/sqlstore"
	"github.com/openccm/openccm/internal/store/sqlstore/sqltest"
	"github.com/openccm/openccm/pkg/apiv1"
)

const settingsPassword = "correct horse battery staple"

// settingsConsole is the web UI on a temp SQLite store, with one account whose
// manager is the first user.
type settingsConsole struct {
	t       *testing.T
	ui      *UI
	svc     *core.Services
	acct    *store.Account
	manager *store.User
}

func newSettingsConsole(t *testing.T) *settingsConsole {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	db, err := sqlstore.Open(ctx, sqltest.NewSQLite(t), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	box, err := secret.New(bytes.Repeat([]byte{7}, secret.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := core.New(core.Config{Store: db, Box: box, Log: log, PasswordParams: password.Fast})
	if err != nil {
		t.Fatal(err)
	}
	ui, err := New(Config{Services: svc, Log: log, Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	mgr, err := svc.Identity.Signup(ctx, "manager@example.com", settingsPassword)
	if err != nil {
		t.Fatal(err)
	}
	acct, err := svc.Accounts.Create(ctx, &identity.Principal{UserID: mgr.ID, Email: mgr.Email}, "Acme", account.Patch{})
	if err != nil {
		t.Fatal(err)
	}
	return &settingsConsole{t: t, ui: ui, svc: svc, acct: acct, manager: mgr}
}

// addMember adds a user with a role to the account.
func (c *settingsConsole) addMember(email string, role store.Role) {
	c.t.Helper()
	if _, err := c.svc.Accounts.AddMember(context.Background(), c.acct.ID, email, role, settingsPassword); err != nil {
		c.t.Fatal(err)
	}
}

// settingsBrowser is one signed-in user.
type settingsBrowser struct {
	c      *settingsConsole
	cookie *http.Cookie
	csrf   string
}

var settingsCSRFRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// signIn signs in through the login form and reads the CSRF token from a page.
func (c *settingsConsole) signIn(email string) *settingsBrowser {
	c.t.Helper()
	form := url.Values{"email": {email}, "password": {settingsPassword}, "next": {"/tasks"}}
	req := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	c.ui.ServeHTTP(rec, req)
	if rec.Code != http.StatusSeeOther {
		c.t.Fatalf("sign-in of %s: status %d: %s", email, rec.Code, rec.Body)
	}
	b := &settingsBrowser{c: c}
	for _, ck := range rec.Result().Cookies() {
		if ck.Name == sessionCookie {
			b.cookie = ck
		}
	}
	if b.cookie == nil {
		c.t.Fatal("sign-in set no session cookie")
	}
	status, body := b.get("/tasks")
	if status != http.StatusOK {
		c.t.Fatalf("GET /tasks: %d", status)
	}
	m := settingsCSRFRE.FindStringSubmatch(body)
	if m == nil {
		c.t.Fatal("no CSRF token on the page")
	}
	b.csrf = m[1]
	return b
}

func (b *settingsBrowser) do(req *http.Request) (int, string) {
	b.c.t.Helper()
	req.AddCookie(b.cookie)
	rec := httptest.NewRecorder()
	b.c.ui.ServeHTTP(rec, req)
	body, _ := io.ReadAll(rec.Result().Body)
	if rec.Code == http.StatusOK || rec.Code == http.StatusCreated {
		if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
			b.c.t.Fatalf("%s %s: no CSP", req.Method, req.URL)
		}
	}
	return rec.Code, string(body)
}

func (b *settingsBrowser) get(path string) (int, string) {
	b.c.t.Helper()
	return b.do(httptest.NewRequest(http.MethodGet, path, nil))
}

// post sends a form with the session's CSRF token (unless noCSRF).
func (b *settingsBrowser) post(path string, form url.Values, noCSRF ...bool) (int, string) {
	b.c.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if len(noCSRF) == 0 {
		form.Set("csrf", b.csrf)
	}
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// domainTask makes an app with a domain, which opens a domain approval task.
func (c *settingsConsole) domainTask(name string) (*store.App, string) {
	c.t.Helper()
	typ, domains := "edp", []string{name + ".example.com"}
	a, err := c.svc.Apps.Create(context.Background(), c.acct.ID, c.manager.ID, app.Input{Name: &name, Type: &typ, Domains: &domains})
	if err != nil {
		c.t.Fatal(err)
	}
	if a.PendingDomainTaskID == "" {
		c.t.Fatal("no domain task was opened")
	}
	return a, a.PendingDomainTaskID
}

func (c *settingsConsole) task(id string) *store.Task {
	c.t.Helper()
	t, err := c.svc.Tasks.Get(context.Background(), c.acct.ID, id)
	if err != nil {
		c.t.Fatal(err)
	}
	return t
}

func pageHas(t *testing.T, body string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("page lacks %q", w)
		}
	}
}

func TestApprovingATaskThroughTheFormResolvesIt(t *testing.T) {
	c := newSettingsConsole(t)
	a, id := c.domainTask("shop")
	b := c.signIn("manager@example.com")

	_, list := b.get("/tasks")
	pageHas(t, list, "/tasks/"+id, "/apps/"+a.ID, "0 of 1", "manager@example.com", "Domain approval")

	_, page := b.get("/tasks/" + id)
	pageHas(t, page, `action="/tasks/`+id+`/approve"`, `action="/tasks/`+id+`/deny"`, "shop.example.com")

	status, _ := b.post("/tasks/"+id+"/approve", url.Values{"comment": {"looks right"}})
	if status != http.StatusSeeOther {
		t.Fatalf("approve: status %d", status)
	}
	if got := c.task(id); got.Status != store.TaskApproved {
		t.Fatalf("task status %s, want approved", got.Status)
	}
	_, page = b.get("/tasks/" + id)
	pageHas(t, page, "looks right", "1 of 1", "approved")
	if strings.Contains(page, "/approve\"") {
		t.Error("a resolved task still offers the approve form")
	}
	_, closed := b.get("/tasks?tab=closed")
	pageHas(t, closed, "/tasks/"+id)
}

func TestDeclineWithoutReasonShowsTheError(t *testing.T) {
	c := newSettingsConsole(t)
	_, id := c.domainTask("shop")
	b := c.signIn("manager@example.com")
	status, page := b.post("/tasks/"+id+"/deny", url.Values{"reason": {"  "}})
	if status != http.StatusBadRequest {
		t.Fatalf("deny without reason: status %d", status)
	}
	pageHas(t, page, `role="alert"`, "say why the task is denied")
	if got := c.task(id); got.Status != store.TaskPending {
		t.Fatalf("task status %s, want pending", got.Status)
	}
	status, _ = b.post("/tasks/"+id+"/deny", url.Values{"reason": {"wrong domain"}})
	if status != http.StatusSeeOther || c.task(id).Status != store.TaskDenied {
		t.Fatalf("deny with reason: status %d, task %s", status, c.task(id).Status)
	}
}

func TestTaskDecisionErrorsAreAlerts(t *testing.T) {
	c := newSettingsConsole(t)
	b := c.signIn("manager@example.com")
	// Self-approval off: the creator's approval is refused with 403.
	status, _ := b.post("/settings/policy", url.Values{"required_approvals": {"2"}})
	if status != http.StatusSeeOther {
		t.Fatalf("policy: status %d", status)
	}
	_, id := c.domainTask("shop")
	status, page := b.post("/tasks/"+id+"/approve", nil)
	if status != http.StatusForbidden {
		t.Fatalf("self-approval: status %d", status)
	}
	pageHas(t, page, `class="alert" role="alert"`, "policy forbids approving your own change")

	// A second decision by the same user is 409.
	c.addMember("writer@example.com", store.RoleWriter)
	w := c.signIn("writer@example.com")
	if status, _ := w.post("/tasks/"+id+"/approve", nil); status != http.StatusSeeOther {
		t.Fatalf("first approval: %d", status)
	}
	status, page = w.post("/tasks/"+id+"/approve", nil)
	if status != http.StatusConflict {
		t.Fatalf("second approval: status %d", status)
	}
	pageHas(t, page, `role="alert"`, "already decided")
	_, page = w.get("/tasks/" + id)
	pageHas(t, page, "1 of 2", "You approved this task")
}

func TestRegistryPasswordIsNeverRendered(t *testing.T) {
	c := newSettingsConsole(t)
	b := c.signIn("manager@example.com")
	const pw = "hunter2-very-secret-Registry-pw"
	// A refused form does not echo the password back.
	status, page := b.post("/settings/registries", url.Values{"url": {"not a host!"}, "username": {"bot"}, "password": {pw}})
	if status != http.StatusBadRequest {
		t.Fatalf("bad registry: status %d", status)
	}
	pageHas(t, page, "host[:port]")
	if strings.Contains(page, pw) {
		t.Fatal("a refused registry form shows the password")
	}
	status, _ = b.post("/settings/registries", url.Values{"url": {"registry.example.com"}, "username": {"bot"}, "password": {pw}, "description": {"CI pushes"}})
	if status != http.StatusSeeOther {
		t.Fatalf("add registry: status %d", status)
	}
	for _, path := range []string{"/settings/registries", "/settings", "/settings/members", "/settings/tokens", "/audit", "/tasks", "/certificates", "/explain"} {
		status, page := b.get(path)
		if status != http.StatusOK {
			t.Fatalf("GET %s: %d", path, status)
		}
		if strings.Contains(page, pw) {
			t.Fatalf("%s shows the registry password", path)
		}
		if path == "/settings/registries" {
			pageHas(t, page, "registry.example.com", "CI pushes", "data-confirm=")
		}
	}
}

// settingsWriteForms lists the actions of the POST forms of a page, but sign-out.
var settingsPostFormRE = regexp.MustCompile(`<form method="post" action="([^"]+)"`)

func settingsWriteForms(page string) []string {
	var out []string
	for _, m := range settingsPostFormRE.FindAllStringSubmatch(page, -1) {
		if m[1] != "/logout" {
			out = append(out, m[1])
		}
	}
	return out
}

func TestSettingsReaderSeesNoWriteControlsAndIsRefused(t *testing.T) {
	c := newSettingsConsole(t)
	_, id := c.domainTask("shop")
	m := c.signIn("manager@example.com")
	if status, _ := m.post("/settings/registries", url.Values{"url": {"registry.example.com"}, "username": {"bot"}, "password": {"pw-123456"}}); status != http.StatusSeeOther {
		t.Fatalf("add registry: %d", status)
	}
	c.addMember("reader@example.com", store.RoleReader)
	r := c.signIn("reader@example.com")
	for _, path := range []string{"/tasks", "/tasks/" + id, "/settings", "/settings/registries", "/settings/members", "/settings/tokens", "/certificates", "/audit"} {
		status, page := r.get(path)
		if status != http.StatusOK {
			t.Fatalf("GET %s: %d", path, status)
		}
		if f := settingsWriteForms(page); len(f) > 0 {
			t.Errorf("%s shows a reader write forms %v", path, f)
		}
	}
	// The manager does see them.
	_, page := m.get("/settings/members")
	if len(settingsWriteForms(page)) == 0 {
		t.Error("the manager sees no member forms")
	}
	for path, form := range map[string]url.Values{
		"/tasks/" + id + "/approve": nil,
		"/settings/registries":      {"url": {"r2.example.com"}, "username": {"x"}, "password": {"y"}},
		"/settings/policy":          {"required_approvals": {"3"}},
		"/settings/pcr-priority":    {"azure_cvm_pcr_priority": {"22,21,20,19,18,17,16,15,14,13,12,11,10,9,8,7,6,5,4,3,2,1,0"}},
		"/settings/sgx-tcb":         {"sgx_accepted_tcb_statuses": {"unknown"}},
		"/settings/members":         {"email": {"x@example.com"}, "role": {"manager"}, "password": {settingsPassword}},
		"/settings/tokens":          {"name": {"ci"}, "role": {"reader"}},
	} {
		if status, _ := r.post(path, form); status != http.StatusForbidden {
			t.Errorf("reader POST %s: status %d, want 403", path, status)
		}
	}
	if c.task(id).Status != store.TaskPending {
		t.Error("a reader's approval counted")
	}
	regs, _, _ := c.svc.Registries.List(context.Background(), c.acct.ID, store.Page{Limit: 10})
	if len(regs) != 1 {
		t.Errorf("%d registries, want 1", len(regs))
	}
}

func TestPostWithoutCSRFIsRefused(t *testing.T) {
	c := newSettingsConsole(t)
	_, id := c.domainTask("shop")
	b := c.signIn("manager@example.com")
	if status, _ := b.post("/settings/registries", url.Values{"url": {"registry.example.com"}, "username": {"bot"}, "password": {"pw"}}, true); status != http.StatusForbidden {
		t.Fatalf("registry without CSRF: status %d", status)
	}
	if status, _ := b.post("/tasks/"+id+"/approve", url.Values{"csrf": {"forged"}}, true); status != http.StatusForbidden {
		t.Fatalf("approve with a forged CSRF token: status %d", status)
	}
	if c.task(id).Status != store.TaskPending {
		t.Fatal("a forged approval counted")
	}
	regs, _, _ := c.svc.Registries.List(context.Background(), c.acct.ID, store.Page{Limit: 10})
	if len(regs) != 0 {
		t.Fatal("a registry was saved without CSRF")
	}
}

var newTokenRE = regexp.MustCompile(`id="new-token" class="mono wide" readonly value="([^"]+)"`)

func TestTokenIsShownOnce(t *testing.T) {
	c := newSettingsConsole(t)
	b := c.signIn("manager@example.com")
	status, page := b.post("/settings/tokens", url.Values{"name": {"ci-deploy"}, "role": {"writer"}, "expires_at": {"2999-01-01"}})
	if status != http.StatusCreated {
		t.Fatalf("create token: status %d: %s", status, page)
	}
	m := newTokenRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("the new token is not shown")
	}
	pageHas(t, page, "shown only this once")
	p, err := c.svc.Identity.Authenticate(context.Background(), m[1])
	if err != nil || !p.ViaToken() {
		t.Fatalf("the shown token does not authenticate: %v", err)
	}
	_, page = b.get("/settings/tokens")
	if strings.Contains(page, m[1]) {
		t.Fatal("the token is shown again")
	}
	pageHas(t, page, "ci-deploy", "/revoke")
	// Revoke it.
	if status, _ := b.post("/settings/tokens/"+p.Token.ID+"/revoke", nil); status != http.StatusSeeOther {
		t.Fatalf("revoke: %d", status)
	}
	if _, err := c.svc.Identity.Authenticate(context.Background(), m[1]); err == nil {
		t.Fatal("a revoked token still works")
	}
}

func TestMembersAndPolicyForms(t *testing.T) {
	c := newSettingsConsole(t)
	b := c.signIn("manager@example.com")
	if status, page := b.post("/settings/members", url.Values{"email": {"new@example.com"}, "role": {"writer"}}); status != http.StatusBadRequest {
		t.Fatalf("new user without password: %d", status)
	} else {
		pageHas(t, page, "is required to create the new user")
	}
	if status, _ := b.post("/settings/members", url.Values{"email": {"new@example.com"}, "role": {"writer"}, "password": {settingsPassword}}); status != http.StatusSeeOther {
		t.Fatalf("add member: %d", status)
	}
	ms, _, _ := c.svc.Accounts.Members(context.Background(), c.acct.ID, store.Page{Limit: 10})
	var newID string
	for _, m := range ms {
		if m.Email == "new@example.com" {
			newID = m.UserID
		}
	}
	if newID == "" {
		t.Fatal("member not added")
	}
	if status, _ := b.post("/settings/members/"+newID+"/role", url.Values{"role": {"reader"}}); status != http.StatusSeeOther {
		t.Fatalf("set role: %d", status)
	}
	// The last manager cannot demote themselves: a 409 alert.
	if status, page := b.post("/settings/members/"+c.manager.ID+"/role", url.Values{"role": {"reader"}}); status != http.StatusConflict {
		t.Fatalf("demote last manager: %d", status)
	} else {
		pageHas(t, page, `role="alert"`)
	}
	if status, _ := b.post("/settings/members/"+newID+"/delete", nil); status != http.StatusSeeOther {
		t.Fatalf("remove member: %d", status)
	}
	// The PCR priority is validated by the service; the error is the field's.
	status, page := b.post("/settings/pcr-priority", url.Values{"azure_cvm_pcr_priority": {"0,1,2"}})
	if status != http.StatusBadRequest {
		t.Fatalf("short PCR priority: %d", status)
	}
	pageHas(t, page, "must list each PCR index 0..22 exactly once", `value="0,1,2"`)
	order := "22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0"
	if status, _ := b.post("/settings/pcr-priority", url.Values{"azure_cvm_pcr_priority": {order}}); status != http.StatusSeeOther {
		t.Fatalf("PCR priority: %d", status)
	}
	a, _ := c.svc.Accounts.Get(context.Background(), c.acct.ID)
	if a.AzureCVMPCRPriority[0] != 22 {
		t.Fatalf("PCR priority not saved: %v", a.AzureCVMPCRPriority)
	}
	// SGX TCB statuses: every checked box is accepted; none is a field error.
	if status, _ := b.post("/settings/sgx-tcb", url.Values{"sgx_accepted_tcb_statuses": {"UpToDate", "SWHardeningNeeded", "unknown"}}); status != http.StatusSeeOther {
		t.Fatalf("TCB statuses: %d", status)
	}
	if a, _ := c.svc.Accounts.Get(context.Background(), c.acct.ID); strings.Join(a.SGXAcceptedTCBStatuses, ",") != "UpToDate,SWHardeningNeeded,unknown" {
		t.Fatalf("TCB statuses not saved: %v", a.SGXAcceptedTCBStatuses)
	}
	if status, page := b.post("/settings/sgx-tcb", url.Values{}); status != http.StatusBadRequest {
		t.Fatalf("no TCB status: %d", status)
	} else {
		pageHas(t, page, "must list at least one status")
	}
	if _, page := b.get("/settings"); !strings.Contains(page, `value="unknown" checked`) || strings.Contains(page, `value="OutOfDate" checked`) {
		t.Fatal("the settings page does not show the accepted statuses")
	}
	if status, page := b.post("/settings/policy", url.Values{"required_approvals": {"11"}}); status != http.StatusBadRequest {
		t.Fatalf("11 approvals: %d", status)
	} else {
		pageHas(t, page, "between 1 and 10")
	}
}

func TestExplainShowsStepsForAzureCVM(t *testing.T) {
	c := newSettingsConsole(t)
	ctx := context.Background()
	name, typ := "vm", "azure_cvm"
	a, err := c.svc.Apps.Create(ctx, c.acct.ID, c.manager.ID, app.Input{Name: &name, Type: &typ})
	if err != nil {
		t.Fatal(err)
	}
	pcr0 := strings.Repeat("ab", 32)
	img, err := c.svc.Images.Create(ctx, c.acct.ID, a.ID, c.manager.ID, apiv1.CreateImageRequest{Version: "v1", PCRs: map[string]string{"pcr0": pcr0}})
	if err != nil {
		t.Fatal(err)
	}
	b := c.signIn("manager@example.com")
	status, page := b.get("/explain")
	if status != http.StatusOK {
		t.Fatalf("GET /explain: %d", status)
	}
	pageHas(t, page, `for="pcr22"`, `name="pcrs.pcr22"`, "<legend>Platform</legend>")
	status, page = b.post("/explain", url.Values{"platform": {"azure_cvm"}, "pcrs.pcr0": {strings.ToUpper(pcr0)}})
	if status != http.StatusOK {
		t.Fatalf("POST /explain: %d: %s", status, page)
	}
	pageHas(t, page, `<ol class="steps">`, "Azure CVM images considered", "/images/"+img.ID, "image_not_approved")
	// A bad PCR value is the field's error.
	status, page = b.post("/explain", url.Values{"platform": {"azure_cvm"}, "pcrs.pcr3": {"xyz"}})
	if status != http.StatusBadRequest {
		t.Fatalf("bad PCR: %d", status)
	}
	pageHas(t, page, `class="field-error" role="alert"`, `value="xyz"`)
	// Other platforms take measurements.
	status, page = b.post("/explain", url.Values{"platform": {"sgx"}, "measurements.mrenclave": {strings.Repeat("cd", 32)}})
	if status != http.StatusOK {
		t.Fatalf("sgx explain: %d", status)
	}
	pageHas(t, page, "no_matching_image", "MRENCLAVE")
}

func TestAuditPageShowsChainIntact(t *testing.T) {
	c := newSettingsConsole(t)
	c.domainTask("shop")
	b := c.signIn("manager@example.com")
	status, page := b.get("/audit")
	if status != http.StatusOK {
		t.Fatalf("GET /audit: %d", status)
	}
	pageHas(t, page, "Chain intact:", "app.create", "<details>", "<pre>")
}

func TestCertificatesPageAndCADownloads(t *testing.T) {
	c := newSettingsConsole(t)
	b := c.signIn("manager@example.com")
	status, page := b.get("/certificates")
	if status != http.StatusOK {
		t.Fatalf("GET /certificates: %d", status)
	}
	pageHas(t, page, `href="/ca.pem"`, `href="/ca.crl"`, "No certificates")
	status, pem := b.get("/ca.pem")
	if status != http.StatusOK || !strings.HasPrefix(pem, "-----BEGIN CERTIFICATE-----") {
		t.Fatalf("GET /ca.pem: %d %q", status, pem)
	}
	status, crl := b.get("/ca.crl")
	if status != http.StatusOK || len(crl) == 0 || crl[0] != 0x30 {
		t.Fatalf("GET /ca.crl: %d", status)
	}
}
