package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/openccm/openccm/pkg/apiv1"
	"github.com/openccm/openccm/pkg/client"
)

// browser is a headless Chromium driven by chromedp, for one test.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string
	shot string // directory for failure screenshots
}

// chromiumPath finds Debian's chromium; without it the browser tests skip,
// unless CCM_REQUIRE_BROWSER=1 (CI), which makes them fail.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CCM_CHROMIUM"); p != "" {
		return p
	}
	for _, c := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	if os.Getenv("CCM_REQUIRE_BROWSER") == "1" {
		t.Fatal("CCM_REQUIRE_BROWSER=1 but chromium is not installed (scripts/ensure-chromium.sh installs it)")
	}
	t.Skip("chromium is not installed: skipping the browser tests (make test installs it)")
	return ""
}

func newBrowser(t *testing.T, srv *server, width, height int) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox,
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.WindowSize(width, height),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		// The server's certificate is self-signed; the tests pin it elsewhere.
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelT(); cancelC(); cancelA() })
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	b := &browser{t: t, ctx: ctx, base: srv.URL, shot: os.Getenv("CCM_SCREENSHOT_DIR")}
	if b.shot == "" {
		b.shot = filepath.Join(os.TempDir(), "openccm-browser-failures")
	}
	t.Cleanup(func() {
		if t.Failed() {
			b.screenshot(filepath.Join(b.shot, strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())+".png"))
		}
	})
	return b
}

// do runs actions, failing the test (with a screenshot) on error.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func (b *browser) html() string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.OuterHTML(chromedp.CSS("html")))
	if err != nil {
		b.t.Fatalf("page HTML: %v", err)
	}
	return s
}

func (b *browser) location() string {
	s, _ := chromedp.Run(b.ctx, chromedp.Location())
	return s
}

// submitTo clicks sel and waits until the browser has left the current
// page for one whose path starts with pathPrefix and has loaded.
func (b *browser) submitTo(what, sel, pathPrefix string, before ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	js := `location.pathname.startsWith(` + jsString(pathPrefix) + `) && location.href !== ` + jsString(b.location()) + ` && document.readyState === "complete"`
	acts := append(before, chromedp.Click(chromedp.CSS(sel)))
	b.do(what, acts...)
	// Evaluations fail while the page navigates: retry until the new page is there.
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		ok, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](js))
		if err == nil && ok {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.t.Fatalf("%s: did not reach %s (at %s)", what, pathPrefix, b.location())
}

// with returns the browser reporting to t (a subtest).
func (b *browser) with(t *testing.T) *browser {
	c := *b
	c.t = t
	return &c
}

// go navigates to a path of the server.
func (b *browser) open(path string) {
	b.t.Helper()
	b.do("open "+path, chromedp.Navigate(b.base+path), chromedp.WaitReady(chromedp.CSS("body")))
}

// screenshot saves a full-page PNG.
func (b *browser) screenshot(path string) {
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(90))
	if err != nil {
		b.t.Logf("screenshot: %v", err)
		return
	}
	_ = os.MkdirAll(filepath.Dir(path), 0o755)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Logf("screenshot: %v", err)
		return
	}
	b.t.Logf("screenshot: %s", path)
}

// doc saves a screenshot for docs/ui when CCM_UPDATE_SCREENSHOTS=1.
func (b *browser) doc(name string) {
	if os.Getenv("CCM_UPDATE_SCREENSHOTS") != "1" {
		return
	}
	root, err := filepath.Abs(filepath.Join("..", "..", "docs", "ui"))
	if err != nil {
		return
	}
	b.screenshot(filepath.Join(root, name+".png"))
}

// login signs in through the form.
func (b *browser) login(email, password string) {
	b.t.Helper()
	b.open("/login")
	b.do("sign in",
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("nav.sidenav")),
	)
}

// fetchStatus POSTs a form body from the page (same origin, with the
// session cookie) and returns the HTTP status.
func (b *browser) fetchStatus(path, body string) int {
	b.t.Helper()
	js := `fetch(` + jsString(path) + `, {method: "POST", headers: {"Content-Type": "application/x-www-form-urlencoded"}, body: ` + jsString(body) + `}).then(r => r.status)`
	n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](js, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("fetch %s: %v", path, err)
	}
	return n
}

func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

// TestConsoleInBrowser drives the web console in headless Chromium.
func TestConsoleInBrowser(t *testing.T) {
	chromiumPath(t)
	srv := startServer(t, t.TempDir(), "")
	a := newAPI(t, srv, &recorder{})
	ctx := t.Context()
	admin := &user{Email: "admin@example.com", Password: "correct horse battery staple"}
	c := a.client(t, "")
	if _, err := c.Signup(ctx, apiv1.Credentials{Email: admin.Email, Password: admin.Password}); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, srv, 1280, 900)

	t.Run("an unauthenticated visit goes to the sign-in page", func(t *testing.T) {
		b := b.with(t)
		b.open("/apps")
		if !strings.Contains(b.location(), "/login") {
			t.Fatalf("at %s", b.location())
		}
		b.doc("login")
	})
	t.Run("sign in and create an account", func(t *testing.T) {
		b := b.with(t)
		b.login(admin.Email, admin.Password)
		b.open("/accounts")
		b.submitTo("create an account", "form[action='/accounts'] button[type=submit]", "/apps",
			chromedp.SendKeys(chromedp.CSS("#account-name"), "Acme"))
		if h := b.text("h1"); h != "Applications" {
			t.Fatalf("after creating the account: %q at %s", h, b.location())
		}
	})
	types := []struct{ typ, name string }{
		{"enclave_os", "payments"}, {"edp", "signer"}, {"aci", "api"}, {"sev_snp", "vm"}, {"azure_cvm", "cvm"},
	}
	for _, ty := range types {
		t.Run("create an app of type "+ty.typ, func(t *testing.T) {
			b := b.with(t)
			b.open("/apps/new")
			acts := []chromedp.Action[chromedp.Void]{
				chromedp.Click(chromedp.CSS("input[name=type][value=" + ty.typ + "]")),
				chromedp.SendKeys(chromedp.CSS("#name"), ty.name),
				chromedp.SendKeys(chromedp.CSS("#domains"), ty.name+".example.com"),
			}
			switch ty.typ {
			case "enclave_os":
				acts = append(acts, chromedp.SendKeys(chromedp.CSS("#input_image_name"), "docker.io/library/nginx"),
					chromedp.SendKeys(chromedp.CSS("#output_image_name"), "registry.example.com/payments-nitro"))
			case "aci":
				acts = append(acts, chromedp.SendKeys(chromedp.CSS("#input_image_name"), "myreg.azurecr.io/team/api"))
			}
			if ty.typ == "enclave_os" {
				b.doc("app-new")
			}
			b.submitTo("create the app", "form[action='/apps'] button[type=submit]", "/apps/0", acts...)
			if h := b.text("h1"); h != ty.name {
				t.Fatalf("after creating: %q (%s)", h, b.location())
			}
		})
	}
	t.Run("the form keeps what was typed and shows the field's error", func(t *testing.T) {
		b := b.with(t)
		b.open("/apps/new")
		b.do("submit a bad app",
			chromedp.Click(chromedp.CSS("input[name=type][value=aci]")),
			chromedp.SendKeys(chromedp.CSS("#name"), "broken"),
			chromedp.Click(chromedp.CSS("form[action='/apps'] button[type=submit]")),
			chromedp.WaitVisible(chromedp.CSS(".field-error")),
		)
		if v, _ := chromedp.Run(b.ctx, chromedp.Value(chromedp.CSS("#name"))); v != "broken" {
			t.Fatalf("name after the error: %q", v)
		}
		if !strings.Contains(b.text(".field-error"), "required") {
			t.Fatalf("error %q", b.text(".field-error"))
		}
	})
	t.Run("a POST without the CSRF token is refused", func(t *testing.T) {
		b := b.with(t)
		b.open("/apps")
		if st := b.fetchStatus("/apps", "name=sneaky&type=edp"); st != 403 {
			t.Fatalf("status %d", st)
		}
	})
	b.open("/apps")
	b.doc("apps")

	t.Run("a reader sees no write controls, and the server refuses their writes", func(t *testing.T) {
		b := b.with(t)
		sess, err := c.Login(ctx, apiv1.Credentials{Email: admin.Email, Password: admin.Password})
		if err != nil {
			t.Fatal(err)
		}
		ac := a.client(t, sess.Token)
		accts, err := ac.ListAccounts(ctx, client.ListOptions{})
		if err != nil || len(accts.Items) != 1 {
			t.Fatalf("accounts %v %v", accts, err)
		}
		reader := &user{Email: "reader@example.com", Password: "correct horse battery staple"}
		if _, err := ac.AddMember(ctx, accts.Items[0].AccountID, apiv1.AddMemberRequest{Email: reader.Email, Role: "reader", Password: reader.Password}); err != nil {
			t.Fatal(err)
		}
		b.submitTo("sign out", "form[action='/logout'] button", "/login")
		b.login(reader.Email, reader.Password)
		b.open("/apps")
		page := b.html()
		if strings.Contains(page, "/apps/new") || !strings.Contains(page, "payments") {
			t.Fatal("a reader sees the Add application button, or not the apps")
		}
		csrf, err := chromedp.Run(b.ctx, chromedp.Value(chromedp.CSS("input[name=csrf]")))
		if err != nil || csrf == "" {
			t.Fatalf("csrf: %q %v", csrf, err)
		}
		if st := b.fetchStatus("/apps", "csrf="+csrf+"&name=sneaky&type=edp"); st != 403 {
			t.Fatalf("a reader's POST with a valid CSRF token: %d", st)
		}
	})
}
