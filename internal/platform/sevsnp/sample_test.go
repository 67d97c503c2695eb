package sevsnp

import (
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/openccm/openccm/internal/platform"
)

// hclReportOffset is where the SEV-SNP report sits in an Azure HCL report:
// after its 32-byte header (signature "HCLA", version, size, request type).
const hclReportOffset = 0x20

// azureSample is recorded Azure CVM evidence (see testdata/SOURCES.md):
// the SNP report from inside an HCL report, and its VCEK, ASK and ARK.
type azureSample struct {
	name             string
	report           []byte
	vcek, ask, ark   []byte
	at               time.Time // when the sample's certificates are valid
	measurement      string
	chipPrefix       string
	reportDataPrefix string
	version          string
}

func loadAzureSamples(t testing.TB) []azureSample {
	t.Helper()
	// Sample 1: a version 2 report (no CPUID fields: the product line comes
	// from the VCEK), with VCEK, ASK and ARK in one PEM file.
	hcl, err := os.ReadFile("testdata/az-snp-hcl-report.bin")
	if err != nil {
		t.Fatal(err)
	}
	pemBytes, err := os.ReadFile("testdata/az-snp-vcek.pem")
	if err != nil {
		t.Fatal(err)
	}
	var certs [][]byte
	for b := pemBytes; ; {
		var block *pem.Block
		if block, b = pem.Decode(b); block == nil {
			break
		}
		certs = append(certs, block.Bytes)
	}
	if len(certs) != 3 {
		t.Fatalf("az-snp-vcek.pem holds %d certificates, want VCEK, ASK, ARK", len(certs))
	}
	s1 := azureSample{
		name:             "a version 2 report (trustee az-snp-hcl-report.bin)",
		report:           hcl[hclReportOffset : hclReportOffset+1184],
		vcek:             certs[0],
		ask:              certs[1],
		ark:              certs[2],
		at:               time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC),
		measurement:      "9ac48fcac8a2d88aeeff8d427ad4f2be0e3917c748a18bdf52cc317e7fe20308b459d5ef1a12e0c22944eb386d17c315",
		chipPrefix:       "19752a447db501a3",
		reportDataPrefix: "b3fbad6514c83cae",
		version:          "2",
	}

	// Sample 2: a version 3 report (CPUID fields name Milan), from
	// trustee's Azure evidence JSON (base64url fields).
	js, err := os.ReadFile("testdata/az-snp-evidence-v1.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev struct {
		HCLReport string `json:"hcl_report"`
		VCEK      string `json:"vcek"`
	}
	if err := json.Unmarshal(js, &ev); err != nil {
		t.Fatal(err)
	}
	hcl2, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(ev.HCLReport, "="))
	if err != nil {
		t.Fatal(err)
	}
	vcek2, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(ev.VCEK, "="))
	if err != nil {
		t.Fatal(err)
	}
	s2 := azureSample{
		name:             "a version 3 report (trustee az-snp-evidence-v1.json)",
		report:           hcl2[hclReportOffset : hclReportOffset+1184],
		vcek:             vcek2,
		at:               time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC),
		measurement:      "6a063be9dd79f6371c842e480f8dc3b5c725961344e57130e88c5adf49e8f7f6c79b75a5eb77fc769959f4aeb2f9401e",
		chipPrefix:       "66a5a7b4403a3006",
		reportDataPrefix: "af2910341dd81083",
		version:          "3",
	}
	return []azureSample{s1, s2}
}

func (s azureSample) evidence(t testing.TB, mutate func(report []byte)) []byte {
	t.Helper()
	report := append([]byte(nil), s.report...)
	if mutate != nil {
		mutate(report)
	}
	b, err := json.Marshal(wireEvidence{Report: report, VCEK: s.vcek, ASK: s.ask, ARK: s.ark})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestVerifyAzureSamples verifies real Azure evidence end to end against
// AMD's real Milan root built into go-sev-guest, at a pinned time.
func TestVerifyAzureSamples(t *testing.T) {
	for _, s := range loadAzureSamples(t) {
		var binding [32]byte
		copy(binding[:], s.report[0x50:0x70])
		wrong := binding
		wrong[31] ^= 1

		tests := []struct {
			name   string
			mutate func([]byte)
			opts   platform.Options
			reason string
		}{
			{name: "accepts " + s.name + " with its binding", opts: platform.Options{Binding: &binding, Now: s.at}},
			{name: "rejects " + s.name + " with another binding", opts: platform.Options{Binding: &wrong, Now: s.at}, reason: platform.ReasonBindingMismatch},
			{
				name:   "rejects " + s.name + " with one flipped byte in the measurement",
				mutate: func(r []byte) { r[0x90] ^= 1 },
				opts:   platform.Options{Now: s.at},
				reason: platform.ReasonSignatureInvalid,
			},
			{
				name:   "rejects " + s.name + " with one flipped byte in the signature",
				mutate: func(r []byte) { r[0x2A0] ^= 1 },
				opts:   platform.Options{Now: s.at},
				reason: platform.ReasonSignatureInvalid,
			},
			{
				name:   "rejects " + s.name + " before its VCEK was issued",
				opts:   platform.Options{Now: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)},
				reason: platform.ReasonSignatureInvalid,
			},
		}
		// One Verifier (AMD's roots only) for all cases: the first case
		// fills the cache, the others run on it.
		v, err := NewVerifier(Config{Platform: platform.SEVSNP})
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				ev := s.evidence(t, tc.mutate)
				warmHits := v.cache.hits
				first := run(v, ev, tc.opts)
				if first.reason != tc.reason {
					t.Fatalf("reason = %q (%s), want %q", first.reason, first.msg, tc.reason)
				}
				// The same on a Verifier that has never seen the VCEK.
				fresh, err := NewVerifier(Config{Platform: platform.SEVSNP})
				if err != nil {
					t.Fatal(err)
				}
				if cold := run(fresh, ev, tc.opts); !reflect.DeepEqual(cold, first) {
					t.Errorf("cold verifier: %+v, warm verifier: %+v", cold, first)
				}
				if tc.reason == "" {
					c := first.claims
					if c.Measurement != s.measurement || !strings.HasPrefix(c.ChipID, s.chipPrefix) ||
						!strings.HasPrefix(c.ReportData, s.reportDataPrefix) || c.Debug || *c.VMPL != 0 ||
						c.Extra["product_line"] != "Milan" || c.Extra["report_version"] != s.version {
						t.Errorf("claims = %+v", c)
					}
					t.Logf("claims: measurement %s, chip %s…, TCB reported snp %d microcode %d, policy %#x",
						c.Measurement[:16], c.ChipID[:16], c.TCB["reported_snp"], c.TCB["reported_microcode"], *c.Policy)
				} else if tc.reason == platform.ReasonBindingMismatch && v.cache.hits == warmHits {
					t.Error("the warm verifier did not use its cache")
				}
			})
		}
	}
}
