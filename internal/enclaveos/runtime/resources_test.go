package runtime

import (
	"strings"
	"testing"

	"github.com/openccm/openccm/internal/enclaveos/manifest"
)

func TestResolveResources(t *testing.T) {
	m := &manifest.Manifest{MemoryMiB: 512, CPUCount: 2}
	tests := []struct {
		name    string
		env     map[string]string
		want    Resources
		wantErr []string // substrings of the error; nil means no error
	}{
		{name: "takes the manifest's size when neither variable is set", want: Resources{512, 2}},
		{name: "takes the manifest's size when the variables are blank", env: map[string]string{"MEM_SIZE": " ", "CPU_COUNT": ""}, want: Resources{512, 2}},
		{name: "reads MEM_SIZE as MiB", env: map[string]string{"MEM_SIZE": "4096"}, want: Resources{4096, 2}},
		{name: "reads MEM_SIZE with an M suffix", env: map[string]string{"MEM_SIZE": "3072M"}, want: Resources{3072, 2}},
		{name: "reads MEM_SIZE with a MiB suffix in any case", env: map[string]string{"MEM_SIZE": "1024mib"}, want: Resources{1024, 2}},
		{name: "reads MEM_SIZE with a G suffix as GiB", env: map[string]string{"MEM_SIZE": "4G"}, want: Resources{4096, 2}},
		{name: "reads MEM_SIZE with a GiB suffix", env: map[string]string{"MEM_SIZE": "2GiB"}, want: Resources{2048, 2}},
		{name: "reads CPU_COUNT", env: map[string]string{"CPU_COUNT": "4"}, want: Resources{512, 4}},
		{name: "reads both", env: map[string]string{"MEM_SIZE": " 8g ", "CPU_COUNT": "8"}, want: Resources{8192, 8}},
		{name: "refuses a MEM_SIZE that is not a number", env: map[string]string{"MEM_SIZE": "lots"}, wantErr: []string{`MEM_SIZE="lots"`, "whole number"}},
		{name: "refuses a MEM_SIZE with an unknown unit", env: map[string]string{"MEM_SIZE": "4T"}, wantErr: []string{`MEM_SIZE="4T"`}},
		{name: "refuses a fractional MEM_SIZE", env: map[string]string{"MEM_SIZE": "1.5G"}, wantErr: []string{`MEM_SIZE="1.5G"`}},
		{name: "refuses a negative MEM_SIZE", env: map[string]string{"MEM_SIZE": "-512"}, wantErr: []string{`MEM_SIZE="-512"`}},
		{name: "refuses a zero MEM_SIZE", env: map[string]string{"MEM_SIZE": "0G"}, wantErr: []string{`MEM_SIZE="0G"`, "positive"}},
		{name: "refuses a suffix alone", env: map[string]string{"MEM_SIZE": "G"}, wantErr: []string{`MEM_SIZE="G"`}},
		{name: "refuses a MEM_SIZE too large to be real", env: map[string]string{"MEM_SIZE": "99999999999G"}, wantErr: []string{`MEM_SIZE="99999999999G"`, "more than"}},
		{name: "refuses a CPU_COUNT that is not a number", env: map[string]string{"CPU_COUNT": "two"}, wantErr: []string{`CPU_COUNT="two"`, "whole number"}},
		{name: "refuses a zero CPU_COUNT", env: map[string]string{"CPU_COUNT": "0"}, wantErr: []string{`CPU_COUNT="0"`}},
		{name: "refuses a CPU_COUNT with a sign", env: map[string]string{"CPU_COUNT": "+2"}, wantErr: []string{`CPU_COUNT="+2"`}},
		{name: "reports both variables when both are wrong", env: map[string]string{"MEM_SIZE": "x", "CPU_COUNT": "y"}, wantErr: []string{`MEM_SIZE="x"`, `CPU_COUNT="y"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ResolveResources(m, func(k string) string { return tc.env[k] })
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("ResolveResources: %v", err)
				}
				if got != tc.want {
					t.Fatalf("got %+v, want %+v", got, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("got %+v, want an error", got)
			}
			for _, s := range tc.wantErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
		})
	}
}
