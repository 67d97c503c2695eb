package agent_test

import (
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openccm/openccm/internal/aci/agent"
)

// hostCertPEMs returns the PEM of the fake host's VCEK, ASK and ARK.
func hostCertPEMs(t testing.TB) (vcek, ask, ark string) {
	t.Helper()
	d := newDevice(t)
	_, v, err := d.CA.SignReport(d.Template)
	if err != nil {
		t.Fatal(err)
	}
	p := func(der []byte) string {
		return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	}
	return p(v.Raw), p(d.CA.ASK().Raw), p(d.CA.ARK().Raw)
}

func thimFile(t *testing.T, fields map[string]string) []byte {
	t.Helper()
	js, err := json.Marshal(fields)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(base64.StdEncoding.EncodeToString(js))
}

func TestParseHostAMDCert(t *testing.T) {
	vcek, ask, ark := hostCertPEMs(t)
	tests := []struct {
		name     string
		file     []byte
		want     string // error substring; "" for success
		noChain  bool
		wantTCBM string
	}{
		{name: "reads the VCEK, the ASK and the ARK of THIM's answer",
			file: thimFile(t, map[string]string{"vcekCert": vcek, "tcbm": "DB18000000000004", "certificateChain": ask + ark, "cacheControl": "86400"}), wantTCBM: "DB18000000000004"},
		{name: "tells the ARK from the ASK by its self-signature, whatever their order",
			file: thimFile(t, map[string]string{"vcekCert": vcek, "certificateChain": ark + ask})},
		{name: "tolerates line breaks and a final newline in the base64",
			file: []byte(strings.Join(splitEvery(string(thimFile(t, map[string]string{"vcekCert": vcek, "certificateChain": ask + ark})), 76), "\n") + "\n")},
		{name: "accepts a file without the ASK and the ARK",
			file: thimFile(t, map[string]string{"vcekCert": vcek}), noChain: true},
		{name: "rejects a file that is not base64", file: []byte("{not base64}"), want: "not base64"},
		{name: "rejects base64 that is not JSON", file: []byte(base64.StdEncoding.EncodeToString([]byte("<xml/>"))), want: "not the THIM JSON"},
		{name: "rejects a file without a VCEK", file: thimFile(t, map[string]string{"certificateChain": ask + ark}), want: "vcekCert holds 0 certificates"},
		{name: "rejects two VCEKs", file: thimFile(t, map[string]string{"vcekCert": vcek + vcek}), want: "vcekCert holds 2 certificates"},
		{name: "rejects two ARKs", file: thimFile(t, map[string]string{"vcekCert": vcek, "certificateChain": ark + ark}), want: "two ARK certificates"},
		{name: "rejects a chain with something else than certificates",
			file: thimFile(t, map[string]string{"vcekCert": vcek, "certificateChain": ask + "garbage"}), want: "certificateChain: data that is not PEM"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hc, err := agent.ParseHostAMDCert(tc.file)
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("error %v, want one containing %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if hc.VCEK.Subject.CommonName != "SEV-VCEK" {
				t.Errorf("VCEK %q", hc.VCEK.Subject.CommonName)
			}
			if tc.noChain {
				if hc.ASK != nil || hc.ARK != nil {
					t.Errorf("ASK %v, ARK %v: want none", hc.ASK, hc.ARK)
				}
				return
			}
			if hc.ASK == nil || hc.ASK.Subject.CommonName != "SEV-Milan" || hc.ARK == nil || hc.ARK.Subject.CommonName != "ARK-Milan" {
				t.Errorf("ASK %v, ARK %v", hc.ASK, hc.ARK)
			}
			if hc.TCBM != tc.wantTCBM {
				t.Errorf("TCBM %q, want %q", hc.TCBM, tc.wantTCBM)
			}
		})
	}
}

func splitEvery(s string, n int) []string {
	var out []string
	for len(s) > n {
		out, s = append(out, s[:n]), s[n:]
	}
	return append(out, s)
}

func TestReadHostAMDCertNamesTheFile(t *testing.T) {
	dir := t.TempDir()
	if _, err := agent.ReadHostAMDCert(dir); err == nil || !strings.Contains(err.Error(), agent.HostAMDCertFile) {
		t.Errorf("missing file: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, agent.HostAMDCertFile), []byte("%%%"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := agent.ReadHostAMDCert(dir); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, agent.HostAMDCertFile)) {
		t.Errorf("bad file: %v", err)
	}
}

func TestSecurityContextDirComesFromTheEnvironment(t *testing.T) {
	got, err := agent.SecurityContextDir(func(k string) string {
		if k == agent.EnvSecurityContextDir {
			return "/security-context-123"
		}
		return ""
	})
	if err != nil || got != "/security-context-123" {
		t.Errorf("got %q, %v", got, err)
	}
}

func FuzzParseHostAMDCert(f *testing.F) {
	vcek, ask, ark := hostCertPEMs(f)
	js, _ := json.Marshal(map[string]string{"vcekCert": vcek, "certificateChain": ask + ark})
	f.Add([]byte(base64.StdEncoding.EncodeToString(js)))
	f.Add([]byte(base64.StdEncoding.EncodeToString([]byte(`{"vcekCert":"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}`))))
	f.Add([]byte("e30="))
	f.Fuzz(func(t *testing.T, b []byte) {
		hc, err := agent.ParseHostAMDCert(b)
		if err == nil && hc.VCEK == nil {
			t.Fatal("no error and no VCEK")
		}
	})
}
