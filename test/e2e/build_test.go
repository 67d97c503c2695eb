package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/openccm/openccm/internal/enclaveos/eif"
	"github.com/openccm/openccm/internal/enclaveos/manifest"
	"github.com/openccm/openccm/internal/oci"
	"github.com/openccm/openccm/internal/oci/ocitest"
	"github.com/openccm/openccm/internal/webui/browsertest"
	"github.com/openccm/openccm/pkg/apiv1"
	"github.com/openccm/openccm/pkg/client"
)

// buildTimeout bounds how long a build may take to finish in these tests.
const buildTimeout = 90 * time.Second

// gate holds the input registry's blob downloads while it is closed, so a
// build can be caught in the middle.
type gate struct {
	mu      sync.Mutex
	closed  bool
	open    chan struct{}
	waiting chan struct{} // receives when a download starts waiting
}

func newGate() *gate { return &gate{open: make(chan struct{}), waiting: make(chan struct{}, 64)} }

func (g *gate) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed, g.open = true, make(chan struct{})
}

func (g *gate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		g.closed = false
		close(g.open)
	}
}

func (g *gate) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		closed, open := g.closed, g.open
		g.mu.Unlock()
		if closed && strings.Contains(r.URL.Path, "/blobs/") && r.Method == http.MethodGet {
			g.waiting <- struct{}{}
			select {
			case <-open:
			case <-r.Context().Done():
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func appImage(t *testing.T, version string) v1.Image {
	t.Helper()
	return ocitest.Image(t, v1.Config{Entrypoint: []string{"/bin/app"}, Cmd: []string{"serve"}, Env: []string{"PATH=/bin"}},
		ocitest.Layer(t, "bin/app", "#!app "+version, "etc/app.conf", "version="+version))
}

// nitroBlobs writes small synthetic Nitro kernel blobs.
func nitroBlobs(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range map[string]string{"bzImage": "synthetic kernel", "cmdline": "reboot=k panic=30 pci=off nomodules console=ttyS0\n",
		"init": "synthetic init", "nsm.ko": "synthetic nsm.ko"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

type buildFlow struct {
	*flow
	in, out  string // registry hosts
	gate     *gate
	reg      *oci.Client
	blobs    string
	app      *apiv1.App
	registry *apiv1.Registry
	failed   string // an image whose build failed
}

var (
	puller = oci.Credentials{Username: "puller", Password: "pull-" + randomHex(8)}
	pusher = oci.Credentials{Username: "pusher", Password: "push-" + randomHex(8)}
)

func TestBuilds(t *testing.T) {
	blobs := nitroBlobs(t)
	for _, b := range backends(t) {
		t.Run("on "+b.name, func(t *testing.T) {
			t.Parallel()
			f := &buildFlow{flow: &flow{t: t, backend: b, rec: &recorder{}, dataDir: t.TempDir()}, gate: newGate(),
				reg: oci.New(oci.Config{}), blobs: blobs}
			f.run(t)
		})
	}
}

func (f *buildFlow) serverFlags() []string {
	return []string{"--nitro-blobs", f.blobs, "--build-lease", "5s", "--agent-image", f.in + "/public/ccm-agent:1"}
}

func (f *buildFlow) run(t *testing.T) {
	ctx := t.Context()
	f.in = ocitest.Serve(t, map[string]string{puller.Username: puller.Password}, f.gate.wrap)
	f.out = ocitest.NewRegistry(t, map[string]string{pusher.Username: pusher.Password})
	for _, v := range []string{"1.0", "2.0", "3.0"} {
		if _, err := f.reg.Push(ctx, f.in+"/team/app:"+v, appImage(t, v), puller); err != nil {
			t.Fatal(err)
		}
	}
	agent := ocitest.Image(t, v1.Config{}, ocitest.Layer(t, "opt/ccm/ccm", "\x7fELF agent"))
	if _, err := f.reg.Push(ctx, f.in+"/public/ccm-agent:1", agent, puller); err != nil {
		t.Fatal(err)
	}
	f.db = f.backend.database(t)
	f.srv = startServer(t, f.dataDir, f.db, f.serverFlags()...)
	f.api = newAPI(t, f.srv, f.rec)

	mustStep(t, "a user sets up an account, the input registry and an Enclave OS app", f.setUp, func() bool { return f.app != nil })
	t.Run("an Enclave OS image is converted, pushed and measured", f.convert)
	t.Run("a build whose input tag does not exist fails and says which image", f.missingTag)
	t.Run("an ACI image gets its policy and ARM template from a private registry", f.aciPolicy)
	t.Run("the CLI creates an image and waits for its build", f.cliWait)
	if f.backend.name == "SQLite" {
		t.Run("the console adds an ACI image and shows its build until it is ready", f.console)
	}
	t.Run("a build whose server is killed -9 is finished once by the restarted server", f.killedMidBuild)
	if f.backend.name == "SQLite" { // once is enough: the database plays no part
		t.Run("a build pushes to Debian's docker-registry with htpasswd authentication", f.dockerRegistry)
	}
}

func (f *buildFlow) dockerRegistry(t *testing.T) {
	ext := ocitest.ExternalRegistry(t)
	ctx := t.Context()
	repo := ext.Host + "/ccm-test/e2e-" + randomHex(6)
	a, err := f.admin.c.CreateApp(ctx, f.acct.AccountID, apiv1.CreateAppRequest{Name: "web-ext", Type: "enclave_os",
		InputImageName: f.in + "/team/app", OutputImageName: repo})
	if err != nil {
		t.Fatal(err)
	}
	img, err := f.admin.c.CreateImage(ctx, f.acct.AccountID, a.AppID, apiv1.CreateImageRequest{
		InputTag: "3.0", OutputTag: "3.0-nitro", InputRegistryID: &f.registry.RegistryID,
		OutputCredentials: &apiv1.RegistryCredentials{Username: ext.Username, Password: ext.Password}})
	if err != nil {
		t.Fatal(err)
	}
	got := f.wait(t, f.admin.c, img.ImageID, "ready", "failed")
	if got.Status != "ready" {
		t.Fatalf("image %s: %s", got.Status, got.Error)
	}
	out, err := f.reg.Pull(ctx, repo+":3.0-nitro", oci.Credentials{Username: ext.Username, Password: ext.Password})
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := out.Digest(); d.String() != got.OutputDigest {
		t.Errorf("docker-registry has %s, the image records %s", d, got.OutputDigest)
	}
	if _, err := f.reg.Pull(ctx, repo+":3.0-nitro", oci.Credentials{}); !oci.IsPermanent(err) {
		t.Errorf("an anonymous pull from the htpasswd registry: %v; want refused", err)
	}
}

func (f *buildFlow) setUp(t *testing.T) {
	ctx := t.Context()
	f.admin = &user{Email: "builder@builds.example.com", Password: "pw-builder-" + randomHex(8)}
	if _, err := f.api.client(t, "").Signup(ctx, apiv1.Credentials{Email: f.admin.Email, Password: f.admin.Password}); err != nil {
		t.Fatal(err)
	}
	f.login(t, f.admin)
	a, err := f.admin.c.CreateAccount(ctx, apiv1.CreateAccountRequest{Name: "Builds Inc"})
	if err != nil {
		t.Fatal(err)
	}
	f.acct = a
	f.registry, err = f.admin.c.CreateRegistry(ctx, a.AccountID, apiv1.CreateRegistryRequest{URL: f.in, Username: puller.Username, Password: puller.Password})
	if err != nil {
		t.Fatal(err)
	}
	f.app, err = f.admin.c.CreateApp(ctx, a.AccountID, apiv1.CreateAppRequest{Name: "web", Type: "enclave_os",
		InputImageName: f.in + "/team/app", OutputImageName: f.out + "/team/app-nitro"})
	if err != nil {
		t.Fatal(err)
	}
}

// create creates an enclave_os image pulling with the saved registry and
// pushing with inline credentials.
func (f *buildFlow) create(t *testing.T, inTag, outTag string) *apiv1.Image {
	t.Helper()
	mem := 256
	img, err := f.admin.c.CreateImage(t.Context(), f.acct.AccountID, f.app.AppID, apiv1.CreateImageRequest{
		InputTag: inTag, OutputTag: outTag, InputRegistryID: &f.registry.RegistryID, MemoryMiB: &mem,
		OutputCredentials: &apiv1.RegistryCredentials{Username: pusher.Username, Password: pusher.Password}})
	if err != nil {
		t.Fatalf("creating the image: %v", err)
	}
	if img.Status != "pending" {
		t.Fatalf("new image status %s, want pending", img.Status)
	}
	return img
}

// wait polls the image until its status is one of want.
func (f *buildFlow) wait(t *testing.T, c *client.Client, imageID string, want ...string) *apiv1.Image {
	t.Helper()
	deadline := time.Now().Add(buildTimeout)
	for {
		img, err := c.GetImage(t.Context(), f.acct.AccountID, imageID)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range want {
			if img.Status != w {
				continue
			}
			// The image's outcome is recorded first, then its job is closed.
			if b, err := c.GetImageBuild(t.Context(), f.acct.AccountID, imageID); err == nil && (b.Status == "succeeded" || b.Status == "failed") {
				return img
			}
		}
		if time.Now().After(deadline) {
			b, _ := c.GetImageBuild(t.Context(), f.acct.AccountID, imageID)
			t.Fatalf("image still %s after %v; build %+v\nserver log:\n%s", img.Status, buildTimeout, b, f.srv.Stderr())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (f *buildFlow) convert(t *testing.T) {
	ctx := t.Context()
	img := f.wait(t, f.admin.c, f.create(t, "1.0", "1.0-nitro").ImageID, "ready", "failed")
	if img.Status != "ready" {
		t.Fatalf("image failed: %s", img.Error)
	}
	for _, k := range []string{"pcr0", "pcr1", "pcr2"} {
		if s, _ := img.Measurements[k].(string); len(s) != 96 {
			t.Errorf("measurement %s = %v, want 96 hex characters", k, img.Measurements[k])
		}
	}
	if img.TaskID == "" || !strings.HasPrefix(img.OutputDigest, "sha256:") {
		t.Errorf("image %+v: want a task and the output digest", img)
	}

	// The pushed image holds an EIF with exactly the recorded measurements.
	out, err := f.reg.Pull(ctx, f.out+"/team/app-nitro:1.0-nitro", pusher)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := out.Digest(); d.String() != img.OutputDigest {
		t.Errorf("pushed digest %s, image says %s", d, img.OutputDigest)
	}
	fs := ocitest.Files(t, out)
	data := fs[manifest.EIFPath]
	d, err := eif.Describe(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("the pushed EIF: %v", err)
	}
	for i, p := range [][48]byte{d.PCRs.PCR0, d.PCRs.PCR1, d.PCRs.PCR2} {
		if k := "pcr" + string(rune('0'+i)); hex.EncodeToString(p[:]) != img.Measurements[k] {
			t.Errorf("EIF %s = %x, image has %v", k, p, img.Measurements[k])
		}
	}
	if len(fs[manifest.BinaryPath]) < 1<<20 || !bytes.HasPrefix(fs[manifest.BinaryPath], []byte("\x7fELF")) {
		t.Errorf("the output image's ccm binary is %d bytes, want the server's executable", len(fs[manifest.BinaryPath]))
	}
	m, err := manifest.Parse(fs[manifest.Path])
	if err != nil {
		t.Fatal(err)
	}
	if m.ServerURL != f.srv.URL || m.ImageID != img.ImageID || m.MemoryMiB != 256 || !strings.Contains(m.ServerCA, "BEGIN CERTIFICATE") {
		t.Errorf("enclave.json = %+v", m)
	}

	b, err := f.admin.c.GetImageBuild(ctx, f.acct.AccountID, img.ImageID)
	if err != nil {
		t.Fatal(err)
	}
	log := strings.Join(b.Log, "\n")
	if b.Status != "succeeded" || b.Progress != 100 || !strings.Contains(log, "pushed "+f.out+"/team/app-nitro:1.0-nitro@"+img.OutputDigest) {
		t.Errorf("build %s %d%%:\n%s", b.Status, b.Progress, log)
	}
	if strings.Contains(f.srv.Stderr(), pusher.Password) || strings.Contains(f.srv.Stderr(), puller.Password) || strings.Contains(log, pusher.Password) {
		t.Error("a registry password appears in the server log or the build log")
	}
}

func (f *buildFlow) aciPolicy(t *testing.T) {
	ctx := t.Context()
	acct := f.acct.AccountID
	a, err := f.admin.c.CreateApp(ctx, acct, apiv1.CreateAppRequest{Name: "web-aci", Type: "aci", InputImageName: f.in + "/team/app"})
	if err != nil {
		t.Fatal(err)
	}
	img, err := f.admin.c.CreateImage(ctx, acct, a.AppID, apiv1.CreateImageRequest{Tag: "1.0",
		Credentials: &apiv1.RegistryCredentials{Username: puller.Username, Password: puller.Password}})
	if err != nil {
		t.Fatal(err)
	}
	got := f.wait(t, f.admin.c, img.ImageID, "ready", "failed")
	if got.Status != "ready" {
		t.Fatalf("image %s: %s", got.Status, got.Error)
	}
	rego, err := f.admin.c.GetImagePolicy(ctx, acct, img.ImageID, "rego")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(rego)
	if got.Measurements["policy_sha256"] != hex.EncodeToString(sum[:]) {
		t.Errorf("policy_sha256 %v is not the SHA-256 of the downloaded policy", got.Measurements["policy_sha256"])
	}
	if !bytes.Contains(rego, []byte(f.in+"/team/app:1.0")) || !bytes.Contains(rego, []byte("CCM_SERVER_URL="+f.srv.URL)) {
		t.Errorf("the policy does not name the image or the server:\n%s", rego)
	}
	arm, err := f.admin.c.GetImagePolicy(ctx, acct, img.ImageID, "")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(arm, []byte("Microsoft.ContainerInstance/containerGroups")) || !bytes.Contains(arm, []byte(base64.StdEncoding.EncodeToString(rego))) ||
		bytes.Contains(arm, []byte(puller.Password)) {
		t.Errorf("ARM template:\n%s", arm)
	}
}

func (f *buildFlow) cliWait(t *testing.T) {
	c := newCLI(t)
	c.ok(t, f.admin.Password+"\n", nil, "login", "--server", f.srv.URL, "--fingerprint", f.srv.Fingerprint, "--email", f.admin.Email, "--password-stdin")
	c.ok(t, "", nil, "account", "use", f.acct.Name)
	r := c.ok(t, puller.Password+"\n", nil, "image", "create", "--app", "web-aci", "--tag", "2.0", "--username", puller.Username, "--password-stdin", "--wait")
	for _, want := range []string{"pulling " + f.in + "/team/app:2.0", "policy written", "is ready; its approval task is"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("ccm image create --wait printed no %q:\n%s", want, r.Stdout)
		}
	}
	if f.failed == "" {
		t.Skip("no failed build to wait for")
	}
	r = c.run(t, "", nil, "image", "wait", f.failed)
	if r.Code != 1 || !strings.Contains(r.Stderr, "no-such-tag") || !strings.Contains(r.Stdout, "build failed") {
		t.Errorf("ccm image wait on a failed build: exit %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
	}
	if strings.Contains(c.allOutput(), puller.Password) {
		t.Error("the CLI printed the registry password")
	}
}

func (f *buildFlow) console(t *testing.T) {
	browsertest.ChromiumPath(t)
	ctx := t.Context()
	apps, err := f.admin.c.ListApps(ctx, f.acct.AccountID, "aci", client.ListOptions{})
	if err != nil || len(apps.Items) != 1 {
		t.Fatalf("aci apps %+v, %v", apps, err)
	}
	appID := apps.Items[0].AppID
	b := browsertest.New(t, f.srv.URL, 1280, 900)
	b.Login(f.admin.Email, f.admin.Password)
	b.Open("/apps/" + appID + "/images/new")
	b.SubmitTo("add the image", "form button[type=submit].primary", "/apps/"+appID,
		chromedp.SendKeys(chromedp.CSS("#tag"), "3.0"),
		chromedp.SetValue(chromedp.CSS("#registry_id"), f.registry.RegistryID))
	imgs, err := f.admin.c.ListAppImages(ctx, f.acct.AccountID, appID, client.ImageListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var id string
	for _, img := range imgs.Items {
		if img.Version == "3.0" {
			id = img.ImageID
		}
	}
	if id == "" {
		t.Fatalf("no image 3.0 after the form: %+v", imgs.Items)
	}
	b.Open("/images/" + id)
	// The page polls while the build runs: wait for it to show the outcome.
	deadline := time.Now().Add(buildTimeout)
	for {
		status := b.Text("#image-detail dl.facts dd .badge")
		if status == "ready" {
			break
		}
		if status == "failed" || time.Now().After(deadline) {
			t.Fatalf("the image page shows %q:\n%s", status, b.Text("#image-detail"))
		}
		time.Sleep(500 * time.Millisecond)
	}
	if text := b.Text("#image-detail"); !strings.Contains(text, "policy written") || !strings.Contains(text, "Policy SHA-256") && !strings.Contains(text, "policy") {
		t.Errorf("the image page after the build:\n%s", text)
	}
	b.Doc("image-built")
}

func (f *buildFlow) missingTag(t *testing.T) {
	img := f.wait(t, f.admin.c, f.create(t, "no-such-tag", "x-nitro").ImageID, "ready", "failed")
	if img.Status != "failed" || !strings.Contains(img.Error, f.in+"/team/app:no-such-tag") {
		t.Fatalf("image %s: %q; want failed naming the input image", img.Status, img.Error)
	}
	f.failed = img.ImageID
	b, err := f.admin.c.GetImageBuild(t.Context(), f.acct.AccountID, img.ImageID)
	if err != nil || b.Status != "failed" || b.Attempts != 1 {
		t.Fatalf("build %+v, %v; want failed after one attempt (a 404 is not retried)", b, err)
	}
}

func (f *buildFlow) killedMidBuild(t *testing.T) {
	ctx := t.Context()
	f.gate.close()
	img := f.create(t, "2.0", "2.0-nitro")
	select {
	case <-f.gate.waiting:
	case <-time.After(buildTimeout):
		t.Fatalf("the build never reached the input registry\nserver log:\n%s", f.srv.Stderr())
	}
	b, err := f.admin.c.GetImageBuild(ctx, f.acct.AccountID, img.ImageID)
	if err != nil || b.Status != "running" {
		t.Fatalf("build %+v, %v; want running", b, err)
	}
	f.srv.Kill(t)
	f.gate.release()

	f.srv = startServerOwned(t, f.t, f.dataDir, f.db, f.serverFlags()...)
	f.api = newAPI(t, f.srv, f.rec)
	f.login(t, f.admin)
	got := f.wait(t, f.admin.c, img.ImageID, "ready", "failed")
	if got.Status != "ready" {
		t.Fatalf("image %s after the restart: %s", got.Status, got.Error)
	}
	b, err = f.admin.c.GetImageBuild(ctx, f.acct.AccountID, img.ImageID)
	if err != nil || b.Status != "succeeded" || b.Attempts != 2 {
		t.Fatalf("build %+v, %v; want succeeded at the second attempt\nserver log:\n%s", b, err, f.srv.Stderr())
	}

	// Exactly one of each effect: one approval task, one build.succeed event.
	tasks, err := client.ListAll(ctx, func(ctx context.Context, o client.ListOptions) (*apiv1.List[apiv1.Task], error) {
		return f.admin.c.ListTasks(ctx, f.acct.AccountID, client.TaskListOptions{ListOptions: o, Kind: "image_approval"})
	})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, task := range tasks {
		if task.Subject.ID == img.ImageID {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d approval tasks for the image, want 1", n)
	}
	events, err := f.admin.c.ListAudit(ctx, f.acct.AccountID, client.AuditListOptions{SubjectID: img.ImageID, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, e := range events.Items {
		count[e.Action]++
	}
	if count["build.succeed"] != 1 || count["build.start"] != 2 || count["build.fail"] != 0 {
		t.Errorf("audit actions of the image: %v; want two starts and one success", count)
	}
}
