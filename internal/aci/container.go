package aci

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// EnvVar is an environment variable set in the ARM template.
type EnvVar struct {
	// Name is the variable's name.
	Name string
	// Value is its exact value.
	Value string
}

// Mount types of az confcom's mount source table: the volume kind in the
// ARM template decides the source the policy allows.
const (
	// MountAzureFile is an Azure Files share.
	MountAzureFile = "azureFile"
	// MountSecret is a secret volume.
	MountSecret = "secret"
	// MountEmptyDir is an emptyDir volume shared by the group's containers.
	MountEmptyDir = "emptyDir"
	// MountGitRepo is a gitRepo volume.
	MountGitRepo = "gitRepo"
	// mountResolvConf is the DNS configuration az confcom mounts into every
	// user container.
	mountResolvConf = "resolvconf"
)

var mountSources = map[string]string{
	MountAzureFile:  "sandbox:///tmp/atlas/azureFileVolume/.+",
	MountSecret:     "sandbox:///tmp/atlas/secretsVolume/.+",
	MountEmptyDir:   "sandbox:///tmp/atlas/emptydir/.+",
	mountResolvConf: "sandbox:///tmp/atlas/resolvconf/.+",
	MountGitRepo:    "sandbox:///tmp/atlas/gitRepoVolume/.+",
}

// VolumeMount is a volume mounted into a container, as in the ARM
// template's volumeMounts joined with the kind of the named volume.
type VolumeMount struct {
	// Type is the volume kind: MountEmptyDir, MountAzureFile, MountSecret or
	// MountGitRepo.
	Type string
	// Path is the mount path in the container.
	Path string
	// ReadOnly mounts the volume read-only.
	ReadOnly bool
}

// ContainerSpec is what az confcom reads for one (non-sidecar) container of
// an ARM template, plus the image facts it looks up.
type ContainerSpec struct {
	// ID is the image reference as written in the template.
	ID string
	// Name is the container's name in the template.
	Name string
	// Layers are the layers' dm-verity root hashes, bottom first.
	Layers []string
	// Command is the template's command. Empty means the image's Entrypoint
	// and Cmd.
	Command []string
	// Env are the template's environment variables.
	Env []EnvVar
	// Mounts are the template's volume mounts, in template order.
	Mounts []VolumeMount
	// Config is the image configuration: Entrypoint, Cmd, Env, WorkingDir,
	// User and StopSignal are used.
	Config v1.Config
}

// Environment rules az confcom adds to every user container whose own
// variables do not already name them: OpenGCS (TERM), Service Fabric,
// managed identity and restart, in this order.
var injectedEnvRules = []struct{ name, value, strategy string }{
	{"TERM", "xterm", "string"},
	{"(?i)(FABRIC)_.+", ".+", "re2"},
	{"HOSTNAME", ".+", "re2"},
	{"T(E)?MP", ".+", "re2"},
	{"FabricPackageFileName", ".+", "re2"},
	{"HostedServiceName", ".+", "re2"},
	{"IDENTITY_API_VERSION", ".+", "re2"},
	{"IDENTITY_HEADER", ".+", "re2"},
	{"IDENTITY_SERVER_THUMBPRINT", ".+", "re2"},
	{"azurecontainerinstance_restarted_by", ".+", "re2"},
}

// signalNumbers is az confcom's table of signal names.
var signalNumbers = map[string]int{
	"SIGHUP": 1, "SIGINT": 2, "SIGQUIT": 3, "SIGILL": 4, "SIGTRAP": 5,
	"SIGABRT": 6, "SIGIOT": 6, "SIGBUS": 7, "SIGFPE": 8, "SIGKILL": 9,
	"SIGUSR1": 10, "SIGSEGV": 11, "SIGUSR2": 12, "SIGPIPE": 13, "SIGALRM": 14,
	"SIGTERM": 15, "SIGSTKFLT": 16, "SIGCHLD": 17, "SIGCONT": 18, "SIGSTOP": 19,
	"SIGTSTP": 20, "SIGTTIN": 21, "SIGTTOU": 22, "SIGURG": 23, "SIGXCPU": 24,
	"SIGXFSZ": 25, "SIGVTALRM": 26, "SIGPROF": 27, "SIGWINCH": 28, "SIGIO": 29,
	"SIGPWR": 30, "SIGSYS": 31, "SIGUNUSED": 31,
}

// UserContainer builds the policy entry az confcom 1.4.3 writes for a user
// container of an ARM template (no security context, no probes):
//
//   - command: the template's, else Entrypoint+Cmd (Entrypoint alone, or Cmd
//     alone, or null when the image has neither);
//   - env_rules: the template's variables, then the image's (skipping names
//     the template sets), then the injected rules whose names are not taken;
//     all "string" and not required except the injected re2 ones;
//   - working_dir: the image's, else "/";
//   - mounts: the template's, then /etc/resolv.conf;
//   - signals: the image's StopSignal as a number;
//   - user: the image's User ("uid", "name", "uid:gid", …), else any;
//   - capabilities: the default unprivileged set, sorted.
func UserContainer(s ContainerSpec) (Container, error) {
	c := Container{
		ID:            s.ID,
		Name:          s.Name,
		Layers:        append([]string{}, s.Layers...),
		WorkingDir:    s.Config.WorkingDir,
		ExecProcesses: []ExecProcess{},
		Signals:       []int{},
		User:          defaultUser(),
		Capabilities: Capabilities{
			Ambient:     []string{},
			Bounding:    sortedCapabilities(),
			Effective:   sortedCapabilities(),
			Inheritable: []string{},
			Permitted:   sortedCapabilities(),
		},
		AllowStdioAccess: true,
	}
	if c.WorkingDir == "" {
		c.WorkingDir = "/"
	}

	c.Command = startCommand(s.Command, s.Config)

	// Template variables first; the image's only where the template does
	// not set the name.
	var templateNames []string
	for _, e := range s.Env {
		c.EnvRules = append(c.EnvRules, EnvRule{Pattern: e.Name + "=" + e.Value, Strategy: "string"})
		templateNames = append(templateNames, e.Name)
	}
	for _, kv := range s.Config.Env {
		name, _, ok := strings.Cut(kv, "=")
		if !ok {
			return Container{}, fmt.Errorf("aci: image environment entry %q has no '='", kv)
		}
		if !slices.Contains(templateNames, name) {
			c.EnvRules = append(c.EnvRules, EnvRule{Pattern: kv, Strategy: "string"})
		}
	}
	taken := make([]string, len(c.EnvRules))
	for i, r := range c.EnvRules {
		taken[i], _, _ = strings.Cut(r.Pattern, "=")
	}
	for _, r := range injectedEnvRules {
		if !slices.Contains(taken, r.name) {
			c.EnvRules = append(c.EnvRules, EnvRule{Pattern: r.name + "=" + r.value, Strategy: r.strategy})
		}
	}

	for _, m := range append(slices.Clone(s.Mounts), VolumeMount{Type: mountResolvConf, Path: "/etc/resolv.conf"}) {
		source, ok := mountSources[m.Type]
		if !ok {
			return Container{}, fmt.Errorf("aci: unknown volume type %q for mount %s", m.Type, m.Path)
		}
		access := "rw"
		if m.ReadOnly {
			access = "ro"
		}
		c.Mounts = append(c.Mounts, Mount{
			Destination: m.Path,
			Options:     []string{"rbind", "rshared", access},
			Source:      source,
			Type:        "bind",
		})
	}

	if sig := s.Config.StopSignal; sig != "" {
		n, err := signalNumber(sig)
		if err != nil {
			return Container{}, err
		}
		c.Signals = []int{n}
	}

	if s.Config.User != "" {
		uid, gid, hasGroup := strings.Cut(s.Config.User, ":")
		c.User.UserIDName = IDName{Pattern: uid, Strategy: idStrategy(uid)}
		if hasGroup {
			c.User.GroupIDNames[0] = IDName{Pattern: gid, Strategy: idStrategy(gid)}
		}
	}
	return c, nil
}

// startCommand is az confcom's choice of the argv a container starts with.
func startCommand(template []string, cfg v1.Config) []string {
	switch {
	case len(template) > 0:
		return slices.Clone(template)
	case len(cfg.Entrypoint) > 0 && len(cfg.Cmd) > 0:
		return append(slices.Clone(cfg.Entrypoint), cfg.Cmd...)
	case len(cfg.Entrypoint) > 0:
		return slices.Clone(cfg.Entrypoint)
	default:
		// Cmd as it is: null when absent, [] when empty.
		return slices.Clone(cfg.Cmd)
	}
}

// signalNumber translates a StopSignal. az confcom knows the names in
// signalNumbers (any case) and copies anything else verbatim as a string,
// which the runtime's number comparison can never match; here a decimal
// number is taken as the signal number and anything else is an error.
func signalNumber(sig string) (int, error) {
	if n, ok := signalNumbers[strings.ToUpper(sig)]; ok {
		return n, nil
	}
	if n, err := strconv.Atoi(sig); err == nil && n > 0 && n < 65 {
		return n, nil
	}
	return 0, fmt.Errorf("aci: unsupported image stop signal %q", sig)
}

// idStrategy is "id" for a number (Python's str.isdigit) and "name"
// otherwise.
func idStrategy(s string) string {
	if s == "" {
		return "name"
	}
	for _, r := range s {
		if !unicode.IsDigit(r) {
			return "name"
		}
	}
	return "id"
}

func sortedCapabilities() []string {
	caps := slices.Clone(unprivilegedCapabilities)
	slices.Sort(caps)
	return caps
}
