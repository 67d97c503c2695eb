package azurecvm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/openccm/openccm/internal/platform"
)

var update = flag.Bool("update", false, "rewrite the evidence JSON built from the recorded samples")

// azureSample is recorded, matched Azure CVM evidence (testdata/SOURCES.md)
// in the raw forms it was recorded in, and what it is known to hold.
type azureSample struct {
	name string
	// file is the evidence JSON built from the raw parts, kept in testdata
	// for `ccm evidence inspect --platform azure_cvm`.
	file      string
	hcl       []byte
	message   []byte // the TPMS_ATTEST
	rawSig    []byte // the RSASSA-PKCS1-v1_5 signature bytes alone
	pcrs      [][]byte
	vcek      []byte // DER
	ask, ark  []byte // DER, or nil
	at        time.Time
	extraData string
	// measurement, reportVersion and vmUniqueID are facts of the SEV-SNP
	// report and the runtime claims, checked in the claims.
	measurement   string
	reportVersion string
	vmUniqueID    string
	// pcr0 and pcr7 are the VM's PCR0 and PCR7 as the quote proves them.
	pcr0, pcr7 string
}

// loadAzureSamples reads the two matched samples: trustee's raw
// hcl-report.bin, quote.bin (a bincode-serialised az-snp-vtpm Quote:
// signature, message, PCR values) and vcek.pem; and trustee's
// evidence-v1.json (hex quote parts, base64url HCL report and VCEK).
func loadAzureSamples(t testing.TB) []azureSample {
	t.Helper()
	read := func(name string) []byte {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	// Sample 1.
	q := read("az-snp-quote.bin")
	field := func() []byte {
		if len(q) < 8 {
			t.Fatal("az-snp-quote.bin is truncated")
		}
		n := binary.LittleEndian.Uint64(q)
		if uint64(len(q)-8) < n {
			t.Fatal("az-snp-quote.bin is truncated")
		}
		b := q[8 : 8+n]
		q = q[8+n:]
		return b
	}
	sig1 := field()
	msg1 := field()
	if len(q) < 8 {
		t.Fatal("az-snp-quote.bin is truncated")
	}
	n := binary.LittleEndian.Uint64(q)
	q = q[8:]
	if uint64(len(q)) != 32*n {
		t.Fatalf("az-snp-quote.bin: %d PCRs in %d bytes", n, len(q))
	}
	var pcrs1 [][]byte
	for ; len(q) > 0; q = q[32:] {
		pcrs1 = append(pcrs1, q[:32])
	}
	var certs [][]byte
	for b := read("az-snp-vcek.pem"); ; {
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
		name:          "trustee's hcl-report.bin, quote.bin and vcek.pem (version 2 SEV-SNP report)",
		file:          "az-snp-evidence.json",
		hcl:           read("az-snp-hcl-report.bin"),
		message:       msg1,
		rawSig:        sig1,
		pcrs:          pcrs1,
		vcek:          certs[0],
		ask:           certs[1],
		ark:           certs[2],
		at:            time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC),
		extraData:     "challenge",
		measurement:   "9ac48fcac8a2d88aeeff8d427ad4f2be0e3917c748a18bdf52cc317e7fe20308b459d5ef1a12e0c22944eb386d17c315",
		reportVersion: "2",
		vmUniqueID:    "911B0EF8-9DBA-48B0-B275-4E4DF2D39252",
		pcr0:          "f3a7e99a5f819a034386bce753a48a73cfdaa0bea0ecfc124bedbf5a8c4799be",
		pcr7:          "32fe42b385b47cb22c906b8a7e4f134e9f2270818f90e94072d1101ef72f1c00",
	}

	// Sample 2.
	var ev struct {
		HCLReport string `json:"hcl_report"`
		VCEK      string `json:"vcek"`
		TPMQuote  struct {
			Message   string   `json:"message"`
			Signature string   `json:"signature"`
			PCRs      []string `json:"pcrs"`
		} `json:"tpm_quote"`
	}
	if err := json.Unmarshal(read("az-snp-evidence-v1.json"), &ev); err != nil {
		t.Fatal(err)
	}
	b64u := func(s string) []byte {
		b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	unhex := func(s string) []byte {
		b, err := hex.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	s2 := azureSample{
		name:          "trustee's evidence-v1.json (version 3 SEV-SNP report)",
		file:          "az-snp-evidence-v3.json",
		hcl:           b64u(ev.HCLReport),
		message:       unhex(ev.TPMQuote.Message),
		rawSig:        unhex(ev.TPMQuote.Signature),
		vcek:          b64u(ev.VCEK),
		at:            time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC),
		extraData:     "challenge",
		measurement:   "6a063be9dd79f6371c842e480f8dc3b5c725961344e57130e88c5adf49e8f7f6c79b75a5eb77fc769959f4aeb2f9401e",
		reportVersion: "3",
		vmUniqueID:    "26F8BC30-774E-4290-8E7A-535F3B672AEE",
		pcr0:          "e15c44796beabf46abcec7c57e590942041e47497e4ec27571c8b7664f48dced",
		pcr7:          "3b20e022416fdf61d72e4da32b4354781be3de0608116976d28ffdad8c341d2a",
	}
	for _, p := range ev.TPMQuote.PCRs {
		s2.pcrs = append(s2.pcrs, unhex(p))
	}
	return []azureSample{s1, s2}
}

// tpmSignature wraps raw RSASSA-PKCS1-v1_5 SHA-256 signature bytes in a
// TPMT_SIGNATURE, as tpm2_quote -s writes it: sigAlg TPM_ALG_RSASSA, hash
// TPM_ALG_SHA256, then the TPM2B_PUBLIC_KEY_RSA.
func tpmSignature(raw []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, 0x0014)
	b = binary.BigEndian.AppendUint16(b, 0x000b)
	b = binary.BigEndian.AppendUint16(b, uint16(len(raw)))
	return append(b, raw...)
}

// wire is the azure_cvm evidence object, for building and mutating
// evidence in tests.
type wire struct {
	Quote     []byte            `json:"quote"`
	Signature []byte            `json:"signature"`
	PCRs      map[string]string `json:"pcrs"`
	HCLReport []byte            `json:"hcl_report"`
	VCEK      []byte            `json:"vcek"`
	ASK       []byte            `json:"ask,omitempty"`
	ARK       []byte            `json:"ark,omitempty"`
	AKPublic  []byte            `json:"ak_public,omitempty"`
}

// evidence builds the sample's evidence object. The recorded quotes select
// PCRs 0 to 23: the values are given in that order.
func (s azureSample) evidence() wire {
	w := wire{
		Quote:     s.message,
		Signature: tpmSignature(s.rawSig),
		PCRs:      map[string]string{},
		HCLReport: s.hcl,
		VCEK:      s.vcek,
		ASK:       s.ask,
		ARK:       s.ark,
	}
	for i, v := range s.pcrs {
		w.PCRs[fmt.Sprintf("pcr%d", i)] = hex.EncodeToString(v)
	}
	return w
}

func marshal(t testing.TB, w wire) []byte {
	t.Helper()
	b, err := json.MarshalIndent(w, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// TestSampleEvidenceFiles keeps testdata's evidence JSON (for `ccm
// evidence inspect --platform azure_cvm`) equal to what the raw samples
// build; go test -run TestSampleEvidenceFiles -update rewrites it.
func TestSampleEvidenceFiles(t *testing.T) {
	for _, s := range loadAzureSamples(t) {
		want := marshal(t, s.evidence())
		path := "testdata/" + s.file
		if *update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is not the evidence built from %s; run go test -run TestSampleEvidenceFiles -update", path, s.name)
		}
	}
}

// TestVerifyAzureSamples verifies real Azure CVM evidence end to end: the
// SEV-SNP report to AMD's real Milan root (built in), the runtime claims'
// hash, the AK, the vTPM quote's signature and the PCR digest, at a pinned
// time inside the VCEK's validity.
func TestVerifyAzureSamples(t *testing.T) {
	v, err := NewVerifier(Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range loadAzureSamples(t) {
		t.Run("accepts "+s.name, func(t *testing.T) {
			ev, err := os.ReadFile("testdata/" + s.file)
			if err != nil {
				t.Fatal(err)
			}
			c, err := v.Verify(context.Background(), ev, platform.Options{Now: s.at})
			if err != nil {
				t.Fatal(err)
			}
			if c.Platform != platform.AzureCVM || c.Measurement != s.measurement || *c.VMPL != 0 || c.Debug ||
				c.Extra["product_line"] != "Milan" || c.Extra["report_version"] != s.reportVersion {
				t.Errorf("claims = %+v", c)
			}
			if got := c.Extra["quote_extra_data"]; got != hex.EncodeToString([]byte(s.extraData)) {
				t.Errorf("quote_extra_data = %q, want hex of %q", got, s.extraData)
			}
			if !strings.Contains(c.Extra["vm_configuration"], `"vmUniqueId":"`+s.vmUniqueID+`"`) ||
				!strings.Contains(c.Extra["vm_configuration"], `"secure-boot":true`) {
				t.Errorf("vm_configuration = %s", c.Extra["vm_configuration"])
			}
			if len(c.PCRs) != 24 {
				t.Fatalf("%d PCRs, want 24", len(c.PCRs))
			}
			if c.PCRs[0] != s.pcr0 || c.PCRs[7] != s.pcr7 {
				t.Errorf("PCR0 = %s, PCR7 = %s; want %s, %s", c.PCRs[0], c.PCRs[7], s.pcr0, s.pcr7)
			}
			for i, want := range s.pcrs {
				if c.PCRs[i] != hex.EncodeToString(want) {
					t.Errorf("PCR%d = %s, want %x", i, c.PCRs[i], want)
				}
			}
			t.Logf("PCR0 %s…, PCR7 %s…, extraData %q, measurement %s…, TCB reported snp %d microcode %d",
				c.PCRs[0][:16], c.PCRs[7][:16], s.extraData, c.Measurement[:16], c.TCB["reported_snp"], c.TCB["reported_microcode"])
		})
	}
}

// TestVerifyAzureSamplesRejects derives negatives from the real samples by
// changing one thing each.
func TestVerifyAzureSamplesRejects(t *testing.T) {
	v, err := NewVerifier(Config{})
	if err != nil {
		t.Fatal(err)
	}
	binding := sha256.Sum256([]byte("challenge"))
	for _, s := range loadAzureSamples(t) {
		tests := []struct {
			name    string
			mutate  func(w *wire)
			opts    platform.Options
			reason  string
			message string
		}{
			{
				name:   "a flipped byte in the quote signature",
				mutate: func(w *wire) { w.Signature[len(w.Signature)-1] ^= 1 },
				reason: platform.ReasonSignatureInvalid, message: "quote signature does not verify",
			},
			{
				name:   "a flipped byte in the quote's extraData",
				mutate: func(w *wire) { w.Quote[bytes.Index(w.Quote, []byte("challenge"))] ^= 1 },
				reason: platform.ReasonSignatureInvalid, message: "quote signature does not verify",
			},
			{
				name:   "a changed PCR value",
				mutate: func(w *wire) { w.PCRs["pcr7"] = strings.Repeat("00", 32) },
				reason: platform.ReasonSignatureInvalid, message: "PCR digest",
			},
			{
				name:   "a missing PCR",
				mutate: func(w *wire) { delete(w.PCRs, "pcr23") },
				reason: platform.ReasonMalformed, message: "the quote selects PCR23",
			},
			{
				name: "a flipped byte in the runtime claims",
				mutate: func(w *wire) {
					i := bytes.Index(w.HCLReport, []byte(`"vmUniqueId":"`)) + len(`"vmUniqueId":"`)
					w.HCLReport[i] ^= 1
				},
				reason: platform.ReasonSignatureInvalid, message: "report_data is not the SHA-256 of the runtime claims",
			},
			{
				name:   "a flipped byte in the SEV-SNP report's measurement",
				mutate: func(w *wire) { w.HCLReport[hclHeaderSize+0x90] ^= 1 },
				reason: platform.ReasonSignatureInvalid, message: "sevsnp: report signature does not verify with VCEK",
			},
			{
				name:   "a binding (the quote's extraData is \"challenge\")",
				opts:   platform.Options{Binding: &binding},
				reason: platform.ReasonBindingMismatch,
			},
			{
				name:   "a time before its VCEK was issued",
				opts:   platform.Options{Now: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)},
				reason: platform.ReasonSignatureInvalid, message: "does not chain to a trusted AMD root",
			},
		}
		for _, tc := range tests {
			t.Run("rejects "+s.name+" with "+tc.name, func(t *testing.T) {
				w := s.evidence()
				w.Quote = bytes.Clone(w.Quote)
				w.HCLReport = bytes.Clone(w.HCLReport)
				if tc.mutate != nil {
					tc.mutate(&w)
				}
				opts := tc.opts
				if opts.Now.IsZero() {
					opts.Now = s.at
				}
				_, err := v.Verify(context.Background(), marshal(t, w), opts)
				if got := platform.ReasonOf(err); got != tc.reason || !strings.Contains(fmt.Sprint(err), tc.message) {
					t.Fatalf("err = %v (%q), want %q saying %q", err, got, tc.reason, tc.message)
				}
			})
		}
	}
}
