// Package aci writes what an Azure Confidential Container Instances
// deployment of an app needs: the confidential computing enforcement (CCE)
// policy, byte for byte as az confcom acipolicygen 1.4.3 would write it for
// the same container group, and an ARM template that carries the policy.
// The SHA-256 of the policy is the host_data the group's SEV-SNP reports
// carry, which is how attestation finds the image.
//
// Generate reads the images (layer hashes and configuration) and builds the
// policy model; Render turns a model into Rego and is pure.
package aci

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/openccm/openccm/internal/errs"
)

// Paths shared by the agent and the app container.
const (
	// RunDir is where the shared emptyDir volume is mounted in both
	// containers. The agent writes its certificate there.
	RunDir = "/run/ccm"
	// ReadyFile is the file the agent creates once it holds its certificate.
	ReadyFile = RunDir + "/ready"
	// WaitBinary is the static ccm binary the agent copies into RunDir for
	// the app container's wait wrapper.
	WaitBinary = RunDir + "/bin/ccm"
	// AgentBinary is the ccm binary in the agent image.
	AgentBinary = "/opt/ccm/ccm"
	// volumeName is the name of the shared emptyDir volume.
	volumeName = "ccm"
)

// Defaults for the optional Input fields.
const (
	// DefaultAppName is the app container's name.
	DefaultAppName = "app"
	// DefaultAgentName is the agent container's name.
	DefaultAgentName = "ccm-agent"
	// DefaultAgentCPU is the agent's CPU request, in cores.
	DefaultAgentCPU = 0.5
	// DefaultAgentMemoryGB is the agent's memory request, in GB.
	DefaultAgentMemoryGB = 0.5
)

// AgentCommand returns the argv the agent container starts with:
// AgentBinary agent aci, then args.
func AgentCommand(args ...string) []string {
	return append([]string{AgentBinary, "agent", "aci"}, args...)
}

// WaitCommand returns the argv that runs argv once the agent's ready file
// exists.
func WaitCommand(argv []string) []string {
	return append([]string{WaitBinary, "wait", "--file", ReadyFile, "--"}, argv...)
}

// Input describes one container group: the app container, the attestation
// agent sidecar and the group's resources.
type Input struct {
	// Name is the container group name (lower-case letters, digits and
	// hyphens, at most 63).
	Name string
	// Location is the default value of the template's location parameter;
	// empty means the resource group's location.
	Location string
	// CPU is the number of cores the app container requests (at least 1).
	CPU int
	// MemoryGB is the memory the app container requests, in GB (more than 0).
	MemoryGB float64
	// App is the workload.
	App App
	// Agent is the attestation agent sidecar.
	Agent Agent
	// WaitForNodeRegistration wraps the app's command in
	// WaitCommand, so the app starts only once the agent is ready.
	WaitForNodeRegistration bool
	// RegistryCredentials are the registries the template logs in to. Their
	// passwords are secureString template parameters.
	RegistryCredentials []RegistryCredential
	// DisableStdio denies every container access to stdio, as
	// az confcom --disable-stdio. The default, as in az confcom, allows it.
	DisableStdio bool
	// InfrastructureSVN is the minimum SVN of Microsoft's infrastructure
	// fragment; empty means InfrastructureSVN ("4").
	InfrastructureSVN string
}

// App is the workload container. Its command, environment, working
// directory, user and stop signal come from the image configuration, the
// way az confcom reads them. It mounts the shared volume at RunDir
// read-only: it can read the agent's certificate and run WaitBinary, not
// replace them.
type App struct {
	// Name is the container name; empty means DefaultAppName.
	Name string
	// ImageRef is the image reference as it appears in the template and in
	// the policy, such as "myreg.azurecr.io/app:1.4".
	ImageRef string
	// Image is the image ImageRef names (linux/amd64).
	Image v1.Image
	// Env are environment variables set in the template, in addition to
	// the image's (they win on a name clash).
	Env []EnvVar
}

// Agent is the attestation agent sidecar. It starts with
// AgentCommand(Args...) and mounts the shared volume at RunDir read-write.
//
// It needs no policy entry beyond that of any container: on confidential
// ACI the guest agent always gives containers the SEV-SNP device
// (/dev/sev-guest, or /dev/sev on 5.x kernels) and, after the policy is
// enforced, the security context directory named by
// UVM_SECURITY_CONTEXT_DIR (host AMD certificate, reference info, policy).
// Microsoft's own attestation sidecars are deployed with no security
// context and no extra mounts, and az confcom writes none.
type Agent struct {
	// Name is the container name; empty means DefaultAgentName.
	Name string
	// ImageRef is the agent image reference as it appears in the template.
	ImageRef string
	// Image is the image ImageRef names (linux/amd64).
	Image v1.Image
	// Args are appended to the agent's fixed command.
	Args []string
	// Env are environment variables set in the template, fixed in the
	// policy as exact values.
	Env []EnvVar
	// CPU is the agent's CPU request in cores; zero means DefaultAgentCPU.
	// It comes on top of Input.CPU.
	CPU float64
	// MemoryGB is the agent's memory request in GB; zero means
	// DefaultAgentMemoryGB. It comes on top of Input.MemoryGB.
	MemoryGB float64
}

// RegistryCredential is a registry the container group pulls from with a
// user name. The password is never part of the input: the template asks
// for it as a secureString parameter.
type RegistryCredential struct {
	// Server is the registry host, such as "myreg.azurecr.io".
	Server string
	// Username is the user name the group logs in with.
	Username string
}

// Result is what Generate writes.
type Result struct {
	// Policy is the Rego text of the CCE policy.
	Policy []byte
	// PolicySHA256 is the lower-case hex SHA-256 of Policy: the container
	// group's SEV-SNP host_data.
	PolicySHA256 string
	// ARMTemplate is the deployment template (indented JSON) with the
	// policy in confidentialComputeProperties.ccePolicy.
	ARMTemplate []byte
	// Model is the policy Policy renders.
	Model Policy
}

// Generate hashes the layers of both images, builds the policy as az
// confcom acipolicygen 1.4.3 does for the equivalent ARM template, renders
// it and writes the template. Layers are streamed one at a time, and
// ctx is honoured between layers and while reading them. An invalid input is
// an errs.Invalid error listing every problem.
func Generate(ctx context.Context, in Input) (*Result, error) {
	in = withDefaults(in)
	if err := validate(in); err != nil {
		return nil, err
	}
	appCfg, err := imageConfig("app", in.App.Image)
	if err != nil {
		return nil, err
	}
	agentCfg, err := imageConfig("agent", in.Agent.Image)
	if err != nil {
		return nil, err
	}

	hasher := newLayerHasher()
	appLayers, err := hasher.imageLayers(ctx, "app", in.App.Image, appCfg.RootFS.DiffIDs)
	if err != nil {
		return nil, err
	}
	agentLayers, err := hasher.imageLayers(ctx, "agent", in.Agent.Image, agentCfg.RootFS.DiffIDs)
	if err != nil {
		return nil, err
	}

	var appCommand []string
	if in.WaitForNodeRegistration {
		argv := startCommand(nil, appCfg.Config)
		if len(argv) == 0 {
			return nil, errs.Invalidf("app.image", "the image has neither Entrypoint nor Cmd, so there is no command to run after node registration")
		}
		appCommand = WaitCommand(argv)
	}
	app, err := UserContainer(ContainerSpec{
		ID:      in.App.ImageRef,
		Name:    in.App.Name,
		Layers:  appLayers,
		Command: appCommand,
		Env:     in.App.Env,
		Mounts:  []VolumeMount{{Type: MountEmptyDir, Path: RunDir, ReadOnly: true}},
		Config:  appCfg.Config,
	})
	if err != nil {
		return nil, errs.Wrap(errs.Invalid, err, "the app image configuration cannot be expressed in a policy")
	}
	agent, err := UserContainer(ContainerSpec{
		ID:      in.Agent.ImageRef,
		Name:    in.Agent.Name,
		Layers:  agentLayers,
		Command: AgentCommand(in.Agent.Args...),
		Env:     in.Agent.Env,
		Mounts:  []VolumeMount{{Type: MountEmptyDir, Path: RunDir}},
		Config:  agentCfg.Config,
	})
	if err != nil {
		return nil, errs.Wrap(errs.Invalid, err, "the agent image configuration cannot be expressed in a policy")
	}

	model := NewPolicy(in.InfrastructureSVN, app, agent)
	if in.DisableStdio {
		model.DisableStdio()
	}
	policy, err := Render(model)
	if err != nil {
		return nil, errs.Wrap(errs.Invalid, err, "the policy cannot be written")
	}
	sum := sha256.Sum256(policy)
	tmpl, err := armTemplate(in, appCommand, policy)
	if err != nil {
		return nil, err
	}
	return &Result{
		Policy:       policy,
		PolicySHA256: hex.EncodeToString(sum[:]),
		ARMTemplate:  tmpl,
		Model:        model,
	}, nil
}

func withDefaults(in Input) Input {
	if in.App.Name == "" {
		in.App.Name = DefaultAppName
	}
	if in.Agent.Name == "" {
		in.Agent.Name = DefaultAgentName
	}
	if in.Agent.CPU == 0 {
		in.Agent.CPU = DefaultAgentCPU
	}
	if in.Agent.MemoryGB == 0 {
		in.Agent.MemoryGB = DefaultAgentMemoryGB
	}
	if in.InfrastructureSVN == "" {
		in.InfrastructureSVN = InfrastructureSVN
	}
	return in
}

var (
	resourceName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	envName      = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)
	digits       = regexp.MustCompile(`^[0-9]+$`)
)

// sidecarImages are the images az confcom treats as Microsoft sidecars
// (no default mounts or environment rules; a group of only sidecars gets a
// different policy). Neither container may be one of them.
var sidecarImages = []string{
	"mcr.microsoft.com/aci/msi-atlas-adapter",
	"mcr.microsoft.com/aci/atlas-mount-azure-file-volume",
	"mcr.microsoft.com/aci/atlas-mount-secrets-volume",
	"mcr.microsoft.com/aci/atlas-netstats",
	"mcr.microsoft.com/aci/atlas-mount-resolv-conf",
	"mcr.microsoft.com/aci/atlas-mount-gitrepo-volume",
	"k8s.gcr.io/pause",
	"mcr.microsoft.com/aci/sc-proxy",
	"mcr.microsoft.com/aci/vk-metrics-sidecar",
	"mcr.microsoft.com/aci/configmaps-adapter-linux",
}

// validate reports every problem with in at once.
func validate(in Input) error {
	var problems []error
	bad := func(field, format string, args ...any) {
		problems = append(problems, errs.Invalidf(field, format, args...))
	}
	if !resourceName.MatchString(in.Name) {
		bad("name", "must be 1 to 63 lower-case letters, digits and hyphens, not starting or ending with a hyphen")
	}
	if in.CPU < 1 {
		bad("cpu", "must be at least 1")
	}
	if !(in.MemoryGB > 0) {
		bad("memory_gb", "must be more than 0")
	}
	if !(in.Agent.CPU > 0) {
		bad("agent.cpu", "must be more than 0")
	}
	if !(in.Agent.MemoryGB > 0) {
		bad("agent.memory_gb", "must be more than 0")
	}
	if !digits.MatchString(in.InfrastructureSVN) {
		bad("infrastructure_svn", "must be a decimal number")
	}
	for _, c := range []struct {
		field, name, ref string
		image            v1.Image
		env              []EnvVar
	}{
		{"app", in.App.Name, in.App.ImageRef, in.App.Image, in.App.Env},
		{"agent", in.Agent.Name, in.Agent.ImageRef, in.Agent.Image, in.Agent.Env},
	} {
		if !resourceName.MatchString(c.name) {
			bad(c.field+".name", "must be 1 to 63 lower-case letters, digits and hyphens, not starting or ending with a hyphen")
		}
		if c.ref == "" || strings.ContainsAny(c.ref, " \t\r\n") {
			bad(c.field+".image_ref", "must be an image reference")
		} else {
			base, _, _ := strings.Cut(c.ref, ":")
			if slices.Contains(sidecarImages, base) {
				bad(c.field+".image_ref", "must not be one of the Microsoft sidecar images")
			}
		}
		if c.image == nil {
			bad(c.field+".image", "is required")
		}
		seen := map[string]bool{}
		for _, e := range c.env {
			if !envName.MatchString(e.Name) {
				bad(c.field+".env", "%q is not an environment variable name", e.Name)
			} else if seen[e.Name] {
				bad(c.field+".env", "%s is set twice", e.Name)
			}
			seen[e.Name] = true
		}
	}
	if in.App.Name == in.Agent.Name {
		bad("agent.name", "must differ from the app container's name")
	}
	servers := map[string]bool{}
	for i, rc := range in.RegistryCredentials {
		field := fmt.Sprintf("registry_credentials[%d]", i)
		if rc.Server == "" || strings.ContainsAny(rc.Server, "/ \t\r\n") {
			bad(field+".server", "must be a registry host name")
		} else if servers[rc.Server] {
			bad(field+".server", "%s is listed twice", rc.Server)
		}
		servers[rc.Server] = true
		if rc.Username == "" {
			bad(field+".username", "is required")
		}
	}
	return errors.Join(problems...)
}

// imageConfig returns img's configuration, which must be for linux/amd64:
// confidential ACI runs nothing else, and az confcom refuses other
// architectures.
func imageConfig(what string, img v1.Image) (*v1.ConfigFile, error) {
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("aci: reading the %s image configuration: %w", what, err)
	}
	if cfg.Architecture == "" {
		return nil, errs.Invalidf(what+".image", "names no architecture in its configuration; confidential ACI runs linux/amd64 images only")
	}
	if cfg.Architecture != "amd64" || (cfg.OS != "" && cfg.OS != "linux") {
		return nil, errs.Invalidf(what+".image", "is for %s/%s; confidential ACI runs linux/amd64 images only", cfg.OS, cfg.Architecture)
	}
	return cfg, nil
}
