package convert

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/openccm/openccm/internal/app"
	"github.com/openccm/openccm/internal/build"
	"github.com/openccm/openccm/internal/build/buildtest"
	"github.com/openccm/openccm/internal/core"
	"github.com/openccm/openccm/internal/enclaveos/eif"
	"github.com/openccm/openccm/internal/enclaveos/manifest"
	"github.com/openccm/openccm/internal/enclaveos/rootfs"
	"github.com/openccm/openccm/internal/oci"
	"github.com/openccm/openccm/internal/oci/ocitest"
	"github.com/openccm/openccm/internal/registry"
	"github.com/openccm/openccm/internal/store"
	"github.com/openccm/openccm/pkg/apiv1"
)

var (
	userIn  = oci.Credentials{Username: "puller", Password: "pull-secret"}
	userOut = oci.Credentials{Username: "pusher", Password: "push-secret"}
	blobs   = &Blobs{Kernel: []byte("KERNEL bzImage"), Cmdline: []byte("reboot=k panic=30 pci=off"), Init: []byte("INIT"), NSM: []byte("NSM.KO")}
)

func inputImage(t testing.TB) v1.Image {
	t.Helper()
	return ocitest.Image(t, v1.Config{Entrypoint: []string{"/bin/app"}, Cmd: []string{"serve"}, Env: []string{"PATH=/bin"}},
		ocitest.Layer(t, "bin/", "", "bin/app", "#!app v1", "etc/", "", "etc/app.conf", "port=80"),
		ocitest.Layer(t, "etc/app.conf", "port=8080"))
}

type env struct {
	svc            *core.Services
	oci            *oci.Client
	acct, app, img string
	in, out        string // registry hosts
	builder        *Builder
}

// newEnv serves an input and an output registry with different users, saves
// the input registry in an account and creates an enclave_os image that
// pulls with the saved registry and pushes with inline credentials.
func newEnv(t testing.TB, wrapIn func(http.Handler) http.Handler) *env {
	return newEnvTag(t, wrapIn, "1.0")
}

func newEnvTag(t testing.TB, wrapIn func(http.Handler) http.Handler, inputTag string) *env {
	t.Helper()
	ctx := context.Background()
	be := buildtest.New(t)
	svc := be.Svc
	e := &env{svc: svc, oci: oci.New(oci.Config{Insecure: true}), acct: be.AccountID}
	e.in = ocitest.Serve(t, map[string]string{userIn.Username: userIn.Password}, wrapIn)
	e.out = ocitest.NewRegistry(t, map[string]string{userOut.Username: userOut.Password})
	if _, err := e.oci.Push(ctx, e.in+"/team/app:1.0", inputImage(t), userIn); err != nil {
		t.Fatal(err)
	}
	url, user, pass := e.in, userIn.Username, userIn.Password
	reg, err := svc.Registries.Create(ctx, e.acct, registry.Input{URL: &url, Username: &user, Password: &pass})
	if err != nil {
		t.Fatal(err)
	}
	name, typ, in, out := "web", "enclave_os", e.in+"/team/app", e.out+"/team/app-nitro"
	ap, err := svc.Apps.Create(ctx, e.acct, be.UserID, app.Input{Name: &name, Type: &typ, InputImageName: &in, OutputImageName: &out})
	if err != nil {
		t.Fatal(err)
	}
	e.app = ap.ID
	mem, cpus := 512, 1
	img, err := svc.Images.Create(ctx, e.acct, ap.ID, be.UserID, apiv1.CreateImageRequest{InputTag: inputTag, OutputTag: "1.0-nitro",
		InputRegistryID: &reg.ID, MemoryMiB: &mem, CPUCount: &cpus,
		OutputCredentials: &apiv1.RegistryCredentials{Username: userOut.Username, Password: userOut.Password}})
	if err != nil {
		t.Fatal(err)
	}
	e.img = img.ID
	e.builder = e.newBuilder(t, blobs)
	return e
}

func (e *env) newBuilder(t testing.TB, bl *Blobs) *Builder {
	t.Helper()
	b, err := New(Config{OCI: e.oci, Images: e.svc.Images, CA: e.svc.CA, Blobs: bl, Binary: []byte("\x7fELF fake ccm binary"),
		ServerURL: "https://ccm.example.com:8443"})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (e *env) run(t *testing.T) (*store.Image, *store.Job) {
	t.Helper()
	be := &buildtest.Env{Svc: e.svc, AccountID: e.acct}
	return be.Run(t, e.builder, e.img)
}

func TestBuildConvertsAndPushes(t *testing.T) {
	e := newEnv(t, nil)
	img, j := e.run(t)
	if img.Status != store.ImageReady || j.Status != store.JobSucceeded {
		t.Fatalf("image %s (%s), job %s: %s", img.Status, img.Error, j.Status, strings.Join(j.Log, "\n"))
	}
	if img.TaskID == "" || !strings.HasPrefix(img.OutputDigest, "sha256:") {
		t.Fatalf("image %+v", img)
	}

	out, err := e.oci.Pull(context.Background(), e.out+"/team/app-nitro:1.0-nitro", userOut)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := out.Digest(); d.String() != img.OutputDigest {
		t.Fatalf("pushed digest %s, image records %s", d, img.OutputDigest)
	}
	cf, err := out.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cf.Config.Entrypoint, " "); got != "/opt/ccm/ccm enclave run" {
		t.Fatalf("entrypoint %q", got)
	}
	if cf.Config.Labels["org.openccm.enclave.pcr0"] != img.Measurements.PCR0 || cf.OS != "linux" || cf.Architecture != "amd64" {
		t.Fatalf("config %+v", cf)
	}
	fs := ocitest.Files(t, out)
	if string(fs[manifest.BinaryPath]) != "\x7fELF fake ccm binary" {
		t.Fatal("the output image has no ccm binary")
	}

	// The EIF measures to the image's PCRs.
	eifData := fs[manifest.EIFPath]
	d, err := eif.Describe(bytes.NewReader(eifData), int64(len(eifData)))
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string][48]byte{"pcr0": d.PCRs.PCR0, "pcr1": d.PCRs.PCR1, "pcr2": d.PCRs.PCR2} {
		want := map[string]string{"pcr0": img.Measurements.PCR0, "pcr1": img.Measurements.PCR1, "pcr2": img.Measurements.PCR2}[name]
		if hex.EncodeToString(got[:]) != want {
			t.Errorf("EIF %s = %x, image has %s", name, got, want)
		}
	}
	// PCR1 is the kernel, its command line and the bootstrap ramdisk only.
	var boot bytes.Buffer
	if err := rootfs.Bootstrap(&boot, blobs.Init, blobs.NSM); err != nil {
		t.Fatal(err)
	}
	p := eif.Measure(eif.Input{Kernel: blobs.Kernel, Cmdline: blobs.Cmdline, Ramdisks: [][]byte{boot.Bytes()}})
	if hex.EncodeToString(p.PCR1[:]) != img.Measurements.PCR1 {
		t.Error("PCR1 does not depend on the kernel, cmdline and bootstrap ramdisk alone")
	}
	if d.DefaultMem != 512<<20 || d.DefaultCPUs != 1 {
		t.Errorf("EIF defaults %d bytes, %d CPUs", d.DefaultMem, d.DefaultCPUs)
	}

	var m manifest.Manifest
	if err := json.Unmarshal(fs[manifest.Path], &m); err != nil {
		t.Fatal(err)
	}
	if m.Version != 1 || m.EIF != manifest.EIFPath || m.MemoryMiB != 512 || m.CPUCount != 1 || m.AccountID != e.acct ||
		m.AppID != e.app || m.ImageID != e.img || m.ServerURL != "https://ccm.example.com:8443" ||
		!strings.Contains(m.CACertificate, "BEGIN CERTIFICATE") || m.Measurements["pcr2"] != img.Measurements.PCR2 || !m.FilePersistence {
		t.Fatalf("manifest %+v", m)
	}
	if !strings.Contains(strings.Join(j.Log, "\n"), "root filesystem: ") {
		t.Errorf("log has no root filesystem line:\n%s", strings.Join(j.Log, "\n"))
	}
}

type steps []string

func (s *steps) Step(_ int, format string, args ...any) {
	*s = append(*s, fmt.Sprintf(format, args...))
}

func TestBuildIsReproducible(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	img, _ := e.svc.Store.GetImage(ctx, e.acct, e.img)
	ap, _ := e.svc.Store.GetApp(ctx, e.acct, e.app)
	var s steps
	a, err := e.builder.Build(ctx, nil, img, ap, &s)
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.builder.Build(ctx, nil, img, ap, &s)
	if err != nil {
		t.Fatal(err)
	}
	if a.Measurements.PCR0 == "" || !reflect.DeepEqual(a.Measurements, b.Measurements) || a.OutputDigest != b.OutputDigest {
		t.Fatalf("two builds differ:\n%+v\n%+v", a, b)
	}
}

func TestTheEnclaveRunsTheImageCommandThroughTheAgent(t *testing.T) {
	w, err := wrap(inputImage(t), []byte("BIN"), []byte("CA PEM"))
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := w.ConfigFile()
	if got := strings.Join(cf.Config.Entrypoint, " "); got != "/opt/ccm/ccm enclave agent --ca-file /opt/ccm/account-ca.pem -- /bin/app serve" || len(cf.Config.Cmd) != 0 {
		t.Fatalf("entrypoint %q cmd %q", got, cf.Config.Cmd)
	}
	if fs := ocitest.Files(t, w); string(fs["/opt/ccm/ccm"]) != "BIN" || string(fs["/opt/ccm/account-ca.pem"]) != "CA PEM" || string(fs["/etc/app.conf"]) != "port=8080" {
		t.Fatalf("files %v", fs)
	}
	noCmd, _ := mutate.Config(empty.Image, v1.Config{})
	if _, err := wrap(noCmd, []byte("BIN"), nil); !build.IsPermanent(err) || !strings.Contains(err.Error(), "neither an entrypoint nor a cmd") {
		t.Fatalf("wrap without a command: %v", err)
	}
}

func TestFailedBuildsSayWhy(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tag    string
		change func(t *testing.T, e *env)
		want   string
	}{
		{"no blobs", "1.0", func(t *testing.T, e *env) { e.builder = e.newBuilder(t, nil) }, "--nitro-blobs"},
		{"saved registry password wrong", "1.0", func(t *testing.T, e *env) {
			ctx := context.Background()
			img, _ := e.svc.Store.GetImage(ctx, e.acct, e.img)
			pw := "changed"
			if _, err := e.svc.Registries.Update(ctx, e.acct, img.Settings.InputRegistryID, registry.Input{Password: &pw}); err != nil {
				t.Fatal(err)
			}
		}, "/team/app:1.0"},
		{"input tag missing", "9.9", func(*testing.T, *env) {}, "/team/app:9.9"},
		{"saved registry deleted", "1.0", func(t *testing.T, e *env) {
			ctx := context.Background()
			img, _ := e.svc.Store.GetImage(ctx, e.acct, e.img)
			if err := e.svc.Registries.Delete(ctx, e.acct, img.Settings.InputRegistryID); err != nil {
				t.Fatal(err)
			}
		}, "input_registry_id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnvTag(t, nil, tc.tag)
			tc.change(t, e)
			img, j := e.run(t)
			if img.Status != store.ImageFailed || j.Status != store.JobFailed || !strings.Contains(img.Error, tc.want) {
				t.Fatalf("image %s %q, job %s", img.Status, img.Error, j.Status)
			}
		})
	}
}

func TestTransientRegistryErrorsAreRetried(t *testing.T) {
	var fail atomic.Bool
	fail.Store(true)
	e := newEnv(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if fail.Load() && strings.Contains(r.URL.Path, "/manifests/") && r.Method == http.MethodGet {
				http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	img, j := e.run(t)
	if img.Status != store.ImageBuilding || j.Status != store.JobQueued || !strings.Contains(j.Error, "503") {
		t.Fatalf("image %s, job %s %q", img.Status, j.Status, j.Error)
	}
}

func TestTheOutputImageBuildsOnTheBaseImage(t *testing.T) {
	e := newEnv(t, nil)
	base, err := mutate.AppendLayers(empty.Image, ocitest.Layer(t, "usr/", "", "usr/bin/", "", "usr/bin/nitro-cli", "#!nitro-cli"))
	if err != nil {
		t.Fatal(err)
	}
	// The base sits on the private output registry: the output credentials pull it.
	if _, err := e.oci.Push(context.Background(), e.out+"/base/nitro:1", base, userOut); err != nil {
		t.Fatal(err)
	}
	e.builder.c.BaseImage = e.out + "/base/nitro:1"
	img, _ := e.run(t)
	if img.Status != store.ImageReady {
		t.Fatalf("image %s: %s", img.Status, img.Error)
	}
	out, err := e.oci.Pull(context.Background(), e.out+"/team/app-nitro:1.0-nitro", userOut)
	if err != nil {
		t.Fatal(err)
	}
	fs := ocitest.Files(t, out)
	if string(fs["/usr/bin/nitro-cli"]) != "#!nitro-cli" || fs[manifest.EIFPath] == nil {
		t.Fatal("the output image lacks the base's files or the EIF")
	}
}
