package aci

import (
	"errors"
	"fmt"
	"strings"
)

// frameworkRules are the rules every az confcom policy delegates to the
// framework, in the order of its data/customer_rego_policy.txt.
var frameworkRules = []string{
	"mount_device",
	"unmount_device",
	"mount_overlay",
	"unmount_overlay",
	"create_container",
	"exec_in_container",
	"exec_external",
	"shutdown_container",
	"signal_container_process",
	"plan9_mount",
	"plan9_unmount",
	"get_properties",
	"dump_stacks",
	"runtime_logging",
	"load_fragment",
	"scratch_mount",
	"scratch_unmount",
}

// Render writes p as the Rego text az confcom acipolicygen 1.4.3 puts
// (base64-encoded) into an ARM template's ccePolicy: the same bytes, with
// no trailing newline. It fails only for strings that are not valid UTF-8
// and for a policy without versions.
func Render(p Policy) ([]byte, error) {
	if p.APIVersion == "" || p.FrameworkVersion == "" {
		return nil, errors.New("aci: policy needs an api_version and a framework_version")
	}
	apiVersion, err := pyCompact(p.APIVersion)
	if err != nil {
		return nil, fmt.Errorf("aci: rendering api_version: %w", err)
	}
	frameworkVersion, err := pyCompact(p.FrameworkVersion)
	if err != nil {
		return nil, fmt.Errorf("aci: rendering framework_version: %w", err)
	}
	fragments := make([]any, len(p.Fragments))
	for i, f := range p.Fragments {
		fragments[i] = map[string]any{
			"feed":        f.Feed,
			"includes":    nonNil(f.Includes),
			"issuer":      f.Issuer,
			"minimum_svn": f.MinimumSVN,
		}
	}
	fragmentsText, err := pyIndented(fragments)
	if err != nil {
		return nil, fmt.Errorf("aci: rendering fragments: %w", err)
	}
	containers := make([]any, len(p.Containers))
	for i, c := range p.Containers {
		containers[i] = containerValue(c)
	}
	containersText, err := pyCompact(containers)
	if err != nil {
		return nil, fmt.Errorf("aci: rendering containers: %w", err)
	}

	var b strings.Builder
	b.WriteString("package policy\n\nimport future.keywords.every\nimport future.keywords.in\n\n")
	fmt.Fprintf(&b, "api_version := %s\nframework_version := %s\n\n", apiVersion, frameworkVersion)
	fmt.Fprintf(&b, "fragments := %s\n\ncontainers := %s\n\n", fragmentsText, containersText)
	for _, a := range []struct {
		name  string
		value bool
	}{
		{"allow_properties_access", p.AllowPropertiesAccess},
		{"allow_dump_stacks", p.AllowDumpStacks},
		{"allow_runtime_logging", p.AllowRuntimeLogging},
		{"allow_environment_variable_dropping", p.AllowEnvironmentVariableDropping},
		{"allow_unencrypted_scratch", p.AllowUnencryptedScratch},
		{"allow_capability_dropping", p.AllowCapabilityDropping},
	} {
		fmt.Fprintf(&b, "%s := %t\n", a.name, a.value)
	}
	b.WriteByte('\n')
	for _, r := range frameworkRules {
		fmt.Fprintf(&b, "%s := data.framework.%s\n", r, r)
	}
	b.WriteString("\nreason := {\"errors\": data.framework.errors}")
	return []byte(b.String()), nil
}

// containerValue is c as the dictionary az confcom serialises.
func containerValue(c Container) map[string]any {
	env := make([]any, len(c.EnvRules))
	for i, r := range c.EnvRules {
		env[i] = map[string]any{"pattern": r.Pattern, "required": r.Required, "strategy": r.Strategy}
	}
	mounts := make([]any, len(c.Mounts))
	for i, m := range c.Mounts {
		mounts[i] = map[string]any{
			"destination": m.Destination,
			"options":     nonNil(m.Options),
			"source":      m.Source,
			"type":        m.Type,
		}
	}
	execs := make([]any, len(c.ExecProcesses))
	for i, x := range c.ExecProcesses {
		execs[i] = map[string]any{"command": nonNil(x.Command), "signals": nonNilInts(x.Signals)}
	}
	groups := make([]any, len(c.User.GroupIDNames))
	for i, g := range c.User.GroupIDNames {
		groups[i] = idNameValue(g)
	}
	v := map[string]any{
		"allow_elevated":     c.AllowElevated,
		"allow_stdio_access": c.AllowStdioAccess,
		"capabilities": map[string]any{
			"ambient":     nonNil(c.Capabilities.Ambient),
			"bounding":    nonNil(c.Capabilities.Bounding),
			"effective":   nonNil(c.Capabilities.Effective),
			"inheritable": nonNil(c.Capabilities.Inheritable),
			"permitted":   nonNil(c.Capabilities.Permitted),
		},
		"command":                c.Command,
		"env_rules":              env,
		"exec_processes":         execs,
		"layers":                 nonNil(c.Layers),
		"mounts":                 mounts,
		"name":                   c.Name,
		"no_new_privileges":      c.NoNewPrivileges,
		"seccomp_profile_sha256": c.SeccompProfileSHA256,
		"signals":                nonNilInts(c.Signals),
		"user": map[string]any{
			"group_idnames": groups,
			"umask":         c.User.Umask,
			"user_idname":   idNameValue(c.User.UserIDName),
		},
		"working_dir": c.WorkingDir,
	}
	if c.ID != "" {
		v["id"] = c.ID
	}
	return v
}

func idNameValue(n IDName) map[string]any {
	return map[string]any{"pattern": n.Pattern, "strategy": n.Strategy}
}

// nonNil returns s, or an empty list for nil: only a container's command
// may be null in a policy.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nonNilInts(s []int) []int {
	if s == nil {
		return []int{}
	}
	return s
}
