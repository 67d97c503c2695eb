// Package browsertest drives the web console in Debian's headless Chromium
// with chromedp, for the browser tests of internal/webui and test/e2e:
// failure screenshots, screenshots for docs/ui, and the console's common
// steps (sign in, submit and wait for the next page).
package browsertest

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Browser is a headless Chromium driven by chromedp, for one test.
type Browser struct {
	t    *testing.T
	Ctx  context.Context
	Base string
	shot string // directory for failure screenshots
}

// ChromiumPath finds Debian's chromium; without it the browser tests skip,
// unless CCM_REQUIRE_BROWSER=1 (CI), which makes them fail.
func ChromiumPath(t *testing.T) string {
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

// New starts a browser for pages under base (https://host:port).
func New(t *testing.T, base string, width, height int) *Browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(ChromiumPath(t)),
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
	b := &Browser{t: t, Ctx: ctx, Base: base, shot: os.Getenv("CCM_SCREENSHOT_DIR")}
	if b.shot == "" {
		b.shot = filepath.Join(os.TempDir(), "openccm-browser-failures")
	}
	t.Cleanup(func() {
		if t.Failed() {
			b.Screenshot(filepath.Join(b.shot, strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())+".png"))
		}
	})
	return b
}

// Do runs actions, failing the test (with a screenshot) on error.
func (b *Browser) Do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

func (b *Browser) Text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, 20*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func (b *Browser) HTML() string {
	b.t.Helper()
	s, err := chromedp.Run(b.Ctx, chromedp.OuterHTML(chromedp.CSS("html")))
	if err != nil {
		b.t.Fatalf("page HTML: %v", err)
	}
	return s
}

func (b *Browser) Location() string {
	s, _ := chromedp.Run(b.Ctx, chromedp.Location())
	return s
}

// SubmitTo clicks sel and waits until the browser has left the current
// page for one whose path starts with pathPrefix and has loaded.
func (b *Browser) SubmitTo(what, sel, pathPrefix string, before ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	js := `location.pathname.startsWith(` + jsString(pathPrefix) + `) && location.href !== ` + jsString(b.Location()) + ` && document.readyState === "complete"`
	acts := append(before, chromedp.Click(chromedp.CSS(sel)))
	b.Do(what, acts...)
	// Evaluations fail while the page navigates: retry until the new page is there.
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		ok, err := chromedp.Run(b.Ctx, chromedp.Evaluate[bool](js))
		if err == nil && ok {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.t.Fatalf("%s: did not reach %s (at %s)", what, pathPrefix, b.Location())
}

// With returns the browser reporting to t (a subtest).
func (b *Browser) With(t *testing.T) *Browser {
	c := *b
	c.t = t
	return &c
}

// Open navigates to a path of the server.
func (b *Browser) Open(path string) {
	b.t.Helper()
	b.Do("open "+path, chromedp.Navigate(b.Base+path), chromedp.WaitReady(chromedp.CSS("body")))
}

// Screenshot saves a full-page PNG.
func (b *Browser) Screenshot(path string) {
	ctx, cancel := context.WithTimeout(b.Ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
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

// Doc saves a screenshot for docs/ui when CCM_UPDATE_SCREENSHOTS=1.
func (b *Browser) Doc(name string) {
	if os.Getenv("CCM_UPDATE_SCREENSHOTS") != "1" {
		return
	}
	root, err := docsDir()
	if err != nil {
		return
	}
	b.Screenshot(filepath.Join(root, name+".png"))
}

// Login signs in through the form.
func (b *Browser) Login(email, password string) {
	b.t.Helper()
	b.Open("/login")
	b.Do("sign in",
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("nav.sidenav")),
	)
}

// FetchStatus POSTs a form body from the page (same origin, with the
// session cookie) and returns the HTTP status.
func (b *Browser) FetchStatus(path, body string) int {
	b.t.Helper()
	js := `fetch(` + jsString(path) + `, {method: "POST", headers: {"Content-Type": "application/x-www-form-urlencoded"}, body: ` + jsString(body) + `}).then(r => r.status)`
	n, err := chromedp.Run(b.Ctx, chromedp.Evaluate[int](js, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("fetch %s: %v", path, err)
	}
	return n
}

func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

// docsDir finds docs/ui of the module from the test's directory.
func docsDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "docs", "ui"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("browsertest: no go.mod above the test")
		}
		dir = parent
	}
}

// WaitValue waits until the input sel holds want (filled by the page's script).
func (b *Browser) WaitValue(sel, want string) {
	b.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var got string
	for time.Now().Before(deadline) {
		v, err := chromedp.Run(b.Ctx, chromedp.Value(chromedp.CSS(sel)))
		if err == nil && v == want {
			return
		}
		got = v
		time.Sleep(100 * time.Millisecond)
	}
	b.t.Fatalf("%s holds %q, want %q", sel, got, want)
}
