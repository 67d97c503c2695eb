package e2e

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/openccm/openccm/internal/webui/browsertest"
	"github.com/openccm/openccm/pkg/apiv1"
	"github.com/openccm/openccm/pkg/client"
)

// TestConsoleInBrowser drives the web console in headless Chromium.
func TestConsoleInBrowser(t *testing.T) {
	browsertest.ChromiumPath(t)
	srv := startServer(t, t.TempDir(), "")
	a := newAPI(t, srv, &recorder{})
	ctx := t.Context()
	admin := &user{Email: "admin@example.com", Password: "correct horse battery staple"}
	c := a.client(t, "")
	if _, err := c.Signup(ctx, apiv1.Credentials{Email: admin.Email, Password: admin.Password}); err != nil {
		t.Fatal(err)
	}
	b := browsertest.New(t, srv.URL, 1280, 900)

	t.Run("an unauthenticated visit goes to the sign-in page", func(t *testing.T) {
		b := b.With(t)
		b.Open("/apps")
		if !strings.Contains(b.Location(), "/login") {
			t.Fatalf("at %s", b.Location())
		}
		b.Doc("login")
	})
	t.Run("sign in and create an account", func(t *testing.T) {
		b := b.With(t)
		b.Login(admin.Email, admin.Password)
		b.Open("/accounts")
		b.SubmitTo("create an account", "form[action='/accounts'] button[type=submit]", "/apps",
			chromedp.SendKeys(chromedp.CSS("#account-name"), "Acme"))
		if h := b.Text("h1"); h != "Applications" {
			t.Fatalf("after creating the account: %q at %s", h, b.Location())
		}
	})
	types := []struct{ typ, name string }{
		{"enclave_os", "payments"}, {"edp", "signer"}, {"aci", "api"}, {"sev_snp", "vm"}, {"azure_cvm", "cvm"},
	}
	for _, ty := range types {
		t.Run("create an app of type "+ty.typ, func(t *testing.T) {
			b := b.With(t)
			b.Open("/apps/new")
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
				b.Doc("app-new")
			}
			b.SubmitTo("create the app", "form[action='/apps'] button[type=submit]", "/apps/0", acts...)
			if h := b.Text("h1"); h != ty.name {
				t.Fatalf("after creating: %q (%s)", h, b.Location())
			}
		})
	}
	t.Run("the form keeps what was typed and shows the field's error", func(t *testing.T) {
		b := b.With(t)
		b.Open("/apps/new")
		b.Do("submit a bad app",
			chromedp.Click(chromedp.CSS("input[name=type][value=aci]")),
			chromedp.SendKeys(chromedp.CSS("#name"), "broken"),
			chromedp.Click(chromedp.CSS("form[action='/apps'] button[type=submit]")),
			chromedp.WaitVisible(chromedp.CSS(".field-error")),
		)
		if v, _ := chromedp.Run(b.Ctx, chromedp.Value(chromedp.CSS("#name"))); v != "broken" {
			t.Fatalf("name after the error: %q", v)
		}
		if !strings.Contains(b.Text(".field-error"), "required") {
			t.Fatalf("error %q", b.Text(".field-error"))
		}
	})
	t.Run("a POST without the CSRF token is refused", func(t *testing.T) {
		b := b.With(t)
		b.Open("/apps")
		if st := b.FetchStatus("/apps", "name=sneaky&type=edp"); st != 403 {
			t.Fatalf("status %d", st)
		}
	})
	b.Open("/apps")
	b.Doc("apps")

	t.Run("a reader sees no write controls, and the server refuses their writes", func(t *testing.T) {
		b := b.With(t)
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
		b.SubmitTo("sign out", "form[action='/logout'] button", "/login")
		b.Login(reader.Email, reader.Password)
		b.Open("/apps")
		page := b.HTML()
		if strings.Contains(page, "/apps/new") || !strings.Contains(page, "payments") {
			t.Fatal("a reader sees the Add application button, or not the apps")
		}
		csrf, err := chromedp.Run(b.Ctx, chromedp.Value(chromedp.CSS("input[name=csrf]")))
		if err != nil || csrf == "" {
			t.Fatalf("csrf: %q %v", csrf, err)
		}
		if st := b.FetchStatus("/apps", "csrf="+csrf+"&name=sneaky&type=edp"); st != 403 {
			t.Fatalf("a reader's POST with a valid CSRF token: %d", st)
		}
	})
}
