package aci

import (
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestUserContainerCommand(t *testing.T) {
	tests := []struct {
		name     string
		template []string
		cfg      v1.Config
		want     []string
	}{
		{"the template's command wins over the image's", []string{"/t"}, v1.Config{Entrypoint: []string{"/e"}, Cmd: []string{"c"}}, []string{"/t"}},
		{"entrypoint and cmd are joined", nil, v1.Config{Entrypoint: []string{"/e", "-v"}, Cmd: []string{"c"}}, []string{"/e", "-v", "c"}},
		{"an entrypoint alone is the command", nil, v1.Config{Entrypoint: []string{"/e"}}, []string{"/e"}},
		{"a cmd alone is the command", nil, v1.Config{Cmd: []string{"/c", "x"}}, []string{"/c", "x"}},
		{"an empty cmd stays empty", nil, v1.Config{Cmd: []string{}}, []string{}},
		{"no entrypoint and no cmd is null", nil, v1.Config{}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := UserContainer(ContainerSpec{ID: "i", Name: "n", Command: tc.template, Config: tc.cfg})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(c.Command, tc.want) || (c.Command == nil) != (tc.want == nil) {
				t.Errorf("command = %#v, want %#v", c.Command, tc.want)
			}
		})
	}
}

func TestUserContainerEnvRules(t *testing.T) {
	c, err := UserContainer(ContainerSpec{
		ID:   "i",
		Name: "n",
		Env:  []EnvVar{{Name: "FOO", Value: "template"}},
		Config: v1.Config{Env: []string{
			"PATH=/bin",
			"FOO=image",
			"TERM=vt100",
			"EQ=a=b",
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range c.EnvRules {
		got = append(got, r.Pattern+" "+r.Strategy)
	}
	want := []string{
		"FOO=template string",
		"PATH=/bin string",
		"TERM=vt100 string",
		"EQ=a=b string",
		// TERM=xterm is left out: the image sets TERM.
		"(?i)(FABRIC)_.+=.+ re2",
		"HOSTNAME=.+ re2",
		"T(E)?MP=.+ re2",
		"FabricPackageFileName=.+ re2",
		"HostedServiceName=.+ re2",
		"IDENTITY_API_VERSION=.+ re2",
		"IDENTITY_HEADER=.+ re2",
		"IDENTITY_SERVER_THUMBPRINT=.+ re2",
		"azurecontainerinstance_restarted_by=.+ re2",
	}
	if !slices.Equal(got, want) {
		t.Errorf("env rules:\n got %q\nwant %q", got, want)
	}
	for _, r := range c.EnvRules {
		if r.Required {
			t.Errorf("%s is required; az confcom requires none of a user container's variables", r.Pattern)
		}
	}
}

func TestUserContainerUser(t *testing.T) {
	tests := []struct {
		user      string
		wantUser  IDName
		wantGroup IDName
	}{
		{"", IDName{"", "any"}, IDName{"", "any"}},
		{"1000", IDName{"1000", "id"}, IDName{"", "any"}},
		{"app", IDName{"app", "name"}, IDName{"", "any"}},
		{"1000:1000", IDName{"1000", "id"}, IDName{"1000", "id"}},
		{"app:staff", IDName{"app", "name"}, IDName{"staff", "name"}},
		{"0:wheel", IDName{"0", "id"}, IDName{"wheel", "name"}},
	}
	for _, tc := range tests {
		t.Run("user "+tc.user, func(t *testing.T) {
			c, err := UserContainer(ContainerSpec{ID: "i", Name: "n", Config: v1.Config{User: tc.user}})
			if err != nil {
				t.Fatal(err)
			}
			if c.User.UserIDName != tc.wantUser || len(c.User.GroupIDNames) != 1 || c.User.GroupIDNames[0] != tc.wantGroup {
				t.Errorf("user = %+v, want user %+v group %+v", c.User, tc.wantUser, tc.wantGroup)
			}
		})
	}
}

func TestUserContainerStopSignal(t *testing.T) {
	tests := []struct {
		signal  string
		want    []int
		wantErr bool
	}{
		{"", []int{}, false},
		{"SIGTERM", []int{15}, false},
		{"sigquit", []int{3}, false},
		{"9", []int{9}, false},
		{"SIGRTMIN+3", nil, true},
	}
	for _, tc := range tests {
		t.Run("signal "+tc.signal, func(t *testing.T) {
			c, err := UserContainer(ContainerSpec{ID: "i", Name: "n", Config: v1.Config{StopSignal: tc.signal}})
			if tc.wantErr {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(c.Signals, tc.want) {
				t.Errorf("signals = %v, want %v", c.Signals, tc.want)
			}
		})
	}
}

func TestUserContainerMounts(t *testing.T) {
	c, err := UserContainer(ContainerSpec{ID: "i", Name: "n", Mounts: []VolumeMount{
		{Type: MountEmptyDir, Path: "/run/ccm", ReadOnly: true},
		{Type: MountSecret, Path: "/secrets"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range c.Mounts {
		got = append(got, m.Destination+" "+m.Source+" "+strings.Join(m.Options, ",")+" "+m.Type)
	}
	want := []string{
		"/run/ccm sandbox:///tmp/atlas/emptydir/.+ rbind,rshared,ro bind",
		"/secrets sandbox:///tmp/atlas/secretsVolume/.+ rbind,rshared,rw bind",
		"/etc/resolv.conf sandbox:///tmp/atlas/resolvconf/.+ rbind,rshared,rw bind",
	}
	if !slices.Equal(got, want) {
		t.Errorf("mounts:\n got %q\nwant %q", got, want)
	}
}

func TestUserContainerRejects(t *testing.T) {
	tests := []struct {
		name string
		spec ContainerSpec
	}{
		{"an image variable without '='", ContainerSpec{Config: v1.Config{Env: []string{"NOVALUE"}}}},
		{"an unknown volume type", ContainerSpec{Mounts: []VolumeMount{{Type: "hostPath", Path: "/x"}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := UserContainer(tc.spec); err == nil {
				t.Fatal("no error")
			}
		})
	}
}
