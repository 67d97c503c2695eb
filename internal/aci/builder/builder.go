// Package builder runs the build job of ACI images: it pulls the app's
// image and the attestation agent's image, generates the container group's
// confidential-computing enforcement policy and ARM template (package aci),
// and records the policy's SHA-256 as the image's measurement.
package builder

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/openccm/openccm/internal/aci"
	"github.com/openccm/openccm/internal/aci/agent"
	"github.com/openccm/openccm/internal/build"
	"github.com/openccm/openccm/internal/ca"
	"github.com/openccm/openccm/internal/image"
	"github.com/openccm/openccm/internal/oci"
	"github.com/openccm/openccm/internal/registry"
	"github.com/openccm/openccm/internal/store"
)

// Config configures a Builder.
type Config struct {
	OCI    *oci.Client
	Images *image.Service
	CA     *ca.Service
	// AgentImage names the attestation agent's image (the ccm binary at
	// aci.AgentBinary); empty makes every build fail with an error that
	// says how to configure it. It is pulled anonymously.
	AgentImage string
	// ServerURL is where the agent attests, and ServerCA the PEM it trusts
	// for the server's TLS (empty: the system roots).
	ServerURL string
	ServerCA  string
}

// Builder generates ACI policies; it implements build.Builder.
type Builder struct {
	c Config
}

// New returns a Builder.
func New(c Config) (*Builder, error) {
	if c.OCI == nil || c.Images == nil || c.CA == nil {
		return nil, errors.New("aci builder: OCI, Images and CA are required")
	}
	return &Builder{c: c}, nil
}

// Kind is the job kind the Builder builds.
func (b *Builder) Kind() string { return store.JobACIPolicy }

// Build generates the policy and template of img.
func (b *Builder) Build(ctx context.Context, _ *store.Job, img *store.Image, app *store.App, p build.Progress) (image.BuildResult, error) {
	if b.c.AgentImage == "" {
		return image.BuildResult{}, build.Permanent(errors.New("the server has no agent image for ACI container groups: start it with --agent-image REF (an image with the ccm binary at /opt/ccm/ccm)"))
	}
	pull, _, err := b.c.Images.BuildCredentials(ctx, img)
	if err != nil {
		return image.BuildResult{}, build.Classify(err)
	}
	ref := app.InputImageName + ":" + img.Settings.Tag
	p.Step(5, "pulling %s", ref)
	appImg, err := b.c.OCI.Pull(ctx, ref, oci.Credentials(pull))
	if err != nil {
		return image.BuildResult{}, build.Classify(err)
	}
	p.Step(10, "pulling the agent image %s", b.c.AgentImage)
	agentImg, err := b.c.OCI.Pull(ctx, b.c.AgentImage, oci.Credentials{})
	if err != nil {
		return image.BuildResult{}, build.Classify(fmt.Errorf("the server's agent image: %w", err))
	}
	caCert, err := b.c.CA.Certificate(ctx, img.AccountID)
	if err != nil {
		return image.BuildResult{}, err
	}

	env := []aci.EnvVar{
		{Name: agent.EnvServerURL, Value: b.c.ServerURL},
		{Name: agent.EnvAccountID, Value: img.AccountID},
		{Name: agent.EnvAppID, Value: app.ID},
		{Name: agent.EnvAccountCA, Value: ca.PEM(caCert)},
	}
	if b.c.ServerCA != "" {
		env = append(env, aci.EnvVar{Name: agent.EnvServerCA, Value: b.c.ServerCA})
	}
	args, note := keyOwnerArgs(appImg)
	if note != "" {
		p.Step(12, "%s", note)
	}
	in := aci.Input{
		Name: groupName(app.Name), CPU: img.Settings.CPUCount, MemoryGB: img.Settings.MemoryGB,
		App:                     aci.App{ImageRef: ref, Image: appImg},
		Agent:                   aci.Agent{ImageRef: b.c.AgentImage, Image: agentImg, Env: env, Args: args},
		WaitForNodeRegistration: img.Settings.WaitForNodeRegistration == nil || *img.Settings.WaitForNodeRegistration,
	}
	if pull.Username != "" {
		host, err := registry.HostOf(app.InputImageName)
		if err != nil {
			return image.BuildResult{}, build.Classify(err)
		}
		in.RegistryCredentials = []aci.RegistryCredential{{Server: host, Username: pull.Username}}
	}
	n, size := layerStats(appImg)
	p.Step(15, "computing the dm-verity root hashes of the app's layers (%d, %s compressed) and the agent's", n, build.Size(size))
	res, err := aci.Generate(ctx, in)
	if err != nil {
		return image.BuildResult{}, build.Classify(err)
	}
	p.Step(95, "policy written: %d bytes, SHA-256 %s", len(res.Policy), res.PolicySHA256)
	return image.BuildResult{
		Measurements: store.Measurements{PolicySHA256: res.PolicySHA256},
		Artifacts:    map[string][]byte{store.ArtifactCCEPolicy: res.Policy, store.ArtifactARMTemplate: res.ARMTemplate},
	}, nil
}

var numericUser = regexp.MustCompile(`^[0-9]+(:[0-9]+)?$`)

// keyOwnerArgs gives the agent's --key-owner for an app image that runs as
// a numeric non-root user, so that user can read its key. A named user is
// not resolved: the note says what to do.
func keyOwnerArgs(img v1.Image) (args []string, note string) {
	cf, err := img.ConfigFile()
	if err != nil || cf == nil {
		return nil, ""
	}
	u := cf.Config.User
	switch {
	case u == "" || u == "0" || u == "root" || strings.HasPrefix(u, "0:") || strings.HasPrefix(u, "root:"):
		return nil, ""
	case numericUser.MatchString(u):
		return []string{"--key-owner", u}, fmt.Sprintf("the app runs as user %s: the agent gives it the key file", u)
	default:
		return nil, fmt.Sprintf("the app runs as user %q, not a numeric UID: only root can read the key file; set USER to a numeric UID[:GID] in the image to give it the key", u)
	}
}

var notName = regexp.MustCompile(`[^a-z0-9-]+`)

// groupName turns an app name into a container group name: lower-case
// letters, digits and hyphens, at most 63, no hyphen at either end.
func groupName(app string) string {
	s := strings.Trim(notName.ReplaceAllString(strings.ToLower(app), "-"), "-")
	if len(s) > 63 {
		s = strings.TrimRight(s[:63], "-")
	}
	if s == "" {
		return "ccm-app"
	}
	return s
}

func layerStats(img v1.Image) (int, int64) {
	m, err := img.Manifest()
	if err != nil {
		return 0, 0
	}
	var size int64
	for _, l := range m.Layers {
		size += l.Size
	}
	return len(m.Layers), size
}
