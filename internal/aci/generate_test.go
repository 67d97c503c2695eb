package aci

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/Microsoft/hcsshim/ext4/tar2ext4"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/openccm/openccm/internal/errs"
)

// tarLayer is an uncompressed layer holding files (path → content), written
// in sorted path order so the bytes are reproducible.
func tarLayer(t testing.TB, files map[string][]byte) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(files[name])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(files[name]); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return static.NewLayer(buf.Bytes(), types.OCIUncompressedLayer)
}

// testImage is a linux/amd64 image with cfg and layers.
func testImage(t testing.TB, cfg v1.Config, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{Architecture: "amd64", OS: "linux", Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	img, err = mutate.AppendLayers(img, layers...)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func randomLayer(t testing.TB) v1.Layer {
	t.Helper()
	l, err := random.Layer(4096, types.DockerLayer)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func testInput(t testing.TB) Input {
	t.Helper()
	base := tarLayer(t, map[string][]byte{"etc/os-release": []byte("ID=test\n")})
	return Input{
		Name:     "shop-api",
		CPU:      2,
		MemoryGB: 1.5,
		App: App{
			ImageRef: "myreg.azurecr.io/app:1.4",
			Image: testImage(t, v1.Config{
				Entrypoint: []string{"/app/server"},
				Cmd:        []string{"--port", "8080"},
				Env:        []string{"PATH=/usr/bin:/bin", "APP_MODE=prod"},
				WorkingDir: "/srv",
			}, base, tarLayer(t, map[string][]byte{"app/server": []byte("#!/bin/sh\n")})),
		},
		Agent: Agent{
			ImageRef: "myreg.azurecr.io/ccm-agent:0.9",
			Image:    testImage(t, v1.Config{Env: []string{"PATH=/usr/bin:/bin"}}, base, tarLayer(t, map[string][]byte{"opt/ccm/ccm": []byte("ccm")})),
		},
		WaitForNodeRegistration: true,
		RegistryCredentials:     []RegistryCredential{{Server: "myreg.azurecr.io", Username: "puller"}},
	}
}

func generate(t *testing.T, in Input) *Result {
	t.Helper()
	res, err := Generate(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func container(t *testing.T, p Policy, name string) Container {
	t.Helper()
	for _, c := range p.Containers {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no container %q in the policy", name)
	return Container{}
}

func TestGenerateLayerHashesAreTar2ext4RootDigests(t *testing.T) {
	in := testInput(t)
	layers := []v1.Layer{randomLayer(t), randomLayer(t), randomLayer(t)}
	in.App.Image = testImage(t, v1.Config{Cmd: []string{"/bin/app"}}, layers...)
	var want []string
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		h, err := tar2ext4.ConvertAndComputeRootDigest(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, h)
	}

	res := generate(t, in)
	if got := container(t, res.Model, DefaultAppName).Layers; !slices.Equal(got, want) {
		t.Errorf("layers = %q, want %q (bottom first)", got, want)
	}
	for _, h := range want {
		if !bytes.Contains(res.Policy, []byte(`"`+h+`"`)) {
			t.Errorf("policy lacks layer hash %s", h)
		}
	}
}

func TestGenerateWaitForNodeRegistration(t *testing.T) {
	tests := []struct {
		name      string
		wait      bool
		wantApp   []string
		wantInARM bool
	}{
		{
			name:      "waiting wraps the image's entrypoint and cmd",
			wait:      true,
			wantApp:   []string{"/run/ccm/bin/ccm", "wait", "--file", "/run/ccm/ready", "--", "/app/server", "--port", "8080"},
			wantInARM: true,
		},
		{
			name:    "not waiting keeps the image's command and sets none in the template",
			wait:    false,
			wantApp: []string{"/app/server", "--port", "8080"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := testInput(t)
			in.WaitForNodeRegistration = tc.wait
			res := generate(t, in)
			if got := container(t, res.Model, DefaultAppName).Command; !slices.Equal(got, tc.wantApp) {
				t.Errorf("policy command = %q, want %q", got, tc.wantApp)
			}
			app := armContainers(t, res.ARMTemplate)[DefaultAppName]
			var armCommand []string
			if raw, ok := app["command"]; ok {
				if err := json.Unmarshal(raw, &armCommand); err != nil {
					t.Fatal(err)
				}
			}
			if tc.wantInARM && !slices.Equal(armCommand, tc.wantApp) {
				t.Errorf("template command = %q, want %q", armCommand, tc.wantApp)
			}
			if !tc.wantInARM && armCommand != nil {
				t.Errorf("template sets command %q; ACI would then not run the image's", armCommand)
			}
		})
	}
}

func TestGenerateRefusesToWaitWithoutACommand(t *testing.T) {
	in := testInput(t)
	in.App.Image = testImage(t, v1.Config{}, randomLayer(t))
	_, err := Generate(context.Background(), in)
	if !errs.Is(errs.Invalid, err) {
		t.Fatalf("err = %v, want an Invalid error", err)
	}
}

func TestGenerateTakesEnvAndWorkingDirFromTheImage(t *testing.T) {
	in := testInput(t)
	in.App.Env = []EnvVar{{Name: "APP_MODE", Value: "staging"}}
	res := generate(t, in)
	app := container(t, res.Model, DefaultAppName)
	if app.WorkingDir != "/srv" {
		t.Errorf("working_dir = %q, want /srv", app.WorkingDir)
	}
	var patterns []string
	for _, r := range app.EnvRules[:3] {
		patterns = append(patterns, r.Pattern)
	}
	if want := []string{"APP_MODE=staging", "PATH=/usr/bin:/bin", "TERM=xterm"}; !slices.Equal(patterns, want) {
		t.Errorf("first env rules = %q, want %q", patterns, want)
	}
	agent := container(t, res.Model, DefaultAgentName)
	if agent.WorkingDir != "/" {
		t.Errorf("agent working_dir = %q, want / for an image without one", agent.WorkingDir)
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	in := testInput(t)
	a := generate(t, in)
	b := generate(t, in)
	if !bytes.Equal(a.Policy, b.Policy) || !bytes.Equal(a.ARMTemplate, b.ARMTemplate) || a.PolicySHA256 != b.PolicySHA256 {
		t.Error("the same input gave different output")
	}
}

func TestGenerateAddsTheAgentAndTheSharedVolume(t *testing.T) {
	in := testInput(t)
	in.Agent.Args = []string{"--verbose"}
	res := generate(t, in)

	names := make([]string, len(res.Model.Containers))
	for i, c := range res.Model.Containers {
		names[i] = c.Name
	}
	if want := []string{DefaultAppName, DefaultAgentName, "pause-container"}; !slices.Equal(names, want) {
		t.Fatalf("containers = %q, want %q", names, want)
	}
	agent := container(t, res.Model, DefaultAgentName)
	if want := []string{"/opt/ccm/ccm", "agent", "aci", "--verbose"}; !slices.Equal(agent.Command, want) {
		t.Errorf("agent command = %q, want %q", agent.Command, want)
	}
	if agent.ID != in.Agent.ImageRef {
		t.Errorf("agent id = %q, want %q", agent.ID, in.Agent.ImageRef)
	}
	runMount := func(c Container) Mount {
		for _, m := range c.Mounts {
			if m.Destination == RunDir {
				return m
			}
		}
		t.Fatalf("%s does not mount %s", c.Name, RunDir)
		return Mount{}
	}
	if m := runMount(agent); m.Source != "sandbox:///tmp/atlas/emptydir/.+" || m.Options[2] != "rw" {
		t.Errorf("agent mount = %+v, want a read-write emptyDir", m)
	}
	if m := runMount(container(t, res.Model, DefaultAppName)); m.Source != "sandbox:///tmp/atlas/emptydir/.+" || m.Options[2] != "ro" {
		t.Errorf("app mount = %+v, want a read-only emptyDir", m)
	}
	for _, c := range res.Model.Containers {
		if c.AllowElevated {
			t.Errorf("%s is privileged", c.Name)
		}
	}
}

func TestGeneratePolicySHA256IsTheHashOfThePolicy(t *testing.T) {
	res := generate(t, testInput(t))
	sum := sha256.Sum256(res.Policy)
	if res.PolicySHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("PolicySHA256 = %s, want %x", res.PolicySHA256, sum)
	}
	again, err := Render(res.Model)
	if err != nil || !bytes.Equal(again, res.Policy) {
		t.Error("Policy is not the rendering of Model")
	}
}

// armContainers returns the template's containers' properties by name.
func armContainers(t *testing.T, tmpl []byte) map[string]map[string]json.RawMessage {
	t.Helper()
	var doc struct {
		Resources []struct {
			Properties struct {
				Containers []struct {
					Name       string                     `json:"name"`
					Properties map[string]json.RawMessage `json:"properties"`
				} `json:"containers"`
			} `json:"properties"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(tmpl, &doc); err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]json.RawMessage{}
	for _, c := range doc.Resources[0].Properties.Containers {
		out[c.Name] = c.Properties
	}
	return out
}

func TestGenerateARMTemplate(t *testing.T) {
	in := testInput(t)
	in.RegistryCredentials = append(in.RegistryCredentials, RegistryCredential{Server: "docker.io", Username: "me"})
	in.App.Env = []EnvVar{{Name: "LITERAL", Value: "[not an expression]"}}
	res := generate(t, in)

	var doc struct {
		Parameters map[string]struct {
			Type         string `json:"type"`
			DefaultValue string `json:"defaultValue"`
		} `json:"parameters"`
		Resources []struct {
			Type       string `json:"type"`
			Name       string `json:"name"`
			Location   string `json:"location"`
			Properties struct {
				SKU                           string `json:"sku"`
				OSType                        string `json:"osType"`
				ConfidentialComputeProperties struct {
					CCEPolicy string `json:"ccePolicy"`
				} `json:"confidentialComputeProperties"`
				ImageRegistryCredentials []map[string]string `json:"imageRegistryCredentials"`
				Containers               []struct {
					Name       string `json:"name"`
					Properties struct {
						Image                string `json:"image"`
						EnvironmentVariables []struct {
							Name, Value string
						} `json:"environmentVariables"`
						Resources struct {
							Requests struct {
								CPU        float64 `json:"cpu"`
								MemoryInGB float64 `json:"memoryInGB"`
							} `json:"requests"`
						} `json:"resources"`
					} `json:"properties"`
				} `json:"containers"`
				Volumes []map[string]json.RawMessage `json:"volumes"`
			} `json:"properties"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(res.ARMTemplate, &doc); err != nil {
		t.Fatalf("template is not JSON: %v", err)
	}
	if len(doc.Resources) != 1 {
		t.Fatalf("%d resources, want 1", len(doc.Resources))
	}
	g := doc.Resources[0]
	if g.Type != "Microsoft.ContainerInstance/containerGroups" || g.Name != "shop-api" || g.Location != "[parameters('location')]" {
		t.Errorf("resource = %s %s in %s", g.Type, g.Name, g.Location)
	}
	if p := doc.Parameters["location"]; p.Type != "string" || p.DefaultValue != "[resourceGroup().location]" {
		t.Errorf("location parameter = %+v", p)
	}
	if g.Properties.SKU != "Confidential" || g.Properties.OSType != "Linux" {
		t.Errorf("sku %q osType %q, want Confidential Linux", g.Properties.SKU, g.Properties.OSType)
	}
	if want := base64.StdEncoding.EncodeToString(res.Policy); g.Properties.ConfidentialComputeProperties.CCEPolicy != want {
		t.Error("ccePolicy is not the base64 of the policy")
	}
	cs := g.Properties.Containers
	if len(cs) != 2 || cs[0].Name != DefaultAppName || cs[1].Name != DefaultAgentName {
		t.Fatalf("containers = %+v", cs)
	}
	if r := cs[0].Properties.Resources.Requests; r.CPU != 2 || r.MemoryInGB != 1.5 {
		t.Errorf("app requests = %+v, want cpu 2 memoryInGB 1.5", r)
	}
	if r := cs[1].Properties.Resources.Requests; r.CPU != DefaultAgentCPU || r.MemoryInGB != DefaultAgentMemoryGB {
		t.Errorf("agent requests = %+v", r)
	}
	if cs[0].Properties.Image != in.App.ImageRef || cs[1].Properties.Image != in.Agent.ImageRef {
		t.Errorf("images = %s, %s", cs[0].Properties.Image, cs[1].Properties.Image)
	}
	if env := cs[0].Properties.EnvironmentVariables; len(env) != 1 || env[0].Value != "[[not an expression]" {
		t.Errorf("app environment = %+v, want the bracketed value escaped for ARM", env)
	}
	if !bytes.Contains(res.Policy, []byte(`"pattern":"LITERAL=[not an expression]"`)) {
		t.Error("policy does not allow the literal value ACI will set")
	}
	if len(g.Properties.Volumes) != 1 || string(g.Properties.Volumes[0]["name"]) != `"ccm"` || string(g.Properties.Volumes[0]["emptyDir"]) != "{}" {
		t.Errorf("volumes = %s", g.Properties.Volumes)
	}

	creds := g.Properties.ImageRegistryCredentials
	if len(creds) != 2 {
		t.Fatalf("%d registry credentials, want 2", len(creds))
	}
	for i, c := range creds {
		param := []string{"registryPassword1", "registryPassword2"}[i]
		if c["server"] != in.RegistryCredentials[i].Server || c["username"] != in.RegistryCredentials[i].Username {
			t.Errorf("credential %d = %v", i, c)
		}
		if c["password"] != "[parameters('"+param+"')]" {
			t.Errorf("credential %d password = %q, want a reference to %s", i, c["password"], param)
		}
		if p := doc.Parameters[param]; p.Type != "secureString" || p.DefaultValue != "" {
			t.Errorf("parameter %s = %+v, want a secureString without default", param, p)
		}
	}
	// No password value anywhere: every "password" key holds a parameter
	// reference.
	for _, line := range strings.Split(string(res.ARMTemplate), "\n") {
		if strings.Contains(line, `"password"`) && !strings.Contains(line, `"[parameters('registryPassword`) {
			t.Errorf("template line %q carries a password value", line)
		}
	}
}

func TestGenerateARMTemplateLocation(t *testing.T) {
	in := testInput(t)
	in.Location = "westeurope"
	var doc struct {
		Parameters map[string]struct{ DefaultValue string } `json:"parameters"`
	}
	if err := json.Unmarshal(generate(t, in).ARMTemplate, &doc); err != nil {
		t.Fatal(err)
	}
	if got := doc.Parameters["location"].DefaultValue; got != "westeurope" {
		t.Errorf("location default = %q, want westeurope", got)
	}
}

func TestGenerateNamesTheLayerThatIsNotATar(t *testing.T) {
	in := testInput(t)
	junk := bytes.Repeat([]byte("this is not a tar archive "), 100)
	in.App.Image = testImage(t, v1.Config{Cmd: []string{"/x"}}, randomLayer(t), static.NewLayer(junk, types.OCIUncompressedLayer))
	_, err := Generate(context.Background(), in)
	if err == nil {
		t.Fatal("a layer that is not a tar was accepted")
	}
	if msg := err.Error(); !strings.Contains(msg, "layer 1 ") || !strings.Contains(msg, "app image") {
		t.Errorf("error %q does not name layer 1 of the app image", msg)
	}
}

// countingLayer counts how often its content is read.
type countingLayer struct {
	v1.Layer
	reads *atomic.Int32
}

func (l countingLayer) Uncompressed() (io.ReadCloser, error) {
	l.reads.Add(1)
	return l.Layer.Uncompressed()
}

func TestGenerateHashesALayerSharedByBothImagesOnce(t *testing.T) {
	in := testInput(t)
	var reads atomic.Int32
	shared := countingLayer{Layer: randomLayer(t), reads: &reads}
	in.App.Image = testImage(t, v1.Config{Cmd: []string{"/app"}}, shared)
	in.Agent.Image = testImage(t, v1.Config{}, shared, randomLayer(t))
	res := generate(t, in)
	if n := reads.Load(); n != 1 {
		t.Errorf("shared layer read %d times, want 1", n)
	}
	if container(t, res.Model, DefaultAppName).Layers[0] != container(t, res.Model, DefaultAgentName).Layers[0] {
		t.Error("the shared layer has two hashes")
	}
}

func TestGenerateStopsWhenTheContextIsDone(t *testing.T) {
	in := testInput(t)
	ctx, cancel := context.WithCancel(context.Background())
	var reads atomic.Int32
	in.App.Image = testImage(t, v1.Config{Cmd: []string{"/app"}}, cancelLayer{Layer: randomLayer(t), cancel: cancel, reads: &reads}, countingLayer{Layer: randomLayer(t), reads: &reads})
	_, err := Generate(ctx, in)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if n := reads.Load(); n != 1 {
		t.Errorf("%d layers opened, want only the first", n)
	}
}

// cancelLayer cancels the context when it is opened.
type cancelLayer struct {
	v1.Layer
	cancel context.CancelFunc
	reads  *atomic.Int32
}

func (l cancelLayer) Uncompressed() (io.ReadCloser, error) {
	l.reads.Add(1)
	l.cancel()
	return l.Layer.Uncompressed()
}

func TestGenerateLeavesNoTemporaryFiles(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir)
	generate(t, testInput(t))
	left, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("left behind in TMPDIR: %v", left)
	}
}

func TestGenerateDisableStdio(t *testing.T) {
	in := testInput(t)
	in.DisableStdio = true
	for _, c := range generate(t, in).Model.Containers {
		if c.AllowStdioAccess {
			t.Errorf("%s may use stdio", c.Name)
		}
	}
}

func TestGenerateRejectsInvalidInput(t *testing.T) {
	valid := testInput(t)
	arm := testImage(t, v1.Config{}, randomLayer(t))
	arm, err := mutate.ConfigFile(arm, &v1.ConfigFile{Architecture: "arm64", OS: "linux"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		change func(*Input)
		fields []string
	}{
		{"reports every bad field at once", func(in *Input) {
			in.Name = "Shop_API"
			in.CPU = 0
			in.MemoryGB = 0
			in.App.Image = nil
		}, []string{"name:", "cpu:", "memory_gb:", "app.image:"}},
		{"a credential needs a user name", func(in *Input) {
			in.RegistryCredentials = []RegistryCredential{{Server: "myreg.azurecr.io"}}
		}, []string{"registry_credentials[0].username:"}},
		{"a registry is listed once", func(in *Input) {
			in.RegistryCredentials = append(in.RegistryCredentials, in.RegistryCredentials[0])
		}, []string{"registry_credentials[1].server:"}},
		{"the containers need different names", func(in *Input) {
			in.Agent.Name = DefaultAppName
		}, []string{"agent.name:"}},
		{"a Microsoft sidecar image is not an app", func(in *Input) {
			in.App.ImageRef = "mcr.microsoft.com/aci/msi-atlas-adapter:latest"
		}, []string{"app.image_ref:"}},
		{"an arm64 image cannot run", func(in *Input) {
			in.App.Image = arm
		}, []string{"app.image:"}},
		{"an environment variable needs a name", func(in *Input) {
			in.Agent.Env = []EnvVar{{Name: "", Value: "x"}}
		}, []string{"agent.env:"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := valid
			tc.change(&in)
			_, err := Generate(context.Background(), in)
			if !errs.Is(errs.Invalid, err) {
				t.Fatalf("err = %v, want an Invalid error", err)
			}
			for _, f := range tc.fields {
				if !strings.Contains(err.Error(), f) {
					t.Errorf("error %q does not mention %s", err, f)
				}
			}
		})
	}
}

// randomFilesLayer is a layer of n files of size bytes of random content.
func randomFilesLayer(b *testing.B, rng *rand.ChaCha8, n, size int) (v1.Layer, int64) {
	b.Helper()
	files := map[string][]byte{}
	for i := range n {
		content := make([]byte, size)
		_, _ = rng.Read(content)
		files["data/file"+string(rune('a'+i))] = content
	}
	l := tarLayer(b, files)
	sz, err := l.Size()
	if err != nil {
		b.Fatal(err)
	}
	return l, sz
}

// BenchmarkPolicyPerGiB generates the policy for an app image whose four
// layers hold 64 MiB of random file content. The MB/s figure is the
// throughput of layer hashing (uncompressed tar bytes); 1024 divided by it
// is the seconds per GiB of image.
func BenchmarkPolicyPerGiB(b *testing.B) {
	rng := rand.NewChaCha8([32]byte{1})
	var layers []v1.Layer
	var total int64
	for range 4 {
		l, sz := randomFilesLayer(b, rng, 4, 4<<20)
		layers = append(layers, l)
		total += sz
	}
	in := testInput(b)
	in.App.Image = testImage(b, v1.Config{Cmd: []string{"/app"}}, layers...)
	agentLayer, agentSize := randomFilesLayer(b, rng, 1, 1<<20)
	in.Agent.Image = testImage(b, v1.Config{}, agentLayer)
	b.SetBytes(total + agentSize)
	for b.Loop() {
		if _, err := Generate(context.Background(), in); err != nil {
			b.Fatal(err)
		}
	}
	gib := float64(total+agentSize) / (1 << 30)
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)/gib, "s/GiB")
}
