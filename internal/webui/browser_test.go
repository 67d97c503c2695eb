package webui_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/openccm/openccm/api"
	"github.com/openccm/openccm/internal/app"
	"github.com/openccm/openccm/internal/core"
	"github.com/openccm/openccm/internal/httpapi"
	"github.com/openccm/openccm/internal/identity"
	"github.com/openccm/openccm/internal/image"
	"github.com/openccm/openccm/internal/password"
	"github.com/openccm/openccm/internal/secret"
	"github.com/openccm/openccm/internal/store"
	"github.com/openccm/openccm/internal/store/sqlstore"
	"github.com/openccm/openccm/internal/webui"
	"github.com/openccm/openccm/internal/webui/browsertest"
)

// TestImageLifecycleInBrowser runs the console in process (so that the
// test can finish an ACI build through the service layer, until build
// workers exist) and drives it in headless Chromium: an image of every
// type, a SIGSTRUCT upload filling the form, approval and its green tick,
// and the ACI policy download.
func TestImageLifecycleInBrowser(t *testing.T) {
	browsertest.ChromiumPath(t)
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "ccm.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	box, _ := secret.New(bytes.Repeat([]byte{5}, secret.KeySize))
	svc, err := core.New(core.Config{Store: db, Box: box, PasswordParams: password.Fast})
	if err != nil {
		t.Fatal(err)
	}
	ui, err := webui.New(webui.Config{Services: svc, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	h, err := httpapi.New(httpapi.Config{Services: svc, DB: db, Spec: api.Spec, Fallback: ui})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(h)
	defer srv.Close()

	const pw = "correct horse battery staple"
	u, err := svc.Identity.Signup(ctx, "admin@example.com", pw)
	if err != nil {
		t.Fatal(err)
	}
	acct, err := svc.Accounts.Create(ctx, &identity.Principal{UserID: u.ID}, "Acme", accountPatch())
	if err != nil {
		t.Fatal(err)
	}
	apps := map[string]*store.App{}
	for typ, extra := range map[string][2]string{
		"enclave_os": {"docker.io/library/nginx", "registry.example.com/nginx-nitro"},
		"edp":        {}, "aci": {"myreg.azurecr.io/team/api", ""}, "sev_snp": {}, "azure_cvm": {},
	} {
		name, t2 := typ+"-app", typ
		in, out := extra[0], extra[1]
		a, err := svc.Apps.Create(ctx, acct.ID, u.ID, app.Input{Name: &name, Type: &t2, InputImageName: &in, OutputImageName: &out})
		if err != nil {
			t.Fatal(err)
		}
		apps[typ] = a
	}

	b := browsertest.New(t, srv.URL, 1280, 900)
	b.Login("admin@example.com", pw)

	t.Run("an SGX image from an uploaded SIGSTRUCT fills the fields", func(t *testing.T) {
		b := b.With(t)
		b.Open("/apps/" + apps["edp"].ID + "/images/new")
		sig, _ := filepath.Abs("../platform/sgx/testdata/sig1.sigstruct.bin")
		b.Do("choose SGX and upload",
			chromedp.SendKeys(chromedp.CSS("#version"), "1.0.0"),
			chromedp.Click(chromedp.CSS("input[name=platform][value=sgx]")),
			chromedp.SetUploadFiles(chromedp.CSS("#sigstruct_file"), []string{sig}),
		)
		b.WaitValue("#mrenclave", "c50673624a6cb17c1c6c2a4e6906f47a170c4629b8723781d1017ef376f1a75d")
		b.Doc("image-new-sgx")
		b.SubmitTo("add the image", "form button[type=submit].primary", "/apps/"+apps["edp"].ID)
		if !strings.Contains(b.HTML(), "1.0.0") {
			t.Fatal("the image is not listed")
		}
	})
	forms := []struct {
		typ  string
		acts []chromedp.Action[chromedp.Void]
	}{
		{"sev_snp", []chromedp.Action[chromedp.Void]{chromedp.SendKeys(chromedp.CSS("#version"), "2024.06"),
			chromedp.SendKeys(chromedp.CSS("#measurement"), strings.Repeat("ab", 48))}},
		{"azure_cvm", []chromedp.Action[chromedp.Void]{chromedp.SendKeys(chromedp.CSS("#version"), "img-1"),
			chromedp.SendKeys(chromedp.CSS("#pcr-0"), "0x"+strings.Repeat("AA", 32)),
			chromedp.SendKeys(chromedp.CSS("#pcr-7"), strings.Repeat("bb", 32))}},
		{"enclave_os", []chromedp.Action[chromedp.Void]{chromedp.SendKeys(chromedp.CSS("#input_tag"), "1.25"),
			chromedp.SendKeys(chromedp.CSS("#output_tag"), "1.25-nitro"),
			chromedp.SendKeys(chromedp.CSS("[id='output_credentials.username']"), "ci"),
			chromedp.SendKeys(chromedp.CSS("[id='output_credentials.password']"), "push-secret")}},
		{"aci", []chromedp.Action[chromedp.Void]{chromedp.SendKeys(chromedp.CSS("#tag"), "1.4")}},
	}
	for _, f := range forms {
		t.Run("add an image to the "+f.typ+" app", func(t *testing.T) {
			b := b.With(t)
			b.Open("/apps/" + apps[f.typ].ID + "/images/new")
			b.Doc("image-new-" + f.typ)
			b.SubmitTo("add the image", "form button[type=submit].primary", "/apps/"+apps[f.typ].ID, f.acts...)
			if strings.Contains(b.HTML(), "push-secret") {
				t.Fatal("a password came back in a page")
			}
		})
	}
	t.Run("approving the task shows the green tick", func(t *testing.T) {
		b := b.With(t)
		imgs, _, err := svc.Images.List(ctx, acct.ID, store.ImageFilter{AppID: apps["sev_snp"].ID}, store.Page{Limit: 10})
		if err != nil || len(imgs) != 1 {
			t.Fatalf("images %v %v", imgs, err)
		}
		b.Open("/tasks/" + imgs[0].TaskID)
		b.Doc("task")
		b.SubmitTo("approve", "form[action$='/approve'] button[type=submit]", "/tasks")
		b.Open("/apps/" + apps["sev_snp"].ID)
		if !strings.Contains(b.HTML(), `class="tick"`) {
			t.Fatal("no green tick after approval")
		}
		b.Doc("app-images")
	})
	t.Run("the ACI policy can be downloaded", func(t *testing.T) {
		b := b.With(t)
		imgs, _, err := svc.Images.List(ctx, acct.ID, store.ImageFilter{AppID: apps["aci"].ID}, store.Page{Limit: 10})
		if err != nil || len(imgs) != 1 {
			t.Fatalf("images %v %v", imgs, err)
		}
		policy := "package policy\n"
		sum := sha256.Sum256([]byte(policy))
		if _, err := svc.Images.FinishBuild(ctx, acct.ID, imgs[0].ID, image.BuildResult{
			Measurements: store.Measurements{PolicySHA256: hex.EncodeToString(sum[:])},
			Artifacts:    map[string][]byte{store.ArtifactARMTemplate: []byte(`{"resources": []}`), store.ArtifactCCEPolicy: []byte(policy)},
		}); err != nil {
			t.Fatal(err)
		}
		b.Open("/images/" + imgs[0].ID + "/policy-view")
		b.Doc("image-policy")
		href, err := chromedp.Run(b.Ctx, chromedp.Evaluate[string](`document.querySelector("a[href*='policy.json']").getAttribute("href")`))
		if err != nil || href == "" {
			t.Fatalf("no download link: %v", err)
		}
		got, err := chromedp.Run(b.Ctx, chromedp.Evaluate[string](`fetch(`+"`"+href+"`"+`).then(r => r.headers.get("Content-Disposition") + "|" + r.status)`, chromedp.EvalAwaitPromise))
		if err != nil || !strings.HasPrefix(got, "attachment") || !strings.HasSuffix(got, "|200") {
			t.Fatalf("download: %q %v", got, err)
		}
	})
	for _, pg := range []string{"images", "tasks", "settings", "certificates", "audit", "explain"} {
		b.Open("/" + pg)
		b.Doc(pg)
	}

	t.Run("the pages fit a phone's width", func(t *testing.T) {
		// 500 px: headless Chromium does not make windows narrower.
		phone := browsertest.New(t, srv.URL, 500, 900)
		phone.Login("admin@example.com", pw)
		for _, pg := range []string{"/apps", "/apps/" + apps["azure_cvm"].ID + "/images/new", "/images", "/tasks", "/settings", "/audit"} {
			phone.Open(pg)
			over, err := chromedp.Run(phone.Ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`))
			if err != nil || over {
				wide, _ := chromedp.Run(phone.Ctx, chromedp.Evaluate[string](`[...document.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).map(e => e.tagName + "." + e.className + "#" + e.id).slice(0, 8).join(", ")`))
				t.Errorf("%s scrolls sideways at 500 px (%v): %s", pg, err, wide)
			}
		}
		phone.Open("/apps")
		phone.Doc("apps-phone")
	})
}
