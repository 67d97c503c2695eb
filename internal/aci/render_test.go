package aci

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// The image every az confcom sample uses, with the facts the golden files
// show (see testdata/SOURCES.md).
const (
	sampleImage = "mcr.microsoft.com/azurelinux/distroless/base@sha256:1e77d97e1e39f22ed9c52f49b3508b4c1044cec23743df9098ac44e025f654f2"
	sampleLayer = "243e1b3ce08093f2f0d9cd6a9eafde8737f64fec105ed59c346d309fbe760b58"
	samplePath  = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

var sampleCommand = []string{"/bin/sh", "-c", "while true; do echo hello; sleep 10; done"}

func sampleSpec(name string) ContainerSpec {
	return ContainerSpec{
		ID:     sampleImage,
		Name:   name,
		Layers: []string{sampleLayer},
		Config: v1.Config{Env: []string{samplePath}},
	}
}

// readGolden returns a golden policy without the three newlines the CLI's
// print adds (testdata/SOURCES.md).
func readGolden(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "confcom-1.4.3", name))
	if err != nil {
		t.Fatal(err)
	}
	policy, ok := bytes.CutSuffix(b, []byte("}\n\n\n"))
	if !ok {
		t.Fatalf("%s does not end with the CLI's print suffix", name)
	}
	return append(policy, '}')
}

func TestRenderMatchesConfcomGolden(t *testing.T) {
	mustContainer := func(t *testing.T, s ContainerSpec) Container {
		t.Helper()
		c, err := UserContainer(s)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	withCommand := func(s ContainerSpec) ContainerSpec { s.Command = sampleCommand; return s }

	tests := []struct {
		name   string
		golden string
		policy func(t *testing.T) Policy
	}{
		{
			name:   "a template command replaces the image's",
			golden: "command__policy.rego",
			policy: func(t *testing.T) Policy {
				return NewPolicy("4", mustContainer(t, withCommand(sampleSpec("container1"))))
			},
		},
		{
			name:   "an image without entrypoint and cmd has a null command",
			golden: "minimal__policy.rego",
			policy: func(t *testing.T) Policy {
				return NewPolicy("4", mustContainer(t, sampleSpec("container1")))
			},
		},
		{
			name:   "template environment variables come before the image's",
			golden: "environment_variables__policy.rego",
			policy: func(t *testing.T) Policy {
				s := sampleSpec("container1")
				s.Env = []EnvVar{{Name: "MY_VAR", Value: "MY_VAL"}}
				return NewPolicy("4", mustContainer(t, s))
			},
		},
		{
			name:   "volume mounts come before resolv.conf",
			golden: "volume_mounts__policy.rego",
			policy: func(t *testing.T) Policy {
				s := sampleSpec("container1")
				s.Mounts = []VolumeMount{{Type: MountAzureFile, Path: "/aci/logs"}}
				return NewPolicy("4", mustContainer(t, s))
			},
		},
		{
			name:   "containers keep template order and the pause container comes last",
			golden: "multi_containers__policy.rego",
			policy: func(t *testing.T) Policy {
				return NewPolicy("4", mustContainer(t, sampleSpec("container1")), mustContainer(t, sampleSpec("container2")))
			},
		},
		{
			// az confcom takes this sample's user from the template's
			// securityContext.runAsUser; an image User of "1234" gives the
			// same entry.
			name:   "a numeric user is matched by id",
			golden: "security_context_run_as_user__policy.rego",
			policy: func(t *testing.T) Policy {
				s := sampleSpec("container1")
				s.Config.User = "1234"
				return NewPolicy("4", mustContainer(t, s))
			},
		},
		{
			name:   "disabling stdio covers the pause container",
			golden: "command__policy_disable_stdio.rego",
			policy: func(t *testing.T) Policy {
				p := NewPolicy("4", mustContainer(t, withCommand(sampleSpec("container1"))))
				p.DisableStdio()
				return p
			},
		},
		{
			name:   "the infrastructure svn is a string",
			golden: "command__policy_infrastructure_svn.rego",
			policy: func(t *testing.T) Policy {
				return NewPolicy("99", mustContainer(t, withCommand(sampleSpec("container1"))))
			},
		},
		{
			name:   "no fragments is an empty list",
			golden: "command__policy_exclude_default_fragment.rego",
			policy: func(t *testing.T) Policy {
				p := NewPolicy("4", mustContainer(t, withCommand(sampleSpec("container1"))))
				p.Fragments = nil
				return p
			},
		},
		{
			name:   "fragments are indented with sorted keys",
			golden: "command__policy_fragment.rego",
			policy: func(t *testing.T) Policy {
				p := NewPolicy("4", mustContainer(t, withCommand(sampleSpec("container1"))))
				p.Fragments = append(p.Fragments, Fragment{
					Feed:       "mcr.microsoft.com/acc/samples/aci/helloworld",
					Includes:   []string{"containers", "fragments"},
					Issuer:     "did:x509:0:sha256:8OhuTqQPbrbDMXV9QentXIIRWqcmU_B88n8jPr1WsBc::subject:CN:Contoso",
					MinimumSVN: "1",
				})
				return p
			},
		},
		{
			name:   "debug mode allows shells and logging",
			golden: "command__policy_debug.rego",
			policy: func(t *testing.T) Policy {
				c := mustContainer(t, withCommand(sampleSpec("container1")))
				c.ExecProcesses = []ExecProcess{{Command: []string{"/bin/sh"}}, {Command: []string{"/bin/bash"}}}
				p := NewPolicy("4", c)
				p.AllowDumpStacks = true
				p.AllowRuntimeLogging = true
				return p
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := readGolden(t, tc.golden)
			got, err := Render(tc.policy(t))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("policy differs from %s at byte %d\n got: %s\nwant: %s", tc.golden, firstDiff(got, want), excerpt(got, want), excerpt(want, got))
			}
		})
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func excerpt(a, b []byte) string {
	i := firstDiff(a, b)
	lo, hi := max(0, i-60), min(len(a), i+60)
	return strings.ReplaceAll(string(a[lo:hi]), "\n", `\n`)
}

func TestRenderRejectsInvalidUTF8(t *testing.T) {
	c := PauseContainer()
	c.Command = []string{"\xff"}
	if _, err := Render(NewPolicy("4", c)); err == nil {
		t.Fatal("Render accepted a command that is not UTF-8")
	}
}

func TestRenderRejectsAPolicyWithoutVersions(t *testing.T) {
	if _, err := Render(Policy{}); err == nil {
		t.Fatal("Render accepted a policy without api_version")
	}
}
