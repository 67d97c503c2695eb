package webui

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/openccm/openccm/internal/account"
	"github.com/openccm/openccm/internal/app"
	"github.com/openccm/openccm/internal/core"
	"github.com/openccm/openccm/internal/image"
	"github.com/openccm/openccm/internal/password"
	"github.com/openccm/openccm/internal/registry"
	"github.com/openccm/openccm/internal/secret"
	"github.com/openccm/openccm/internal/store"
	"github.com/openccm/openccm/internal/store/sqlstore"
	"github.com/openccm/openccm/internal/store/sqlstore/sqltest"
	"github.com/openccm/openccm/pkg/apiv1"
)

const (
	imgTestPassword = "correct horse battery staple"
	sig1MREnclave   = "c50673624a6cb17c1c6c2a4e6906f47a170c4629b8723781d1017ef376f1a75d"
)

// imgEnv is the console on a temp SQLite store, with an account where
// writer@ is a writer and reader@ a reader, both signed in.
type imgEnv struct {
	t      *testing.T
	ui     *UI
	svc    *core.Services
	acct   string
	userID string
	writer *http.Cookie
	reader *http.Cookie
}

func newImgEnv(t *testing.T) *imgEnv {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, sqltest.NewSQLite(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	box, err := secret.New(bytes.Repeat([]byte{7}, secret.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := core.New(core.Config{Store: db, Box: box, PasswordParams: password.Fast})
	if err != nil {
		t.Fatal(err)
	}
	ui, err := New(Config{Services: svc, Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	e := &imgEnv{t: t, ui: ui, svc: svc}
	admin, err := svc.Identity.Signup(ctx, "writer@example.com", imgTestPassword)
	if err != nil {
		t.Fatal(err)
	}
	e.userID = admin.ID
	tok, _, err := svc.Identity.Login(ctx, "writer@example.com", imgTestPassword, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	p, err := svc.Identity.Authenticate(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	a, err := svc.Accounts.Create(ctx, p, "acme", account.Patch{})
	if err != nil {
		t.Fatal(err)
	}
	e.acct = a.ID
	// The account's creator is its manager; a manager is at least a writer.
	if _, err := svc.Accounts.AddMember(ctx, a.ID, "reader@example.com", store.RoleReader, imgTestPassword); err != nil {
		t.Fatal(err)
	}
	e.writer = e.login("writer@example.com")
	e.reader = e.login("reader@example.com")
	return e
}

// login signs in through the form and returns the session cookie.
func (e *imgEnv) login(email string) *http.Cookie {
	e.t.Helper()
	form := url.Values{"email": {email}, "password": {imgTestPassword}}
	rec := e.do("POST", "/login", nil, strings.NewReader(form.Encode()), "application/x-www-form-urlencoded", nil)
	if rec.Code != http.StatusSeeOther {
		e.t.Fatalf("login %s: %d %s", email, rec.Code, rec.Body)
	}
	for _, c := range rec.Result().Cookies() {
		if c.Name == sessionCookie && c.Value != "" {
			return c
		}
	}
	e.t.Fatalf("login %s set no session cookie", email)
	return nil
}

func (e *imgEnv) do(method, path string, c *http.Cookie, body io.Reader, contentType string, headers map[string]string) *httptest.ResponseRecorder {
	e.t.Helper()
	req := httptest.NewRequest(method, path, body)
	req.RemoteAddr = "192.0.2.1:4242"
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if c != nil {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	e.ui.ServeHTTP(rec, req)
	return rec
}

func (e *imgEnv) get(path string, c *http.Cookie) *httptest.ResponseRecorder {
	e.t.Helper()
	return e.do("GET", path, c, nil, "", nil)
}

var imgCSRFRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf takes the CSRF token from a rendered page of the user.
func (e *imgEnv) csrf(c *http.Cookie) string {
	e.t.Helper()
	rec := e.get("/images", c)
	m := imgCSRFRE.FindStringSubmatch(rec.Body.String())
	if rec.Code != 200 || m == nil {
		e.t.Fatalf("no CSRF token on /images: %d %s", rec.Code, rec.Body)
	}
	return m[1]
}

// postForm posts a urlencoded form (with the user's CSRF token unless form has one).
func (e *imgEnv) postForm(path string, c *http.Cookie, form url.Values) *httptest.ResponseRecorder {
	e.t.Helper()
	return e.do("POST", path, c, strings.NewReader(form.Encode()), "application/x-www-form-urlencoded", nil)
}

// postMultipart posts fields and files as multipart/form-data.
func (e *imgEnv) postMultipart(path string, c *http.Cookie, fields map[string]string, files map[string][]byte, headers map[string]string) *httptest.ResponseRecorder {
	e.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		_ = mw.WriteField(k, v)
	}
	for k, b := range files {
		fw, err := mw.CreateFormFile(k, k+".bin")
		if err != nil {
			e.t.Fatal(err)
		}
		_, _ = fw.Write(b)
	}
	_ = mw.Close()
	return e.do("POST", path, c, &buf, mw.FormDataContentType(), headers)
}

func (e *imgEnv) newApp(name, typ, in, out string) *store.App {
	e.t.Helper()
	input := app.Input{Name: &name, Type: &typ}
	if in != "" {
		input.InputImageName = &in
	}
	if out != "" {
		input.OutputImageName = &out
	}
	a, err := e.svc.Apps.Create(context.Background(), e.acct, e.userID, input)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

func (e *imgEnv) images(appID string) []*store.Image {
	e.t.Helper()
	imgs, _, err := e.svc.Images.List(context.Background(), e.acct, store.ImageFilter{AppID: appID}, store.Page{Limit: store.MaxPageLimit})
	if err != nil {
		e.t.Fatal(err)
	}
	return imgs
}

func wantRedirect(t *testing.T, rec *httptest.ResponseRecorder, prefix string) {
	t.Helper()
	if rec.Code != http.StatusSeeOther || !strings.HasPrefix(rec.Header().Get("Location"), prefix) {
		t.Fatalf("want 303 to %s…, got %d %q %s", prefix, rec.Code, rec.Header().Get("Location"), rec.Body)
	}
}

func TestAddImageFormRendersForEachType(t *testing.T) {
	e := newImgEnv(t)
	ctx := context.Background()
	url1, user, pw := "registry.example.com", "robot", "registry-secret"
	reg, err := e.svc.Registries.Create(ctx, e.acct, registry.Input{URL: &url1, Username: &user, Password: &pw})
	if err != nil {
		t.Fatal(err)
	}
	selected := `<option value="` + reg.ID + `" selected>`
	cases := []struct {
		typ, in, out string
		want         []string
	}{
		{"enclave_os", "docker.io/library/nginx", "registry.example.com/acme/nginx", []string{
			"AWS Nitro Enclaves", `id="input_tag"`, `id="output_tag"`, "Use same credential as input image registry",
			`name="output_credentials.password" type="password"`, `<option value="2048" selected>2048 MiB</option>`,
			`<option value="16384" >16384 MiB</option>`, `id="cpu_count" name="cpu_count" type="number" min="1" max="256" inputmode="numeric" value="2"`,
			`name="file_persistence" checked`, `name="output_registry_id"`, selected}},
		{"edp", "", "", []string{`id="version"`, `value="sgx" data-image-platform checked`, `value="nitro" data-image-platform`,
			`hx-post="/tools/sigstruct" hx-encoding="multipart/form-data" hx-trigger="change" hx-target="#sgx-params" hx-swap="outerHTML"`,
			`hx-post="/tools/nitro-measurements"`, `id="sgx-params"`, `id="mrenclave"`, `id="isvsvn"`, `id="nitro-params"`, `id="pcr2"`,
			`enctype="multipart/form-data"`, `<legend>Image type</legend>`}},
		{"aci", "registry.example.com/acme/web", "", []string{`id="tag"`, `name="use_saved" checked`, selected,
			"<summary>Advanced settings</summary>", `name="wait_for_node_registration" checked`, `id="memory_gb"`, "Generate secure policy"}},
		{"sev_snp", "", "", []string{`id="measurement"`, `<option value="3" >VMPL3</option>`, `<option value="0" selected>VMPL0</option>`,
			`<legend>Coprocessors</legend>`, `value="none" checked`, `value="ignored"`, `value="required"`}},
		{"azure_cvm", "", "", []string{`for="pcr-0"`, `name="pcrs.pcr22"`, `data-hex`, `<legend>Coprocessors</legend>`}},
	}
	for _, c := range cases {
		t.Run(c.typ, func(t *testing.T) {
			a := e.newApp("app-"+c.typ, c.typ, c.in, c.out)
			rec := e.get("/apps/"+a.ID+"/images/new", e.writer)
			body := rec.Body.String()
			if rec.Code != 200 {
				t.Fatalf("%d %s", rec.Code, body)
			}
			for _, w := range c.want {
				if !strings.Contains(body, w) {
					t.Errorf("the form lacks %q", w)
				}
			}
			if strings.Contains(body, "style=") || strings.Contains(body, "<script>") {
				t.Error("inline style or script")
			}
			// Every input, select and textarea has a label.
			for _, m := range regexp.MustCompile(`<(?:input|select|textarea) id="([^"]+)"`).FindAllStringSubmatch(body, -1) {
				if !strings.Contains(body, `for="`+m[1]+`"`) && !strings.Contains(body, `<label class="choice"><input type="checkbox" id="`+m[1]+`"`) {
					t.Errorf("input %s has no label", m[1])
				}
			}
		})
	}
}

func TestCreateSGXImageFromSigstructFile(t *testing.T) {
	e := newImgEnv(t)
	sig, err := os.ReadFile("../platform/sgx/testdata/sig1.sigstruct.bin")
	if err != nil {
		t.Fatal(err)
	}
	a := e.newApp("enclave", "edp", "", "")
	rec := e.postMultipart("/apps/"+a.ID+"/images", e.writer,
		map[string]string{"csrf": e.csrf(e.writer), "version": "1.0.0", "platform": "sgx",
			// Values the auto-fill put there are not sent with the SIGSTRUCT.
			"mrenclave": sig1MREnclave, "isvsvn": "1"},
		map[string][]byte{"sigstruct_file": sig}, nil)
	wantRedirect(t, rec, "/apps/"+a.ID+"?flash=")
	imgs := e.images(a.ID)
	if len(imgs) != 1 || imgs[0].Measurements.MREnclave != sig1MREnclave || imgs[0].Platform != "sgx" || imgs[0].Status != store.ImageReady {
		t.Fatalf("images %+v", imgs)
	}
	// The app page shows the flash.
	if page := e.get(rec.Header().Get("Location"), e.writer).Body.String(); !strings.Contains(page, "Image 1.0.0 added") {
		t.Errorf("no flash on the app page")
	}
	// The same SIGSTRUCT again, pasted: the MRENCLAVE is taken.
	rec = e.postMultipart("/apps/"+a.ID+"/images", e.writer,
		map[string]string{"csrf": e.csrf(e.writer), "version": "1.0.1", "platform": "sgx", "sigstruct": base64.StdEncoding.EncodeToString(sig)}, nil, nil)
	if rec.Code != 400 || !strings.Contains(rec.Body.String(), "already has these measurements") {
		t.Fatalf("duplicate: %d %s", rec.Code, rec.Body)
	}
	// The error is shown in the SGX parameters, next to MRENCLAVE.
	body := rec.Body.String()
	if i, j := strings.Index(body, `id="mrenclave"`), strings.Index(body, "already has these measurements"); i < 0 || j < i || j > strings.Index(body, `id="mrsigner"`) {
		t.Errorf("the conflict is not next to MRENCLAVE")
	}
}

func TestToolSigstructFillsParameters(t *testing.T) {
	e := newImgEnv(t)
	sig, err := os.ReadFile("../platform/sgx/testdata/sig1.sigstruct.bin")
	if err != nil {
		t.Fatal(err)
	}
	hx := map[string]string{"HX-Request": "true", "X-CSRF-Token": e.csrf(e.writer), "HX-Trigger-Name": "sigstruct_file"}
	rec := e.postMultipart("/tools/sigstruct", e.writer, nil, map[string][]byte{"sigstruct_file": sig}, hx)
	body := rec.Body.String()
	if rec.Code != 200 || !strings.Contains(body, `id="mrenclave" name="mrenclave" class="mono" data-hex spellcheck="false" autocomplete="off" value="`+sig1MREnclave+`"`) {
		t.Fatalf("upload: %d %s", rec.Code, body)
	}
	if !strings.HasPrefix(strings.TrimSpace(body), `<fieldset id="sgx-params"`) || strings.Contains(body, "<html") {
		t.Errorf("not the fieldset alone: %s", body)
	}
	for _, f := range []string{`id="mrsigner"`, `id="isvprodid"`, `id="isvsvn"`} {
		if !strings.Contains(body, f) {
			t.Errorf("no %s", f)
		}
	}
	// Pasted as Base64 (form fields, as htmx sends the textarea's form).
	hx["HX-Trigger-Name"] = "sigstruct"
	rec = e.postMultipart("/tools/sigstruct", e.writer, map[string]string{"sigstruct": base64.StdEncoding.EncodeToString(sig)}, nil, hx)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `value="`+sig1MREnclave+`"`) {
		t.Fatalf("paste: %d %s", rec.Code, rec.Body)
	}
	// Not a SIGSTRUCT: the error, and what was typed stays.
	rec = e.postMultipart("/tools/sigstruct", e.writer, map[string]string{"sigstruct": "bm90IGEgc2lnc3RydWN0", "mrsigner": "abcd"}, nil, hx)
	if body := rec.Body.String(); rec.Code != 200 || !strings.Contains(body, `role="alert"`) || !strings.Contains(body, `value="abcd"`) {
		t.Fatalf("bad sigstruct: %d %s", rec.Code, body)
	}
	// Without the token: refused.
	rec = e.postMultipart("/tools/sigstruct", e.writer, nil, map[string][]byte{"sigstruct_file": sig}, map[string]string{"HX-Request": "true"})
	if rec.Code != 403 {
		t.Fatalf("no token: %d", rec.Code)
	}
}

func TestToolNitroMeasurementsFillsPCRs(t *testing.T) {
	e := newImgEnv(t)
	p0, p1, p2 := strings.Repeat("a1", 48), strings.Repeat("b2", 48), strings.Repeat("c3", 48)
	js := `{"Measurements": {"HashAlgorithm": "Sha384 { ... }", "PCR0": "` + p0 + `", "PCR1": "` + p1 + `", "PCR2": "` + p2 + `"}}`
	hx := map[string]string{"HX-Request": "true", "X-CSRF-Token": e.csrf(e.reader), "HX-Trigger-Name": "measurement_file"}
	rec := e.postMultipart("/tools/nitro-measurements", e.reader, nil, map[string][]byte{"measurement_file": []byte(js)}, hx)
	body := rec.Body.String()
	if rec.Code != 200 || !strings.Contains(body, `id="nitro-params"`) || !strings.Contains(body, `value="`+p0+`"`) ||
		!strings.Contains(body, `value="`+p2+`"`) {
		t.Fatalf("%d %s", rec.Code, body)
	}
	// And the PCRs entered by hand create an EDP Nitro image.
	a := e.newApp("nitro-enclave", "edp", "", "")
	rec = e.postForm("/apps/"+a.ID+"/images", e.writer, url.Values{"csrf": {e.csrf(e.writer)}, "version": {"2"}, "platform": {"nitro"},
		"pcr0": {"0x" + p0}, "pcr1": {p1}, "pcr2": {p2}, "mrenclave": {"ignored: the SGX fields are hidden"}})
	wantRedirect(t, rec, "/apps/"+a.ID)
	if imgs := e.images(a.ID); len(imgs) != 1 || imgs[0].Measurements.PCR0 != p0 {
		t.Fatalf("nitro image %+v", imgs)
	}
}

func TestBadPCRShowsErrorNextToItAndKeepsValues(t *testing.T) {
	e := newImgEnv(t)
	a := e.newApp("cvm", "azure_cvm", "", "")
	good := strings.Repeat("0f", 32)
	rec := e.postForm("/apps/"+a.ID+"/images", e.writer, url.Values{"csrf": {e.csrf(e.writer)}, "version": {"img-1"}, "gpu": {"required"},
		"pcrs.pcr0": {good}, "pcrs.pcr3": {"not-hex"}})
	body := rec.Body.String()
	if rec.Code != 400 {
		t.Fatalf("%d %s", rec.Code, body)
	}
	i, j, k := strings.Index(body, `id="pcr-3"`), strings.Index(body, `class="field-error" role="alert"`), strings.Index(body, `id="pcr-4"`)
	if i < 0 || j < i || j > k {
		t.Fatalf("the error is not next to PCR3 (%d %d %d): %s", i, j, k, body)
	}
	for _, w := range []string{`value="img-1"`, `value="` + good + `"`, `value="not-hex"`, `value="required" checked`} {
		if !strings.Contains(body, w) {
			t.Errorf("the typed %s is lost", w)
		}
	}
	// A 0x prefix is fine.
	rec = e.postForm("/apps/"+a.ID+"/images", e.writer, url.Values{"csrf": {e.csrf(e.writer)}, "version": {"img-1"}, "gpu": {"none"},
		"pcrs.pcr0": {"0x" + good}, "pcrs.pcr7": {good}})
	wantRedirect(t, rec, "/apps/"+a.ID)
	if imgs := e.images(a.ID); len(imgs) != 1 || imgs[0].Measurements.PCRs[0] != good || imgs[0].Measurements.PCRs[7] != good {
		t.Fatalf("cvm image %+v", imgs)
	}
}

func TestEnclaveOSFormNeverEchoesThePassword(t *testing.T) {
	e := newImgEnv(t)
	a := e.newApp("eos", "enclave_os", "docker.io/library/nginx", "registry.example.com/acme/nginx")
	rec := e.postForm("/apps/"+a.ID+"/images", e.writer, url.Values{"csrf": {e.csrf(e.writer)}, "platform": {"nitro"},
		"input_tag": {"1.2"}, "output_tag": {"1.2-nitro"}, "output_credentials.username": {"pusher"},
		"output_credentials.password": {"hunter2-very-secret"}, "memory_mib": {"2048"}, "cpu_count": {"999"}, "file_persistence": {"on"}})
	body := rec.Body.String()
	if rec.Code != 400 || !strings.Contains(body, "must be between 1 and 256") {
		t.Fatalf("%d %s", rec.Code, body)
	}
	if strings.Contains(body, "hunter2") {
		t.Fatal("the password was echoed into the form")
	}
	if !strings.Contains(body, `value="pusher"`) || !strings.Contains(body, `value="1.2-nitro"`) {
		t.Error("the typed values are lost")
	}
	// A username without a password: the error is at the password.
	rec = e.postForm("/apps/"+a.ID+"/images", e.writer, url.Values{"csrf": {e.csrf(e.writer)}, "output_credentials.username": {"pusher"}, "file_persistence": {"on"}})
	body = rec.Body.String()
	if i, j := strings.Index(body, `id="output_credentials.password"`), strings.Index(body, "is required"); rec.Code != 400 || i < 0 || j < i {
		t.Fatalf("password error: %d %s", rec.Code, body)
	}
	// Valid: a queued build, and the flash says so.
	rec = e.postForm("/apps/"+a.ID+"/images", e.writer, url.Values{"csrf": {e.csrf(e.writer)}, "input_tag": {"1.2"}, "output_tag": {"1.2-nitro"},
		"output_credentials.username": {"pusher"}, "output_credentials.password": {"pw"}, "memory_mib": {"4096"}, "cpu_count": {"4"}})
	wantRedirect(t, rec, "/apps/"+a.ID+"?flash=")
	imgs := e.images(a.ID)
	if len(imgs) != 1 || imgs[0].Status != store.ImagePending || imgs[0].Settings.MemoryMiB != 4096 || *imgs[0].Settings.FilePersistence ||
		!imgs[0].Settings.HasInlineCredentials {
		t.Fatalf("enclave os image %+v", imgs)
	}
	// The Images list polls while it builds, with a progress bar.
	list := e.get("/images", e.writer).Body.String()
	if !strings.Contains(list, `hx-get="/images" hx-trigger="every 3s"`) || !strings.Contains(list, "<progress") || !strings.Contains(list, ">eos</a>") {
		t.Errorf("images list: %s", list)
	}
	detail := e.get("/images/"+imgs[0].ID, e.writer).Body.String()
	if !strings.Contains(detail, "enclave_os_convert") || !strings.Contains(detail, "queued") || !strings.Contains(detail, "4096 MiB") {
		t.Errorf("image page: %s", detail)
	}
}

func TestImageCreateWithoutCSRFTokenIsForbidden(t *testing.T) {
	e := newImgEnv(t)
	a := e.newApp("snp", "sev_snp", "", "")
	form := url.Values{"version": {"1"}, "measurement": {strings.Repeat("11", 48)}, "vmpl": {"0"}}
	if rec := e.postForm("/apps/"+a.ID+"/images", e.writer, form); rec.Code != 403 {
		t.Fatalf("no token: %d", rec.Code)
	}
	form.Set("csrf", "forged")
	if rec := e.postForm("/apps/"+a.ID+"/images", e.writer, form); rec.Code != 403 {
		t.Fatalf("bad token: %d", rec.Code)
	}
	if len(e.images(a.ID)) != 0 {
		t.Fatal("an image was created")
	}
	form.Set("csrf", e.csrf(e.writer))
	wantRedirect(t, e.postForm("/apps/"+a.ID+"/images", e.writer, form), "/apps/"+a.ID)
}

func TestImagesReaderSeesNoWriteControlsAndIsRefused(t *testing.T) {
	e := newImgEnv(t)
	a := e.newApp("snp", "sev_snp", "", "")
	img, err := e.svc.Images.Create(context.Background(), e.acct, a.ID, e.userID, apiv1.CreateImageRequest{Version: "1", Measurement: strings.Repeat("22", 48)})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/apps/" + a.ID, "/images", "/images/" + img.ID} {
		body := e.get(path, e.reader).Body.String()
		if strings.Contains(body, "Add image") || strings.Contains(body, ">Delete<") || strings.Contains(body, "/delete") {
			t.Errorf("%s shows a reader write controls", path)
		}
		if !strings.Contains(e.get(path, e.writer).Body.String(), ">Delete<") && path != "/apps/"+a.ID {
			t.Errorf("%s shows a writer no Delete", path)
		}
	}
	tok := e.csrf(e.reader)
	rec := e.postForm("/images/"+img.ID+"/delete", e.reader, url.Values{"csrf": {tok}})
	if rec.Code != 403 || !strings.Contains(rec.Body.String(), "writer role") || !strings.Contains(rec.Body.String(), "<html") {
		t.Fatalf("reader delete: %d %s", rec.Code, rec.Body)
	}
	rec = e.postForm("/apps/"+a.ID+"/images", e.reader, url.Values{"csrf": {tok}, "version": {"2"}, "measurement": {strings.Repeat("33", 48)}})
	if rec.Code != 403 {
		t.Fatalf("reader create: %d", rec.Code)
	}
	if rec := e.get("/apps/"+a.ID+"/images/new", e.reader); rec.Code != 403 {
		t.Fatalf("reader form: %d", rec.Code)
	}
	if len(e.images(a.ID)) != 1 {
		t.Fatal("the reader changed the images")
	}
	// The writer deletes it and lands on the app page.
	rec = e.postForm("/images/"+img.ID+"/delete", e.writer, url.Values{"csrf": {e.csrf(e.writer)}})
	wantRedirect(t, rec, "/apps/"+a.ID+"?flash=")
	if len(e.images(a.ID)) != 0 {
		t.Fatal("not deleted")
	}
}

func TestImageDetailShowsMeasurementsAndTask(t *testing.T) {
	e := newImgEnv(t)
	a := e.newApp("snp", "sev_snp", "", "")
	m := strings.Repeat("ab", 48)
	rec := e.postForm("/apps/"+a.ID+"/images", e.writer, url.Values{"csrf": {e.csrf(e.writer)}, "version": {"2024.06"},
		"measurement": {m}, "vmpl": {"2"}, "gpu": {"ignored"}})
	wantRedirect(t, rec, "/apps/"+a.ID)
	img := e.images(a.ID)[0]
	body := e.get("/images/"+img.ID, e.reader).Body.String()
	for _, w := range []string{"2024.06", `<dd class="mono">` + m + `</dd>`, "VMPL2", "ignored", `href="/tasks/` + img.TaskID + `"`, "0 of 1", "No decisions yet"} {
		if !strings.Contains(body, w) {
			t.Errorf("the image page lacks %q", w)
		}
	}
	if strings.Contains(body, "policy-view") {
		t.Error("a policy tab on an sev_snp image")
	}
	// Filters.
	if list := e.get("/images?type=aci", e.reader).Body.String(); strings.Contains(list, "2024.06") {
		t.Error("the type filter does not filter")
	}
	if list := e.get("/images?approval_status=pending&type=sev_snp", e.reader).Body.String(); !strings.Contains(list, "2024.06") {
		t.Error("the filters hide a matching image")
	}
	if rec := e.get("/images?status=bogus", e.reader); rec.Code != 400 {
		t.Errorf("a bad filter: %d", rec.Code)
	}
	if rec := e.get("/images/nope", e.reader); rec.Code != 404 {
		t.Errorf("no such image: %d", rec.Code)
	}
}

func TestACIPolicyTabAndDownload(t *testing.T) {
	e := newImgEnv(t)
	a := e.newApp("aci", "aci", "nginx", "")
	rec := e.postForm("/apps/"+a.ID+"/images", e.writer, url.Values{"csrf": {e.csrf(e.writer)}, "tag": {"1.4"},
		"wait_for_node_registration": {"on"}, "cpu_count": {"1"}, "memory_gb": {"1.5"}})
	wantRedirect(t, rec, "/apps/"+a.ID+"?flash=")
	imgs := e.images(a.ID)
	if len(imgs) != 1 || imgs[0].Status != store.ImagePending || imgs[0].Settings.MemoryGB != 1.5 {
		t.Fatalf("aci image %+v", imgs)
	}
	id := imgs[0].ID
	// Not generated yet: the API's message.
	body := e.get("/images/"+id+"/policy-view", e.reader).Body.String()
	if !strings.Contains(body, "try again when the image is ready") || strings.Contains(body, "policy.json") {
		t.Fatalf("policy tab of a pending image: %s", body)
	}
	if rec := e.get("/images/"+id+"/policy.json", e.reader); rec.Code != 409 {
		t.Fatalf("download of a pending policy: %d", rec.Code)
	}
	policy := "package policy\n"
	sum := sha256.Sum256([]byte(policy))
	done, err := e.svc.Images.FinishBuild(context.Background(), e.acct, id, image.BuildResult{
		Measurements: store.Measurements{PolicySHA256: hex.EncodeToString(sum[:])},
		Artifacts:    map[string][]byte{store.ArtifactARMTemplate: []byte(`{"resources":[{"type":"x"}]}`), store.ArtifactCCEPolicy: []byte(policy)},
	})
	if err != nil || done.Status != store.ImageReady {
		t.Fatalf("finish build: %+v %v", done, err)
	}
	rec = e.get("/images/"+id+"/policy.json", e.reader)
	if rec.Code != 200 || rec.Body.String() != `{"resources":[{"type":"x"}]}` || rec.Header().Get("Content-Type") != "application/json" ||
		rec.Header().Get("Content-Disposition") != `attachment; filename=1.4-policy.json` {
		t.Fatalf("download: %d %q %v", rec.Code, rec.Body, rec.Header())
	}
	rec = e.get("/images/"+id+"/policy.json?format=rego", e.reader)
	if rec.Code != 200 || rec.Body.String() != policy || rec.Header().Get("Content-Disposition") != `attachment; filename=1.4-policy.rego` {
		t.Fatalf("rego: %d %q %v", rec.Code, rec.Body, rec.Header())
	}
	body = e.get("/images/"+id+"/policy-view", e.reader).Body.String()
	for _, w := range []string{"<pre", "{\n  &#34;resources&#34;: [", `href="/images/` + id + `/policy.json"`, `policy.json?format=rego"`, `aria-current="page">Policy`} {
		if !strings.Contains(body, w) {
			t.Errorf("policy tab lacks %q: %s", w, body)
		}
	}
	body = e.get("/images/"+id, e.reader).Body.String()
	for _, w := range []string{hex.EncodeToString(sum[:]), "aci_policy", "1.5 GB", "/policy-view", "0 of 1"} {
		if !strings.Contains(body, w) {
			t.Errorf("image page lacks %q", w)
		}
	}
	if rec := e.get("/images/"+e.images(a.ID)[0].ID+"/policy.json?format=yaml", e.reader); rec.Code != 400 {
		t.Errorf("bad format: %d", rec.Code)
	}
}
