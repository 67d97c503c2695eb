package builder

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/openccm/openccm/internal/aci/agent"
	"github.com/openccm/openccm/internal/app"
	"github.com/openccm/openccm/internal/build/buildtest"
	"github.com/openccm/openccm/internal/oci"
	"github.com/openccm/openccm/internal/oci/ocitest"
	"github.com/openccm/openccm/internal/store"
	"github.com/openccm/openccm/pkg/apiv1"
)

var owner = oci.Credentials{Username: "owner", Password: "owner-secret-password"}

type env struct {
	*buildtest.Env
	host, img string
	b         *Builder
}

// newEnv serves a registry with a private app image and a public agent
// image, and creates an aci image with inline credentials.
func newEnv(t *testing.T, agentImage string) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{Env: buildtest.New(t)}
	e.host = ocitest.NewRegistry(t, map[string]string{owner.Username: owner.Password})
	c := oci.New(oci.Config{})
	if _, err := c.Push(ctx, e.host+"/team/web:1.4", ocitest.Image(t, v1.Config{Entrypoint: []string{"/bin/web"}, Env: []string{"PATH=/bin"}}, ocitest.Layer(t, "bin/web", "#!web")), owner); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Push(ctx, e.host+"/public/ccm-agent:1", ocitest.Image(t, v1.Config{}, ocitest.Layer(t, "opt/ccm/ccm", "\x7fELF agent")), owner); err != nil {
		t.Fatal(err)
	}
	name, typ, in := "Web Shop", "aci", e.host+"/team/web"
	ap, err := e.Svc.Apps.Create(ctx, e.AccountID, e.UserID, app.Input{Name: &name, Type: &typ, InputImageName: &in})
	if err != nil {
		t.Fatal(err)
	}
	img, err := e.Svc.Images.Create(ctx, e.AccountID, ap.ID, e.UserID, apiv1.CreateImageRequest{Tag: "1.4",
		Credentials: &apiv1.RegistryCredentials{Username: owner.Username, Password: owner.Password}})
	if err != nil {
		t.Fatal(err)
	}
	e.img = img.ID
	if agentImage != "" {
		agentImage = e.host + agentImage
	}
	e.b, err = New(Config{OCI: c, Images: e.Svc.Images, CA: e.Svc.CA, AgentImage: agentImage, ServerURL: "https://ccm.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestBuildWritesPolicyAndTemplate(t *testing.T) {
	e := newEnv(t, "/public/ccm-agent:1")
	img, j := e.Run(t, e.b, e.img)
	if img.Status != store.ImageReady || j.Status != store.JobSucceeded {
		t.Fatalf("image %s %q, job %s:\n%s", img.Status, img.Error, j.Status, strings.Join(j.Log, "\n"))
	}
	ctx := context.Background()
	policy, _, err := e.Svc.Images.Policy(ctx, e.AccountID, e.img, "rego")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(policy)
	if img.Measurements.PolicySHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("policy_sha256 %s is not the SHA-256 of the policy", img.Measurements.PolicySHA256)
	}
	for _, want := range []string{e.host + "/team/web:1.4", e.host + "/public/ccm-agent:1", `"/run/ccm/bin/ccm","wait"`, agent.EnvAccountID + "=" + e.AccountID, "https://ccm.example.com"} {
		if !bytes.Contains(policy, []byte(want)) {
			t.Errorf("the policy lacks %q", want)
		}
	}
	tmpl, _, err := e.Svc.Images.Policy(ctx, e.AccountID, e.img, "")
	if err != nil {
		t.Fatal(err)
	}
	var arm struct {
		Resources []struct {
			Name       string `json:"name"`
			Properties struct {
				Credentials []struct {
					Server, Username, Password string
				} `json:"imageRegistryCredentials"`
				CCE struct {
					Policy string `json:"ccePolicy"`
				} `json:"confidentialComputeProperties"`
			} `json:"properties"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(tmpl, &arm); err != nil || len(arm.Resources) != 1 {
		t.Fatalf("template: %v\n%s", err, tmpl)
	}
	r := arm.Resources[0]
	if dec, _ := base64.StdEncoding.DecodeString(r.Properties.CCE.Policy); !bytes.Equal(dec, policy) {
		t.Error("the template's ccePolicy is not the policy")
	}
	if len(r.Properties.Credentials) != 1 || r.Properties.Credentials[0].Server != e.host || r.Properties.Credentials[0].Username != owner.Username {
		t.Errorf("imageRegistryCredentials %+v", r.Properties.Credentials)
	}
	if bytes.Contains(tmpl, []byte(owner.Password)) || strings.Contains(strings.Join(j.Log, "\n"), owner.Password) {
		t.Error("the registry password is in the template or the build log")
	}
	if !strings.Contains(string(tmpl), `"web-shop"`) {
		t.Error("the container group is not named after the app")
	}
}

func TestFailedBuildsSayWhy(t *testing.T) {
	for _, tc := range []struct{ name, agent, want string }{
		{"no agent image", "", "--agent-image"},
		{"agent image missing", "/public/ccm-agent:404", "agent image"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.agent)
			img, j := e.Run(t, e.b, e.img)
			if img.Status != store.ImageFailed || j.Status != store.JobFailed || !strings.Contains(img.Error, tc.want) {
				t.Fatalf("image %s %q, job %s", img.Status, img.Error, j.Status)
			}
		})
	}
}

func TestKeyOwner(t *testing.T) {
	for user, want := range map[string]string{"": "", "root": "", "0:0": "", "1000": "--key-owner 1000", "1000:1001": "--key-owner 1000:1001", "nginx": ""} {
		args, note := keyOwnerArgs(ocitest.Image(t, v1.Config{User: user}))
		if got := strings.Join(args, " "); got != want {
			t.Errorf("user %q: args %q, want %q", user, got, want)
		}
		if user == "nginx" && !strings.Contains(note, "numeric UID") {
			t.Errorf("user nginx: note %q", note)
		}
	}
}

func TestGroupName(t *testing.T) {
	for in, want := range map[string]string{"Web Shop": "web-shop", "--x--": "x", "": "ccm-app", "ünïcode": "n-code",
		strings.Repeat("a", 62) + "-b": strings.Repeat("a", 62)} {
		if got := groupName(in); got != want {
			t.Errorf("groupName(%q) = %q, want %q", in, got, want)
		}
	}
}
