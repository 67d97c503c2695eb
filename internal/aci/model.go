package aci

// The policy model mirrors, field for field, the Rego data that
// az confcom acipolicygen 1.4.3 writes. JSON tags give each field's name in
// the policy; Render writes the fields in sorted key order as az confcom
// does, so the order of the struct fields does not matter.

// Policy is a complete CCE policy for one container group.
type Policy struct {
	// APIVersion is the policy's api_version ("0.10.0" in az confcom 1.4.3).
	APIVersion string `json:"api_version"`
	// FrameworkVersion is the policy's framework_version ("0.2.3").
	FrameworkVersion string `json:"framework_version"`
	// Fragments are the fragments the policy imports; az confcom always
	// imports Microsoft's infrastructure fragment unless told not to.
	Fragments []Fragment `json:"fragments"`
	// Containers are the containers the group may run, in template order,
	// followed by the pause container.
	Containers []Container `json:"containers"`

	// AllowPropertiesAccess lets the host read container properties
	// (statistics).
	AllowPropertiesAccess bool `json:"allow_properties_access"`
	// AllowDumpStacks lets the host dump the guest's stacks (debug mode).
	AllowDumpStacks bool `json:"allow_dump_stacks"`
	// AllowRuntimeLogging lets the guest runtime log to the host (debug
	// mode).
	AllowRuntimeLogging bool `json:"allow_runtime_logging"`
	// AllowEnvironmentVariableDropping lets the guest drop variables the
	// env rules do not allow instead of refusing the container.
	AllowEnvironmentVariableDropping bool `json:"allow_environment_variable_dropping"`
	// AllowUnencryptedScratch allows an unencrypted scratch disk.
	AllowUnencryptedScratch bool `json:"allow_unencrypted_scratch"`
	// AllowCapabilityDropping lets the guest drop capabilities the policy
	// does not allow instead of refusing the container.
	AllowCapabilityDropping bool `json:"allow_capability_dropping"`
}

// Fragment is an imported policy fragment: a signed Rego module published
// in a registry (feed) by an issuer (a did:x509 identifier), accepted from
// a minimum security version number on.
type Fragment struct {
	// Feed is the fragment's registry repository.
	Feed string `json:"feed"`
	// Includes are the parts of the fragment the policy uses ("containers",
	// "fragments", …).
	Includes []string `json:"includes"`
	// Issuer is the did:x509 identity that must have signed the fragment.
	Issuer string `json:"issuer"`
	// MinimumSVN is the lowest accepted security version number, a decimal
	// string.
	MinimumSVN string `json:"minimum_svn"`
}

// Container is the policy entry of one container.
type Container struct {
	// ID is the image reference as written in the template; the pause
	// container has none and the key is then left out.
	ID string `json:"id,omitempty"`
	// Name is the container's name in the template.
	Name string `json:"name"`
	// Layers are the dm-verity root hashes of the image layers (hex), bottom
	// layer first.
	Layers []string `json:"layers"`
	// Command is the argv the container must start with. A nil Command is
	// written as null, as az confcom does for an image without Entrypoint
	// and Cmd; an empty non-nil one as [].
	Command []string `json:"command"`
	// EnvRules are the environment variables the container may have.
	EnvRules []EnvRule `json:"env_rules"`
	// WorkingDir is the directory the container starts in.
	WorkingDir string `json:"working_dir"`
	// Mounts are the mounts the container may have.
	Mounts []Mount `json:"mounts"`
	// ExecProcesses are the processes that may be started in the running
	// container.
	ExecProcesses []ExecProcess `json:"exec_processes"`
	// Signals are the signals that may be sent to the container's init
	// process.
	Signals []int `json:"signals"`
	// User is the user and groups the container may run as.
	User User `json:"user"`
	// Capabilities are the container's capability sets.
	Capabilities Capabilities `json:"capabilities"`
	// SeccompProfileSHA256 is the hash of the required seccomp profile, or
	// empty for none.
	SeccompProfileSHA256 string `json:"seccomp_profile_sha256"`
	// AllowElevated allows a privileged container.
	AllowElevated bool `json:"allow_elevated"`
	// AllowStdioAccess lets the host attach to the container's stdio (and
	// so read its logs).
	AllowStdioAccess bool `json:"allow_stdio_access"`
	// NoNewPrivileges requires the no_new_privileges flag.
	NoNewPrivileges bool `json:"no_new_privileges"`
}

// EnvRule allows environment variables matching Pattern ("NAME=value"),
// compared as a plain string or as an RE2 expression (Strategy "string" or
// "re2"). A Required variable must be present.
type EnvRule struct {
	// Pattern is "NAME=value", the value (or all of it) possibly an RE2
	// expression.
	Pattern string `json:"pattern"`
	// Required makes the variable mandatory.
	Required bool `json:"required"`
	// Strategy is "string" or "re2".
	Strategy string `json:"strategy"`
}

// Mount is a mount the container may have.
type Mount struct {
	// Destination is the path in the container.
	Destination string `json:"destination"`
	// Options are the mount options ("rbind", "rshared", "rw" or "ro").
	Options []string `json:"options"`
	// Source is an RE2 expression for the host-side source.
	Source string `json:"source"`
	// Type is the mount type ("bind").
	Type string `json:"type"`
}

// ExecProcess is a process that may be started in the running container
// (exec probes).
type ExecProcess struct {
	// Command is the process's argv.
	Command []string `json:"command"`
	// Signals are the signals that may be sent to it.
	Signals []int `json:"signals"`
}

// User constrains the user and groups the container runs as.
type User struct {
	// GroupIDNames match the groups.
	GroupIDNames []IDName `json:"group_idnames"`
	// Umask is the required umask, in octal.
	Umask string `json:"umask"`
	// UserIDName matches the user.
	UserIDName IDName `json:"user_idname"`
}

// IDName matches a user or group by Pattern with Strategy "any", "id" or
// "name".
type IDName struct {
	// Pattern is the id or name; empty with Strategy "any".
	Pattern string `json:"pattern"`
	// Strategy is "any", "id" or "name".
	Strategy string `json:"strategy"`
}

// Capabilities are the Linux capability sets the container may have.
type Capabilities struct {
	// Ambient is the ambient set.
	Ambient []string `json:"ambient"`
	// Bounding is the bounding set.
	Bounding []string `json:"bounding"`
	// Effective is the effective set.
	Effective []string `json:"effective"`
	// Inheritable is the inheritable set.
	Inheritable []string `json:"inheritable"`
	// Permitted is the permitted set.
	Permitted []string `json:"permitted"`
}

// Values that az confcom 1.4.3 writes into every policy (its
// data/internal_config.json and data/customer_rego_policy.txt).
const (
	// ConfcomVersion is the az confcom release whose output this package
	// reproduces.
	ConfcomVersion = "1.4.3"
	// APIVersion is the api_version az confcom writes.
	APIVersion = "0.10.0"
	// FrameworkVersion is the framework_version az confcom writes.
	FrameworkVersion = "0.2.3"
	// InfrastructureFeed is the feed of Microsoft's ACI infrastructure
	// fragment.
	InfrastructureFeed = "mcr.microsoft.com/aci/aci-cc-infra-fragment"
	// InfrastructureIssuer is the issuer of the infrastructure fragment.
	InfrastructureIssuer = "did:x509:0:sha256:I__iuL25oXEVFdTP_aBLx_eT1RPHbCQ_ECBQfYZpt9s::eku:1.3.6.1.4.1.311.76.59.1.3"
	// InfrastructureSVN is the infrastructure fragment's minimum SVN az
	// confcom writes unless told otherwise.
	InfrastructureSVN = "4"
)

// NewPolicy returns a policy with az confcom's defaults (not debug mode),
// importing the infrastructure fragment at minimum SVN svn, and the given
// containers followed by the pause container.
func NewPolicy(svn string, containers ...Container) Policy {
	cs := make([]Container, 0, len(containers)+1)
	cs = append(cs, containers...)
	cs = append(cs, PauseContainer())
	return Policy{
		APIVersion:       APIVersion,
		FrameworkVersion: FrameworkVersion,
		Fragments: []Fragment{{
			Feed:       InfrastructureFeed,
			Includes:   []string{"containers", "fragments"},
			Issuer:     InfrastructureIssuer,
			MinimumSVN: svn,
		}},
		Containers:                       cs,
		AllowPropertiesAccess:            true,
		AllowEnvironmentVariableDropping: true,
		AllowCapabilityDropping:          true,
	}
}

// DisableStdio denies every container, the pause container included,
// access to standard input and output, as az confcom --disable-stdio does.
func (p *Policy) DisableStdio() {
	for i := range p.Containers {
		p.Containers[i].AllowStdioAccess = false
	}
}

// unprivilegedCapabilities is az confcom's default_unprivileged_capabilities
// in its configured order, which only the pause container keeps; user
// containers get them sorted.
var unprivilegedCapabilities = []string{
	"CAP_CHOWN",
	"CAP_DAC_OVERRIDE",
	"CAP_FSETID",
	"CAP_FOWNER",
	"CAP_MKNOD",
	"CAP_NET_RAW",
	"CAP_SETGID",
	"CAP_SETUID",
	"CAP_SETFCAP",
	"CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT",
	"CAP_KILL",
	"CAP_AUDIT_WRITE",
}

// PauseContainer returns the entry az confcom adds to every container group
// for the infrastructure's pause container.
func PauseContainer() Container {
	caps := func() []string { return append([]string(nil), unprivilegedCapabilities...) }
	return Container{
		Name:    "pause-container",
		Command: []string{"/pause"},
		EnvRules: []EnvRule{
			{Pattern: "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", Strategy: "string", Required: true},
			{Pattern: "TERM=xterm", Strategy: "string"},
		},
		Layers:        []string{"16b514057a06ad665f92c02863aca074fd5976c755d26bff16365299169e8415"},
		Mounts:        []Mount{},
		ExecProcesses: []ExecProcess{},
		Signals:       []int{},
		WorkingDir:    "/",
		User:          defaultUser(),
		Capabilities: Capabilities{
			Ambient:     []string{},
			Bounding:    caps(),
			Effective:   caps(),
			Inheritable: []string{},
			Permitted:   caps(),
		},
		AllowStdioAccess: true,
	}
}

func defaultUser() User {
	return User{
		GroupIDNames: []IDName{{Pattern: "", Strategy: "any"}},
		Umask:        "0022",
		UserIDName:   IDName{Pattern: "", Strategy: "any"},
	}
}
